//! Snapshot tests of the `.plan` and `.waypoints` writers, and QGroundControl's plan-file rules.

use mission_planner::{
    Autopilot, Field, LocalFrame, Plan, PlanConfig, Polygon, Role, SwathWidth, plan, to_geojson,
    to_kml, to_qgc_plan, to_waypoints,
};
use serde_json::Value;

/// A 30 m × 24 m paddy in Nasushiobara with a 2 m × 2 m shed inside, planned with 6 m swaths.
fn fixture() -> Plan {
    let frame = LocalFrame::new(139.98, 36.96);
    let poly = |pts: &[(f64, f64)]| -> Polygon {
        let ring: Vec<(f64, f64)> = pts
            .iter()
            .map(|&(x, y)| {
                let c = frame.to_wgs84(mission_planner::Coord { x, y });
                (c.x, c.y)
            })
            .collect();
        Polygon::new(ring.into(), vec![])
    };
    let mut field = Field::new(
        "paddy-1",
        &poly(&[(0.0, 0.0), (30.0, 0.0), (30.0, 24.0), (0.0, 24.0)]),
    )
    .unwrap();
    field
        .add_zone(
            Role::Exclusion,
            &poly(&[(20.0, 14.0), (22.0, 14.0), (22.0, 16.0), (20.0, 16.0)]),
        )
        .unwrap();
    let mut cfg = PlanConfig::new(SwathWidth::new(6.0).unwrap());
    cfg.exclusion_clearance = mission_planner::Metres::new(1.0).unwrap();
    plan(&field, &cfg).unwrap()
}

#[test]
fn qgc_plan_snapshot_ardupilot() {
    insta::assert_snapshot!(
        "paddy_ardupilot.plan",
        to_qgc_plan(&fixture(), Autopilot::ArduPilot, None)
    );
}

