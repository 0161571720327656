//! GeoTIFF rate rasters: one band of rates, north-up, georeferenced by ModelTiepoint and
//! ModelPixelScale in geographic WGS84 / JGD2000 / JGD2011, or in metres of the Japan Plane
//! Rectangular CS (JGD2000 / JGD2011 zones I–XIX, EPSG 2443–2461 and 6669–6687, which
//! prefectures' GIS write; reprojected by [`super::jgd`]) (GeoTIFF 1.1, OGC 19-008r4:
//! §7.2 raster-to-model transformation, §7.4 GeoKeyDirectory; keys GTModelTypeGeoKey 1024,
//! GTRasterTypeGeoKey 1025, GeodeticCRSGeoKey 2048, ProjectedCRSGeoKey 3072). Each distinct
//! value becomes one zone (the union of its cells); no-data cells (GDAL_NODATA) are gaps.

use super::{Prescription, PrescriptionError, ReadOptions, Zone, check_rate, check_zone_count};
use geo::{MultiPolygon, Rect};
use std::collections::BTreeMap;
use std::io::Cursor;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::Tag;

/// EPSG codes of the geographic systems read as WGS84: WGS 84, JGD2000, JGD2011 (the Japanese
/// datums agree with WGS84 to well under a metre, below GNSS error on a spray drone).
const GEOGRAPHIC_OK: [u16; 3] = [4326, 4612, 6668];

/// A regular grid of cells in degrees: cell (c, r) spans lon `x0 + c·dx … x0 + (c+1)·dx` and
/// lat `y0 + r·dy … y0 + (r+1)·dy` (`dy` is negative when rows run southwards).
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub x0: f64,
    pub y0: f64,
    pub dx: f64,
    pub dy: f64,
    pub cols: usize,
    pub rows: usize,
}

/// One zone per distinct value of a row-major grid of rates; `None` cells are gaps. The
/// grid is in degrees, or with `plane` in that zone's metres (the zones then come out in
/// degrees).
pub(super) fn grid_zones(
    grid: &Grid,
    values: &[Option<f64>],
    options: &ReadOptions,
    plane: Option<&super::jgd::PlaneRect>,
) -> Result<Vec<Zone>, PrescriptionError> {
    // The grid must lie in longitude/latitude before any cell becomes geometry.
    let far = (
        grid.x0 + grid.cols as f64 * grid.dx,
        grid.y0 + grid.rows as f64 * grid.dy,
    );
    let lon_ok = |x: f64| (-180.0..=180.0).contains(&x);
    let lat_ok = |y: f64| (-90.0..=90.0).contains(&y);
    if plane.is_none() && !(lon_ok(grid.x0) && lon_ok(far.0) && lat_ok(grid.y0) && lat_ok(far.1)) {
        return Err(PrescriptionError::UnsupportedCrs {
            crs: "cells outside longitude/latitude range".into(),
        });
    }
    // Runs of equal values along each row, as rectangles, grouped by the value's bits.
    let mut runs: BTreeMap<u64, Vec<geo::Polygon>> = BTreeMap::new();
    for r in 0..grid.rows {
        let row = &values[r * grid.cols..(r + 1) * grid.cols];
        let mut c = 0;
        while c < grid.cols {
            let Some(v) = row[c] else {
                c += 1;
                continue;
            };
            let start = c;
            while c < grid.cols && row[c].map(f64::to_bits) == Some(v.to_bits()) {
                c += 1;
            }
            let rect = Rect::new(
                (
                    grid.x0 + start as f64 * grid.dx,
                    grid.y0 + r as f64 * grid.dy,
                ),
                (
                    grid.x0 + c as f64 * grid.dx,
                    grid.y0 + (r + 1) as f64 * grid.dy,
                ),
            );
            let entry = runs.entry(v.to_bits()).or_default();
            entry.push(rect.to_polygon());
            check_zone_count(runs.len(), &options.limits)?;
        }
    }
    let mut zones = Vec::new();
    for (bits, rects) in runs {
        let rate = f64::from_bits(bits);
        let name = format!("{rate} {}", options.unit.label());
        let rate = check_rate(&name, rate, options)?;
        let area: MultiPolygon = geo::unary_union(&rects);
        let area = match plane {
            Some(p) => p.area_to_degrees(&area)?,
            None => area,
        };
        zones.push(Zone { name, rate, area });
    }
    if zones.is_empty() {
        return Err(PrescriptionError::NoZones);
    }
    Ok(zones)
}

fn malformed(e: impl std::fmt::Display) -> PrescriptionError {
    PrescriptionError::Malformed {
        format: "GeoTIFF",
        message: e.to_string(),
    }
}

fn unsupported(what: &str) -> PrescriptionError {
    PrescriptionError::UnsupportedRaster { what: what.into() }
}

/// The GeoKeyDirectory as (key, value) pairs of the keys stored in the directory itself.
fn geo_keys(dir: &[u16]) -> Vec<(u16, u16)> {
    let n = dir.get(3).copied().unwrap_or(0) as usize;
    dir.get(4..)
        .unwrap_or(&[])
        .chunks_exact(4)
        .take(n)
        .filter(|k| k[1] == 0)
        .map(|k| (k[0], k[3]))
        .collect()
}

