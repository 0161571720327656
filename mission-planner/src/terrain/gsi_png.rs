//! GSI 標高タイル (elevation tiles), PNG: 256 × 256 web-mercator tiles addressed z/x/y.
//!
//! The rule, from GSI's 標高タイルの詳細仕様 (PNG形式): x = R·2^16 + G·2^8 + B; x < 2^23 gives
//! h = x·u, x > 2^23 gives h = (x − 2^24)·u, x = 2^23 is nodata, with u = 0.01 m. Tiles follow
//! the XYZ (slippy-map) scheme: tile (x, y) at zoom z spans 1/2^z of the web-mercator world
//! from the north-west corner.

use super::dem::{Dem, DemCrs, DemLimits, Grid, check_cells};
use crate::error::PlanError;
use std::io::Cursor;

/// Web-mercator half-circumference, metres (π · 6378137).
const HALF_WORLD: f64 = std::f64::consts::PI * 6_378_137.0;
/// GSI tiles are 256 pixels square.
const TILE: usize = 256;
/// The deepest zoom GSI publishes elevation tiles for is 15 (DEM5A); deeper is refused.
const MAX_ZOOM: u8 = 18;

fn err(reason: impl Into<String>) -> PlanError {
    PlanError::Dem {
        reason: format!("GSI elevation tile (PNG): {}", reason.into()),
    }
}

/// Height in metres of one RGB pixel, `None` for nodata (x = 2^23).
pub(crate) fn decode_rgb(r: u8, g: u8, b: u8) -> Option<f64> {
    let x = (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b);
    match x {
        0x80_0000 => None,
        x if x < 0x80_0000 => Some(f64::from(x) * 0.01),
        x => Some((f64::from(x) - f64::from(1u32 << 24)) * 0.01),
    }
}

