//! The elevation model: georeferenced grids of ground heights, sampled bilinearly.

use crate::error::PlanError;
use geo::{Coord, Rect};

/// WGS84 semi-major axis, the sphere radius of web mercator (EPSG:3857).
const R_MERC: f64 = 6_378_137.0;

/// Heights outside this range (metres) are no surface on Earth: they are taken as nodata, so
/// undeclared fill values (-9999, -32768, 3.4e38) never reach the planner.
const PLAUSIBLE_M: std::ops::RangeInclusive<f32> = -1000.0..=10_000.0;

/// The coordinate system a grid's rows and columns are regular in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemCrs {
    /// Latitude/longitude in degrees (WGS84, JGD2011/JGD2000: the same to well under a metre).
    Geographic,
    /// Web mercator metres (EPSG:3857), the grid of map tiles.
    WebMercator,
}

impl DemCrs {
    /// (lon, lat) degrees → (x, y) in this system.
    fn forward(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            DemCrs::Geographic => (lon, lat),
            DemCrs::WebMercator => {
                let x = R_MERC * lon.to_radians();
                let y = R_MERC
                    * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
                        .tan()
                        .ln();
                (x, y)
            }
        }
    }

    /// (x, y) in this system → (lon, lat) degrees.
    fn inverse(self, x: f64, y: f64) -> (f64, f64) {
        match self {
            DemCrs::Geographic => (x, y),
            DemCrs::WebMercator => {
                let lon = (x / R_MERC).to_degrees();
                let lat =
                    (2.0 * (y / R_MERC).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
                (lon, lat)
            }
        }
    }
}

/// Limits that hold whatever file is handed to a loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemLimits {
    /// Most height cells in one model, all grids together (default 25 million: 100 MB).
    pub max_cells: usize,
    /// Longest GML document accepted, bytes (default 64 MiB; a GSI 5 m tile is about 0.6 MB).
    pub max_xml_bytes: usize,
    /// Most grids (tiles) in one model (default 4096).
    pub max_grids: usize,
}

impl Default for DemLimits {
    fn default() -> Self {
        Self {
            max_cells: 25_000_000,
            max_xml_bytes: 64 << 20,
            max_grids: 4096,
        }
    }
}

/// One regular grid of heights. Pixel-is-area: each value is the height at its cell's centre,
/// and the grid covers its cells' whole extent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grid {
    pub(super) crs: DemCrs,
    /// Centre of the north-west cell (column 0, row 0).
    pub(super) x0: f64,
    pub(super) y0: f64,
    /// Cell size; rows go south (y decreasing), columns east.
    pub(super) dx: f64,
    pub(super) dy: f64,
    pub(super) width: usize,
    pub(super) height: usize,
    /// Row-major from the north-west corner; NaN is nodata.
    pub(super) z: Vec<f32>,
}

impl Grid {
    /// A grid, checked: at least 2 × 2 cells, positive finite cell sizes, `z` of the right size.
    pub(crate) fn new(
        crs: DemCrs,
        (x0, y0): (f64, f64),
        (dx, dy): (f64, f64),
        (width, height): (usize, usize),
        mut z: Vec<f32>,
    ) -> Result<Self, PlanError> {
        let bad = |reason: String| Err(PlanError::Dem { reason });
        if width < 2 || height < 2 {
            return bad(format!("grid of {width} × {height} cells (at least 2 × 2)"));
        }
        if !(dx.is_finite() && dy.is_finite() && dx > 0.0 && dy > 0.0) {
            return bad(format!("cell size {dx} × {dy} is not positive"));
        }
        if !(x0.is_finite() && y0.is_finite()) {
            return bad("grid origin is not finite".into());
        }
        if z.len() != width * height {
            return bad(format!("{} heights for a {width} × {height} grid", z.len()));
        }
        if crs == DemCrs::Geographic {
            let (w, n) = (x0 - dx / 2.0, y0 + dy / 2.0);
            let (e, s) = (w + dx * width as f64, n - dy * height as f64);
            if w < -180.0 || e > 180.0 || s < -90.0 || n > 90.0 {
                return bad(format!("extent lon {w}..{e}, lat {s}..{n} is not on Earth"));
            }
        }
        for v in &mut z {
            if !PLAUSIBLE_M.contains(v) {
                *v = f32::NAN;
            }
        }
        Ok(Self {
            crs,
            x0,
            y0,
            dx,
            dy,
            width,
            height,
            z,
        })
    }

