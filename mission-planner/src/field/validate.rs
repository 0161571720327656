//! Polygon validation: geo's `Validation` plus range checks, with errors that say where.

use crate::error::{FeatureRef, PlanError, Ring};
use crate::field::Repair;
use crate::projection::LocalFrame;
use geo::{Area, Coord, LineString, Orient, Polygon, Validation, orient::Direction};

/// The smallest area accepted as a polygon, m².
const MIN_AREA_M2: f64 = 1.0;

/// The rings of a geo polygon as coordinate lists (exterior first).
pub(crate) fn rings_of(p: &Polygon) -> Vec<Vec<[f64; 2]>> {
    std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(|r| r.coords().map(|c| [c.x, c.y]).collect())
        .collect()
}

fn ring_id(i: usize) -> Ring {
    if i == 0 {
        Ring::Exterior
    } else {
        Ring::Interior(i - 1)
    }
}

/// Validates and repairs one WGS84 polygon given as rings of `[lon, lat]` (exterior first).
///
/// Returns the polygon (exterior counter-clockwise, holes clockwise, rings closed) and the repairs made.
pub(crate) fn validate_polygon(
    feature: &FeatureRef,
    rings: &[Vec<[f64; 2]>],
) -> Result<(Polygon, Vec<Repair>), PlanError> {
    let mut repairs = Vec::new();
    let mut clean: Vec<LineString> = Vec::with_capacity(rings.len());
    if rings.is_empty() {
        return Err(PlanError::TooFewPoints {
            feature: feature.clone(),
            ring: Ring::Exterior,
            n_distinct: 0,
        });
    }
    for (ri, ring) in rings.iter().enumerate() {
        let rid = ring_id(ri);
        for (vi, &[lon, lat]) in ring.iter().enumerate() {
            if !lon.is_finite() || !lat.is_finite() {
                return Err(PlanError::NonFiniteCoord {
                    feature: feature.clone(),
                    ring: rid,
                    vertex: vi,
                });
            }
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                let swapped = (-180.0..=180.0).contains(&lat) && (-90.0..=90.0).contains(&lon);
                return Err(PlanError::OutOfRange {
                    feature: feature.clone(),
                    ring: rid,
                    vertex: vi,
                    lon,
                    lat,
                    swapped,
                });
            }
        }
        let closed = ring.len() > 1 && ring.first() == ring.last();
        let mut pts: Vec<Coord> = Vec::with_capacity(ring.len());
        for &[x, y] in ring {
            let c = Coord { x, y };
            if pts.last() != Some(&c) {
                pts.push(c);
            }
        }
        while pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        let n_removed = ring.len() - pts.len() - usize::from(closed);
        if n_removed > 0 {
            repairs.push(Repair::RemovedRepeatedPoints {
                ring: rid,
                n_removed,
            });
        }
        if !closed && ring.len() >= 3 {
            repairs.push(Repair::ClosedRing { ring: rid });
        }
        let mut distinct = pts.clone();
        distinct.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
        distinct.dedup();
        if distinct.len() < 3 {
            return Err(PlanError::TooFewPoints {
                feature: feature.clone(),
                ring: rid,
                n_distinct: distinct.len(),
            });
        }
        clean.push(LineString(pts));
    }
    let mut rings_iter = clean.into_iter();
    let exterior = rings_iter.next().unwrap_or_else(|| LineString(vec![]));
    let wgs = Polygon::new(exterior, rings_iter.collect());
    let frame = LocalFrame::centred_on(&wgs);
    let local = frame.polygon_to_local(&wgs);
    let area = Polygon::new(local.exterior().clone(), vec![]).unsigned_area();
    if area < MIN_AREA_M2 {
        return Err(PlanError::ZeroArea {
            feature: feature.clone(),
            area_m2: area,
        });
    }
    if let Some(e) = local.validation_errors().into_iter().next() {
        use geo::algorithm::validation::InvalidPolygon as I;
        return Err(match e {
            I::SelfIntersection(_)
            | I::IntersectingRingsOnALine(..)
            | I::IntersectingRingsOnAnArea(..) => match find_crossing(&local) {
                Some((ra, va, rb, vb)) => PlanError::SelfIntersection {
                    feature: feature.clone(),
                    ring_a: ring_id(ra),
                    vertex_a: va,
                    ring_b: ring_id(rb),
                    vertex_b: vb,
                },
                None => PlanError::InvalidPolygon {
                    feature: feature.clone(),
                    reason: e.to_string(),
                },
            },
            other => PlanError::InvalidPolygon {
                feature: feature.clone(),
                reason: other.to_string(),
            },
        });
    }
    let oriented = wgs.orient(Direction::Default);
    if oriented != wgs {
        repairs.push(Repair::Reoriented);
    }
    Ok((oriented, repairs))
}

