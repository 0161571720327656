//! How large a field may be in vertices and holes, and how over-dense boundaries are thinned.

/// The most vertices and holes one field (or zone) polygon may have, checked on the rings as
/// read, before any geometry is built: an unbounded ring makes validation and planning run for
/// minutes, so a hostile or mistaken file is refused at once.
///
/// The defaults are far above any real field. A surveyed paddy (MAFF fude polygon, RTK survey)
/// has tens to a few hundred vertices and no or a handful of holes (trees, poles, sheds); a
/// walked GPS trace at 10 Hz around a 10 ha field has about 5 000 points before thinning and a
/// few hundred after it. Planning time grows steeply with vertices and holes (measured in a
/// release build: a 2 000-vertex star 4.7 s, a 5 000-vertex one 19 s, a 125 ha field with 200
/// holes over 500 s), so the limits sit just above what real fields need. A
/// ring above [`max_ring_vertices`](Self::max_ring_vertices) but at most
/// [`max_simplify_vertices`](Self::max_simplify_vertices) is thinned with Visvalingam–Whyatt
/// at [`simplify_area_m2`](Self::simplify_area_m2) (an over-dense trace loses only points that
/// carry no shape) and recorded as [`Repair::Simplified`](crate::Repair::Simplified); only what
/// stays over the limit is refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldLimits {
    /// Most vertices one ring may keep (default 2 000).
    pub max_ring_vertices: usize,
    /// Most vertices all rings of one polygon may keep together (default 8 000).
    pub max_polygon_vertices: usize,
    /// Most holes one polygon may have (default 50; a paddy has none or a few).
    pub max_holes: usize,
    /// Most exclusion and sensitive zones one field may have near it together (default 50):
    /// each is an obstacle the route goes around, as costly as a hole.
    pub max_zones: usize,
    /// Rings with more vertices than this are refused without trying to thin them
    /// (default 200 000), which bounds the thinning's own cost.
    pub max_simplify_vertices: usize,
    /// Thinning tolerance: a vertex is dropped while the triangle it forms with its neighbours
    /// is smaller than this many square metres (default 0.05 m²: for points 1 m apart, a
    /// vertex at most 0.1 m off the line through its neighbours). 0 turns thinning off.
    pub simplify_area_m2: f64,
    /// Most vertices one input file may hold over all its features (default 4 000 000,
    /// several villages of fude polygons); counted on the raw text before parsing.
    pub max_file_vertices: usize,
    /// Most features (GeoJSON `Feature`s, KML `Placemark`s) one input file may hold (default
    /// 200 000); counted on the raw text before parsing, as each costs memory and a row.
    pub max_file_features: usize,
}

impl FieldLimits {
    /// The defaults documented on each field.
    pub const DEFAULT: FieldLimits = FieldLimits {
        max_ring_vertices: 2_000,
        max_polygon_vertices: 8_000,
        max_holes: 50,
        max_zones: 50,
        max_simplify_vertices: 200_000,
        simplify_area_m2: 0.05,
        max_file_vertices: 4_000_000,
        max_file_features: 200_000,
    };

    /// The limits of one upload to the server, where several farmers import at once and every
    /// imported field becomes a row in one transaction: a farm's fields, not a village's
    /// (2 000 features, 400 000 vertices; the other limits as [`Self::DEFAULT`]).
    pub const UPLOAD: FieldLimits = FieldLimits {
        max_file_vertices: 400_000,
        max_file_features: 2_000,
        ..FieldLimits::DEFAULT
    };
}

impl Default for FieldLimits {
    fn default() -> Self {
        FieldLimits::DEFAULT
    }
}

/// The vertices of a GeoJSON or KML text, estimated without parsing: every GeoJSON position
/// opens a `[` (an upper bound), and a KML coordinate tuple holds one or two `,` (half their
/// count, at most half the true count too low).
/// About how many features `text` holds: KML `<Placemark` tags or GeoJSON `"Feature"`
/// strings (a bare geometry counts as one).
pub(crate) fn rough_feature_count(text: &[u8]) -> usize {
    let needle: &[u8] = if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
        b"<Placemark"
    } else {
        b"\"Feature\""
    };
    text.windows(needle.len())
        .filter(|w| *w == needle)
        .count()
        .max(1)
}

pub(crate) fn rough_vertex_count(text: &[u8]) -> usize {
    if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
        text.iter().filter(|&&b| b == b',').count() / 2
    } else {
        text.iter().filter(|&&b| b == b'[').count()
    }
}
