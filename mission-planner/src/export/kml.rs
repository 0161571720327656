//! KML for Google Earth: field, sprayable area, zones, refill point, and each sortie's path.

use super::round8;
use crate::plan::Plan;
use crate::route::SegmentKind;
use geo::{Coord, LineString, Polygon};
use quick_xml::escape::escape;
use std::fmt::Write;

fn coords(plan: &Plan, pts: &[Coord], alt: f64) -> String {
    let mut s = String::new();
    for &c in pts {
        let g = plan.frame.to_wgs84(c);
        let _ = write!(s, "{},{},{} ", round8(g.x), round8(g.y), alt);
    }
    s.trim_end().to_string()
}

fn ring_xml(plan: &Plan, r: &LineString) -> String {
    format!(
        "<LinearRing><coordinates>{}</coordinates></LinearRing>",
        coords(plan, &r.0, 0.0)
    )
}

fn polygon_xml(plan: &Plan, p: &Polygon) -> String {
    let mut s = format!(
        "<Polygon><outerBoundaryIs>{}</outerBoundaryIs>",
        ring_xml(plan, p.exterior())
    );
    for h in p.interiors() {
        let _ = write!(
            s,
            "<innerBoundaryIs>{}</innerBoundaryIs>",
            ring_xml(plan, h)
        );
    }
    s.push_str("</Polygon>");
    s
}

fn placemark(name: &str, style: &str, geometry: &str) -> String {
    format!(
        "<Placemark><name>{}</name><styleUrl>#{style}</styleUrl>{geometry}</Placemark>\n",
        escape(name)
    )
}

/// The plan as a KML document: styled field, sprayable area and zones, the refill point, and
/// one folder per sortie with spray (green) and transit (grey) lines at spray height.
pub fn to_kml(plan: &Plan) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\"><Document>\n",
    );
    let _ = writeln!(s, "<name>{}</name>", escape(plan.field_id.as_str()));
    for (id, line, poly) in [
        ("field", "ff00ffff", "00000000"),
        ("sprayable", "ff00aa00", "4000ff00"),
        ("exclusion", "ff0000ff", "600000ff"),
        ("sensitive", "ffff00ff", "40ff00ff"),
        ("spray", "ff00ff00", "00000000"),
        ("transit", "ff999999", "00000000"),
    ] {
        let _ = writeln!(
            s,
            "<Style id=\"{id}\"><LineStyle><color>{line}</color><width>2</width></LineStyle><PolyStyle><color>{poly}</color></PolyStyle></Style>"
        );
    }
    s.push_str(&placemark(
        &format!("{} field", plan.field_id),
        "field",
        &polygon_xml(plan, &plan.field),
    ));
    let multi: String = plan
        .sprayable
        .0
        .iter()
        .map(|p| polygon_xml(plan, p))
        .collect();
    s.push_str(&placemark(
        "sprayable",
        "sprayable",
        &format!("<MultiGeometry>{multi}</MultiGeometry>"),
    ));
    for z in &plan.exclusions {
        s.push_str(&placemark("exclusion", "exclusion", &polygon_xml(plan, z)));
    }
    for z in &plan.sensitive {
        s.push_str(&placemark("sensitive", "sensitive", &polygon_xml(plan, z)));
    }
    s.push_str(&placemark(
        "refill",
        "field",
        &format!(
            "<Point><coordinates>{}</coordinates></Point>",
            coords(plan, &[plan.refill], 0.0)
        ),
    ));
    for sortie in &plan.sorties {
        let _ = writeln!(s, "<Folder><name>Sortie {}</name>", sortie.index);
        let segs: Vec<_> = sortie.track.segments().collect();
        let mut i = 0;
        while i < segs.len() {
            let spray = segs[i].2 == SegmentKind::Spray;
            let mut pts = vec![segs[i].0];
            while i < segs.len() && (segs[i].2 == SegmentKind::Spray) == spray {
                pts.push(segs[i].1);
                i += 1;
            }
            let (name, style) = if spray {
                ("spray", "spray")
            } else {
                ("transit", "transit")
            };
            let geom = format!(
                "<LineString><altitudeMode>relativeToGround</altitudeMode><coordinates>{}</coordinates></LineString>",
                coords(plan, &pts, plan.height_m)
            );
            s.push_str(&placemark(name, style, &geom));
        }
        s.push_str("</Folder>\n");
    }
    s.push_str("</Document></kml>\n");
    s
}
