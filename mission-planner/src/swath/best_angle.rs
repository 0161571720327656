//! Search for the swath heading that minimises an objective.

use crate::decompose::decompose;
use crate::swath::generate::{Swaths, generate, rotated_edges};
use crate::swath::objective::{PatternStats, SwathObjective};
use geo::MultiPolygon;
use std::f64::consts::PI;

/// Candidate headings: the directions of the longest boundary edges and every 1°, then a local
/// refinement around the three best; an edge-parallel heading within 1 % of the best wins.
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
    // The cost jumps where a swath appears or vanishes, so minima can be narrow: a 1° grid,
    // then a local refinement around each of the three best distinct headings.
    let n_edges = angles.len();
    for k in 0..180 {
        let a = f64::from(k).to_radians();
        if !angles.iter().any(|&b| near(a, b)) {
            angles.push(a);
        }
    }
    let eval = |a: f64| -> (f64, Swaths) {
        let s = swaths_at(clip, need, w, a);
        let cells = decompose(&s).len();
        (objective.cost(&PatternStats::of(&s, cells)), s)
    };
    let mut scored: Vec<(f64, Swaths)> = angles.iter().map(|&a| eval(a)).collect();
    // Swaths parallel to a long boundary edge: what a pilot would fly, and robust (not a
    // knife-edge heading where a pass fewer just fits); kept when within 1 % of the best.
    let edge_best = scored[..n_edges]
        .iter()
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .cloned();
    scored.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut starts: Vec<(f64, Swaths)> = Vec::new();
    for r in scored {
        if starts.len() == 3 {
            break;
        }
        if !starts.iter().any(|b| near(b.1.angle, r.1.angle)) {
            starts.push(r);
        }
    }
    let mut best: Option<(f64, Swaths)> = None;
    for mut local in starts {
        let mut step = 0.5f64.to_radians();
        while step > 0.05f64.to_radians() {
            let a0 = local.1.angle;
            for a in [a0 - step, a0 + step] {
                let r = eval(a.rem_euclid(PI));
                if r.0 < local.0 {
                    local = r;
                }
            }
            step /= 2.0;
        }
        if best.as_ref().is_none_or(|b| local.0 < b.0) {
            best = Some(local);
        }
    }
    let Some(best) = best else {
        return swaths_at(clip, need, w, 0.0);
    };
    if let Some(edge) = edge_best
        && edge.0 <= best.0 * 1.01
    {
        return edge.1;
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

    /// A house-shaped field, `w` wide, walls `h` high, roof ridge at 1.5 `h`, turned by `rot`°.
    fn house(w: f64, h: f64, rot: f64) -> MultiPolygon {
        MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: w, y: 0.0), (x: w, y: h), (x: w / 2.0, y: h * 1.5), (x: 0.0, y: h)]])
            .rotate_around_point(rot, geo::Point::new(0.0, 0.0))
    }

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
        /// The chosen heading costs within 5 % of random headings (after Fields2Cover's
        /// brute-force check; see the bound below).
        #[test]
        fn best_heading_beats_random_headings(w in 20.0f64..80.0, h in 10.0f64..60.0, rot in 0.0f64..180.0, a in 0.0f64..PI) {
            let r = house(w, h, rot);
            let ft = FlightTime { spray_speed: 5.0, transit_speed: 7.0, turn_time: 3.0 };
            let best = best_swaths(&r, &r, 5.0, &ft);
            let c_best = cost(&r, 5.0, best.angle, &ft);
            // The cost jumps with the swath count: where one pass fewer fits only inside a
            // window narrower than the 1° grid, the search can miss it (up to 3.2 % was
            // measured against a 0.5° brute force), so this asks for 5 %; wide windows, like
            // the 12° one an earlier search missed by 3.5 %, are caught.
            prop_assert!(c_best <= cost(&r, 5.0, a, &ft) * 1.05 + 1e-6);
        }
    }

    #[test]
    fn search_stays_within_4_percent_of_a_half_degree_brute_force() {
        let ft = FlightTime {
            spray_speed: 5.0,
            transit_speed: 7.0,
            turn_time: 3.0,
        };
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut worst = 1.0f64;
        for _ in 0..40 {
            let (w, h, rot) = (20.0 + 60.0 * rnd(), 10.0 + 50.0 * rnd(), 180.0 * rnd());
            let r = house(w, h, rot);
            let ours = cost(&r, 5.0, best_swaths(&r, &r, 5.0, &ft).angle, &ft);
            let brute = (0..360)
                .map(|k| cost(&r, 5.0, (f64::from(k) * 0.5).to_radians(), &ft))
                .fold(f64::INFINITY, f64::min);
            worst = worst.max(ours / brute);
        }
        assert!(worst <= 1.04, "worst {worst}");
    }

    #[test]
    fn a_wide_window_of_one_pass_fewer_is_found() {
        // The case CI found: the old search (10° grid, one refinement) settled 3.5 % above a
        // heading in a 12° wide window where one pass fewer fits.
        let (w, h, rot) = (
            20.991_401_691_948_827,
            38.979_274_799_567_21,
            60.489_580_802_088_56,
        );
        let r = house(w, h, rot);
        let ft = FlightTime {
            spray_speed: 5.0,
            transit_speed: 7.0,
            turn_time: 3.0,
        };
        let ours = cost(&r, 5.0, best_swaths(&r, &r, 5.0, &ft).angle, &ft);
        assert!(ours <= cost(&r, 5.0, 2.547_782_298_673_687, &ft), "{ours}");
    }
}
