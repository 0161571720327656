//! Reading fields and zones from GeoJSON, KML and KMZ bytes (no file system access).

use crate::error::{FeatureRef, KmzLimit, PlanError};
use crate::field::limits::{FieldLimits, rough_feature_count, rough_vertex_count};
use crate::field::validate::validate_polygon;
use crate::field::{Field, Role};
use crate::projection::LocalFrame;
use geo::{BoundingRect, Coord, LineString, Polygon, Rect};
use std::io::Read;

/// Zones farther than this from a field (in degrees of latitude, ~110 m) are not attached to it.
const ZONE_REACH_DEG: f64 = 0.001;
/// The deepest element nesting a KML document may have. Real files nest a placemark's
/// coordinates about ten levels deep (`kml/Document/Folder/Placemark/MultiGeometry/Polygon/
/// outerBoundaryIs/LinearRing/coordinates`) plus a few folders. The `kml` crate reads
/// recursively with large frames (an unoptimised build overflows a 2 MiB thread stack, a
/// tokio worker's, at about 45 levels), so the depth is checked before it sees the document.
pub const MAX_KML_DEPTH: usize = 32;
/// The limits a KMZ archive must keep, enforced while inflating (never trusting its headers).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KmzLimits {
    /// Most entries the archive may list.
    pub(crate) entries: usize,
    /// Most bytes the KML document may inflate to.
    pub(crate) inflated: u64,
    /// Most times its compressed size the document may inflate to, once past `ratio_floor`.
    pub(crate) ratio: u64,
    /// Inflated size below which the ratio is not checked (small files compress very well).
    pub(crate) ratio_floor: u64,
}

/// The limits of every KMZ read: 64 MiB of KML is several villages' fude polygons, a real
/// archive holds a document and a few images, and deflate on KML text stays far below 200:1
/// (a bomb of repeated bytes reaches about 1 000:1).
pub(crate) const KMZ_LIMITS: KmzLimits = KmzLimits {
    entries: 1_000,
    inflated: 64 << 20,
    ratio: 200,
    ratio_floor: 1 << 20,
};
/// Radius of a point exclusion/sensitive zone without a `radius_m` property, metres.
const DEFAULT_POINT_RADIUS_M: f64 = 3.0;

/// The fields read from one input file.
#[derive(Debug, Clone)]
pub struct FieldSet {
    /// The fields in input order; an invalid field (or one next to an invalid zone) is an `Err`
    /// naming its feature and where the defect is, so a batch can plan the others.
    pub fields: Vec<Result<Field, PlanError>>,
    /// How many exclusion zones the file holds.
    pub n_exclusions: usize,
    /// How many sensitive zones the file holds.
    pub n_sensitive: usize,
}

enum RawGeom {
    Polygons(Vec<Vec<Vec<[f64; 2]>>>),
    Point([f64; 2], f64),
    Unsupported(String),
}

pub(crate) struct RawFeature {
    feature: FeatureRef,
    role: Result<Role, String>,
    land_type: Option<String>,
    geom: RawGeom,
}

/// Reads every field and zone of a GeoJSON, KML or KMZ document (detected from its content).
///
/// Polygons whose `role` property is `"exclusion"` or `"sensitive"` become zones attached to
/// the fields within about 100 m; everything else is a field. A MultiPolygon field becomes one
/// field per part (`<id>_1`, `<id>_2`, …). The id is taken from `polygon_uuid`, `id`, the feature
/// id or the KML name, and the land type from `land_type` / `land_type_en`.
///
/// # Errors
/// [`PlanError::GeoJson`], [`PlanError::Kml`], [`PlanError::Kmz`] or [`PlanError::UnknownFormat`]
/// when the document cannot be parsed at all, and [`PlanError::NoFields`] when it holds no field.
/// Per-feature defects are reported inside [`FieldSet::fields`].
pub fn read_fields(bytes: &[u8]) -> Result<FieldSet, PlanError> {
    read_fields_with(bytes, &FieldLimits::DEFAULT)
}

