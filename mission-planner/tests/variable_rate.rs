//! Variable-rate plans from prescriptions the planner has not seen (zones with holes and
//! slivers, rates in L/10a, L/ha and kg/10a, zones partly outside the field, gaps): amounts
//! per zone against GEOS areas (an independent polygon library), sortie amounts against the
//! spray path, and the dose at zone borders.

use geos::{Geom, Geometry};
use mission_planner::{
    Autopilot, Coord, GapPolicy, LocalFrame, Plan, PlanConfig, Polygon, RateUnit, ReadOptions,
    SegmentKind, SwathWidth, VariableRate, plan, read_fields, read_prescription, to_qgc_plan,
    to_waypoints,
};

const W: f64 = 5.0;
/// The pump's full flow, L/min (2 L/10a at 5 m/s over 5 m needs 3 L/min).
const FULL_FLOW: f64 = 4.0;

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(f64, f64)> {
    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
}

/// Zones in local metres of a frame at (139.9, 36.9): rings (exterior first) and a rate.
/// A ring of (x, y) local metres.
type Ring = Vec<(f64, f64)>;

fn zones() -> Vec<(&'static str, f64, Vec<Ring>)> {
    vec![
        // Sticks out of the field to the west, with a hole (a gap inside it).
        (
            "west",
            1.2,
            vec![
                rect(-140.0, -70.0, -20.0, 70.0),
                rect(-80.0, -15.0, -55.0, 15.0),
            ],
        ),
        // Overlaps "west" by 5 m: the earlier zone wins there.
        ("middle", 0.6, vec![rect(-25.0, -70.0, 40.0, 70.0)]),
        // A 1.5 m sliver.
        ("sliver", 2.0, vec![rect(40.0, -50.0, 41.5, 50.0)]),
        // A triangle in the east; the rest of the east is a gap.
        (
            "east",
            0.9,
            vec![vec![
                (45.0, -50.0),
                (100.0, -50.0),
                (100.0, 40.0),
                (45.0, -50.0),
            ]],
        ),
    ]
}

fn frame0() -> LocalFrame {
    LocalFrame::new(139.9, 36.9)
}

fn deg(c: (f64, f64)) -> String {
    let g = frame0().to_wgs84(Coord { x: c.0, y: c.1 });
    format!("[{:.10},{:.10}]", g.x, g.y)
}

fn ring_json(r: &[(f64, f64)]) -> String {
    format!(
        "[{}]",
        r.iter().map(|&c| deg(c)).collect::<Vec<_>>().join(",")
    )
}

fn field_geojson() -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"id":"paddy"}},"geometry":{{"type":"Polygon","coordinates":[{}]}}}}"#,
        ring_json(&rect(-100.0, -50.0, 100.0, 50.0))
    )
}

