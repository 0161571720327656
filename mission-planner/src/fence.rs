//! The geofence uploaded with a plan, and the region every leg of the plan keeps to: the
//! fence's inside minus the fence margin.
//!
//! The fence is built from the field: its outer boundary is the inclusion polygon, its holes
//! and the exclusion zones are exclusion polygons. The autopilot breaches on the fence line
//! itself, and ArduPilot reports a *margin* breach (and its avoidance stops the vehicle) within
//! `FENCE_MARGIN` of it (`AC_Fence::check_fence_polygon`, `get_margin_ne_m`). So every leg the
//! planner emits (ferry, transit, refill return, resume, spray) stays inside the *allowed
//! region*: the inclusion polygon inset by the margin, minus every exclusion polygon grown by
//! the margin. Path and fence come from the same polygons and the same margin
//! ([`PlanConfig::fence_margin`](crate::PlanConfig::fence_margin)).
//!
//! **Launch outside the field.** An operator often takes off from the farm road beside the
//! paddy. With a fence that is only the field, ArduPilot refuses to arm there ("Vehicle
//! breaching Polygon fence", `AC_Fence::pre_arm_check`), and the ferry hop to the field is a
//! breach. Several inclusion polygons do not help: ArduPilot's default is their
//! *intersection* (`AC_PolyFence_loader::breached`, unless `FENCE_OPTIONS` asks for the union).
//! So when the refill point lies outside the allowed region, the inclusion polygon becomes the
//! field joined with a *launch corridor*: a strip [`CORRIDOR_HALF_WIDTH_M`] plus the margin to
//! either side of the straight hop from the refill point to the nearest point of the field's
//! allowed region, reaching that far behind the refill point too. The operator chose the launch
//! point, the corridor is only as long as the hop, and the vehicle may go nowhere else outside
//! the field.
//!
//! [`fit_fence`] fits a fence into the vehicle's point budget without giving up either promise
//! (legal paths stay inside, the vehicle is never allowed much beyond the real boundary).

use crate::error::PlanError;
use crate::plan::Plan;
use crate::region::Region;
use geo::algorithm::buffer::{BufferStyle, LineJoin};
use geo::{Area, BooleanOps, Buffer, Coord, LineString, MultiPolygon, Polygon, unary_union};

/// How far inside the allowed region the planner keeps its legs, metres: room for the 1e-8°
/// rounding of the mission file (about 1 mm) and for the polygonal arcs of the buffers, so the
/// emitted path measures exactly 0 m outside the allowed region.
pub(crate) const SLACK_M: f64 = 0.05;

/// Half the width of the launch corridor's flyable strip, metres (the fence lies the fence
/// margin further out): GNSS error and the wind on a straight hop at spray height.
pub const CORRIDOR_HALF_WIDTH_M: f64 = 2.0;

/// A geofence in the plan's local metres: what goes into the mission file's `geoFence`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fence {
    /// The inclusion ring (closed): the field's outer boundary, joined with the launch corridor
    /// when the refill point lies outside the field's allowed region.
    pub inclusion: LineString,
    /// Exclusion rings (closed): the holes of the inclusion polygon, then the exclusion zones.
    pub exclusions: Vec<LineString>,
    /// The distance every leg keeps from the fence, metres.
    pub margin_m: f64,
}

fn open_len(r: &LineString) -> usize {
    let n = r.0.len();
    if n > 1 && r.0.first() == r.0.last() {
        n - 1
    } else {
        n
    }
}

impl Fence {
    /// Vertices the vehicle stores: one fence item per polygon vertex (the closing point is not
    /// repeated), as ArduPilot's `MAV_CMD_NAV_FENCE_POLYGON_VERTEX_*` items count them.
    pub fn points(&self) -> usize {
        open_len(&self.inclusion) + self.exclusions.iter().map(open_len).sum::<usize>()
    }

    /// The inclusion ring as a polygon (no holes).
    pub fn inclusion_polygon(&self) -> Polygon {
        Polygon::new(self.inclusion.clone(), vec![])
    }
}

/// How the region's corners are offset: round (the exact distance, for the allowed region the
/// path is measured against) or mitred (for the planning region: a mitre lies beyond the round
/// arc, so the region only shrinks, and it adds one vertex per corner instead of an arc's
/// dozen, which keeps the router's visibility graph small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joins {
    Round,
    Mitre,
}

