//! Sprayable area: field − edge margin − exclusion zones (with clearance) − drift buffers.

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
    /// Where the drone may fly at all: the field minus exclusion zones with half the clearance.
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

/// All regions the later stages need.
pub(crate) fn areas(
    field: &Polygon,
    exclusions: &[Polygon],
    sensitive: &[Polygon],
    edge_margin: f64,
    clearance: f64,
    drift_buffer: f64,
    swath_width: f64,
) -> Areas {
    let raw = sprayable_area(
        field,
        exclusions,
        sensitive,
        edge_margin,
        clearance,
        drift_buffer,
    );
    let centre = inset(&raw, swath_width / 2.0);
    let reachable = if centre.0.is_empty() {
        MultiPolygon(vec![])
    } else {
        centre.buffer(swath_width / 2.0)
    };
    let reachable = reachable.intersection(&raw);
    let transit = if exclusions.is_empty() {
        MultiPolygon(vec![field.clone()])
    } else {
        let blocked: Vec<MultiPolygon> = exclusions
            .iter()
            .map(|z| grow(z, clearance / 2.0))
            .collect();
        MultiPolygon(vec![field.clone()]).difference(&unary_union(blocked.iter()))
    };
    Areas {
        raw,
        centre,
        reachable,
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
        let a = areas(&field, &[], &[], 0.0, 0.0, 0.0, 5.0);
        assert!((a.raw.unsigned_area() - (1600.0 + 60.0)).abs() < 1e-6);
        // The arm is narrower than the swath, so it is unreachable; the square's corners lose a little.
        let lost = a.raw.unsigned_area() - a.reachable.unsigned_area();
        assert!(lost > 60.0 && lost < 70.0, "{lost}");
        assert!((a.transit.unsigned_area() - field.unsigned_area()).abs() < 1e-6);
    }
}
