//! Run-ups before spray legs: a short straight on the leg's own line, flown at spray speed,
//! so the drone reaches the leg on line and at speed, and so a pump that starts late (ArduPilot's
//! sprayer, see [`PlanConfig::sprayer_lead`](crate::PlanConfig)) is already running where the
//! leg begins.

use crate::region::Region;
use crate::route::{SegmentKind, Track};
use geo::Coord;

/// How far a run-up's start keeps from the region's edge, metres: enough that rounding the
/// mission's degrees to 1e-8 (about 1 mm) cannot put it outside.
const CLEARANCE_M: f64 = 0.05;

/// Halvings of the search for the longest run-up that fits, where the whole one does not:
/// the answer is within `lead / 2^6` of the longest.
const SEARCH_STEPS: u32 = 6;

/// Shortest run-up worth flying, metres.
const MIN_RUN_UP_M: f64 = 0.25;

/// The start of the longest run-up of at most `lead_m` before the leg `a`→`b`, reached from
/// `prev`: on the leg's line behind `a`, with the hop `prev`→start and the run-up inside
/// `region` and the start at least [`CLEARANCE_M`] from its edge. `None` where not even
/// [`MIN_RUN_UP_M`] fits.
fn run_up(prev: Coord, a: Coord, b: Coord, region: &Region, lead_m: f64) -> Option<Coord> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len = dx.hypot(dy);
    if lead_m < MIN_RUN_UP_M || len < 1e-6 {
        return None;
    }
    let (ux, uy) = (dx / len, dy / len);
    let start = |l: f64| Coord {
        x: a.x - l * ux,
        y: a.y - l * uy,
    };
    let fits = |l: f64| {
        let q = start(l);
        region
            .nearest_boundary_point(q)
            .is_some_and(|e| (e.x - q.x).hypot(e.y - q.y) >= CLEARANCE_M)
            && region.segment_inside(q, a)
            && region.segment_inside(prev, q)
    };
    if fits(lead_m) {
        return Some(start(lead_m));
    }
    // Longest that fits, by halving (a run-up that fits mostly has shorter ones that do).
    let (mut lo, mut hi) = (0.0, lead_m);
    for _ in 0..SEARCH_STEPS {
        let mid = 0.5 * (lo + hi);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo >= MIN_RUN_UP_M).then(|| start(lo))
}

/// The extra time a run-up of `lead_m` can add where a spray run starts, seconds: the hop to
/// its start is at most `lead_m` longer (the triangle inequality), and the run-up itself is
/// flown at spray speed. The sortie splitter reserves it so the sorties still fit the battery.
pub(crate) fn budget_s(lead_m: f64, spray_speed: f64, transit_speed: f64) -> f64 {
    lead_m / transit_speed + lead_m / spray_speed
}