/// Mitres sharper than this are cut (still beyond the arc), radians.
const MITRE_LIMIT_RAD: f64 = 0.1;

fn offset(p: &MultiPolygon, d: f64, joins: Joins) -> MultiPolygon {
    if d == 0.0 {
        return p.clone();
    }
    match joins {
        Joins::Round => p.buffer(d),
        Joins::Mitre => {
            p.buffer_with_style(BufferStyle::new(d).line_join(LineJoin::Miter(MITRE_LIMIT_RAD)))
        }
    }
}

fn region_within(
    inclusion: &Polygon,
    zones: &[Polygon],
    inset: f64,
    zone_keep: f64,
    joins: Joins,
) -> MultiPolygon {
    let base = offset(&MultiPolygon(vec![inclusion.clone()]), -inset, joins);
    if zones.is_empty() || base.0.is_empty() {
        return base;
    }
    let grown: Vec<MultiPolygon> = zones
        .iter()
        .map(|z| offset(&MultiPolygon(vec![z.clone()]), zone_keep, joins))
        .collect();
    base.difference(&unary_union(grown.iter()))
}

/// The allowed region of an inclusion polygon (its holes are exclusions too): the polygon inset
/// by `margin`, minus every zone grown by `zone_keep` (at least the margin).
pub(crate) fn allowed_region(
    inclusion: &Polygon,
    zones: &[Polygon],
    margin: f64,
    zone_keep: f64,
) -> MultiPolygon {
    region_within(inclusion, zones, margin, zone_keep, Joins::Round)
}

/// Where legs are planned: inside the allowed region by [`SLACK_M`], with mitred corners.
pub(crate) fn planning_region(
    inclusion: &Polygon,
    zones: &[Polygon],
    margin: f64,
    zone_keep: f64,
) -> MultiPolygon {
    region_within(
        inclusion,
        zones,
        margin + SLACK_M,
        zone_keep + SLACK_M,
        Joins::Mitre,
    )
}

/// The field joined with the launch corridor from `refill` (outside the allowed region) to
/// `gate` (the nearest point of the field's planning region).
pub(crate) fn with_corridor(field: &Polygon, refill: Coord, gate: Coord, margin: f64) -> Polygon {
    let d = gate - refill;
    let len = d.x.hypot(d.y);
    let dir = if len > 1e-9 {
        Coord {
            x: d.x / len,
            y: d.y / len,
        }
    } else {
        Coord { x: 1.0, y: 0.0 }
    };
    let normal = Coord {
        x: -dir.y,
        y: dir.x,
    };
    let hw = CORRIDOR_HALF_WIDTH_M + margin;
    // Behind the refill point by the half width (the vehicle stands well inside), and past the
    // gate into the field by the margin and a metre, so the strip joins the allowed region.
    let back = refill - dir * hw;
    let front = gate + dir * (margin + 1.0);
    let rect = Polygon::new(
        LineString(vec![
            back + normal * hw,
            back - normal * hw,
            front - normal * hw,
            front + normal * hw,
            back + normal * hw,
        ]),
        vec![],
    );
    let joined = MultiPolygon(vec![field.clone()]).union(&MultiPolygon(vec![rect]));
    joined
        .0
        .into_iter()
        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
        .unwrap_or_else(|| field.clone())
}

/// The fence of an inclusion polygon and the exclusion zones.
pub(crate) fn build(inclusion: &Polygon, zones: &[Polygon], margin: f64) -> Fence {
    Fence {
        inclusion: inclusion.exterior().clone(),
        exclusions: inclusion
            .interiors()
            .iter()
            .chain(zones.iter().map(Polygon::exterior))
            .cloned()
            .collect(),
        margin_m: margin,
    }
}

/// What [`fit_fence`] did to fit a fence into a point budget.
#[derive(Debug, Clone, PartialEq)]
pub struct FenceFit {
    /// The fence to upload (the plan's own when it already fits).
    pub fence: Fence,
    /// The full fence it was fitted from.
    pub original: Fence,
    /// Vertices before.
    pub points_before: usize,
    /// Vertices after.
    pub points_after: usize,
    /// How far the simplified polygons may lie from the real ones, metres: the inclusion
    /// ring at most this far beyond the real boundary, each exclusion at most this far beyond
    /// its zone (never inside it). 0 when nothing was simplified; at most the fence margin.
    pub max_shift_m: f64,
    /// Exclusions left out of the uploaded fence (indexes into `original.exclusions`); the
    /// mission still keeps the margin from them.
    pub dropped_exclusions: Vec<usize>,
}

