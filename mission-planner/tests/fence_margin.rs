//! Every leg of every sortie inside the field minus the fence margin, measured on the emitted
//! mission file by GEOS (an independent polygon library: the C++ library behind Shapely and
//! PostGIS, not geo, which the planner uses itself), and by the planner's own report; and the
//! fence budget fit of `fit_fence`, checked by GEOS as well.
//!
//! Fields: every field of `../shared/fields` (skipped with a message when it is absent, a
//! failure with `AGRIOPS_REQUIRE_SHARED=1`), random concave star polygons, and L and U shapes
//! with holes and exclusion zones, each for 1–10 sorties (the tank sized to force the count).

use geos::{Geom, Geometry};
use mission_planner::{
    Autopilot, Coord, Field, LocalFrame, Plan, PlanConfig, Polygon, Role, SwathWidth, fit_fence,
    plan, to_qgc_plan,
};
use proptest::prelude::*;
use serde_json::Value;

const FRAME: (f64, f64) = (139.98, 36.96);

/// GEOS's quadrant segments for the margin buffers: 1 mm chord error at a 2 m radius.
const QUADSEGS: i32 = 32;

fn wkt_ring(pts: &[Coord]) -> String {
    let mut v: Vec<String> = pts.iter().map(|c| format!("{} {}", c.x, c.y)).collect();
    if pts.first() != pts.last() {
        v.push(format!("{} {}", pts[0].x, pts[0].y));
    }
    format!("({})", v.join(", "))
}

fn geos_polygon(rings: &[Vec<Coord>]) -> Geometry {
    let body: Vec<String> = rings.iter().map(|r| wkt_ring(r)).collect();
    Geometry::new_from_wkt(&format!("POLYGON ({})", body.join(", "))).expect("valid WKT")
}

fn geos_of(p: &Polygon) -> Geometry {
    let mut rings = vec![p.exterior().0.clone()];
    rings.extend(p.interiors().iter().map(|r| r.0.clone()));
    geos_polygon(&rings)
}

/// The mission file as the vehicle gets it: each sortie's positioned items (from NAV_TAKEOFF
/// to NAV_LAND) in local metres, and the fence polygons (inclusion flag, ring).
struct MissionFile {
    sorties: Vec<Vec<Coord>>,
    fence: Vec<(bool, Vec<Coord>)>,
}

fn read_mission(p: &Plan) -> MissionFile {
    let doc: Value = serde_json::from_str(&to_qgc_plan(p, Autopilot::ArduPilot, None)).unwrap();
    let local = |lat: f64, lon: f64| p.frame.to_local(Coord { x: lon, y: lat });
    let mut sorties: Vec<Vec<Coord>> = Vec::new();
    for it in doc["mission"]["items"].as_array().unwrap() {
        if it["frame"] != 3 {
            continue;
        }
        let params = it["params"].as_array().unwrap();
        let (lat, lon) = (params[4].as_f64().unwrap(), params[5].as_f64().unwrap());
        if it["command"] == 22 {
            sorties.push(Vec::new());
        }
        sorties.last_mut().unwrap().push(local(lat, lon));
    }
    let fence = doc["geoFence"]["polygons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let ring = f["polygon"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| local(v[0].as_f64().unwrap(), v[1].as_f64().unwrap()))
                .collect();
            (f["inclusion"].as_bool().unwrap(), ring)
        })
        .collect();
    MissionFile { sorties, fence }
}

fn geos_lines(paths: &[Vec<Coord>]) -> Geometry {
    let body: Vec<String> = paths
        .iter()
        .filter(|p| p.len() >= 2)
        .map(|p| {
            let v: Vec<String> = p.iter().map(|c| format!("{} {}", c.x, c.y)).collect();
            format!("({})", v.join(", "))
        })
        .collect();
    Geometry::new_from_wkt(&format!("MULTILINESTRING ({})", body.join(", "))).unwrap()
}