impl Dem {
    /// Reads the GSI elevation tile at zoom `z`, column `x`, row `y` (its path in a tile folder
    /// is `z/x/y.png`).
    ///
    /// # Errors
    /// [`PlanError::Dem`] for a tile address outside the zoom level's range, a file that is not
    /// a PNG, or a PNG that is not 256 × 256 RGB(A) with 8 bits per channel.
    pub fn from_gsi_png_tile(
        z: u8,
        x: u32,
        y: u32,
        bytes: &[u8],
        limits: &DemLimits,
    ) -> Result<Dem, PlanError> {
        if z > MAX_ZOOM {
            return Err(err(format!("zoom {z} is deeper than {MAX_ZOOM}")));
        }
        let n = 1u32 << z;
        if x >= n || y >= n {
            return Err(err(format!("tile {z}/{x}/{y} does not exist at zoom {z}")));
        }
        check_cells(TILE * TILE, limits)?;
        let mut dec = png::Decoder::new_with_limits(
            Cursor::new(bytes),
            png::Limits {
                bytes: 4 * TILE * TILE * 2,
            },
        );
        dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = dec.read_info().map_err(|e| err(e.to_string()))?;
        let (w, h) = reader.info().size();
        if (w as usize, h as usize) != (TILE, TILE) {
            return Err(err(format!("{w} × {h} pixels (expected 256 × 256)")));
        }
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| err("image too large"))?;
        let mut buf = vec![0; size];
        let info = reader
            .next_frame(&mut buf)
            .map_err(|e| err(e.to_string()))?;
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => return Err(err(format!("{other:?} pixels (expected RGB)"))),
        };
        if info.bit_depth != png::BitDepth::Eight {
            return Err(err(format!("{:?} bit depth (expected 8)", info.bit_depth)));
        }
        let line = info.line_size;
        let mut heights = Vec::with_capacity(TILE * TILE);
        for row in 0..TILE {
            let l = &buf[row * line..row * line + TILE * channels];
            for p in l.chunks_exact(channels) {
                // A transparent pixel (RGBA) is nodata too.
                let v = if channels == 4 && p[3] == 0 {
                    None
                } else {
                    decode_rgb(p[0], p[1], p[2])
                };
                heights.push(v.map_or(f32::NAN, |v| v as f32));
            }
        }
        let res = 2.0 * HALF_WORLD / (TILE as f64 * f64::from(n));
        let x0 = -HALF_WORLD + (f64::from(x) * TILE as f64 + 0.5) * res;
        let y0 = HALF_WORLD - (f64::from(y) * TILE as f64 + 0.5) * res;
        Ok(Dem::one(Grid::new(
            DemCrs::WebMercator,
            (x0, y0),
            (res, res),
            (TILE, TILE),
            heights,
        )?))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encodes a height as GSI's RGB (`None` = nodata).
    pub(crate) fn encode_rgb(h: Option<f64>) -> [u8; 3] {
        let x = match h {
            None => 0x80_0000,
            Some(h) => {
                let v = (h / 0.01).round() as i64;
                if v < 0 {
                    (v + (1 << 24)) as u32
                } else {
                    v as u32
                }
            }
        };
        [(x >> 16) as u8, (x >> 8) as u8, x as u8]
    }

    /// A 256 × 256 RGB tile with heights from `f(px, py)`.
    pub(crate) fn gsi_png(f: impl Fn(usize, usize) -> Option<f64>) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 256, 256);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().unwrap();
            let mut data = Vec::with_capacity(256 * 256 * 3);
            for py in 0..256 {
                for px in 0..256 {
                    data.extend(encode_rgb(f(px, py)));
                }
            }
            w.write_image_data(&data).unwrap();
        }
        out
    }

    /// The WGS84 (lat, lon) of the centre of pixel (px, py) of tile z/x/y.
    pub(crate) fn pixel_centre(z: u8, x: u32, y: u32, px: usize, py: usize) -> (f64, f64) {
        let res = 2.0 * HALF_WORLD / (256.0 * f64::from(1u32 << z));
        let mx = -HALF_WORLD + (f64::from(x) * 256.0 + px as f64 + 0.5) * res;
        let my = HALF_WORLD - (f64::from(y) * 256.0 + py as f64 + 0.5) * res;
        let lon = (mx / 6_378_137.0).to_degrees();
        let lat =
            (2.0 * (my / 6_378_137.0).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
        (lat, lon)
    }

    #[test]
    fn published_examples_decode() {
        assert_eq!(decode_rgb(0x80, 0, 0), None);
        assert_eq!(decode_rgb(0, 0, 1), Some(0.01));
        assert!((decode_rgb(0xff, 0xff, 0xff).unwrap() + 0.01).abs() < 1e-12);
        // 3776.24 m (the summit of Fuji) = 377624 = 0x05_C3_18.
        assert!((decode_rgb(0x05, 0xC3, 0x18).unwrap() - 3776.24).abs() < 1e-9);
    }

    #[test]
    fn reads_a_tile_at_its_place() {
        // Zoom 15 tile over Nasushiobara; a 10 m terrace step at pixel column 128.
        let (z, x, y) = (15, 29119, 12830);
        let bytes = gsi_png(|px, py| {
            if py == 3 && px == 3 {
                None
            } else if px < 128 {
                Some(300.0)
            } else {
                Some(310.0)
            }
        });
        let d = Dem::from_gsi_png_tile(z, x, y, &bytes, &DemLimits::default()).unwrap();
        let (lat, lon) = pixel_centre(z, x, y, 10, 10);
        assert!((d.height_amsl(lat, lon).unwrap() - 300.0).abs() < 1e-3);
        let (lat, lon) = pixel_centre(z, x, y, 200, 10);
        assert!((d.height_amsl(lat, lon).unwrap() - 310.0).abs() < 1e-3);
        let (lat, lon) = pixel_centre(z, x, y, 3, 3);
        assert!(d.height_amsl(lat, lon).is_none());
        assert!(
            d.cell_size_m() > 3.0 && d.cell_size_m() < 4.0,
            "{}",
            d.cell_size_m()
        );
    }

    #[test]
    fn refuses_bad_tiles() {
        let l = DemLimits::default();
        assert!(Dem::from_gsi_png_tile(2, 4, 0, &gsi_png(|_, _| Some(0.0)), &l).is_err());
        assert!(Dem::from_gsi_png_tile(30, 0, 0, &gsi_png(|_, _| Some(0.0)), &l).is_err());
        assert!(Dem::from_gsi_png_tile(2, 1, 1, b"\x89PNG garbage", &l).is_err());
    }

    proptest! {
        #[test]
        fn rgb_round_trips(h in -80_000.0..80_000.0f64) {
            let [r, g, b] = encode_rgb(Some(h));
            let back = decode_rgb(r, g, b).unwrap();
            prop_assert!((back - h).abs() <= 0.005 + 1e-9);
        }
    }
}
