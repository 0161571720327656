//! The simulated spray drone against telemetry's own client: a whole sortie over UDP (upload and
//! verify mission + fence + rally, arm, start, fly to the end, land, disarm, pump only on the
//! spray legs, coverage), refused arming, pause / resume / RTL mid-mission, and TCP.

use std::path::Path;
use std::time::Duration;

use telemetry::{
    Error, Firmware, Link, LinkAddress, LinkConfig, MissionKind, Msg, Plan, SimConfig, SimDrone,
    SprayLeg, SprayerOutput, Target, Vehicle, VehicleState, VerifiedMission, coverage, read_tlog,
    track_from_records,
};

const FIXTURE: &str = "tests/fixtures/two_sorties.plan";

fn sortie1() -> Plan {
    let path = Path::new(FIXTURE);
    Plan::read(path).unwrap().sortie(1, path).unwrap()
}

fn config(plan: &Plan, time_scale: f64) -> SimConfig {
    let mut cfg = SimConfig::new(plan.home.expect("fixture has a home"));
    cfg.time_scale = time_scale;
    cfg.cruise_speed_m_s = plan.cruise_speed.unwrap_or(5.0);
    cfg
}

/// Distance in metres from `p` to the segment `leg` (local flat approximation).
fn dist_to_leg(p: (f64, f64), leg: &SprayLeg) -> f64 {
    let kx = 111_412.84 * p.0.to_radians().cos();
    let ky = 111_132.954;
    let to_xy = |q: (f64, f64)| ((q.1 - p.1) * kx, (q.0 - p.0) * ky);
    let (ax, ay) = to_xy(leg.from);
    let (bx, by) = to_xy(leg.to);
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
    };
    (ax + t * dx).hypot(ay + t * dy)
}

/// Uploads and verifies mission, fence and rally; returns the mission token.
async fn upload_all(v: &Vehicle, plan: &Plan) -> VerifiedMission {
    let verified = v
        .upload_verified(MissionKind::Mission, &plan.mission_items())
        .await
        .expect("mission upload verifies");
    v.upload_verified(MissionKind::Fence, &plan.fence_items())
        .await
        .expect("fence upload verifies");
    v.upload_verified(MissionKind::Rally, &plan.rally_items())
        .await
        .expect("rally upload verifies");
    verified
}

