//! Transits that stay inside the flyable region: straight when possible, otherwise the
//! shortest path on the region's visibility graph (A*, edges found lazily).

use crate::region::Region;
use geo::Coord;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// How far graph nodes are pushed off reflex corners into the region, metres.
const PUSH_M: f64 = 0.3;

/// A router over one flyable region.
#[derive(Debug)]
pub(crate) struct Router {
    region: Region,
    /// Reflex corners pushed slightly into the region (preferred graph nodes).
    pushed: Vec<Coord>,
    /// Reflex corners exactly (the complete visibility graph, used when the pushed one fails).
    raw: Vec<Coord>,
    cache: RefCell<HashMap<(bool, usize, usize), bool>>,
}

fn dist(a: Coord, b: Coord) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

#[derive(PartialEq)]
struct Open(f64, usize);
impl Eq for Open {}
impl PartialOrd for Open {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Open {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0)
    }
}

impl Router {
    /// A router for `region`, whose rings must be oriented exterior counter-clockwise, holes clockwise.
    pub fn new(region: Region) -> Self {
        let mut pushed = Vec::new();
        let mut raw = Vec::new();
        for ring in region.rings() {
            let n = ring.len();
            for i in 0..n {
                let (p, v, q) = (ring[(i + n - 1) % n], ring[i], ring[(i + 1) % n]);
                let turn = (v.x - p.x) * (q.y - v.y) - (v.y - p.y) * (q.x - v.x);
                if turn >= 0.0 {
                    continue;
                }
                raw.push(v);
                let (l1, l2) = (dist(p, v), dist(q, v));
                if l1 <= 0.0 || l2 <= 0.0 {
                    continue;
                }
                let bis = Coord {
                    x: (p.x - v.x) / l1 + (q.x - v.x) / l2,
                    y: (p.y - v.y) / l1 + (q.y - v.y) / l2,
                };
                let bl = bis.x.hypot(bis.y);
                if bl < 1e-9 {
                    continue;
                }
                let c = Coord {
                    x: v.x - PUSH_M * bis.x / bl,
                    y: v.y - PUSH_M * bis.y / bl,
                };
                if region.contains(c) && region.segment_inside(v, c) {
                    pushed.push(c);
                }
            }
        }
        Self {
            region,
            pushed,
            raw,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The region.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The shortest path from `a` to `b` inside the region (both ends included), or `None`
    /// when they are not connected inside it.
    pub fn route(&self, a: Coord, b: Coord) -> Option<Vec<Coord>> {
        if self.region.segment_inside(a, b) {
            return Some(vec![a, b]);
        }
        if !self.region.contains(a) || !self.region.contains(b) {
            return None;
        }
        self.astar(a, b, true).or_else(|| self.astar(a, b, false))
    }

    /// Length of [`Router::route`], or `None`.
    pub fn distance(&self, a: Coord, b: Coord) -> Option<f64> {
        self.route(a, b)
            .map(|p| p.windows(2).map(|w| dist(w[0], w[1])).sum())
    }

    fn visible(&self, pushed: bool, nodes: &[Coord], i: usize, j: usize) -> bool {
        // Nodes 0 and 1 are the query's ends and change between queries: never cache them.
        if i < 2 || j < 2 {
            return self.region.segment_inside(nodes[i], nodes[j]);
        }
        let key = (pushed, i.min(j), i.max(j));
        if let Some(&v) = self.cache.borrow().get(&key) {
            return v;
        }
        let v = self.region.segment_inside(nodes[i], nodes[j]);
        self.cache.borrow_mut().insert(key, v);
        v
    }

    fn astar(&self, a: Coord, b: Coord, pushed: bool) -> Option<Vec<Coord>> {
        let graph = if pushed { &self.pushed } else { &self.raw };
        let mut nodes = Vec::with_capacity(graph.len() + 2);
        nodes.push(a);
        nodes.push(b);
        nodes.extend_from_slice(graph);
        let n = nodes.len();
        let mut g = vec![f64::INFINITY; n];
        let mut prev = vec![usize::MAX; n];
        let mut closed = vec![false; n];
        let mut open = BinaryHeap::new();
        g[0] = 0.0;
        open.push(Open(dist(a, b), 0));
        while let Some(Open(_, u)) = open.pop() {
            if closed[u] {
                continue;
            }
            if u == 1 {
                let mut path = vec![b];
                let mut k = 1;
                while prev[k] != usize::MAX {
                    k = prev[k];
                    path.push(nodes[k]);
                }
                path.reverse();
                return Some(path);
            }
            closed[u] = true;
            for v in 1..n {
                if closed[v] || v == u {
                    continue;
                }
                let nd = g[u] + dist(nodes[u], nodes[v]);
                if nd >= g[v] {
                    continue;
                }
                if !self.visible(pushed, &nodes, u, v) {
                    continue;
                }
                g[v] = nd;
                prev[v] = u;
                open.push(Open(nd + dist(nodes[v], b), v));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    #[test]
    fn routes_around_the_notch_of_a_u() {
        let u = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 60.0, y: 0.0), (x: 60.0, y: 60.0), (x: 40.0, y: 60.0), (x: 40.0, y: 20.0), (x: 20.0, y: 20.0), (x: 20.0, y: 60.0), (x: 0.0, y: 60.0)],
        ]);
        let r = Router::new(Region::new(&u));
        let a = Coord { x: 10.0, y: 50.0 };
        let b = Coord { x: 50.0, y: 50.0 };
        let path = r.route(a, b).unwrap();
        assert_eq!(path.len(), 4, "{path:?}");
        for w in path.windows(2) {
            assert!(r.region().segment_inside(w[0], w[1]));
        }
        let len = r.distance(a, b).unwrap();
        let ideal = 2.0 * (10.0f64.hypot(30.0)) + 20.0;
        assert!(len >= ideal - 1e-9 && len < ideal + 1.0, "{len} vs {ideal}");
        assert!(r.route(a, Coord { x: 30.0, y: 50.0 }).is_none());
    }
}
