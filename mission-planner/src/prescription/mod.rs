//! Prescription maps for variable-rate spraying: zones with a target rate, read from GeoJSON,
//! Shapefile (`.shp`/`.dbf`/`.prj`, zipped or not), GeoTIFF rate rasters and ISO 11783-10
//! ISOXML `TASKDATA` (treatment zones and grid cells), all into one [`Prescription`].
//!
//! A prescription is in WGS84 like a field; [`LocalRates`] is the same map in the planner's
//! local metres, clipped to the field, made disjoint (where zones overlap, the first in the
//! file wins) and with the gaps filled by the user's [`GapPolicy`].

mod clip;
mod geojson;
mod geotiff;
mod isoxml;
mod jgd;
mod shp;

pub(crate) use clip::rate_track;
pub use clip::{LocalRates, LocalZone, RatePiece};

use geo::MultiPolygon;
use thiserror::Error;

/// The unit a prescription's rates are given in, as the user picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// Litres of mixed liquid per 10 are (the unit on Japanese labels; 1 L/10a = 10 L/ha).
    LitresPer10a,
    /// Litres of mixed liquid per hectare.
    LitresPerHa,
    /// Kilograms of granules per 10 are (1 kg/10a = 10 kg/ha).
    KgPer10a,
}

impl RateUnit {
    /// How many per-hectare units one unit of this is (10 for the per-10a units).
    pub fn per_ha(self) -> f64 {
        match self {
            RateUnit::LitresPer10a | RateUnit::KgPer10a => 10.0,
            RateUnit::LitresPerHa => 1.0,
        }
    }

    /// True for granules (kilograms), false for liquids (litres).
    pub fn is_mass(self) -> bool {
        self == RateUnit::KgPer10a
    }

    /// The unit as printed: `L/10a`, `L/ha`, `kg/10a`.
    pub fn label(self) -> &'static str {
        match self {
            RateUnit::LitresPer10a => "L/10a",
            RateUnit::LitresPerHa => "L/ha",
            RateUnit::KgPer10a => "kg/10a",
        }
    }

    /// The amount unit of a total (`L` or `kg`).
    pub fn amount_label(self) -> &'static str {
        if self.is_mass() { "kg" } else { "L" }
    }

    /// Parses `l-per-10a`, `l-per-ha` or `kg-per-10a` (also `L/10a`, `L/ha`, `kg/10a`).
    ///
    /// # Errors
    /// [`PrescriptionError::UnknownUnit`] for anything else.
    pub fn parse(s: &str) -> Result<Self, PrescriptionError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "l-per-10a" | "l/10a" => Ok(RateUnit::LitresPer10a),
            "l-per-ha" | "l/ha" => Ok(RateUnit::LitresPerHa),
            "kg-per-10a" | "kg/10a" => Ok(RateUnit::KgPer10a),
            _ => Err(PrescriptionError::UnknownUnit { unit: s.into() }),
        }
    }
}

/// What the areas of the field that no zone covers get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GapPolicy {
    /// This rate, in the prescription's unit.
    Default(f64),
    /// No spray (the pump is off over the gap).
    NoSpray,
}

impl GapPolicy {
    /// Parses `none` or `default:RATE` (RATE in the prescription's unit).
    ///
    /// # Errors
    /// [`PrescriptionError::BadGap`] for anything else or a negative rate.
    pub fn parse(s: &str) -> Result<Self, PrescriptionError> {
        let t = s.trim().to_ascii_lowercase();
        if t == "none" {
            return Ok(GapPolicy::NoSpray);
        }
        let bad = || PrescriptionError::BadGap { given: s.into() };
        let rate: f64 = t
            .strip_prefix("default:")
            .ok_or_else(bad)?
            .trim()
            .parse()
            .map_err(|_| bad())?;
        if rate.is_finite() && rate >= 0.0 {
            Ok(GapPolicy::Default(rate))
        } else {
            Err(bad())
        }
    }
}

/// One zone of a prescription: an area (WGS84, x = lon, y = lat) with one target rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// The zone's name: its id or name attribute, or its position in the file (`zone 3`).
    pub name: String,
    /// Target rate in the prescription's unit (0 = no spray).
    pub rate: f64,
    /// The zone's area, WGS84 degrees.
    pub area: MultiPolygon,
}