/// [`read_fields`] with the given vertex and hole limits instead of [`FieldLimits::DEFAULT`].
///
/// # Errors
/// Those of [`read_fields`], and [`PlanError::TooManyFileVertices`] when the text holds more
/// vertices than `limits.max_file_vertices` (counted before parsing). Polygons over the other
/// limits are [`PlanError::TooManyVertices`], [`PlanError::TooManyPolygonVertices`] or
/// [`PlanError::TooManyHoles`] inside [`FieldSet::fields`].
pub fn read_fields_with(bytes: &[u8], limits: &FieldLimits) -> Result<FieldSet, PlanError> {
    let check_size = |text: &[u8]| {
        let n_vertices = rough_vertex_count(text);
        let n_features = rough_feature_count(text);
        if n_vertices > limits.max_file_vertices {
            Err(PlanError::TooManyFileVertices {
                n_vertices,
                limit: limits.max_file_vertices,
            })
        } else if n_features > limits.max_file_features {
            Err(PlanError::TooManyFileFeatures {
                n_features,
                limit: limits.max_file_features,
            })
        } else {
            Ok(())
        }
    };
    let raws = if bytes.starts_with(b"PK\x03\x04") {
        let kml = kmz_to_kml(bytes)?;
        check_size(kml.as_bytes())?;
        read_kml(&kml)?
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| PlanError::UnknownFormat)?;
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with('{') {
            check_size(trimmed.as_bytes())?;
            read_geojson(trimmed)?
        } else if trimmed.starts_with('<') {
            check_size(trimmed.as_bytes())?;
            read_kml(trimmed)?
        } else {
            return Err(PlanError::UnknownFormat);
        }
    };
    assemble(raws, limits)
}

fn kmz_to_kml(bytes: &[u8]) -> Result<String, PlanError> {
    kmz_to_kml_within(bytes, &KMZ_LIMITS)
}

fn kmz_to_kml_within(bytes: &[u8], limits: &KmzLimits) -> Result<String, PlanError> {
    let kmz = |e: &dyn std::fmt::Display| PlanError::Kmz {
        message: e.to_string(),
    };
    let refuse = |limit| PlanError::KmzLimit { limit };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| kmz(&e))?;
    if archive.len() > limits.entries {
        return Err(refuse(KmzLimit::Entries(limits.entries)));
    }
    let mut best: Option<usize> = None;
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(|e| kmz(&e))?;
        let name = file.name().map_err(|e| kmz(&e))?.to_ascii_lowercase();
        if name.ends_with("doc.kml") {
            best = Some(i);
            break;
        }
        if name.ends_with(".kml") && best.is_none() {
            best = Some(i);
        }
    }
    let i = best.ok_or_else(|| kmz(&"the archive holds no .kml file"))?;
    let file = archive.by_index(i).map_err(|e| kmz(&e))?;
    // The decoder reads at most the entry's compressed size from the archive, so the ratio
    // bound holds whatever the header claims the inflated size to be.
    let compressed = file.compressed_size().min(bytes.len() as u64);
    let by_ratio = compressed
        .saturating_mul(limits.ratio)
        .max(limits.ratio_floor);
    let cap = limits.inflated.min(by_ratio);
    let mut out = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| kmz(&e))?;
    if out.len() as u64 > cap {
        return Err(refuse(if cap == limits.inflated {
            KmzLimit::Inflated(limits.inflated)
        } else {
            KmzLimit::Ratio(limits.ratio)
        }));
    }
    String::from_utf8(out).map_err(|e| kmz(&e))
}

fn prop_str(props: Option<&geojson::JsonObject>, key: &str) -> Option<String> {
    props?.get(key).and_then(|v| match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn parse_role(role: Option<String>) -> Result<Role, String> {
    match role.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("field") => Ok(Role::Field),
        Some("exclusion") => Ok(Role::Exclusion),
        Some("sensitive") => Ok(Role::Sensitive),
        Some(_) => Err(role.unwrap_or_default()),
    }
}

fn positions(ring: &[geojson::Position]) -> Vec<[f64; 2]> {
    ring.iter()
        .map(|p| {
            [
                p.as_slice().first().copied().unwrap_or(f64::NAN),
                p.as_slice().get(1).copied().unwrap_or(f64::NAN),
            ]
        })
        .collect()
}

fn geojson_geom(g: Option<&geojson::Geometry>, radius: f64) -> RawGeom {
    use geojson::GeometryValue as V;
    match g.map(|g| &g.value) {
        None => RawGeom::Unsupported("none".into()),
        Some(V::Polygon { coordinates }) => {
            RawGeom::Polygons(vec![coordinates.iter().map(|r| positions(r)).collect()])
        }
        Some(V::MultiPolygon { coordinates }) => RawGeom::Polygons(
            coordinates
                .iter()
                .map(|p| p.iter().map(|r| positions(r)).collect())
                .collect(),
        ),
        Some(V::Point { coordinates }) => {
            RawGeom::Point(positions(std::slice::from_ref(coordinates))[0], radius)
        }
        Some(other) => RawGeom::Unsupported(geojson_type_name(other).into()),
    }
}

fn geojson_type_name(v: &geojson::GeometryValue) -> &'static str {
    use geojson::GeometryValue as V;
    match v {
        V::Point { .. } => "Point",
        V::MultiPoint { .. } => "MultiPoint",
        V::LineString { .. } => "LineString",
        V::MultiLineString { .. } => "MultiLineString",
        V::Polygon { .. } => "Polygon",
        V::MultiPolygon { .. } => "MultiPolygon",
        V::GeometryCollection { .. } => "GeometryCollection",
    }
}