    fn at(&self, col: usize, row: usize) -> f32 {
        self.z[row * self.width + col]
    }

    /// Bilinear height at (lon, lat), `None` outside the grid or next to a nodata cell.
    fn sample(&self, lon: f64, lat: f64) -> Option<f64> {
        let (x, y) = self.crs.forward(lon, lat);
        let fx = (x - self.x0) / self.dx;
        let fy = (self.y0 - y) / self.dy;
        let (w, h) = (self.width as f64, self.height as f64);
        // The cells' own extent reaches half a cell beyond the outer centres.
        if !(fx >= -0.5 && fx <= w - 0.5 && fy >= -0.5 && fy <= h - 0.5) {
            return None;
        }
        let fx = fx.clamp(0.0, w - 1.0);
        let fy = fy.clamp(0.0, h - 1.0);
        let i = (fx.floor() as usize).min(self.width - 2);
        let j = (fy.floor() as usize).min(self.height - 2);
        let (tx, ty) = (fx - i as f64, fy - j as f64);
        // Only the cells that carry weight count: on a cell centre or edge a nodata
        // neighbour of weight 0 (to rounding) does not make the height unknown.
        let mut v = 0.0;
        for (c, r, w) in [
            (i, j, (1.0 - tx) * (1.0 - ty)),
            (i + 1, j, tx * (1.0 - ty)),
            (i, j + 1, (1.0 - tx) * ty),
            (i + 1, j + 1, tx * ty),
        ] {
            if w > 1e-9 {
                v += f64::from(self.at(c, r)) * w;
            }
        }
        v.is_finite().then_some(v)
    }

    /// The grid's extent in WGS84 (x = lon, y = lat).
    fn bounds(&self) -> Rect {
        let (w, n) = (self.x0 - self.dx / 2.0, self.y0 + self.dy / 2.0);
        let (e, s) = (
            w + self.dx * self.width as f64,
            n - self.dy * self.height as f64,
        );
        let (lon0, lat0) = self.crs.inverse(w, s);
        let (lon1, lat1) = self.crs.inverse(e, n);
        Rect::new(Coord { x: lon0, y: lat0 }, Coord { x: lon1, y: lat1 })
    }

    /// Cell size in metres along the ground, roughly (at the grid's centre).
    fn cell_m(&self) -> f64 {
        match self.crs {
            DemCrs::Geographic => {
                let lat = (self.y0 - self.dy * self.height as f64 / 2.0).to_radians();
                let m_per_deg = 111_320.0;
                (self.dx * m_per_deg * lat.cos()).min(self.dy * m_per_deg)
            }
            DemCrs::WebMercator => {
                let (_, lat) = self
                    .crs
                    .inverse(self.x0, self.y0 - self.dy * self.height as f64 / 2.0);
                self.dx.min(self.dy) * lat.to_radians().cos()
            }
        }
    }
}

/// A digital elevation model: heights above mean sea level from one or more grids (tiles),
/// sampled bilinearly; where grids overlap the first one loaded that has data wins.
///
/// Load one with [`Dem::from_geotiff`], [`Dem::from_gsi_gml`] or [`Dem::from_gsi_png_tile`], and
/// join tiles with [`Dem::merge`].
#[derive(Debug, Clone, PartialEq)]
pub struct Dem {
    pub(super) grids: Vec<Grid>,
    cells: usize,
}

