//! GeoTIFF elevation rasters: one band of heights, georeferenced by ModelTiepoint and
//! ModelPixelScale with the CRS from the GeoKey directory.
//!
//! Tags and keys from the OGC GeoTIFF standard 1.1 (OGC 19-008r4): §7.3 (ModelTiepointTag
//! 33922, ModelPixelScaleTag 33550, GeoKeyDirectoryTag 34735 with its header and 4-short
//! entries), keys GTModelTypeGeoKey 1024, GTRasterTypeGeoKey 1025 (1 = PixelIsArea, 2 =
//! PixelIsPoint), GeodeticCRSGeoKey 2048, ProjectedCRSGeoKey 3072. Nodata is GDAL's
//! `GDAL_NODATA` tag (42113, ASCII), as GDAL writes it.

use super::dem::{Dem, DemCrs, DemLimits, Grid, check_cells};
use crate::error::PlanError;
use std::io::Cursor;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::Tag;

/// Geographic CRS codes taken as WGS84: WGS 84, JGD2011, JGD2000 (their differences from WGS84
/// are well under a metre, far below a DEM cell).
const GEOGRAPHIC: [u16; 3] = [4326, 6668, 4612];
/// Projected CRS codes for web mercator (EPSG:3857 and the older 900913 is not a u16).
const WEB_MERCATOR: [u16; 1] = [3857];

fn err(reason: impl Into<String>) -> PlanError {
    PlanError::Dem {
        reason: format!("GeoTIFF: {}", reason.into()),
    }
}

fn tiff_err(e: tiff::TiffError) -> PlanError {
    match e {
        tiff::TiffError::LimitsExceeded => err("the raster goes past the size limit"),
        e => err(e.to_string()),
    }
}

/// The GeoKey directory as (key, value) pairs of the keys stored inline (location 0).
fn geokeys(dir: &[u16]) -> Result<Vec<(u16, u16)>, PlanError> {
    if dir.len() < 4 {
        return Err(err("GeoKeyDirectory is shorter than its header"));
    }
    let n = usize::from(dir[3]);
    if dir.len() < 4 + 4 * n {
        return Err(err("GeoKeyDirectory lists more keys than it holds"));
    }
    Ok(dir[4..4 + 4 * n]
        .chunks_exact(4)
        .filter(|e| e[1] == 0)
        .map(|e| (e[0], e[3]))
        .collect())
}

