//! The server's own map-tile cache, for fields with no network (the hills north of the city,
//! a parlor office behind a farm router): `DATA_DIR/tiles/{z}/{x}/{y}.{png,jpg,webp}`, filled
//! by `agriops tiles import` from what the city already has on disk (an MBTiles file or an XYZ
//! folder of GSI 地理院タイル), served at `/tiles/{z}/{x}/{y}` when the server is started with
//! `--tile-url /tiles/{z}/{x}/{y}`. Nothing is downloaded.
//!
//! MBTiles: the MBTiles 1.3 specification (github.com/mapbox/mbtiles-spec, `1.3/spec.md`): a
//! SQLite file with a `tiles(zoom_level, tile_column, tile_row, tile_data)` table (or view) whose
//! rows count in the TMS scheme, from the south (`tile_row = 2^z − 1 − y` of XYZ), and a
//! `metadata(name, value)` table whose `format` is `png`, `jpg`, `webp` or `pbf`.

use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use sqlx::Row;

/// Largest tile taken (a GSI photo tile is 20–60 KB).
pub const MAX_TILE_BYTES: usize = 2 << 20;
/// Deepest zoom level taken (GSI's photo tiles stop at 18).
pub const MAX_ZOOM: u8 = 22;

/// Why a tile or a source was refused.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// The source is neither an MBTiles file nor a folder.
    #[error("{0}: not an MBTiles file (SQLite) nor an XYZ folder of z/x/y tiles")]
    UnknownSource(String),
    /// The MBTiles file could not be read.
    #[error("{path}: {reason}")]
    MbTiles {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The MBTiles holds vector tiles, which the dashboard's map does not draw.
    #[error(
        "{0}: its tiles are vector tiles (format pbf); the map needs raster tiles (png, jpg, webp)"
    )]
    Vector(String),
    /// Reading or writing the cache failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
}

/// A tile's address, XYZ (from the north, as Leaflet and GSI count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileId {
    /// Zoom level.
    pub z: u8,
    /// Column, from the west.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

impl TileId {
    /// A tile address when it exists at its zoom (`x`, `y` < 2^z, z ≤ [`MAX_ZOOM`]).
    pub fn new(z: u32, x: u32, y: u32) -> Option<TileId> {
        let z = u8::try_from(z).ok().filter(|z| *z <= MAX_ZOOM)?;
        let n = 1u64 << z;
        (u64::from(x) < n && u64::from(y) < n).then_some(TileId { z, x, y })
    }

    /// The XYZ tile of an MBTiles row (TMS rows count from the south).
    pub fn from_tms(z: u32, x: u32, tms_row: u32) -> Option<TileId> {
        let z8 = u8::try_from(z).ok().filter(|z| *z <= MAX_ZOOM)?;
        let n = 1u64 << z8;
        let y = n.checked_sub(1)?.checked_sub(u64::from(tms_row))?;
        TileId::new(z, x, u32::try_from(y).ok()?)
    }

    /// The tile's extent: (south, west, north, east), degrees (Web Mercator tiling).
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let n = f64::from(1u32 << self.z.min(31));
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| {
            (std::f64::consts::PI * (1.0 - 2.0 * y / n))
                .sinh()
                .atan()
                .to_degrees()
        };
        (
            lat(f64::from(self.y) + 1.0),
            lon(f64::from(self.x)),
            lat(f64::from(self.y)),
            lon(f64::from(self.x) + 1.0),
        )
    }
}

/// The image kind of a tile, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
}

impl TileKind {
    /// The kind of `bytes`, `None` when they are not a PNG, JPEG or WebP image.
    pub fn sniff(bytes: &[u8]) -> Option<TileKind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(TileKind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(TileKind::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(TileKind::Webp)
        } else {
            None
        }
    }

    /// The file extension in the cache.
    pub fn ext(self) -> &'static str {
        match self {
            TileKind::Png => "png",
            TileKind::Jpeg => "jpg",
            TileKind::Webp => "webp",
        }
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            TileKind::Png => "image/png",
            TileKind::Jpeg => "image/jpeg",
            TileKind::Webp => "image/webp",
        }
    }

    const ALL: [TileKind; 3] = [TileKind::Png, TileKind::Jpeg, TileKind::Webp];
}

/// What an import may take: zoom levels and an area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportFilter {
    /// Lowest and highest zoom level taken.
    pub zoom: (u8, u8),
    /// Only tiles touching (south, west, north, east), degrees; `None`: all.
    pub bbox: Option<(f64, f64, f64, f64)>,
}

impl Default for ImportFilter {
    fn default() -> Self {
        ImportFilter {
            zoom: (0, MAX_ZOOM),
            bbox: None,
        }
    }
}