/// A prescription map: zones with target rates in one unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Prescription {
    /// The unit of every zone's rate.
    pub unit: RateUnit,
    /// The zones in file order (where they overlap, the earlier one wins).
    pub zones: Vec<Zone>,
}

/// A prescription to plan with and what the field's gaps in it get.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableRate {
    /// The prescription map.
    pub map: Prescription,
    /// What the field outside every zone gets.
    pub gap: GapPolicy,
}

/// How large a prescription may be: checked while reading, before geometry is built, so a
/// hostile or mistaken file is refused at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrescriptionLimits {
    /// Most zones (features, distinct raster values, treatment zones), default 500.
    pub max_zones: usize,
    /// Most vertices over all zones, default 200 000.
    pub max_vertices: usize,
    /// Most raster cells (GeoTIFF pixels, ISOXML grid cells), default 4 000 000 (2 000 × 2 000).
    pub max_cells: u64,
    /// Highest rate accepted, per hectare (L/ha or kg/ha), default 1 000.
    pub max_rate_per_ha: f64,
}

impl Default for PrescriptionLimits {
    fn default() -> Self {
        Self {
            max_zones: 500,
            max_vertices: 200_000,
            max_cells: 4_000_000,
            max_rate_per_ha: 1000.0,
        }
    }
}

/// How to read a prescription: the rate column and unit the user chose, and the limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// The attribute holding the rate (GeoJSON property, DBF column); not used for rasters and
    /// ISOXML, whose rate is the band value and the process-data value.
    pub rate_column: Option<String>,
    /// The unit of the rates in the file (ISOXML values are converted into it).
    pub unit: RateUnit,
    /// Size limits.
    pub limits: PrescriptionLimits,
}

impl ReadOptions {
    /// Options with the given column and unit and the default limits.
    pub fn new(rate_column: Option<&str>, unit: RateUnit) -> Self {
        Self {
            rate_column: rate_column.map(str::to_string),
            unit,
            limits: PrescriptionLimits::default(),
        }
    }
}

/// Why a prescription could not be read or used; each message says what to fix.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum PrescriptionError {
    /// The file is none of the supported formats.
    #[error(
        "the prescription is not GeoJSON, a Shapefile (.shp or a .zip with .shp and .dbf), a GeoTIFF or ISOXML TASKDATA"
    )]
    UnknownFormat,
    /// The file could not be parsed.
    #[error("the prescription file could not be read ({format}): {message}")]
    Malformed {
        /// The format it was read as.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// The chosen rate column is not in the file.
    #[error("the rate column \"{column}\" is not in the file; its columns are: {available}")]
    NoSuchColumn {
        /// The column asked for.
        column: String,
        /// The columns the file has, comma-separated.
        available: String,
    },
    /// The file has attributes but no column was chosen.
    #[error("choose the rate column; the file's columns are: {available}")]
    ColumnNeeded {
        /// The columns the file has, comma-separated.
        available: String,
    },
    /// A zone's rate is missing, not a number, negative or above the limit.
    #[error("zone {zone}: the rate {value} is not a rate between 0 and {max} {unit}")]
    BadRate {
        /// The zone.
        zone: String,
        /// The value as found.
        value: String,
        /// The highest rate accepted, in the prescription's unit.
        max: f64,
        /// The unit.
        unit: &'static str,
    },
    /// The unit given is not one of the supported ones.
    #[error("unknown rate unit \"{unit}\" (use l-per-10a, l-per-ha or kg-per-10a)")]
    UnknownUnit {
        /// What was given.
        unit: String,
    },
    /// The gap policy is not `none` or `default:RATE`.
    #[error("the gap policy \"{given}\" is not `none` or `default:RATE` (a rate of 0 or more)")]
    BadGap {
        /// What was given.
        given: String,
    },
    /// The file's rates are in a unit that cannot be converted into the chosen one.
    #[error("the file gives rates as {found}, which cannot be used as {chosen}")]
    UnitMismatch {
        /// What the file holds.
        found: &'static str,
        /// What the user chose.
        chosen: &'static str,
    },
    /// The coordinates are not WGS84 (or JGD2000/JGD2011) longitude and latitude.
    #[error(
        "the prescription is in a coordinate system the planner does not read ({crs}); export it in WGS84 (EPSG:4326) or JGD2011 (EPSG:6668) longitude/latitude"
    )]
    UnsupportedCrs {
        /// What the file says.
        crs: String,
    },
    /// The raster is rotated or sheared (ModelTransformation), or lacks georeferencing.
    #[error("the GeoTIFF is {what}; export it north-up with a tie point and pixel scale")]
    UnsupportedRaster {
        /// What is wrong.
        what: String,
    },
    /// A size limit was exceeded.
    #[error("the prescription is too large: {what} (at most {limit})")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The file holds no zone with an area.
    #[error("the prescription holds no zone polygon")]
    NoZones,
    /// No zone reaches into the field.
    #[error(
        "no zone of the prescription lies on the field: is it the prescription for this field?"
    )]
    NoOverlap,
    /// A zip archive was refused or unreadable.
    #[error("the zip archive could not be read: {message}")]
    Zip {
        /// What went wrong.
        message: String,
    },
}

