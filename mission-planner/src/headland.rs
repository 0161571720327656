//! Headland rings: closed passes along the sprayable boundary, one swath apart.

use geo::{
    Area, BooleanOps, Buffer, Euclidean, Length, LineString, MultiLineString, MultiPolygon,
    Simplify,
};

/// Headland rings are simplified (Douglas–Peucker) to this tolerance, metres: the buffer's arcs
/// would otherwise become dozens of waypoints, and 0.05 m is well inside the half-swath and
/// clearance margins that separate the ring from the field edge and the zones.
const SIMPLIFY_M: f64 = 0.05;

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
                    simple
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