impl ImportFilter {
    fn takes(&self, t: TileId) -> bool {
        if t.z < self.zoom.0 || t.z > self.zoom.1 {
            return false;
        }
        let Some((s, w, n, e)) = self.bbox else {
            return true;
        };
        let (ts, tw, tn, te) = t.bounds();
        ts <= n && tn >= s && tw <= e && te >= w
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Tiles written into the cache.
    pub written: u64,
    /// Tiles outside the zoom levels or the area asked for.
    pub outside: u64,
    /// Tiles refused: not an image, larger than [`MAX_TILE_BYTES`], or at no real address.
    pub refused: u64,
    /// Tiles looked at.
    pub seen: u64,
}

/// The tile cache under a data directory.
#[derive(Debug, Clone)]
pub struct TileCache {
    root: PathBuf,
}

impl TileCache {
    /// The cache of data directory `data_dir` (`DATA_DIR/tiles`).
    pub fn of_data_dir(data_dir: &Path) -> TileCache {
        TileCache {
            root: data_dir.join("tiles"),
        }
    }

    fn path(&self, t: TileId, kind: TileKind) -> PathBuf {
        self.root
            .join(t.z.to_string())
            .join(t.x.to_string())
            .join(format!("{}.{}", t.y, kind.ext()))
    }

    /// The cached tile `t` and its kind, `None` when the cache lacks it.
    ///
    /// # Errors
    /// [`TileError::Io`] when a cached file exists but cannot be read.
    pub async fn get(&self, t: TileId) -> Result<Option<(TileKind, Vec<u8>)>, TileError> {
        for kind in TileKind::ALL {
            let p = self.path(t, kind);
            match tokio::fs::read(&p).await {
                Ok(b) => return Ok(Some((kind, b))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p, e)),
            }
        }
        Ok(None)
    }

