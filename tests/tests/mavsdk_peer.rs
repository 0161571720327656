//! End-to-end: the telemetry crate against MAVSDK acting as the autopilot
//! (`../shared/mavlink/vehicle_peer.py`), over UDP and TCP: upload with read-back verification
//! of mission, fence and rally, arm, start, progress to the last item, live telemetry, and the
//! `.tlog` replayed into a track and coverage.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use agriops_e2e::{
    KillOnDrop, free_tcp_port, free_udp_port, require_peer_python, require_shared, run_bounded,
    wait_for_file,
};
use serde_json::Value;
use telemetry::{
    Link, LinkAddress, LinkConfig, MissionKind, Msg, Plan, SprayerOutput, Vehicle, VehicleState,
    coverage, read_tlog, summarize, track_from_records,
};

fn fixture(name: &str) -> PathBuf {
    agriops_e2e::workspace_root()
        .join("telemetry/tests/fixtures")
        .join(name)
}

struct Peer {
    _child: KillOnDrop,
    dir: tempfile::TempDir,
}

fn start_peer(python: &Path, shared: &Path, url: &str, plan: &Plan) -> Peer {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = plan.home.expect("fixture has a home");
    let child = Command::new(python)
        .arg(shared.join("mavlink/vehicle_peer.py"))
        .args([
            "--url", url, "--max-s", "60", "--step-s", "0.1", "--rate", "10",
        ])
        .arg("--out")
        .arg(dir.path().join("mission.json"))
        .arg("--events")
        .arg(dir.path().join("events.jsonl"))
        .arg("--ready-file")
        .arg(dir.path().join("ready"))
        .args([
            "--lat",
            &home.0.to_string(),
            "--lon",
            &home.1.to_string(),
            "--alt",
            &home.2.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start vehicle_peer.py");
    let child = KillOnDrop(child);
    assert!(
        wait_for_file(&dir.path().join("ready"), Duration::from_secs(20)),
        "vehicle_peer.py did not become ready"
    );
    Peer { _child: child, dir }
}

/// A JSON file the peer writes from its own thread, waiting for it to appear.
fn read_json(path: &Path) -> Value {
    assert!(
        wait_for_file(path, Duration::from_secs(10)),
        "the peer never wrote {}",
        path.display()
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("peer JSON")
}

fn events(peer: &Peer) -> Vec<Value> {
    std::fs::read_to_string(peer.dir.path().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn fly_against_peer(peer_url: &str, our_address: &str, peer: Peer) {
    let plan = Plan::read(&fixture("px4_two_sorties.plan"))
        .expect("fixture")
        .sortie(1, Path::new("fixture"))
        .expect("sortie 1");
    let tlog = peer.dir.path().join("flight.tlog");
    let mut cfg = LinkConfig::new(LinkAddress::parse(our_address).expect("address"));
    cfg.tlog = Some(tlog.clone());
    let link = Link::connect(&cfg).await.expect("connect");
    let info = link
        .wait_vehicle(Duration::from_secs(10))
        .await
        .expect("vehicle heartbeat");
    assert_eq!(info.target.system, 1, "{peer_url}: {info:?}");
    let vehicle = Vehicle::new(link.port().clone(), info.target);

    // Mission, fence and rally: upload, read back, verify.
    let items = plan.mission_items();
    let verified = vehicle
        .upload_verified(MissionKind::Mission, &items)
        .await
        .expect("mission upload + verify");
    vehicle
        .upload_verified(MissionKind::Fence, &plan.fence_items())
        .await
        .expect("fence upload + verify");
    vehicle
        .upload_verified(MissionKind::Rally, &plan.rally_items())
        .await
        .expect("rally upload + verify");
    // The peer's own record of what it received matches item by item.
    let got = read_json(&peer.dir.path().join("mission.json"));
    let got_items = got["items"].as_array().unwrap();
    assert_eq!(got_items.len(), items.len());
    for (k, (g, s)) in got_items.iter().zip(&items).enumerate() {
        assert_eq!(g["seq"].as_u64(), Some(k as u64));
        assert_eq!(
            g["command"].as_u64(),
            Some(u64::from(s.command)),
            "item {k}"
        );
        assert_eq!(g["x"].as_i64(), Some(i64::from(s.x)), "item {k}");
        assert_eq!(g["y"].as_i64(), Some(i64::from(s.y)), "item {k}");
    }
    let fence = read_json(&peer.dir.path().join("mission.fence.json"));
    assert_eq!(
        fence["count"].as_u64(),
        Some(plan.fence_items().len() as u64)
    );
    let rally = read_json(&peer.dir.path().join("mission.rally.json"));
    assert_eq!(rally["count"].as_u64(), Some(1));

    // Arm, start, and follow progress and telemetry to the last item.
    let mut rx = link.port().subscribe();
    vehicle.arm().await.expect("arm");
    vehicle
        .start_mission(&verified)
        .await
        .expect("mission start");
    let mut state = VehicleState::new(Some(1), Some(1), SprayerOutput::default());
    let last = (items.len() - 1) as u16;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while state.reached_up_to < Some(last)
        || state.battery_pct.is_none()
        || state.heading_deg.is_none()
    {
        let frame = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{peer_url}: no progress to item {last}: {state:?}"))
            .expect("inbox");
        state.apply(&frame.header, &frame.msg);
        if let Msg::MISSION_ITEM_REACHED(_) = frame.msg {
            assert!(state.current_item.is_some() || state.reached_up_to.is_some());
        }
    }
    assert!(state.armed, "{peer_url}: armed in HEARTBEAT");
    assert!(
        state.lat.is_some() && state.battery_v.is_some(),
        "{state:?}"
    );
    assert!(link.health().frames > 20);
    let ev = events(&peer);
    assert!(
        ev.iter()
            .any(|e| e["event"] == "arm_disarm" && e["result"] == "SUCCESS" && e["arm"] == true),
        "arm event"
    );
    assert!(
        ev.iter()
            .any(|e| e["event"] == "mission_start_cmd" && e["accepted"] == true),
        "start event"
    );
    link.close().await;

    // The recording replays into a track that follows the plan, and coverage of the legs.
    let records = read_tlog(&tlog).expect("tlog");
    assert!(records.len() > 20, "{} records", records.len());
    let track = track_from_records(&records, Some(&plan), SprayerOutput::default());
    assert!(
        track.iter().any(|p| p.spraying),
        "the track has sprayed legs"
    );
    let cov = coverage(&track, &plan.spray_legs(), 5.0).expect("coverage");
    assert!(cov.covered_pct > 90.0, "{cov:?}");
    let summary = summarize(&records, Some(&plan), SprayerOutput::default());
    assert_eq!(summary.reached_up_to, Some(last));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mavsdk_peer_over_udp() {
    let Some(shared) = require_shared("mavsdk_peer_over_udp") else {
        return;
    };
    let Some(python) = require_peer_python("mavsdk_peer_over_udp") else {
        return;
    };
    let plan = Plan::read(&fixture("px4_two_sorties.plan")).unwrap();
    let port = free_udp_port();
    let url = format!("udpin://127.0.0.1:{port}");
    let peer = start_peer(&python, &shared, &url, &plan);
    fly_against_peer(&url, &format!("udpout:127.0.0.1:{port}"), peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mavsdk_peer_over_tcp() {
    let Some(shared) = require_shared("mavsdk_peer_over_tcp") else {
        return;
    };
    let Some(python) = require_peer_python("mavsdk_peer_over_tcp") else {
        return;
    };
    let plan = Plan::read(&fixture("px4_two_sorties.plan")).unwrap();
    let port = free_tcp_port();
    let url = format!("tcpin://127.0.0.1:{port}");
    let peer = start_peer(&python, &shared, &url, &plan);
    fly_against_peer(&url, &format!("tcpout:127.0.0.1:{port}"), peer).await;
}

/// Builds the `agriops` binary (cargo releases its lock while tests run) and returns its path.
fn agriops_binary() -> PathBuf {
    let root = agriops_e2e::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "web", "--bin", "agriops"])
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p web --bin agriops failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    target.join("debug/agriops")
}

#[test]
fn agriops_fly_and_tlog_against_the_mavsdk_peer() {
    let Some(shared) = require_shared("agriops_fly_and_tlog_against_the_mavsdk_peer") else {
        return;
    };
    let Some(python) = require_peer_python("agriops_fly_and_tlog_against_the_mavsdk_peer") else {
        return;
    };
    let agriops = agriops_binary();
    let plan_path = fixture("px4_two_sorties.plan");
    let plan = Plan::read(&plan_path).unwrap();
    let port = free_udp_port();
    let peer = start_peer(
        &python,
        &shared,
        &format!("udpin://127.0.0.1:{port}"),
        &plan,
    );
    let tlog = peer.dir.path().join("cli.tlog");
    let addr = format!("udpout:127.0.0.1:{port}");

    let (ok, out, err) = run_bounded(
        Command::new(&agriops)
            .args(["fly", "--connect", &addr])
            .arg(&plan_path)
            .args([
                "--sortie",
                "1",
                "--yes",
                "--fence-unchecked",
                "--no-gps-check",
                "--land-wait-s",
                "0.5",
                "--tlog",
            ])
            .arg(&tlog),
        Duration::from_secs(60),
    );
    assert!(ok, "agriops fly failed\nstdout:\n{out}\nstderr:\n{err}");
    for expected in [
        "Verified by read-back: mission 11 items, fence 4 items, rally 1 points",
        "Mission complete",
        "As-applied coverage",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(tlog.with_extension("coverage.geojson").exists());

    let (ok, out, err) = run_bounded(
        Command::new(&agriops)
            .args(["tlog", "summary", "--json"])
            .arg(&tlog),
        Duration::from_secs(30),
    );
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(&out).expect("summary JSON");
    assert_eq!(summary["reached_up_to"].as_u64(), Some(10), "{summary}");

    let (ok, out, err) = run_bounded(
        Command::new(&agriops)
            .args(["tlog", "coverage"])
            .arg(&tlog)
            .arg("--plan")
            .arg(&plan_path)
            .args(["--sortie", "1"]),
        Duration::from_secs(30),
    );
    assert!(ok, "{err}");
    assert!(out.contains("covered"), "{out}");

    // An ArduPilot plan on a vehicle that is not ArduPilot: refused before anything is sent.
    let (ok, out, err) = run_bounded(
        Command::new(&agriops)
            .args(["fly", "--connect", &addr])
            .arg(fixture("two_sorties.plan"))
            .args(["--sortie", "1", "--yes", "--tlog"])
            .arg(peer.dir.path().join("refused.tlog")),
        Duration::from_secs(60),
    );
    assert!(!ok, "a plan for the wrong firmware must fail:\n{out}");
    assert!(err.contains("written for ArduPilot"), "{err}");
}
