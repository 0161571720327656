//! Reading the fields of a large GeoJSON FeatureCollection one feature at a time, so a whole
//! city's parcels (tens of thousands of features, hundreds of megabytes) are planned in memory
//! that does not grow with their number.
//!
//! Two passes over the same bytes: [`scan_fields`] counts features and vertices against the
//! file limits and keeps only the exclusion and sensitive zones (a zone may come after the
//! fields it belongs to); [`FieldScan::for_each_field`] then hands out the fields one by one,
//! validated and with their zones attached exactly as [`read_fields_with`](crate::read_fields_with)
//! does. Every error a whole-file read gives for the document itself is found by the scan,
//! before any field is handed out.
//!
//! The document is read with serde's streaming visitor (one `Feature` at a time out of the
//! `features` array, every other member skipped), not by searching for the first `[`: a `bbox`
//! or a `crs` before `features` is read as what it is, and `type` must be `FeatureCollection`.

use crate::error::PlanError;
use crate::field::Field;
use crate::field::import::{
    Classified, ZoneEntry, build_fields, classify, raw_geojson_feature, zone_counts,
};
use crate::field::limits::FieldLimits;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use std::io::Read;

/// What the first pass over a GeoJSON FeatureCollection found; see [`scan_fields`].
pub struct FieldScan {
    zones: Vec<ZoneEntry>,
    limits: FieldLimits,
    n_features: usize,
    n_fields: usize,
}

impl std::fmt::Debug for FieldScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldScan")
            .field("n_features", &self.n_features)
            .field("n_fields", &self.n_fields)
            .field("zones", &self.zones.len())
            .finish_non_exhaustive()
    }
}

/// Why a streamed read stopped: the document, or the consumer.
enum Stop {
    Plan(PlanError),
    Consumer,
}

/// Walks a FeatureCollection, calling `each` with every feature and its index.
struct Collection<'a, F> {
    each: &'a mut F,
}

struct Features<'a, F> {
    each: &'a mut F,
}

impl<'de, F> Visitor<'de> for Collection<'_, F>
where
    F: FnMut(usize, geojson::Feature) -> bool,
{
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a GeoJSON FeatureCollection")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut kind: Option<String> = None;
        let mut has_features = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value()?),
                "features" if kind.as_deref().is_none_or(|k| k == "FeatureCollection") => {
                    map.next_value_seed(Features {
                        each: &mut *self.each,
                    })?;
                    has_features = true;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(has_features && kind.as_deref() == Some("FeatureCollection"))
    }
}

impl<'de, F> DeserializeSeed<'de> for Features<'_, F>
where
    F: FnMut(usize, geojson::Feature) -> bool,
{
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F> Visitor<'de> for Features<'_, F>
where
    F: FnMut(usize, geojson::Feature) -> bool,
{
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of GeoJSON Features")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        let mut index = 0;
        while let Some(f) = seq.next_element::<geojson::Feature>()? {
            if !(self.each)(index, f) {
                return Err(S::Error::custom("stopped"));
            }
            index += 1;
        }
        Ok(())
    }
}

/// Reads one document, calling `each` per feature: `Ok(false)` when it is GeoJSON but not a
/// FeatureCollection (read it whole instead).
fn walk<R: Read>(
    reader: R,
    mut each: impl FnMut(usize, geojson::Feature) -> Result<(), Stop>,
) -> Result<bool, Stop> {
    let mut stopped: Option<Stop> = None;
    let mut visit = |index, f| match each(index, f) {
        Ok(()) => true,
        Err(stop) => {
            stopped = Some(stop);
            false
        }
    };
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, reader));
    let result = serde::Deserializer::deserialize_map(&mut de, Collection { each: &mut visit })
        .and_then(|is| de.end().map(|()| is));
    match (result, stopped) {
        (_, Some(stop)) => Err(stop),
        (Ok(is), None) => Ok(is),
        (Err(e), None) => Err(Stop::Plan(PlanError::GeoJson {
            message: e.to_string(),
        })),
    }
}

fn feature_vertices(f: &geojson::Feature) -> usize {
    use geojson::GeometryValue as V;
    fn count(v: &V) -> usize {
        match v {
            V::Point { .. } => 1,
            V::MultiPoint { coordinates } | V::LineString { coordinates } => coordinates.len(),
            V::MultiLineString { coordinates } | V::Polygon { coordinates } => {
                coordinates.iter().map(Vec::len).sum()
            }
            V::MultiPolygon { coordinates } => coordinates
                .iter()
                .flat_map(|p| p.iter().map(Vec::len))
                .sum(),
            V::GeometryCollection { geometries } => {
                geometries.iter().map(|g| count(&g.value)).sum()
            }
        }
    }
    f.geometry.as_ref().map_or(0, |g| count(&g.value))
}

