//! The Japan Plane Rectangular Coordinate System (平面直角座標系, zones I–XIX on JGD2000 and
//! JGD2011): the projected system Japanese GIS and municipal data use. A prescription in it
//! is turned into longitude/latitude with the Transverse Mercator of `proj4rs` (exact
//! Poder/Engsager form, as PROJ's `tmerc`).
//!
//! Zone origins and the scale factor 0.9999 are those of the Ministry of Land, Infrastructure,
//! Transport and Tourism notice 平成14年国土交通省告示第九号, as EPSG lists them for
//! EPSG:2443–2461 (JGD2000) and EPSG:6669–6687 (JGD2011); false easting and northing are 0,
//! the ellipsoid GRS80. Coordinates are read as GIS stores them: x east, y north (the survey
//! convention names them Y and X).

use geo::{MapCoords, MultiPolygon};
use proj4rs::proj::Proj;

use super::PrescriptionError;

/// Origins of zones I–XIX: (latitude, longitude) in degrees and minutes.
const ORIGINS: [((f64, f64), (f64, f64)); 19] = [
    ((33.0, 0.0), (129.0, 30.0)),
    ((33.0, 0.0), (131.0, 0.0)),
    ((36.0, 0.0), (132.0, 10.0)),
    ((33.0, 0.0), (133.0, 30.0)),
    ((36.0, 0.0), (134.0, 20.0)),
    ((36.0, 0.0), (136.0, 0.0)),
    ((36.0, 0.0), (137.0, 10.0)),
    ((36.0, 0.0), (138.0, 30.0)),
    ((36.0, 0.0), (139.0, 50.0)),
    ((40.0, 0.0), (140.0, 50.0)),
    ((44.0, 0.0), (140.0, 15.0)),
    ((44.0, 0.0), (142.0, 15.0)),
    ((44.0, 0.0), (144.0, 15.0)),
    ((26.0, 0.0), (142.0, 0.0)),
    ((26.0, 0.0), (127.0, 30.0)),
    ((26.0, 0.0), (124.0, 0.0)),
    ((26.0, 0.0), (131.0, 0.0)),
    ((20.0, 0.0), (136.0, 0.0)),
    ((26.0, 0.0), (154.0, 0.0)),
];

const ROMAN: [&str; 19] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV",
    "XVI", "XVII", "XVIII", "XIX",
];

/// One zone of the Japan Plane Rectangular CS, ready to turn metres into degrees.
pub(crate) struct PlaneRect {
    /// Zone number, 1–19.
    pub(crate) zone: u8,
    projected: Proj,
    geographic: Proj,
}

impl std::fmt::Debug for PlaneRect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlaneRect(zone {})", ROMAN[usize::from(self.zone - 1)])
    }
}

impl PlaneRect {
    /// Zone `zone` (1–19).
    pub(crate) fn new(zone: u8) -> Option<PlaneRect> {
        let ((lat_d, lat_m), (lon_d, lon_m)) = *ORIGINS.get(usize::from(zone).checked_sub(1)?)?;
        let projected = Proj::from_proj_string(&format!(
            "+proj=tmerc +lat_0={} +lon_0={} +k=0.9999 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs",
            lat_d + lat_m / 60.0,
            lon_d + lon_m / 60.0
        ))
        .ok()?;
        let geographic = Proj::from_proj_string("+proj=longlat +ellps=GRS80 +no_defs").ok()?;
        Some(PlaneRect {
            zone,
            projected,
            geographic,
        })
    }

    /// The zone of EPSG `code`: 2443–2461 (JGD2000) or 6669–6687 (JGD2011).
    pub(crate) fn from_epsg(code: u32) -> Option<PlaneRect> {
        let zone = match code {
            2443..=2461 => code - 2442,
            6669..=6687 => code - 6668,
            _ => return None,
        };
        PlaneRect::new(u8::try_from(zone).ok()?)
    }