/// Reads a prescription from the bytes of one file: GeoJSON, a zipped Shapefile or TASKDATA,
/// a bare `.shp` (without its `.dbf`: use [`read_shapefile`]), a GeoTIFF or a `TASKDATA.XML`.
///
/// # Errors
/// [`PrescriptionError`] saying what is wrong with the file or the options.
pub fn read_prescription(
    bytes: &[u8],
    options: &ReadOptions,
) -> Result<Prescription, PrescriptionError> {
    let head = bytes.get(..4).unwrap_or(bytes);
    if head.starts_with(b"PK") {
        return read_zip(bytes, options);
    }
    if head == b"II*\0" || head == b"MM\0*" || head == b"II+\0" || head == b"MM\0+" {
        return geotiff::read(bytes, options);
    }
    if head == [0, 0, 0x27, 0x0a] {
        return Err(PrescriptionError::Malformed {
            format: "Shapefile",
            message: "a .shp alone has no rates: give its .dbf too, or all files zipped".into(),
        });
    }
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes))
        .map_err(|_| PrescriptionError::UnknownFormat)?;
    match text.trim_start().as_bytes().first() {
        Some(b'{') => geojson::read(text, options),
        Some(b'<') => isoxml::read(text, &|_| None, options),
        _ => Err(PrescriptionError::UnknownFormat),
    }
}

/// Reads a Shapefile from its parts: the `.shp`, the `.dbf` and, if there are, the `.prj`
/// (coordinate system) and `.cpg` (text encoding of the `.dbf`).
///
/// # Errors
/// [`PrescriptionError`] saying what is wrong with the files or the options.
pub fn read_shapefile(
    shp: &[u8],
    dbf: &[u8],
    prj: Option<&str>,
    cpg: Option<&str>,
    options: &ReadOptions,
) -> Result<Prescription, PrescriptionError> {
    shp::read(shp, dbf, prj, cpg, options)
}

/// Reads ISO 11783-10 `TASKDATA.XML` text; `bin` gives the bytes of a grid file beside it by
/// name (`GRD00001.BIN`), or `None` when it is missing.
///
/// # Errors
/// [`PrescriptionError`] saying what is wrong with the task data or the options.
pub fn read_taskdata(
    xml: &str,
    bin: &dyn Fn(&str) -> Option<Vec<u8>>,
    options: &ReadOptions,
) -> Result<Prescription, PrescriptionError> {
    isoxml::read(xml, bin, options)
}

fn read_zip(bytes: &[u8], options: &ReadOptions) -> Result<Prescription, PrescriptionError> {
    let files = crate::zip_read::read_all(bytes, &crate::field::import::KMZ_LIMITS)
        .map_err(|message| PrescriptionError::Zip { message })?;
    read_prescription_files(&files, options)
}

