//! Headland rings: closed passes along the sprayable boundary, one swath apart.

use geo::{
    Area, BooleanOps, Buffer, Contains, Distance, Euclidean, Length, LineString, MultiLineString,
    MultiPolygon, Simplify,
};

/// Headland rings are simplified (Douglas–Peucker) to this tolerance, metres: the buffer's arcs
/// would otherwise become dozens of waypoints, and 0.05 m is well inside the half-swath and
/// clearance margins that separate the ring from the field edge and the zones.
const SIMPLIFY_M: f64 = 0.05;

/// Waypoints of a headland ring closer than this, metres, are a rounded corner to fly as one.
///
/// A corner rounded by the buffers around a zone becomes waypoints under a metre apart, along
/// which ArduCopter cannot hold the sprayer's minimum speed (AC_Sprayer: SPRAY_SPEED_MIN
/// 1 m/s by default, the pump stops after 1 s below it), so a real vehicle flew such corners
/// dry.
const MIN_CORNER_LEG_M: f64 = 2.0;

/// Legs of a headland ring shorter than this, metres, that follow a curve are merged into
/// chords at least this long where the chord stays inside the ring's region and within
/// [`CURVE_SAG_M`] of the curve.
///
/// ArduCopter plans each straight leg from rest to rest (its S-curve, `telemetry::wpnav`), so
/// along a curve drawn as short legs it never flies faster than one leg allows: a stock
/// copter (`WPNAV_JERK` 1 m/s³) tops out at 0.90 m/s on 2 m legs, under AC_Sprayer's
/// 1 m/s `SPRAY_SPEED_MIN`, and its pump stops there; on 4 m legs it reaches 1.46 m/s. A
/// test in `tests/` holds this figure to that model.
pub const MIN_RING_LEG_M: f64 = 4.0;

/// How far, metres, a merged chord may lie inside the curve it replaces: the strip it leaves
/// unsprayed along the edge is at most this wide (5 % of a 5 m swath).
const CURVE_SAG_M: f64 = 0.25;

/// Largest turn one mitred corner may replace, degrees: beyond it the mitre point lies far
/// out and the corner is left as it is.
const MAX_MITRE_TURN_DEG: f64 = 120.0;

/// A ring's own region grown by [`SIMPLIFY_M`], where its corrected legs may lie: built only
/// for a ring that has legs to correct (most have none, and the buffer is the costliest step
/// here), once for both corrections.
struct Within<'a> {
    polygon: &'a geo::Polygon,
    grown: std::cell::OnceCell<MultiPolygon>,
}

