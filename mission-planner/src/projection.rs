//! WGS84 ⇄ a local metric frame centred on the field; only import and export see degrees.
//!
//! The frame is a local equirectangular (plate carrée) tangent frame on the WGS84 ellipsoid:
//! `x = N·cos φ0·Δλ`, `y = M·Δφ`, with `M` and `N` the meridional and prime-vertical radii of
//! curvature at the centre latitude `φ0`. x points east, y north, in metres. The east-west
//! scale drifts by `tan φ0 · Δφ` away from the centre latitude, so a point 500 m north and 500 m
//! east of the centre is off by about 3 cm at latitude 37° (12 cm at 1 km × 1 km) — well below
//! GNSS error for the fields a spray drone covers. The inverse is exact, so
//! WGS84 → local → WGS84 round-trips to floating-point precision.

use geo::{Coord, LineString, MultiPolygon, Polygon};

const WGS84_A: f64 = 6_378_137.0;
const WGS84_E2: f64 = 0.006_694_379_990_14;

/// A local metric frame (x east, y north, metres) centred on a WGS84 point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    lon0: f64,
    lat0: f64,
    m_per_deg_lon: f64,
    m_per_deg_lat: f64,
}

impl LocalFrame {
    /// A frame centred on `lon0`, `lat0` (degrees).
    pub fn new(lon0: f64, lat0: f64) -> Self {
        let phi = lat0.to_radians();
        let s2 = phi.sin().powi(2);
        let w = (1.0 - WGS84_E2 * s2).sqrt();
        let n = WGS84_A / w;
        let m = WGS84_A * (1.0 - WGS84_E2) / (w * w * w);
        let rad = std::f64::consts::PI / 180.0;
        Self {
            lon0,
            lat0,
            m_per_deg_lon: n * phi.cos() * rad,
            m_per_deg_lat: m * rad,
        }
    }

    /// A frame centred on the middle of a WGS84 (lon/lat) polygon's bounding box.
    pub fn centred_on(polygon: &Polygon) -> Self {
        let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for c in polygon.exterior().coords() {
            min_x = min_x.min(c.x);
            max_x = max_x.max(c.x);
            min_y = min_y.min(c.y);
            max_y = max_y.max(c.y);
        }
        Self::new((min_x + max_x) / 2.0, (min_y + max_y) / 2.0)
    }

    /// The frame's centre (lon, lat) in degrees.
    pub fn origin(&self) -> (f64, f64) {
        (self.lon0, self.lat0)
    }

    /// A WGS84 coordinate (x = lon, y = lat, degrees) in local metres.
    pub fn to_local(&self, c: Coord) -> Coord {
        Coord {
            x: (c.x - self.lon0) * self.m_per_deg_lon,
            y: (c.y - self.lat0) * self.m_per_deg_lat,
        }
    }

    /// A local coordinate (metres) as WGS84 (x = lon, y = lat, degrees).
    pub fn to_wgs84(&self, c: Coord) -> Coord {
        Coord {
            x: self.lon0 + c.x / self.m_per_deg_lon,
            y: self.lat0 + c.y / self.m_per_deg_lat,
        }
    }

    /// A WGS84 polygon in local metres.
    pub fn polygon_to_local(&self, p: &Polygon) -> Polygon {
        map_polygon(p, |c| self.to_local(c))
    }

    /// A local polygon in WGS84.
    pub fn polygon_to_wgs84(&self, p: &Polygon) -> Polygon {
        map_polygon(p, |c| self.to_wgs84(c))
    }

    /// A local multipolygon in WGS84.
    pub fn multi_polygon_to_wgs84(&self, mp: &MultiPolygon) -> MultiPolygon {
        MultiPolygon(mp.0.iter().map(|p| self.polygon_to_wgs84(p)).collect())
    }
}

fn map_polygon(p: &Polygon, f: impl Fn(Coord) -> Coord) -> Polygon {
    let ring = |r: &LineString| LineString(r.0.iter().map(|&c| f(c)).collect());
    Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let f = LocalFrame::new(139.9, 36.9);
        let p = f.to_local(Coord { x: 139.9, y: 37.9 });
        assert!((p.y - 111_000.0).abs() < 300.0, "{p:?}");
        // Nasushiobara: a 100 m east step is ~0.001122 degrees of longitude.
        let q = f.to_wgs84(Coord { x: 100.0, y: 0.0 });
        assert!((q.x - 139.9 - 0.001_122).abs() < 2e-6, "{q:?}");
    }

    proptest! {
        #[test]
        fn round_trip(lon0 in -179.0f64..179.0, lat0 in -80.0f64..80.0, dx in -0.02f64..0.02, dy in -0.02f64..0.02) {
            let f = LocalFrame::new(lon0, lat0);
            let c = Coord { x: lon0 + dx, y: lat0 + dy };
            let back = f.to_wgs84(f.to_local(c));
            prop_assert!((back.x - c.x).abs() < 1e-10 && (back.y - c.y).abs() < 1e-10);
        }
    }
}