/// Reads a prescription given as several files by name, as a zip holds them or a person
/// picks them: a Shapefile's `.shp` with its `.dbf` (and `.prj`, `.cpg`), an ISOXML
/// `TASKDATA.XML` with its grid files, or one GeoTIFF or GeoJSON among them. Names may carry
/// folders (`TASKDATA/GRD00001.BIN`).
///
/// # Errors
/// As [`read_prescription`]; [`PrescriptionError::Malformed`] for a `.shp` without its `.dbf`.
pub fn read_prescription_files(
    files: &[(String, Vec<u8>)],
    options: &ReadOptions,
) -> Result<Prescription, PrescriptionError> {
    let find = |ext: &str| {
        files
            .iter()
            .find(|(n, _)| n.to_ascii_lowercase().ends_with(ext))
            .map(|(_, b)| b.as_slice())
    };
    if let Some(shp_bytes) = find(".shp") {
        let dbf = find(".dbf").ok_or_else(|| PrescriptionError::Malformed {
            format: "Shapefile",
            message: "there is a .shp but no .dbf beside it (the rates are in the .dbf)".into(),
        })?;
        let text = |ext| find(ext).map(|b| String::from_utf8_lossy(b).into_owned());
        let (prj, cpg) = (text(".prj"), text(".cpg"));
        return shp::read(shp_bytes, dbf, prj.as_deref(), cpg.as_deref(), options);
    }
    if let Some(xml) = files
        .iter()
        .find(|(n, _)| n.to_ascii_lowercase().ends_with("taskdata.xml"))
    {
        let text = String::from_utf8_lossy(&xml.1);
        let bin = |name: &str| {
            files
                .iter()
                .find(|(n, _)| {
                    let l = n.to_ascii_lowercase();
                    l.rsplit('/').next() == Some(&name.to_ascii_lowercase())
                })
                .map(|(_, b)| b.clone())
        };
        return isoxml::read(&text, &bin, options);
    }
    if let Some(b) = find(".tif").or_else(|| find(".tiff")) {
        return geotiff::read(b, options);
    }
    if let Some(b) = find(".geojson").or_else(|| find(".json")) {
        let text = std::str::from_utf8(b).map_err(|_| PrescriptionError::UnknownFormat)?;
        return geojson::read(text, options);
    }
    Err(PrescriptionError::UnknownFormat)
}

/// Checks one zone's rate against the limits and returns it.
fn check_rate(zone: &str, value: f64, options: &ReadOptions) -> Result<f64, PrescriptionError> {
    let max = options.limits.max_rate_per_ha / options.unit.per_ha();
    if value.is_finite() && (0.0..=max).contains(&value) {
        Ok(value)
    } else {
        Err(PrescriptionError::BadRate {
            zone: zone.into(),
            value: value.to_string(),
            max,
            unit: options.unit.label(),
        })
    }
}

/// Counts vertices against the limit as zones are read.
struct VertexBudget {
    left: usize,
    limit: usize,
}

impl VertexBudget {
    fn new(limits: &PrescriptionLimits) -> Self {
        Self {
            left: limits.max_vertices,
            limit: limits.max_vertices,
        }
    }

    fn take(&mut self, n: usize) -> Result<(), PrescriptionError> {
        self.left = self
            .left
            .checked_sub(n)
            .ok_or(PrescriptionError::TooLarge {
                what: "vertices",
                limit: self.limit as u64,
            })?;
        Ok(())
    }
}

fn check_zone_count(n: usize, limits: &PrescriptionLimits) -> Result<(), PrescriptionError> {
    if n > limits.max_zones {
        Err(PrescriptionError::TooLarge {
            what: "zones",
            limit: limits.max_zones as u64,
        })
    } else {
        Ok(())
    }
}

/// Refuses coordinates that cannot be longitude/latitude (a projected file without `.prj`).
fn check_degrees(area: &MultiPolygon, zone: &str) -> Result<(), PrescriptionError> {
    use geo::CoordsIter;
    if area
        .coords_iter()
        .all(|c| (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y))
    {
        Ok(())
    } else {
        Err(PrescriptionError::UnsupportedCrs {
            crs: format!("zone {zone} has coordinates that are not longitude/latitude degrees"),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