/// `track` with a run-up of up to `lead_m` ([`SegmentKind::LeadIn`]) before every spray run
/// that follows a segment not at spray speed, where it fits inside `region` (see [`run_up`]).
pub(crate) fn add_lead_ins(track: &Track, region: &Region, lead_m: f64) -> Track {
    let segs: Vec<(Coord, Coord, SegmentKind, f64)> = track.rated_segments().collect();
    let mut out = Track::starting_at(track.points[0]);
    for (j, &(a, b, kind, rate)) in segs.iter().enumerate() {
        if kind == SegmentKind::Spray
            && j > 0
            && !segs[j - 1].2.at_spray_speed()
            && out.end() == a
            && let Some(q) = run_up(segs[j - 1].0, a, b, region, lead_m)
        {
            // `out` ends with the hop prev→a: fly prev→q, then the run-up q→a.
            let (hop_kind, hop_rate) = (segs[j - 1].2, segs[j - 1].3);
            out.points.pop();
            out.kinds.pop();
            out.rates.pop();
            out.go_at(q, hop_kind, hop_rate);
            out.go(a, SegmentKind::LeadIn);
        }
        out.go_at(b, kind, rate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    fn square(side: f64) -> Region {
        Region::new(&MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: side, y: 0.0), (x: side, y: side), (x: 0.0, y: side)],
        ]))
    }

    /// Two legs joined by a U-turn, entered from (50, 1).
    fn snake() -> Track {
        let mut t = Track::starting_at(Coord { x: 50.0, y: 1.0 });
        t.go(Coord { x: 10.0, y: 10.0 }, SegmentKind::Transit);
        t.go_at(Coord { x: 90.0, y: 10.0 }, SegmentKind::Spray, 80.0);
        t.go(Coord { x: 90.0, y: 15.0 }, SegmentKind::Transit);
        t.go_at(Coord { x: 10.0, y: 15.0 }, SegmentKind::Spray, 80.0);
        t.go(Coord { x: 50.0, y: 1.0 }, SegmentKind::Transit);
        t
    }

    #[test]
    fn every_spray_run_gets_a_run_up_on_its_own_line() {
        let t = add_lead_ins(&snake(), &square(100.0), 3.5);
        assert_eq!(
            t.kinds,
            [
                SegmentKind::Transit,
                SegmentKind::LeadIn,
                SegmentKind::Spray,
                SegmentKind::Transit,
                SegmentKind::LeadIn,
                SegmentKind::Spray,
                SegmentKind::Transit,
            ]
        );
        assert_eq!(t.points[1], Coord { x: 6.5, y: 10.0 });
        assert_eq!(t.points[4], Coord { x: 93.5, y: 15.0 });
        // The spray legs and their rates are untouched; the run-ups carry no rate.
        assert_eq!(t.sprayed_length(), snake().sprayed_length());
        assert_eq!(t.rates[1], 0.0);
        assert_eq!(t.rates[2], 80.0);
        assert!((t.length_of(SegmentKind::LeadIn) - 7.0).abs() < 1e-9);
    }

    #[test]
    fn a_run_up_is_shortened_or_left_out_where_the_region_ends() {
        // The first leg starts 2 m from the edge: the longest run-up found leaves at least the
        // clearance, within 3.5 / 64 m of it.
        let mut t = Track::starting_at(Coord { x: 50.0, y: 1.0 });
        t.go(Coord { x: 2.0, y: 10.0 }, SegmentKind::Transit);
        t.go_at(Coord { x: 90.0, y: 10.0 }, SegmentKind::Spray, 80.0);
        let out = add_lead_ins(&t, &square(100.0), 3.5);
        let x = out.points[1].x;
        assert!((CLEARANCE_M..=CLEARANCE_M + 3.5 / 64.0).contains(&x), "{x}");
        assert_eq!(out.points[1].y, 10.0);
        // Starting on the edge: no run-up at all, the track stays as it was.
        let mut edge = Track::starting_at(Coord { x: 50.0, y: 1.0 });
        edge.go(Coord { x: 0.0, y: 10.0 }, SegmentKind::Transit);
        edge.go_at(Coord { x: 90.0, y: 10.0 }, SegmentKind::Spray, 80.0);
        assert_eq!(add_lead_ins(&edge, &square(100.0), 3.5), edge);
        // No lead asked for: nothing changes.
        assert_eq!(add_lead_ins(&snake(), &square(100.0), 0.0), snake());
    }

    #[test]
    fn the_run_up_stays_inside_a_concave_region() {
        // An L-shaped region; a leg going -y starts 1 m right of and below the inner corner
        // (20, 20), so its run-up (+y) leaves the L after 1 m.
        let l = Region::new(&MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 20.0),
            (x: 20.0, y: 20.0), (x: 20.0, y: 100.0), (x: 0.0, y: 100.0)
        ]]));
        let mut t = Track::starting_at(Coord { x: 10.0, y: 90.0 });
        t.go(Coord { x: 10.0, y: 19.0 }, SegmentKind::Transit);
        t.go(Coord { x: 21.0, y: 19.0 }, SegmentKind::Transit);
        t.go_at(Coord { x: 21.0, y: 2.0 }, SegmentKind::Spray, 80.0);
        let out = add_lead_ins(&t, &l, 3.5);
        for (a, b, _) in out.segments() {
            assert!(l.segment_inside(a, b), "{a:?} → {b:?}");
        }
        // About 0.95 m fits, ending at least the clearance from the edge at y = 20.
        let y = out.points[2].y;
        assert!(
            y <= 20.0 - CLEARANCE_M && y > 20.0 - CLEARANCE_M - 3.5 / 64.0,
            "{y}"
        );
        assert_eq!(out.points[2].x, 21.0);
        assert_eq!(out.kinds[2], SegmentKind::LeadIn);
    }
}
