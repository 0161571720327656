//! Nearest-neighbour ordering with an Or-opt style improvement pass.

use crate::route::{Element, Entry, SwathOrder};
use geo::Coord;

/// Visits next the element whose entry is nearest to the current position, then improves the
/// order by re-choosing each element's entry given its neighbours.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NearestNeighbour;

fn dist(a: Coord, b: Coord) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

impl SwathOrder for NearestNeighbour {
    fn order(&self, start: Coord, elements: &[Element]) -> Vec<(usize, Entry)> {
        let entries: Vec<Vec<(Entry, Coord, Coord)>> =
            elements.iter().map(Element::entries).collect();
        let mut done = vec![false; elements.len()];
        let mut pos = start;
        let mut out = Vec::with_capacity(elements.len());
        for _ in 0..elements.len() {
            let mut best: Option<(f64, usize, usize)> = None;
            for (i, es) in entries.iter().enumerate() {
                if done[i] {
                    continue;
                }
                for (k, &(_, p, _)) in es.iter().enumerate() {
                    let d = dist(pos, p);
                    if best.is_none_or(|b| d < b.0) {
                        best = Some((d, i, k));
                    }
                }
            }
            let Some((_, i, k)) = best else { break };
            done[i] = true;
            out.push((i, k));
            pos = entries[i][k].2;
        }
        // Improve: re-pick each element's entry given its neighbours, then 2-opt moves (reversing a
        // run flies it backwards, which keeps the run's inner transits unchanged).
        let reverse_of = |i: usize, k: usize| -> usize {
            let (_, p_in, p_out) = entries[i][k];
            entries[i]
                .iter()
                .position(|e| dist(e.1, p_out) < 1e-9 && dist(e.2, p_in) < 1e-9)
                .unwrap_or(k)
        };
        for _round in 0..4 {
            let mut improved = false;
            for idx in 0..out.len() {
                let prev = if idx == 0 {
                    start
                } else {
                    entries[out[idx - 1].0][out[idx - 1].1].2
                };
                let next = out.get(idx + 1).map(|&(i, k)| entries[i][k].1);
                let (i, k0) = out[idx];
                let local = |k: usize| {
                    dist(prev, entries[i][k].1) + next.map_or(0.0, |n| dist(entries[i][k].2, n))
                };
                let mut bk = k0;
                for k in 0..entries[i].len() {
                    if local(k) < local(bk) - 1e-9 {
                        bk = k;
                    }
                }
                if bk != k0 {
                    out[idx].1 = bk;
                    improved = true;
                }
            }
            for a in 0..out.len() {
                for b in a + 1..out.len() {
                    let prev = if a == 0 {
                        start
                    } else {
                        entries[out[a - 1].0][out[a - 1].1].2
                    };
                    let next = out.get(b + 1).map(|&(i, k)| entries[i][k].1);
                    let (ia, ka) = out[a];
                    let (ib, kb) = out[b];
                    let old = dist(prev, entries[ia][ka].1)
                        + next.map_or(0.0, |n| dist(entries[ib][kb].2, n));
                    let new = dist(prev, entries[ib][kb].2)
                        + next.map_or(0.0, |n| dist(entries[ia][ka].1, n));
                    if new < old - 1e-6 {
                        out[a..=b].reverse();
                        for item in &mut out[a..=b] {
                            item.1 = reverse_of(item.0, item.1);
                        }
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
        out.into_iter().map(|(i, k)| (i, entries[i][k].0)).collect()
    }
}