/// The region of the fence (inclusion minus exclusions) inset by the margin, by GEOS.
fn fence_minus_margin(fence: &[(bool, Vec<Coord>)], margin: f64) -> Geometry {
    let mut region: Option<Geometry> = None;
    for (inc, ring) in fence.iter().filter(|f| f.0) {
        assert!(*inc);
        let g = geos_polygon(std::slice::from_ref(ring));
        region = Some(match region {
            None => g,
            Some(r) => r.intersection(&g).unwrap(),
        });
    }
    let mut region = region.expect("an inclusion polygon");
    for (_, ring) in fence.iter().filter(|f| !f.0) {
        region = region
            .difference(&geos_polygon(std::slice::from_ref(ring)))
            .unwrap();
    }
    region.buffer(-margin, QUADSEGS).unwrap()
}

/// The field (its holes and the exclusion zones cut out) inset by the margin, by GEOS.
fn field_minus_margin(p: &Plan, margin: f64) -> Geometry {
    let mut region = geos_of(&p.field);
    for z in &p.exclusions {
        region = region.difference(&geos_of(z)).unwrap();
    }
    region.buffer(-margin, QUADSEGS).unwrap()
}

/// Checks one plan: the planner's exact figure and GEOS agree that nothing of the emitted
/// path lies outside the fence minus its margin, and the fence is the field's own (or the field
/// with a corridor no wider than promised to an outside refill point).
fn check(p: &Plan, cfg: &PlanConfig) -> Result<(), TestCaseError> {
    let margin = cfg.fence_margin.get();
    // A fence fitted into the point budget may come up to `max_shift_m` closer.
    let shift = p.fence_fit.as_ref().map_or(0.0, |f| f.max_shift_m);
    prop_assert!(shift <= margin);
    let m = read_mission(p);
    prop_assert_eq!(m.sorties.len(), p.sorties.len());
    let path = geos_lines(&m.sorties);
    let total = path.length().unwrap();
    let by_fence = path
        .difference(&fence_minus_margin(&m.fence, margin - shift))
        .unwrap()
        .length()
        .unwrap();
    prop_assert!(
        by_fence < 1e-6,
        "{}: GEOS: {by_fence} m of {total} m outside the fence minus {margin} m",
        p.field_id
    );
    prop_assert!(
        p.report.outside_m == 0.0,
        "{}: planner: outside_m = {}",
        p.field_id,
        p.report.outside_m
    );
    let inclusion = geos_polygon(std::slice::from_ref(&m.fence[0].1));
    let outline = geos_polygon(&[p.field.exterior().0.clone()]);
    if p.report.ferry_m == 0.0 {
        // The refill point is inside: the fence is the field, and every leg lies inside the
        // field minus the margin.
        let by_field = path
            .difference(&field_minus_margin(p, margin))
            .unwrap()
            .length()
            .unwrap();
        prop_assert!(by_field < 1e-6, "{}: {by_field} m", p.field_id);
        let outline = geos_polygon(std::slice::from_ref(&p.field.exterior().0));
        // The mission file rounds degrees to 1e-8 (about a millimetre). A fitted fence may cut
        // corners inward (never into the allowed region: the path check above) and reach at
        // most `shift` beyond the field.
        if p.fence_fit.is_none() {
            let apart = inclusion.hausdorff_distance(&outline).unwrap();
            prop_assert!(
                apart < 0.005,
                "{}: the inclusion fence is {apart} m off the field",
                p.field_id
            );
        } else {
            let beyond = inclusion
                .difference(&outline.buffer(0.005 + shift, QUADSEGS).unwrap())
                .unwrap()
                .area()
                .unwrap();
            prop_assert!(beyond < 1e-9, "{}: {beyond} m² beyond", p.field_id);
        }
        prop_assert!(p.report.outside_field_m == 0.0);
    } else {
        // The inclusion is the field plus a corridor around the hop to the refill point.
        let refill = p.refill;
        let hop = Geometry::new_from_wkt(&format!(
            "LINESTRING ({} {}, {} {})",
            refill.x, refill.y, p.sorties[0].track.points[1].x, p.sorties[0].track.points[1].y
        ))
        .unwrap();
        // The corridor: half widths of CORRIDOR_HALF_WIDTH_M + margin beside the hop, as far
        // behind the refill point, and the margin and a metre into the field.
        let hw = mission_planner::CORRIDOR_HALF_WIDTH_M + margin;
        let reach = (hw * std::f64::consts::SQRT_2).max((margin + 1.0).hypot(hw)) + 0.01;
        let bound = outline
            .union(&hop.buffer(reach, QUADSEGS).unwrap())
            .unwrap();
        let extra = inclusion
            .difference(&bound.buffer(0.005 + shift, QUADSEGS).unwrap())
            .unwrap()
            .area()
            .unwrap();
        prop_assert!(
            extra < 1e-9,
            "{}: the corridor reaches {extra} m² too far",
            p.field_id
        );
    }
    Ok(())
}