impl<'a> Within<'a> {
    fn new(polygon: &'a geo::Polygon) -> Self {
        Self {
            polygon,
            grown: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> &MultiPolygon {
        self.grown
            .get_or_init(|| MultiPolygon(vec![self.polygon.clone()]).buffer(SIMPLIFY_M + 1e-6))
    }
}

/// A closed ring's vertices without the closing repeat; leg `i` runs from vertex `i` to the
/// next.
struct Legs {
    pts: Vec<geo::Coord>,
}

impl Legs {
    fn of(ring: &LineString) -> Self {
        Self {
            pts: ring.0[..ring.0.len().saturating_sub(1)].to_vec(),
        }
    }

    /// Length of leg `i`, metres.
    fn len(&self, i: usize) -> f64 {
        let n = self.pts.len();
        let (a, b) = (self.pts[i % n], self.pts[(i + 1) % n]);
        (b.x - a.x).hypot(b.y - a.y)
    }

    /// The first leg at least `min` long: a correction starts there, so every run of shorter
    /// legs is whole.
    fn first_at_least(&self, min: f64) -> Option<usize> {
        (0..self.pts.len()).find(|&i| self.len(i) >= min)
    }
}

/// `ring` (closed) with every run of legs shorter than [`MIN_CORNER_LEG_M`] between two
/// longer legs replaced by the point where those two legs' lines meet, where the new corner
/// keeps the ring inside `region` (the ring's own region, within the [`SIMPLIFY_M`] the
/// simplification already allows), else by chords at least that long that stay inside. Around a zone, where the buffers
/// round the corners, the mitre point lies farther from the zone than the arc, so the pass
/// never moves toward the zone or the field edge; where it would leave the region (a rounded
/// corner of the region itself) the arc is kept. The coverage check measures the result.
fn mitre_round_corners(ring: &LineString, region: &Within) -> LineString {
    let legs = Legs::of(ring);
    let (pts, n, len) = (&legs.pts, legs.pts.len(), |i: usize| legs.len(i));
    let Some(start) = legs.first_at_least(MIN_CORNER_LEG_M) else {
        return ring.clone();
    };
    let within = || region.get();
    let mut out: Vec<geo::Coord> = Vec::with_capacity(n + 1);
    let mut i = start;
    let mut steps = 0;
    while steps < n {
        // Leg i is long; the legs after it up to the next long leg j are short.
        out.push(pts[i]);
        let a = pts[i];
        let b = pts[(i + 1) % n];
        let mut j = (i + 1) % n;
        let mut k = 0;
        while len(j) < MIN_CORNER_LEG_M && k < n {
            j = (j + 1) % n;
            k += 1;
        }
        let next = (j + 1) % n;
        if k >= 2 {
            // Short legs from b to pts[j]; the long leg j runs pts[j] → pts[next].
            let (c, d) = (pts[j], pts[next]);
            if let Some(x) = meet(a, b, c, d) {
                let candidate = LineString(vec![a, x, d]);
                if within().contains(&candidate) {
                    out.push(x);
                    steps += k + 1;
                    i = j;
                    continue;
                }
            }
            // A rounded corner beside a sharp one (the two long legs nearly parallel, so they
            // meet far away): two mitres around one short leg of the arc kept as a tangent,
            // the long leg before it meeting its line and its line meeting the long leg after.
            let tangent = (i + 1..i + 1 + k).find_map(|m| {
                let (p, q) = (pts[m % n], pts[(m + 1) % n]);
                let x1 = if m % n == (i + 1) % n {
                    Some(b)
                } else {
                    meet(a, b, p, q)
                }?;
                let x2 = if (m + 1) % n == j {
                    Some(c)
                } else {
                    meet(p, q, c, d)
                }?;
                let path = LineString(vec![a, x1, x2, d]);
                within().contains(&path).then_some([x1, x2])
            });
            if let Some([x1, x2]) = tangent {
                out.push(x1);
                if x2 != c {
                    out.push(x2);
                }
                steps += k + 1;
                i = j;
                continue;
            }
            // A corner of the region itself (the arc bulges outward): chords of at least the
            // minimum leg, which stay inside.
            let run: Vec<geo::Coord> = (0..=k).map(|q| pts[(i + 1 + q) % n]).collect();
            let far = |p: geo::Coord, q: geo::Coord| (q - p).x.hypot((q - p).y) >= MIN_CORNER_LEG_M;
            let mut picks = vec![run[0]];
            for &v in &run[1..k] {
                if far(*picks.last().expect("one pick"), v) && far(v, run[k]) {
                    picks.push(v);
                }
            }
            picks.push(run[k]);
            let mut path = vec![a];
            path.extend(&picks);
            path.push(d);
            if within().contains(&LineString(path)) {
                out.extend(&picks[..picks.len() - 1]);
                steps += k + 1;
                i = j;
                continue;
            }
        }
        // Keep the short legs as they are.
        let mut m = (i + 1) % n;
        while m != j {
            out.push(pts[m]);
            m = (m + 1) % n;
        }
        steps += k + 1;
        i = j;
    }
    if out.len() < 3 {
        return ring.clone();
    }
    out.push(out[0]);
    LineString(out)
}

/// `ring` (closed) with every run of legs shorter than [`MIN_RING_LEG_M`] flown as fewer,
/// longer chords: from the run's first vertex, each chord reaches the farthest vertex of the
/// run such that every vertex it skips lies within [`CURVE_SAG_M`] of it and the chord stays
/// inside `region` (within the [`SIMPLIFY_M`] the simplification allows). So a convex curve
/// becomes chords just inside it; a concave one, whose chords would leave the region, keeps
/// its legs. The run's ends stay where they are, so the long legs around it do not move.
fn straighten_curves(ring: &LineString, region: &Within) -> LineString {
    let legs = Legs::of(ring);
    let (pts, n, len) = (&legs.pts, legs.pts.len(), |i: usize| legs.len(i));
    let Some(start) = legs.first_at_least(MIN_RING_LEG_M) else {
        return ring.clone();
    };
    let within = || region.get();
    let at = |q: usize| pts[q % n];
    // Every vertex strictly between a and b (indices along the ring) within the sag of a → b.
    let close = |a: usize, b: usize| {
        let line = geo::Line::new(at(a), at(b));
        (a + 1..b).all(|q| Euclidean.distance(&line, &geo::Point::from(at(q))) <= CURVE_SAG_M)
    };
    let mut out: Vec<geo::Coord> = Vec::with_capacity(n + 1);
    let mut i = start;
    let end = start + n;
    while i < end {
        out.push(at(i));
        if len(i) >= MIN_RING_LEG_M {
            i += 1;
            continue;
        }
        // A run of short legs from vertex i to vertex j.
        let mut j = i;
        while j < end && len(j) < MIN_RING_LEG_M {
            j += 1;
        }
        let mut a = i;
        while a < j {
            let mut b = a + 1;
            while b < j && close(a, b + 1) && within().contains(&geo::Line::new(at(a), at(b + 1))) {
                b += 1;
            }
            if b < j {
                out.push(at(b));
            }
            a = b;
        }
        i = j;
    }
    if out.len() < 3 {
        return ring.clone();
    }
    out.push(out[0]);
    LineString(out)
}

/// Where the line through `a → b` (ahead of `b`) meets the line through `c → d` (behind
/// `c`), if the turn between them is at most [`MAX_MITRE_TURN_DEG`].
fn meet(a: geo::Coord, b: geo::Coord, c: geo::Coord, d: geo::Coord) -> Option<geo::Coord> {
    let (u, v) = (b - a, d - c);
    let cross = u.x * v.y - u.y * v.x;
    let dot = u.x * v.x + u.y * v.y;
    let turn = cross.atan2(dot).abs().to_degrees();
    if !(1.0..=MAX_MITRE_TURN_DEG).contains(&turn) {
        return None;
    }
    // b + t·u = c + s·v
    let w = c - b;
    let t = (w.x * v.y - w.y * v.x) / cross;
    let s = (w.x * u.y - w.y * u.x) / cross;
    (t > 0.0 && s < 0.0 && t.is_finite()).then(|| b + u * t)
}

/// The regions the headland stage hands to the swath stage.
#[derive(Debug, Clone)]
pub(crate) struct Headland {
    /// Closed rings to fly with the spray on, outermost pass first.
    pub rings: Vec<LineString>,
    /// Where interior swath legs may lie (the centre region: half a swath inside the sprayable area).
    pub swath_clip: MultiPolygon,
    /// What the interior swaths must cover (everything deeper than the headland strip).
    pub interior: MultiPolygon,
}

/// Headland rings of a centre region (`sprayable` inset by half a swath), `passes` deep.
///
/// Pass `k` flies every ring (outer boundary and holes) of the centre region inset by `k·w`, so
/// together the passes cover the strip `passes·w` wide along the sprayable boundary.
///
/// # Examples
/// ```
/// use geo::{MultiPolygon, polygon};
/// let centre = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 40.0, y: 0.0), (x: 40.0, y: 20.0), (x: 0.0, y: 20.0)]]);
/// let rings = mission_planner::headland_rings(&centre, 5.0, 2);
/// assert_eq!(rings.len(), 2);
/// ```
pub fn headland_rings(centre: &MultiPolygon, swath_width: f64, passes: u32) -> Vec<LineString> {
    split(centre, swath_width, passes).rings
}

pub(crate) fn split(centre: &MultiPolygon, w: f64, passes: u32) -> Headland {
    let mut rings = Vec::new();
    let mut n_outer = 0;
    let mut region = centre.clone();
    for k in 0..passes {
        if k > 0 {
            region = centre.buffer(-(f64::from(k) * w));
        }
        if region.0.is_empty() {
            break;
        }
        for p in &region.0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                // A tiny ring (a sliver of the centre region) must still be flown: the spray
                // disc around it is part of the sprayable area. Keep it unsimplified then.
                let simple = r.simplify(SIMPLIFY_M);
                let r = if simple.0.len() >= 4 {
                    let region = Within::new(p);
                    straighten_curves(&mitre_round_corners(&simple, &region), &region)
                } else {
                    r.clone()
                };
                if r.0.len() >= 4 && Euclidean.length(&r) > 1e-3 {
                    rings.push(r);
                }
            }
        }
        if k == 0 {
            n_outer = rings.len();
        }
    }
    let (swath_clip, interior) = match passes {
        0 => (centre.clone(), centre.clone()),
        // One pass covers everything within one swath of the sprayable boundary: the interior
        // swaths cover the rest (the region deeper than a swath), with legs inside `centre`.
        1 => (centre.clone(), centre.buffer(-w / 2.0)),
        // Inner passes vanish where the field is thinner than they are deep, so the interior is
        // what the outer pass leaves (as for one pass) minus what the inner passes really spray.
        _ => {
            let inner: Vec<LineString> = rings.iter().skip(n_outer).cloned().collect();
            let base = centre.buffer(-w / 2.0);
            let interior = if inner.is_empty() {
                base
            } else {
                let sprayed = MultiLineString(inner).buffer(w / 2.0 - 0.02);
                let rest = base.difference(&sprayed);
                MultiPolygon(
                    rest.0
                        .into_iter()
                        .filter(|p| p.unsigned_area() > 0.05 * w * w)
                        .collect(),
                )
            };
            (centre.clone(), interior)
        }
    };
    Headland {
        rings,
        swath_clip,
        interior,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, polygon};