impl Dem {
    /// A model of one regular grid: `origin` is the centre of the north-west cell, `cell` the
    /// cell size (x east, y north; degrees or metres as `crs` says), `heights` row-major from
    /// the north-west corner with NaN as nodata.
    ///
    /// # Errors
    /// [`PlanError::Dem`] for a grid smaller than 2 × 2, a non-positive cell size or a height
    /// count that does not match; [`PlanError::DemTooLarge`] past `limits.max_cells`.
    pub fn from_grid(
        crs: DemCrs,
        origin: (f64, f64),
        cell: (f64, f64),
        size: (usize, usize),
        heights: Vec<f32>,
        limits: &DemLimits,
    ) -> Result<Self, PlanError> {
        check_cells(size.0.saturating_mul(size.1), limits)?;
        let g = Grid::new(crs, origin, cell, size, heights)?;
        Ok(Self::one(g))
    }

    pub(crate) fn one(g: Grid) -> Self {
        let cells = g.z.len();
        Self {
            grids: vec![g],
            cells,
        }
    }

    /// This model with `other`'s grids added after its own.
    ///
    /// # Errors
    /// [`PlanError::DemTooLarge`] when the two together go past the limits.
    pub fn merge(mut self, other: Dem, limits: &DemLimits) -> Result<Self, PlanError> {
        let cells = self.cells.saturating_add(other.cells);
        check_cells(cells, limits)?;
        if self.grids.len() + other.grids.len() > limits.max_grids {
            return Err(PlanError::DemTooLarge {
                what: "grids",
                count: self.grids.len() + other.grids.len(),
                limit: limits.max_grids,
            });
        }
        self.grids.extend(other.grids);
        self.cells = cells;
        Ok(self)
    }

    /// Ground height above mean sea level at WGS84 `lat`, `lon` (degrees), bilinear between
    /// the four nearest cell centres; `None` outside the model or next to a nodata cell.
    pub fn height_amsl(&self, lat: f64, lon: f64) -> Option<f64> {
        if !(lat.is_finite() && lon.is_finite()) {
            return None;
        }
        self.grids.iter().find_map(|g| g.sample(lon, lat))
    }