fn orient2d(a: Coord, b: Coord, c: Coord) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn segments_touch(a: Coord, b: Coord, c: Coord, d: Coord) -> bool {
    let (d1, d2) = (orient2d(c, d, a), orient2d(c, d, b));
    let (d3, d4) = (orient2d(a, b, c), orient2d(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    let on = |p: Coord, q: Coord, r: Coord| {
        orient2d(p, q, r) == 0.0
            && r.x >= p.x.min(q.x)
            && r.x <= p.x.max(q.x)
            && r.y >= p.y.min(q.y)
            && r.y <= p.y.max(q.y)
    };
    on(c, d, a) || on(c, d, b) || on(a, b, c) || on(a, b, d)
}

/// The first pair of non-adjacent edges that touch or cross: (ring, edge start, ring, edge start).
fn find_crossing(p: &Polygon) -> Option<(usize, usize, usize, usize)> {
    let rings: Vec<&LineString> = std::iter::once(p.exterior()).chain(p.interiors()).collect();
    let edges: Vec<(usize, usize, Coord, Coord)> = rings
        .iter()
        .enumerate()
        .flat_map(|(ri, r)| {
            r.lines()
                .enumerate()
                .map(move |(i, l)| (ri, i, l.start, l.end))
        })
        .collect();
    for (k, &(ra, ia, a, b)) in edges.iter().enumerate() {
        for &(rb, ib, c, d) in &edges[k + 1..] {
            if ra == rb {
                let n = rings[ra].0.len() - 1;
                if ib == ia + 1 || (ia == 0 && ib == n - 1) {
                    continue;
                }
            }
            if segments_touch(a, b, c, d) {
                return Some((ra, ia, rb, ib));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feat() -> FeatureRef {
        FeatureRef {
            index: 3,
            id: Some("f".into()),
        }
    }

    fn check(rings: &[Vec<[f64; 2]>], expect: &str) {
        let got = match validate_polygon(&feat(), rings) {
            Ok((p, repairs)) => format!("ok {} {repairs:?}", p.exterior().0.len()),
            Err(e) => e.to_string(),
        };
        assert!(
            got.contains(expect),
            "got {got:?}, expected it to contain {expect:?}"
        );
    }

    const SQ: [[f64; 2]; 5] = [
        [139.9, 36.9],
        [139.901, 36.9],
        [139.901, 36.901],
        [139.9, 36.901],
        [139.9, 36.9],
    ];

    #[test]
    fn accepts_and_repairs() {
        check(&[SQ.to_vec()], "ok 5 []");
        let mut cw = SQ.to_vec();
        cw.reverse();
        check(&[cw], "Reoriented");
        let mut doubled = SQ.to_vec();
        doubled.insert(1, SQ[0]);
        doubled.push(SQ[0]);
        check(
            &[doubled],
            "RemovedRepeatedPoints { ring: Exterior, n_removed: 2 }",
        );
        check(&[SQ[..4].to_vec()], "ClosedRing");
    }

    #[test]
    fn rejects_with_location() {
        let mut swapped: Vec<[f64; 2]> = SQ.iter().map(|&[x, y]| [y, x]).collect();
        swapped[0] = [36.9, 139.9];
        check(
            &[swapped],
            "feature #3 (id \"f\"): exterior ring, vertex 0: coordinate (36.9, 139.9) is out of range (latitude and longitude look swapped",
        );
        let mut nan = SQ.to_vec();
        nan[2] = [f64::NAN, 36.9];
        check(&[nan], "exterior ring, vertex 2: non-finite");
        check(&[vec![SQ[0], SQ[1], SQ[0]]], "has 2 distinct points");
        check(
            &[vec![
                [139.9, 36.9],
                [139.901, 36.9],
                [139.902, 36.9],
                [139.9, 36.9],
            ]],
            "zero area",
        );
        let bowtie = vec![
            [139.9, 36.9],
            [139.902, 36.902],
            [139.902, 36.9],
            [139.9, 36.901],
            [139.9, 36.9],
        ];
        check(
            &[bowtie],
            "self-intersection: exterior ring edge from vertex 0 crosses exterior ring edge from vertex 2",
        );
        let hole_out = vec![
            [139.91, 36.91],
            [139.911, 36.91],
            [139.911, 36.911],
            [139.91, 36.91],
        ];
        check(&[SQ.to_vec(), hole_out], "invalid polygon");
    }
}