impl Dem {
    /// Reads a single-band GeoTIFF of heights in metres (integer or float samples) in
    /// WGS84/JGD2011/JGD2000 degrees or web mercator metres, north up.
    ///
    /// # Errors
    /// [`PlanError::Dem`] for a file that is not a TIFF, has more than one band, lacks a
    /// tiepoint, pixel scale or GeoKey directory, is rotated, or is in another CRS (named);
    /// [`PlanError::DemTooLarge`] past `limits.max_cells`.
    pub fn from_geotiff(bytes: &[u8], limits: &DemLimits) -> Result<Dem, PlanError> {
        let tl = {
            let mut l = Limits::default();
            l.decoding_buffer_size = limits.max_cells.saturating_mul(8);
            l.intermediate_buffer_size = limits.max_cells.saturating_mul(8);
            l
        };
        let mut d = Decoder::new(Cursor::new(bytes))
            .map_err(tiff_err)?
            .with_limits(tl);
        let (w, h) = d.dimensions().map_err(tiff_err)?;
        let (w, h) = (w as usize, h as usize);
        check_cells(w.saturating_mul(h), limits)?;
        match d.colortype().map_err(tiff_err)? {
            tiff::ColorType::Gray(_) => {}
            other => {
                return Err(err(format!(
                    "{other:?} samples (expected one band of heights)"
                )));
            }
        }
        let scale = d
            .find_tag(Tag::ModelPixelScaleTag)
            .map_err(tiff_err)?
            .ok_or_else(|| err("no ModelPixelScale tag: the raster is not georeferenced"))?
            .into_f64_vec()
            .map_err(tiff_err)?;
        let tie = d
            .find_tag(Tag::ModelTiepointTag)
            .map_err(tiff_err)?
            .ok_or_else(|| err("no ModelTiepoint tag: the raster is not georeferenced"))?
            .into_f64_vec()
            .map_err(tiff_err)?;
        if scale.len() < 2 || tie.len() < 6 {
            return Err(err("ModelPixelScale or ModelTiepoint is too short"));
        }
        if tie.len() > 6 {
            return Err(err(
                "more than one tiepoint (a warped raster): resample it to a regular grid first",
            ));
        }
        let dir = d
            .find_tag(Tag::GeoKeyDirectoryTag)
            .map_err(tiff_err)?
            .ok_or_else(|| err("no GeoKeyDirectory: the raster's coordinate system is unknown"))?
            .into_u16_vec()
            .map_err(tiff_err)?;
        let keys = geokeys(&dir)?;
        let key = |k: u16| keys.iter().find(|(kk, _)| *kk == k).map(|(_, v)| *v);
        let crs = match (key(1024), key(2048), key(3072)) {
            (Some(2), Some(c), _) if GEOGRAPHIC.contains(&c) => DemCrs::Geographic,
            (Some(1), _, Some(c)) if WEB_MERCATOR.contains(&c) => DemCrs::WebMercator,
            (Some(2), c, _) => {
                return Err(err(format!(
                    "geographic CRS {c:?} is not one of EPSG:4326, 6668, 4612"
                )));
            }
            (Some(1), _, c) => {
                return Err(err(format!(
                    "projected CRS {c:?} is not supported (only EPSG:3857; reproject to EPSG:4326 or 6668)"
                )));
            }
            (m, _, _) => {
                return Err(err(format!(
                    "model type {m:?} is not geographic or projected"
                )));
            }
        };
        let point = key(1025) == Some(2);
        let (sx, sy) = (scale[0], scale[1]);
        if !(sx.is_finite() && sy.is_finite() && sx > 0.0 && sy > 0.0) {
            return Err(err(format!("pixel scale {sx} × {sy} is not positive")));
        }
        let (i, j, x, y) = (tie[0], tie[1], tie[3], tie[4]);
        // PixelIsArea: the tiepoint's raster (i, j) is a cell corner, so cell (0, 0)'s centre is
        // half a cell in; PixelIsPoint: (i, j) is a cell centre.
        let off = if point { 0.0 } else { 0.5 };
        let x0 = x + (off - i) * sx;
        let y0 = y - (off - j) * sy;
        let nodata = match d.find_tag(Tag::GdalNodata).map_err(tiff_err)? {
            Some(v) => {
                let s = v.into_string().map_err(tiff_err)?;
                let s = s.trim_matches(char::from(0)).trim();
                Some(
                    s.parse::<f64>()
                        .map_err(|_| err(format!("GDAL_NODATA {s:?} is not a number")))?,
                )
            }
            None => None,
        };
        let img = d.read_image().map_err(tiff_err)?;
        let mut z: Vec<f32> = match img {
            DecodingResult::U8(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::U16(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::I8(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::I16(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::U32(v) => v.into_iter().map(|x| x as f32).collect(),
            DecodingResult::I32(v) => v.into_iter().map(|x| x as f32).collect(),
            DecodingResult::F32(v) => v,
            DecodingResult::F64(v) => v.into_iter().map(|x| x as f32).collect(),
            _ => return Err(err("unsupported sample format")),
        };
        if let Some(nd) = nodata {
            let nd = nd as f32;
            for v in &mut z {
                if *v == nd {
                    *v = f32::NAN;
                }
            }
        }
        if z.len() != w * h {
            return Err(err(format!("{} samples for {w} × {h} pixels", z.len())));
        }
        Ok(Dem::one(Grid::new(crs, (x0, y0), (sx, sy), (w, h), z)?))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tiff::encoder::{TiffEncoder, colortype};

    /// A float32 GeoTIFF in EPSG:4326 (or `crs`), PixelIsArea, NW corner at (`lon`, `lat`).
    pub(crate) fn geotiff(
        (lon, lat): (f64, f64),
        cell_deg: f64,
        (w, h): (u32, u32),
        z: &[f32],
        geokeys: &[u16],
        nodata: Option<&str>,
    ) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut enc = TiffEncoder::new(&mut buf).unwrap();
            let mut img = enc.new_image::<colortype::Gray32Float>(w, h).unwrap();
            let e = img.encoder();
            e.write_tag(Tag::ModelPixelScaleTag, &[cell_deg, cell_deg, 0.0][..])
                .unwrap();
            e.write_tag(Tag::ModelTiepointTag, &[0.0, 0.0, 0.0, lon, lat, 0.0][..])
                .unwrap();
            if !geokeys.is_empty() {
                e.write_tag(Tag::GeoKeyDirectoryTag, geokeys).unwrap();
            }
            if let Some(nd) = nodata {
                e.write_tag(Tag::GdalNodata, nd).unwrap();
            }
            img.write_data(z).unwrap();
        }
        buf.into_inner()
    }

    /// GeoKeys: geographic model, PixelIsArea, EPSG `code`.
    pub(crate) fn geographic_keys(code: u16) -> Vec<u16> {
        vec![1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, code]
    }

    #[test]
    fn reads_a_georeferenced_slope() {
        // 20 × 10 cells of 1e-4°, height rising 0.5 m per column eastward.
        let (w, h) = (20, 10);
        let z: Vec<f32> = (0..h)
            .flat_map(|_| (0..w).map(|c| 100.0 + 0.5 * c as f32))
            .collect();
        let bytes = geotiff(
            (139.9, 36.9),
            1e-4,
            (w, h),
            &z,
            &geographic_keys(4326),
            None,
        );
        let d = Dem::from_geotiff(&bytes, &DemLimits::default()).unwrap();
        // Centre of column 3, row 2.
        let got = d.height_amsl(36.9 - 2.5e-4, 139.9 + 3.5e-4).unwrap();
        assert!((got - 101.5).abs() < 1e-4, "{got}");
        let b = d.bounds();
        assert!((b.min().x - 139.9).abs() < 1e-12 && (b.max().y - 36.9).abs() < 1e-12);
        assert!((b.max().x - 139.902).abs() < 1e-9 && (b.min().y - 36.899).abs() < 1e-9);
    }

    #[test]
    fn gdal_nodata_is_missing() {
        let mut z = vec![10.0_f32; 16];
        z[5] = -32767.0;
        let bytes = geotiff(
            (139.0, 36.0),
            1e-3,
            (4, 4),
            &z,
            &geographic_keys(6668),
            Some("-32767"),
        );
        let d = Dem::from_geotiff(&bytes, &DemLimits::default()).unwrap();
        assert!(d.height_amsl(36.0 - 1.5e-3, 139.0 + 1.5e-3).is_none());
        assert!(d.height_amsl(36.0 - 3.5e-3, 139.0 + 3.5e-3).is_some());
    }

    #[test]
    fn refuses_what_it_cannot_georeference() {
        let z = vec![10.0_f32; 16];
        let l = DemLimits::default();
        let no_keys = geotiff((139.0, 36.0), 1e-3, (4, 4), &z, &[], None);
        let e = Dem::from_geotiff(&no_keys, &l).unwrap_err().to_string();
        assert!(e.contains("GeoKeyDirectory"), "{e}");
        // JGD2011 / Japan Plane Rectangular CS IX (EPSG:6677).
        let plane_ix = vec![1, 1, 0, 2, 1024, 0, 1, 1, 3072, 0, 1, 6677];
        let e = Dem::from_geotiff(&geotiff((0.0, 0.0), 5.0, (4, 4), &z, &plane_ix, None), &l)
            .unwrap_err()
            .to_string();
        assert!(e.contains("6677"), "{e}");
        let e = Dem::from_geotiff(b"not a tiff at all", &l).unwrap_err();
        assert!(matches!(e, PlanError::Dem { .. }));
        let small = DemLimits { max_cells: 10, ..l };
        let ok = geotiff(
            (139.0, 36.0),
            1e-3,
            (4, 4),
            &z,
            &geographic_keys(4326),
            None,
        );
        assert!(matches!(
            Dem::from_geotiff(&ok, &small),
            Err(PlanError::DemTooLarge { .. })
        ));
    }
}