/// The first pass over a GeoJSON document: `Ok(None)` when it is not a FeatureCollection
/// (a bare Feature or Geometry: read it whole with [`read_fields_with`](crate::read_fields_with)).
///
/// # Errors
/// [`PlanError::GeoJson`] when the document or reading it fails,
/// [`PlanError::TooManyFileFeatures`] / [`PlanError::TooManyFileVertices`] over the limits,
/// and [`PlanError::NoFields`] when it holds no field.
pub fn scan_fields<R: Read>(
    reader: R,
    limits: &FieldLimits,
) -> Result<Option<FieldScan>, PlanError> {
    let mut zones = Vec::new();
    let (mut n_features, mut n_vertices, mut n_fields) = (0usize, 0usize, 0usize);
    let is_collection = walk(reader, |index, f| {
        n_features += 1;
        n_vertices += feature_vertices(&f);
        if n_features > limits.max_file_features {
            return Err(Stop::Plan(PlanError::TooManyFileFeatures {
                n_features,
                limit: limits.max_file_features,
            }));
        }
        if n_vertices > limits.max_file_vertices {
            return Err(Stop::Plan(PlanError::TooManyFileVertices {
                n_vertices,
                limit: limits.max_file_vertices,
            }));
        }
        match classify(raw_geojson_feature(index, &f), limits) {
            Classified::Zones(z) => zones.extend(z),
            Classified::Field(_) => n_fields += 1,
        }
        Ok(())
    })
    .map_err(|e| match e {
        Stop::Plan(e) => e,
        Stop::Consumer => unreachable_consumer(),
    })?;
    if !is_collection {
        return Ok(None);
    }
    if n_fields == 0 {
        return Err(PlanError::NoFields);
    }
    Ok(Some(FieldScan {
        zones,
        limits: *limits,
        n_features,
        n_fields,
    }))
}

/// The scan's own callback never stops as a consumer would.
fn unreachable_consumer() -> PlanError {
    PlanError::GeoJson {
        message: "the scan stopped early".into(),
    }
}

impl FieldScan {
    /// How many features the document holds (fields, zones and unreadable ones).
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// How many field features the document holds (a MultiPolygon gives a field per part).
    pub fn n_field_features(&self) -> usize {
        self.n_fields
    }

    /// How many exclusion and how many sensitive zones the document holds.
    pub fn n_zones(&self) -> (usize, usize) {
        zone_counts(&self.zones)
    }

