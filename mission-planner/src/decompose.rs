//! Boustrophedon cell decomposition of a swath pattern.
//!
//! The sweep lines cut the region into pieces. Two pieces on neighbouring lines belong to the
//! same cell when their spans overlap and neither has another overlapping neighbour on that
//! side; where a piece meets two (a split or merge event — an obstacle, a hole or a concave
//! notch) the cell ends, as in Choset's boustrophedon decomposition. Each cell is flown as a
//! snake, so turns between its legs stay short and inside the field.

use crate::swath::generate::Swaths;

/// One boustrophedon cell: legs on consecutive sweep lines, as (line index, piece index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cell {
    /// The legs in sweep order.
    pub legs: Vec<(usize, usize)>,
}

fn overlaps(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// The cells of a swath pattern, in sweep order of their first leg.
pub(crate) fn decompose(s: &Swaths) -> Vec<Cell> {
    let n = s.lines.len();
    // next[i][p] = Some(q) when piece p of line i continues into piece q of line i + 1.
    let mut next: Vec<Vec<Option<usize>>> = s.lines.iter().map(|l| vec![None; l.len()]).collect();
    let mut has_prev: Vec<Vec<bool>> = s.lines.iter().map(|l| vec![false; l.len()]).collect();
    for i in 0..n.saturating_sub(1) {
        let (a, b) = (&s.lines[i], &s.lines[i + 1]);
        let mut fwd: Vec<Vec<usize>> = vec![Vec::new(); a.len()];
        let mut bwd: Vec<Vec<usize>> = vec![Vec::new(); b.len()];
        for (p, pa) in a.iter().enumerate() {
            for (q, pb) in b.iter().enumerate() {
                if overlaps(pa.span, pb.span) {
                    fwd[p].push(q);
                    bwd[q].push(p);
                }
            }
        }
        for p in 0..a.len() {
            if let [q] = fwd[p][..]
                && bwd[q].len() == 1
            {
                next[i][p] = Some(q);
                has_prev[i + 1][q] = true;
            }
        }
    }
    let mut cells = Vec::new();
    for (i, starts) in has_prev.iter().enumerate() {
        for (p, &has) in starts.iter().enumerate() {
            if has {
                continue;
            }
            let mut legs = vec![(i, p)];
            let (mut li, mut pi) = (i, p);
            while let Some(q) = next[li][pi] {
                li += 1;
                pi = q;
                legs.push((li, pi));
            }
            cells.push(Cell { legs });
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swath::best_angle::swaths_at;
    use geo::{MultiPolygon, polygon};

    #[test]
    fn u_shape_splits_into_three_cells() {
        let u = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 60.0, y: 0.0), (x: 60.0, y: 60.0), (x: 40.0, y: 60.0), (x: 40.0, y: 20.0), (x: 20.0, y: 20.0), (x: 20.0, y: 60.0), (x: 0.0, y: 60.0)],
        ]);
        let s = swaths_at(&u, &u, 5.0, 0.0);
        let cells = decompose(&s);
        assert_eq!(cells.len(), 3);
        assert_eq!(
            cells.iter().map(|c| c.legs.len()).sum::<usize>(),
            s.n_legs()
        );
    }

    #[test]
    fn rectangle_is_one_cell() {
        let r = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 60.0, y: 0.0), (x: 60.0, y: 30.0), (x: 0.0, y: 30.0)],
        ]);
        assert_eq!(decompose(&swaths_at(&r, &r, 5.0, 0.3)).len(), 1);
    }
}
