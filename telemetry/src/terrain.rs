//! The MAVLink terrain protocol, ground-station side: answer an autopilot's TERRAIN_REQUEST
//! with TERRAIN_DATA from a [`TerrainSource`], and TERRAIN_CHECK with TERRAIN_REPORT; plus the
//! vehicle-side grid cache the simulator keeps, as ArduPilot does.
//!
//! The protocol is ArduPilot's (`libraries/AP_Terrain/`): the vehicle holds grid blocks of
//! 28 × 32 points (north × east, `TERRAIN_GRID_BLOCK_SIZE_X/Y` in `AP_Terrain.h`), spaced
//! `TERRAIN_SPACING` metres from the block's south-west corner, each made of 7 × 8 MAVLink
//! blocks of 4 × 4 points. `TerrainGCS.cpp` `request_missing` sends TERRAIN_REQUEST with the
//! block's SW corner (lat/lon 1e-7°), the spacing and a 56-bit mask of the 4 × 4 blocks it
//! lacks; `handle_terrain_data` takes TERRAIN_DATA whose `gridbit` names one of them
//! (`idx_x = gridbit / 8 · 4` north, `idx_y = gridbit % 8 · 4` east) and whose `data[x·4 + y]`
//! are the heights in whole metres AMSL. Blocks start every 24 × 28 points
//! (`TERRAIN_GRID_BLOCK_SPACING_X/Y`) from the integer degree south-west of the position
//! (`AP_Terrain.cpp` `calculate_grid_info`), so neighbours overlap by one 4 × 4 row. Positions
//! are offset with ArduPilot's flat-earth `Location::offset` / `get_distance_NE`
//! (`libraries/AP_Common/Location.cpp`).

use crate::frame::Msg;
use crate::link::Port;
use mavlink::dialects::ardupilotmega as apm;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Points per side of one TERRAIN_DATA block.
pub const MAVLINK_BLOCK: usize = 4;
/// 4 × 4 blocks per grid block, north.
pub const BLOCK_MUL_X: usize = 7;
/// 4 × 4 blocks per grid block, east.
pub const BLOCK_MUL_Y: usize = 8;
/// Grid block points north (28).
pub const BLOCK_SIZE_X: usize = MAVLINK_BLOCK * BLOCK_MUL_X;
/// Grid block points east (32).
pub const BLOCK_SIZE_Y: usize = MAVLINK_BLOCK * BLOCK_MUL_Y;
/// Points between the SW corners of neighbouring grid blocks, north (24).
const BLOCK_SPACING_X: usize = (BLOCK_MUL_X - 1) * MAVLINK_BLOCK;
/// Points between the SW corners of neighbouring grid blocks, east (28).
const BLOCK_SPACING_Y: usize = (BLOCK_MUL_Y - 1) * MAVLINK_BLOCK;
/// The mask of a complete grid block: 56 bits.
pub const FULL_MASK: u64 = (1u64 << (BLOCK_MUL_X * BLOCK_MUL_Y)) - 1;

/// ArduPilot's `LOCATION_SCALING_FACTOR`: metres per 1e-7 degree of latitude.
const SCALE: f64 = 0.011_131_884_502_145_034;
/// Its inverse, `LOCATION_SCALING_FACTOR_INV`.
const SCALE_INV: f64 = 89.832_049_533_689_22;

/// Ground heights for the terrain protocol.
pub trait TerrainSource: Send + Sync {
    /// Ground height above mean sea level at WGS84 `lat`, `lon` (degrees); `None` where the
    /// source has no data.
    fn height_amsl(&self, lat: f64, lon: f64) -> Option<f64>;
}

impl<F: Fn(f64, f64) -> Option<f64> + Send + Sync> TerrainSource for F {
    fn height_amsl(&self, lat: f64, lon: f64) -> Option<f64> {
        self(lat, lon)
    }
}