/// One GeoJSON feature as read: its id, role, land type and geometry.
pub(crate) fn raw_geojson_feature(index: usize, f: &geojson::Feature) -> RawFeature {
    let props = f.properties.as_ref();
    let id = prop_str(props, "polygon_uuid")
        .or_else(|| prop_str(props, "id"))
        .or_else(|| {
            f.id.as_ref().map(|id| match id {
                geojson::feature::Id::String(s) => s.clone(),
                geojson::feature::Id::Number(n) => n.to_string(),
            })
        })
        .or_else(|| prop_str(props, "name"));
    let radius = props
        .and_then(|p| p.get("radius_m"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(DEFAULT_POINT_RADIUS_M);
    RawFeature {
        feature: FeatureRef { index, id },
        role: parse_role(prop_str(props, "role")),
        land_type: prop_str(props, "land_type").or_else(|| prop_str(props, "land_type_en")),
        geom: geojson_geom(f.geometry.as_ref(), radius),
    }
}

fn read_geojson(text: &str) -> Result<Vec<RawFeature>, PlanError> {
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| PlanError::GeoJson {
            message: e.to_string(),
        })?;
    let features: Vec<geojson::Feature> = match gj {
        geojson::GeoJson::FeatureCollection(fc) => fc.features,
        geojson::GeoJson::Feature(f) => vec![f],
        geojson::GeoJson::Geometry(g) => vec![geojson::Feature {
            geometry: Some(g),
            ..Default::default()
        }],
    };
    Ok(features
        .iter()
        .enumerate()
        .map(|(index, f)| raw_geojson_feature(index, f))
        .collect())
}

fn kml_ring(r: &kml::types::LinearRing) -> Vec<[f64; 2]> {
    r.coords.iter().map(|c| [c.x, c.y]).collect()
}

fn kml_polygons(g: &kml::types::Geometry, out: &mut Vec<Vec<Vec<[f64; 2]>>>) -> Result<(), String> {
    use kml::types::Geometry as G;
    match g {
        G::Polygon(p) => {
            out.push(
                std::iter::once(kml_ring(&p.outer))
                    .chain(p.inner.iter().map(kml_ring))
                    .collect(),
            );
            Ok(())
        }
        G::MultiGeometry(m) => m.geometries.iter().try_for_each(|g| kml_polygons(g, out)),
        G::Point(_) => Err("Point".into()),
        G::LineString(_) => Err("LineString".into()),
        G::LinearRing(r) => {
            out.push(vec![kml_ring(r)]);
            Ok(())
        }
        _ => Err("Model".into()),
    }
}

/// `<ExtendedData>` values: `<Data name="k"><value>v</value></Data>` or `<SimpleData name="k">v</SimpleData>`.
fn kml_data(children: &[kml::types::Element], key: &str) -> Option<String> {
    for el in children {
        let named = el.attrs.get("name").is_some_and(|n| n == key);
        if named && el.name == "SimpleData" {
            return el.content.clone().map(|s| s.trim().to_string());
        }
        if named
            && el.name == "Data"
            && let Some(v) = el.children.iter().find(|c| c.name == "value")
        {
            return v.content.clone().map(|s| s.trim().to_string());
        }
        if let Some(v) = kml_data(&el.children, key) {
            return Some(v);
        }
    }
    None
}

/// Collects the placemarks and polygons of `k`; its recursion is bounded by [`check_xml`]'s
/// depth limit, since every KML level is at least one XML element.
fn walk_kml(k: &kml::Kml, out: &mut Vec<RawFeature>) {
    use kml::Kml as K;
    match k {
        K::KmlDocument(d) => d.elements.iter().for_each(|e| walk_kml(e, out)),
        K::Document { elements, .. } => elements.iter().for_each(|e| walk_kml(e, out)),
        K::Folder(f) => f.elements.iter().for_each(|e| walk_kml(e, out)),
        K::Placemark(p) => {
            let index = out.len();
            let id = kml_data(&p.children, "polygon_uuid")
                .or_else(|| kml_data(&p.children, "id"))
                .or_else(|| p.attrs.get("id").cloned())
                .or_else(|| p.name.clone());
            let mut polys = Vec::new();
            let geom = match p.geometry.as_ref() {
                None => RawGeom::Unsupported("none".into()),
                Some(g) => match kml_polygons(g, &mut polys) {
                    Ok(()) => RawGeom::Polygons(polys),
                    Err(kind) => RawGeom::Unsupported(kind),
                },
            };
            out.push(RawFeature {
                feature: FeatureRef { index, id },
                role: parse_role(kml_data(&p.children, "role")),
                land_type: kml_data(&p.children, "land_type")
                    .or_else(|| kml_data(&p.children, "land_type_en")),
                geom,
            });
        }
        K::Polygon(p) => {
            let g = kml::types::Geometry::Polygon(p.clone());
            let mut polys = Vec::new();
            let _ = kml_polygons(&g, &mut polys);
            out.push(RawFeature {
                feature: FeatureRef {
                    index: out.len(),
                    id: None,
                },
                role: Ok(Role::Field),
                land_type: None,
                geom: RawGeom::Polygons(polys),
            });
        }
        _ => {}
    }
}

/// Checks that the document is well-formed XML (balanced, properly nested tags) and nests no
/// deeper than [`MAX_KML_DEPTH`] before the `kml` crate sees it: its reader does not stop at an
/// unexpected end of input, and it (like [`walk_kml`]) recurses once per nesting level.
fn check_xml(text: &str) -> Result<(), PlanError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) if depth >= MAX_KML_DEPTH => {
                return Err(PlanError::TooDeep {
                    limit: MAX_KML_DEPTH,
                    byte: reader.buffer_position(),
                });
            }
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) if depth == 0 => return Ok(()),
            Ok(Event::Eof) => {
                return Err(PlanError::Kml {
                    message: format!("unexpected end of document inside {depth} open element(s)"),
                });
            }
            Ok(_) => {}
            Err(e) => {
                return Err(PlanError::Kml {
                    message: format!("at byte {}: {e}", reader.error_position()),
                });
            }
        }
    }
}