fn rx_geojson(scale: f64) -> String {
    let feats: Vec<String> = zones()
        .iter()
        .map(|(name, rate, rings)| {
            let rings: Vec<String> = rings.iter().map(|r| ring_json(r)).collect();
            format!(
                r#"{{"type":"Feature","properties":{{"name":"{name}","dose":"{}"}},"geometry":{{"type":"Polygon","coordinates":[{}]}}}}"#,
                rate * scale,
                rings.join(",")
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        feats.join(",")
    )
}

fn geos_local(rings: &[Ring], frame: &LocalFrame) -> Geometry {
    // The zone as the file has it (degrees), in the plan's frame.
    let body: Vec<String> = rings
        .iter()
        .map(|r| {
            let pts: Vec<String> = r
                .iter()
                .map(|&(x, y)| {
                    let l = frame.to_local(frame0().to_wgs84(Coord { x, y }));
                    format!("{} {}", l.x, l.y)
                })
                .collect();
            format!("({})", pts.join(", "))
        })
        .collect();
    Geometry::new_from_wkt(&format!("POLYGON ({})", body.join(", "))).unwrap()
}

fn geos_of(p: &Polygon) -> Geometry {
    let ring = |r: &geo_types::LineString| {
        format!(
            "({})",
            r.0.iter()
                .map(|c| format!("{} {}", c.x, c.y))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let body: Vec<String> = std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(ring)
        .collect();
    Geometry::new_from_wkt(&format!("POLYGON ({})", body.join(", "))).unwrap()
}

fn planned(unit: RateUnit, scale: f64, gap: GapPolicy, tank: f64) -> (Plan, PlanConfig) {
    let fields = read_fields(field_geojson().as_bytes()).unwrap();
    let field = fields.fields[0].as_ref().unwrap();
    let map = read_prescription(
        rx_geojson(scale).as_bytes(),
        &ReadOptions::new(Some("dose"), unit),
    )
    .unwrap();
    let mut cfg = PlanConfig::new(SwathWidth::new(W).unwrap());
    cfg.prescription = Some(VariableRate { map, gap });
    cfg.tank = mission_planner::Litres::new(tank).unwrap();
    cfg.pump_full_flow_l_min = Some(FULL_FLOW);
    (plan(field, &cfg).unwrap(), cfg)
}

/// GEOS: each zone's part of the sprayable area (field ∩ zone − earlier zones ∩ sprayable), m²,
/// and the gap's last.
fn geos_zone_areas(p: &Plan) -> Vec<f64> {
    let sprayable =
        Geometry::create_multipolygon(p.sprayable.0.iter().map(geos_of).collect()).unwrap();
    let mut left = geos_of(&p.field);
    let mut out = Vec::new();
    for (_, _, rings) in zones() {
        let part = left.intersection(&geos_local(&rings, &p.frame)).unwrap();
        out.push(part.intersection(&sprayable).unwrap().area().unwrap());
        left = left.difference(&part).unwrap();
    }
    out.push(left.intersection(&sprayable).unwrap().area().unwrap());
    out
}

#[test]
fn litres_per_zone_match_an_independent_area_computation() {
    for (unit, scale) in [
        (RateUnit::LitresPer10a, 1.0),
        (RateUnit::LitresPerHa, 10.0),
        (RateUnit::KgPer10a, 1.0),
    ] {
        let (p, _) = planned(unit, scale, GapPolicy::Default(0.4 * scale), 10.0);
        assert_eq!(p.report.outside_m, 0.0);
        assert_eq!(p.report.rate_unit.as_deref(), Some(unit.label()));
        let names: Vec<&str> = p.report.zones.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(names, ["west", "middle", "sliver", "east", "gap"]);
        let expect = geos_zone_areas(&p);
        let mut total = 0.0;
        for (z, m2) in p.report.zones.iter().zip(&expect) {
            let per_ha = z.rate * unit.per_ha();
            // 1 cm² of difference at most: both compute the same clipped polygons.
            assert!(
                (z.sprayable_ha * 10_000.0 - m2).abs() < 1e-2,
                "{}: {} vs {m2}",
                z.name,
                z.sprayable_ha * 1e4
            );
            assert!(
                (z.litres - per_ha * m2 / 10_000.0).abs() < 1e-5,
                "{}",
                z.name
            );
            total += z.litres;
        }
        assert!((p.report.litres - total).abs() < 1e-9);
        // The zones and the gap hold the whole sprayable area.
        let sum_ha: f64 = p.report.zones.iter().map(|z| z.sprayable_ha).sum();
        assert!(
            (sum_ha - p.report.sprayable_ha).abs() < 1e-6,
            "{sum_ha} vs {}",
            p.report.sprayable_ha
        );
        assert!(p.report.zone_table().contains("sliver"));
    }
}

#[test]
fn sortie_litres_follow_the_segment_rates_and_fit_the_tank() {
    let (p, cfg) = planned(RateUnit::LitresPer10a, 1.0, GapPolicy::NoSpray, 4.0);
    let mut pumped = 0.0;
    for s in &p.sorties {
        let mut l = 0.0;
        for (a, b, k, rate) in s.track.rated_segments() {
            if k == SegmentKind::Spray {
                l += rate / 10_000.0 * W * (a.x - b.x).hypot(a.y - b.y);
            } else {
                assert_eq!(rate, 0.0);
            }
        }
        assert!(
            (s.litres - l).abs() < 1e-6,
            "sortie {}: {} vs {l}",
            s.index,
            s.litres
        );
        assert!(s.litres <= cfg.tank.get() + 1e-9);
        pumped += l;
    }
    assert!((p.report.litres_pumped - pumped).abs() < 1e-6);
    let per_zone: f64 = p.report.zones.iter().map(|z| z.litres_pumped).sum();
    assert!((per_zone - pumped).abs() < 1e-6, "{per_zone} vs {pumped}");
    // Nothing is pumped over the no-spray gap, and the higher rates empty tanks sooner than a
    // uniform plan at the lowest rate.
    assert_eq!(p.report.zones.last().unwrap().litres_pumped, 0.0);
    let uniform = {
        let fields = read_fields(field_geojson().as_bytes()).unwrap();
        let mut c = PlanConfig::new(SwathWidth::new(W).unwrap());
        c.rate = mission_planner::ApplicationRate::from_l_per_10a(0.6).unwrap();
        c.tank = cfg.tank;
        plan(fields.fields[0].as_ref().unwrap(), &c).unwrap()
    };
    assert!(p.report.litres_pumped > uniform.report.litres_pumped);
    assert!(p.sorties.len() > uniform.sorties.len());
}

#[test]
fn the_rate_changes_lead_each_border_by_the_lag_distance() {
    let (p, cfg) = planned(
        RateUnit::LitresPer10a,
        1.0,
        GapPolicy::Default(0.4),
        1_000.0,
    );
    let lead = cfg.spray_speed.get() * cfg.rate_lag.get();
    let rates = p.prescription.as_ref().unwrap();
    let mut checked = 0;
    for s in &p.sorties {
        let segs: Vec<_> = s.track.rated_segments().collect();
        for w in segs.windows(2) {
            let ((a, b, k0, r0), (_, c, k1, r1)) = (w[0], w[1]);
            // A change of rate in the middle of a straight spray leg.
            if k0 != SegmentKind::Spray || k1 != SegmentKind::Spray || r0 == r1 {
                continue;
            }
            let (dx, dy) = (c.x - b.x, c.y - b.y);
            let l = dx.hypot(dy);
            let cross = (b.x - a.x) * dy - (b.y - a.y) * dx;
            if cross.abs() > 1e-6 * l * (b.x - a.x).hypot(b.y - a.y) {
                continue;
            }
            let (ux, uy) = (dx / l, dy / l);
            // The border lies `lead` metres ahead of the change: the target rate switches from
            // the old to the new one there (± 1 mm).
            let at = |d: f64| {
                rates.rate_at(Coord {
                    x: b.x + ux * d,
                    y: b.y + uy * d,
                })
            };
            if (a.x - b.x).hypot(a.y - b.y) + 1e-6 < lead {
                continue; // a change within `lead` of the leg start is commanded at the start
            }
            assert_eq!(at(lead - 0.001), r0, "before the border at {b:?}");
            assert_eq!(at(lead + 0.001), r1, "after the border at {b:?}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} borders crossed");
}

/// The pump commands of a `.plan` in item order, as (command, param1, param2).
fn pump_items(doc: &serde_json::Value) -> Vec<(u64, f64, f64)> {
    doc["mission"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|it| [183, 187, 216].contains(&it["command"].as_u64().unwrap()))
        .map(|it| {
            let p = it["params"].as_array().unwrap();
            (
                it["command"].as_u64().unwrap(),
                p[0].as_f64().unwrap_or(f64::NAN),
                p[1].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

#[test]
fn missions_command_each_rate_change_per_autopilot() {
    let (p, cfg) = planned(RateUnit::LitresPer10a, 1.0, GapPolicy::NoSpray, 1_000.0);
    let v = cfg.spray_speed.get();
    // The expected pump levels: each change of commanded rate along the sorties, off at 0.
    let mut expect: Vec<f64> = Vec::new();
    for s in &p.sorties {
        let mut cur = 0.0;
        for (_, _, k, rate) in s.track.rated_segments() {
            let r = if k == SegmentKind::Spray { rate } else { 0.0 };
            if r != cur {
                expect.push(r / 10_000.0 * W * v * 60.0 / FULL_FLOW);
                cur = r;
            }
        }
        if cur != 0.0 {
            expect.push(0.0);
        }
    }
    assert!(expect.iter().filter(|&&f| f > 0.0).count() > 20);
    let px4: serde_json::Value =
        serde_json::from_str(&to_qgc_plan(&p, Autopilot::Px4Actuator, None)).unwrap();
    let got: Vec<f64> = pump_items(&px4)
        .iter()
        .map(|&(c, p1, _)| {
            assert_eq!(c, 187);
            p1
        })
        .collect();
    assert_eq!(got.len(), expect.len());
    for (g, e) in got.iter().zip(&expect) {
        let want = if *e == 0.0 {
            -1.0
        } else {
            (e * 1e4).round() / 1e4
        };
        assert!((g - want).abs() < 1e-9, "{g} vs {want}");
    }
    let servo = Autopilot::ArduPilotServo {
        servo: 9,
        pwm_on: 1900,
        pwm_off: 1000,
    };
    let ap: serde_json::Value = serde_json::from_str(&to_qgc_plan(&p, servo, None)).unwrap();
    assert_eq!(ap["mission"]["firmwareType"], 3);
    let got = pump_items(&ap);
    assert_eq!(got.len(), expect.len());
    for (&(c, ch, pwm), e) in got.iter().zip(&expect) {
        assert_eq!((c, ch), (183, 9.0));
        let want = if *e == 0.0 {
            1000.0
        } else {
            (1500.0 + e * 400.0).round()
        };
        assert_eq!(pwm, want);
        assert!(*e == 0.0 || pwm >= 1500.0);
    }
    // The waypoint file carries the same items.
    let wpl = to_waypoints(&p, servo, None);
    assert_eq!(
        wpl.lines()
            .filter(|l| l.split('\t').nth(3) == Some("183"))
            .count(),
        expect.len()
    );
}

#[test]
fn a_rate_above_the_pump_is_refused_and_a_prescription_needs_the_pump_flow() {
    let fields = read_fields(field_geojson().as_bytes()).unwrap();
    let field = fields.fields[0].as_ref().unwrap();
    let map = read_prescription(
        rx_geojson(1.0).as_bytes(),
        &ReadOptions::new(Some("dose"), RateUnit::LitresPer10a),
    )
    .unwrap();
    let mut cfg = PlanConfig::new(SwathWidth::new(W).unwrap());
    cfg.prescription = Some(VariableRate {
        map,
        gap: GapPolicy::NoSpray,
    });
    let err = plan(field, &cfg).unwrap_err().to_string();
    assert!(err.contains("pump full flow"), "{err}");
    cfg.pump_full_flow_l_min = Some(2.0);
    let err = plan(field, &cfg).unwrap_err().to_string();
    // 2 L/10a = 20 L/ha needs 3 L/min; 2 L/min lays at most 13.33 L/ha.
    assert!(err.contains("13.33"), "{err}");
}
