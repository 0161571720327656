//! The planner's one error type.

use std::fmt;

/// Which input feature an error is about: its position in the file and its id, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRef {
    /// Zero-based position of the feature (or placemark) in the input file.
    pub index: usize,
    /// The feature's id (`polygon_uuid`, `id`, the GeoJSON feature id or the KML name).
    pub id: Option<String>,
}

impl fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "feature #{} (id {id:?})", self.index),
            None => write!(f, "feature #{}", self.index),
        }
    }
}

/// Which ring of a polygon an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ring {
    /// The outer boundary.
    Exterior,
    /// The hole with this zero-based index.
    Interior(usize),
}

impl fmt::Display for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ring::Exterior => write!(f, "exterior ring"),
            Ring::Interior(i) => write!(f, "interior ring {i}"),
        }
    }
}

/// A number as people read it: plain when it is of everyday size, otherwise in scientific
/// notation (`1e308`, not 309 digits), so a wild value in an error stays readable.
pub(crate) fn shown(v: f64) -> String {
    if v == 0.0 || (v.is_finite() && (1e-3..1e9).contains(&v.abs())) {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_owned()
    } else if v.is_finite() {
        format!("{v:.3e}")
            .replace(".000e", "e")
            .replace("00e", "e")
            .replace("0e", "e")
    } else {
        v.to_string()
    }
}

/// Which safety limit a KMZ archive went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KmzLimit {
    /// The archive lists more entries than this.
    Entries(usize),
    /// The KML document inflates to more bytes than this.
    Inflated(u64),
    /// The KML document inflates to more than this many times its compressed size.
    Ratio(u64),
}

impl fmt::Display for KmzLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KmzLimit::Entries(n) => write!(f, "more than {n} entries"),
            KmzLimit::Inflated(n) => write!(f, "the document inflates to more than {n} bytes"),
            KmzLimit::Ratio(r) => {
                write!(
                    f,
                    "the document inflates to more than {r} times its compressed size"
                )
            }
        }
    }
}

