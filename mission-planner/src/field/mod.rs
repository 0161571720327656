//! Fields as the planner sees them: a validated WGS84 boundary plus nearby no-fly and sensitive zones.

pub(crate) mod import;
pub(crate) mod limits;
mod stream;
pub(crate) mod validate;

use crate::error::{FeatureRef, PlanError, Ring};
use geo::Polygon;

pub use import::{FieldSet, read_fields, read_fields_with};
pub use limits::FieldLimits;
pub use stream::{FieldScan, scan_fields};

/// What a polygon in an input file stands for (its `role` property).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A field to spray (the default when `role` is absent).
    Field,
    /// A no-fly, no-spray zone: trees, poles, sheds, wires.
    Exclusion,
    /// A zone that must not receive drift: houses, water, organic neighbours, beehives.
    Sensitive,
}

/// A harmless defect that was repaired while reading a polygon.
#[derive(Debug, Clone, PartialEq)]
pub enum Repair {
    /// Consecutive repeated points (including a doubled closing point) were dropped.
    RemovedRepeatedPoints {
        /// The ring.
        ring: Ring,
        /// How many points were dropped.
        n_removed: usize,
    },
    /// The ring was not closed; it was closed.
    ClosedRing {
        /// The ring.
        ring: Ring,
    },
    /// The rings were re-oriented (exterior counter-clockwise, holes clockwise).
    Reoriented,
    /// An over-dense ring was thinned (Visvalingam–Whyatt at the stated tolerance).
    Simplified {
        /// The ring.
        ring: Ring,
        /// Vertices before thinning.
        n_before: usize,
        /// Vertices kept.
        n_after: usize,
        /// The tolerance: smallest triangle kept, m² ([`FieldLimits::simplify_area_m2`]).
        tolerance_m2: f64,
    },
}

/// One field to plan: a validated WGS84 (lon/lat) boundary, holes kept, plus the zones around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's id (`polygon_uuid`, `id`, the feature id, the KML name, or `field_<n>`).
    pub id: String,
    /// The land type (MAFF `land_type` / `land_type_en`), if given.
    pub land_type: Option<String>,
    /// Where the field came from in its input file.
    pub source: FeatureRef,
    /// The boundary in WGS84 degrees (x = lon, y = lat), exterior counter-clockwise, holes clockwise.
    pub boundary: Polygon,
    /// No-fly, no-spray zones near the field, WGS84.
    pub exclusions: Vec<Polygon>,
    /// Drift-sensitive zones near the field, WGS84.
    pub sensitive: Vec<Polygon>,
    /// Harmless defects repaired while reading the boundary.
    pub repairs: Vec<Repair>,
}

impl Field {
    /// A field from a WGS84 polygon (x = lon, y = lat), validated and repaired like file input.
    ///
    /// # Errors
    /// The validation errors of [`read_fields`]: non-finite or out-of-range coordinates,
    /// fewer than 3 distinct points, zero area, self-intersection, more vertices or holes than
    /// [`FieldLimits::DEFAULT`] allows.
    pub fn new(id: impl Into<String>, boundary: &Polygon) -> Result<Self, PlanError> {
        let id = id.into();
        let source = FeatureRef {
            index: 0,
            id: Some(id.clone()),
        };
        let (boundary, repairs) = validate::validate_polygon(
            &source,
            &validate::rings_of(boundary),
            &FieldLimits::DEFAULT,
        )?;
        Ok(Self {
            id,
            land_type: None,
            source,
            boundary,
            exclusions: Vec::new(),
            sensitive: Vec::new(),
            repairs,
        })
    }

    /// Adds a WGS84 exclusion or sensitive zone after validating it.
    ///
    /// # Errors
    /// The validation errors of [`Field::new`]; [`PlanError::UnknownRole`] when `role` is
    /// [`Role::Field`].
    pub fn add_zone(&mut self, role: Role, zone: &Polygon) -> Result<(), PlanError> {
        let source = FeatureRef {
            index: self.exclusions.len() + self.sensitive.len() + 1,
            id: None,
        };
        let (zone, _) =
            validate::validate_polygon(&source, &validate::rings_of(zone), &FieldLimits::DEFAULT)?;
        match role {
            Role::Exclusion => self.exclusions.push(zone),
            Role::Sensitive => self.sensitive.push(zone),
            Role::Field => {
                return Err(PlanError::UnknownRole {
                    feature: source,
                    role: "field".into(),
                });
            }
        }
        Ok(())
    }
}
