//! The simulator against its own claims: storage, streams, modes.

use super::*;
use proptest::prelude::*;

fn sim() -> (Sim, mpsc::UnboundedReceiver<Msg>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Sim::new(SimConfig::new((36.87, 139.99, 300.0)), tx), rx)
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Msg>) -> Vec<Msg> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn item_msg(seq: u16, it: MissionItem, kind: MissionKind) -> Msg {
    Msg::MISSION_ITEM_INT(it.to_mav(seq, kind, (1, 1)).unwrap())
}

fn count(n: u16, kind: MissionKind) -> Msg {
    Msg::MISSION_COUNT(apm::MISSION_COUNT_DATA {
        count: n,
        target_system: 1,
        target_component: 1,
        mission_type: kind.mav(),
        ..Default::default()
    })
}

#[test]
fn upload_is_stored_like_ardupilot() {
    let (mut s, mut rx) = sim();
    let mut wp = MissionItem::nav(CMD_NAV_WAYPOINT, 36.871, 139.991, 3.0);
    wp.params = [0.0, 2.0, 1.0, f32::NAN];
    let spray = MissionItem {
        command: CMD_DO_SPRAYER,
        frame: 2,
        params: [1.0, 0.0, 0.0, 0.0],
        x: 0,
        y: 0,
        z: 0.0,
        autocontinue: true,
    };
    let items = [MissionItem::nav(CMD_NAV_WAYPOINT, 1.0, 2.0, 0.0), wp, spray];
    s.handle(count(3, MissionKind::Mission));
    // Out of order: the simulator asks again for the item it needs.
    s.handle(item_msg(1, items[1], MissionKind::Mission));
    for (k, it) in items.iter().enumerate() {
        s.handle(item_msg(k as u16, *it, MissionKind::Mission));
    }
    let out = drain(&mut rx);
    let requests: Vec<u16> = out
        .iter()
        .filter_map(|m| match m {
            Msg::MISSION_REQUEST_INT(r) => Some(r.seq),
            _ => None,
        })
        .collect();
    assert_eq!(requests, vec![0, 0, 1, 2]);
    assert!(out.iter().any(|m| matches!(m, Msg::MISSION_ACK(a)
        if a.mavtype == MavMissionResult::MAV_MISSION_ACCEPTED)));
    let stored = &s.lists[0];
    assert_eq!(
        (stored[0].lat(), stored[0].lon()),
        (36.87, 139.99),
        "seq 0 is home"
    );
    assert_eq!(stored[1].params, [0.0, 0.0, 0.0, 0.0]);
    assert_eq!(stored[1].x, wp.x);
    assert_eq!(stored[2].frame, 0);
    assert_eq!(stored[2].params[0], 1.0);
}

#[test]
fn a_fence_list_refuses_mission_commands() {
    let (mut s, mut rx) = sim();
    s.handle(count(1, MissionKind::Fence));
    s.handle(item_msg(
        0,
        MissionItem::nav(CMD_NAV_WAYPOINT, 36.0, 140.0, 0.0),
        MissionKind::Fence,
    ));
    let out = drain(&mut rx);
    assert!(out.iter().any(|m| matches!(m, Msg::MISSION_ACK(a)
        if a.mavtype == MavMissionResult::MAV_MISSION_UNSUPPORTED)));
    assert!(s.lists[1].is_empty());
}

