//! Parallel spray legs over a region at one heading.
//!
//! Work happens in a frame rotated so the legs run along +u; v is across the legs. Sweep line
//! `k` at `v_k` is intersected with the clip region (where legs may lie) by the even-odd rule;
//! each piece is then trimmed to the part that is needed: the u-extent of the region to cover
//! inside the slab `|v − v_k| ≤ w/2` that the leg sprays. Pieces that cover nothing are dropped.
//!
//! Coverage argument: every point `p` of the region to cover is within `spacing/2 ≤ w/2` of some
//! line; its foot `q` on that line is within `w/2` of `p`, hence inside the clip region (which
//! reaches `w/2` beyond the region to cover), and the trimmed leg contains `q`. So the legs'
//! spray discs cover the whole region.

use geo::{Coord, MultiPolygon};

/// One sweep line's piece inside the clip region and the leg flown on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Piece {
    /// The u-interval of the line inside the clip region.
    pub span: (f64, f64),
    /// The u-interval actually sprayed (within `span`).
    pub leg: (f64, f64),
}

/// Legs at one heading, line by line.
#[derive(Debug, Clone)]
pub(crate) struct Swaths {
    /// Leg direction in radians (counter-clockwise from local +x, east).
    pub angle: f64,
    /// v of each sweep line.
    pub line_v: Vec<f64>,
    /// The pieces of each sweep line, sorted by u.
    pub lines: Vec<Vec<Piece>>,
}

impl Swaths {
    /// Rotated (u, v) back to local metres.
    pub fn to_xy(&self, u: f64, v: f64) -> Coord {
        let (s, c) = self.angle.sin_cos();
        Coord {
            x: u * c - v * s,
            y: u * s + v * c,
        }
    }

    /// Number of legs.
    pub fn n_legs(&self) -> usize {
        self.lines.iter().map(Vec::len).sum()
    }

    /// Total leg length, metres.
    pub fn leg_length(&self) -> f64 {
        self.lines.iter().flatten().map(|p| p.leg.1 - p.leg.0).sum()
    }

    /// Local start and end of a leg (`a` → `b` runs along +u).
    pub fn leg_xy(&self, line: usize, piece: usize) -> (Coord, Coord) {
        let p = self.lines[line][piece];
        let v = self.line_v[line];
        (self.to_xy(p.leg.0, v), self.to_xy(p.leg.1, v))
    }
}

/// Edges of a multipolygon in the rotated frame, as (a, b) in (u, v).
pub(crate) fn rotated_edges(mp: &MultiPolygon, angle: f64) -> Vec<(Coord, Coord)> {
    let (s, c) = angle.sin_cos();
    let rot = |p: &Coord| Coord {
        x: p.x * c + p.y * s,
        y: -p.x * s + p.y * c,
    };
    let mut out = Vec::new();
    for poly in &mp.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for w in ring.0.windows(2) {
                out.push((rot(&w[0]), rot(&w[1])));
            }
        }
    }
    out
}

/// Minimum legs shorter than this (m) are dropped: they would cover a sliver of under 0.05 × w.
const MIN_LEG_M: f64 = 0.05;