async fn wait_for(
    sim: &SimDrone,
    what: &str,
    mut cond: impl FnMut(&telemetry::SimSnapshot) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = sim.snapshot();
        if cond(&s) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; simulator at {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The simulator in-process, and a client for it, both speaking `cfg.firmware`.
fn in_process(cfg: SimConfig) -> (SimDrone, Vehicle) {
    let firmware = cfg.firmware;
    let (sim, port) = SimDrone::in_process(cfg);
    let v = Vehicle::new(port, Target::new(1, 1, firmware));
    (sim, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sortie_flies_to_the_end_over_udp_with_the_pump_on_only_on_spray_legs() {
    let plan = sortie1();
    let sim = SimDrone::listen(
        &LinkAddress::parse("udpin:127.0.0.1:0").unwrap(),
        config(&plan, 40.0),
    )
    .await
    .unwrap();
    let addr = sim.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tlog = dir.path().join("flight.tlog");
    let mut lc = LinkConfig::new(LinkAddress::parse(&format!("udpout:{addr}")).unwrap());
    lc.tlog = Some(tlog.clone());
    let link = Link::connect(&lc).await.unwrap();
    let info = link.wait_vehicle(Duration::from_secs(5)).await.unwrap();
    assert_eq!(info.target.system, 1);
    assert_eq!(info.autopilot, "ARDUPILOTMEGA");
    assert_eq!(info.vehicle_type, "QUADROTOR");
    let v = Vehicle::new(link.port().clone(), info.target);
    let verified = upload_all(&v, &plan).await;
    assert_eq!(
        sim.snapshot().list_lengths,
        [plan.mission_items().len(), 4, 1]
    );

    v.set_mode("GUIDED").await.unwrap();
    v.arm().await.unwrap();
    v.start_mission(&verified).await.unwrap();
    wait_for(&sim, "take-off", |s| !s.landed).await;
    wait_for(&sim, "landing and disarm", |s| s.landed && !s.armed).await;
    // Let the last frames (disarm heartbeat, final reports) arrive, then close the record.
    tokio::time::sleep(Duration::from_millis(300)).await;
    link.close().await;

    let records = read_tlog(&tlog).unwrap();
    let mut state = VehicleState::new(Some(1), Some(1), SprayerOutput::default());
    let mut reached = Vec::new();
    let mut first_battery = None;
    for r in &records {
        state.apply(&r.frame.header, &r.frame.msg);
        if let Msg::MISSION_ITEM_REACHED(m) = &r.frame.msg {
            reached.push(m.seq);
        }
        if first_battery.is_none() {
            first_battery = state.battery_pct;
        }
    }
    // Every NAV item, in order, exactly once, except the final LAND: ArduCopter reports none
    // for it, and the mission's end is judged landed and disarmed after flying it.
    let items = plan.mission_items();
    let last = (items.len() - 1) as u16;
    let nav: Vec<u16> = (1..items.len())
        .filter(|&k| items[k].is_nav() && k as u16 != last)
        .map(|k| k as u16)
        .collect();
    assert_eq!(reached, nav);
    assert_eq!(items[usize::from(last)].command, 21);
    assert!(state.mission_finished(last));
    assert!(!state.armed, "disarmed at the end");
    assert!(
        state.rel_alt_m.unwrap().abs() < 0.05,
        "landed: {:?}",
        state.rel_alt_m
    );
    let home = plan.home.unwrap();
    assert!((state.lat.unwrap() - home.0).abs() < 1e-6);
    assert_eq!(state.gps_fix, telemetry::GpsFix::RtkFixed);
    assert!(state.satellites.unwrap() >= 10);
    assert!(
        state.battery_pct.unwrap() < first_battery.unwrap(),
        "battery drains: {first_battery:?} → {:?}",
        state.battery_pct
    );
    assert!(
        state.status_texts.iter().any(|t| t.text == "Land complete"),
        "{:?}",
        state.status_texts
    );

    // The pump: on only on spray legs, off on take-off, transits, turns and the return.
    let legs = plan.spray_legs();
    assert_eq!(legs.len(), 2);
    let track = track_from_records(&records, Some(&plan), SprayerOutput::default());
    assert!(track.len() > 20, "{} track points", track.len());
    let on_points = track.iter().filter(|p| p.spraying).count();
    assert!(on_points >= 10, "pump on at {on_points} track points");
    for p in track.iter().filter(|p| p.spraying) {
        let d = legs
            .iter()
            .map(|l| dist_to_leg((p.lat, p.lon), l))
            .fold(f64::INFINITY, f64::min);
        assert!(d < 0.5, "pump on {d:.2} m off the spray legs at {p:?}");
    }
    // Take-off and landing happen at home, away from the legs: the pump was off there.
    let home_points: Vec<_> = track
        .iter()
        .filter(|p| (p.lat - home.0).abs() < 1e-6 && (p.lon - home.1).abs() < 1e-6)
        .collect();
    assert!(home_points.len() >= 2);
    assert!(home_points.iter().all(|p| !p.spraying));

    let cov = coverage(&track, &legs, 5.0).unwrap();
    assert!(cov.covered_pct >= 95.0, "coverage {:.1} %", cov.covered_pct);
    eprintln!(
        "sortie 1: {} frames, {} track points, {:.1} s real, coverage {:.1} % (off-target {:.1} m²)",
        records.len(),
        track.len(),
        (records.last().unwrap().time_us - records.first().unwrap().time_us) as f64 / 1e6,
        cov.covered_pct,
        cov.off_target_m2
    );
    sim.stop().await;
}

#[tokio::test]
async fn arming_is_refused_with_the_prearm_text() {
    let plan = sortie1();
    // No mission: refused.
    let (sim, v) = in_process(config(&plan, 20.0));
    match v.arm().await {
        Err(Error::ArmRefused { reasons }) => {
            assert_eq!(reasons, vec!["PreArm: No mission loaded".to_string()])
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!sim.snapshot().armed);

    // A configured pre-arm failure: refused even with a mission.
    let mut cfg = config(&plan, 20.0);
    cfg.prearm_failure = Some("Compass not calibrated".into());
    let (sim, v) = in_process(cfg);
    let verified = upload_all(&v, &plan).await;
    match v.arm().await {
        Err(Error::ArmRefused { reasons }) => {
            assert_eq!(reasons, vec!["PreArm: Compass not calibrated".to_string()])
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // And the mission cannot start disarmed.
    assert!(matches!(
        v.start_mission(&verified).await,
        Err(Error::CommandRejected { .. })
    ));
    assert!(!sim.snapshot().armed);
    assert!(sim.snapshot().landed);
}

#[tokio::test]
async fn pause_holds_with_the_pump_off_resume_continues_and_rtl_lands_home() {
    let plan = sortie1();
    let (sim, v) = in_process(config(&plan, 10.0));
    let verified = upload_all(&v, &plan).await;
    v.set_mode("GUIDED").await.unwrap();
    v.arm().await.unwrap();
    v.start_mission(&verified).await.unwrap();
    wait_for(&sim, "the pump on a spray leg", |s| s.pump_on).await;

    v.pause().await.unwrap();
    let held = sim.snapshot();
    assert_eq!(held.mode, "BRAKE");
    assert!(!held.pump_on, "pump off on pause");
    assert!(held.armed && !held.landed);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let later = sim.snapshot();
    assert!(later.sim_time_s > held.sim_time_s + 0.5, "time runs");
    assert_eq!(
        (later.lat, later.lon),
        (held.lat, held.lon),
        "holds position"
    );
    assert_eq!(later.current_seq, held.current_seq);

    // Resume at the item it was flying to: it moves on along the mission, with the pump on
    // again for the rest of the interrupted spray leg (the autopilot does not replay the
    // DO_SPRAYER before that item).
    assert!(
        plan.pump_on_toward(held.current_seq),
        "paused on a spray leg"
    );
    v.resume_at(
        held.current_seq,
        plan.pump_on_toward(held.current_seq),
        &verified,
    )
    .await
    .unwrap();
    assert_eq!(sim.snapshot().mode, "AUTO");
    // The sprayer runs once the vehicle is back above its minimum spray speed.
    wait_for(
        &sim,
        "the interrupted spray leg sprayed, not flown dry",
        |s| s.pump_on,
    )
    .await;
    wait_for(&sim, "moving again", |s| {
        (s.lat, s.lon) != (held.lat, held.lon) || s.current_seq > held.current_seq
    })
    .await;

    // RTL: pump off, climbs, returns to the nearest of home and the rally point, lands, disarms.
    v.rtl().await.unwrap();
    assert_eq!(sim.snapshot().mode, "RTL");
    wait_for(&sim, "RTL landing", |s| s.landed && !s.armed).await;
    let end = sim.snapshot();
    assert!(!end.pump_on);
    let home = plan.home.unwrap();
    let rally = plan.rally[0];
    let near = |a: (f64, f64)| (end.lat - a.0).abs() < 1e-6 && (end.lon - a.1).abs() < 1e-6;
    assert!(
        near((home.0, home.1)) || near((rally.0, rally.1)),
        "landed at {}, {}",
        end.lat,
        end.lon
    );
    assert!(
        end.current_seq < (plan.mission_items().len() - 1) as u16,
        "mission not finished"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_link_serves_heartbeat_commands_and_downloads() {
    let plan = sortie1();
    let sim = SimDrone::listen(
        &LinkAddress::parse("tcpin:127.0.0.1:0").unwrap(),
        config(&plan, 5.0),
    )
    .await
    .unwrap();
    let addr = sim.local_addr().unwrap();
    let link = Link::connect(&LinkConfig::new(
        LinkAddress::parse(&format!("tcpout:{addr}")).unwrap(),
    ))
    .await
    .unwrap();
    let info = link.wait_vehicle(Duration::from_secs(5)).await.unwrap();
    let v = Vehicle::new(link.port().clone(), info.target);
    assert!(v.download(MissionKind::Mission).await.unwrap().is_empty());
    v.request_message_interval(33, 10.0).await.unwrap();
    upload_all(&v, &plan).await;
    let back = v.download(MissionKind::Mission).await.unwrap();
    assert_eq!(back.len(), plan.mission_items().len());
    // ArduPilot storage: seq 0 is home, DO items in frame 0.
    assert_eq!(back[0].frame, 0);
    assert!(
        back.iter()
            .filter(|i| i.command == 216)
            .all(|i| i.frame == 0)
    );
    v.clear(MissionKind::Mission).await.unwrap();
    assert_eq!(sim.snapshot().list_lengths[0], 0);
    assert!(matches!(
        v.set_mode("AUTO").await,
        Err(Error::CommandRejected { .. })
    ));
    assert!(matches!(
        SimDrone::listen(
            &LinkAddress::parse("udpout:127.0.0.1:9").unwrap(),
            config(&plan, 1.0)
        )
        .await,
        Err(Error::BadAddress { .. })
    ));
    link.close().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_whole_field_lands_at_the_refill_point_and_resumes_with_the_next_sortie() {
    let path = Path::new(FIXTURE);
    let plan = Plan::read(path).unwrap();
    assert_eq!(plan.n_sorties(), 2);
    let (sim, v) = in_process(config(&plan, 60.0));
    let verified = upload_all(&v, &plan).await;
    let second_takeoff = plan.vehicle_seq(11) as u16;
    assert_eq!(plan.items[11].command, 22);

    v.set_mode("GUIDED").await.unwrap();
    v.arm().await.unwrap();
    v.start_mission(&verified).await.unwrap();
    wait_for(&sim, "take-off", |s| !s.landed).await;
    wait_for(&sim, "refill landing", |s| s.landed && !s.armed).await;
    assert_eq!(
        sim.snapshot().current_seq,
        second_takeoff,
        "waits at the next sortie"
    );

    // Refilled: arm again; MISSION_START continues with the next sortie.
    v.arm().await.unwrap();
    v.start_mission(&verified).await.unwrap();
    wait_for(&sim, "second take-off", |s| !s.landed).await;
    wait_for(&sim, "final landing", |s| s.landed && !s.armed).await;
    let end = sim.snapshot();
    assert_eq!(
        end.current_seq, 1,
        "ArduPilot's current item is 1 again after the mission"
    );
    assert!(end.battery_pct < 100.0);
    sim.stop().await;
}

#[tokio::test]
async fn ardupilot_starts_at_an_item_by_set_current_not_mission_start_params() {
    let path = Path::new(FIXTURE);
    let plan = Plan::read(path).unwrap();
    let (sim, v) = in_process(config(&plan, 60.0));
    let verified = upload_all(&v, &plan).await;
    let second_takeoff = plan.vehicle_seq(11) as u16;
    v.set_mode("GUIDED").await.unwrap();
    v.arm().await.unwrap();
    // What ArduCopter denies: MISSION_START with first/last items.
    let denied = v
        .command(
            telemetry::mavlink::dialects::ardupilotmega::MavCmd::MAV_CMD_MISSION_START,
            [f32::from(second_takeoff), 30.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert!(
        matches!(denied, Err(Error::CommandRejected { .. })),
        "{denied:?}"
    );
    // What it accepts: MISSION_SET_CURRENT, then MISSION_START from the current item.
    v.start_mission_at(&verified, second_takeoff).await.unwrap();
    wait_for(&sim, "take-off of the second sortie", |s| !s.landed).await;
    assert!(sim.snapshot().current_seq >= second_takeoff);
    sim.stop().await;
}

#[tokio::test]
async fn stopping_or_dropping_the_simulator_ends_its_tasks_and_frees_the_socket() {
    let plan = sortie1();
    let sim = SimDrone::listen(
        &LinkAddress::parse("udpin:127.0.0.1:0").unwrap(),
        config(&plan, 1.0),
    )
    .await
    .unwrap();
    let addr = sim.local_addr().unwrap();
    sim.stop().await;
    // The socket is closed: the address can be bound again.
    std::net::UdpSocket::bind(addr).expect("port released after stop");

    let (sim, v) = in_process(config(&plan, 1.0));
    let mut rx = v.port().subscribe();
    drop(sim);
    tokio::task::yield_now().await;
    assert!(matches!(
        v.command(
            telemetry::mavlink::dialects::ardupilotmega::MavCmd::MAV_CMD_REQUEST_MESSAGE,
            [0.0; 7]
        )
        .await,
        Err(Error::LinkClosed)
    ));
    // Nothing more comes from a dropped simulator.
    while rx.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn as_px4_it_flies_a_px4_plan_from_seq_0_with_px4_modes() {
    let path = Path::new("tests/fixtures/px4_two_sorties.plan");
    let plan = Plan::read(path).unwrap().sortie(1, path).unwrap();
    assert_eq!(plan.firmware, telemetry::Firmware::Px4);
    let mut cfg = config(&plan, 20.0);
    cfg.firmware = telemetry::Firmware::Px4;
    let (sim, v) = in_process(cfg);
    let verified = upload_all(&v, &plan).await;
    assert_eq!(
        sim.snapshot().list_lengths[0],
        plan.items.len(),
        "no home item"
    );
    // An ArduPilot mode name means nothing to it.
    assert!(v.set_mode("GUIDED").await.is_err());
    v.arm().await.unwrap();
    v.start_mission(&verified).await.unwrap();
    assert_eq!(sim.snapshot().mode, "MISSION");
    wait_for(&sim, "the pump on a spray leg (DO_SET_ACTUATOR)", |s| {
        s.pump_on
    })
    .await;
    v.pause().await.unwrap();
    let held = sim.snapshot();
    assert_eq!(held.mode, "HOLD");
    assert!(!held.pump_on && held.armed);
    let pump = plan.pump_on_toward(held.current_seq);
    v.resume_at(held.current_seq, pump, &verified)
        .await
        .unwrap();
    let resumed = sim.snapshot();
    assert_eq!(resumed.mode, "MISSION");
    assert_eq!(
        resumed.pump_on, pump,
        "the pump as the resumed leg commands it"
    );
    let last = (plan.items.len() - 1) as u16;
    wait_for(&sim, "the landing at the end", |s| {
        s.landed && !s.armed && s.current_seq == last
    })
    .await;
    assert!(!sim.snapshot().pump_on);
}

#[tokio::test]
async fn the_fence_is_switched_on_by_its_parameters_and_rtl_altitude_is_read_and_set() {
    for firmware in [Firmware::ArduPilot, Firmware::Px4] {
        let plan = sortie1();
        let mut cfg = config(&plan, 10.0);
        cfg.firmware = firmware;
        let (sim, mut v) = in_process(cfg);
        v.ack_timeout = Duration::from_millis(300);
        let before = v.fence_setup().await.unwrap();
        if firmware == Firmware::ArduPilot {
            assert!(!before.active(), "ArduCopter ships with FENCE_ENABLE 0");
            assert!(!sim.snapshot().fence_active);
        }
        let after = v.enable_fence().await.unwrap();
        assert!(after.active(), "{firmware:?}: {after:?}");
        assert!(sim.snapshot().fence_active);
        assert!(matches!(
            v.param("NO_SUCH_PARAM").await,
            Err(Error::ParamUnknown { .. })
        ));
        assert_eq!(v.set_rtl_altitude_m(6.0).await.unwrap(), 6.0);
        assert_eq!(v.rtl_altitude_m().await.unwrap(), 6.0);
        sim.stop().await;
    }
}
