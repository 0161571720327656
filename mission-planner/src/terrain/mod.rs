//! Terrain: elevation models ([`Dem`]) from GeoTIFF and GSI's DEM formats, and the altitude
//! pass ([`apply_terrain`]) that flies every leg at spray height above the ground.
//!
//! Loading is pure (bytes in); the caller reads the files. A converted cache is not kept: a GSI
//! 5 m tile (225 × 150 cells) parses in milliseconds and one 256 × 256 PNG tile decodes in about
//! as long, so a field's tiles load faster than a cache lookup would pay back.

mod altitude;
mod dem;
mod geotiff;
mod gsi_gml;
mod gsi_png;

pub use altitude::{
    AltitudeFrame, PointAlt, TerrainConfig, TerrainProfile, TerrainReport, apply_terrain,
};
pub use dem::{Dem, DemCrs, DemLimits};

#[cfg(test)]
pub(crate) use {
    geotiff::tests as geotiff_tests, gsi_gml::tests as gml_tests, gsi_png::tests as png_tests,
};
