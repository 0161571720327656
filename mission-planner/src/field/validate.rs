//! Polygon validation: geo's `Validation` plus range checks, with errors that say where.

use crate::error::{FeatureRef, PlanError, Ring};
use crate::field::{FieldLimits, Repair};
use crate::projection::LocalFrame;
use geo::{Area, Coord, LineString, Orient, Polygon, SimplifyVwIdx, Validation, orient::Direction};

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
/// The vertex counts are checked first, so an oversized polygon is refused before any
/// geometry is built; rings over `limits.max_ring_vertices` are thinned in local metres.
/// Returns the polygon (exterior counter-clockwise, holes clockwise, rings closed) and the repairs made.
pub(crate) fn validate_polygon(
    feature: &FeatureRef,
    rings: &[Vec<[f64; 2]>],
    limits: &FieldLimits,
) -> Result<(Polygon, Vec<Repair>), PlanError> {
    let n_holes = rings.len().saturating_sub(1);
    if n_holes > limits.max_holes {
        return Err(PlanError::TooManyHoles {
            feature: feature.clone(),
            n_holes,
            limit: limits.max_holes,
        });
    }
    let thin = limits.simplify_area_m2 > 0.0;
    for (ri, ring) in rings.iter().enumerate() {
        let cap = if thin {
            limits.max_simplify_vertices.max(limits.max_ring_vertices)
        } else {
            limits.max_ring_vertices
        };
        // A closed ring repeats its first point; that copy is not a vertex of its own.
        let n = ring.len() - usize::from(ring.len() > 1 && ring.first() == ring.last());
        if n > cap {
            return Err(PlanError::TooManyVertices {
                feature: feature.clone(),
                ring: ring_id(ri),
                n_vertices: n,
                limit: limits.max_ring_vertices,
                simplified: false,
            });
        }
    }
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
        if let Some(vi) = ring
            .windows(2)
            .position(|w| (w[1][0] - w[0][0]).abs() > 180.0)
        {
            return Err(PlanError::CrossesAntimeridian {
                feature: feature.clone(),
                ring: rid,
                vertex: vi,
            });
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
    let frame = LocalFrame::centred_on(&Polygon::new(clean[0].clone(), vec![]));
    let mut n_total = 0usize;
    for (ri, ring) in clean.iter_mut().enumerate() {
        let n_before = ring.0.len();
        if n_before > limits.max_ring_vertices {
            if thin {
                // geo closes the ring; the closing copy's index has no point in `ring` and is
                // dropped with the filter below.
                let local = frame.polygon_to_local(&Polygon::new(ring.clone(), vec![]));
                let keep = local.exterior().simplify_vw_idx(limits.simplify_area_m2);
                let pts: Vec<Coord> = keep
                    .into_iter()
                    .filter_map(|i| ring.0.get(i).copied())
                    .collect();
                repairs.push(Repair::Simplified {
                    ring: ring_id(ri),
                    n_before,
                    n_after: pts.len(),
                    tolerance_m2: limits.simplify_area_m2,
                });
                *ring = LineString(pts);
            }
            if ring.0.len() > limits.max_ring_vertices {
                return Err(PlanError::TooManyVertices {
                    feature: feature.clone(),
                    ring: ring_id(ri),
                    n_vertices: ring.0.len(),
                    limit: limits.max_ring_vertices,
                    simplified: thin,
                });
            }
        }
        n_total += ring.0.len();
    }
    if n_total > limits.max_polygon_vertices {
        return Err(PlanError::TooManyPolygonVertices {
            feature: feature.clone(),
            n_vertices: n_total,
            limit: limits.max_polygon_vertices,
        });
    }
    let mut rings_iter = clean.into_iter();
    let exterior = rings_iter.next().unwrap_or_else(|| LineString(vec![]));
    let wgs = Polygon::new(exterior, rings_iter.collect());
    let local = frame.polygon_to_local(&wgs);
    let area = Polygon::new(local.exterior().clone(), vec![]).unsigned_area();
    if area < MIN_AREA_M2 {
        // A bow-tie's two halves cancel: say it crosses itself, not that it has no area.
        if let Some((ra, va, rb, vb)) = find_crossing(&local) {
            return Err(PlanError::SelfIntersection {
                feature: feature.clone(),
                ring_a: ring_id(ra),
                vertex_a: va,
                ring_b: ring_id(rb),
                vertex_b: vb,
            });
        }
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
        let got = match validate_polygon(&feat(), rings, &FieldLimits::DEFAULT) {
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

    /// A ring of `n` points on a circle of `radius_m` around the test square's corner.
    fn circle(n: usize, radius_m: f64, spikes: bool) -> Vec<[f64; 2]> {
        let frame = LocalFrame::new(139.9, 36.9);
        (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                let r = if spikes && i % 2 == 1 {
                    radius_m / 2.0
                } else {
                    radius_m
                };
                let c = frame.to_wgs84(Coord {
                    x: r * a.cos(),
                    y: r * a.sin(),
                });
                [c.x, c.y]
            })
            .collect()
    }

    fn run(rings: &[Vec<[f64; 2]>]) -> Result<(Polygon, Vec<Repair>), PlanError> {
        validate_polygon(&feat(), rings, &FieldLimits::DEFAULT)
    }

    #[test]
    fn an_over_dense_trace_is_thinned_and_says_so() {
        // 20 000 points around a 50 m radius: a GPS trace at a few centimetres' spacing.
        let (p, repairs) = run(&[circle(20_000, 50.0, false)]).unwrap();
        let kept = p.exterior().0.len() - 1;
        assert!((3..=2_000).contains(&kept), "{kept}");
        assert!(
            matches!(
                repairs[..],
                [Repair::ClosedRing { .. }, Repair::Simplified { ring: Ring::Exterior, n_before: 20_000, n_after, tolerance_m2 }]
                    if n_after == kept && tolerance_m2 == 0.05
            ),
            "{repairs:?}"
        );
        // The shape survives: the area stays within 0.1 % of the dense ring's.
        let frame = LocalFrame::centred_on(&p);
        let dense = LineString(
            circle(20_000, 50.0, false)
                .iter()
                .map(|&[x, y]| Coord { x, y })
                .collect(),
        );
        let a_dense = frame
            .polygon_to_local(&Polygon::new(dense, vec![]))
            .unsigned_area();
        let a_thin = frame.polygon_to_local(&p).unsigned_area();
        assert!(
            (a_thin / a_dense - 1.0).abs() < 1e-3,
            "{a_thin} vs {a_dense}"
        );
        // A ring within the limit is left alone.
        let (p, repairs) = run(&[circle(2_000, 50.0, false)]).unwrap();
        assert_eq!(p.exterior().0.len(), 2_001);
        assert!(
            !repairs
                .iter()
                .any(|r| matches!(r, Repair::Simplified { .. })),
            "{repairs:?}"
        );
    }

    #[test]
    fn what_stays_over_the_limits_is_refused_before_validation() {
        // A 100 000-vertex star keeps every spike when thinned.
        let e = run(&[circle(100_000, 200.0, true)]).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::TooManyVertices { ring: Ring::Exterior, limit: 2_000, simplified: true, n_vertices, .. } if n_vertices > 2_000
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("after thinning"), "{e}");
        // A 1 000 000-vertex circle is refused on its count alone, without thinning.
        let e = run(&[circle(1_000_000, 200.0, false)]).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::TooManyVertices {
                    n_vertices: 1_000_000,
                    simplified: false,
                    ..
                }
            ),
            "{e:?}"
        );
        // 2 500 holes.
        let mut rings = vec![SQ.to_vec()];
        rings.extend(std::iter::repeat_n(SQ[..4].to_vec(), 2_500));
        let e = run(&rings).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::TooManyHoles {
                    n_holes: 2_500,
                    limit: 50,
                    ..
                }
            ),
            "{e:?}"
        );
        // Without thinning, the ring limit applies as it stands.
        let strict = FieldLimits {
            simplify_area_m2: 0.0,
            ..FieldLimits::DEFAULT
        };
        let e = validate_polygon(&feat(), &[circle(2_001, 50.0, false)], &strict).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::TooManyVertices {
                    n_vertices: 2_001,
                    simplified: false,
                    ..
                }
            ),
            "{e:?}"
        );
        // All rings together.
        let tight = FieldLimits {
            max_polygon_vertices: 6,
            ..FieldLimits::DEFAULT
        };
        let hole = vec![
            [139.9002, 36.9002],
            [139.9002, 36.9004],
            [139.9004, 36.9004],
            [139.9002, 36.9002],
        ];
        let e = validate_polygon(&feat(), &[SQ.to_vec(), hole], &tight).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::TooManyPolygonVertices {
                    n_vertices: 7,
                    limit: 6,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_symmetric_bowtie_is_a_self_intersection_not_zero_area() {
        let bowtie = vec![
            [139.98, 36.97],
            [139.981, 36.971],
            [139.981, 36.97],
            [139.98, 36.971],
            [139.98, 36.97],
        ];
        check(
            &[bowtie],
            "self-intersection: exterior ring edge from vertex 0",
        );
        // Points on one line are still zero area.
        check(
            &[vec![
                [139.9, 36.9],
                [139.901, 36.9],
                [139.902, 36.9],
                [139.9, 36.9],
            ]],
            "on one line",
        );
    }

    #[test]
    fn a_field_across_the_antimeridian_is_named_as_such() {
        let tiny = vec![
            [179.9999, -16.5],
            [-179.9999, -16.5],
            [-179.9999, -16.4999],
            [179.9999, -16.4999],
            [179.9999, -16.5],
        ];
        let e = run(&[tiny]).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::CrossesAntimeridian {
                    ring: Ring::Exterior,
                    vertex: 0,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("180° meridian"), "{e}");
    }
}
