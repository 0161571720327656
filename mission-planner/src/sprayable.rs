//! Sprayable area: field − edge margin − exclusion zones (with clearance) − drift buffers.

use crate::fence;
use crate::region::Region;
use geo::{BooleanOps, Buffer, MultiPolygon, Polygon, unary_union};

/// The regions derived from a field, all in local metres.
#[derive(Debug, Clone)]
pub(crate) struct Areas {
    /// Field − edge margin − buffered exclusion zones − drift buffers: where spray may land.
    pub raw: MultiPolygon,
    /// Where the sprayer's centre may be so the whole spray disc lands in `raw` (inset by half a swath).
    pub centre: MultiPolygon,
    /// The part of `raw` a spray disc can reach (`centre` grown back by half a swath, the
    /// morphological opening of `raw`): the sprayable area coverage is measured against.
    pub reachable: MultiPolygon,
    /// Where the drone may be at all: the field inset by the fence margin, minus the exclusion
    /// zones grown by the larger of the margin and half the clearance (see [`crate::fence`]).
    pub allowed: MultiPolygon,
    /// Where legs are planned: `allowed` inset by [`fence::SLACK_M`].
    pub transit: MultiPolygon,
}

fn inset(mp: &MultiPolygon, d: f64) -> MultiPolygon {
    if d <= 0.0 { mp.clone() } else { mp.buffer(-d) }
}

/// The sprayable and flyable regions of a local field polygon.
///
/// # Examples
/// ```
/// use geo::{Area, polygon};
/// let field = polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 50.0), (x: 0.0, y: 50.0)];
/// let tree = polygon![(x: 40.0, y: 20.0), (x: 42.0, y: 20.0), (x: 42.0, y: 22.0), (x: 40.0, y: 22.0)];
/// let a = mission_planner::sprayable_area(&field, &[tree], &[], 1.0, 2.0, 5.0);
/// // 98 × 48 minus the tree grown by 2 m (about 6 × 6 with round corners).
/// assert!((a.unsigned_area() - (98.0 * 48.0 - 32.6)).abs() < 1.0);
/// ```
pub fn sprayable_area(
    field: &Polygon,
    exclusions: &[Polygon],
    sensitive: &[Polygon],
    edge_margin: f64,
    clearance: f64,
    drift_buffer: f64,
) -> MultiPolygon {
    let field = MultiPolygon(vec![field.clone()]);
    let mut obstacles: Vec<MultiPolygon> = exclusions.iter().map(|z| grow(z, clearance)).collect();
    obstacles.extend(sensitive.iter().map(|z| grow(z, drift_buffer)));
    let base = inset(&field, edge_margin);
    if obstacles.is_empty() {
        return base;
    }
    let blocked = unary_union(obstacles.iter());
    base.difference(&blocked)
}

fn grow(z: &Polygon, d: f64) -> MultiPolygon {
    if d <= 0.0 {
        MultiPolygon(vec![z.clone()])
    } else {
        z.buffer(d)
    }
}

/// The margins of one plan, metres.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Margins {
    /// Strip along the field boundary that is not sprayed.
    pub edge: f64,
    /// Clearance around exclusion zones for spraying (half of it for flying).
    pub clearance: f64,
    /// No-spray buffer around sensitive zones.
    pub drift: f64,
    /// Distance every leg keeps from the geofence.
    pub fence: f64,
}

impl Margins {
    /// Distance legs keep from exclusion zones: the fence margin, or half the clearance if larger.
    pub fn zone_keep(&self) -> f64 {
        self.fence.max(self.clearance / 2.0)
    }
}

/// Extra depth beyond the planning region below which the spray centre region is clipped to it
/// (the headland rings are simplified by 0.05 m; buffers are polygonal), metres.
const CENTRE_SAFETY_M: f64 = 0.1;

/// The part of `raw` spray discs centred in `centre` reach (`centre` grown by half a swath).
pub(crate) fn reachable(
    centre: &MultiPolygon,
    raw: &MultiPolygon,
    swath_width: f64,
) -> MultiPolygon {
    if centre.0.is_empty() {
        MultiPolygon(vec![])
    } else {
        centre.buffer(swath_width / 2.0).intersection(raw)
    }
}

/// All regions the later stages need.
pub(crate) fn areas(
    field: &Polygon,
    exclusions: &[Polygon],
    sensitive: &[Polygon],
    m: Margins,
    swath_width: f64,
) -> Areas {
    let (edge_margin, clearance, drift_buffer) = (m.edge, m.clearance, m.drift);
    let raw = sprayable_area(
        field,
        exclusions,
        sensitive,
        edge_margin,
        clearance,
        drift_buffer,
    );
    let allowed = fence::allowed_region(field, exclusions, m.fence, m.zone_keep());
    let transit = fence::planning_region(field, exclusions, m.fence, m.zone_keep());
    let mut centre = inset(&raw, swath_width / 2.0);
    // The spray centre is half a swath inside the sprayable area; where that is not deeper than
    // the planning region (narrow swaths, a wide fence margin, the planning region's mitred
    // corners), clip it so spray legs keep the fence margin too and the router reaches them.
    if !centre.0.is_empty() {
        let planning = Region::new(&transit);
        let inside = centre.0.iter().all(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .all(|r| r.0.windows(2).all(|w| planning.segment_inside(w[0], w[1])))
        });
        if !inside {
            centre = centre.intersection(&inset(&transit, CENTRE_SAFETY_M));
        }
    }
    let reachable = reachable(&centre, &raw, swath_width);
    Areas {
        raw,
        centre,
        reachable,
        allowed,
        transit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, polygon};

    #[test]
    fn opening_removes_slivers_narrower_than_a_swath() {
        // An L: a 40 × 40 square with a 2 m wide, 30 m long arm.
        let field = polygon![(x: 0.0, y: 0.0), (x: 70.0, y: 0.0), (x: 70.0, y: 2.0), (x: 40.0, y: 2.0), (x: 40.0, y: 40.0), (x: 0.0, y: 40.0)];
        let m = Margins {
            edge: 0.0,
            clearance: 0.0,
            drift: 0.0,
            fence: 0.0,
        };
        let a = areas(&field, &[], &[], m, 5.0);
        assert!((a.raw.unsigned_area() - (1600.0 + 60.0)).abs() < 1e-6);
        // The arm is narrower than the swath, so it is unreachable; the square's corners lose a little.
        let lost = a.raw.unsigned_area() - a.reachable.unsigned_area();
        assert!(lost > 60.0 && lost < 70.0, "{lost}");
        assert!((a.allowed.unsigned_area() - field.unsigned_area()).abs() < 1e-6);
    }
}
