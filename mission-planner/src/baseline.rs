//! The baseline planners are compared against: a naive survey grid as QGroundControl or
//! Mission Planner draws it.

use crate::swath::generate::rotated_edges;
use geo::{MultiPolygon, Polygon};

/// Path length of a naive boustrophedon grid over a local (metres) field: parallel lines `w`
/// apart at heading `angle_rad` (counter-clockwise from east), each flown from where it first
/// enters the field to where it last leaves it (ignoring concavities and holes, no headland),
/// joined end to end in a snake.
///
/// # Examples
/// ```
/// use geo::polygon;
/// let field = polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 50.0), (x: 0.0, y: 50.0)];
/// // 10 lines of 100 m, 9 turns of 5 m.
/// assert!((mission_planner::naive_grid_length(&field, 5.0, 0.0) - 1045.0).abs() < 1e-6);
/// ```
pub fn naive_grid_length(field: &Polygon, w: f64, angle_rad: f64) -> f64 {
    let edges = rotated_edges(&MultiPolygon(vec![field.clone()]), angle_rad);
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for (a, _) in &edges {
        lo = lo.min(a.y);
        hi = hi.max(a.y);
    }
    let mut total = 0.0;
    let mut last: Option<(f64, f64)> = None;
    let mut v = lo + w / 2.0;
    let mut forward = true;
    while v < hi {
        let mut xs: Vec<f64> = edges
            .iter()
            .filter(|(a, b)| (a.y <= v) != (b.y <= v))
            .map(|(a, b)| a.x + (v - a.y) * (b.x - a.x) / (b.y - a.y))
            .collect();
        xs.sort_by(f64::total_cmp);
        if let (Some(&x0), Some(&x1)) = (xs.first(), xs.last()) {
            let (s, e) = if forward { (x0, x1) } else { (x1, x0) };
            if let Some((lx, lv)) = last {
                total += (s - lx).hypot(v - lv);
            }
            total += (x1 - x0).abs();
            last = Some((e, v));
            forward = !forward;
        }
        v += w;
    }
    total
}