impl FenceFit {
    /// True when the fence was changed at all.
    pub fn changed(&self) -> bool {
        self.points_after != self.points_before || !self.dropped_exclusions.is_empty()
    }
}

/// Fits the plan's full fence (as built from the field, before any fitting [`plan`](crate::plan)
/// did) into `budget` vertices (what the vehicle can store, less any return point), keeping two
/// promises: the plan's allowed region (and so every leg) stays inside the simplified inclusion
/// polygon and outside every simplified exclusion, and the simplified fence lets the vehicle at
/// most the fence margin beyond the real boundary.
///
/// Rings are simplified to vertices of the ring itself, each shortcut lying in a band of width
/// `max_shift_m` to either side of the ring: for the inclusion, never into the allowed region;
/// for an exclusion, never into the zone (so it only ever grows) and never into the allowed
/// region. Every leg then keeps at least the margin less `max_shift_m` from the fitted fence.
/// The band starts at a quarter of the margin and widens to the whole margin only as far as the
/// budget needs. When even that does not fit, exclusions are left out of the fence (most
/// points first) but not out of the mission, which still keeps the margin from them.
///
/// # Errors
/// [`PlanError::FenceTooLarge`] when the simplified inclusion ring alone, or a budget below 3,
/// does not fit.
///
/// # Examples
/// ```
/// use mission_planner::{Field, LocalFrame, PlanConfig, Polygon, SwathWidth, fit_fence, plan};
/// // A 100 m × 60 m paddy surveyed with a point every metre: 320 fence points.
/// let frame = LocalFrame::new(139.98, 36.96);
/// let mut ring = Vec::new();
/// for i in 0..100 { ring.push((f64::from(i), 0.0)); }
/// for i in 0..60 { ring.push((100.0, f64::from(i))); }
/// for i in 0..100 { ring.push((100.0 - f64::from(i), 60.0)); }
/// for i in 0..60 { ring.push((0.0, 60.0 - f64::from(i))); }
/// let wgs: Vec<(f64, f64)> = ring
///     .iter()
///     .map(|&(x, y)| { let c = frame.to_wgs84((x, y).into()); (c.x, c.y) })
///     .collect();
/// let field = Field::new("paddy", &Polygon::new(wgs.into(), vec![]))?;
/// let mut cfg = PlanConfig::new(SwathWidth::new(5.0)?);
/// cfg.fence_points = None; // `plan` would fit 70 points itself
/// let mut p = plan(&field, &cfg)?;
/// assert_eq!(p.fence.points(), 320);
/// let fit = fit_fence(&p, 12)?; // a vehicle that stores 12
/// assert!(fit.points_after <= 12 && fit.dropped_exclusions.is_empty());
/// p.fence = fit.fence; // what `to_qgc_plan` writes from now on
/// # Ok::<(), mission_planner::PlanError>(())
/// ```
pub fn fit_fence(plan: &Plan, budget: usize) -> Result<FenceFit, PlanError> {
    let fence = plan.fence_fit.as_ref().map_or(&plan.fence, |f| &f.original);
    let before = fence.points();
    if before <= budget {
        return Ok(FenceFit {
            fence: fence.clone(),
            original: fence.clone(),
            points_before: before,
            points_after: before,
            max_shift_m: 0.0,
            dropped_exclusions: vec![],
        });
    }
    let too_large = |needed| PlanError::FenceTooLarge {
        field_id: plan.field_id.clone(),
        needed,
        budget,
    };
    let margin = fence.margin_m;
    let allowed = Region::new(&plan.allowed);
    let allowed_pts: Vec<Coord> = allowed.rings().iter().flatten().copied().collect();
    let mut best: Option<(Fence, f64)> = None;
    for k in [0.25, 0.5, 1.0] {
        let band = k * margin;
        if band <= 0.0 {
            continue;
        }
        // The band reaches `band` to either side of the boundary (at the full margin, inward
        // as far as the allowed region itself), so the path keeps margin − band from the
        // simplified fence.
        let outer = Region::new(&fence.inclusion_polygon().buffer(band));
        let inner = (k < 1.0).then(|| Region::new(&fence.inclusion_polygon().buffer(-band)));
        let inclusion = simplify_ring(&fence.inclusion, |a, b| {
            outer.segment_inside(a, b)
                && length_inside(&allowed, a, b) == 0.0
                && inner.as_ref().is_none_or(|r| length_inside(r, a, b) == 0.0)
        });
        // The simplified inclusion must still hold the whole allowed region.
        let inc_region = Region::new(&MultiPolygon(vec![Polygon::new(inclusion.clone(), vec![])]));
        let inclusion = if allowed_pts.iter().all(|&p| inc_region.contains(p)) && simple(&inclusion)
        {
            inclusion
        } else {
            fence.inclusion.clone()
        };
        let exclusions: Vec<LineString> = fence
            .exclusions
            .iter()
            .map(|z| {
                let zone = Region::new(&MultiPolygon(vec![Polygon::new(z.clone(), vec![])]));
                let outer = Region::new(&Polygon::new(z.clone(), vec![]).buffer(band));
                let s = simplify_ring(z, |a, b| {
                    outer.segment_inside(a, b)
                        && length_inside(&zone, a, b) == 0.0
                        && length_inside(&allowed, a, b) == 0.0
                });
                let s_region = Region::new(&MultiPolygon(vec![Polygon::new(s.clone(), vec![])]));
                let covers = z.0.iter().all(|&p| s_region.contains(p));
                let clear = allowed_pts.iter().all(|&p| !strictly_inside(&s_region, p));
                if covers && clear && simple(&s) {
                    s
                } else {
                    z.clone()
                }
            })
            .collect();
        let candidate = Fence {
            inclusion,
            exclusions,
            margin_m: margin,
        };
        let fits = candidate.points() <= budget;
        best = Some((candidate, band));
        if fits {
            break;
        }
    }
    let (mut simplified, band) = best.unwrap_or((fence.clone(), 0.0));
    let mut dropped = Vec::new();
    if simplified.points() > budget {
        // Leave out exclusions, most points first, until the rest fits.
        let mut order: Vec<usize> = (0..simplified.exclusions.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(open_len(&simplified.exclusions[i])));
        let mut total = simplified.points();
        for i in order {
            if total <= budget {
                break;
            }
            total -= open_len(&simplified.exclusions[i]);
            dropped.push(i);
        }
        dropped.sort_unstable();
        simplified.exclusions = simplified
            .exclusions
            .iter()
            .enumerate()
            .filter(|(i, _)| !dropped.contains(i))
            .map(|(_, r)| r.clone())
            .collect();
    }
    let after = simplified.points();
    if after > budget || budget < 3 {
        return Err(too_large(after));
    }
    Ok(FenceFit {
        fence: simplified,
        original: fence.clone(),
        points_before: before,
        points_after: after,
        max_shift_m: band,
        dropped_exclusions: dropped,
    })
}

