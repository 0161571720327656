//! Point and segment membership in a polygonal region (boundary counts as inside).
//!
//! geo's `Contains` treats the boundary as outside and is built for one-off queries; the router
//! and the path checks ask thousands of "does this segment stay in the region" questions on the
//! same region, so they share this small edge index.

use geo::{Coord, MultiPolygon};

/// Distance within which a point counts as on the boundary, metres.
const EPS: f64 = 1e-7;

/// A polygonal region (a multipolygon with holes) prepared for repeated queries.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    edges: Vec<(Coord, Coord)>,
    rings: Vec<Vec<Coord>>,
}

fn dist_to_segment(p: Coord, a: Coord, b: Coord) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p.x - a.x - t * dx).hypot(p.y - a.y - t * dy)
}

fn cross(a: Coord, b: Coord) -> f64 {
    a.x * b.y - a.y * b.x
}

fn sub(a: Coord, b: Coord) -> Coord {
    Coord {
        x: a.x - b.x,
        y: a.y - b.y,
    }
}

impl Region {
    /// Prepares a multipolygon.
    pub fn new(mp: &MultiPolygon) -> Self {
        let mut edges = Vec::new();
        let mut rings = Vec::new();
        for p in &mp.0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                let mut pts = r.0.clone();
                if pts.first() == pts.last() {
                    pts.pop();
                }
                if pts.len() < 3 {
                    continue;
                }
                for i in 0..pts.len() {
                    edges.push((pts[i], pts[(i + 1) % pts.len()]));
                }
                rings.push(pts);
            }
        }
        Self { edges, rings }
    }

    /// The rings (exterior and holes, unclosed).
    pub fn rings(&self) -> &[Vec<Coord>] {
        &self.rings
    }

    /// True when `p` is inside or on the boundary.
    pub fn contains(&self, p: Coord) -> bool {
        let mut inside = false;
        for &(a, b) in &self.edges {
            if (a.y > p.y) != (b.y > p.y) {
                let x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
                if x > p.x {
                    inside = !inside;
                }
            }
        }
        inside || self.on_boundary(p)
    }

    fn on_boundary(&self, p: Coord) -> bool {
        self.edges.iter().any(|&(a, b)| {
            p.x >= a.x.min(b.x) - EPS
                && p.x <= a.x.max(b.x) + EPS
                && p.y >= a.y.min(b.y) - EPS
                && p.y <= a.y.max(b.y) + EPS
                && dist_to_segment(p, a, b) <= EPS
        })
    }

    /// Parameters in (0, 1) where segment `a`→`b` meets the boundary; `None` if it crosses it
    /// transversally at a point inside both edges (it certainly leaves the region there).
    fn split_params(&self, a: Coord, b: Coord, out: &mut Vec<f64>) -> Option<()> {
        let d = sub(b, a);
        let (minx, maxx) = (a.x.min(b.x) - EPS, a.x.max(b.x) + EPS);
        let (miny, maxy) = (a.y.min(b.y) - EPS, a.y.max(b.y) + EPS);
        for &(c, e) in &self.edges {
            if c.x.max(e.x) < minx
                || c.x.min(e.x) > maxx
                || c.y.max(e.y) < miny
                || c.y.min(e.y) > maxy
            {
                continue;
            }
            let f = sub(e, c);
            let den = cross(d, f);
            let ca = sub(c, a);
            let len_d = d.x.hypot(d.y).max(1e-300);
            let len_f = f.x.hypot(f.y).max(1e-300);
            if den.abs() <= 1e-12 * len_d * len_f {
                // Parallel: if collinear, the overlap ends split the segment.
                if (cross(ca, d) / len_d).abs() <= EPS {
                    let l2 = d.x * d.x + d.y * d.y;
                    for q in [c, e] {
                        let t = ((q.x - a.x) * d.x + (q.y - a.y) * d.y) / l2;
                        if t > 0.0 && t < 1.0 {
                            out.push(t);
                        }
                    }
                }
                continue;
            }
            let t = cross(ca, f) / den;
            let u = cross(ca, d) / den;
            let tol_t = EPS / len_d;
            let tol_u = EPS / len_f;
            if t < -tol_t || t > 1.0 + tol_t || u < -tol_u || u > 1.0 + tol_u {
                continue;
            }
            if t > tol_t && t < 1.0 - tol_t && u > tol_u && u < 1.0 - tol_u {
                return None;
            }
            if t > 0.0 && t < 1.0 {
                out.push(t);
            }
        }
        Some(())
    }

    /// True when the whole segment lies inside the region (touching the boundary is allowed).
    pub fn segment_inside(&self, a: Coord, b: Coord) -> bool {
        let mut ts = Vec::new();
        if self.split_params(a, b, &mut ts).is_none() {
            return false;
        }
        ts.push(0.0);
        ts.push(1.0);
        ts.sort_by(f64::total_cmp);
        let at = |t: f64| Coord {
            x: a.x + t * (b.x - a.x),
            y: a.y + t * (b.y - a.y),
        };
        ts.windows(2)
            .all(|w| w[1] - w[0] <= 1e-12 || self.contains(at((w[0] + w[1]) / 2.0)))
            && self.contains(a)
            && self.contains(b)
    }

    /// Length of segment `a`→`b` outside the region, metres.
    pub fn length_outside(&self, a: Coord, b: Coord) -> f64 {
        let mut ts = vec![0.0, 1.0];
        let d = sub(b, a);
        let (minx, maxx) = (a.x.min(b.x), a.x.max(b.x));
        let (miny, maxy) = (a.y.min(b.y), a.y.max(b.y));
        for &(c, e) in &self.edges {
            // Only an edge whose box meets the segment's can cross it.
            if c.x.max(e.x) < minx
                || c.x.min(e.x) > maxx
                || c.y.max(e.y) < miny
                || c.y.min(e.y) > maxy
            {
                continue;
            }
            let f = sub(e, c);
            let den = cross(d, f);
            if den.abs() < 1e-300 {
                continue;
            }
            let ca = sub(c, a);
            let t = cross(ca, f) / den;
            let u = cross(ca, d) / den;
            if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
                ts.push(t);
            }
        }
        ts.sort_by(f64::total_cmp);
        let len = d.x.hypot(d.y);
        let at = |t: f64| Coord {
            x: a.x + t * d.x,
            y: a.y + t * d.y,
        };
        ts.windows(2)
            .filter(|w| w[1] > w[0] && !self.contains(at((w[0] + w[1]) / 2.0)))
            .map(|w| (w[1] - w[0]) * len)
            .sum()
    }

    /// The point of the boundary nearest to `p`.
    pub fn nearest_boundary_point(&self, p: Coord) -> Option<Coord> {
        let mut best: Option<(f64, Coord)> = None;
        for &(a, b) in &self.edges {
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let l2 = dx * dx + dy * dy;
            let t = if l2 > 0.0 {
                (((p.x - a.x) * dx + (p.y - a.y) * dy) / l2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let q = Coord {
                x: a.x + t * dx,
                y: a.y + t * dy,
            };
            let d = (q.x - p.x).hypot(q.y - p.y);
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, q));
            }
        }
        best.map(|(_, q)| q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn u_shape() -> Region {
        Region::new(&MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 60.0, y: 0.0), (x: 60.0, y: 60.0), (x: 40.0, y: 60.0), (x: 40.0, y: 20.0), (x: 20.0, y: 20.0), (x: 20.0, y: 60.0), (x: 0.0, y: 60.0)],
        ]))
    }

    #[test]
    fn segments_across_the_notch_leave_the_region() {
        let r = u_shape();
        let c = |x, y| Coord { x, y };
        assert!(r.segment_inside(c(10.0, 50.0), c(10.0, 5.0)));
        assert!(!r.segment_inside(c(10.0, 50.0), c(50.0, 50.0)));
        assert!((r.length_outside(c(10.0, 50.0), c(50.0, 50.0)) - 20.0).abs() < 1e-9);
        // Along the boundary and through a reflex vertex is inside.
        assert!(r.segment_inside(c(20.0, 60.0), c(20.0, 20.0)));
        assert!(r.segment_inside(c(10.0, 30.0), c(30.0, 10.0)));
        assert!(r.segment_inside(c(0.0, 0.0), c(60.0, 0.0)));
        assert!(!r.segment_inside(c(10.0, 40.0), c(30.0, 10.0)));
        assert!(r.contains(c(20.0, 40.0)) && !r.contains(c(30.0, 40.0)));
    }
}