    /// The second pass: calls `each` with every field (or its defect) in document order, while
    /// `each` returns `true`. `reader` must give the bytes the scan read.
    ///
    /// # Errors
    /// [`PlanError::GeoJson`] when reading fails or the bytes differ from the scanned ones
    /// (the fields before the difference have been handed out).
    pub fn for_each_field<R: Read>(
        &self,
        reader: R,
        mut each: impl FnMut(Result<Field, PlanError>) -> bool,
    ) -> Result<(), PlanError> {
        let walked = walk(reader, |index, f| {
            if let Classified::Field(entry) = classify(raw_geojson_feature(index, &f), &self.limits)
            {
                for field in build_fields(entry, &self.zones, &self.limits) {
                    if !each(field) {
                        return Err(Stop::Consumer);
                    }
                }
            }
            Ok(())
        });
        match walked {
            Ok(true) | Err(Stop::Consumer) => Ok(()),
            Ok(false) => Err(PlanError::GeoJson {
                message: "the document changed while it was read".into(),
            }),
            Err(Stop::Plan(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_fields_with;

    /// A zone after the field it belongs to, a bad role, a MultiPolygon, a bad polygon, and a
    /// `bbox` before the features.
    const FC: &str = r#"{"type":"FeatureCollection","bbox":[139.9,36.9,139.93,36.91],"name":"x","features":[
      {"type":"Feature","properties":{"polygon_uuid":"u-1","land_type":"田"},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.901,36.9],[139.901,36.901],[139.9,36.901],[139.9,36.9]]]}},
      {"type":"Feature","properties":{"role":"pond"},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.901,36.9],[139.901,36.901],[139.9,36.9]]]}},
      {"type":"Feature","properties":{"id":"m"},"geometry":{"type":"MultiPolygon","coordinates":[[[[139.91,36.9],[139.911,36.9],[139.911,36.901],[139.91,36.9]]],[[[139.92,36.9],[139.921,36.9],[139.921,36.901],[139.92,36.9]]]]}},
      {"type":"Feature","properties":{"id":"bad"},"geometry":{"type":"Polygon","coordinates":[[[36.9,139.9],[36.9,139.901],[36.901,139.901],[36.9,139.9]]]}},
      {"type":"Feature","properties":{"role":"exclusion"},"geometry":{"type":"Point","coordinates":[139.9005,36.9005]}},
      {"type":"Feature","properties":{"role":"sensitive"},"geometry":{"type":"Polygon","coordinates":[[[139.902,36.9],[139.903,36.9],[139.903,36.901],[139.902,36.9]]]}}
    ]}"#;

    fn streamed(text: &str) -> Vec<Result<Field, PlanError>> {
        let scan = scan_fields(text.as_bytes(), &FieldLimits::DEFAULT)
            .unwrap()
            .expect("a FeatureCollection");
        let mut out = Vec::new();
        scan.for_each_field(text.as_bytes(), |f| {
            out.push(f);
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn streams_what_a_whole_file_read_gives() {
        let whole = read_fields_with(FC.as_bytes(), &FieldLimits::DEFAULT).unwrap();
        let scan = scan_fields(FC.as_bytes(), &FieldLimits::DEFAULT)
            .unwrap()
            .unwrap();
        assert_eq!(scan.n_features(), 6);
        assert_eq!(scan.n_zones(), (whole.n_exclusions, whole.n_sensitive));
        let streamed = streamed(FC);
        assert_eq!(streamed.len(), whole.fields.len());
        for (a, b) in streamed.iter().zip(&whole.fields) {
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!("{a:?} vs {b:?}"),
            }
        }
        // The zones listed after the field are attached to it.
        let u1 = streamed[0].as_ref().unwrap();
        assert_eq!((u1.exclusions.len(), u1.sensitive.len()), (1, 1));
    }

    #[test]
    fn the_sample_files_stream_as_they_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/fields");
        for name in [
            "paddies_jp.geojson",
            "holes.geojson",
            "paddy_with_zones.geojson",
        ] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            let whole = read_fields_with(text.as_bytes(), &FieldLimits::DEFAULT).unwrap();
            let streamed = streamed(&text);
            assert_eq!(streamed.len(), whole.fields.len(), "{name}");
            for (a, b) in streamed.iter().zip(&whole.fields) {
                assert_eq!(a.as_ref().ok(), b.as_ref().ok(), "{name}");
            }
        }
    }

    #[test]
    fn other_documents_are_left_to_the_whole_file_reader() {
        let feature = r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.901,36.9],[139.901,36.901],[139.9,36.9]]]}}"#;
        assert!(
            scan_fields(feature.as_bytes(), &FieldLimits::DEFAULT)
                .unwrap()
                .is_none()
        );
        let geometry = r#"{"coordinates":[[[139.9,36.9],[139.901,36.9],[139.901,36.901],[139.9,36.9]]],"type":"Polygon"}"#;
        assert!(
            scan_fields(geometry.as_bytes(), &FieldLimits::DEFAULT)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn document_errors_come_before_any_field() {
        let truncated = &FC[..FC.len() / 2];
        assert!(matches!(
            scan_fields(truncated.as_bytes(), &FieldLimits::DEFAULT),
            Err(PlanError::GeoJson { .. })
        ));
        let trailing = format!("{FC} {{}}");
        assert!(matches!(
            scan_fields(trailing.as_bytes(), &FieldLimits::DEFAULT),
            Err(PlanError::GeoJson { .. })
        ));
        let two = FieldLimits {
            max_file_features: 2,
            ..FieldLimits::DEFAULT
        };
        assert!(matches!(
            scan_fields(FC.as_bytes(), &two),
            Err(PlanError::TooManyFileFeatures { limit: 2, .. })
        ));
        let few = FieldLimits {
            max_file_vertices: 10,
            ..FieldLimits::DEFAULT
        };
        assert!(matches!(
            scan_fields(FC.as_bytes(), &few),
            Err(PlanError::TooManyFileVertices { limit: 10, .. })
        ));
        let zones_only = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"role":"exclusion"},"geometry":{"type":"Point","coordinates":[139.9,36.9]}}]}"#;
        assert!(matches!(
            scan_fields(zones_only.as_bytes(), &FieldLimits::DEFAULT),
            Err(PlanError::NoFields)
        ));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let nested = format!(r#"{{"type":"FeatureCollection","features":{deep}}}"#);
        assert!(matches!(
            scan_fields(nested.as_bytes(), &FieldLimits::DEFAULT),
            Err(PlanError::GeoJson { .. })
        ));
    }

    #[test]
    fn the_consumer_can_stop_and_changed_bytes_are_an_error() {
        let scan = scan_fields(FC.as_bytes(), &FieldLimits::DEFAULT)
            .unwrap()
            .unwrap();
        let mut n = 0;
        scan.for_each_field(FC.as_bytes(), |_| {
            n += 1;
            false
        })
        .unwrap();
        assert_eq!(n, 1);
        let mut got = 0;
        let r = scan.for_each_field(&FC.as_bytes()[..700], |_| {
            got += 1;
            true
        });
        assert!(matches!(r, Err(PlanError::GeoJson { .. })), "{r:?}");
        assert!(got >= 1);
    }
}