    /// The extent of every grid together (x = lon, y = lat).
    pub fn bounds(&self) -> Rect {
        let mut it = self.grids.iter().map(Grid::bounds);
        let first = it.next().expect("a Dem has at least one grid");
        it.fold(first, |a, b| {
            Rect::new(
                Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        })
    }

    /// The finest cell size of its grids, metres along the ground (roughly).
    pub fn cell_size_m(&self) -> f64 {
        self.grids
            .iter()
            .map(Grid::cell_m)
            .fold(f64::INFINITY, f64::min)
    }

    /// Number of height cells held.
    pub fn cells(&self) -> usize {
        self.cells
    }

    /// The lowest and highest height held, metres AMSL; `None` when every cell is nodata.
    pub fn height_range(&self) -> Option<(f64, f64)> {
        let mut it = self
            .grids
            .iter()
            .flat_map(|g| &g.z)
            .filter(|z| z.is_finite());
        let first = f64::from(*it.next()?);
        Some(it.fold((first, first), |(lo, hi), z| {
            (lo.min(f64::from(*z)), hi.max(f64::from(*z)))
        }))
    }
}

pub(crate) fn check_cells(cells: usize, limits: &DemLimits) -> Result<(), PlanError> {
    if cells > limits.max_cells {
        return Err(PlanError::DemTooLarge {
            what: "height cells",
            count: cells,
            limit: limits.max_cells,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use proptest::prelude::*;

    fn plane(a: f64, b: f64, c: f64) -> Dem {
        // z = a + b·col + c·row on a 10 × 8 geographic grid of 0.0001°.
        let (w, h) = (10, 8);
        let z = (0..h)
            .flat_map(|r| (0..w).map(move |col| (a + b * col as f64 + c * r as f64) as f32))
            .collect();
        Dem::from_grid(
            DemCrs::Geographic,
            (139.9, 36.9),
            (1e-4, 1e-4),
            (w, h),
            z,
            &DemLimits::default(),
        )
        .unwrap()
    }

    #[test]
    fn samples_cell_centres_and_between() {
        let d = plane(100.0, 1.0, 2.0);
        assert_relative_eq!(d.height_amsl(36.9, 139.9).unwrap(), 100.0, epsilon = 1e-4);
        assert_relative_eq!(
            d.height_amsl(36.9 - 2e-4, 139.9 + 3e-4).unwrap(),
            107.0,
            epsilon = 1e-3
        );
        assert_relative_eq!(
            d.height_amsl(36.9 - 0.5e-4, 139.9 + 0.5e-4).unwrap(),
            101.5,
            epsilon = 1e-3
        );
        // Half a cell beyond the outer centres is still covered, a cell beyond is not.
        assert!(d.height_amsl(36.9 + 0.4e-4, 139.9).is_some());
        assert!(d.height_amsl(36.9 + 0.6e-4, 139.9).is_none());
        assert!(d.height_amsl(36.9, 139.9 - 0.6e-4).is_none());
        assert!(d.height_amsl(f64::NAN, 139.9).is_none());
    }

    #[test]
    fn nodata_and_implausible_values_are_missing() {
        let mut z = vec![50.0_f32; 9];
        z[4] = f32::NAN;
        z[0] = -9999.0;
        let d = Dem::from_grid(
            DemCrs::Geographic,
            (139.0, 36.0),
            (1e-3, 1e-3),
            (3, 3),
            z,
            &DemLimits::default(),
        )
        .unwrap();
        assert!(d.height_amsl(36.0 - 1e-3, 139.0 + 1e-3).is_none());
        assert!(d.height_amsl(36.0, 139.0).is_none());
        assert_eq!(d.height_range(), Some((50.0, 50.0)));
    }

    #[test]
    fn bad_grids_are_refused() {
        let l = DemLimits::default();
        let e = Dem::from_grid(
            DemCrs::Geographic,
            (0.0, 0.0),
            (1.0, 1.0),
            (1, 5),
            vec![0.0; 5],
            &l,
        );
        assert!(matches!(e, Err(PlanError::Dem { .. })));
        let e = Dem::from_grid(
            DemCrs::Geographic,
            (0.0, 0.0),
            (0.0, 1.0),
            (2, 2),
            vec![0.0; 4],
            &l,
        );
        assert!(matches!(e, Err(PlanError::Dem { .. })));
        let e = Dem::from_grid(
            DemCrs::Geographic,
            (0.0, 0.0),
            (1.0, 1.0),
            (2, 2),
            vec![0.0; 3],
            &l,
        );
        assert!(matches!(e, Err(PlanError::Dem { .. })));
        let small = DemLimits { max_cells: 3, ..l };
        let e = Dem::from_grid(
            DemCrs::Geographic,
            (0.0, 0.0),
            (1.0, 1.0),
            (2, 2),
            vec![0.0; 4],
            &small,
        );
        assert!(matches!(e, Err(PlanError::DemTooLarge { .. })));
    }

    #[test]
    fn web_mercator_round_trips() {
        for (lon, lat) in [(139.9, 36.9), (-70.0, -33.0), (0.0, 0.0)] {
            let (x, y) = DemCrs::WebMercator.forward(lon, lat);
            let (lon2, lat2) = DemCrs::WebMercator.inverse(x, y);
            assert_relative_eq!(lon, lon2, epsilon = 1e-9);
            assert_relative_eq!(lat, lat2, epsilon = 1e-9);
        }
    }

    proptest! {
        /// Bilinear sampling reproduces a plane exactly anywhere inside the centres.
        #[test]
        fn a_plane_is_sampled_exactly(a in -100.0..500.0f64, b in -3.0..3.0f64, c in -3.0..3.0f64,
                                     fx in 0.0..9.0f64, fy in 0.0..7.0f64) {
            let d = plane(a, b, c);
            let got = d.height_amsl(36.9 - fy * 1e-4, 139.9 + fx * 1e-4).unwrap();
            prop_assert!((got - (a + b * fx + c * fy)).abs() < 1e-3 * (1.0 + a.abs()) / 100.0 + 1e-3);
        }
    }
}
