//! `agriops plan`: plan spray missions for every field of one or more GeoJSON/KML/KMZ files.
//!
//! The options are here; `config.rs` turns them into a `PlanConfig` (with the elevation model
//! and the prescription map they name), `run.rs` reads the files, plans each field on the
//! thread pool and writes the missions.

mod config;
mod run;

pub(crate) use config::load_dem;
use config::*;
use run::*;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mission_planner::{
    AltitudeFrame, ApplicationRate, Autopilot, Coord, Dem, DemLimits, Field, GapPolicy, Litres,
    Metres, MetresPerSecond, PlanConfig, PlanError, Prescription, RateUnit, ReadOptions, Seconds,
    SwathWidth, TerrainConfig, VariableRate, apply_terrain, plan, read_fields, read_prescription,
    read_shapefile, read_taskdata, to_geojson, to_kml, to_qgc_plan, to_waypoints,
};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// QGroundControl `.plan` (whole field plus one file per sortie).
    Plan,
    /// Mission Planner `QGC WPL 110` `.waypoints`.
    Waypoints,
    /// Google Earth `.kml`.
    Kml,
    /// `.geojson` with field, sprayable area and the flight path.
    Geojson,
}

/// Which autopilot the missions are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AutopilotArg {
    /// ArduPilot Copter, MAV_CMD_DO_SPRAYER.
    Ardupilot,
    /// PX4, MAV_CMD_DO_SET_ACTUATOR (actuator 1 = pump).
    Px4,
    /// PX4, MAV_CMD_DO_SET_SERVO on `--servo` with 1900/1000 µs PWM.
    Px4Servo,
    /// ArduPilot Copter, MAV_CMD_DO_SET_SERVO on `--servo` (SERVOn_FUNCTION = 0) with a PWM per
    /// rate up to 1900 µs, off at 1000 µs: variable rate on ArduPilot.
    ArdupilotServo,
}

/// The altitude frame of mission waypoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AltFrameArg {
    /// Relative to home (MAV_FRAME_GLOBAL_RELATIVE_ALT); with `--dem`, following the ground.
    Relative,
    /// Above mean sea level (MAV_FRAME_GLOBAL); needs `--dem`.
    Amsl,
    /// Above terrain (MAV_FRAME_GLOBAL_TERRAIN_ALT, ArduPilot with TERRAIN_ENABLE); needs
    /// `--dem`; PX4 missions get AMSL instead.
    Terrain,
}

