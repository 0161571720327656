//! Property tests on random polygons (convex, concave, with holes) and on the real fields:
//! spray legs inside the sprayable area, the whole path inside the field, coverage ≥ 99 %,
//! litres = rate × area. Containment is checked with geo's `BooleanOps::clip`, independently
//! of the planner's own segment tests.

use geo::{
    Area, BooleanOps, Contains, Coord, Distance, Euclidean, Length, LineString, MultiLineString,
    MultiPolygon, Point, Polygon,
};
use mission_planner::{Field, LocalFrame, Plan, PlanConfig, SegmentKind, SwathWidth, plan};
use proptest::prelude::*;

const FRAME: (f64, f64) = (139.98, 36.96);

fn field_from_local(rings: Vec<Vec<(f64, f64)>>) -> Field {
    let frame = LocalFrame::new(FRAME.0, FRAME.1);
    let to = |r: &Vec<(f64, f64)>| -> LineString {
        r.iter()
            .map(|&(x, y)| frame.to_wgs84(Coord { x, y }))
            .collect::<Vec<_>>()
            .into()
    };
    let ext = to(&rings[0]);
    let holes = rings[1..].iter().map(to).collect();
    Field::new("random", &Polygon::new(ext, holes)).expect("generated polygons are valid")
}

/// Length of `lines` outside `region`, by geo's clip.
fn outside(region: &MultiPolygon, lines: &MultiLineString) -> f64 {
    Euclidean.length(&region.clip(lines, true))
}

fn segments(p: &Plan, pred: impl Fn(SegmentKind) -> bool) -> MultiLineString {
    MultiLineString(
        p.sorties
            .iter()
            .flat_map(|s| s.track.segments())
            .filter(|s| pred(s.2))
            .map(|(a, b, _)| LineString(vec![a, b]))
            .collect(),
    )
}

fn check_invariants(p: &Plan, cfg: &PlanConfig, min_coverage: f64) -> Result<(), TestCaseError> {
    let r = &p.report;
    let field = MultiPolygon(vec![p.field.clone()]);
    // The whole path (ferry hops to an outside refill point excepted) stays in the field.
    let path = segments(p, |k| k != SegmentKind::Ferry);
    prop_assert!(
        outside(&field, &path) < 1e-6,
        "path leaves the field by {} m",
        outside(&field, &path)
    );
    prop_assert!(r.outside_m < 1e-6, "outside_m = {}", r.outside_m);
    prop_assert!(r.exclusion_m < 1e-6);
    // Spray legs lie inside the sprayable area.
    let spray = segments(p, |k| k == SegmentKind::Spray);
    let out = outside(&p.sprayable, &spray);
    prop_assert!(out < 1e-3, "spray legs leave the sprayable area by {out} m");
    prop_assert!(r.coverage >= min_coverage, "coverage {}", r.coverage);
    // Litres = rate × sprayable area.
    let area = p.sprayable.unsigned_area();
    prop_assert!((r.litres - cfg.rate.l_per_m2() * area).abs() < 1e-9 * (1.0 + r.litres));
    prop_assert!((r.sprayable_ha * 10_000.0 - area).abs() < 1e-6);
    // The pump delivers at least the label amount (overlaps only add), at the set rate per metre.
    let w = cfg.swath_width.get();
    prop_assert!(r.litres_pumped >= r.litres * 0.99);
    let per_m = cfg.rate.l_per_m2() * w;
    prop_assert!(r.litres_pumped <= per_m * r.spray_length_m + 1e-6);
    // The default refill point lies inside the field, off its edge (where the fence is).
    if cfg.refill.is_none() {
        let at = Point(p.refill);
        let edge = Euclidean.distance(&at, p.field.exterior());
        prop_assert!(
            p.field.contains(&at) && edge > 0.1,
            "refill point {:?} is {edge} m from the field edge",
            p.refill
        );
    }
    // Every sortie fits the tank.
    for s in &p.sorties {
        prop_assert!(s.litres <= cfg.tank.get() + 1e-9);
        prop_assert_eq!(s.track.points[0], p.refill);
        prop_assert_eq!(s.track.end(), p.refill);
    }
    Ok(())
}

