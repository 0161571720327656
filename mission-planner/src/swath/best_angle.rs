//! Search for the swath heading that minimises an objective.

use crate::decompose::decompose;
use crate::swath::generate::{Swaths, generate, rotated_edges};
use crate::swath::objective::{PatternStats, SwathObjective};
use geo::MultiPolygon;
use std::f64::consts::PI;

/// Candidate headings: the directions of the longest boundary edges, every 10°, then a local
/// refinement around the best one.
pub(crate) fn best_swaths(
    clip: &MultiPolygon,
    need: &MultiPolygon,
    w: f64,
    objective: &dyn SwathObjective,
) -> Swaths {
    let mut cands: Vec<(f64, f64)> = Vec::new();
    for poly in &need.0 {
        for l in poly.exterior().lines() {
            let (dx, dy) = (l.end.x - l.start.x, l.end.y - l.start.y);
            let len = dx.hypot(dy);
            if len > 1e-6 {
                cands.push((dy.atan2(dx).rem_euclid(PI), len));
            }
        }
    }
    cands.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut angles: Vec<f64> = Vec::new();
    let near = |a: f64, b: f64| {
        let d = (a - b).rem_euclid(PI);
        d.min(PI - d) < 1.5f64.to_radians()
    };
    for &(a, _) in &cands {
        if angles.len() >= 8 {
            break;
        }
        if !angles.iter().any(|&b| near(a, b)) {
            angles.push(a);
        }
    }
    for k in 0..18 {
        let a = f64::from(k) * 10f64.to_radians();
        if !angles.iter().any(|&b| near(a, b)) {
            angles.push(a);
        }
    }
    let eval = |a: f64| -> (f64, Swaths) {
        let s = swaths_at(clip, need, w, a);
        let cells = decompose(&s).len();
        (objective.cost(&PatternStats::of(&s, cells)), s)
    };
    let mut best: Option<(f64, Swaths)> = None;
    for &a in &angles {
        let r = eval(a);
        if best.as_ref().is_none_or(|b| r.0 < b.0) {
            best = Some(r);
        }
    }
    let Some(mut best) = best else {
        return swaths_at(clip, need, w, 0.0);
    };
    let mut step = 4f64.to_radians();
    while step > 0.4f64.to_radians() {
        let a0 = best.1.angle;
        for a in [a0 - step, a0 + step] {
            let r = eval(a.rem_euclid(PI));
            if r.0 < best.0 {
                best = r;
            }
        }
        step /= 2.0;
    }
    best.1
}

/// Legs at one heading (radians, counter-clockwise from east).
pub(crate) fn swaths_at(clip: &MultiPolygon, need: &MultiPolygon, w: f64, angle: f64) -> Swaths {
    generate(
        &rotated_edges(clip, angle),
        &rotated_edges(need, angle),
        angle,
        w,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swath::objective::FlightTime;
    use geo::{Rotate, polygon};
    use proptest::prelude::*;

    fn cost(clip: &MultiPolygon, w: f64, a: f64, ft: &FlightTime) -> f64 {
        let s = swaths_at(clip, clip, w, a);
        ft.cost(&PatternStats::of(&s, decompose(&s).len()))
    }

    #[test]
    fn long_rectangle_is_swept_along_its_length() {
        let r = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 200.0, y: 0.0), (x: 200.0, y: 40.0), (x: 0.0, y: 40.0)],
        ]);
        let r = r.rotate_around_point(30.0, geo::Point::new(0.0, 0.0));
        let ft = FlightTime {
            spray_speed: 5.0,
            transit_speed: 7.0,
            turn_time: 3.0,
        };
        let s = best_swaths(&r, &r, 5.0, &ft);
        let deg = s.angle.to_degrees();
        assert!((deg - 30.0).abs() < 0.5, "{deg}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// The chosen heading costs within 1 % of random headings (Fields2Cover's brute-force check).
        #[test]
        fn best_heading_beats_random_headings(w in 20.0f64..80.0, h in 10.0f64..60.0, rot in 0.0f64..180.0, a in 0.0f64..PI) {
            let r = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: w, y: 0.0), (x: w, y: h), (x: w / 2.0, y: h * 1.5), (x: 0.0, y: h)]]);
            let r = r.rotate_around_point(rot, geo::Point::new(0.0, 0.0));
            let ft = FlightTime { spray_speed: 5.0, transit_speed: 7.0, turn_time: 3.0 };
            let best = best_swaths(&r, &r, 5.0, &ft);
            let c_best = cost(&r, 5.0, best.angle, &ft);
            // The cost jumps with the swath count, so the coarse-then-fine search promises a
            // heading within 1 % of the best, not the exact optimum (0.03 % off was seen).
            prop_assert!(c_best <= cost(&r, 5.0, a, &ft) * 1.01 + 1e-6);
        }
    }
}