    /// Stores one tile, replacing what the cache held for it (in any image kind), written to a
    /// temporary file first so a reader never sees half a tile. Returns false (and stores
    /// nothing) for bytes that are not a PNG, JPEG or WebP image or are too large.
    ///
    /// # Errors
    /// [`TileError::Io`] when the cache cannot be written.
    pub fn put(&self, t: TileId, bytes: &[u8]) -> Result<bool, TileError> {
        let Some(kind) = TileKind::sniff(bytes).filter(|_| bytes.len() <= MAX_TILE_BYTES) else {
            return Ok(false);
        };
        let path = self.path(t, kind);
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let tmp = dir.join(format!(".{}.{}.part", t.y, std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        for other in TileKind::ALL.into_iter().filter(|k| *k != kind) {
            let p = self.path(t, other);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p, e)),
            }
        }
        Ok(true)
    }

    /// Imports `source` (an `.mbtiles` file or an XYZ folder `z/x/y.{png,jpg,jpeg,webp}`)
    /// through `filter`, calling `progress` every few hundred tiles and at the end.
    ///
    /// # Errors
    /// [`TileError`] for a source that is neither, an unreadable MBTiles or one of vector
    /// tiles, and a cache that cannot be written. Single bad tiles are counted, not fatal.
    pub async fn import(
        &self,
        source: &Path,
        filter: &ImportFilter,
        progress: &mut (dyn FnMut(&ImportReport, Option<u64>) + Send),
    ) -> Result<ImportReport, TileError> {
        if source.is_dir() {
            let cache = self.clone();
            let (source, filter) = (source.to_owned(), *filter);
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let job = tokio::task::spawn_blocking(move || {
                cache.import_folder(&source, &filter, &mut |r, _| {
                    let _ = tx.send(*r);
                })
            });
            while let Some(r) = rx.recv().await {
                progress(&r, None);
            }
            let r = job
                .await
                .map_err(|e| io(&self.root, std::io::Error::other(e.to_string())))??;
            progress(&r, Some(r.seen));
            return Ok(r);
        }
        let mut head = [0u8; 16];
        let is_sqlite = std::fs::File::open(source)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
            && &head == b"SQLite format 3\0";
        if !is_sqlite {
            return Err(TileError::UnknownSource(source.display().to_string()));
        }
        self.import_mbtiles(source, filter, progress).await
    }

    async fn import_mbtiles(
        &self,
        source: &Path,
        filter: &ImportFilter,
        progress: &mut (dyn FnMut(&ImportReport, Option<u64>) + Send),
    ) -> Result<ImportReport, TileError> {
        use sqlx::ConnectOptions;
        let name = source.display().to_string();
        let fail = |e: sqlx::Error| TileError::MbTiles {
            path: name.clone(),
            reason: e.to_string(),
        };
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(source)
            .read_only(true)
            .connect()
            .await
            .map_err(fail)?;
        let format: Option<String> =
            sqlx::query_scalar("SELECT value FROM metadata WHERE name = 'format'")
                .fetch_optional(&mut conn)
                .await
                .unwrap_or(None);
        if format.as_deref() == Some("pbf") {
            return Err(TileError::Vector(name));
        }
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM tiles")
            .fetch_one(&mut conn)
            .await
            .map_err(fail)?;
        let total = u64::try_from(total).unwrap_or(0);
        let mut report = ImportReport::default();
        {
            let mut rows = sqlx::query(
                "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles \
                 WHERE zoom_level BETWEEN ? AND ?",
            )
            .bind(i64::from(filter.zoom.0))
            .bind(i64::from(filter.zoom.1))
            .fetch(&mut conn);
            while let Some(row) = rows.try_next().await.map_err(fail)? {
                report.seen += 1;
                let num = |i: usize| {
                    row.try_get::<i64, _>(i)
                        .ok()
                        .and_then(|v| u32::try_from(v).ok())
                };
                let tile = match (num(0), num(1), num(2)) {
                    (Some(z), Some(x), Some(r)) => TileId::from_tms(z, x, r),
                    _ => None,
                };
                let data: Option<Vec<u8>> = row.try_get(3).ok();
                match (tile, data) {
                    (Some(t), _) if !filter.takes(t) => report.outside += 1,
                    (Some(t), Some(d)) if self.put(t, &d)? => report.written += 1,
                    _ => report.refused += 1,
                }
                if report.seen % 500 == 0 {
                    progress(&report, Some(total));
                }
            }
        }
        report.outside += total.saturating_sub(report.seen);
        report.seen = total.max(report.seen);
        progress(&report, Some(total));
        Ok(report)
    }

    fn import_folder(
        &self,
        root: &Path,
        filter: &ImportFilter,
        progress: &mut dyn FnMut(&ImportReport, Option<u64>),
    ) -> Result<ImportReport, TileError> {
        let mut report = ImportReport::default();
        let num = |p: &Path| -> Option<u32> { p.file_name()?.to_str()?.parse().ok() };
        for z_dir in read_dir(root)? {
            let Some(z) = num(&z_dir).filter(|_| z_dir.is_dir()) else {
                continue;
            };
            for x_dir in read_dir(&z_dir)? {
                let Some(x) = num(&x_dir).filter(|_| x_dir.is_dir()) else {
                    continue;
                };
                for file in read_dir(&x_dir)? {
                    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                    let ext = file
                        .extension()
                        .and_then(|s| s.to_str())
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    if !matches!(ext.as_str(), "png" | "jpg" | "jpeg" | "webp") {
                        continue;
                    }
                    report.seen += 1;
                    let tile = stem.parse().ok().and_then(|y| TileId::new(z, x, y));
                    match tile {
                        Some(t) if !filter.takes(t) => report.outside += 1,
                        Some(t) => {
                            let len = std::fs::metadata(&file).map_err(|e| io(&file, e))?.len();
                            let fits = usize::try_from(len).is_ok_and(|l| l <= MAX_TILE_BYTES);
                            let bytes = if fits {
                                std::fs::read(&file).map_err(|e| io(&file, e))?
                            } else {
                                Vec::new()
                            };
                            if fits && self.put(t, &bytes)? {
                                report.written += 1;
                            } else {
                                report.refused += 1;
                            }
                        }
                        None => report.refused += 1,
                    }
                    if report.seen % 500 == 0 {
                        progress(&report, None);
                    }
                }
            }
        }
        Ok(report)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, TileError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        out.push(e.map_err(|e| io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

fn io(path: &Path, source: std::io::Error) -> TileError {
    TileError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The smallest PNG: a signature and nothing a decoder needs (the cache only sniffs).
    pub(crate) fn png(tag: u8) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.extend_from_slice(&[0, 0, 0, 13, b'I', b'H', b'D', b'R', tag]);
        b
    }

    /// An MBTiles file at `path` holding `tiles` (z, x, TMS row, data) and `format`.
    pub(crate) async fn mbtiles(path: &Path, format: &str, tiles: &[(i64, i64, i64, Vec<u8>)]) {
        use sqlx::ConnectOptions;
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        for q in [
            "CREATE TABLE metadata (name text, value text)",
            "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)",
        ] {
            sqlx::query(q).execute(&mut c).await.unwrap();
        }
        sqlx::query("INSERT INTO metadata VALUES ('format', ?)")
            .bind(format)
            .execute(&mut c)
            .await
            .unwrap();
        for (z, x, y, d) in tiles {
            sqlx::query("INSERT INTO tiles VALUES (?, ?, ?, ?)")
                .bind(z)
                .bind(x)
                .bind(y)
                .bind(d)
                .execute(&mut c)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn an_mbtiles_file_fills_the_cache_with_its_rows_turned_to_xyz() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("nasushiobara.mbtiles");
        // z 14 x 14562 TMS row 10003 is XYZ y 16383 − 10003 = 6380: the city hall's tile.
        mbtiles(
            &src,
            "png",
            &[
                (14, 14562, 10003, png(1)),
                (14, 14562, 10004, b"<html>not a tile</html>".to_vec()),
                (14, 99999, 1, png(2)),
                (3, 7, 0, png(3)),
                (19, 1, 1, png(4)),
            ],
        )
        .await;
        let cache = TileCache::of_data_dir(dir.path());
        let mut calls = 0;
        let filter = ImportFilter {
            zoom: (0, 18),
            bbox: None,
        };
        let r = cache
            .import(&src, &filter, &mut |_, total| {
                calls += 1;
                assert_eq!(total, Some(5));
            })
            .await
            .unwrap();
        assert!(calls >= 1);
        assert_eq!(
            r,
            ImportReport {
                written: 2,
                outside: 1,
                refused: 2,
                seen: 5
            }
        );
        let (kind, bytes) = cache
            .get(TileId::new(14, 14562, 6380).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((kind, bytes), (TileKind::Png, png(1)));
        assert!(
            cache
                .get(TileId::new(14, 14562, 6379).unwrap())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            cache
                .get(TileId::new(3, 7, 7).unwrap())
                .await
                .unwrap()
                .is_some()
        );
        // Only tiles touching the city, at the zooms asked for.
        let other = tempfile::tempdir().unwrap();
        let near = TileCache::of_data_dir(other.path());
        let city = ImportFilter {
            zoom: (10, 18),
            bbox: Some((36.85, 139.85, 37.15, 140.1)),
        };
        let r = near.import(&src, &city, &mut |_, _| {}).await.unwrap();
        assert_eq!((r.written, r.seen), (1, 5), "{r:?}");
    }

    #[tokio::test]
    async fn vector_tiles_and_other_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("vector.mbtiles");
        mbtiles(&src, "pbf", &[(14, 1, 1, vec![0x1a, 0x02])]).await;
        let cache = TileCache::of_data_dir(dir.path());
        let e = cache
            .import(&src, &ImportFilter::default(), &mut |_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(e, TileError::Vector(_)), "{e}");
        assert!(e.to_string().contains("vector.mbtiles"));
        let txt = dir.path().join("tiles.txt");
        std::fs::write(&txt, "z/x/y").unwrap();
        let e = cache
            .import(&txt, &ImportFilter::default(), &mut |_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(e, TileError::UnknownSource(_)), "{e}");
        let missing = dir.path().join("missing.mbtiles");
        assert!(
            cache
                .import(&missing, &ImportFilter::default(), &mut |_, _| {})
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_xyz_folder_is_imported_and_a_later_kind_replaces_the_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("seamlessphoto");
        std::fs::create_dir_all(src.join("17/116425")).unwrap();
        std::fs::write(src.join("17/116425/52440.png"), png(5)).unwrap();
        std::fs::write(src.join("17/116425/52441.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 1]).unwrap();
        std::fs::write(src.join("17/116425/readme.txt"), "x").unwrap();
        std::fs::write(src.join("17/116425/bad.png"), png(6)).unwrap();
        std::fs::create_dir_all(src.join("notazoom/1")).unwrap();
        let cache = TileCache::of_data_dir(&dir.path().join("data"));
        let r = cache
            .import(&src, &ImportFilter::default(), &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!((r.written, r.refused, r.seen), (2, 1, 3), "{r:?}");
        let t = TileId::new(17, 116425, 52441).unwrap();
        assert_eq!(cache.get(t).await.unwrap().unwrap().0, TileKind::Jpeg);
        assert!(cache.put(t, &png(7)).unwrap());
        assert_eq!(
            cache.get(t).await.unwrap().unwrap(),
            (TileKind::Png, png(7))
        );
        assert!(!cache.put(t, b"GIF89a").unwrap());
        let mut big = png(8);
        big.resize(MAX_TILE_BYTES + 1, 0);
        assert!(!cache.put(t, &big).unwrap());
    }

    proptest! {
        /// Every XYZ tile goes to TMS and back, and its extent holds its neighbours' edges.
        #[test]
        fn tms_rows_and_extents_agree(z in 0u32..=22, fx in 0.0f64..1.0, fy in 0.0f64..1.0) {
            let n = 1u32 << z;
            let (x, y) = (((f64::from(n) * fx) as u32).min(n - 1), ((f64::from(n) * fy) as u32).min(n - 1));
            let t = TileId::new(z, x, y).unwrap();
            prop_assert_eq!(TileId::from_tms(z, x, n - 1 - y), Some(t));
            let (s, w, nn, e) = t.bounds();
            prop_assert!(s < nn && w < e);
            if let Some(below) = TileId::new(z, x, y + 1) {
                prop_assert!((below.bounds().2 - s).abs() < 1e-9);
            }
            prop_assert!(TileId::new(z, n, y).is_none() && TileId::new(z, x, n).is_none());
        }
    }
}
