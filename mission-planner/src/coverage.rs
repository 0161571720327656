//! Plan metrics: sprayed-area coverage and path length outside the field or inside exclusions.

use crate::region::Region;
use crate::route::{SegmentKind, Track};
use geo::{Area, BooleanOps, Buffer, Coord, LineString, MultiLineString, MultiPolygon};

/// The sprayed polylines of some tracks (runs of consecutive spray segments with the pump on).
pub(crate) fn spray_lines<'a>(tracks: impl IntoIterator<Item = &'a Track>) -> MultiLineString {
    let mut out = Vec::new();
    for t in tracks {
        let mut run: Vec<Coord> = Vec::new();
        for (a, b, k, rate) in t.rated_segments() {
            if k == SegmentKind::Spray && rate > 0.0 {
                if run.is_empty() {
                    run.push(a);
                }
                run.push(b);
            } else if !run.is_empty() {
                out.push(LineString(std::mem::take(&mut run)));
            }
        }
        if !run.is_empty() {
            out.push(LineString(run));
        }
    }
    MultiLineString(out)
}

/// The ground the spray reaches: every sprayed polyline grown by half the swath width
/// (round ends: a spinner disc).
pub(crate) fn footprint(lines: &MultiLineString, swath_width: f64) -> MultiPolygon {
    if lines.0.is_empty() {
        MultiPolygon(vec![])
    } else {
        lines.buffer(swath_width / 2.0)
    }
}

/// Fraction of `target` inside `footprint` (1 when `target` is empty).
pub(crate) fn coverage(footprint: &MultiPolygon, target: &MultiPolygon) -> f64 {
    let total = target.unsigned_area();
    if total <= 0.0 {
        return 1.0;
    }
    (footprint.intersection(target).unsigned_area() / total).min(1.0)
}

/// Length of polylines (every segment, whatever it is for) outside `region`, metres.
pub(crate) fn path_length_outside(paths: &[Vec<Coord>], region: &Region) -> f64 {
    paths
        .iter()
        .flat_map(|p| p.windows(2))
        .map(|w| region.length_outside(w[0], w[1]))
        .fold(0.0, |acc, x| acc + x)
}

/// Length of the tracks inside any of `zones`.
pub(crate) fn length_inside<'a>(
    tracks: impl IntoIterator<Item = &'a Track>,
    zones: &Region,
) -> f64 {
    tracks
        .into_iter()
        .flat_map(Track::segments)
        .map(|(a, b, _)| ((a.x - b.x).hypot(a.y - b.y) - zones.length_outside(a, b)).max(0.0))
        .fold(0.0, |acc, x| acc + x)
}
