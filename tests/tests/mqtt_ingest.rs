//! End-to-end: the real bridge polls `../shared/parlor/sim.py` (pymodbus, faults on) and
//! publishes to a Mosquitto broker of the test's own; `agriops serve --mqtt-ingest` ingests
//! from that broker. The broker is restarted once and the server is killed (`kill -9`) once
//! and started again. Afterwards the server holds exactly the milkings the bridge recorded,
//! each once, all under the farm the source's token names — the acknowledgement after the
//! commit and the dedupe keys carry them across both outages.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agriops_e2e::{
    Broker, KillOnDrop, agriops, free_tcp_port, program, require_peer_python, require_shared,
    shared_required, wait_for_file, wait_port,
};
use parlor_bridge::{Bridge, BridgeConfig, DeviceConfig, MqttConfig, Sink, Store};

/// Real seconds the simulator runs.
const DURATION_S: u64 = 24;
/// The farm's name on the server and its topic level.
const FARM: &str = "田中牧場";

/// `mosquitto` and `sqlite3`, or `None` after saying why the test is skipped (a failure in CI).
fn programs(test: &str) -> Option<(PathBuf, PathBuf)> {
    match (
        program("mosquitto", "/usr/sbin/mosquitto"),
        program("sqlite3", "/usr/bin/sqlite3"),
    ) {
        (Some(m), Some(s)) => Some((m, s)),
        _ if shared_required() => {
            panic!("{test}: mosquitto or sqlite3 is missing but AGRIOPS_REQUIRE_SHARED=1")
        }
        _ => {
            eprintln!(
                "SKIP {test}: mosquitto or sqlite3 is missing (apt-get install mosquitto sqlite3)"
            );
            None
        }
    }
}

/// Runs an `agriops` admin subcommand on `data` and returns what it printed.
fn admin(data: &Path, args: &[&str]) -> String {
    let out = Command::new(agriops())
        .arg(args[0])
        .arg("--data-dir")
        .arg(data)
        .args(&args[1..])
        .output()
        .expect("run agriops");
    assert!(
        out.status.success(),
        "agriops {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn serve(data: &Path, ingest: &Path, port: u16) -> KillOnDrop {
    KillOnDrop(
        Command::new(agriops())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--tile-url",
                "",
            ])
            .arg("--data-dir")
            .arg(data)
            .arg("--mqtt-ingest")
            .arg(ingest)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start agriops serve"),
    )
}

fn start_sim(python: &Path, shared: &Path, port: u16, truth: &Path) -> KillOnDrop {
    let child = Command::new(python)
        .arg(shared.join("parlor/sim.py"))
        .args(["--map", shared.join("parlor/map_a.toml").to_str().unwrap()])
        .args([
            "--parlors",
            "2",
            "--bails",
            "24",
            "--port",
            &port.to_string(),
        ])
        .args([
            "--framer",
            "socket",
            "--speedup",
            "20",
            "--seed",
            "5",
            "--tick",
            "0.05",
        ])
        .args(["--duration", &DURATION_S.to_string()])
        .args(["--drop-every", "10", "--outage", "0.5", "--delay-ms", "1:5"])
        .args(["--exception-rate", "0.01", "--garbage", "0.005"])
        .arg("--truth")
        .arg(truth)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sim.py");
    KillOnDrop(child)
}

fn bridge_config(map: &Path, address: &str, mqtt_port: u16, prefix: &str) -> BridgeConfig {
    let mqtt = MqttConfig {
        topic_prefix: prefix.into(),
        keep_alive_s: 5,
        inflight: 32,
        max_backoff_s: 1.0,
        ..MqttConfig::plain("127.0.0.1", mqtt_port)
    };
    BridgeConfig {
        bridge_id: "e2e-ingest".into(),
        store: None,
        server: None,
        mqtt: Some(mqtt),
        devices: (1..=2u8)
            .map(|unit| {
                let mut d = DeviceConfig::new(&format!("parlor-{unit}"), address, unit, map);
                d.farm = FARM.into();
                d.status_interval_ms = 50;
                d.totals_interval_ms = 100;
                d.bail_interval_ms = 20;
                d.timeout_ms = 250;
                d.offline_after_ms = 2000;
                d.kpi_interval_s = 10;
                d
            })
            .collect(),
    }
}