fn field_from_local(rings: &[Vec<(f64, f64)>], zones: &[Vec<(f64, f64)>]) -> Field {
    let frame = LocalFrame::new(FRAME.0, FRAME.1);
    let to = |r: &Vec<(f64, f64)>| -> mission_planner::Polygon {
        let ring: Vec<(f64, f64)> = r
            .iter()
            .map(|&(x, y)| {
                let c = frame.to_wgs84(Coord { x, y });
                (c.x, c.y)
            })
            .collect();
        Polygon::new(ring.into(), vec![])
    };
    let ext = to(&rings[0]).exterior().clone();
    let holes = rings[1..]
        .iter()
        .map(|r| to(r).exterior().clone())
        .collect();
    let mut f = Field::new("random", &Polygon::new(ext, holes)).expect("valid polygon");
    for z in zones {
        f.add_zone(Role::Exclusion, &to(z)).unwrap();
    }
    f
}

/// A configuration whose tank forces about `sorties` sorties on a field of `area_m2`.
fn config_for(w: f64, area_m2: f64, sorties: u32) -> PlanConfig {
    let mut cfg = PlanConfig::new(SwathWidth::new(w).unwrap());
    let litres = cfg.rate.l_per_m2() * area_m2 * 0.9;
    cfg.tank = mission_planner::Litres::new((litres / f64::from(sorties)).max(0.1)).unwrap();
    cfg.endurance = mission_planner::Seconds::new(36_000.0).unwrap();
    cfg
}

fn star(radii: &[f64], jitter: &[f64]) -> Vec<(f64, f64)> {
    let n = radii.len();
    (0..n)
        .map(|i| {
            let a = (i as f64 + 0.4 * jitter[i]) / n as f64 * std::f64::consts::TAU;
            (radii[i] * a.cos(), radii[i] * a.sin())
        })
        .collect()
}

fn area(r: &[(f64, f64)]) -> f64 {
    let n = r.len();
    (0..n)
        .map(|i| r[i].0 * r[(i + 1) % n].1 - r[(i + 1) % n].0 * r[i].1)
        .sum::<f64>()
        .abs()
        / 2.0
}

fn shared_fields() -> Option<Vec<Field>> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fields/fields.geojson");
    match std::fs::read(&path) {
        Ok(bytes) => Some(
            mission_planner::read_fields(&bytes)
                .expect("fields.geojson parses")
                .fields
                .into_iter()
                .map(|f| f.expect("every shared field is valid"))
                .collect(),
        ),
        Err(_) if std::env::var("AGRIOPS_REQUIRE_SHARED").as_deref() == Ok("1") => {
            panic!("{} is absent but AGRIOPS_REQUIRE_SHARED=1", path.display())
        }
        Err(_) => {
            eprintln!("SKIP fence_margin: {} is absent", path.display());
            None
        }
    }
}

#[test]
fn every_shared_field_every_leg_inside_the_fence_margin() {
    let Some(fields) = shared_fields() else {
        return;
    };
    let mut counts = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let frame = LocalFrame::centred_on(&f.boundary);
        let area = geo::Area::unsigned_area(&frame.polygon_to_local(&f.boundary));
        // 1–10 sorties, and the very large fields at their own count (debug builds are slow).
        let want = if area > 60_000.0 {
            10
        } else {
            (i % 10) as u32 + 1
        };
        let cfg = config_for(5.0, area, want);
        let p = plan(f, &cfg).unwrap_or_else(|e| panic!("{}: {e}", f.id));
        check(&p, &cfg).unwrap_or_else(|e| panic!("{e}"));
        counts.push(p.sorties.len());
    }
    counts.sort_unstable();
    assert!(counts[0] <= 2 && *counts.last().unwrap() >= 8, "{counts:?}");
}