/// Length of segment `a`→`b` inside `region` (touching its boundary counts as outside).
fn length_inside(region: &Region, a: Coord, b: Coord) -> f64 {
    let len = (b.x - a.x).hypot(b.y - a.y);
    let inside = len - region.length_outside(a, b);
    if inside > 1e-9 { inside } else { 0.0 }
}

/// True when `p` lies inside `region` and not on its boundary (within 1e-7 m).
fn strictly_inside(region: &Region, p: Coord) -> bool {
    region.contains(p)
        && region
            .nearest_boundary_point(p)
            .is_some_and(|q| (q.x - p.x).hypot(q.y - p.y) > 1e-7)
}

/// True when no two non-adjacent edges of the closed ring touch or cross.
fn simple(ring: &LineString) -> bool {
    let pts: Vec<Coord> = ring.0[..open_len(ring)].to_vec();
    let n = pts.len();
    if n < 3 {
        return false;
    }
    let orient =
        |a: Coord, b: Coord, c: Coord| (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
    for i in 0..n {
        let (a, b) = (pts[i], pts[(i + 1) % n]);
        for j in i + 1..n {
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            let (c, d) = (pts[j], pts[(j + 1) % n]);
            let (o1, o2) = (orient(a, b, c), orient(a, b, d));
            let (o3, o4) = (orient(c, d, a), orient(c, d, b));
            if o1 * o2 <= 0.0 && o3 * o4 <= 0.0 {
                let overlap_x = a.x.min(b.x) <= c.x.max(d.x) && c.x.min(d.x) <= a.x.max(b.x);
                let overlap_y = a.y.min(b.y) <= c.y.max(d.y) && c.y.min(d.y) <= a.y.max(b.y);
                if overlap_x && overlap_y {
                    return false;
                }
            }
        }
    }
    true
}

/// Starts tried per ring (spread evenly): the greedy walk depends on where it starts.
const STARTS: usize = 6;

/// The fewest-vertex ring found by greedy walks over the ring's own vertices: from each vertex
/// the walk jumps to the farthest following vertex whose shortcut `ok` accepts, scanning on
/// while shortcuts stay acceptable.
fn simplify_ring(ring: &LineString, ok: impl Fn(Coord, Coord) -> bool) -> LineString {
    let pts: Vec<Coord> = ring.0[..open_len(ring)].to_vec();
    let n = pts.len();
    if n <= 3 {
        return ring.clone();
    }
    let mut best: Vec<Coord> = pts.clone();
    let step = n.div_ceil(STARTS).max(1);
    for start in (0..n).step_by(step) {
        let mut out = vec![pts[start]];
        let mut i = 0;
        while i < n {
            let mut j = i + 1;
            while j < n && ok(pts[(start + i) % n], pts[(start + j + 1) % n]) {
                j += 1;
            }
            if j < n {
                out.push(pts[(start + j) % n]);
            }
            i = j;
            if out.len() >= best.len() {
                break;
            }
        }
        if out.len() >= 3 && out.len() < best.len() {
            best = out;
        }
    }
    let mut closed = best;
    closed.push(closed[0]);
    LineString(closed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, polygon};

    #[test]
    fn rings_with_crossing_edges_are_not_simple() {
        let square =
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
        assert!(simple(square.exterior()));
        let bow =
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 10.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0)];
        assert!(!simple(bow.exterior()));
    }

    #[test]
    fn collinear_points_are_dropped_within_the_band() {
        // A square with a point every metre, in a 1 m band: the greedy walk keeps the 4 corners.
        let mut pts = Vec::new();
        for i in 0..10 {
            pts.push(Coord {
                x: f64::from(i),
                y: 0.0,
            });
        }
        for i in 0..10 {
            pts.push(Coord {
                x: 10.0,
                y: f64::from(i),
            });
        }
        for i in 0..10 {
            pts.push(Coord {
                x: 10.0 - f64::from(i),
                y: 10.0,
            });
        }
        for i in 0..10 {
            pts.push(Coord {
                x: 0.0,
                y: 10.0 - f64::from(i),
            });
        }
        pts.push(pts[0]);
        let ring = LineString(pts);
        let square = Polygon::new(ring.clone(), vec![]);
        let outer = Region::new(&square.buffer(0.5));
        let inner = Region::new(&square.buffer(-0.5));
        let s = simplify_ring(&ring, |a, b| {
            outer.segment_inside(a, b) && length_inside(&inner, a, b) == 0.0
        });
        assert_eq!(open_len(&s), 4, "{s:?}");
    }

    #[test]
    fn the_corridor_joins_an_outside_refill_point_to_the_field() {
        let field =
            polygon![(x: 0.0, y: 0.0), (x: 50.0, y: 0.0), (x: 50.0, y: 40.0), (x: 0.0, y: 40.0)];
        let refill = Coord { x: -20.0, y: 20.0 };
        let gate = Coord { x: 2.05, y: 20.0 };
        let joined = with_corridor(&field, refill, gate, 2.0);
        assert!(joined.contains(&geo::Point(refill)));
        // 4 m + the margin to either side, as far behind the refill point, 3 m into the field.
        let expected = field.unsigned_area() + 8.0 * (20.0 + 4.0);
        assert!(
            (joined.unsigned_area() - expected).abs() < 1e-6,
            "{}",
            joined.unsigned_area()
        );
        let allowed = allowed_region(&joined, &[], 2.0, 2.0);
        let r = Region::new(&allowed);
        assert!(r.segment_inside(refill, gate));
        assert!(!r.contains(Coord { x: -20.0, y: 25.0 }));
    }
}
