//! `agriops tiles import SOURCE`: fills the server's map-tile cache from an MBTiles file or an
//! XYZ folder already on disk (nothing is downloaded), for `serve --tile-url /tiles/{z}/{x}/{y}`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::services::tiles::{ImportFilter, ImportReport, MAX_ZOOM, TileCache};

/// Arguments of `agriops tiles`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do with the tile cache.
    #[command(subcommand)]
    pub command: TilesCommand,
}

/// The `tiles` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TilesCommand {
    /// Copy the tiles of an MBTiles file (raster: png, jpg, webp) or of an XYZ folder
    /// (`z/x/y.png`, e.g. GSI 地理院タイル saved by a tile tool) into DATA_DIR/tiles.
    Import {
        /// The `.mbtiles` file or the folder.
        source: PathBuf,
        /// The server's data directory.
        #[arg(long, env = "AGRIOPS_DATA_DIR", default_value = "./agriops-data")]
        data_dir: PathBuf,
        /// Zoom levels taken, `MIN-MAX` (GSI's tiles go to 18).
        #[arg(long, default_value = "0-18")]
        zoom: String,
        /// Only tiles touching this area: `SOUTH,WEST,NORTH,EAST` in degrees
        /// (Nasushiobara: `36.84,139.76,37.15,140.12`).
        #[arg(long)]
        bbox: Option<String>,
    },
}

/// Runs `agriops tiles`.
///
/// # Errors
/// Bad options, an unreadable source or a cache that cannot be written.
pub fn run(args: Args) -> anyhow::Result<()> {
    let TilesCommand::Import {
        source,
        data_dir,
        zoom,
        bbox,
    } = args.command;
    let filter = ImportFilter {
        zoom: parse_zoom(&zoom)?,
        bbox: bbox.as_deref().map(parse_bbox).transpose()?,
    };
    let cache = TileCache::of_data_dir(&data_dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut last = std::time::Instant::now();
    let report = rt.block_on(cache.import(&source, &filter, &mut |r, total| {
        if last.elapsed().as_millis() >= 500 || total == Some(r.seen) {
            last = std::time::Instant::now();
            progress(r, total);
        }
    }))?;
    eprintln!();
    println!(
        "{} tiles written into {}; {} outside the zoom levels or area, {} refused (not a PNG, \
         JPEG or WebP image, too large, or at no real address).",
        report.written,
        data_dir.join("tiles").display(),
        report.outside,
        report.refused
    );
    if report.written > 0 {
        println!(
            "Serve them with: agriops serve --data-dir {} --tile-url '/tiles/{{z}}/{{x}}/{{y}}'",
            data_dir.display()
        );
    }
    Ok(())
}

fn progress(r: &ImportReport, total: Option<u64>) {
    let mut err = std::io::stderr();
    let _ = match total {
        Some(t) if t > 0 => write!(
            err,
            "\r{} / {t} tiles ({:.0} %), {} written",
            r.seen,
            r.seen as f64 * 100.0 / t as f64,
            r.written
        ),
        _ => write!(err, "\r{} tiles, {} written", r.seen, r.written),
    };
    let _ = err.flush();
}

/// `MIN-MAX` or one level.
fn parse_zoom(s: &str) -> anyhow::Result<(u8, u8)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let level = |v: &str| -> anyhow::Result<u8> {
        let z: u8 = v
            .trim()
            .parse()
            .with_context(|| format!("--zoom {s}: give MIN-MAX, e.g. 10-18"))?;
        if z > MAX_ZOOM {
            bail!("--zoom {s}: zoom levels go from 0 to {MAX_ZOOM}");
        }
        Ok(z)
    };
    let (a, b) = (level(a)?, level(b)?);
    if a > b {
        bail!("--zoom {s}: the lowest level comes first");
    }
    Ok((a, b))
}

/// `SOUTH,WEST,NORTH,EAST`, degrees.
fn parse_bbox(s: &str) -> anyhow::Result<(f64, f64, f64, f64)> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--bbox {s}: give SOUTH,WEST,NORTH,EAST in degrees"))?;
    let [south, west, north, east] = v[..] else {
        bail!("--bbox {s}: give four numbers, SOUTH,WEST,NORTH,EAST");
    };
    if !(v.iter().all(|x| x.is_finite())
        && (-90.0..=90.0).contains(&south)
        && (-90.0..=90.0).contains(&north)
        && (-180.0..=180.0).contains(&west)
        && (-180.0..=180.0).contains(&east)
        && south < north
        && west < east)
    {
        bail!("--bbox {s}: south below north, west of east, within ±90 and ±180");
    }
    Ok((south, west, north, east))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_and_area_options_are_checked() {
        assert_eq!(parse_zoom("10-18").unwrap(), (10, 18));
        assert_eq!(parse_zoom("16").unwrap(), (16, 16));
        for bad in ["18-10", "0-23", "a-b", ""] {
            assert!(parse_zoom(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_bbox("36.84,139.76,37.15,140.12").unwrap(),
            (36.84, 139.76, 37.15, 140.12)
        );
        for bad in ["37,139,36,140", "1,2,3", "NaN,1,2,3", "0,0,95,1", "x,1,2,3"] {
            assert!(parse_bbox(bad).is_err(), "{bad}");
        }
    }
}
