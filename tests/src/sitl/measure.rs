//! Measures of a flight with GEOS, a geometry library the planner does not use: the vehicle's
//! positions against the fence agriops uploaded, its pump-on track against the planned spray
//! legs, and the area it sprayed. Everything in local metres around an origin
//! (equirectangular: fine over a field).

use geos::{Geom, Geometry};
use telemetry::{Plan, SprayLeg};

use super::{PUMP_OFF_PWM, PUMP_ON_MARGIN, Sample};

/// ArduCopter's LOITER flight mode number (ArduCopter/mode.h `Mode::Number`).
pub const MODE_LOITER: u32 = 5;
/// ArduCopter's RTL flight mode number.
pub const MODE_RTL: u32 = 6;
/// ArduCopter's BRAKE flight mode number.
pub const MODE_BRAKE: u32 = 17;

/// How far (m) the vehicle's reported position may lie from a spray leg and still count as
/// flying it (cross-track error of ArduPilot's waypoint controller, position report lag).
pub const ON_LEG_M: f64 = 1.5;

/// The longest time from the pilot's pause or return until the vehicle reports the pump off.
pub const PUMP_OFF_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

/// A pump output above SERVO9_MIN by the margin: the pump runs.
pub fn pumping(s: &Sample) -> bool {
    s.pump_pwm > PUMP_OFF_PWM + PUMP_ON_MARGIN
}

/// Local metres (east, north) around `origin`, equirectangular (fine over a field).
pub fn local(origin: (f64, f64), p: (f64, f64)) -> (f64, f64) {
    let k = 111_320.0;
    (
        (p.1 - origin.1) * k * origin.0.to_radians().cos(),
        (p.0 - origin.0) * k,
    )
}

/// A GEOS multi-line of `lines`, each a list of points in local metres.
fn multi_line(lines: &[Vec<(f64, f64)>]) -> Geometry {
    let parts: Vec<String> = lines
        .iter()
        .map(|l| {
            let pts: Vec<String> = l.iter().map(|(x, y)| format!("{x} {y}")).collect();
            format!("({})", pts.join(", "))
        })
        .collect();
    Geometry::new_from_wkt(&format!("MULTILINESTRING ({})", parts.join(", "))).expect("WKT")
}

/// A closed WKT ring.
fn wkt_ring(pts: &[(f64, f64)]) -> String {
    let mut v: Vec<String> = pts.iter().map(|(x, y)| format!("{x} {y}")).collect();
    v.push(format!("{} {}", pts[0].0, pts[0].1));
    format!("({})", v.join(", "))
}

/// The fence the plan uploads, in local metres: inclusion polygons intersected, exclusions
/// removed (as ArduPilot's AC_PolyFence_loader::breached reads them).
pub fn fence_region(plan: &Plan, origin: (f64, f64)) -> Geometry {
    let mut region: Option<Geometry> = None;
    for p in plan.fence_polygons.iter().filter(|p| p.inclusion) {
        let ring: Vec<_> = p.vertices.iter().map(|&v| local(origin, v)).collect();
        let g = Geometry::new_from_wkt(&format!("POLYGON ({})", wkt_ring(&ring))).expect("WKT");
        region = Some(match region {
            Some(r) => r.intersection(&g).expect("intersection"),
            None => g,
        });
    }
    let mut region = region.expect("the plan has an inclusion fence");
    for p in plan.fence_polygons.iter().filter(|p| !p.inclusion) {
        let ring: Vec<_> = p.vertices.iter().map(|&v| local(origin, v)).collect();
        let g = Geometry::new_from_wkt(&format!("POLYGON ({})", wkt_ring(&ring))).expect("WKT");
        region = region.difference(&g).expect("difference");
    }
    region
}

/// The vehicle's armed positions farther outside `region` than 0 m: (count, worst metres).
pub fn outside_fence(samples: &[Sample], region: &Geometry, origin: (f64, f64)) -> (usize, f64) {
    let mut n = 0;
    let mut worst = 0.0f64;
    for s in samples.iter().filter(|s| s.armed && s.rel_alt_m > 0.5) {
        let Some(p) = s.pos else { continue };
        let (x, y) = local(origin, p);
        let pt = Geometry::new_from_wkt(&format!("POINT ({x} {y})")).expect("WKT");
        if !region.contains(&pt).expect("contains") {
            n += 1;
            worst = worst.max(region.distance(&pt).expect("distance"));
        }
    }
    (n, worst)
}