#[test]
fn the_shared_fields_fence_fits_70_points() {
    let Some(fields) = shared_fields() else {
        return;
    };
    let mut fitted = 0;
    for f in &fields {
        let cfg = PlanConfig::new(SwathWidth::new(5.0).unwrap());
        let p = plan(f, &cfg).unwrap();
        let fit = fit_fence(&p, 70).unwrap_or_else(|e| panic!("{}: {e}", f.id));
        assert!(fit.points_after <= 70, "{}: {fit:?}", f.id);
        assert_eq!(fit.points_before, p.report.fence_points_full);
        assert_eq!(p.report.fence_points, fit.points_after);
        if !fit.changed() {
            assert_eq!(fit.fence, p.fence);
            assert!(p.fence_fit.is_none());
            continue;
        }
        // `plan` fitted its default budget of 70 the same way.
        assert_eq!(p.fence_fit.as_ref(), Some(&fit));
        assert_eq!(p.fence, fit.fence);
        fitted += 1;
        assert!(fit.max_shift_m <= cfg.fence_margin.get() + 1e-9);
        println!(
            "{}: fence {} → {} points, shift ≤ {} m, exclusions dropped {:?}",
            f.id, fit.points_before, fit.points_after, fit.max_shift_m, fit.dropped_exclusions
        );
        check_fit(&p, &fit, cfg.fence_margin.get());
    }
    assert!(fitted >= 1, "no shared field needed a fit");
}