fn read_kml(text: &str) -> Result<Vec<RawFeature>, PlanError> {
    check_xml(text)?;
    let k: kml::Kml = text.parse().map_err(|e: kml::Error| PlanError::Kml {
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    walk_kml(&k, &mut out);
    Ok(out)
}

/// A WGS84 circle of `radius_m` around `[lon, lat]`.
fn circle(center: [f64; 2], radius_m: f64) -> Vec<[f64; 2]> {
    let frame = LocalFrame::new(center[0], center[1]);
    let n = 24;
    (0..=n)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i % n) / f64::from(n);
            let c = frame.to_wgs84(Coord {
                x: radius_m * a.cos(),
                y: radius_m * a.sin(),
            });
            [c.x, c.y]
        })
        .collect()
}

fn finite_bbox(rings: &[Vec<[f64; 2]>]) -> Option<Rect> {
    let pts: Vec<Coord> = rings
        .iter()
        .flatten()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .map(|p| Coord { x: p[0], y: p[1] })
        .collect();
    LineString(pts).bounding_rect()
}

fn near(a: &Rect, b: &Rect) -> bool {
    let r = ZONE_REACH_DEG;
    let lon_r = r / a.min().y.to_radians().cos().max(0.05);
    a.min().x - lon_r <= b.max().x
        && b.min().x - lon_r <= a.max().x
        && a.min().y - r <= b.max().y
        && b.min().y - r <= a.max().y
}

/// A field feature before validation: where it is, its land type, its polygons' rings.
pub(crate) type FieldEntry = (
    FeatureRef,
    Option<String>,
    Result<Vec<Vec<Vec<[f64; 2]>>>, PlanError>,
);

/// An exclusion or sensitive zone as read: its role, its box in degrees, its polygon.
pub(crate) struct ZoneEntry {
    role: Role,
    bbox: Option<Rect>,
    poly: Result<Polygon, PlanError>,
}

/// One feature sorted by its role: a field still to validate, or the zones it holds.
pub(crate) enum Classified {
    /// A field feature (its polygons, or why it has none).
    Field(FieldEntry),
    /// Exclusion or sensitive zones, one per polygon.
    Zones(Vec<ZoneEntry>),
}

/// Sorts one feature by role; zones are validated here, fields by [`build_fields`].
pub(crate) fn classify(raw: RawFeature, limits: &FieldLimits) -> Classified {
    let feature = raw.feature.clone();
    let role = match raw.role {
        Ok(r) => r,
        Err(role) => {
            return Classified::Field((
                feature.clone(),
                None,
                Err(PlanError::UnknownRole { feature, role }),
            ));
        }
    };
    let polys = match raw.geom {
        RawGeom::Polygons(p) => Ok(p),
        RawGeom::Point(c, r) if role != Role::Field => Ok(vec![vec![circle(c, r)]]),
        RawGeom::Point(..) => Err(PlanError::UnsupportedGeometry {
            feature: feature.clone(),
            kind: "Point".into(),
        }),
        RawGeom::Unsupported(kind) => Err(PlanError::UnsupportedGeometry {
            feature: feature.clone(),
            kind,
        }),
    };
    match role {
        Role::Field => Classified::Field((feature, raw.land_type, polys)),
        Role::Exclusion | Role::Sensitive => Classified::Zones(match polys {
            Ok(polys) => polys
                .into_iter()
                .map(|rings| ZoneEntry {
                    role,
                    bbox: finite_bbox(&rings),
                    poly: validate_polygon(&feature, &rings, limits).map(|(p, _)| p),
                })
                .collect(),
            Err(e) => vec![ZoneEntry {
                role,
                bbox: None,
                poly: Err(e),
            }],
        }),
    }
}