/// The server's milking keys as `farm_id|parlor|key` lines.
fn server_milkings(sqlite: &Path, db: &Path) -> Vec<String> {
    let out = Command::new(sqlite)
        .arg("-readonly")
        .arg(db)
        .arg(
            "SELECT p.farm_id || '|' || p.name || '|' || m.dedupe_key FROM milking_events m \
             JOIN parlors p ON p.id = m.parlor_id ORDER BY 1;",
        )
        .output()
        .expect("run sqlite3");
    if !out.status.success() {
        // The server may not have created the table yet.
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_ingests_every_milking_once_from_the_farms_broker() {
    let test = "mqtt_ingest_e2e";
    let Some(shared) = require_shared(test) else {
        return;
    };
    let Some(python) = require_peer_python(test) else {
        return;
    };
    let Some((broker_bin, sqlite)) = programs(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let out = admin(
        &data,
        &[
            "farm",
            "add",
            FARM,
            "--district",
            "kuroiso",
            "--kind",
            "dairy",
        ],
    );
    let farm_id: i64 = out
        .split("(id ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no farm id in {out:?}"));
    let out = admin(
        &data,
        &[
            "token",
            "add",
            "--farm",
            &farm_id.to_string(),
            "--name",
            "mqtt",
        ],
    );
    let token = out
        .lines()
        .next()
        .and_then(|l| l.rsplit(": ").next())
        .unwrap_or_else(|| panic!("no token in {out:?}"))
        .trim()
        .to_owned();
    let mut broker = Broker::start(broker_bin).await;
    let prefix = "agriops-e2e-ingest";
    let ingest = dir.path().join("mqtt-ingest.toml");
    std::fs::write(
        &ingest,
        format!(
            "[[source]]\nbroker = \"mqtt://127.0.0.1:{}\"\nfarm = \"{FARM}\"\ntoken = \"{token}\"\n\
             topic_prefix = \"{prefix}\"\nclient_id = \"e2e-server\"\nkeep_alive_s = 5\n",
            broker.port
        ),
    )
    .unwrap();
    let http = free_tcp_port();
    let mut server = serve(&data, &ingest, http);
    wait_port(http, true).await;
    // The server's session must exist before the bridge publishes: a persistent session
    // receives only what arrives after its first subscription.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let truth = dir.path().join("truth.jsonl");
    let port = free_tcp_port();
    let mut sim = start_sim(&python, &shared, port, &truth);
    assert!(
        wait_for_file(&truth, Duration::from_secs(20)),
        "sim.py wrote no truth file"
    );
    wait_port(port, true).await;
    let bridge_db = dir.path().join("bridge.db");
    let cfg = bridge_config(
        &shared.join("parlor/map_a.toml"),
        &format!("tcp:127.0.0.1:{port}"),
        broker.port,
        prefix,
    );
    let started = Instant::now();
    let bridge = Bridge::start(&cfg, Sink::Local(bridge_db.clone()))
        .await
        .expect("bridge starts");
    let at = |s: u64| async move {
        let t = Duration::from_secs(s);
        if let Some(rest) = t.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    };
    // The broker restarts at 6 s (2 s down); the server is killed at 12 s and back at 15 s.
    at(6).await;
    broker.down().await;
    at(8).await;
    broker.up().await;
    at(12).await;
    let server_db = data.join("agriops.db");
    let before_kill = server_milkings(&sqlite, &server_db).len();
    let _ = server.0.kill();
    let _ = server.0.wait();
    at(15).await;
    server = serve(&data, &ingest, http);
    let deadline = Duration::from_secs(DURATION_S + 20);
    while sim.0.try_wait().ok().flatten().is_none() && started.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bridge.stop().await;
    let _ = sim.0.wait();
    let store = Store::open(&bridge_db, false).await.unwrap();
    assert_eq!(
        store.mqtt_queued().await.unwrap(),
        0,
        "messages left unpublished"
    );
    let expected: BTreeSet<String> = store
        .milkings_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap()
        .into_iter()
        .map(|m| format!("{farm_id}|{}|{}", m.parlor, m.key))
        .collect();
    let mut got = Vec::new();
    let wait = Instant::now();
    while wait.elapsed() < Duration::from_secs(30) {
        got = server_milkings(&sqlite, &server_db);
        if got.len() >= expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "{test}: the bridge recorded {} milkings, the server holds {} ({before_kill} before it was killed)",
        expected.len(),
        got.len()
    );
    assert!(expected.len() > 20, "too few milkings: {}", expected.len());
    assert!(
        before_kill > 0 && before_kill < expected.len(),
        "the server was killed while milkings flowed ({before_kill} of {} stored)",
        expected.len()
    );
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "a milking stored twice");
    assert_eq!(
        unique, expected,
        "the server holds other than the bridge recorded"
    );
    drop(server);
}