    /// A 40 × 30 m centre region around a 6 × 6 m zone grown by 3.5 m with round corners: the
    /// ring around the zone comes out of the buffer as arcs of sub-metre legs.
    fn region_around_a_zone() -> MultiPolygon {
        let outer = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 40.0, y: 0.0), (x: 40.0, y: 30.0), (x: 0.0, y: 30.0)
        ]]);
        let zone = MultiPolygon(vec![polygon![
            (x: 17.0, y: 12.0), (x: 23.0, y: 12.0), (x: 23.0, y: 18.0), (x: 17.0, y: 18.0)
        ]]);
        outer.difference(&zone.buffer(3.5))
    }

    #[test]
    fn rounded_corners_around_a_zone_become_one_waypoint_each_farther_from_the_zone() {
        let centre = region_around_a_zone();
        let raw = &centre.0[0].interiors()[0];
        let short_raw = raw
            .lines()
            .filter(|l| Euclidean.length(l) < MIN_CORNER_LEG_M)
            .count();
        assert!(short_raw > 8, "the buffer's arcs: {short_raw} short legs");
        let rings = split(&centre, 5.0, 1).rings;
        let around = rings
            .iter()
            .find(|r| r.0.iter().all(|c| (c.x - 20.0).abs() < 10.0))
            .expect("the ring around the zone");
        let short: Vec<_> = around
            .lines()
            .filter(|l| Euclidean.length(l) < MIN_CORNER_LEG_M)
            .collect();
        assert!(short.is_empty(), "legs under the minimum: {short:?}");
        // Never closer to the zone than the round ring was (3.5 m), less the simplification.
        let zone = polygon![
            (x: 17.0, y: 12.0), (x: 23.0, y: 12.0), (x: 23.0, y: 18.0), (x: 17.0, y: 18.0)
        ];
        for l in around.lines() {
            let d = Euclidean.distance(&l, &zone);
            assert!(d >= 3.5 - SIMPLIFY_M - 1e-9, "{l:?} is {d} m from the zone");
        }
    }

    #[test]
    fn rounded_corners_of_the_region_itself_become_chords_inside_it() {
        // A region with round convex corners (a rectangle grown by 3 m): mitre points would
        // leave it, chords of at least the minimum leg stay inside.
        let rect = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 20.0, y: 0.0), (x: 20.0, y: 10.0), (x: 0.0, y: 10.0)
        ]])
        .buffer(3.0);
        let rings = split(&rect, 5.0, 1).rings;
        let within = rect.buffer(SIMPLIFY_M + 1e-6);
        for r in &rings {
            assert!(within.contains(r), "{r:?} leaves the region");
            let short = r
                .lines()
                .filter(|l| Euclidean.length(l) < MIN_CORNER_LEG_M)
                .count();
            assert_eq!(short, 0, "{r:?}");
        }
    }

    /// A 60 m wide region whose top edge is an arc of radius `r` drawn as legs of about `leg`
    /// metres, bulging outward (`convex`) or into the region.
    fn region_with_a_curve(r: f64, leg: f64, convex: bool) -> geo::Polygon {
        let t0 = (30.0 / r).acos();
        let c = (r * r - 900.0).sqrt();
        let steps = ((r * (std::f64::consts::PI - 2.0 * t0)) / leg).round() as usize;
        let mut pts = vec![(0.0, -30.0), (60.0, -30.0)];
        for k in 0..=steps {
            let t = t0 + (std::f64::consts::PI - 2.0 * t0) * k as f64 / steps as f64;
            let y = if convex {
                -c + r * t.sin()
            } else {
                c - r * t.sin()
            };
            pts.push((30.0 + r * t.cos(), y));
        }
        geo::Polygon::new(LineString::from(pts), vec![])
    }

    #[test]
    fn a_convex_curve_of_short_legs_becomes_chords_a_copter_flies_at_speed() {
        let p = region_with_a_curve(40.0, 2.0, true);
        let ring = p.exterior().clone();
        let short_before = ring
            .lines()
            .filter(|l| Euclidean.length(l) < MIN_RING_LEG_M)
            .count();
        assert!(short_before > 10, "{short_before}");
        let out = straighten_curves(&ring, &Within::new(&p));
        let within = MultiPolygon(vec![p.clone()]).buffer(SIMPLIFY_M + 1e-6);
        assert!(within.contains(&out), "the chords stay inside");
        let legs: Vec<f64> = out.lines().map(|l| Euclidean.length(&l)).collect();
        let short = legs.iter().filter(|&&l| l < MIN_RING_LEG_M).count();
        assert!(
            short <= 1,
            "at most the run's last chord is short: {legs:?}"
        );
        // Every original vertex lies within the sag of the new ring.
        for c in &ring.0 {
            let d = Euclidean.distance(&out, &geo::Point::from(*c));
            assert!(d <= CURVE_SAG_M + 1e-9, "{c:?} is {d} m from the chords");
        }
    }

    #[test]
    fn a_concave_curve_keeps_its_legs_rather_than_leave_the_region() {
        let p = region_with_a_curve(40.0, 2.0, false);
        let ring = p.exterior().clone();
        let out = straighten_curves(&ring, &Within::new(&p));
        let within = MultiPolygon(vec![p.clone()]).buffer(SIMPLIFY_M + 1e-6);
        assert!(within.contains(&out));
        // Only chords within the simplification's 5 cm of the curve: most legs stay short.
        let short = |r: &LineString| {
            r.lines()
                .filter(|l| Euclidean.length(l) < MIN_RING_LEG_M)
                .count()
        };
        assert!(
            2 * short(&out) >= short(&ring),
            "{} of {} short legs left: chords cut across the outside",
            short(&out),
            short(&ring)
        );
    }
}
