//! Terrain: elevation models ([`Dem`]) from GeoTIFF and GSI's DEM formats, and the altitude
//! pass ([`apply_terrain`]) that flies every leg at spray height above the ground.
//!
//! Loading is pure (bytes in); the caller reads the files. No converted cache is kept: each
//! loader is one linear pass over its input (a GSI 5 m tile holds 225 × 150 cells, a PNG tile
//! 256 × 256), the same order of work as reading a cached grid back. Not measured yet: a
//! criterion bench on real tiles should confirm this before large mosaics are promised.

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
