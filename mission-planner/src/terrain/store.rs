//! A loaded elevation model as bytes, to keep it once decoded: the web stores a farm's models
//! this way (its terrain library), so a plan or a flight never parses a GeoTIFF, a GSI GML
//! tile or a PNG tile again.
//!
//! The layout is little-endian: the magic `AGDEM\0\0\x01`, the grid count (u32), then per grid
//! the system (u8: 0 geographic, 1 web mercator), the north-west cell's centre and the cell
//! size (4 × f64), the width and height (2 × u32) and the heights (f32, row-major from the
//! north-west, NaN nodata). Reading checks every count against the bytes there are and the
//! limits before it allocates, and every grid as a loader does, so stored bytes damaged or
//! handed in by anyone are refused, never trusted.

use super::dem::{Dem, DemCrs, DemLimits, Grid, check_cells};
use crate::error::PlanError;

/// The first bytes of a stored model (the last is the layout's version).
const MAGIC: &[u8; 8] = b"AGDEM\0\0\x01";

impl Dem {
    /// This model as bytes, for [`Dem::from_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.cells() * 4 + self.grids.len() * 41);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.grids.len() as u32).to_le_bytes());
        for g in &self.grids {
            out.push(match g.crs {
                DemCrs::Geographic => 0,
                DemCrs::WebMercator => 1,
            });
            for v in [g.x0, g.y0, g.dx, g.dy] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&(g.width as u32).to_le_bytes());
            out.extend_from_slice(&(g.height as u32).to_le_bytes());
            for z in &g.z {
                out.extend_from_slice(&z.to_le_bytes());
            }
        }
        out
    }

    /// A model from [`Dem::to_bytes`]'s bytes.
    ///
    /// # Errors
    /// [`PlanError::Dem`] for bytes that are not a stored model, are cut short or carry a bad
    /// grid; [`PlanError::DemTooLarge`] past `limits`.
    pub fn from_bytes(bytes: &[u8], limits: &DemLimits) -> Result<Dem, PlanError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(PlanError::Dem {
                reason: "not a stored elevation model".into(),
            });
        }
        let count = r.u32()? as usize;
        if count == 0 || count > limits.max_grids {
            return Err(if count == 0 {
                PlanError::Dem {
                    reason: "a stored elevation model with no grid".into(),
                }
            } else {
                PlanError::DemTooLarge {
                    what: "grids",
                    count,
                    limit: limits.max_grids,
                }
            });
        }
        let mut dem: Option<Dem> = None;
        let mut cells = 0usize;
        for _ in 0..count {
            let crs = match r.take(1)?[0] {
                0 => DemCrs::Geographic,
                1 => DemCrs::WebMercator,
                other => {
                    return Err(PlanError::Dem {
                        reason: format!("unknown coordinate system {other} in a stored model"),
                    });
                }
            };
            let (x0, y0, dx, dy) = (r.f64()?, r.f64()?, r.f64()?, r.f64()?);
            let (w, h) = (r.u32()? as usize, r.u32()? as usize);
            let n = w.saturating_mul(h);
            cells = cells.saturating_add(n);
            check_cells(cells, limits)?;
            let raw = r.take(n.saturating_mul(4))?;
            let z = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let one = Dem::one(Grid::new(crs, (x0, y0), (dx, dy), (w, h), z)?);
            dem = Some(match dem {
                None => one,
                Some(d) => d.merge(one, limits)?,
            });
        }
        if r.at != bytes.len() {
            return Err(PlanError::Dem {
                reason: format!("{} bytes after a stored model", bytes.len() - r.at),
            });
        }
        dem.ok_or_else(|| PlanError::Dem {
            reason: "a stored elevation model with no grid".into(),
        })
    }
}

/// Reads the stored layout front to back, refusing to read past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PlanError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| PlanError::Dem {
            reason: "a stored elevation model cut short".into(),
        })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, PlanError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, PlanError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(f64::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn grid(crs: DemCrs, origin: (f64, f64), cell: f64, w: usize, h: usize, base: f32) -> Dem {
        let z = (0..w * h)
            .map(|i| {
                if i % 7 == 3 {
                    f32::NAN
                } else {
                    base + i as f32 * 0.25
                }
            })
            .collect();
        Dem::from_grid(crs, origin, (cell, cell), (w, h), z, &DemLimits::default()).unwrap()
    }

    fn same(a: &Dem, b: &Dem) -> bool {
        a.grids.len() == b.grids.len()
            && a.grids.iter().zip(&b.grids).all(|(x, y)| {
                x.crs == y.crs
                    && (x.x0, x.y0, x.dx, x.dy, x.width, x.height)
                        == (y.x0, y.y0, y.dx, y.dy, y.width, y.height)
                    && x.z
                        .iter()
                        .zip(&y.z)
                        .all(|(p, q)| p.to_bits() == q.to_bits())
            })
    }

    #[test]
    fn a_model_of_two_systems_reads_back_as_it_was() {
        let l = DemLimits::default();
        let d = grid(DemCrs::Geographic, (139.9, 36.9), 1e-4, 5, 4, 300.0)
            .merge(
                grid(
                    DemCrs::WebMercator,
                    (15_573_000.0, 4_423_000.0),
                    10.0,
                    3,
                    6,
                    410.0,
                ),
                &l,
            )
            .unwrap();
        let back = Dem::from_bytes(&d.to_bytes(), &l).unwrap();
        assert!(same(&d, &back));
        assert_eq!(back.cells(), 38);
        assert_eq!(
            back.height_amsl(36.9 - 1e-4, 139.9 + 1e-4),
            d.height_amsl(36.9 - 1e-4, 139.9 + 1e-4)
        );
    }

    #[test]
    fn damaged_bytes_are_refused() {
        let l = DemLimits::default();
        let good = grid(DemCrs::Geographic, (139.9, 36.9), 1e-4, 4, 4, 10.0).to_bytes();
        assert!(Dem::from_bytes(b"GIF89a....", &l).is_err());
        assert!(Dem::from_bytes(&good[..good.len() - 1], &l).is_err());
        let mut longer = good.clone();
        longer.push(0);
        assert!(Dem::from_bytes(&longer, &l).is_err());
        let mut crs = good.clone();
        crs[12] = 9;
        assert!(Dem::from_bytes(&crs, &l).is_err());
        // A width of 2^32 - 1 claims 64 GiB of heights: refused by the limit, not allocated.
        let mut huge = good.clone();
        huge[45..49].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Dem::from_bytes(&huge, &l),
            Err(PlanError::DemTooLarge { .. })
        ));
        let mut none = good[..12].to_vec();
        none[8..12].copy_from_slice(&0u32.to_le_bytes());
        assert!(Dem::from_bytes(&none, &l).is_err());
    }

    proptest! {
        #[test]
        fn any_grid_round_trips(
            w in 2usize..12, h in 2usize..12,
            lon in 120.0f64..150.0, lat in 20.0f64..45.0,
            cell in 1e-5f64..1e-3, base in -50.0f32..3000.0,
        ) {
            let d = grid(DemCrs::Geographic, (lon, lat), cell, w, h, base);
            let back = Dem::from_bytes(&d.to_bytes(), &DemLimits::default()).unwrap();
            prop_assert!(same(&d, &back));
        }

        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&bytes);
            let _ = Dem::from_bytes(&b, &DemLimits::default());
        }
    }
}
