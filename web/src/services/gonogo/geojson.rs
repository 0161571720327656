//! GeoJSON (a FeatureCollection, a Feature or a bare geometry) to `geo` shapes.

use geo::{Coord, Geometry, LineString, Point, Polygon};
use serde_json::Value;

/// The geometries of a GeoJSON FeatureCollection, Feature or bare geometry whose feature
/// properties pass `keep` (WGS84, x = lon, y = lat).
pub fn geometries(v: &Value, keep: impl Fn(&Value) -> bool + Copy) -> Vec<Geometry> {
    match v["type"].as_str() {
        Some("FeatureCollection") => v["features"]
            .as_array()
            .map(|fs| fs.iter().flat_map(|f| geometries(f, keep)).collect())
            .unwrap_or_default(),
        Some("Feature") if keep(&v["properties"]) => geometry(&v["geometry"]).into_iter().collect(),
        Some("Feature") => Vec::new(),
        _ => geometry(v).into_iter().collect(),
    }
}

fn coord(v: &Value) -> Option<Coord> {
    Some(Coord {
        x: v.get(0)?.as_f64()?,
        y: v.get(1)?.as_f64()?,
    })
}

fn line(v: &Value) -> Option<LineString> {
    v.as_array()?
        .iter()
        .map(coord)
        .collect::<Option<Vec<_>>>()
        .map(LineString::new)
}

fn polygon(v: &Value) -> Option<Polygon> {
    let mut rings = v.as_array()?.iter().map(line);
    let exterior = rings.next()??;
    let interiors = rings.collect::<Option<Vec<_>>>()?;
    Some(Polygon::new(exterior, interiors))
}

fn geometry(g: &Value) -> Option<Geometry> {
    let c = &g["coordinates"];
    Some(match g["type"].as_str()? {
        "Point" => Geometry::Point(Point(coord(c)?)),
        "LineString" => Geometry::LineString(line(c)?),
        "Polygon" => Geometry::Polygon(polygon(c)?),
        "MultiPolygon" => Geometry::MultiPolygon(geo::MultiPolygon(
            c.as_array()?
                .iter()
                .map(polygon)
                .collect::<Option<Vec<_>>>()?,
        )),
        "MultiLineString" => Geometry::MultiLineString(geo::MultiLineString(
            c.as_array()?.iter().map(line).collect::<Option<Vec<_>>>()?,
        )),
        _ => return None,
    })
}