/// Arguments of `agriops plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Field files: GeoJSON, KML or KMZ; every field polygon in them is planned.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Effective spray width, metres.
    #[arg(long)]
    pub swath_width: f64,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Output formats, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "plan,waypoints,kml,geojson"
    )]
    pub format: Vec<Format>,
    /// Application rate in litres per 10 are (the unit on Japanese labels); default 0.8.
    #[arg(long, conflicts_with = "rate_l_per_ha")]
    pub rate_l_per_10a: Option<f64>,
    /// Application rate in litres per hectare.
    #[arg(long)]
    pub rate_l_per_ha: Option<f64>,
    /// Tank volume, litres.
    #[arg(long, default_value_t = 10.0)]
    pub tank_l: f64,
    /// Battery endurance, minutes.
    #[arg(long, default_value_t = 10.0)]
    pub endurance_min: f64,
    /// Spray speed, m/s.
    #[arg(long, default_value_t = 5.0)]
    pub speed_mps: f64,
    /// Transit speed, m/s.
    #[arg(long, default_value_t = 7.0)]
    pub transit_speed_mps: f64,
    /// Spray height above ground, metres.
    #[arg(long, default_value_t = 2.0)]
    pub height_m: f64,
    /// Headland passes along the sprayable boundary.
    #[arg(long, default_value_t = 1)]
    pub headland_passes: u32,
    /// No-spray buffer around sensitive zones, metres.
    #[arg(long, default_value_t = 5.0)]
    pub drift_buffer_m: f64,
    /// Unsprayed strip along the field boundary, metres.
    #[arg(long, default_value_t = 0.5)]
    pub edge_margin_m: f64,
    /// Clearance around exclusion zones, metres.
    #[arg(long, default_value_t = 2.0)]
    pub clearance_m: f64,
    /// Distance every leg keeps from the geofence, metres: set it to the vehicle's FENCE_MARGIN
    /// (ArduPilot's default is 2 m).
    #[arg(long, default_value_t = 2.0)]
    pub fence_margin_m: f64,
    /// Fence vertices the vehicle stores: a larger fence is simplified outward (never into the
    /// field or a zone) or loses exclusion zones, which the mission still keeps clear of;
    /// `all` uploads the full fence. ArduPilot kept about 84 fence items on common boards.
    #[arg(long, default_value = "70", value_parser = parse_fence_points)]
    pub fence_points: FencePoints,
    /// Refill / take-off point as LAT,LON (default: the field corner nearest its south-west).
    #[arg(long, value_parser = parse_latlon)]
    pub refill: Option<Coord>,
    /// Fixed swath heading, degrees clockwise from north (default: best by flight time).
    #[arg(long)]
    pub heading_deg: Option<f64>,
    /// Autopilot and spray control.
    #[arg(long, value_enum, default_value = "ardupilot")]
    pub autopilot: AutopilotArg,
    /// Servo output for `--autopilot px4-servo`.
    #[arg(long, default_value_t = 9)]
    pub servo: u8,
    /// Print one JSON report per field (JSON Lines) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Elevation model: a GeoTIFF (.tif), a GSI DEM tile (.xml), a GSI elevation tile
    /// (.../Z/X/Y.png) or a folder of Z/X/Y.png tiles; repeat for more tiles. Waypoints are
    /// then planned at `--height-m` above this ground.
    #[arg(long)]
    pub dem: Vec<PathBuf>,
    /// Frame of waypoint altitudes.
    #[arg(long, value_enum, default_value = "relative")]
    pub alt_frame: AltFrameArg,
    /// With `--dem`: how far the flown height may depart from spray height before a point is
    /// inserted along a leg, metres.
    #[arg(long, default_value_t = 0.5)]
    pub terrain_tolerance_m: f64,
    /// With `--dem`: the vehicle's fastest climb along a leg (ArduPilot WPNAV_SPEED_UP), m/s.
    #[arg(long, default_value_t = 2.5)]
    pub climb_rate_mps: f64,
    /// With `--dem`: the vehicle's fastest descent along a leg (ArduPilot WPNAV_SPEED_DN), m/s.
    #[arg(long, default_value_t = 1.5)]
    pub descent_rate_mps: f64,
    /// Prescription map for variable rate: GeoJSON, a Shapefile (`.shp` with its `.dbf`,
    /// `.prj` and `.cpg` beside it, or all zipped), a GeoTIFF, or ISOXML (`TASKDATA.XML` with its grid
    /// files beside it, or the TASKDATA folder zipped).
    #[arg(long)]
    pub prescription: Option<PathBuf>,
    /// The prescription's rate column (GeoJSON property or DBF column).
    #[arg(long, requires = "prescription")]
    pub rate_column: Option<String>,
    /// Unit of the prescription's rates: l-per-10a, l-per-ha or kg-per-10a.
    #[arg(long, default_value = "l-per-10a", value_parser = parse_unit)]
    pub rate_unit: RateUnit,
    /// What the field outside every zone gets: `none` (no spray) or `default:RATE` (in
    /// `--rate-unit`).
    #[arg(long, default_value = "none", value_parser = parse_gap)]
    pub gap: GapPolicy,
    /// Pump and nozzle lag, seconds: rate changes are commanded this long before each border.
    #[arg(long, default_value_t = 0.5)]
    pub rate_lag_s: f64,
    /// Run-up before each spray leg, seconds at spray speed (0: none). ArduPilot's sprayer is
    /// switched on at its start, because it answers DO_SPRAYER only 1/3 to 2/3 s later.
    #[arg(long, default_value_t = 0.7)]
    pub sprayer_lead_s: f64,
    /// The pump's flow at full command, litres per minute (needed with `--prescription`).
    #[arg(long)]
    pub pump_full_flow_l_min: Option<f64>,
}

fn parse_unit(s: &str) -> Result<RateUnit, String> {
    RateUnit::parse(s).map_err(|e| e.to_string())
}

fn parse_gap(s: &str) -> Result<GapPolicy, String> {
    GapPolicy::parse(s).map_err(|e| e.to_string())
}

fn parse_latlon(s: &str) -> Result<Coord, String> {
    let (lat, lon) = s.split_once(',').ok_or("expected LAT,LON")?;
    let lat: f64 = lat.trim().parse().map_err(|e| format!("latitude: {e}"))?;
    let lon: f64 = lon.trim().parse().map_err(|e| format!("longitude: {e}"))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(format!("{lat},{lon} is not a LAT,LON position"));
    }
    Ok(Coord { x: lon, y: lat })
}

/// `--fence-points`: a vertex budget, or `None` for the full fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FencePoints(pub Option<usize>);

fn parse_fence_points(s: &str) -> Result<FencePoints, String> {
    match s.trim() {
        "all" => Ok(FencePoints(None)),
        n => match n.parse::<usize>() {
            Ok(n) if n >= 3 => Ok(FencePoints(Some(n))),
            _ => Err(format!(
                "'{s}' is not a fence size: give a number of vertices (at least 3) or 'all'"
            )),
        },
    }
}

/// Runs `agriops plan`.
///
/// # Errors
/// A bad configuration or output directory fails at once; bad files or fields are reported
/// one by one, the others are still planned, and the run then fails naming how many failed.
pub fn run(args: Args) -> anyhow::Result<()> {
    run_streaming_from(args, STREAM_FROM_BYTES)
}

#[cfg(test)]
pub(crate) mod tests;