#[test]
fn a_disabled_stream_is_not_sent_and_time_scales() {
    let (mut s, mut rx) = sim();
    s.cfg.time_scale = 10.0;
    assert_eq!(
        s.command(
            MavCmd::MAV_CMD_SET_MESSAGE_INTERVAL,
            [33.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        ),
        MavResult::MAV_RESULT_ACCEPTED
    );
    for _ in 0..10 {
        s.step();
    }
    let out = drain(&mut rx);
    assert!(!out.iter().any(|m| matches!(m, Msg::GLOBAL_POSITION_INT(_))));
    assert!(out.iter().any(|m| matches!(m, Msg::GPS_RAW_INT(_))));
    // 10 ticks of 20 ms at ×10: 2 simulated seconds.
    assert!((s.t - 2.0).abs() < 1e-9, "{}", s.t);
}

#[test]
fn modes_need_what_they_need() {
    let (mut s, _rx) = sim();
    assert_eq!(s.set_mode(MODE_AUTO), MavResult::MAV_RESULT_DENIED);
    assert_eq!(s.set_mode(MODE_GUIDED), MavResult::MAV_RESULT_ACCEPTED);
    assert_eq!(s.set_mode(2), MavResult::MAV_RESULT_UNSUPPORTED);
    assert_eq!(s.arm(false), MavResult::MAV_RESULT_FAILED);
    assert!(!s.armed);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn offset_and_distance_agree(
        lat in -60.0f64..60.0,
        lon in -179.0f64..179.0,
        n in -2000.0f64..2000.0,
        e in -2000.0f64..2000.0,
    ) {
        let b = offset((lat, lon), n, e);
        let (n2, e2) = ne_between((lat, lon), b);
        prop_assert!((n - n2).abs() < 1e-3 && (e - e2).abs() < 1e-3);
    }

    #[test]
    fn move_to_never_overshoots(n in -300.0f64..300.0, e in -300.0f64..300.0, dt in 0.01f64..0.5) {
        let (mut s, _rx) = sim();
        let to = offset(s.pos, n, e);
        let mut steps = 0;
        while !s.move_to(to, 5.0, dt) {
            let (rn, re) = ne_between(s.pos, to);
            prop_assert!(rn.hypot(re) <= n.hypot(e) + 1e-6);
            steps += 1;
            prop_assert!(steps < 100_000);
        }
        prop_assert_eq!(s.pos, to);
    }
}

#[test]
fn a_px4_pump_follows_the_actuator_value_over_its_output_range() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut cfg = SimConfig::new((36.87, 139.99, 300.0));
    cfg.firmware = Firmware::Px4;
    cfg.sprayer.servo = 6;
    let mut s = Sim::new(cfg, tx);
    // The vehicle's own parameters name the pump's output, as the link reads them.
    let table = s.param_table();
    let get = |n: &str| table.iter().find(|(k, _, _)| *k == n).map(|(_, _, v)| *v);
    assert_eq!(
        crate::PumpOutput::from_params(get),
        crate::PumpOutputSetup::Found(crate::PumpOutput {
            servo: 6,
            pwm_min: 1000,
            pwm_max: 2000
        })
    );
    s.armed = true;
    s.landed = false;
    let actuator = |v: f32| MissionItem {
        command: CMD_DO_SET_ACTUATOR,
        frame: 2,
        params: [v, f32::NAN, f32::NAN, f32::NAN],
        x: 0,
        y: 0,
        z: 0.0,
        autocontinue: true,
    };
    // PX4's mixer: −1…1 linear over PWM_MAIN_MIN6…MAX6.
    s.do_item(&actuator(0.5));
    assert_eq!(s.servos[5], 1750);
    s.do_item(&actuator(1.0));
    assert_eq!(s.servos[5], 2000);
    s.do_item(&actuator(-1.0));
    assert_eq!(s.servos[5], 1000);
    // Another range, set as a pilot would.
    s.param_request("PWM_MAIN_MAX6", Some(f32::from_bits(1900)));
    s.param_request("PWM_MAIN_MIN6", Some(f32::from_bits(1100)));
    s.do_item(&actuator(0.5));
    assert_eq!(s.servos[5], 1700);
    s.do_item(&actuator(-1.0));
    assert_eq!(s.servos[5], 1100);
    // The motors keep their outputs.
    assert!(s.servos[..4].iter().all(|&m| m == 1500), "{:?}", s.servos);
}