/// How a segment between two reports counts when the pump ran at only one of its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpSwitch {
    /// Not at all: the pump-on track is a lower bound.
    Excluded,
    /// The half next to the pumping end, when the reports are under a second apart (the pump
    /// switched somewhere between them; its middle is the unbiased guess). Sparser reports
    /// count as excluded.
    Midpoint,
    /// Wholly: an upper bound.
    Whole,
}

/// The pump-on track: segments between consecutive reports that both had the pump running.
pub fn pumped_track(samples: &[&Sample], origin: (f64, f64)) -> Option<Geometry> {
    pumped_track_by(samples, origin, PumpSwitch::Excluded)
}

/// The pump-on track, counting segments where the pump switched by `rule`: consecutive
/// pumping segments joined into one line, so a buffer of it sweeps a turn as a boom does
/// (round on the outside), not as separate straight pieces with wedges missing between.
pub fn pumped_track_by(
    samples: &[&Sample],
    origin: (f64, f64),
    rule: PumpSwitch,
) -> Option<Geometry> {
    let mut lines: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for w in samples.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (Some(pa), Some(pb)) = (a.pos, b.pos) else {
            continue;
        };
        if !a.armed || !(pumping(a) || pumping(b)) {
            continue;
        }
        let (mut ax, mut ay) = local(origin, pa);
        let (mut bx, mut by) = local(origin, pb);
        if pumping(a) != pumping(b) {
            match rule {
                PumpSwitch::Excluded => continue,
                PumpSwitch::Midpoint if !(0.0..=1.0).contains(&(b.t - a.t)) => continue,
                PumpSwitch::Midpoint => {
                    let (mx, my) = ((ax + bx) / 2.0, (ay + by) / 2.0);
                    if pumping(a) {
                        (bx, by) = (mx, my);
                    } else {
                        (ax, ay) = (mx, my);
                    }
                }
                PumpSwitch::Whole => {}
            }
        }
        if (ax - bx).hypot(ay - by) <= 1e-3 {
            continue;
        }
        if cur.last() != Some(&(ax, ay)) {
            if cur.len() >= 2 {
                lines.push(std::mem::take(&mut cur));
            }
            cur = vec![(ax, ay)];
        }
        cur.push((bx, by));
    }
    if cur.len() >= 2 {
        lines.push(cur);
    }
    (!lines.is_empty()).then(|| multi_line(&lines))
}

/// Planned spray length (m) and the part of it the vehicle flew with the pump running
/// (within [`ON_LEG_M`] of its pump-on track), over all `samples`.
pub fn sprayed_length(legs: &[SprayLeg], samples: &[&Sample], origin: (f64, f64)) -> (f64, f64) {
    sprayed_length_of_flights(legs, &[samples], origin)
}

/// As [`sprayed_length`] for several flights of the same legs (an aborted sortie and its
/// resume): a leg counts as sprayed where any of them pumped along it. Tracks are joined
/// only within each flight.
pub fn sprayed_length_of_flights(
    legs: &[SprayLeg],
    flights: &[&[&Sample]],
    origin: (f64, f64),
) -> (f64, f64) {
    let planned = multi_line(
        &legs
            .iter()
            .map(|l| vec![local(origin, l.from), local(origin, l.to)])
            .collect::<Vec<_>>(),
    );
    let total = planned.length().expect("length");
    let mut cover: Option<Geometry> = None;
    for samples in flights {
        let Some(track) = pumped_track(samples, origin) else {
            continue;
        };
        let near = track.buffer(ON_LEG_M, 8).expect("buffer");
        cover = Some(match cover {
            Some(c) => c.union(&near).expect("union"),
            None => near,
        });
    }
    let Some(cover) = cover else {
        return (total, 0.0);
    };
    let sprayed = planned
        .intersection(&cover)
        .expect("intersection")
        .length()
        .expect("length");
    (total, sprayed)
}

/// Length (m) of the pump-on track outside the fence region.
pub fn sprayed_outside(samples: &[&Sample], region: &Geometry, origin: (f64, f64)) -> f64 {
    pumped_track(samples, origin).map_or(0.0, |t| {
        t.difference(region)
            .expect("difference")
            .length()
            .expect("length")
    })
}

/// Area (m²) the pump-on track (segments where the pump switched counted by `rule`) sprayed
/// with a `swath_m` boom: each segment buffered by half the swath with flat ends, all unioned.
pub fn sprayed_area(
    samples: &[&Sample],
    origin: (f64, f64),
    swath_m: f64,
    rule: PumpSwitch,
) -> f64 {
    let Some(track) = pumped_track_by(samples, origin, rule) else {
        return 0.0;
    };
    let params = geos::BufferParams::builder()
        .end_cap_style(geos::CapStyle::Flat)
        .join_style(geos::JoinStyle::Round)
        .quadrant_segments(8)
        .build()
        .expect("buffer params");
    track
        .buffer_with_params(swath_m / 2.0, &params)
        .expect("buffer")
        .area()
        .expect("area")
}