/// ArduPilot's `longitude_scale`: cos(lat), at least 0.01.
fn longitude_scale(lat_e7: f64) -> f64 {
    (lat_e7 * 1e-7).to_radians().cos().max(0.01)
}

/// `Location::offset`: (lat, lon) in 1e-7° moved `north`, `east` metres.
pub fn offset_e7(lat_e7: i32, lon_e7: i32, north: f64, east: f64) -> (i32, i32) {
    let dlat = (north * SCALE_INV) as i32;
    let dlng =
        ((east * SCALE_INV) / longitude_scale(f64::from(lat_e7) + f64::from(dlat / 2))) as i64;
    let lat = (i64::from(lat_e7) + i64::from(dlat)).clamp(-900_000_000, 900_000_000) as i32;
    let mut lng = i64::from(lon_e7) + dlng;
    if lng > 1_800_000_000 {
        lng -= 3_600_000_000;
    } else if lng < -1_800_000_000 {
        lng += 3_600_000_000;
    }
    (lat, lng as i32)
}

/// `Location::get_distance_NE`: metres (north, east) from `a` to `b`, both in 1e-7°.
pub fn distance_ne_e7(a: (i32, i32), b: (i32, i32)) -> (f64, f64) {
    let mut dlng = i64::from(b.1) - i64::from(a.1);
    if dlng > 1_800_000_000 {
        dlng -= 3_600_000_000;
    } else if dlng < -1_800_000_000 {
        dlng += 3_600_000_000;
    }
    let mid = (f64::from(a.0) + f64::from(b.0)) / 2.0;
    (
        f64::from(b.0 - a.0) * SCALE,
        dlng as f64 * SCALE * longitude_scale(mid),
    )
}

/// The 16 heights of one 4 × 4 block (`gridbit`) of the grid block with SW corner `lat`,
/// `lon` (1e-7°) and `spacing` metres, in TERRAIN_DATA order (`data[x·4 + y]`, x north);
/// `None` if the source lacks any of them or `gridbit` is out of range.
pub fn block_heights(
    source: &dyn TerrainSource,
    lat: i32,
    lon: i32,
    spacing: u16,
    gridbit: u8,
) -> Option<[i16; 16]> {
    if usize::from(gridbit) >= BLOCK_MUL_X * BLOCK_MUL_Y || spacing == 0 {
        return None;
    }
    let idx_x = usize::from(gridbit) / BLOCK_MUL_Y * MAVLINK_BLOCK;
    let idx_y = usize::from(gridbit) % BLOCK_MUL_Y * MAVLINK_BLOCK;
    let mut data = [0i16; 16];
    for x in 0..MAVLINK_BLOCK {
        for y in 0..MAVLINK_BLOCK {
            let n = ((idx_x + x) * usize::from(spacing)) as f64;
            let e = ((idx_y + y) * usize::from(spacing)) as f64;
            let (la, lo) = offset_e7(lat, lon, n, e);
            let h = source.height_amsl(f64::from(la) * 1e-7, f64::from(lo) * 1e-7)?;
            if !h.is_finite() {
                return None;
            }
            data[x * MAVLINK_BLOCK + y] = h.round().clamp(-32768.0, 32767.0) as i16;
        }
    }
    Some(data)
}

/// The TERRAIN_DATA replies to one TERRAIN_REQUEST: one per mask bit whose 16 heights the
/// source has (a block it lacks is left out; the vehicle asks again, and reports it pending).
pub fn answer_request(
    source: &dyn TerrainSource,
    req: &apm::TERRAIN_REQUEST_DATA,
) -> Vec<apm::TERRAIN_DATA_DATA> {
    (0..(BLOCK_MUL_X * BLOCK_MUL_Y) as u8)
        .filter(|bit| req.mask & (1u64 << bit) != 0)
        .filter_map(|gridbit| {
            block_heights(source, req.lat, req.lon, req.grid_spacing, gridbit).map(|data| {
                apm::TERRAIN_DATA_DATA {
                    lat: req.lat,
                    lon: req.lon,
                    grid_spacing: req.grid_spacing,
                    data,
                    gridbit,
                }
            })
        })
        .collect()
}

