//! Spray-mission planner: field boundaries in, sprayable area, swaths, route, sorties and mission files out.
//!
//! # Brief overview
//!
//! [`read_fields`] parses GeoJSON, KML or KMZ into validated [`Field`]s (WGS84 boundary plus
//! nearby exclusion and sensitive zones). [`plan`] takes a field and a [`PlanConfig`] and runs
//! the stages in local metres ([`LocalFrame`]): sprayable area ([`sprayable_area`]), headland
//! rings ([`headland_rings`]), swaths at the best heading by estimated flight time, boustrophedon
//! cells, an ordered route whose transits stay inside the field, and [`Sortie`]s split by tank
//! and battery. The resulting [`Plan`] carries a [`PlanReport`] and is written out by
//! [`to_qgc_plan`], [`to_waypoints`], [`to_kml`] and [`to_geojson`] (the only other place that
//! sees degrees besides import).
//!
//! ```
//! use mission_planner::{Autopilot, PlanConfig, SwathWidth, plan, read_fields, to_qgc_plan};
//!
//! let geojson = r#"{"type":"Feature","properties":{"id":"paddy"},"geometry":{"type":"Polygon",
//!   "coordinates":[[[139.9,36.9],[139.9012,36.9],[139.9012,36.9006],[139.9,36.9006],[139.9,36.9]]]}}"#;
//! let fields = read_fields(geojson.as_bytes())?;
//! let field = fields.fields[0].as_ref().map_err(Clone::clone)?;
//! let p = plan(field, &PlanConfig::new(SwathWidth::new(5.0)?))?;
//! assert_eq!(p.report.outside_m, 0.0);
//! assert!(p.report.coverage > 0.99);
//! let json = to_qgc_plan(&p, Autopilot::ArduPilot, None);
//! assert!(json.contains("\"fileType\": \"Plan\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

/// The geometry types the API uses (local metres or WGS84 degrees, as documented per item).
pub use geo::{Coord, MultiPolygon, Polygon};

pub use crate::{
    baseline::naive_grid_length,
    config::PlanConfig,
    error::{FeatureRef, KmzLimit, PlanError, Ring},
    export::{
        Autopilot, PWM_LEVEL_ZERO, PWM_OFF_AT_OR_BELOW, PumpCalibration, SERVO_PWM_FULL,
        SERVO_PWM_OFF, pump_flow_l_min, rate_for_flow, to_geojson, to_kml, to_qgc_plan,
        to_waypoints,
    },
    fence::{CORRIDOR_HALF_WIDTH_M, Fence, FenceFit, fit_fence},
    field::{
        Field, FieldLimits, FieldScan, FieldSet, Repair, Role, read_fields, read_fields_with,
        scan_fields,
    },
    headland::{MIN_RING_LEG_M, headland_rings},
    plan::{Plan, PlanReport, StageMs, ZoneReport, plan},
    prescription::{
        GapPolicy, LocalRates, LocalZone, Prescription, PrescriptionError, PrescriptionLimits,
        RatePiece, RateUnit, ReadOptions, VariableRate, Zone, read_prescription,
        read_prescription_files, read_shapefile, read_taskdata,
    },
    projection::LocalFrame,
    route::{SegmentKind, Track},
    sortie::Sortie,
    sprayable::sprayable_area,
    swath::objective::{FlightTime, PatternStats, SwathCount, SwathLength, SwathObjective},
    terrain::{
        AltitudeFrame, Dem, DemCrs, DemLimits, PointAlt, TerrainConfig, TerrainProfile,
        TerrainReport, apply_terrain,
    },
    units::{ApplicationRate, Litres, Metres, MetresPerSecond, Seconds, SwathWidth},
};

mod baseline;
mod config;
mod coverage;
mod decompose;
mod error;
mod export;
mod fence;
mod field;
mod headland;
mod lead_in;
mod plan;
mod prescription;
mod projection;
mod region;
mod route;
mod sortie;
mod sprayable;
mod swath;
mod terrain;
mod units;
mod zip_read;
