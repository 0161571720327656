//! GeoJSON: field, sprayable area, zones, refill point and the flight path.

use super::round8;
use crate::plan::Plan;
use crate::route::SegmentKind;
use geo::{Coord, LineString, Polygon};
use serde_json::{Value, json};

fn pos(plan: &Plan, c: Coord) -> [f64; 2] {
    let g = plan.frame.to_wgs84(c);
    [round8(g.x), round8(g.y)]
}

fn ring(plan: &Plan, r: &LineString) -> Vec<[f64; 2]> {
    r.0.iter().map(|&c| pos(plan, c)).collect()
}

fn poly(plan: &Plan, p: &Polygon) -> Vec<Vec<[f64; 2]>> {
    std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(|r| ring(plan, r))
        .collect()
}

fn feature(geometry: Value, properties: Value) -> Value {
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

fn kind_name(k: SegmentKind) -> &'static str {
    match k {
        SegmentKind::Spray => "spray",
        SegmentKind::Transit => "transit",
        SegmentKind::Ferry => "ferry",
        SegmentKind::LeadIn => "lead-in",
    }
}

/// The plan as a GeoJSON FeatureCollection: the field (`kind: "field"`), the sprayable area
/// (`"sprayable"`), exclusion and sensitive zones, the refill point (`"refill"`), and the
/// flight path as LineStrings with `kind: "path"`, `spray: true|false`, `sortie: N` (one per
/// run of segments of the same kind).
pub fn to_geojson(plan: &Plan) -> String {
    let mut fs = vec![feature(
        json!({"type": "Polygon", "coordinates": poly(plan, &plan.field)}),
        json!({"kind": "field", "field_id": plan.field_id, "area_ha": plan.report.area_ha}),
    )];
    fs.push(feature(
        json!({"type": "MultiPolygon", "coordinates": plan.sprayable.0.iter().map(|p| poly(plan, p)).collect::<Vec<_>>()}),
        json!({"kind": "sprayable", "field_id": plan.field_id, "area_ha": plan.report.sprayable_ha}),
    ));
    for (kind, zones) in [
        ("exclusion", &plan.exclusions),
        ("sensitive", &plan.sensitive),
    ] {
        for z in zones {
            fs.push(feature(
                json!({"type": "Polygon", "coordinates": poly(plan, z)}),
                json!({"kind": kind}),
            ));
        }
    }
    fs.push(feature(
        json!({"type": "Point", "coordinates": pos(plan, plan.refill)}),
        json!({"kind": "refill"}),
    ));
    for s in &plan.sorties {
        let segs: Vec<_> = s.track.segments().collect();
        let mut i = 0;
        while i < segs.len() {
            let k = segs[i].2;
            let mut coords = vec![pos(plan, segs[i].0)];
            while i < segs.len() && segs[i].2 == k {
                coords.push(pos(plan, segs[i].1));
                i += 1;
            }
            fs.push(feature(
                json!({"type": "LineString", "coordinates": coords}),
                json!({"kind": "path", "spray": k == SegmentKind::Spray, "sortie": s.index, "segment": kind_name(k)}),
            ));
        }
    }
    let mut out = serde_json::to_string(&json!({"type": "FeatureCollection", "features": fs}))
        .expect("JSON values always serialise");
    out.push('\n');
    out
}