/// Our TERRAIN_REPORT for a TERRAIN_CHECK: the source's height at the point (spacing 0 and
/// `pending` 1 where it has none, as ArduPilot reports unknown terrain).
pub fn answer_check(
    source: &dyn TerrainSource,
    check: &apm::TERRAIN_CHECK_DATA,
    spacing: u16,
) -> apm::TERRAIN_REPORT_DATA {
    let h = source.height_amsl(f64::from(check.lat) * 1e-7, f64::from(check.lon) * 1e-7);
    apm::TERRAIN_REPORT_DATA {
        lat: check.lat,
        lon: check.lon,
        terrain_height: h.unwrap_or(0.0) as f32,
        current_height: 0.0,
        spacing: if h.is_some() { spacing } else { 0 },
        pending: u16::from(h.is_none()),
        loaded: u16::from(h.is_some()),
    }
}

/// Counters of a running [`TerrainServer`].
#[derive(Debug, Default)]
pub struct TerrainStats {
    /// TERRAIN_REQUESTs answered.
    pub requests: AtomicU64,
    /// TERRAIN_DATA blocks sent.
    pub blocks_sent: AtomicU64,
    /// Requested blocks the source had no complete data for.
    pub blocks_missing: AtomicU64,
    /// TERRAIN_CHECKs answered.
    pub checks: AtomicU64,
}

/// A task that answers the terrain protocol on a [`Port`] from a [`TerrainSource`].
#[derive(Debug)]
pub struct TerrainServer {
    task: JoinHandle<()>,
    /// What it has answered so far.
    pub stats: Arc<TerrainStats>,
}

