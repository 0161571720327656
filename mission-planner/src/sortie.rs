//! Sorties: the coverage track split by tank volume and battery, with returns to the refill
//! point and resumes that overlap the interrupted leg slightly.

use crate::route::transit::Router;
use crate::route::{SegmentKind, Track};
use geo::Coord;

/// One flight: take off at the refill point, spray part of the track, return and land.
#[derive(Debug, Clone, PartialEq)]
pub struct Sortie {
    /// 1-based sortie number.
    pub index: usize,
    /// The path flown, from the refill point back to it, local metres.
    pub track: Track,
    /// Liquid pumped, litres (kilograms for granules), following each segment's rate.
    pub litres: f64,
    /// Flight time including take-off, landing and stop-and-turns, seconds.
    pub flight_time_s: f64,
    /// Where spraying stopped because the tank or battery ran low (`None` for the last sortie).
    pub stop: Option<Coord>,
    /// Where spraying resumed, overlapping the previous stop (`None` for the first sortie).
    pub resume: Option<Coord>,
}

/// What the splitter needs to know about the aircraft and the job.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SortieModel {
    /// Swath width, metres: a segment at `r` L/ha uses `r / 10 000 × width` litres a metre.
    pub width: f64,
    pub tank_l: f64,
    pub limit_s: f64,
    pub spray_speed: f64,
    pub transit_speed: f64,
    pub turn_time: f64,
    pub climb_time: f64,
    pub resume_overlap: f64,
    /// Run-up wanted before each spray run, metres (see [`crate::lead_in`]): its time is
    /// reserved wherever a spray run starts.
    pub lead_m: f64,
}

/// Stop-and-turns allowed for on the way back (at the stop point, on the route home, at the gate).
const RETURN_TURNS: f64 = 4.0;

impl SortieModel {
    /// Time to fly home over `d` metres and land.
    fn home_time(&self, d: f64) -> f64 {
        d / self.transit_speed + self.climb_time + RETURN_TURNS * self.turn_time
    }
}

fn dist(a: Coord, b: Coord) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

fn lerp(a: Coord, b: Coord, t: f64) -> Coord {
    Coord {
        x: a.x + t * (b.x - a.x),
        y: a.y + t * (b.y - a.y),
    }
}

/// Heading change at `b` between a→b and b→c above which the drone stops and turns, degrees.
pub(crate) const TURN_DEG: f64 = 20.0;

pub(crate) fn is_turn(a: Coord, b: Coord, c: Coord) -> bool {
    let (u, v) = (
        Coord {
            x: b.x - a.x,
            y: b.y - a.y,
        },
        Coord {
            x: c.x - b.x,
            y: c.y - b.y,
        },
    );
    let (lu, lv) = (u.x.hypot(u.y), v.x.hypot(v.y));
    if lu < 1e-9 || lv < 1e-9 {
        return false;
    }
    let cos = ((u.x * v.x + u.y * v.y) / (lu * lv)).clamp(-1.0, 1.0);
    cos.acos().to_degrees() > TURN_DEG
}

/// Flight time of a track (segments at their speed plus stop-and-turns), without take-off/landing.
pub(crate) fn track_time(t: &Track, m: &SortieModel) -> f64 {
    let mut s = 0.0;
    for (a, b, k) in t.segments() {
        s += dist(a, b)
            / if k.at_spray_speed() {
                m.spray_speed
            } else {
                m.transit_speed
            };
    }
    for w in t.points.windows(3) {
        if is_turn(w[0], w[1], w[2]) {
            s += m.turn_time;
        }
    }
    s
}

/// How to get between the refill point and the flyable region.
pub(crate) struct Base<'a> {
    pub refill: Coord,
    /// The point of the flyable region where the refill point connects (itself if inside).
    pub gate: Coord,
    pub router: &'a Router,
}

impl Base<'_> {
    fn path_from_refill(&self, to: Coord) -> Option<Track> {
        let mut t = Track::starting_at(self.refill);
        t.go(self.gate, SegmentKind::Ferry);
        for p in self.router.route(self.gate, to)?.into_iter().skip(1) {
            t.go(p, SegmentKind::Transit);
        }
        Some(t)
    }

    fn return_path(&self, from: Coord) -> Option<Vec<(Coord, SegmentKind)>> {
        let mut out: Vec<(Coord, SegmentKind)> = self
            .router
            .route(from, self.gate)?
            .into_iter()
            .skip(1)
            .map(|p| (p, SegmentKind::Transit))
            .collect();
        out.push((self.refill, SegmentKind::Ferry));
        Some(out)
    }

    fn return_distance(&self, from: Coord) -> Option<f64> {
        Some(self.router.distance(from, self.gate)? + dist(self.gate, self.refill))
    }
}

