//! The simulator asks for terrain like ArduPilot (TERRAIN_REQUEST, TERRAIN_REPORT) and flies
//! terrain-frame items at their height above the terrain our server sent it; its own ground
//! model is the truth the flown height is measured against.

use std::sync::Arc;
use std::time::Duration;

use telemetry::{
    MissionItem, MissionKind, SimConfig, SimDrone, SimGround, Target, TerrainServer, TerrainSource,
    Vehicle,
};

const HOME: (f64, f64) = (36.9, 139.9);
const M_LAT: f64 = 111_132.954;

/// Ground rising 0.1 m per metre north of home, from 300 m.
fn slope(lat: f64, _lon: f64) -> Option<f64> {
    Some(300.0 + (lat - HOME.0) * M_LAT * 0.1)
}

/// A small mission: take off to 3 m, then terrain-frame legs 3 m above the ground up the
/// slope, across and back, then land at home.
fn mission() -> Vec<MissionItem> {
    let kx = 111_412.84 * HOME.0.to_radians().cos();
    let at = |n: f64, e: f64| (HOME.0 + n / M_LAT, HOME.1 + e / kx);
    let home_alt = slope(HOME.0, HOME.1).unwrap();
    let mut items = vec![
        MissionItem {
            frame: 0,
            z: home_alt as f32,
            ..MissionItem::nav(16, HOME.0, HOME.1, 0.0)
        },
        MissionItem::nav(22, HOME.0, HOME.1, 3.0),
    ];
    for (n, e) in [(80.0, 0.0), (80.0, 30.0), (5.0, 30.0)] {
        let (lat, lon) = at(n, e);
        items.push(MissionItem {
            frame: 10,
            ..MissionItem::nav(16, lat, lon, 3.0)
        });
    }
    items.push(MissionItem::nav(21, HOME.0, HOME.1, 0.0));
    items
}

/// Flies the mission with the terrain server answering from `served`; the flown heights above
/// the simulator's ground while on the terrain legs, and the last snapshot.
async fn fly(served: Arc<dyn TerrainSource>) -> (Vec<f64>, telemetry::SimSnapshot, u64) {
    let mut cfg = SimConfig::new((HOME.0, HOME.1, slope(HOME.0, HOME.1).unwrap()));
    cfg.time_scale = 10.0;
    cfg.ground = Some(SimGround {
        source: Arc::new(slope),
        terrain_spacing_m: 5,
    });
    let (sim, port) = SimDrone::in_process(cfg);
    let server = TerrainServer::spawn(&port, served, 5);
    let v = Vehicle::new(port, Target::new(1, 1, telemetry::Firmware::ArduPilot));
    let verified = v
        .upload_verified(MissionKind::Mission, &mission())
        .await
        .expect("mission with terrain-frame items verifies");
    // Before flying, the vehicle has asked for the ground under it and got it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sim.snapshot().terrain_blocks.1 == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no terrain loaded: {:?}",
            sim.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    v.set_mode("GUIDED").await.unwrap();
    v.arm().await.unwrap();
    v.start_mission(&verified).await.unwrap();
    let mut agl = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = sim.snapshot();
        // On the terrain legs (items 3..=5), once past the first metres of the first leg.
        if (3..=5).contains(&s.current_seq) && !s.landed && (s.lat - HOME.0) * M_LAT > 15.0 {
            agl.push(s.agl_m.unwrap());
        }
        if s.landed && !s.armed && s.current_seq != 2 && !agl.is_empty() {
            let sent = server
                .stats
                .blocks_sent
                .load(std::sync::atomic::Ordering::Relaxed);
            return (agl, s, sent);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "mission did not finish: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terrain_legs_are_flown_at_height_above_the_ground_our_server_sends() {
    let (agl, last, sent) = fly(Arc::new(slope)).await;
    assert!(agl.len() > 20, "{} samples", agl.len());
    let worst = agl.iter().map(|a| (a - 3.0).abs()).fold(0.0, f64::max);
    // Heights travel as whole metres (±0.5 m) and the vehicle climbs at a finite rate.
    assert!(worst < 1.0, "flown height above ground off by {worst:.2} m");
    assert_eq!(last.terrain_blocks.0, 0, "terrain still pending: {last:?}");
    assert!(last.terrain_blocks.1 > 0 && sent > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_terrain_answers_show_as_a_wrong_height() {
    // A server 6 m off the real ground: the vehicle flies 6 m higher than asked.
    let wrong = |lat: f64, lon: f64| slope(lat, lon).map(|h| h + 6.0);
    let (agl, _, _) = fly(Arc::new(wrong)).await;
    let worst = agl.iter().map(|a| (a - 3.0).abs()).fold(0.0, f64::max);
    assert!(worst > 4.0, "a 6 m error went unnoticed ({worst:.2} m)");
}