/// The fields of one field feature (one per polygon part), validated, with the zones near them.
pub(crate) fn build_fields(
    (feature, land_type, polys): FieldEntry,
    zones: &[ZoneEntry],
    limits: &FieldLimits,
) -> Vec<Result<Field, PlanError>> {
    let polys = match polys {
        Ok(p) => p,
        Err(e) => return vec![Err(e)],
    };
    let base = feature
        .id
        .clone()
        .unwrap_or_else(|| format!("field_{}", feature.index + 1));
    let n_parts = polys.len();
    let mut out = Vec::with_capacity(n_parts);
    for (k, rings) in polys.iter().enumerate() {
        let id = if n_parts > 1 {
            format!("{base}_{}", k + 1)
        } else {
            base.clone()
        };
        let field = validate_polygon(&feature, rings, limits).and_then(|(boundary, repairs)| {
            let bbox = boundary.bounding_rect();
            let mut field = Field {
                id,
                land_type: land_type.clone(),
                source: feature.clone(),
                boundary,
                exclusions: Vec::new(),
                sensitive: Vec::new(),
                repairs,
            };
            for z in zones {
                let close = match (&bbox, &z.bbox) {
                    (Some(a), Some(b)) => near(a, b),
                    _ => true,
                };
                if !close {
                    continue;
                }
                let poly = z.poly.clone()?;
                match z.role {
                    Role::Exclusion => field.exclusions.push(poly),
                    _ => field.sensitive.push(poly),
                }
                let n_zones = field.exclusions.len() + field.sensitive.len();
                if n_zones > limits.max_zones {
                    return Err(PlanError::TooManyZones {
                        feature: feature.clone(),
                        n_zones,
                        limit: limits.max_zones,
                    });
                }
            }
            Ok(field)
        });
        out.push(field);
    }
    out
}

/// How many of `zones` are exclusion zones and how many sensitive ones.
pub(crate) fn zone_counts(zones: &[ZoneEntry]) -> (usize, usize) {
    let n_exclusions = zones.iter().filter(|z| z.role == Role::Exclusion).count();
    (n_exclusions, zones.len() - n_exclusions)
}

