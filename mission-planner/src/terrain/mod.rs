//! Terrain: elevation models ([`Dem`]) from GeoTIFF and GSI's DEM formats, and the altitude
//! pass ([`apply_terrain`]) that flies every leg at spray height above the ground.
//!
//! Loading is pure (bytes in); the caller reads the files. A loaded model can be kept as bytes
//! ([`Dem::to_bytes`], [`Dem::from_bytes`]): the web keeps each farm's models so, decoded once
//! at upload.

mod altitude;
mod dem;
mod files;
mod geotiff;
mod gsi_gml;
mod gsi_png;
mod store;

pub use altitude::{
    AltitudeFrame, PointAlt, TerrainConfig, TerrainProfile, TerrainReport, apply_terrain,
};
pub use dem::{Dem, DemCrs, DemLimits};

#[cfg(test)]
pub(crate) use {
    geotiff::tests as geotiff_tests, gsi_gml::tests as gml_tests, gsi_png::tests as png_tests,
};