/// A star-shaped polygon: `n` vertices at angles in order with radii in `radii`.
fn star(cx: f64, cy: f64, radii: &[f64], jitter: &[f64]) -> Vec<(f64, f64)> {
    let n = radii.len();
    (0..n)
        .map(|i| {
            let a = (i as f64 + 0.4 * jitter[i]) / n as f64 * std::f64::consts::TAU;
            (cx + radii[i] * a.cos(), cy + radii[i] * a.sin())
        })
        .collect()
}

fn config(w: f64) -> PlanConfig {
    PlanConfig::new(SwathWidth::new(w).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn convex_fields(n in 3usize..9, r in 25.0f64..90.0, jitter in prop::collection::vec(-0.5f64..0.5, 9), w in 3.0f64..8.0) {
        let radii = vec![r; n];
        let f = field_from_local(vec![star(0.0, 0.0, &radii, &jitter[..n])]);
        let cfg = config(w);
        let p = plan(&f, &cfg).unwrap();
        check_invariants(&p, &cfg, 0.99)?;
    }

    #[test]
    fn concave_fields(radii in prop::collection::vec(20.0f64..80.0, 5..14), jitter in prop::collection::vec(-0.5f64..0.5, 14), w in 3.0f64..7.0) {
        let f = field_from_local(vec![star(0.0, 0.0, &radii, &jitter[..radii.len()])]);
        let cfg = config(w);
        match plan(&f, &cfg) {
            Ok(p) => check_invariants(&p, &cfg, 0.99)?,
            // A star so spiky that nothing is sprayable is a typed error, never a panic.
            Err(e) => prop_assert!(matches!(e, mission_planner::PlanError::NothingToSpray { .. }), "{e}"),
        }
    }

    #[test]
    fn fields_with_holes_and_zones(
        a in 60.0f64..140.0, b in 60.0f64..110.0,
        hx in 0.25f64..0.75, hy in 0.3f64..0.55, hs in 4.0f64..12.0,
        ex in 0.2f64..0.8, ey in 0.2f64..0.8,
        w in 3.0f64..7.0,
    ) {
        let (cx, cy) = (a * hx, b * hy);
        let hole = vec![(cx - hs, cy - hs), (cx - hs, cy + hs), (cx + hs, cy + hs), (cx + hs, cy - hs)];
        let mut f = field_from_local(vec![vec![(0.0, 0.0), (a, 0.0), (a, b), (a * 0.5, b * 0.75), (0.0, b)], hole]);
        // A 2 m pole somewhere else in the field, unless it would touch the hole.
        let (px, py) = (a * ex, b * ey * 0.7);
        if (px - cx).abs() > hs + 12.0 || (py - cy).abs() > hs + 12.0 {
            let frame = LocalFrame::new(FRAME.0, FRAME.1);
            let pole: LineString = [(px - 1.0, py - 1.0), (px + 1.0, py - 1.0), (px + 1.0, py + 1.0), (px - 1.0, py + 1.0)]
                .iter()
                .map(|&(x, y)| frame.to_wgs84(Coord { x, y }))
                .collect::<Vec<_>>()
                .into();
            f.add_zone(mission_planner::Role::Exclusion, &Polygon::new(pole, vec![])).unwrap();
        }
        let cfg = config(w);
        let p = plan(&f, &cfg).unwrap();
        check_invariants(&p, &cfg, 0.99)?;
    }
}

fn shared_fields() -> Option<Vec<Field>> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fields/fields.geojson");
    let bytes = std::fs::read(path).ok()?;
    Some(
        mission_planner::read_fields(&bytes)
            .ok()?
            .fields
            .into_iter()
            .flatten()
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Real fields under 5 ha (debug builds are slow on the big ones; the e2e test plans all 37).
    #[test]
    fn real_fields(idx in 0usize..64, w in 3.0f64..9.0, passes in 1u32..3, tank in 5.0f64..20.0) {
        let Some(fields) = shared_fields() else { return Ok(()) };
        let small: Vec<&Field> = fields.iter().filter(|f| {
            let frame = LocalFrame::centred_on(&f.boundary);
            frame.polygon_to_local(&f.boundary).unsigned_area() < 50_000.0
        }).collect();
        let f = small[idx % small.len()];
        let mut cfg = config(w);
        cfg.headland_passes = passes;
        cfg.tank = mission_planner::Litres::new(tank).unwrap();
        let p = plan(f, &cfg).unwrap();
        check_invariants(&p, &cfg, 0.99)?;
    }
}