fn to_f64(img: DecodingResult) -> Vec<f64> {
    match img {
        DecodingResult::U8(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::U16(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::U32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::U64(v) => v.into_iter().map(|x| x as f64).collect(),
        DecodingResult::I8(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I16(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I64(v) => v.into_iter().map(|x| x as f64).collect(),
        DecodingResult::F16(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::F32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::F64(v) => v,
    }
}

pub(super) fn read(bytes: &[u8], options: &ReadOptions) -> Result<Prescription, PrescriptionError> {
    let max_cells = options.limits.max_cells;
    let mut limits = Limits::default();
    limits.decoding_buffer_size =
        usize::try_from(max_cells.saturating_mul(8)).unwrap_or(usize::MAX);
    limits.intermediate_buffer_size = limits.decoding_buffer_size;
    let mut dec = Decoder::new(Cursor::new(bytes))
        .map_err(malformed)?
        .with_limits(limits);
    let (w, h) = dec.dimensions().map_err(malformed)?;
    if u64::from(w) * u64::from(h) > max_cells {
        return Err(PrescriptionError::TooLarge {
            what: "raster cells",
            limit: max_cells,
        });
    }
    match dec.colortype().map_err(malformed)? {
        tiff::ColorType::Gray(_) => {}
        other => {
            return Err(unsupported(&format!(
                "not a single band of rates ({other:?})"
            )));
        }
    }
    if dec
        .find_tag(Tag::ModelTransformationTag)
        .map_err(malformed)?
        .is_some()
    {
        return Err(unsupported("rotated or sheared (ModelTransformation)"));
    }
    let keys = match dec.find_tag(Tag::GeoKeyDirectoryTag).map_err(malformed)? {
        Some(v) => geo_keys(&v.into_u16_vec().map_err(malformed)?),
        None => {
            return Err(PrescriptionError::UnsupportedCrs {
                crs: "no GeoKeyDirectory: the coordinate system is unknown".into(),
            });
        }
    };
    let key = |k: u16| keys.iter().find(|(id, _)| *id == k).map(|(_, v)| *v);
    // A projected raster is read in the Japan Plane Rectangular CS only.
    let plane = match key(3072) {
        Some(p) => Some(
            super::jgd::PlaneRect::from_epsg(u32::from(p)).ok_or_else(|| {
                PrescriptionError::UnsupportedCrs {
                    crs: format!("projected EPSG:{p}"),
                }
            })?,
        ),
        None => None,
    };
    match (key(1024), key(2048)) {
        _ if plane.is_some() => {}
        (Some(2), Some(code)) if GEOGRAPHIC_OK.contains(&code) => {}
        (model, code) => {
            return Err(PrescriptionError::UnsupportedCrs {
                crs: format!(
                    "model type {}, geographic EPSG:{}",
                    model.map_or("unknown".into(), |m| m.to_string()),
                    code.map_or("unknown".into(), |c| c.to_string())
                ),
            });
        }
    }
    let tie = dec
        .find_tag(Tag::ModelTiepointTag)
        .map_err(malformed)?
        .map(|v| v.into_f64_vec())
        .transpose()
        .map_err(malformed)?
        .filter(|t| t.len() >= 6 && t.iter().all(|v| v.is_finite()))
        .ok_or_else(|| unsupported("not georeferenced (no ModelTiepoint)"))?;
    let scale = dec
        .find_tag(Tag::ModelPixelScaleTag)
        .map_err(malformed)?
        .map(|v| v.into_f64_vec())
        .transpose()
        .map_err(malformed)?
        .filter(|s| {
            s.len() >= 2 && s[0] > 0.0 && s[1] > 0.0 && s[0].is_finite() && s[1].is_finite()
        })
        .ok_or_else(|| unsupported("not georeferenced (no usable ModelPixelScale)"))?;
    let nodata = dec
        .find_tag(Tag::GdalNodata)
        .map_err(malformed)?
        .and_then(|v| v.into_string().ok())
        .and_then(|s| s.trim_matches(char::from(0)).trim().parse::<f64>().ok());
    // PixelIsPoint (GTRasterTypeGeoKey = 2) ties the pixel's centre, PixelIsArea its corner.
    let half = if key(1025) == Some(2) { 0.5 } else { 0.0 };
    let grid = Grid {
        x0: tie[3] - (tie[0] + half) * scale[0],
        y0: tie[4] + (tie[1] + half) * scale[1],
        dx: scale[0],
        dy: -scale[1],
        cols: w as usize,
        rows: h as usize,
    };
    let values = to_f64(dec.read_image().map_err(malformed)?);
    if values.len() != grid.cols * grid.rows {
        return Err(unsupported("not a single band of rates"));
    }
    let cells: Vec<Option<f64>> = values
        .into_iter()
        .map(|v| (!v.is_nan() && Some(v) != nodata).then_some(v))
        .collect();
    let zones = grid_zones(&grid, &cells, options, plane.as_ref())?;
    Ok(Prescription {
        unit: options.unit,
        zones,
    })
}