/// Everything that can go wrong while reading a field or planning a mission.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The input is not valid JSON / GeoJSON.
    #[error("invalid GeoJSON: {message}")]
    GeoJson {
        /// What the parser said.
        message: String,
    },
    /// The input is not valid KML.
    #[error("invalid KML: {message}")]
    Kml {
        /// What the parser said.
        message: String,
    },
    /// The input is a zip file that holds no readable `.kml` document.
    #[error("invalid KMZ: {message}")]
    Kmz {
        /// What went wrong.
        message: String,
    },
    /// The KML document nests elements deeper than the planner accepts (refused before parsing,
    /// so a hostile file cannot exhaust the stack).
    #[error("KML elements are nested more than {limit} levels deep (at byte {byte})")]
    TooDeep {
        /// The deepest nesting accepted.
        limit: usize,
        /// Byte offset of the element that went past the limit.
        byte: u64,
    },
    /// A KMZ archive goes past a safety limit (a zip bomb or a far too large document); the
    /// limits are enforced while inflating, whatever the archive's headers claim.
    #[error("KMZ archive refused: {limit}")]
    KmzLimit {
        /// Which limit, and its value.
        limit: KmzLimit,
    },
    /// The input is neither GeoJSON, KML nor KMZ.
    #[error("unrecognised input format (expected GeoJSON, KML or KMZ)")]
    UnknownFormat,
    /// The input holds no field polygon at all.
    #[error("the input holds no field polygon")]
    NoFields,
    /// A feature has a geometry the planner cannot use as a field or zone.
    #[error("{feature}: unsupported geometry {kind} (expected Polygon or MultiPolygon)")]
    UnsupportedGeometry {
        /// The feature.
        feature: FeatureRef,
        /// The geometry type found.
        kind: String,
    },
    /// A feature has a `role` property the planner does not know.
    #[error(
        "{feature}: unknown role {role:?} (expected \"field\", \"exclusion\" or \"sensitive\")"
    )]
    UnknownRole {
        /// The feature.
        feature: FeatureRef,
        /// The role found.
        role: String,
    },
    /// A coordinate is NaN or infinite.
    #[error("{feature}: {ring}, vertex {vertex}: non-finite coordinate")]
    NonFiniteCoord {
        /// The feature.
        feature: FeatureRef,
        /// The ring.
        ring: Ring,
        /// Zero-based vertex index in the ring as given.
        vertex: usize,
    },
    /// A coordinate lies outside longitude ±180 / latitude ±90.
    #[error("{feature}: {ring}, vertex {vertex}: coordinate ({}, {}) is out of range{hint}", shown(*.lon), shown(*.lat), hint = if *.swapped { " (latitude and longitude look swapped; GeoJSON is [lon, lat])" } else { "" })]
    OutOfRange {
        /// The feature.
        feature: FeatureRef,
        /// The ring.
        ring: Ring,
        /// Zero-based vertex index in the ring as given.
        vertex: usize,
        /// The longitude as given.
        lon: f64,
        /// The latitude as given.
        lat: f64,
        /// True when swapping the two would make the coordinate valid.
        swapped: bool,
    },
    /// A ring has fewer than 3 distinct points.
    #[error("{feature}: {ring} has {n_distinct} distinct points (needs at least 3)")]
    TooFewPoints {
        /// The feature.
        feature: FeatureRef,
        /// The ring.
        ring: Ring,
        /// How many distinct points it has.
        n_distinct: usize,
    },
    /// Two edges of the polygon cross.
    #[error(
        "{feature}: self-intersection: {ring_a} edge from vertex {vertex_a} crosses {ring_b} edge from vertex {vertex_b}"
    )]
    SelfIntersection {
        /// The feature.
        feature: FeatureRef,
        /// The ring of the first edge.
        ring_a: Ring,
        /// Index of the first edge's start vertex (after removing repeated points).
        vertex_a: usize,
        /// The ring of the second edge.
        ring_b: Ring,
        /// Index of the second edge's start vertex.
        vertex_b: usize,
    },
    /// A polygon is structurally invalid in another way (a hole outside the boundary, rings overlapping).
    #[error("{feature}: invalid polygon: {reason}")]
    InvalidPolygon {
        /// The feature.
        feature: FeatureRef,
        /// geo's description of the defect.
        reason: String,
    },
    /// The polygon has (almost) no area: its points lie on one line, or it is smaller than 1 m².
    #[error("{feature}: zero area ({} m², under 1 m²): do the points lie (almost) on one line?", shown(*.area_m2))]
    ZeroArea {
        /// The feature.
        feature: FeatureRef,
        /// Its area in square metres.
        area_m2: f64,
    },
    /// A ring has more vertices than the limit, after thinning where thinning was tried.
    #[error(
        "{feature}: {ring} has {n_vertices} vertices{after}, more than the {limit} accepted; simplify the boundary (for example QGIS Vector > Geometry > Simplify) or split the field", after = if *.simplified { " after thinning" } else { "" }
    )]
    TooManyVertices {
        /// The feature.
        feature: FeatureRef,
        /// The ring.
        ring: Ring,
        /// How many vertices it has (after thinning when `simplified`).
        n_vertices: usize,
        /// The most accepted.
        limit: usize,
        /// True when the ring was thinned and still has too many.
        simplified: bool,
    },
    /// All rings of a polygon together have more vertices than the limit.
    #[error(
        "{feature}: the polygon has {n_vertices} vertices in all its rings, more than the {limit} accepted; simplify the boundary or split the field"
    )]
    TooManyPolygonVertices {
        /// The feature.
        feature: FeatureRef,
        /// How many vertices all rings keep together.
        n_vertices: usize,
        /// The most accepted.
        limit: usize,
    },
    /// A polygon has more holes than the limit.
    #[error(
        "{feature}: the polygon has {n_holes} holes, more than the {limit} accepted; draw small obstacles as exclusion zones or split the field"
    )]
    TooManyHoles {
        /// The feature.
        feature: FeatureRef,
        /// How many holes it has.
        n_holes: usize,
        /// The most accepted.
        limit: usize,
    },
    /// More exclusion and sensitive zones lie near a field than the limit.
    #[error(
        "{feature}: {n_zones} exclusion and sensitive zones lie near the field, more than the {limit} accepted; merge neighbouring zones or split the field"
    )]
    TooManyZones {
        /// The field.
        feature: FeatureRef,
        /// How many zones lie near it.
        n_zones: usize,
        /// The most accepted.
        limit: usize,
    },
    /// The input file holds more vertices than the limit (counted before parsing).
    #[error(
        "the file holds about {n_vertices} vertices, more than the {limit} accepted in one file; split it into smaller files"
    )]
    TooManyFileVertices {
        /// About how many vertices it holds.
        n_vertices: usize,
        /// The most accepted.
        limit: usize,
    },
    /// The file holds more features than one import takes.
    #[error(
        "the file holds about {n_features} fields and zones, more than the {limit} accepted in one file; split it into smaller files"
    )]
    TooManyFileFeatures {
        /// About how many features it holds.
        n_features: usize,
        /// The most accepted.
        limit: usize,
    },
    /// An edge of a ring jumps more than 180° in longitude: the polygon crosses the 180th
    /// meridian (or its longitudes are wrong), which the planner does not handle.
    #[error(
        "{feature}: {ring}, vertex {vertex}: the edge crosses the 180° meridian (antimeridian); split the field there, or check the longitudes"
    )]
    CrossesAntimeridian {
        /// The feature.
        feature: FeatureRef,
        /// The ring.
        ring: Ring,
        /// Zero-based index of the edge's start vertex in the ring as given.
        vertex: usize,
    },
    /// The field is larger than the configured limit (often a wrong CRS or a whole region).
    #[error("{feature}: field area {} ha exceeds the limit of {} ha (is it in another coordinate system than WGS84 lon/lat, or a whole district?)", shown(*.area_ha), shown(*.limit_ha))]
    TooLarge {
        /// The feature.
        feature: FeatureRef,
        /// Its area in hectares.
        area_ha: f64,
        /// The configured limit.
        limit_ha: f64,
    },
    /// A configuration value is out of range.
    #[error("invalid {quantity}: {} (expected {expected})", shown(*.value))]
    InvalidValue {
        /// What the value is.
        quantity: &'static str,
        /// The value given.
        value: f64,
        /// What is accepted.
        expected: String,
    },
    /// Nothing is left to spray once margins, exclusions and drift buffers are removed.
    #[error(
        "field {field_id}: nothing left to spray after margins, exclusion zones and drift buffers"
    )]
    NothingToSpray {
        /// The field.
        field_id: String,
    },
    /// Two points of the route cannot be joined without leaving the field or crossing an exclusion zone.
    #[error(
        "field {field_id}: no path inside the field from ({from_x:.1}, {from_y:.1}) to ({to_x:.1}, {to_y:.1}) m (local frame)"
    )]
    NoRoute {
        /// The field.
        field_id: String,
        /// Start, local x in metres.
        from_x: f64,
        /// Start, local y in metres.
        from_y: f64,
        /// Goal, local x in metres.
        to_x: f64,
        /// Goal, local y in metres.
        to_y: f64,
    },
    /// The prescription cannot be used on this field.
    #[error("field {field_id}: {source}")]
    Prescription {
        /// The field.
        field_id: String,
        /// What is wrong with the prescription.
        source: crate::prescription::PrescriptionError,
    },
    /// Planning passed its [`PlanConfig::deadline`](crate::PlanConfig::deadline) and stopped.
    #[error("field {field_id}: planning stopped at its deadline ({stage})")]
    Deadline {
        /// The field.
        field_id: String,
        /// The stage it had reached.
        stage: &'static str,
    },
    /// The tank or battery is too small to make progress in one sortie.
    #[error("field {field_id}: a sortie cannot make progress: {reason}")]
    SortieInfeasible {
        /// The field.
        field_id: String,
        /// Why.
        reason: String,
    },
    /// A leg of the emitted mission would come closer than the fence margin to the geofence or
    /// leave it (a refill point inside an exclusion zone, or a corridor to it that crosses one).
    #[error(
        "圃場 {field_id}: 飛行経路のうち {outside_m:.2} m がジオフェンスから {margin_m} m 以内またはその外に出ます（補給地点が除外区域の中か向こうにありませんか） / field {field_id}: {outside_m:.2} m of the mission path would be closer than {margin_m} m to the geofence or outside it (is the refill point inside or behind an exclusion zone?)"
    )]
    PathOutsideFence {
        /// The field.
        field_id: String,
        /// Length of the path outside the allowed region, metres.
        outside_m: f64,
        /// The fence margin, metres.
        margin_m: f64,
    },
    /// The fence cannot be made to fit the vehicle's fence storage without letting the vehicle
    /// beyond the fence margin or cutting into the region the legs fly in.
    #[error(
        "圃場 {field_id}: ジオフェンスには少なくとも {needed} 点が必要ですが、機体に保存できるのは {budget} 点です / field {field_id}: the geofence needs at least {needed} points, the vehicle stores {budget}"
    )]
    FenceTooLarge {
        /// The field.
        field_id: String,
        /// The fewest points the fence could be simplified to.
        needed: usize,
        /// The vehicle's fence point budget.
        budget: usize,
    },
    /// An elevation model could not be read or georeferenced.
    #[error("標高データを読めません / cannot use the elevation model: {reason}")]
    Dem {
        /// What is wrong with it.
        reason: String,
    },
    /// An elevation model goes past a safety limit (refused before it is decoded).
    #[error("標高データが大きすぎます / elevation model too large: {count} {what} (limit {limit})")]
    DemTooLarge {
        /// What was counted.
        what: &'static str,
        /// How many.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The elevation model has no ground height for part of the mission path.
    #[error(
        "圃場 {field_id}: 標高データが飛行経路の一部（緯度 {lat:.6}, 経度 {lon:.6}）を覆っていません / field {field_id}: the elevation model has no ground height at lat {lat:.6}, lon {lon:.6} on the mission path"
    )]
    TerrainMissing {
        /// The field.
        field_id: String,
        /// Where, WGS84 degrees.
        lat: f64,
        /// Where, WGS84 degrees.
        lon: f64,
    },
    /// A point of the mission would be higher above the ground than the legal limit (Japan's
    /// Civil Aeronautics Act, art. 132-85: 150 m above ground or water without permission).
    #[error(
        "圃場 {field_id}: 緯度 {lat:.6}, 経度 {lon:.6} で対地高度 {agl_m:.1} m となり、上限 {limit_m} m を超えます / field {field_id}: the vehicle would be {agl_m:.1} m above ground at lat {lat:.6}, lon {lon:.6}, above the {limit_m} m limit"
    )]
    AboveLegalHeight {
        /// The field.
        field_id: String,
        /// Height above ground there, metres.
        agl_m: f64,
        /// The limit, metres.
        limit_m: f64,
        /// Where, WGS84 degrees.
        lat: f64,
        /// Where, WGS84 degrees.
        lon: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wild_numbers_are_shown_short() {
        assert_eq!(shown(1e308), "1e308");
        assert_eq!(shown(-1.5e300), "-1.5e300");
        assert_eq!(shown(1.25e-9), "1.25e-9");
        assert_eq!(shown(36.9), "36.9");
        assert_eq!(shown(0.0), "0");
        assert_eq!(shown(443_124.0), "443124");
        assert_eq!(shown(f64::NAN), "NaN");
        let e = PlanError::InvalidValue {
            quantity: "swath width",
            value: 1e308,
            expected: "a finite number in [0.5, 50]".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid swath width: 1e308 (expected a finite number in [0.5, 50])"
        );
    }
}