/// Why the splitter gave up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortieError {
    NoRoute(Coord, Coord),
    NoProgress(String),
}

/// Splits the coverage `route` into sorties flown from and back to the refill point.
pub(crate) fn split(
    route: &Track,
    base: &Base<'_>,
    m: &SortieModel,
) -> Result<Vec<Sortie>, SortieError> {
    let segs: Vec<(Coord, Coord, SegmentKind, f64)> = route.rated_segments().collect();
    let mut sorties = Vec::new();
    // Position to resume from: segment index and distance along it.
    let (mut seg_i, mut seg_d) = (0usize, 0.0f64);
    let mut resume_at: Option<Coord> = None;
    let start = route.points[0];
    loop {
        // Resume point: back off along an interrupted spray leg by the overlap.
        let (mut i, mut d) = (seg_i, seg_d);
        if i < segs.len() && d > 0.0 && segs[i].2 == SegmentKind::Spray {
            d = (d - m.resume_overlap).max(0.0);
        }
        let entry = if i < segs.len() {
            let (a, b, _, _) = segs[i];
            lerp(a, b, d / dist(a, b).max(1e-12))
        } else {
            start
        };
        let mut track = base
            .path_from_refill(entry)
            .ok_or(SortieError::NoRoute(base.refill, entry))?;
        let mut time = m.climb_time + track_time(&track, m);
        let mut litres = 0.0;
        let mut ret_ub = base
            .return_distance(entry)
            .ok_or(SortieError::NoRoute(entry, base.refill))?;
        if time + m.home_time(ret_ub) > m.limit_s {
            return Err(SortieError::NoProgress(format!(
                "reaching ({:.1}, {:.1}) and returning takes longer than the battery allows",
                entry.x, entry.y
            )));
        }
        let mut stop = None;
        let mut progressed = false;
        while i < segs.len() {
            let (a, b, kind, rate) = segs[i];
            let len = dist(a, b);
            let rem = len - d;
            let spray = kind == SegmentKind::Spray;
            let v = if spray {
                m.spray_speed
            } else {
                m.transit_speed
            };
            let lpm = if spray {
                rate / 10_000.0 * m.width
            } else {
                0.0
            };
            let turn_at_end = i + 1 < segs.len() && is_turn(a, b, segs[i + 1].1);
            let run_up = if spray && track.kinds.last().is_some_and(|k| !k.at_spray_speed()) {
                crate::lead_in::budget_s(m.lead_m, m.spray_speed, m.transit_speed)
            } else {
                0.0
            };
            let end_time = time + run_up + rem / v + if turn_at_end { m.turn_time } else { 0.0 };
            let end_litres = litres + lpm * rem;
            let fits_tank = end_litres <= m.tank_l + 1e-9;
            let mut ub_end = ret_ub + rem;
            let mut fits_batt = end_time + m.home_time(ub_end) <= m.limit_s;
            // The exact way home is only worth routing when the straight-line bound still fits.
            let lower = dist(b, base.gate) + dist(base.gate, base.refill);
            if !fits_batt
                && end_time + m.home_time(lower) <= m.limit_s
                && let Some(r) = base.return_distance(b)
            {
                ub_end = ub_end.min(r);
                fits_batt = end_time + m.home_time(ub_end) <= m.limit_s;
            }
            if fits_tank && fits_batt {
                track.go_at(b, kind, rate);
                time = end_time;
                litres = end_litres;
                ret_ub = ub_end;
                progressed |= rem > 1e-6;
                i += 1;
                d = 0.0;
                continue;
            }
            // Stop inside this segment: as far as both the tank and the battery allow.
            let d_tank = if lpm > 0.0 {
                (m.tank_l - litres) / lpm
            } else {
                f64::INFINITY
            };
            let slack = m.limit_s - time - run_up - m.home_time(ret_ub);
            let d_batt = (slack / (1.0 / v + 1.0 / m.transit_speed)).max(0.0);
            let step = d_tank.min(d_batt).clamp(0.0, rem);
            let p = lerp(a, b, (d + step) / len.max(1e-12));
            track.go_at(p, kind, rate);
            litres += lpm * step;
            progressed |= step > 1e-6;
            stop = Some(p);
            seg_i = i;
            seg_d = d + step;
            break;
        }
        if stop.is_none() {
            seg_i = segs.len();
        }
        let here = track.end();
        for (p, k) in base
            .return_path(here)
            .ok_or(SortieError::NoRoute(here, base.refill))?
        {
            track.go(p, k);
        }
        // The run-ups, inside the region transits keep to; their time was reserved above.
        let track = crate::lead_in::add_lead_ins(&track, base.router.region(), m.lead_m);
        let flight_time_s = 2.0 * m.climb_time + track_time(&track, m);
        if !progressed && stop.is_some() {
            return Err(SortieError::NoProgress(format!(
                "the tank ({:.1} L) or battery ({:.0} s usable) is too small to spray from ({:.1}, {:.1})",
                m.tank_l, m.limit_s, here.x, here.y
            )));
        }
        sorties.push(Sortie {
            index: sorties.len() + 1,
            track,
            litres,
            flight_time_s,
            stop,
            resume: resume_at,
        });
        if stop.is_none() {
            break;
        }
        resume_at = Some(stop.map_or(entry, |_| {
            let (a, b, k, _) = segs[seg_i];
            let dd = if k == SegmentKind::Spray {
                (seg_d - m.resume_overlap).max(0.0)
            } else {
                seg_d
            };
            lerp(a, b, dd / dist(a, b).max(1e-12))
        }));
        if sorties.len() > 10_000 {
            return Err(SortieError::NoProgress("more than 10 000 sorties".into()));
        }
    }
    Ok(sorties)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;
    use geo::{MultiPolygon, polygon};

    fn model(tank_l: f64, limit_s: f64) -> SortieModel {
        SortieModel {
            // 8 L/ha over 5 m: 0.004 L/m.
            width: 5.0,
            tank_l,
            limit_s,
            spray_speed: 5.0,
            transit_speed: 7.0,
            turn_time: 3.0,
            climb_time: 1.0,
            resume_overlap: 1.0,
            lead_m: 0.0,
        }
    }

    fn setup() -> (Router, Track) {
        let r = Router::new(Region::new(&MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1000.0, y: 0.0), (x: 1000.0, y: 100.0), (x: 0.0, y: 100.0)],
        ])));
        let mut t = Track::starting_at(Coord { x: 10.0, y: 10.0 });
        for k in 0..8 {
            let y = 10.0 + 10.0 * f64::from(k);
            let (x0, x1) = if k % 2 == 0 {
                (10.0, 990.0)
            } else {
                (990.0, 10.0)
            };
            t.go(Coord { x: x0, y }, SegmentKind::Transit);
            t.go_at(Coord { x: x1, y }, SegmentKind::Spray, 8.0);
        }
        (r, t)
    }

    #[test]
    fn tank_splits_legs_and_litres_add_up() {
        let (router, t) = setup();
        let base = Base {
            refill: Coord { x: 0.0, y: 0.0 },
            gate: Coord { x: 0.0, y: 0.0 },
            router: &router,
        };
        let m = model(10.0, 1e9);
        let s = split(&t, &base, &m).unwrap();
        let total: f64 = s.iter().map(|s| s.litres).sum();
        let sprayed = t.length_of(SegmentKind::Spray);
        // 8 legs × 980 m × 0.004 L/m = 31.4 L → 4 sorties; the resumes re-spray 1 m each.
        assert_eq!(s.len(), 4);
        assert!((total - (sprayed + 3.0) * 0.004).abs() < 1e-6, "{total}");
        assert!(s.iter().all(|x| x.litres <= 10.0 + 1e-9));
        for w in s.windows(2) {
            let (stop, resume) = (w[0].stop.unwrap(), w[1].resume.unwrap());
            assert!((dist(stop, resume) - 1.0).abs() < 1e-6);
        }
        for x in &s {
            assert_eq!(x.track.points[0], base.refill);
            assert_eq!(x.track.end(), base.refill);
        }
    }

    #[test]
    fn battery_limits_each_sortie() {
        let (router, t) = setup();
        let base = Base {
            refill: Coord { x: 0.0, y: 0.0 },
            gate: Coord { x: 0.0, y: 0.0 },
            router: &router,
        };
        let m = model(1e6, 600.0);
        let s = split(&t, &base, &m).unwrap();
        assert!(s.len() >= 3);
        assert!(
            s.iter().all(|x| x.flight_time_s <= 600.0 + 1e-6),
            "{:?}",
            s.iter().map(|x| x.flight_time_s).collect::<Vec<_>>()
        );
        let tiny = model(1e6, 20.0);
        assert!(matches!(
            split(&t, &base, &tiny),
            Err(SortieError::NoProgress(_))
        ));
    }
}