/// The spray legs the pump-on track covers least: (leg index, planned m, sprayed m) of every
/// leg below `below` (a fraction), for a failure message.
pub fn leg_shortfalls(
    legs: &[SprayLeg],
    samples: &[&Sample],
    origin: (f64, f64),
    below: f64,
) -> Vec<(usize, f64, f64)> {
    legs.iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let (planned, sprayed) = sprayed_length(std::slice::from_ref(l), samples, origin);
            (sprayed < below * planned).then_some((i, planned, sprayed))
        })
        .collect()
}

/// As [`leg_shortfalls`] for several flights of the same legs (see
/// [`sprayed_length_of_flights`]): (leg index, planned m, sprayed m by any of them).
pub fn leg_shortfalls_of_flights(
    legs: &[SprayLeg],
    flights: &[&[&Sample]],
    origin: (f64, f64),
    below: f64,
) -> Vec<(usize, f64, f64)> {
    legs.iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let (planned, sprayed) =
                sprayed_length_of_flights(std::slice::from_ref(l), flights, origin);
            (sprayed < below * planned).then_some((i, planned, sprayed))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 5 Hz straight track east at 5 m/s (1 m a report), pumping on `on` (report indices).
    fn track(n: usize, on: std::ops::Range<usize>, dt: f64) -> Vec<Sample> {
        let origin = (36.9, 139.98);
        let at = std::time::Instant::now();
        (0..n)
            .map(|i| Sample {
                t: i as f64 * dt,
                at,
                current: 1,
                current_since: 0.0,
                pump_pwm: if on.contains(&i) { 1900 } else { PUMP_OFF_PWM },
                armed: true,
                rel_alt_m: 2.0,
                pos: Some((
                    origin.0,
                    origin.1 + i as f64 / (111_320.0 * origin.0.to_radians().cos()),
                )),
                mode: 3,
            })
            .collect()
    }

    #[test]
    fn a_pump_switch_between_reports_counts_half_a_segment_when_reports_are_dense() {
        let origin = (36.9, 139.98);
        // Pumping at reports 10..=89: 79 m with both ends on, 81 m with either end on.
        let dense = track(100, 10..90, 0.2);
        let refs: Vec<&Sample> = dense.iter().collect();
        let area = |rule| sprayed_area(&refs, origin, 4.0, rule);
        assert!((area(PumpSwitch::Excluded) - 79.0 * 4.0).abs() < 0.5);
        assert!((area(PumpSwitch::Midpoint) - 80.0 * 4.0).abs() < 0.5);
        assert!((area(PumpSwitch::Whole) - 81.0 * 4.0).abs() < 0.5);
        // Reports 2 s apart say nothing about where between them the pump switched.
        let sparse = track(100, 10..90, 2.0);
        let refs: Vec<&Sample> = sparse.iter().collect();
        let mid = sprayed_area(&refs, origin, 4.0, PumpSwitch::Midpoint);
        assert!((mid - 79.0 * 4.0).abs() < 0.5, "{mid}");
    }

    #[test]
    fn a_turn_is_swept_round_on_its_outside_as_a_boom_sweeps_it() {
        let origin = (36.9, 139.98);
        // 10 m east, then 10 m north, pumping all the way, a report every metre.
        let mut samples = track(11, 0..11, 0.2);
        let north: Vec<Sample> = (1..=10)
            .map(|i| {
                let mut s = samples[10];
                s.t += f64::from(i) * 0.2;
                let (lat, lon) = s.pos.unwrap();
                s.pos = Some((lat + f64::from(i) / 111_320.0, lon));
                s
            })
            .collect();
        samples.extend(north);
        let refs: Vec<&Sample> = samples.iter().collect();
        let area = sprayed_area(&refs, origin, 5.0, PumpSwitch::Excluded);
        // Two 10 × 5 m strips, less their 2.5 × 2.5 m overlap, plus the quarter disc of
        // radius 2.5 m on the turn's outside.
        let want = 100.0 - 6.25 + std::f64::consts::PI * 2.5 * 2.5 / 4.0;
        assert!((area - want).abs() < 0.3, "{area} vs {want}");
    }
}
