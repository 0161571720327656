//! The terrain protocol against a real autopilot: ArduPilot Copter SITL asks its ground station
//! for terrain (TERRAIN_REQUEST), `telemetry::TerrainServer` answers from a planner `Dem`, and
//! the vehicle reports every block it asked for loaded (TERRAIN_REPORT pending 0, loaded > 0)
//! with the terrain height we served; then it keeps a planned terrain-frame mission exactly and
//! flies it at the planned height above the served terrain (a ground rising 9 m per 100 m).
//! Runs when `ARDUPILOT_SITL_BIN` names the `arducopter`
//! binary (started by the shared rig, `agriops_e2e::sitl`), otherwise it prints why
//! it is skipped.
//!
//! SITL's physics ground stays flat at home's altitude (its `SIM_TERRAIN` option would take
//! the ground from the vehicle's own terrain database, i.e. from what we served, so it could
//! not show a wrong answer); the flown height above a non-flat ground is checked against the
//! project's simulator (`telemetry/tests/terrain_sim.rs`), which keeps its own ground model.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agriops_e2e::sitl::{sitl_bin, start_sitl, wait_ready_to_arm};
use mission_planner::{Dem, DemCrs, DemLimits};
use telemetry::{Link, LinkAddress, LinkConfig, Msg, TerrainServer, Vehicle};

const HOME: (f64, f64) = (36.96, 139.98);