impl TerrainServer {
    /// Starts answering every TERRAIN_REQUEST and TERRAIN_CHECK that arrives on `port`; stops
    /// when the port closes or the server is dropped. `check_spacing` is the spacing reported
    /// in TERRAIN_REPORT answers (the vehicle's `TERRAIN_SPACING`).
    pub fn spawn(port: &Port, source: Arc<dyn TerrainSource>, check_spacing: u16) -> Self {
        let mut rx = port.subscribe();
        let port = port.clone();
        let stats = Arc::new(TerrainStats::default());
        let st = stats.clone();
        let task = tokio::spawn(async move {
            loop {
                let frame = match rx.recv().await {
                    Ok(f) => f,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                match &frame.msg {
                    Msg::TERRAIN_REQUEST(req) => {
                        st.requests.fetch_add(1, Ordering::Relaxed);
                        let replies = answer_request(source.as_ref(), req);
                        let asked = u64::from((req.mask & FULL_MASK).count_ones());
                        st.blocks_missing
                            .fetch_add(asked - replies.len() as u64, Ordering::Relaxed);
                        for d in replies {
                            st.blocks_sent.fetch_add(1, Ordering::Relaxed);
                            if port.send(Msg::TERRAIN_DATA(d)).is_err() {
                                return;
                            }
                        }
                    }
                    Msg::TERRAIN_CHECK(c) => {
                        st.checks.fetch_add(1, Ordering::Relaxed);
                        let r = answer_check(source.as_ref(), c, check_spacing);
                        if port.send(Msg::TERRAIN_REPORT(r)).is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
        });
        Self { task, stats }
    }
}

impl Drop for TerrainServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One grid block the vehicle holds.
#[derive(Debug, Clone)]
struct Block {
    lat: i32,
    lon: i32,
    bitmap: u64,
    /// `height[x][y]`, x north.
    height: Box<[[i16; BLOCK_SIZE_Y]; BLOCK_SIZE_X]>,
}

/// The vehicle's terrain cache, as ArduPilot keeps it: grid blocks filled by TERRAIN_DATA,
/// heights bilinear within one block.
#[derive(Debug, Clone)]
pub(crate) struct TerrainCache {
    spacing: u16,
    blocks: Vec<Block>,
}

/// Where a position falls: its block's SW corner and the point offsets within it.
struct GridInfo {
    lat: i32,
    lon: i32,
    idx_x: usize,
    idx_y: usize,
    frac_x: f64,
    frac_y: f64,
}

/// Most grid blocks held (ArduPilot's `TERRAIN_GRID_BLOCK_CACHE_SIZE` is 12).
const CACHE_BLOCKS: usize = 12;

impl TerrainCache {
    pub(crate) fn new(spacing: u16) -> Self {
        Self {
            spacing: spacing.max(1),
            blocks: Vec::new(),
        }
    }

    /// `calculate_grid_info`: the block and offsets of (lat, lon) degrees.
    fn grid_info(&self, lat: f64, lon: f64) -> GridInfo {
        let (la, lo) = ((lat * 1e7) as i32, (lon * 1e7) as i32);
        let deg = |v: i32| {
            if v < 0 {
                (v - 9_999_999) / 10_000_000
            } else {
                v / 10_000_000
            }
        };
        let r = (deg(la) * 10_000_000, deg(lo) * 10_000_000);
        let (n, e) = distance_ne_e7(r, (la, lo));
        let s = f64::from(self.spacing);
        let (ix, iy) = ((n / s).max(0.0) as usize, (e / s).max(0.0) as usize);
        let (gx, gy) = (ix / BLOCK_SPACING_X, iy / BLOCK_SPACING_Y);
        let (blat, blon) = offset_e7(
            r.0,
            r.1,
            (gx * BLOCK_SPACING_X) as f64 * s,
            (gy * BLOCK_SPACING_Y) as f64 * s,
        );
        GridInfo {
            lat: blat,
            lon: blon,
            idx_x: ix % BLOCK_SPACING_X,
            idx_y: iy % BLOCK_SPACING_Y,
            frac_x: (n - ix as f64 * s) / s,
            frac_y: (e - iy as f64 * s) / s,
        }
    }

    /// The block for (lat, lon), created (and the oldest dropped) if new.
    fn block_for(&mut self, lat: f64, lon: f64) -> usize {
        let g = self.grid_info(lat, lon);
        if let Some(i) = self
            .blocks
            .iter()
            .position(|b| b.lat == g.lat && b.lon == g.lon)
        {
            return i;
        }
        if self.blocks.len() >= CACHE_BLOCKS {
            self.blocks.remove(0);
        }
        self.blocks.push(Block {
            lat: g.lat,
            lon: g.lon,
            bitmap: 0,
            height: Box::new([[0; BLOCK_SIZE_Y]; BLOCK_SIZE_X]),
        });
        self.blocks.len() - 1
    }

    /// Makes sure a block for (lat, lon) is held (a TERRAIN_CHECK or a mission item does this).
    pub(crate) fn want(&mut self, lat: f64, lon: f64) {
        self.block_for(lat, lon);
    }

    /// The next TERRAIN_REQUEST: the block at (lat, lon) first, then any other incomplete one.
    pub(crate) fn request(&mut self, lat: f64, lon: f64) -> Option<apm::TERRAIN_REQUEST_DATA> {
        let first = self.block_for(lat, lon);
        let order = std::iter::once(first).chain(0..self.blocks.len());
        for i in order {
            let b = &self.blocks[i];
            if b.bitmap & FULL_MASK != FULL_MASK {
                return Some(apm::TERRAIN_REQUEST_DATA {
                    mask: FULL_MASK & !b.bitmap,
                    lat: b.lat,
                    lon: b.lon,
                    grid_spacing: self.spacing,
                });
            }
        }
        None
    }

    /// `handle_terrain_data`: fills one 4 × 4 block of a held grid block (others are ignored).
    pub(crate) fn apply(&mut self, d: &apm::TERRAIN_DATA_DATA) {
        let n = BLOCK_MUL_X * BLOCK_MUL_Y;
        if d.grid_spacing != self.spacing || usize::from(d.gridbit) >= n {
            return;
        }
        let Some(b) = self
            .blocks
            .iter_mut()
            .find(|b| b.lat == d.lat && b.lon == d.lon)
        else {
            return;
        };
        let idx_x = usize::from(d.gridbit) / BLOCK_MUL_Y * MAVLINK_BLOCK;
        let idx_y = usize::from(d.gridbit) % BLOCK_MUL_Y * MAVLINK_BLOCK;
        for x in 0..MAVLINK_BLOCK {
            for y in 0..MAVLINK_BLOCK {
                b.height[idx_x + x][idx_y + y] = d.data[x * MAVLINK_BLOCK + y];
            }
        }
        b.bitmap |= 1u64 << d.gridbit;
    }

    /// `AP_Terrain::height_amsl`: bilinear within the block, `None` until the four points' 4 × 4
    /// blocks have arrived.
    pub(crate) fn height_amsl(&self, lat: f64, lon: f64) -> Option<f64> {
        let g = self.grid_info(lat, lon);
        let b = self
            .blocks
            .iter()
            .find(|b| b.lat == g.lat && b.lon == g.lon)?;
        let bit = |x: usize, y: usize| {
            b.bitmap & (1u64 << ((x / MAVLINK_BLOCK) * BLOCK_MUL_Y + y / MAVLINK_BLOCK)) != 0
        };
        let (x, y) = (g.idx_x, g.idx_y);
        for (px, py) in [(x, y), (x + 1, y), (x, y + 1), (x + 1, y + 1)] {
            if !bit(px, py) {
                return None;
            }
        }
        let h = |x: usize, y: usize| f64::from(b.height[x][y]);
        let h0 = h(x, y) * (1.0 - g.frac_x) + h(x + 1, y) * g.frac_x;
        let h1 = h(x, y + 1) * (1.0 - g.frac_x) + h(x + 1, y + 1) * g.frac_x;
        Some(h0 * (1.0 - g.frac_y) + h1 * g.frac_y)
    }

    /// `get_statistics`: (pending, loaded) 4 × 4 blocks.
    pub(crate) fn statistics(&self) -> (u16, u16) {
        let mut pending = 0u16;
        let mut loaded = 0u16;
        for b in &self.blocks {
            let have = (b.bitmap & FULL_MASK).count_ones() as u16;
            loaded += have;
            pending += (BLOCK_MUL_X * BLOCK_MUL_Y) as u16 - have;
        }
        (pending, loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A ground rising 1 m per 10 m north and 1 m per 20 m east of (36.9, 139.9), 300 m there.
    fn ground(lat: f64, lon: f64) -> Option<f64> {
        let n = (lat - 36.9) * 111_320.0;
        let e = (lon - 139.9) * 111_320.0 * 36.9f64.to_radians().cos();
        Some(300.0 + n / 10.0 + e / 20.0)
    }

    #[test]
    fn a_request_is_answered_with_each_blocks_sixteen_heights() {
        let (lat, lon, spacing) = (369_000_000, 1_399_000_000, 5);
        let req = apm::TERRAIN_REQUEST_DATA {
            mask: (1 << 0) | (1 << 9) | (1 << 55),
            lat,
            lon,
            grid_spacing: spacing,
        };
        let got = answer_request(&ground, &req);
        assert_eq!(
            got.iter().map(|d| d.gridbit).collect::<Vec<_>>(),
            vec![0, 9, 55]
        );
        for d in &got {
            assert_eq!((d.lat, d.lon, d.grid_spacing), (lat, lon, spacing));
            // gridbit 9: 4 × 4 block at point (4, 4); 55: at (24, 28).
            let (x0, y0) = (
                usize::from(d.gridbit) / 8 * 4,
                usize::from(d.gridbit) % 8 * 4,
            );
            for x in 0..4 {
                for y in 0..4 {
                    let (n, e) = ((x0 + x) as f64 * 5.0, (y0 + y) as f64 * 5.0);
                    let want = 300.0 + n / 10.0 + e / 20.0;
                    let got = f64::from(d.data[x * 4 + y]);
                    assert!(
                        (got - want).abs() <= 0.5 + 0.01,
                        "bit {} ({x},{y}): {got} vs {want}",
                        d.gridbit
                    );
                }
            }
        }
        // Where the source has nothing, nothing is sent.
        let none = |_: f64, _: f64| None;
        assert!(answer_request(&none, &req).is_empty());
        // A mask past the 56 bits asks for nothing more.
        let wide = apm::TERRAIN_REQUEST_DATA {
            mask: u64::MAX,
            ..req
        };
        assert_eq!(answer_request(&ground, &wide).len(), 56);
    }

    #[test]
    fn a_check_is_answered() {
        let c = apm::TERRAIN_CHECK_DATA {
            lat: 369_001_000,
            lon: 1_399_000_000,
        };
        let r = answer_check(&ground, &c, 30);
        assert_eq!((r.lat, r.lon, r.spacing, r.pending), (c.lat, c.lon, 30, 0));
        assert!(
            (f64::from(r.terrain_height) - 301.11).abs() < 0.05,
            "{}",
            r.terrain_height
        );
        let r = answer_check(&|_: f64, _: f64| None, &c, 30);
        assert_eq!((r.spacing, r.pending, r.loaded), (0, 1, 0));
    }

    #[test]
    fn the_cache_fills_from_our_answers_and_agrees_with_the_ground() {
        let mut cache = TerrainCache::new(5);
        let (lat, lon) = (36.9012, 139.9023);
        assert!(cache.height_amsl(lat, lon).is_none());
        let req = cache.request(lat, lon).unwrap();
        assert_eq!(req.mask, FULL_MASK);
        for d in answer_request(&ground, &req) {
            cache.apply(&d);
        }
        assert_eq!(cache.statistics(), (0, 56));
        let got = cache.height_amsl(lat, lon).unwrap();
        assert!((got - ground(lat, lon).unwrap()).abs() < 0.6, "{got}");
        assert!(cache.request(lat, lon).is_none());
    }

    #[tokio::test]
    async fn the_server_answers_on_a_port() {
        let (port, mut peer) = Port::pair();
        let server = TerrainServer::spawn(&port, Arc::new(ground), 5);
        let req = apm::TERRAIN_REQUEST_DATA {
            mask: 0b111,
            lat: 369_000_000,
            lon: 1_399_000_000,
            grid_spacing: 5,
        };
        let hdr = mavlink::MavHeader {
            system_id: 1,
            component_id: 1,
            sequence: 0,
        };
        let f = crate::frame::Frame::encode(hdr, Msg::TERRAIN_REQUEST(req));
        peer.inbox.send(Arc::new(f)).unwrap();
        let mut bits = Vec::new();
        while bits.len() < 3 {
            match tokio::time::timeout(std::time::Duration::from_secs(5), peer.outgoing.recv())
                .await
            {
                Ok(Some(Msg::TERRAIN_DATA(d))) => bits.push(d.gridbit),
                other => panic!("no TERRAIN_DATA: {other:?}"),
            }
        }
        assert_eq!(bits, vec![0, 1, 2]);
        assert_eq!(server.stats.blocks_sent.load(Ordering::Relaxed), 3);
    }

    proptest! {
        #[test]
        fn offset_and_distance_invert(lat in -60.0f64..60.0, lon in -179.0f64..179.0,
                                      n in 0.0f64..3000.0, e in 0.0f64..3000.0) {
            let a = ((lat * 1e7) as i32, (lon * 1e7) as i32);
            let b = offset_e7(a.0, a.1, n, e);
            let (dn, de) = distance_ne_e7(a, b);
            prop_assert!((dn - n).abs() < 0.02 && (de - e).abs() < 0.05, "{dn} {de}");
        }
    }
}