/// GEOS on a fitted fence: the allowed region lies inside the simplified inclusion and outside
/// every kept exclusion; the inclusion reaches at most the margin beyond the real boundary;
/// every kept exclusion covers its zone.
fn check_fit(p: &Plan, fit: &mission_planner::FenceFit, margin: f64) {
    let allowed = {
        let mut rings: Vec<Geometry> = Vec::new();
        for poly in &p.allowed.0 {
            rings.push(geos_of(poly));
        }
        Geometry::create_multipolygon(rings).unwrap()
    };
    let inc = geos_polygon(std::slice::from_ref(&fit.fence.inclusion.0));
    let out = allowed.difference(&inc).unwrap().area().unwrap();
    assert!(
        out < 1e-6,
        "{}: {out} m² of the allowed region outside the fitted inclusion",
        p.field_id
    );
    let real = geos_polygon(std::slice::from_ref(&fit.original.inclusion.0));
    let beyond = inc
        .difference(&real.buffer(margin + 1e-6, QUADSEGS).unwrap())
        .unwrap()
        .area()
        .unwrap();
    assert!(
        beyond < 1e-6,
        "{}: the fitted inclusion reaches {beyond} m² past the margin",
        p.field_id
    );
    let kept: Vec<usize> = (0..fit.original.exclusions.len())
        .filter(|i| !fit.dropped_exclusions.contains(i))
        .collect();
    assert_eq!(kept.len(), fit.fence.exclusions.len());
    for (k, &i) in kept.iter().enumerate() {
        let zone = geos_polygon(std::slice::from_ref(&fit.original.exclusions[i].0));
        let simplified = geos_polygon(&[fit.fence.exclusions[k].0.clone()]);
        let uncovered = zone.difference(&simplified).unwrap().area().unwrap();
        assert!(
            uncovered < 1e-6,
            "{}: exclusion {i} shrank by {uncovered} m²",
            p.field_id
        );
        let into = allowed.intersection(&simplified).unwrap().area().unwrap();
        assert!(
            into < 1e-6,
            "{}: exclusion {i} cuts {into} m² of the allowed region",
            p.field_id
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn concave_stars(radii in prop::collection::vec(30.0f64..90.0, 5..14), jitter in prop::collection::vec(-0.5f64..0.5, 14), w in 3.0f64..7.0, sorties in 1u32..=10) {
        let ring = star(&radii, &jitter[..radii.len()]);
        let f = field_from_local(std::slice::from_ref(&ring), &[]);
        let cfg = config_for(w, area(&ring), sorties);
        match plan(&f, &cfg) {
            Ok(p) => check(&p, &cfg)?,
            Err(e) => prop_assert!(matches!(e, mission_planner::PlanError::NothingToSpray { .. }), "{e}"),
        }
    }

    #[test]
    fn l_and_u_shapes_with_holes_and_zones(
        a in 60.0f64..130.0, b in 50.0f64..100.0, notch in 0.3f64..0.6, u in any::<bool>(),
        hs in 3.0f64..8.0, w in 3.0f64..7.0, sorties in 1u32..=10,
    ) {
        // An L (a corner cut out) or a U (a slot cut into the top), a square hole in the solid
        // bottom strip, and a 2 m pole in the left arm.
        let (nx, ny) = (a * notch, b * notch);
        let outer = if u {
            vec![(0.0, 0.0), (a, 0.0), (a, b), (a / 2.0 + nx / 2.0, b), (a / 2.0 + nx / 2.0, b - ny), (a / 2.0 - nx / 2.0, b - ny), (a / 2.0 - nx / 2.0, b), (0.0, b)]
        } else {
            vec![(0.0, 0.0), (a, 0.0), (a, b - ny), (a - nx, b - ny), (a - nx, b), (0.0, b)]
        };
        let (cx, cy) = (a * 0.6, (b - ny) * 0.45);
        let hole = vec![(cx - hs, cy - hs), (cx - hs, cy + hs), (cx + hs, cy + hs), (cx + hs, cy - hs)];
        let (px, py) = (a * 0.15, b * 0.8);
        let pole = vec![(px - 1.0, py - 1.0), (px + 1.0, py - 1.0), (px + 1.0, py + 1.0), (px - 1.0, py + 1.0)];
        let f = field_from_local(&[outer.clone(), hole], &[pole]);
        let cfg = config_for(w, area(&outer), sorties);
        let p = plan(&f, &cfg).unwrap();
        check(&p, &cfg)?;
    }

    #[test]
    fn refill_outside_the_field_flies_the_corridor(radii in prop::collection::vec(35.0f64..70.0, 5..10), jitter in prop::collection::vec(-0.5f64..0.5, 10), dist in 3.0f64..40.0, bearing in 0.0f64..std::f64::consts::TAU, sorties in 1u32..=4) {
        let ring = star(&radii, &jitter[..radii.len()]);
        let f = field_from_local(std::slice::from_ref(&ring), &[]);
        let mut cfg = config_for(5.0, area(&ring), sorties);
        let r = radii.iter().copied().fold(0.0, f64::max) + dist;
        let frame = LocalFrame::new(FRAME.0, FRAME.1);
        cfg.refill = Some(frame.to_wgs84(Coord { x: r * bearing.cos(), y: r * bearing.sin() }));
        match plan(&f, &cfg) {
            Ok(p) => {
                prop_assert!(p.report.ferry_m > 0.0);
                check(&p, &cfg)?;
            }
            Err(e) => prop_assert!(matches!(e, mission_planner::PlanError::NothingToSpray { .. }), "{e}"),
        }
    }
}

/// The planner's own measure agrees with GEOS where the answer is not 0: the emitted path
/// against regions it does leave (the allowed region inset by a few metres, the sprayable
/// area), on the shared fields below 5 ha.
#[test]
fn the_planners_measure_agrees_with_geos_on_paths_that_leave() {
    let Some(fields) = shared_fields() else {
        return;
    };
    let mut compared = 0;
    for f in &fields {
        let frame = LocalFrame::centred_on(&f.boundary);
        if geo::Area::unsigned_area(&frame.polygon_to_local(&f.boundary)) > 50_000.0 {
            continue;
        }
        let cfg = config_for(4.0, 20_000.0, 3);
        let p = plan(f, &cfg).unwrap();
        // Segment by segment: GEOS nodes a multi-line first, so legs flown twice (out and back
        // on the same transit) would count once.
        let segments: Vec<Geometry> = read_mission(&p)
            .sorties
            .iter()
            .flat_map(|s| {
                s.windows(2)
                    .map(|w| geos_lines(&[w.to_vec()]))
                    .collect::<Vec<_>>()
            })
            .collect();
        let shrunk = geo::Buffer::buffer(&p.allowed, -3.0);
        for region in [shrunk, p.sprayable.clone()] {
            if region.0.is_empty() {
                continue;
            }
            let ours = p.length_outside(&region);
            let geos_region =
                Geometry::create_multipolygon(region.0.iter().map(geos_of).collect()).unwrap();
            let theirs: f64 = segments
                .iter()
                .map(|g| g.difference(&geos_region).unwrap().length().unwrap())
                .sum();
            assert!(
                (ours - theirs).abs() <= 1e-6 * (1.0 + theirs),
                "{}: planner {ours} m, GEOS {theirs} m",
                p.field_id
            );
            compared += usize::from(ours > 1.0);
        }
    }
    assert!(compared >= 20, "only {compared} paths left a region");
}

#[test]
fn a_dense_round_field_with_poles_fits_small_budgets_or_is_refused() {
    // A round paddy drawn with 360 vertices and six 2 m poles (4 points each): 384 points.
    let ring: Vec<(f64, f64)> = (0..360)
        .map(|i| {
            let a = f64::from(i).to_radians();
            (60.0 * a.cos(), 60.0 * a.sin())
        })
        .collect();
    let poles: Vec<Vec<(f64, f64)>> = (0..6)
        .map(|k| {
            let a = f64::from(k) * 1.0;
            let (x, y) = (30.0 * a.cos(), 30.0 * a.sin());
            vec![
                (x - 1.0, y - 1.0),
                (x + 1.0, y - 1.0),
                (x + 1.0, y + 1.0),
                (x - 1.0, y + 1.0),
            ]
        })
        .collect();
    let f = field_from_local(&[ring], &poles);
    let cfg = PlanConfig::new(SwathWidth::new(5.0).unwrap());
    let p = plan(&f, &cfg).unwrap();
    assert_eq!(p.report.fence_points_full, 384);
    assert!(p.report.fence_points <= 70 && p.fence_fit.is_some());
    // 70 points: the ring is simplified inside the band, the poles stay (they are minimal).
    let fit = fit_fence(&p, 70).unwrap();
    assert!(
        fit.points_after <= 70 && fit.dropped_exclusions.is_empty(),
        "{fit:?}"
    );
    assert!(fit.max_shift_m > 0.0 && fit.max_shift_m <= 2.0);
    check_fit(&p, &fit, 2.0);
    // 30 points: the ring alone needs about 20, so poles are left out of the fence (the mission
    // still keeps its distance from them).
    let fit = fit_fence(&p, 30).unwrap();
    assert!(
        fit.points_after <= 30 && !fit.dropped_exclusions.is_empty(),
        "{fit:?}"
    );
    check_fit(&p, &fit, 2.0);
    // 8 points cannot hold a 60 m circle within 2 m: refused, in Japanese first.
    let e = fit_fence(&p, 8).unwrap_err();
    assert!(
        matches!(
            e,
            mission_planner::PlanError::FenceTooLarge { budget: 8, .. }
        ),
        "{e}"
    );
    assert!(e.to_string().starts_with("圃場"), "{e}");
    // A fence that fits is returned unchanged.
    let fit = fit_fence(&p, 400).unwrap();
    assert!(!fit.changed() && fit.fence == fit.original && fit.points_after == 384);
}

/// Parts cut off by necks narrower than twice the margin come with a refill point each, and
/// planning from it sprays that part, again with every leg inside the fence minus the margin.
#[test]
fn cut_off_parts_plan_from_their_own_refill_point() {
    let Some(fields) = shared_fields() else {
        return;
    };
    let mut parts = 0;
    for f in &fields {
        let cfg = PlanConfig::new(SwathWidth::new(5.0).unwrap());
        let p = plan(f, &cfg).unwrap();
        if p.report.cut_off_ha == 0.0 {
            assert!(p.report.cut_off_refills.is_empty());
            continue;
        }
        let mut sprayed = 0.0;
        for &[lat, lon] in &p.report.cut_off_refills {
            let mut c = cfg.clone();
            c.refill = Some(Coord { x: lon, y: lat });
            let q = plan(f, &c).unwrap_or_else(|e| panic!("{}: {e}", f.id));
            check(&q, &c).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                q.report.ferry_m, 0.0,
                "{}: the refill point is inside",
                f.id
            );
            sprayed += q.report.sprayable_ha;
            parts += 1;
        }
        println!(
            "{}: {:.3} ha cut off, {} parts planned on their own spray {:.3} ha",
            f.id,
            p.report.cut_off_ha,
            p.report.cut_off_refills.len(),
            sprayed
        );
    }
    assert!(parts >= 3, "{parts}");
}