/// A 0.2° × 0.2° model around home at 0.001° cells: ground rising 10 m per 0.001° (about
/// 111 m) north, so a flight at one altitude over the field would miss the height by metres.
fn dem() -> Dem {
    let (n, cell) = (200usize, 1e-3);
    let (w0, n0) = (HOME.1 - 0.1, HOME.0 + 0.1);
    let z = (0..n)
        .flat_map(|r| (0..n).map(move |_| 200.0 + 10.0 * (n - r) as f32))
        .collect();
    Dem::from_grid(
        DemCrs::Geographic,
        (w0 + cell / 2.0, n0 - cell / 2.0),
        (cell, cell),
        (n, n),
        z,
        &DemLimits::default(),
    )
    .expect("test DEM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_asks_us_for_terrain_and_flies_above_what_we_serve() {
    let Some(bin) = sitl_bin("sitl_asks_us_for_terrain_and_flies_above_what_we_serve") else {
        return;
    };
    let dem = Arc::new(dem());
    let home_ground = dem.height_amsl(HOME.0, HOME.1).expect("home on the DEM");
    let sitl = start_sitl(&bin, (HOME.0, HOME.1, home_ground), 3).await;
    let output = || sitl.output();

    let addr = format!("tcpout:127.0.0.1:{}", sitl.gcs_port);
    let link = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let cfg = LinkConfig::new(LinkAddress::parse(&addr).expect("address"));
            if let Ok(link) = Link::connect(&cfg).await {
                break link;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no SITL on {addr}:\n{}",
                output()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let ground = dem.clone();
    let server = TerrainServer::spawn(
        link.port(),
        Arc::new(move |lat: f64, lon: f64| ground.height_amsl(lat, lon)),
        100,
    );
    let mut rx = link.port().subscribe();
    let info = link
        .wait_vehicle(Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("SITL never sent a heartbeat ({e}):\n{}", output()));
    let vehicle = Vehicle::new(link.port().clone(), info.target);
    // Copter streams TERRAIN_REQUEST / TERRAIN_REPORT in EXTRA3, off by default on this port.
    // The rest for arming and judging the flight: SYS_STATUS, GPS_RAW_INT, GLOBAL_POSITION_INT,
    // MISSION_CURRENT, EKF_STATUS_REPORT.
    for (msgid, hz) in [
        (133, 2.0),
        (136, 2.0),
        (1, 2.0),
        (24, 2.0),
        (33, 10.0),
        (42, 4.0),
        (193, 2.0),
    ] {
        let _ = vehicle.request_message_interval(msgid, hz).await;
    }
    let (mut requests, mut last) = (0usize, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(f)) => match &f.msg {
                Msg::TERRAIN_REQUEST(_) => requests += 1,
                // Before its position is known SITL reports for (0, 0): wait for home.
                Msg::TERRAIN_REPORT(r)
                    if (f64::from(r.lat) * 1e-7 - HOME.0).abs() < 0.01
                        && (f64::from(r.lon) * 1e-7 - HOME.1).abs() < 0.01 =>
                {
                    if r.pending == 0 && r.loaded > 0 && r.spacing > 0 {
                        last = Some(r.clone());
                        break;
                    }
                    last = Some(r.clone());
                }
                _ => {}
            },
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "terrain never fully loaded: {requests} requests, last report {last:?}, {} blocks sent:\n{}",
                server
                    .stats
                    .blocks_sent
                    .load(std::sync::atomic::Ordering::Relaxed),
                output()
            ),
        }
    }
    let r = last.expect("a report");
    eprintln!("ArduPilot asked {requests} times; TERRAIN_REPORT {r:?}");
    assert!(requests > 0, "ArduPilot never asked us for terrain");
    assert!(
        server
            .stats
            .blocks_sent
            .load(std::sync::atomic::Ordering::Relaxed)
            >= u64::from(r.loaded)
    );
    // The vehicle's terrain at its own position is the one we served (sent in whole metres).
    let here = dem
        .height_amsl(f64::from(r.lat) * 1e-7, f64::from(r.lon) * 1e-7)
        .unwrap_or_else(|| panic!("the report {r:?} is not on the DEM"));
    assert!(
        (f64::from(r.terrain_height) - here).abs() <= 1.0,
        "vehicle's terrain {} m, ours {here:.2} m",
        r.terrain_height
    );

    // A terrain-frame mission planned over the same model is stored by ArduPilot as sent:
    // read back item by item, the terrain frame and heights above terrain intact.
    let mp = terrain_plan(&dem);
    let json = mission_planner::to_qgc_plan(&mp, mission_planner::Autopilot::ArduPilot, Some(1));
    let plan = telemetry::Plan::from_json(&json, Path::new("terrain.plan")).expect("our .plan");
    let items = plan.mission_items();
    assert!(items.iter().filter(|i| i.frame == 10).count() > 3);
    let verified = vehicle
        .upload_verified(telemetry::MissionKind::Mission, &items)
        .await
        .unwrap_or_else(|e| panic!("ArduPilot did not keep the terrain-frame mission: {e}"));

    // Flown: on the terrain-frame legs ArduPilot holds the planned height above the terrain
    // we served (its physics ground is flat; the model is what it follows).
    let terrain_seqs: Vec<u16> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.frame == 10)
        .map(|(k, _)| k as u16)
        .collect();
    let first = terrain_seqs[0];
    let last_seq = *terrain_seqs.last().expect("terrain items");
    wait_ready_to_arm(&link, &sitl).await;
    vehicle.set_mode("GUIDED").await.expect("GUIDED");
    vehicle.arm().await.expect("arm");
    vehicle.start_mission(&verified).await.expect("start");
    let mut rx = link.port().subscribe();
    let (mut seq, mut agl) = (0u16, Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while seq <= last_seq {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(f)) => match &f.msg {
                Msg::MISSION_CURRENT(m) => seq = m.seq,
                Msg::GLOBAL_POSITION_INT(g) if seq > first && terrain_seqs.contains(&seq) => {
                    let (lat, lon) = (f64::from(g.lat) * 1e-7, f64::from(g.lon) * 1e-7);
                    if let Some(ground) = dem.height_amsl(lat, lon) {
                        agl.push(f64::from(g.alt) / 1000.0 - ground);
                    }
                }
                _ => {}
            },
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "mission not flown to item {last_seq} (at {seq}):\n{}",
                output()
            ),
        }
    }
    assert!(agl.len() > 20, "{} samples on terrain legs", agl.len());
    let mean = agl.iter().sum::<f64>() / agl.len() as f64;
    let worst = agl
        .iter()
        .map(|a| (a - mp.height_m).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "ArduPilot flew {} samples at {mean:.2} m (worst {worst:.2} m off {} m) above the served terrain",
        agl.len(),
        mp.height_m
    );
    // Terrain travels in whole metres; the position controller adds its own lag.
    assert!(
        (mean - mp.height_m).abs() < 0.75,
        "mean height above terrain {mean:.2} m"
    );
    assert!(
        worst < 2.0,
        "up to {worst:.2} m off the planned height above terrain"
    );
    link.close().await;
}

/// A 60 m × 40 m field just north-east of home, planned and put on the terrain in the
/// terrain frame.
fn terrain_plan(dem: &Dem) -> mission_planner::Plan {
    let kx = 111_320.0 * HOME.0.to_radians().cos();
    let (w, s) = (HOME.1 + 5.0 / kx, HOME.0 + 5.0 / 111_320.0);
    let (e, n) = (w + 60.0 / kx, s + 40.0 / 111_320.0);
    let gj = format!(
        r#"{{"type":"Feature","properties":{{"id":"t"}},"geometry":{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}}}"#
    );
    let fields = mission_planner::read_fields(gj.as_bytes()).expect("field");
    let field = fields.fields[0].as_ref().expect("valid field");
    let mut cfg = mission_planner::PlanConfig::new(mission_planner::SwathWidth::new(5.0).unwrap());
    cfg.refill = Some(mission_planner::Coord {
        x: HOME.1,
        y: HOME.0,
    });
    let p = mission_planner::plan(field, &cfg).expect("plan");
    let t = mission_planner::TerrainConfig {
        frame: mission_planner::AltitudeFrame::Terrain,
        ..mission_planner::TerrainConfig::default()
    };
    mission_planner::apply_terrain(&p, dem, &t).expect("terrain pass")
}
