//! An elevation model from the files a person has: GeoTIFFs, GSI JPGIS GML tiles, GSI
//! elevation PNG tiles at `…/z/x/y.png`, and zip archives of any of them (GSI's download
//! service hands out its 5 m and 10 m tiles as zips of GML), merged in name order.

use super::dem::{Dem, DemLimits};
use crate::error::PlanError;
use crate::field::import::KmzLimits;

/// The limits of a zipped elevation download: GSI's largest, a 10 m mesh of 100 GML tiles,
/// inflates to about 60 MB; GML text deflates well below 200:1.
const DEM_ZIP_LIMITS: KmzLimits = KmzLimits {
    entries: 4_096,
    inflated: 512 << 20,
    ratio: 200,
    ratio_floor: 1 << 20,
};

impl Dem {
    /// Reads and merges `files` (name, bytes), each by its extension: `.tif`/`.tiff`
    /// GeoTIFF, `.xml`/`.gml` GSI JPGIS GML, `.png` a GSI elevation tile whose name ends
    /// `z/x/y.png`, `.zip` an archive of these. Names are sorted first, so a model is the
    /// same whatever order the files came in.
    ///
    /// # Errors
    /// [`PlanError::Dem`] naming the file for an unknown extension, a tile name without
    /// `z/x/y`, a zip inside a zip, a bad archive or a file its loader refuses;
    /// [`PlanError::DemTooLarge`] past `limits`; [`PlanError::Dem`] when no file holds heights.
    pub fn from_files<B: AsRef<[u8]>>(
        files: &[(String, B)],
        limits: &DemLimits,
    ) -> Result<Dem, PlanError> {
        let mut inflated: Vec<(String, Vec<u8>)> = Vec::new();
        let mut plain: Vec<(&str, &[u8])> = Vec::new();
        for (name, bytes) in files {
            if extension(name) == "zip" {
                let inner = crate::zip_read::read_all(bytes.as_ref(), &DEM_ZIP_LIMITS)
                    .map_err(|m| named(name, PlanError::Dem { reason: m }))?;
                for (n, b) in inner {
                    if extension(&n) == "zip" {
                        return Err(named(
                            name,
                            PlanError::Dem {
                                reason: format!("{n}: a zip inside a zip"),
                            },
                        ));
                    }
                    // GSI's zips carry a readme and metadata beside the tiles.
                    if matches!(extension(&n).as_str(), "txt" | "pdf" | "htm" | "html") {
                        continue;
                    }
                    inflated.push((format!("{name}/{n}"), b));
                }
            } else {
                plain.push((name, bytes.as_ref()));
            }
        }
        plain.extend(inflated.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
        plain.sort_by(|a, b| a.0.cmp(b.0));
        let mut dem: Option<Dem> = None;
        for (name, bytes) in plain {
            let one = one_file(name, bytes, limits).map_err(|e| named(name, e))?;
            dem = Some(match dem {
                None => one,
                Some(d) => d.merge(one, limits)?,
            });
        }
        dem.ok_or_else(|| PlanError::Dem {
            reason: "no elevation file given".into(),
        })
    }
}

fn one_file(name: &str, bytes: &[u8], limits: &DemLimits) -> Result<Dem, PlanError> {
    match extension(name).as_str() {
        "tif" | "tiff" => Dem::from_geotiff(bytes, limits),
        "xml" | "gml" => Dem::from_gsi_gml(bytes, limits),
        "png" => {
            let (z, x, y) = tile_address(name).ok_or_else(|| PlanError::Dem {
                reason: "an elevation tile must be named …/z/x/y.png".into(),
            })?;
            Dem::from_gsi_png_tile(z, x, y, bytes, limits)
        }
        _ => Err(PlanError::Dem {
            reason: "unknown elevation format (expected .tif, .xml, .png or .zip)".into(),
        }),
    }
}

/// The lower-case extension of a file name.
fn extension(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The zoom, column and row of a name ending `z/x/y.png`.
fn tile_address(name: &str) -> Option<(u8, u32, u32)> {
    let mut parts = name.rsplit(['/', '\\']);
    let y = parts.next()?.rsplit_once('.')?.0.parse().ok()?;
    let x = parts.next()?.parse().ok()?;
    let z = parts.next()?.parse().ok()?;
    Some((z, x, y))
}

/// `e` with the file's name in front of a reason; the limit errors stay as they are.
fn named(name: &str, e: PlanError) -> PlanError {
    match e {
        PlanError::Dem { reason } => PlanError::Dem {
            reason: format!("{name}: {reason}"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terrain::{geotiff_tests, gml_tests, png_tests};
    use std::io::Write;

    fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (n, b) in files {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(b).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn names_say_the_format_and_the_tile() {
        assert_eq!(
            tile_address("dem/15/29100/12900.png"),
            Some((15, 29100, 12900))
        );
        assert_eq!(
            tile_address("15\\29100\\12900.png"),
            Some((15, 29100, 12900))
        );
        assert_eq!(tile_address("12900.png"), None);
        assert_eq!(extension("a/B.TIF"), "tif");
        assert_eq!(extension("noext"), "");
    }

    #[test]
    fn a_zip_of_gml_reads_as_its_tiles_did() {
        let l = DemLimits::default();
        let v: Vec<f64> = (0..12).map(|i| 400.0 + f64::from(i)).collect();
        let gml = gml_tests::gsi_gml((36.0, 139.0, 36.003, 139.004), (4, 3), (0, 0), &v);
        let loose = Dem::from_files(&[("a.xml".into(), gml.clone().into_bytes())], &l).unwrap();
        let z = zip(&[("readme.txt", b"GSI"), ("FG-GML-x.xml", gml.as_bytes())]);
        let zipped = Dem::from_files(&[("dl.zip".into(), z)], &l).unwrap();
        assert_eq!(loose, zipped);
    }

    #[test]
    fn geotiffs_and_tiles_are_read_and_bad_files_named() {
        let l = DemLimits::default();
        let z: Vec<f32> = (0..16).map(|i| 300.0 + i as f32).collect();
        let keys = geotiff_tests::geographic_keys(4326);
        let tif = geotiff_tests::geotiff((139.9, 36.9), 1e-4, (4, 4), &z, &keys, None);
        let d = Dem::from_files(&[("slope.tif".into(), tif)], &l).unwrap();
        assert!(d.cells() > 0);
        let (z, x, y) = (15u8, 29_100u32, 12_900u32);
        let png = png_tests::gsi_png(|px, py| Some(300.0 + (px + py) as f64 * 0.01));
        let d = Dem::from_files(&[(format!("t/{z}/{x}/{y}.png"), png.clone())], &l).unwrap();
        assert!(d.cells() > 0);
        let e = Dem::from_files(&[("tile.png".into(), png)], &l).unwrap_err();
        assert!(e.to_string().contains("tile.png"), "{e}");
        let e = Dem::from_files(&[("notes.doc".into(), vec![1u8, 2])], &l).unwrap_err();
        assert!(e.to_string().contains("notes.doc"), "{e}");
        let inner = zip(&[("a.xml", b"<x/>")]);
        let e = Dem::from_files(&[("o.zip".into(), zip(&[("i.zip", &inner)]))], &l).unwrap_err();
        assert!(e.to_string().contains("zip inside a zip"), "{e}");
        assert!(Dem::from_files::<Vec<u8>>(&[], &l).is_err());
        let bomb = zip(&[("a.xml", &vec![b' '; 300 << 20])]);
        let e = Dem::from_files(&[("bomb.zip".into(), bomb)], &l).unwrap_err();
        assert!(e.to_string().contains("bomb.zip"), "{e}");
    }
}