    /// The zone an ESRI `.prj` (or OGC WKT) names: `JGD_2011_Japan_Zone_9`,
    /// `JGD2000 / Japan Plane Rectangular CS IX`, on the JGD2000 or JGD2011 datum.
    pub(crate) fn from_prj(wkt: &str) -> Option<PlaneRect> {
        let upper = wkt.to_ascii_uppercase();
        if !["JGD_2011", "JGD2011", "JGD_2000", "JGD2000"]
            .iter()
            .any(|d| upper.contains(d))
        {
            return None;
        }
        let zone = if let Some(rest) = upper.split("JAPAN_ZONE_").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u8>().ok()?
        } else {
            let rest = upper.split("PLANE RECTANGULAR CS ").nth(1)?;
            let numeral: String = rest.chars().take_while(|c| "IVX".contains(*c)).collect();
            u8::try_from(ROMAN.iter().position(|r| *r == numeral)? + 1).ok()?
        };
        PlaneRect::new(zone)
    }

    /// `(x east, y north)` metres to `(longitude, latitude)` degrees.
    ///
    /// # Errors
    /// [`PrescriptionError::UnsupportedCrs`] when the point lies where the projection has no
    /// inverse (far outside the zone).
    pub(crate) fn to_lon_lat(&self, x: f64, y: f64) -> Result<(f64, f64), PrescriptionError> {
        let mut p = (x, y, 0.0);
        proj4rs::transform::transform(&self.projected, &self.geographic, &mut p).map_err(|e| {
            PrescriptionError::UnsupportedCrs {
                crs: format!(
                    "Japan Plane Rectangular CS {}: ({x}, {y}) m cannot be placed ({e})",
                    ROMAN[usize::from(self.zone - 1)]
                ),
            }
        })?;
        Ok((p.0.to_degrees(), p.1.to_degrees()))
    }

    /// `(longitude, latitude)` degrees to `(x east, y north)` metres (for tests that write
    /// files in the zone).
    #[cfg(test)]
    pub(crate) fn lon_lat_to_metres(&self, lon: f64, lat: f64) -> (f64, f64) {
        let mut p = (lon.to_radians(), lat.to_radians(), 0.0);
        proj4rs::transform::transform(&self.geographic, &self.projected, &mut p).unwrap();
        (p.0, p.1)
    }

    /// `area` from metres in this zone to longitude/latitude degrees.
    ///
    /// # Errors
    /// As [`Self::to_lon_lat`].
    pub(crate) fn area_to_degrees(
        &self,
        area: &MultiPolygon,
    ) -> Result<MultiPolygon, PrescriptionError> {
        area.try_map_coords(|c| {
            let (x, y) = self.to_lon_lat(c.x, c.y)?;
            Ok(geo::Coord { x, y })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library's Transverse Mercator against the worked example of IOGP Guidance Note 7-2
    /// (OSGB 1936 / British National Grid): E 577 274.99, N 69 740.50 is 50°30′N, 0°30′E.
    #[test]
    fn the_transverse_mercator_matches_iogp_guidance_note_7_2() {
        let osgb = Proj::from_proj_string(
            "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 \
             +a=6377563.396 +rf=299.3249646 +units=m +no_defs",
        )
        .unwrap();
        let geo = Proj::from_proj_string("+proj=longlat +a=6377563.396 +rf=299.3249646").unwrap();
        let mut p = (577_274.99, 69_740.50, 0.0);
        proj4rs::transform::transform(&osgb, &geo, &mut p).unwrap();
        let (lon, lat) = (p.0.to_degrees(), p.1.to_degrees());
        // 1e-7° is about a centimetre.
        assert!(
            (lat - 50.5).abs() < 1e-7 && (lon - 0.5).abs() < 1e-7,
            "{lat} {lon}"
        );
    }

    #[test]
    fn zones_are_found_by_epsg_code_and_by_prj_and_place_their_origin() {
        let ix = PlaneRect::from_epsg(6677).unwrap();
        assert_eq!(ix.zone, 9);
        let (lon, lat) = ix.to_lon_lat(0.0, 0.0).unwrap();
        assert!((lat - 36.0).abs() < 1e-9 && (lon - (139.0 + 50.0 / 60.0)).abs() < 1e-9);
        // 1 km north of the origin: 1000 m / (0.9999 × the meridian's metres per degree).
        let (_, lat) = ix.to_lon_lat(0.0, 1000.0).unwrap();
        assert!(
            (lat - 36.0 - 1000.0 / 0.9999 / 110_959.08).abs() < 1e-7,
            "{lat}"
        );
        assert_eq!(PlaneRect::from_epsg(2443).unwrap().zone, 1);
        assert_eq!(PlaneRect::from_epsg(6687).unwrap().zone, 19);
        assert!(PlaneRect::from_epsg(4326).is_none());
        let esri = r#"PROJCS["JGD_2011_Japan_Zone_9",GEOGCS["GCS_JGD_2011",DATUM["D_JGD_2011",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",139.8333333333333],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",36.0],UNIT["Meter",1.0]]"#;
        assert_eq!(PlaneRect::from_prj(esri).unwrap().zone, 9);
        let ogc = r#"PROJCS["JGD2000 / Japan Plane Rectangular CS XIII",GEOGCS["JGD2000"]]"#;
        assert_eq!(PlaneRect::from_prj(ogc).unwrap().zone, 13);
        assert!(PlaneRect::from_prj(r#"PROJCS["WGS_1984_UTM_Zone_54N"]"#).is_none());
    }
}