/// Legs at heading `angle` spaced at most `w` apart, lying in `clip` and covering `need`.
pub(crate) fn generate(
    clip: &[(Coord, Coord)],
    need: &[(Coord, Coord)],
    angle: f64,
    w: f64,
) -> Swaths {
    let mut empty = Swaths {
        angle,
        line_v: vec![],
        lines: vec![],
    };
    let (mut v_min, mut v_max) = (f64::MAX, f64::MIN);
    for (a, _) in need {
        v_min = v_min.min(a.y);
        v_max = v_max.max(a.y);
    }
    if need.is_empty() || clip.is_empty() {
        return empty;
    }
    let extent = (v_max - v_min).max(0.0);
    let n = ((extent / w) - 1e-9).ceil().max(1.0) as usize;
    let spacing = extent / n as f64;
    let v0 = v_min;
    let line_v: Vec<f64> = (0..n).map(|k| v0 + spacing * (k as f64 + 0.5)).collect();
    let h = w / 2.0;
    // Bucket the edges by the lines they can affect.
    let idx_range = |lo: f64, hi: f64| -> Option<(usize, usize)> {
        if spacing <= 0.0 {
            return Some((0, 0));
        }
        let kmin = ((lo - v0) / spacing - 0.5).ceil().max(0.0);
        let kmax = ((hi - v0) / spacing - 0.5).floor().min(n as f64 - 1.0);
        (kmin <= kmax).then_some((kmin as usize, kmax as usize))
    };
    // The buckets reach a little beyond each edge: `idx_range` and `line_v` round differently,
    // and an edge ending exactly on a line (a vertex the line passes through) left out of that
    // line's bucket loses its crossing, so the line has an odd count and no leg at all. An edge
    // too many in a bucket is harmless: the crossing test below is exact.
    let slack = 1e-7 * (1.0 + v_min.abs().max(v_max.abs()));
    let mut clip_b: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, (a, b)) in clip.iter().enumerate() {
        if let Some((k0, k1)) = idx_range(a.y.min(b.y) - slack, a.y.max(b.y) + slack) {
            for bucket in &mut clip_b[k0..=k1] {
                bucket.push(i as u32);
            }
        }
    }
    let mut need_b: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, (a, b)) in need.iter().enumerate() {
        if let Some((k0, k1)) = idx_range(a.y.min(b.y) - h - slack, a.y.max(b.y) + h + slack) {
            for bucket in &mut need_b[k0..=k1] {
                bucket.push(i as u32);
            }
        }
    }
    let mut lines = Vec::with_capacity(n);
    let mut xs: Vec<f64> = Vec::new();
    for k in 0..n {
        let s = line_v[k];
        xs.clear();
        for &i in &clip_b[k] {
            let (a, b) = clip[i as usize];
            if (a.y <= s) != (b.y <= s) {
                xs.push(a.x + (s - a.y) * (b.x - a.x) / (b.y - a.y));
            }
        }
        xs.sort_by(f64::total_cmp);
        let spans: Vec<(f64, f64)> = xs.chunks_exact(2).map(|c| (c[0], c[1])).collect();
        let mut needed: Vec<(f64, f64)> = vec![(f64::MAX, f64::MIN); spans.len()];
        let (lo, hi) = (s - h, s + h);
        for &i in &need_b[k] {
            let (a, b) = need[i as usize];
            let (t0, t1) = if (b.y - a.y).abs() < 1e-12 {
                if a.y < lo || a.y > hi {
                    continue;
                }
                (0.0, 1.0)
            } else {
                let ta = (lo - a.y) / (b.y - a.y);
                let tb = (hi - a.y) / (b.y - a.y);
                let (t0, t1) = (ta.min(tb).max(0.0), ta.max(tb).min(1.0));
                if t0 > t1 {
                    continue;
                }
                (t0, t1)
            };
            let u0 = a.x + t0 * (b.x - a.x);
            let u1 = a.x + t1 * (b.x - a.x);
            let (u0, u1) = (u0.min(u1), u0.max(u1));
            let mid = (u0 + u1) / 2.0;
            // The span holding the segment's middle (or the nearest one, for rounding noise).
            let mut best: Option<(usize, f64)> = None;
            for (j, &(s0, s1)) in spans.iter().enumerate() {
                let d = if mid < s0 {
                    s0 - mid
                } else if mid > s1 {
                    mid - s1
                } else {
                    0.0
                };
                if best.is_none_or(|(_, bd)| d < bd) {
                    best = Some((j, d));
                }
            }
            if let Some((j, d)) = best
                && d <= 0.5
            {
                needed[j].0 = needed[j].0.min(u0);
                needed[j].1 = needed[j].1.max(u1);
            }
        }
        let pieces: Vec<Piece> = spans
            .iter()
            .zip(&needed)
            .filter_map(|(&span, &(n0, n1))| {
                let leg = (n0.max(span.0), n1.min(span.1));
                (leg.1 - leg.0 >= MIN_LEG_M).then_some(Piece { span, leg })
            })
            .collect();
        lines.push(pieces);
    }
    empty.line_v = line_v;
    empty.lines = lines;
    empty
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    #[test]
    fn rectangle_gets_evenly_spaced_full_legs() {
        let clip = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 30.0), (x: 0.0, y: 30.0)],
        ]);
        let need = MultiPolygon(vec![
            polygon![(x: 2.5, y: 2.5), (x: 97.5, y: 2.5), (x: 97.5, y: 27.5), (x: 2.5, y: 27.5)],
        ]);
        let s = generate(
            &rotated_edges(&clip, 0.0),
            &rotated_edges(&need, 0.0),
            0.0,
            5.0,
        );
        assert_eq!(s.n_legs(), 5);
        for (k, l) in s.lines.iter().enumerate() {
            assert_eq!(l.len(), 1);
            assert!((s.line_v[k] - (5.0 + 5.0 * k as f64)).abs() < 1e-9);
            assert!(
                (l[0].leg.0 - 2.5).abs() < 1e-9 && (l[0].leg.1 - 97.5).abs() < 1e-9,
                "{l:?}"
            );
        }
    }

    #[test]
    fn u_shape_gives_two_pieces_per_line_in_the_arms() {
        let u = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 60.0, y: 0.0), (x: 60.0, y: 60.0), (x: 40.0, y: 60.0), (x: 40.0, y: 20.0), (x: 20.0, y: 20.0), (x: 20.0, y: 60.0), (x: 0.0, y: 60.0)],
        ]);
        let s = generate(&rotated_edges(&u, 0.0), &rotated_edges(&u, 0.0), 0.0, 5.0);
        let top = s.lines.last().unwrap();
        assert_eq!(top.len(), 2);
        assert_eq!(s.lines[0].len(), 1);
    }
}