fn assemble(raws: Vec<RawFeature>, limits: &FieldLimits) -> Result<FieldSet, PlanError> {
    let mut zones = Vec::new();
    let mut fields: Vec<FieldEntry> = Vec::new();
    for raw in raws {
        match classify(raw, limits) {
            Classified::Field(f) => fields.push(f),
            Classified::Zones(z) => zones.extend(z),
        }
    }
    if fields.is_empty() {
        return Err(PlanError::NoFields);
    }
    let (n_exclusions, n_sensitive) = zone_counts(&zones);
    Ok(FieldSet {
        fields: fields
            .into_iter()
            .flat_map(|f| build_fields(f, &zones, limits))
            .collect(),
        n_exclusions,
        n_sensitive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FC: &str = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"polygon_uuid":"u-1","land_type":"田"},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.901,36.9],[139.901,36.901],[139.9,36.901],[139.9,36.9]]]}},
      {"type":"Feature","properties":{"role":"exclusion"},"geometry":{"type":"Point","coordinates":[139.9005,36.9005]}},
      {"type":"Feature","properties":{"role":"sensitive"},"geometry":{"type":"Polygon","coordinates":[[[139.902,36.9],[139.903,36.9],[139.903,36.901],[139.902,36.9]]]}},
      {"type":"Feature","id":7,"properties":{},"geometry":{"type":"LineString","coordinates":[[139.9,36.9],[139.91,36.9]]}},
      {"type":"Feature","properties":{"id":"bad"},"geometry":{"type":"Polygon","coordinates":[[[36.9,139.9],[36.9,139.901],[36.901,139.901],[36.9,139.9]]]}}
    ]}"#;

    #[test]
    fn geojson_batch_keeps_good_fields_and_names_bad_ones() {
        let set = read_fields(FC.as_bytes()).unwrap();
        assert_eq!(set.fields.len(), 3);
        let f = set.fields[0].as_ref().unwrap();
        assert_eq!(f.id, "u-1");
        assert_eq!(f.land_type.as_deref(), Some("田"));
        assert_eq!((f.exclusions.len(), f.sensitive.len()), (1, 1));
        let e1 = set.fields[1].as_ref().unwrap_err().to_string();
        assert!(
            e1.contains("feature #3 (id \"7\")") && e1.contains("LineString"),
            "{e1}"
        );
        let e2 = set.fields[2].as_ref().unwrap_err().to_string();
        assert!(
            e2.contains("feature #4 (id \"bad\")") && e2.contains("swapped"),
            "{e2}"
        );
    }

    #[test]
    fn kml_and_kmz() {
        let kml = r#"<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder><name>f</name>
<Placemark><name>paddy-1</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
139.9,36.9,0 139.901,36.9,0 139.901,36.901,0 139.9,36.901,0 139.9,36.9,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
<Placemark><name>tree</name><ExtendedData><Data name="role"><value>exclusion</value></Data></ExtendedData>
<Polygon><outerBoundaryIs><LinearRing><coordinates>139.9004,36.9004 139.9006,36.9004 139.9006,36.9006 139.9004,36.9004</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Folder></Document></kml>"#;
        let set = read_fields(kml.as_bytes()).unwrap();
        let f = set.fields[0].as_ref().unwrap();
        assert_eq!(f.id, "paddy-1");
        assert_eq!(f.exclusions.len(), 1);

        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            z.start_file("doc.kml", zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut z, kml.as_bytes()).unwrap();
            z.finish().unwrap();
        }
        let set = read_fields(buf.get_ref()).unwrap();
        assert_eq!(set.fields[0].as_ref().unwrap().id, "paddy-1");
    }

    /// A placemark wrapped in `depth` nested folders.
    fn nested_kml(depth: usize) -> String {
        let mut s = String::from(
            r#"<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>"#,
        );
        s.push_str(&"<Folder>".repeat(depth));
        s.push_str(
            "<Placemark><name>deep</name><Polygon><outerBoundaryIs><LinearRing><coordinates>\
             139.9,36.9 139.901,36.9 139.901,36.901 139.9,36.901 139.9,36.9\
             </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>",
        );
        s.push_str(&"</Folder>".repeat(depth));
        s.push_str("</Document></kml>");
        s
    }

    #[test]
    fn deeply_nested_kml_is_refused_not_a_stack_overflow() {
        for depth in [2_000, 100_000] {
            let kml = nested_kml(depth);
            match read_fields(kml.as_bytes()) {
                Err(PlanError::TooDeep { limit, byte }) => {
                    assert_eq!(limit, MAX_KML_DEPTH);
                    assert!(byte > 0 && byte < kml.len() as u64);
                }
                other => panic!("depth {depth}: expected TooDeep, got {other:?}"),
            }
            let msg = read_fields(kml.as_bytes()).unwrap_err().to_string();
            assert!(msg.contains("nested more than 32 levels"), "{msg}");
        }
        // Unclosed nesting is refused the same way, before the end of input is reached.
        let open = format!("<kml>{}", "<Folder>".repeat(100_000));
        assert!(matches!(
            read_fields(open.as_bytes()),
            Err(PlanError::TooDeep { .. })
        ));
    }

    #[test]
    fn nesting_up_to_the_limit_still_imports() {
        // kml + Document + folders + Placemark/Polygon/outerBoundaryIs/LinearRing/coordinates.
        let folders = MAX_KML_DEPTH - 2 - 5;
        let set = read_fields(nested_kml(folders).as_bytes()).unwrap();
        assert_eq!(set.fields[0].as_ref().unwrap().id, "deep");
        assert!(matches!(
            read_fields(nested_kml(folders + 1).as_bytes()),
            Err(PlanError::TooDeep { .. })
        ));
    }

    #[test]
    fn every_recursive_kml_element_at_the_limit_fits_a_worker_stack() {
        let wrap = |open: &str, close: &str, n: usize, inner: &str| {
            format!("{}{inner}{}", open.repeat(n), close.repeat(n))
        };
        let poly = "<Polygon><outerBoundaryIs><LinearRing><coordinates>\
                    139.9,36.9 139.901,36.9 139.901,36.901 139.9,36.9\
                    </coordinates></LinearRing></outerBoundaryIs></Polygon>";
        let placemark = format!("<Placemark>{poly}</Placemark>");
        let d = MAX_KML_DEPTH;
        let docs = [
            wrap("<Folder>", "</Folder>", d - 6, &placemark),
            wrap("<Document>", "</Document>", d - 6, &placemark),
            format!(
                "<Placemark>{}</Placemark>",
                wrap("<MultiGeometry>", "</MultiGeometry>", d - 6, poly)
            ),
            format!(
                "<Placemark><ExtendedData>{}</ExtendedData>{poly}</Placemark>",
                wrap("<x>", "</x>", d - 3, "v")
            ),
        ];
        for body in docs {
            let kml = format!("<kml>{body}</kml>");
            // The same stack size as a tokio worker thread, where the server parses uploads.
            let ok = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || read_fields(kml.as_bytes()).map(|s| s.fields.len()))
                .unwrap()
                .join()
                .unwrap();
            assert_eq!(ok.unwrap(), 1);
        }
    }

    #[test]
    fn deeply_nested_geojson_is_a_parse_error() {
        // serde_json stops at 128 levels (its recursion limit is on: no `unbounded_depth`).
        for depth in [200, 100_000] {
            let props = format!(
                r#"{{"type":"Feature","properties":{{"x":{}1{}}},"geometry":null}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let e = read_fields(props.as_bytes()).unwrap_err();
            assert!(
                matches!(&e, PlanError::GeoJson { message } if message.contains("recursion limit")),
                "{e:?}"
            );
            let mut gc = String::new();
            for _ in 0..depth {
                gc.push_str(r#"{"type":"GeometryCollection","geometries":["#);
            }
            gc.push_str(r#"{"type":"Point","coordinates":[0,0]}"#);
            gc.push_str(&"]}".repeat(depth));
            let e = read_fields(gc.as_bytes()).unwrap_err();
            assert!(matches!(e, PlanError::GeoJson { .. }), "{e:?}");
        }
    }

    /// A zip holding `entries` (name, bytes), deflated.
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true);
            for (name, data) in entries {
                z.start_file(*name, opts).unwrap();
                std::io::Write::write_all(&mut z, data).unwrap();
            }
            z.finish().unwrap();
        }
        buf.into_inner()
    }

    /// A zip whose `doc.kml` is `len` spaces, written in chunks so the test never holds it.
    fn bomb(len: u64) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true);
            z.start_file("doc.kml", opts).unwrap();
            std::io::Write::write_all(&mut z, b"<kml>").unwrap();
            let chunk = vec![b' '; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                std::io::Write::write_all(&mut z, &chunk[..n]).unwrap();
                left -= n as u64;
            }
            z.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn a_kmz_bomb_is_refused_while_inflating() {
        // 256 MiB of blanks deflate to about 250 KB; reading stops at the ratio bound.
        let b = bomb(256 << 20);
        assert!(b.len() < 1 << 20, "{}", b.len());
        let e = read_fields(&b).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::KmzLimit {
                    limit: KmzLimit::Ratio(200)
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("200 times"), "{e}");
    }

    #[test]
    fn kmz_limits_are_enforced_one_by_one() {
        let kml = br#"<kml><Placemark><name>p</name><Polygon><outerBoundaryIs><LinearRing><coordinates>139.9,36.9 139.901,36.9 139.901,36.901 139.9,36.9</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></kml>"#;
        let lax = KmzLimits {
            entries: 10,
            inflated: 1 << 20,
            ratio: 1_000,
            ratio_floor: 0,
        };
        let ok = zip_of(&[("doc.kml", kml)]);
        assert!(kmz_to_kml_within(&ok, &lax).is_ok());
        // Entry count.
        let names: Vec<String> = (0..11).map(|i| format!("img{i}.png")).collect();
        let mut many: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        many.push(("doc.kml", kml));
        assert!(matches!(
            kmz_to_kml_within(&zip_of(&many), &lax),
            Err(PlanError::KmzLimit {
                limit: KmzLimit::Entries(10)
            })
        ));
        // Inflated size: just at the limit passes, one byte over is refused.
        let exact = KmzLimits {
            inflated: kml.len() as u64,
            ..lax
        };
        assert!(kmz_to_kml_within(&ok, &exact).is_ok());
        let short = KmzLimits {
            inflated: kml.len() as u64 - 1,
            ..lax
        };
        assert!(matches!(
            kmz_to_kml_within(&ok, &short),
            Err(PlanError::KmzLimit {
                limit: KmzLimit::Inflated(_)
            })
        ));
        // Ratio: repeated bytes compress far better than 2:1.
        let blank = vec![b' '; 100_000];
        let tight = KmzLimits { ratio: 2, ..lax };
        assert!(matches!(
            kmz_to_kml_within(&zip_of(&[("doc.kml", &blank)]), &tight),
            Err(PlanError::KmzLimit {
                limit: KmzLimit::Ratio(2)
            })
        ));
    }

    #[test]
    fn a_kmz_header_that_understates_the_size_is_not_trusted() {
        let blank = vec![b' '; 100_000];
        let mut z = zip_of(&[("doc.kml", &blank)]);
        // Claim 10 bytes inflated in the local header (offset 22) and the central directory
        // entry (offset 24); the inflated size limit must still stop the read.
        let claim = 10u32.to_le_bytes();
        z[22..26].copy_from_slice(&claim);
        let cd = z
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central directory");
        z[cd + 24..cd + 28].copy_from_slice(&claim);
        let limits = KmzLimits {
            entries: 10,
            inflated: 50_000,
            ratio: 1_000_000,
            ratio_floor: 0,
        };
        match kmz_to_kml_within(&z, &limits) {
            Err(PlanError::KmzLimit {
                limit: KmzLimit::Inflated(50_000),
            }) => {}
            // The zip reader may itself stop at the claimed size; then nothing past it was read.
            Err(PlanError::Kmz { .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            read_fields(b"hello"),
            Err(PlanError::UnknownFormat)
        ));
        assert!(matches!(
            read_fields(b"{\"type\":"),
            Err(PlanError::GeoJson { .. })
        ));
        assert!(matches!(
            read_fields(b"<kml><Placemark>"),
            Err(PlanError::Kml { .. })
        ));
        assert!(matches!(
            read_fields(b"<kml><Placemark></kml>"),
            Err(PlanError::Kml { .. })
        ));
        assert!(matches!(
            read_fields(b"PK\x03\x04garbage"),
            Err(PlanError::Kmz { .. })
        ));
    }

    #[test]
    fn vertex_limits_apply_to_files_and_fields() {
        let ring: Vec<String> = (0..=300_000)
            .map(|i| {
                let a = std::f64::consts::TAU * f64::from(i % 300_000) / 300_000.0;
                format!("[{},{}]", 139.9 + 0.002 * a.cos(), 36.9 + 0.002 * a.sin())
            })
            .collect();
        let gj = format!(
            r#"{{"type":"Feature","properties":{{"id":"circle"}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}"#,
            ring.join(",")
        );
        // Over the file limit: refused on the raw text, before parsing.
        let small = FieldLimits {
            max_file_vertices: 100_000,
            ..FieldLimits::DEFAULT
        };
        let e = read_fields_with(gj.as_bytes(), &small).unwrap_err();
        assert!(
            matches!(e, PlanError::TooManyFileVertices { limit: 100_000, n_vertices } if n_vertices > 300_000),
            "{e:?}"
        );
        assert!(e.to_string().contains("split it into smaller files"), "{e}");
        // Within the file limit, the one ring is over what is thinned: the field is refused.
        let set = read_fields(gj.as_bytes()).unwrap();
        let e = set.fields[0].as_ref().unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::TooManyVertices {
                    n_vertices: 300_000,
                    simplified: false,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("feature #0 (id \"circle\")"), "{e}");
    }

    #[test]
    fn feature_limits_apply_to_files_before_parsing() {
        let square = |k: usize| {
            let (x, y) = (139.9 + 0.001 * k as f64, 36.9);
            format!(
                "{x},{y} {},{y} {},{} {x},{} {x},{y}",
                x + 0.0005,
                x + 0.0005,
                y + 0.0005,
                y + 0.0005
            )
        };
        let kml: String = (0..3)
            .map(|k| format!("<Placemark><Polygon><outerBoundaryIs><LinearRing><coordinates>{}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>", square(k)))
            .collect();
        let kml = format!("<kml><Document>{kml}</Document></kml>");
        let two = FieldLimits {
            max_file_features: 2,
            ..FieldLimits::DEFAULT
        };
        let e = read_fields_with(kml.as_bytes(), &two).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::TooManyFileFeatures {
                    n_features: 3,
                    limit: 2
                }
            ),
            "{e:?}"
        );
        assert_eq!(read_fields(kml.as_bytes()).unwrap().fields.len(), 3);
        // GeoJSON counts its Features, not its FeatureCollection.
        let gj = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.901,36.9],[139.901,36.901],[139.9,36.9]]]}}]}"#;
        assert_eq!(rough_feature_count(gj.as_bytes()), 1);
        assert!(read_fields_with(gj.as_bytes(), &FieldLimits::UPLOAD).is_ok());
    }

    #[test]
    fn a_field_among_too_many_zones_is_refused() {
        let field = r#"{"type":"Feature","properties":{"id":"f"},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.902,36.9],[139.902,36.902],[139.9,36.902],[139.9,36.9]]]}}"#;
        let zones: Vec<String> = (0..60)
            .map(|k| {
                format!(
                    r#"{{"type":"Feature","properties":{{"role":"exclusion"}},"geometry":{{"type":"Point","coordinates":[{},{}]}}}}"#,
                    139.9002 + 0.0002 * f64::from(k % 8),
                    36.9002 + 0.0002 * f64::from(k / 8)
                )
            })
            .collect();
        let fc = |n: usize| {
            format!(
                r#"{{"type":"FeatureCollection","features":[{field},{}]}}"#,
                zones[..n].join(",")
            )
        };
        let set = read_fields(fc(50).as_bytes()).unwrap();
        assert_eq!(set.fields[0].as_ref().unwrap().exclusions.len(), 50);
        let set = read_fields(fc(60).as_bytes()).unwrap();
        let e = set.fields[0].as_ref().unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::TooManyZones {
                    n_zones: 51,
                    limit: 50,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