#[test]
fn waypoints_snapshot_px4() {
    insta::assert_snapshot!(
        "paddy_px4.waypoints",
        to_waypoints(&fixture(), Autopilot::Px4Actuator, None)
    );
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// QGroundControl's rules for loading a `.plan` (PlanMasterController / MissionController /
/// SimpleMissionItem / GeoFenceController / RallyPointController, plan format version 1,
/// mission version 2), plus the agriops sortie convention.
fn check_plan_rules(text: &str, firmware: u64) {
    let v: Value = serde_json::from_str(text).expect("a .plan is JSON");
    for k in [
        "fileType",
        "version",
        "groundStation",
        "mission",
        "geoFence",
        "rallyPoints",
    ] {
        assert!(v.get(k).is_some(), "top level lacks {k}: {:?}", keys(&v));
    }
    assert_eq!(v["fileType"], "Plan");
    assert_eq!(v["version"], 1);
    let m = &v["mission"];
    assert_eq!(m["version"], 2);
    assert_eq!(m["firmwareType"], firmware);
    assert_eq!(m["vehicleType"], 2);
    assert!(m["cruiseSpeed"].as_f64().unwrap() > 0.0 && m["hoverSpeed"].as_f64().unwrap() > 0.0);
    let home = m["plannedHomePosition"]
        .as_array()
        .expect("plannedHomePosition is [lat, lon, alt]");
    assert_eq!(home.len(), 3);
    let items = m["items"].as_array().expect("items is an array");
    assert!(!items.is_empty());
    let mut spray_on = false;
    let mut in_sortie = false;
    for (i, it) in items.iter().enumerate() {
        for k in [
            "type",
            "command",
            "frame",
            "params",
            "autoContinue",
            "doJumpId",
            "AMSLAltAboveTerrain",
            "Altitude",
            "AltitudeMode",
        ] {
            assert!(it.get(k).is_some(), "item {i} lacks {k}");
        }
        assert_eq!(it["type"], "SimpleItem");
        assert_eq!(
            it["doJumpId"],
            i as u64 + 1,
            "doJumpId numbers items from 1"
        );
        assert_eq!(it["autoContinue"], true);
        let params = it["params"].as_array().expect("params is an array");
        assert_eq!(params.len(), 7);
        assert!(params.iter().all(|p| p.is_null() || p.is_number()));
        let cmd = it["command"].as_u64().unwrap();
        let frame = it["frame"].as_u64().unwrap();
        match cmd {
            16 | 21 | 22 => {
                assert_eq!(frame, 3, "nav items are relative-altitude");
                let (lat, lon) = (params[4].as_f64().unwrap(), params[5].as_f64().unwrap());
                assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
                assert_eq!(params[6].as_f64(), it["Altitude"].as_f64());
            }
            _ => {
                assert_eq!(frame, 2, "DO items use MAV_FRAME_MISSION");
                assert!(params[4].is_null() && params[5].is_null());
            }
        }
        match cmd {
            22 => {
                assert!(!in_sortie, "NAV_TAKEOFF inside a sortie");
                in_sortie = true;
            }
            21 => {
                assert!(
                    in_sortie && !spray_on,
                    "NAV_LAND without take-off or with the spray on"
                );
                assert_eq!(
                    (params[4].as_f64(), params[5].as_f64()),
                    (home[0].as_f64(), home[1].as_f64()),
                    "land at the refill point"
                );
                in_sortie = false;
            }
            216 => spray_on = params[0].as_f64() == Some(1.0),
            187 => spray_on = params[0].as_f64() == Some(1.0),
            183 => spray_on = params[1].as_f64().unwrap() >= 1500.0,
            16 | 178 => assert!(in_sortie),
            other => panic!("unexpected command {other}"),
        }
    }
    assert!(
        !in_sortie && !spray_on,
        "the plan ends landed with the spray off"
    );
    let fence = &v["geoFence"];
    assert_eq!(fence["version"], 2);
    assert!(fence["circles"].as_array().unwrap().is_empty());
    let polys = fence["polygons"].as_array().unwrap();
    assert_eq!(polys[0]["inclusion"], true);
    for p in polys {
        assert_eq!(p["version"], 1);
        let pts = p["polygon"].as_array().unwrap();
        assert!(pts.len() >= 3 && pts.iter().all(|q| q.as_array().map(Vec::len) == Some(2)));
    }
    assert!(polys[1..].iter().all(|p| p["inclusion"] == false));
    let rally = &v["rallyPoints"];
    assert_eq!(rally["version"], 2);
    assert!(
        rally["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.as_array().map(Vec::len) == Some(3))
    );
}

#[test]
fn plans_follow_qgc_rules_for_every_autopilot_and_sortie() {
    let p = fixture();
    let servo = Autopilot::Px4Servo {
        servo: 9,
        pwm_on: 1900,
        pwm_off: 1000,
    };
    for (ap, fw) in [
        (Autopilot::ArduPilot, 3),
        (Autopilot::Px4Actuator, 12),
        (servo, 12),
    ] {
        check_plan_rules(&to_qgc_plan(&p, ap, None), fw);
        for s in &p.sorties {
            check_plan_rules(&to_qgc_plan(&p, ap, Some(s.index)), fw);
        }
    }
    let v: Value = serde_json::from_str(&to_qgc_plan(&p, Autopilot::ArduPilot, None)).unwrap();
    // Field boundary inclusion plus the shed exclusion.
    assert_eq!(v["geoFence"]["polygons"].as_array().unwrap().len(), 2);
}

#[test]
fn multi_sortie_plan_has_one_takeoff_per_sortie() {
    let frame = LocalFrame::new(139.98, 36.96);
    let ring: Vec<(f64, f64)> = [(0.0, 0.0), (200.0, 0.0), (200.0, 120.0), (0.0, 120.0)]
        .iter()
        .map(|&(x, y)| {
            let c = frame.to_wgs84(mission_planner::Coord { x, y });
            (c.x, c.y)
        })
        .collect();
    let field = Field::new("big", &Polygon::new(ring.into(), vec![])).unwrap();
    let mut cfg = PlanConfig::new(SwathWidth::new(5.0).unwrap());
    cfg.tank = mission_planner::Litres::new(5.0).unwrap();
    let p = plan(&field, &cfg).unwrap();
    assert!(p.sorties.len() >= 3, "{}", p.sorties.len());
    let whole = to_qgc_plan(&p, Autopilot::ArduPilot, None);
    check_plan_rules(&whole, 3);
    let v: Value = serde_json::from_str(&whole).unwrap();
    let takeoffs = v["mission"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["command"] == 22)
        .count();
    assert_eq!(takeoffs, p.sorties.len());
    let wpl = to_waypoints(&p, Autopilot::ArduPilot, Some(2));
    assert!(wpl.starts_with("QGC WPL 110\n0\t1\t0\t16\t"));
    assert_eq!(
        wpl.lines()
            .filter(|l| l.split('\t').nth(3) == Some("22"))
            .count(),
        1
    );
}

#[test]
fn geojson_and_kml_carry_the_path() {
    let p = fixture();
    let g: Value = serde_json::from_str(&to_geojson(&p)).unwrap();
    let feats = g["features"].as_array().unwrap();
    let paths: Vec<&Value> = feats
        .iter()
        .filter(|f| f["properties"]["kind"] == "path")
        .collect();
    assert!(paths.iter().any(|f| f["properties"]["spray"] == true));
    assert!(paths.iter().any(|f| f["properties"]["spray"] == false));
    assert!(
        paths
            .iter()
            .all(|f| f["properties"]["sortie"] == 1 && f["geometry"]["type"] == "LineString")
    );
    assert!(feats.iter().any(|f| f["properties"]["kind"] == "field"));
    assert!(feats.iter().any(|f| f["properties"]["kind"] == "sprayable"));
    let kml = to_kml(&p);
    // The KML we write is KML the reader accepts.
    let back = mission_planner::read_fields(kml.as_bytes()).unwrap();
    assert!(
        back.fields
            .iter()
            .flatten()
            .any(|f| f.id == "paddy-1 field")
    );
}

/// (command, param1, is a run-up end) of every item of a `.plan`.
fn item_list(text: &str) -> Vec<(u64, f64, bool)> {
    let v: Value = serde_json::from_str(text).unwrap();
    let ends: Vec<u64> = v["agriops"]["runUpEnds"]
        .as_array()
        .expect("agriops.runUpEnds")
        .iter()
        .map(|k| k.as_u64().unwrap())
        .collect();
    v["mission"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, it)| {
            (
                it["command"].as_u64().unwrap(),
                it["params"][0].as_f64().unwrap_or(f64::NAN),
                ends.contains(&(i as u64)),
            )
        })
        .collect()
}

#[test]
fn ardupilot_sprayer_starts_at_the_run_up_and_other_pumps_at_the_leg() {
    let p = fixture();
    let lead = p.sorties[0]
        .track
        .length_of(mission_planner::SegmentKind::LeadIn);
    assert!(lead > 0.0, "the fixture's legs have run-ups");
    // ArduPilot: WAYPOINT (run-up start), DO_CHANGE_SPEED, DO_SPRAYER 1, WAYPOINT (run-up end,
    // the leg's start, marked), then the leg's end: the pump is on over the run-up.
    let ap = item_list(&to_qgc_plan(&p, Autopilot::ArduPilot, None));
    let ends: Vec<usize> = (0..ap.len()).filter(|&i| ap[i].2).collect();
    assert!(!ends.is_empty());
    for &e in &ends {
        assert_eq!(ap[e].0, 16, "a run-up ends at a waypoint");
        assert_eq!(
            ap[e - 1],
            (216, 1.0, false),
            "DO_SPRAYER 1 before the run-up"
        );
        assert_eq!(ap[e - 2].0, 178, "spray speed from the run-up's start");
        assert_eq!(ap[e - 3].0, 16);
        assert_eq!(ap[e + 1].0, 16, "the leg follows with no switch in between");
    }
    // PX4: the run-up is flown at spray speed with the pump off; it starts at the leg.
    let px4 = item_list(&to_qgc_plan(&p, Autopilot::Px4Actuator, None));
    let ends: Vec<usize> = (0..px4.len()).filter(|&i| px4[i].2).collect();
    assert_eq!(ends.len(), (0..ap.len()).filter(|&i| ap[i].2).count());
    for &e in &ends {
        assert_eq!(px4[e - 1].0, 178, "spray speed before the run-up");
        assert_eq!(
            px4[e + 1],
            (187, 1.0, false),
            "DO_SET_ACTUATOR 1 at the leg's start"
        );
    }
}
