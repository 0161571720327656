//! The go/no-go configuration (`serve --gonogo-config` TOML) and the map layers it names.

use std::path::{Path, PathBuf};

use geo::{Geometry, Polygon};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::geojson::geometries;

/// Why a go/no-go configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GoNoGoError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key.
    #[error("go/no-go configuration {path}: {source}")]
    Toml {
        /// The file.
        path: String,
        /// Why.
        source: toml::de::Error,
    },
    /// A layer is not GeoJSON with polygons, lines or points.
    #[error("layer {path}: {reason}")]
    Layer {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Go/no-go thresholds and map layers; every field has the documented default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoNoGoConfig {
    /// Highest wind speed for spraying, m/s (measured at `wind_height_m`). Default 3.0.
    pub max_wind_mps: f64,
    /// Height the wind is measured at, m. Default 1.5.
    pub wind_height_m: f64,
    /// Highest planned spray height above the crop, m. Default 3.0.
    pub max_height_above_crop_m: f64,
    /// Houses and roads closer than this to the flight are flagged, m. Default 30.
    pub approval_zone_m: f64,
    /// Field parts farther apart than this must be flown as separate flights, m. Default 10.
    pub max_field_gap_m: f64,
    /// Expiry dates closer than this many days give a warning. Default 30.
    pub expiry_warn_days: i64,
    /// A URL answering JSON with the wind speed (m/s); `None` = the pilot enters the wind.
    pub weather_station_url: Option<String>,
    /// JSON pointer of the wind speed in the station's answer. Default `/wind_mps`.
    pub weather_wind_pointer: String,
    /// A station reading is reused for this many seconds. Default 60.
    pub weather_max_age_s: u64,
    /// GeoJSON of 人口集中地区 (DID) polygons.
    pub did_geojson: Option<PathBuf>,
    /// GeoJSON of airport surroundings (polygons).
    pub airport_geojson: Option<PathBuf>,
    /// GeoJSON of houses and roads (points, lines or polygons).
    pub houses_roads_geojson: Option<PathBuf>,
    /// The layers read from the files above.
    #[serde(skip)]
    pub layers: Layers,
}

/// Map layers of the go/no-go, in WGS84 (x = lon, y = lat).
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// DID polygons.
    pub did: Vec<Polygon>,
    /// Airport polygons.
    pub airports: Vec<Polygon>,
    /// Houses and roads.
    pub houses_roads: Vec<Geometry>,
}

impl Default for GoNoGoConfig {
    fn default() -> Self {
        GoNoGoConfig {
            max_wind_mps: 3.0,
            wind_height_m: 1.5,
            max_height_above_crop_m: 3.0,
            approval_zone_m: 30.0,
            max_field_gap_m: 10.0,
            expiry_warn_days: 30,
            weather_station_url: None,
            weather_wind_pointer: "/wind_mps".to_owned(),
            weather_max_age_s: 60,
            did_geojson: None,
            airport_geojson: None,
            houses_roads_geojson: None,
            layers: Layers::default(),
        }
    }
}

impl GoNoGoConfig {
    /// Reads a TOML file and the GeoJSON layers it names (relative to the TOML's folder).
    ///
    /// # Errors
    /// An unreadable file, bad TOML or a layer that is not GeoJSON.
    pub fn load(path: &Path) -> Result<GoNoGoConfig, GoNoGoError> {
        let text = std::fs::read_to_string(path).map_err(|source| GoNoGoError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut cfg: GoNoGoConfig = toml::from_str(&text).map_err(|source| GoNoGoError::Toml {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let read = |p: &Option<PathBuf>| -> Result<Vec<Geometry>, GoNoGoError> {
            let Some(p) = p else { return Ok(Vec::new()) };
            let full = base.join(p);
            let text = std::fs::read_to_string(&full).map_err(|source| GoNoGoError::Read {
                path: full.display().to_string(),
                source,
            })?;
            let v: Value = serde_json::from_str(&text).map_err(|e| GoNoGoError::Layer {
                path: full.display().to_string(),
                reason: e.to_string(),
            })?;
            Ok(geometries(&v, |_| true))
        };
        let polys = |g: Vec<Geometry>| {
            g.into_iter()
                .flat_map(|g| match g {
                    Geometry::Polygon(p) => vec![p],
                    Geometry::MultiPolygon(m) => m.0,
                    _ => Vec::new(),
                })
                .collect::<Vec<_>>()
        };
        cfg.layers = Layers {
            did: polys(read(&cfg.did_geojson)?),
            airports: polys(read(&cfg.airport_geojson)?),
            houses_roads: read(&cfg.houses_roads_geojson)?,
        };
        Ok(cfg)
    }

    /// The wind speed in a weather station's JSON answer, if present.
    pub fn wind_from_station(&self, answer: &Value) -> Option<f64> {
        answer
            .pointer(&self.weather_wind_pointer)
            .and_then(Value::as_f64)
            .filter(|w| w.is_finite() && *w >= 0.0)
    }
}
