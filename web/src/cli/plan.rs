//! `agriops plan`: plan spray missions for every field of one or more GeoJSON/KML/KMZ files.

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

/// The settings of the terrain pass, or `None` without `--dem`.
fn terrain_config(a: &Args) -> anyhow::Result<Option<TerrainConfig>> {
    if a.dem.is_empty() {
        if a.alt_frame != AltFrameArg::Relative {
            bail!("--alt-frame amsl and terrain need an elevation model (--dem FILE)");
        }
        return Ok(None);
    }
    Ok(Some(TerrainConfig {
        frame: match a.alt_frame {
            AltFrameArg::Relative => AltitudeFrame::RelativeHome,
            AltFrameArg::Amsl => AltitudeFrame::Amsl,
            AltFrameArg::Terrain => AltitudeFrame::Terrain,
        },
        tolerance: Metres::new(a.terrain_tolerance_m).context("--terrain-tolerance-m")?,
        climb_rate: MetresPerSecond::new(a.climb_rate_mps).context("--climb-rate-mps")?,
        descent_rate: MetresPerSecond::new(a.descent_rate_mps).context("--descent-rate-mps")?,
        ..TerrainConfig::default()
    }))
}

/// The zoom, column and row of a `.../Z/X/Y.png` tile path.
fn tile_address(path: &Path) -> Option<(u8, u32, u32)> {
    let y = path.file_stem()?.to_str()?.parse().ok()?;
    let xd = path.parent()?;
    let x = xd.file_name()?.to_str()?.parse().ok()?;
    let z = xd.parent()?.file_name()?.to_str()?.parse().ok()?;
    Some((z, x, y))
}

/// Reads the elevation model from `--dem` files and tile folders (merged in order).
///
/// # Errors
/// An unreadable file, an unknown extension, a tile path without Z/X/Y, or a model the planner
/// refuses (named with the file).
pub(crate) fn load_dem(paths: &[PathBuf]) -> anyhow::Result<Dem> {
    let limits = DemLimits::default();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(d) = stack.pop() {
                let rd = std::fs::read_dir(&d).with_context(|| format!("{}", d.display()))?;
                for e in rd {
                    let path = e.with_context(|| format!("{}", d.display()))?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path
                        .extension()
                        .is_some_and(|x| x.eq_ignore_ascii_case("png"))
                    {
                        files.push(path);
                    }
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    let mut dem: Option<Dem> = None;
    for f in &files {
        let bytes = std::fs::read(f).with_context(|| format!("Failed to read {}", f.display()))?;
        let ext = f
            .extension()
            .and_then(|x| x.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let one = match ext.as_str() {
            "tif" | "tiff" => Dem::from_geotiff(&bytes, &limits),
            "xml" | "gml" => Dem::from_gsi_gml(&bytes, &limits),
            "png" => {
                let (z, x, y) = tile_address(f).with_context(|| {
                    format!(
                        "{}: an elevation tile must be at .../Z/X/Y.png",
                        f.display()
                    )
                })?;
                Dem::from_gsi_png_tile(z, x, y, &bytes, &limits)
            }
            _ => bail!(
                "{}: unknown elevation model format (expected .tif, .xml or .png)",
                f.display()
            ),
        }
        .with_context(|| f.display().to_string())?;
        dem = Some(match dem {
            None => one,
            Some(d) => d.merge(one, &limits)?,
        });
    }
    dem.context("--dem names no elevation files")
}

fn parse_unit(s: &str) -> Result<RateUnit, String> {
    RateUnit::parse(s).map_err(|e| e.to_string())
}

fn parse_gap(s: &str) -> Result<GapPolicy, String> {
    GapPolicy::parse(s).map_err(|e| e.to_string())
}

/// Reads `--prescription`, with the files a Shapefile or TASKDATA keeps beside it.
fn read_rx(path: &Path, options: &ReadOptions) -> anyhow::Result<Prescription> {
    let read =
        |p: &Path| std::fs::read(p).with_context(|| format!("Failed to read {}", p.display()));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rx = match ext.as_str() {
        "shp" => {
            let dbf = read(&path.with_extension("dbf"))?;
            let prj = std::fs::read_to_string(path.with_extension("prj")).ok();
            let cpg = std::fs::read_to_string(path.with_extension("cpg")).ok();
            read_shapefile(&read(path)?, &dbf, prj.as_deref(), cpg.as_deref(), options)
        }
        "xml" => {
            let xml = String::from_utf8_lossy(&read(path)?).into_owned();
            let dir = path.parent().unwrap_or(Path::new("."));
            let bin = |name: &str| std::fs::read(dir.join(name)).ok();
            read_taskdata(&xml, &bin, options)
        }
        _ => read_prescription(&read(path)?, options),
    };
    rx.with_context(|| format!("{}", path.display()))
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

/// What fitting the fence to the vehicle changed, for the lines after the table; `None` when
/// the full fence is uploaded.
fn fence_note(r: &mission_planner::PlanReport) -> Option<String> {
    if r.fence_points == r.fence_points_full && r.fence_exclusions_dropped == 0 {
        return None;
    }
    let mut note = format!(
        "{}: fence fitted to the vehicle, {} → {} vertices, at most {:.2} m beyond the boundary",
        r.field_id, r.fence_points_full, r.fence_points, r.fence_shift_m
    );
    if r.fence_exclusions_dropped > 0 {
        note.push_str(&format!(
            "; {} exclusion zone(s) left out of the fence (the mission still keeps clear of them)",
            r.fence_exclusions_dropped
        ));
    }
    Some(note)
}

fn config(a: &Args) -> anyhow::Result<PlanConfig> {
    let mut c = PlanConfig::new(SwathWidth::new(a.swath_width)?);
    c.rate = match (a.rate_l_per_10a, a.rate_l_per_ha) {
        (Some(r), _) => ApplicationRate::from_l_per_10a(r)?,
        (None, Some(r)) => ApplicationRate::from_l_per_ha(r)?,
        (None, None) => c.rate,
    };
    c.tank = Litres::new(a.tank_l)?;
    c.endurance = Seconds::new(a.endurance_min * 60.0)?;
    c.spray_speed = MetresPerSecond::new(a.speed_mps)?;
    c.transit_speed = MetresPerSecond::new(a.transit_speed_mps)?;
    c.height = Metres::new(a.height_m)?;
    c.headland_passes = a.headland_passes;
    c.drift_buffer = Metres::new(a.drift_buffer_m)?;
    c.edge_margin = Metres::new(a.edge_margin_m)?;
    c.exclusion_clearance = Metres::new(a.clearance_m)?;
    c.fence_margin = Metres::new(a.fence_margin_m)?;
    c.fence_points = a.fence_points.0;
    c.refill = a.refill;
    c.heading_deg = a.heading_deg;
    c.rate_lag = Seconds::new(a.rate_lag_s)?;
    c.sprayer_lead = Seconds::new(a.sprayer_lead_s)?;
    c.pump_full_flow_l_min = a.pump_full_flow_l_min;
    if let Some(path) = &a.prescription {
        let options = ReadOptions::new(a.rate_column.as_deref(), a.rate_unit);
        c.prescription = Some(VariableRate {
            map: read_rx(path, &options)?,
            gap: a.gap,
        });
    }
    c.check()?;
    Ok(c)
}

/// A file-system-safe version of a field id.
fn file_stem(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "field".into() } else { s }
}

fn write_outputs(
    out: &Path,
    stem: &str,
    p: &mission_planner::Plan,
    formats: &[Format],
    ap: Autopilot,
) -> anyhow::Result<()> {
    let write = |name: String, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("Failed to write {}", path.display()))
    };
    for f in formats {
        match f {
            Format::Plan => {
                write(format!("{stem}.plan"), to_qgc_plan(p, ap, None))?;
                for s in &p.sorties {
                    write(
                        format!("{stem}_sortie{}.plan", s.index),
                        to_qgc_plan(p, ap, Some(s.index)),
                    )?;
                }
            }
            Format::Waypoints => write(format!("{stem}.waypoints"), to_waypoints(p, ap, None))?,
            Format::Kml => write(format!("{stem}.kml"), to_kml(p))?,
            Format::Geojson => write(format!("{stem}.geojson"), to_geojson(p))?,
        }
    }
    Ok(())
}

enum Job {
    Field {
        file: PathBuf,
        field: Field,
        stem: String,
    },
    Bad {
        file: PathBuf,
        error: PlanError,
    },
    BadFile(String),
}

/// GeoJSON files at least this large are read feature by feature (two passes, see
/// `mission_planner::scan_fields`) instead of whole, so a city's parcels plan in memory that
/// does not grow with their number.
const STREAM_FROM_BYTES: u64 = 8 << 20;
/// Fields planned in one parallel round; the reader thread keeps the next round ready.
const ROUND: usize = 256;

/// Reads every input file and sends its fields, in file and document order, until the
/// receiver hangs up.
struct Reader {
    stems: HashMap<String, usize>,
    stream_from: u64,
}

impl Reader {
    fn job(&mut self, file: &Path, field: Result<Field, PlanError>) -> Job {
        match field {
            Ok(field) => {
                let base = file_stem(&field.id);
                let n = self.stems.entry(base.clone()).or_insert(0);
                *n += 1;
                let stem = if *n == 1 { base } else { format!("{base}_{n}") };
                Job::Field {
                    file: file.to_path_buf(),
                    field,
                    stem,
                }
            }
            Err(error) => Job::Bad {
                file: file.to_path_buf(),
                error,
            },
        }
    }

    /// Sends the fields of one file; `false` when the receiver has hung up.
    fn send_file(
        &mut self,
        file: &Path,
        tx: &std::sync::mpsc::SyncSender<Job>,
        bar: &ProgressBar,
    ) -> bool {
        let bad = |e: String| {
            tx.send(Job::BadFile(format!("{}: {e}", file.display())))
                .is_ok()
        };
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        if size >= self.stream_from && looks_like_geojson(file) {
            let open = || std::fs::File::open(file).map_err(|e| e.to_string());
            let scanned = open().and_then(|f| {
                mission_planner::scan_fields(f, &mission_planner::FieldLimits::DEFAULT)
                    .map_err(|e| e.to_string())
            });
            match scanned {
                Err(e) => return bad(e),
                Ok(Some(scan)) => {
                    bar.inc_length(scan.n_field_features() as u64);
                    let reader = match open() {
                        Ok(r) => r,
                        Err(e) => return bad(e),
                    };
                    let mut open_rx = true;
                    let walked = scan.for_each_field(reader, |f| {
                        let job = self.job(file, f);
                        open_rx = tx.send(job).is_ok();
                        open_rx
                    });
                    return match walked {
                        Err(e) if open_rx => bad(e.to_string()),
                        _ => open_rx,
                    };
                }
                // Not a FeatureCollection: read it whole below.
                Ok(None) => {}
            }
        }
        let parsed = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|b| read_fields(&b).map_err(|e| e.to_string()));
        match parsed {
            Err(e) => bad(e),
            Ok(set) => {
                bar.inc_length(set.fields.len() as u64);
                for f in set.fields {
                    let job = self.job(file, f);
                    if tx.send(job).is_err() {
                        return false;
                    }
                }
                true
            }
        }
    }
}

/// True when the file's first non-blank byte opens a JSON object.
fn looks_like_geojson(file: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let text = head[..n]
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&head[..n]);
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// What planning needs besides the job.
struct Planner<'a> {
    cfg: &'a PlanConfig,
    dem: Option<&'a Dem>,
    terrain: Option<&'a TerrainConfig>,
    out: &'a Path,
    formats: &'a [Format],
    autopilot: Autopilot,
}

impl Planner<'_> {
    fn plan(&self, job: &Job, bar: &ProgressBar) -> Result<mission_planner::PlanReport, String> {
        let (file, field, stem) = match job {
            Job::BadFile(e) => return Err(e.clone()),
            Job::Bad { file, error } => return Err(format!("{}: {error}", file.display())),
            Job::Field { file, field, stem } => (file, field, stem),
        };
        let p = plan(field, self.cfg)
            .and_then(|p| match (self.dem, self.terrain) {
                (Some(d), Some(t)) => apply_terrain(&p, d, t),
                _ => Ok(p),
            })
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(t) = &p.terrain {
            let r = &t.report;
            if r.raised_spray_m > 0.0 {
                bar.suspend(|| {
                    eprintln!(
                        "warning: field {}: {:.0} m of spray legs fly up to {:.1} m above spray height: the ground is steeper than the vehicle climbs or descends at spray speed",
                        p.field_id, r.raised_spray_m, r.max_raise_m
                    )
                });
            }
        }
        write_outputs(self.out, stem, &p, self.formats, self.autopilot)
            .map_err(|e| format!("{e:#}"))?;
        Ok(p.report)
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

fn run_streaming_from(args: Args, stream_from: u64) -> anyhow::Result<()> {
    let cfg = config(&args)?;
    let terrain = terrain_config(&args)?;
    let dem = match &terrain {
        Some(_) => Some(load_dem(&args.dem)?),
        None => None,
    };
    let autopilot = match args.autopilot {
        AutopilotArg::Ardupilot => Autopilot::ArduPilot,
        AutopilotArg::Px4 => Autopilot::Px4Actuator,
        AutopilotArg::Px4Servo => Autopilot::Px4Servo {
            servo: args.servo,
            pwm_on: 1900,
            pwm_off: 1000,
        },
        AutopilotArg::ArdupilotServo => Autopilot::ArduPilotServo {
            servo: args.servo,
            pwm_on: 1900,
            pwm_off: 1000,
        },
    };
    if cfg.prescription.is_some() && autopilot == Autopilot::ArduPilot {
        bail!(
            "ArduPilot's DO_SPRAYER cannot change the rate (its pump follows ground speed at one \
             SPRAY_PUMP_RATE): use --autopilot ardupilot-servo with the pump on a servo output \
             whose SERVOn_FUNCTION is 0"
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("Failed to create {}", args.out.display()))?;
    if let Some(t) = &terrain
        && !t.frame.supported_by(autopilot)
    {
        eprintln!(
            "warning: PX4 does not fly terrain-frame mission items; the missions use AMSL altitudes"
        );
    }
    // Progress goes to stderr, and only to a terminal: stdout stays the table or the JSON
    // Lines, whatever it is piped into. The length grows as each file is read.
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} fields, {elapsed} (eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let planner = Planner {
        cfg: &cfg,
        dem: dem.as_ref(),
        terrain: terrain.as_ref(),
        out: &args.out,
        formats: &args.format,
        autopilot,
    };
    let mut n_inputs = 0usize;
    let mut n_failed = 0usize;
    // Only fields that have them keep a note or a zone table until the end.
    let mut notes: Vec<String> = Vec::new();
    let mut zone_tables: Vec<String> = Vec::new();
    if !args.json {
        println!("{}", mission_planner::PlanReport::table_header());
    }
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(2 * ROUND);
        let files = &args.files;
        let reader_bar = bar.clone();
        scope.spawn(move || {
            let mut reader = Reader {
                stems: HashMap::new(),
                stream_from,
            };
            for file in files {
                reader_bar.set_message(file.display().to_string());
                if !reader.send_file(file, &tx, &reader_bar) {
                    break;
                }
            }
        });
        loop {
            let round: Vec<Job> = rx.iter().take(ROUND).collect();
            if round.is_empty() {
                break;
            }
            let results: Vec<_> = round
                .par_iter()
                .map(|job| {
                    let r = planner.plan(job, &bar);
                    bar.inc(1);
                    r
                })
                .collect();
            for r in results {
                n_inputs += 1;
                match r {
                    Ok(rep) => {
                        if args.json {
                            println!("{}", serde_json::to_string(&rep)?);
                        } else {
                            println!("{}", rep.table_row());
                            notes.extend(fence_note(&rep));
                            if !rep.zones.is_empty() {
                                zone_tables.push(format!(
                                    "\n{}: per zone\n{}",
                                    rep.field_id,
                                    rep.zone_table()
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        bar.suspend(|| eprintln!("error: {e}"));
                        n_failed += 1;
                    }
                }
            }
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if !args.json {
        if !notes.is_empty() {
            println!();
            for n in notes {
                println!("{n}");
            }
        }
        for t in zone_tables {
            print!("{t}");
        }
    }
    match failure_summary(n_failed, n_inputs, &args.out) {
        Some(summary) => bail!("{summary}"),
        None => Ok(()),
    }
}

/// The closing line of a run with failures: how many of how many inputs failed, and what
/// became of the rest (never "the others were planned" when there were none).
fn failure_summary(n_failed: usize, n_inputs: usize, out: &Path) -> Option<String> {
    let n_planned = n_inputs.saturating_sub(n_failed);
    match (n_failed, n_planned) {
        (0, _) => None,
        (_, 0) => Some(format!(
            "{n_failed} of {n_inputs} inputs (files and fields) failed; nothing was planned"
        )),
        (_, 1) => Some(format!(
            "{n_failed} of {n_inputs} inputs (files and fields) failed; the other one was planned and written to {}",
            out.display()
        )),
        _ => Some(format!(
            "{n_failed} of {n_inputs} inputs (files and fields) failed; the other {n_planned} were planned and written to {}",
            out.display()
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["plan"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).expect("valid arguments").args
    }

    #[test]
    fn parses_refill_and_names() {
        let c = parse_latlon("36.96, 139.98").unwrap();
        assert_eq!((c.x, c.y), (139.98, 36.96));
        assert!(
            parse_latlon("139.98,36.96").is_err(),
            "swapped order is out of range"
        );
        assert_eq!(file_stem("a/b c:д"), "a_b_c_д");
    }

    #[test]
    fn the_fence_margin_and_size_come_from_the_command_line() {
        let with = |extra: &[&str]| {
            let mut v = vec!["f", "--swath-width", "5", "--out", "o"];
            v.extend_from_slice(extra);
            config(&args(&v))
        };
        let c = with(&["--fence-margin-m", "3.5"]).unwrap();
        assert_eq!((c.fence_margin.get(), c.fence_points), (3.5, Some(70)));
        assert_eq!(with(&["--fence-points", "all"]).unwrap().fence_points, None);
        for bad in ["2", "0", "many"] {
            let argv = [
                "plan",
                "f",
                "--swath-width",
                "5",
                "--out",
                "o",
                "--fence-points",
                bad,
            ];
            let e = Cli::try_parse_from(argv).unwrap_err().to_string();
            assert!(e.contains("not a fence size"), "{bad}: {e}");
        }
        assert!(with(&["--fence-margin-m", "25"]).is_err());
        // A fence over the budget is fitted, and the run says how; the full one says nothing.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let text = std::fs::read(root.join("samples/fields/paddy_with_zones.geojson")).unwrap();
        let set = read_fields(&text).unwrap();
        let field = set.fields[0].as_ref().unwrap();
        let report = |n: &str| {
            let cfg = with(&["--fence-points", n]).unwrap();
            plan(field, &cfg).unwrap().report
        };
        let full = report("all");
        assert_eq!(fence_note(&full), None);
        let fitted = report("12");
        assert!(
            fitted.fence_points <= 12 && full.fence_points > 12,
            "{fitted:?}"
        );
        let note = fence_note(&fitted).unwrap();
        assert!(
            note.contains(&format!("{} → {}", full.fence_points, fitted.fence_points)),
            "{note}"
        );
    }

    #[test]
    fn a_deeply_nested_kml_is_a_bad_file_not_an_abort() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("deep.kml");
        let kml = format!(
            "<kml><Document>{}{}</Document></kml>",
            "<Folder>".repeat(2_000),
            "</Folder>".repeat(2_000)
        );
        std::fs::write(&deep, kml).unwrap();
        assert_one_bad_input(&deep, STREAM_FROM_BYTES);
    }

    /// Planning `file` alone fails as one bad input of one, not as an abort.
    fn assert_one_bad_input(file: &Path, stream_from: u64) {
        let out = file.with_extension("out");
        let argv = [
            file.to_str().unwrap(),
            "--swath-width",
            "5",
            "--out",
            out.to_str().unwrap(),
        ];
        let e = run_streaming_from(args(&argv), stream_from).unwrap_err();
        assert!(e.to_string().starts_with("1 of 1 inputs"), "{e}");
    }

    #[test]
    fn plans_samples_and_fails_on_bad_fields_but_writes_the_others() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.geojson");
        std::fs::write(
            &bad,
            r#"{"type":"Feature","properties":{"id":"x"},"geometry":{"type":"Polygon","coordinates":[[[36.9,139.9],[36.9,139.901],[36.901,139.901],[36.9,139.9]]]}}"#,
        )
        .unwrap();
        let out = dir.path().join("out");
        let paddy = root.join("samples/fields/paddy_with_zones.geojson");
        let kml = root.join("samples/fields/chofu_paddy.kml");
        let a = args(&[
            paddy.to_str().unwrap(),
            kml.to_str().unwrap(),
            bad.to_str().unwrap(),
            "--swath-width",
            "5",
            "--out",
            out.to_str().unwrap(),
            "--autopilot",
            "px4",
            "--json",
        ]);
        let err = run(a).unwrap_err().to_string();
        assert!(err.contains("1 of 3 inputs"), "{err}");
        for f in [
            "jp_fude_2024_rice_03.plan",
            "jp_fude_2024_rice_03_sortie1.plan",
            "jp_fude_2024_rice_03.waypoints",
            "jp_fude_2024_rice_03.kml",
            "jp_fude_2024_rice_03.geojson",
            "jp_chofu_fude_osm_rice_01.plan",
        ] {
            assert!(out.join(f).is_file(), "{f} missing");
        }
        let plan: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("jp_fude_2024_rice_03.plan")).unwrap(),
        )
        .unwrap();
        assert_eq!(plan["mission"]["firmwareType"], 12);
        // The pole and the shed are exclusion polygons of the geofence.
        assert_eq!(plan["geoFence"]["polygons"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn streamed_files_plan_to_the_same_missions_as_whole_ones() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<String> = [
            "paddy_with_zones.geojson",
            "holes.geojson",
            "chofu_paddy.kml",
        ]
        .iter()
        .map(|f| root.join("samples/fields").join(f).display().to_string())
        .collect();
        let listing = |stream_from: u64, name: &str| {
            let out = dir.path().join(name);
            let mut argv: Vec<&str> = files.iter().map(String::as_str).collect();
            argv.extend(["--swath-width", "5", "--out", out.to_str().unwrap()]);
            run_streaming_from(args(&argv), stream_from).unwrap();
            let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| {
                    let p = e.unwrap().path();
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read(&p).unwrap())
                })
                .collect();
            entries.sort();
            entries
        };
        let streamed = listing(0, "streamed");
        let whole = listing(u64::MAX, "whole");
        assert!(streamed.len() > 10, "{}", streamed.len());
        assert_eq!(
            streamed.iter().map(|e| &e.0).collect::<Vec<_>>(),
            whole.iter().map(|e| &e.0).collect::<Vec<_>>()
        );
        for (a, b) in streamed.iter().zip(&whole) {
            assert!(a.1 == b.1, "{} differs", a.0);
        }
    }

    #[test]
    fn a_broken_streamed_file_is_one_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken.geojson");
        std::fs::write(
            &broken,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.901,36.9]"#,
        )
        .unwrap();
        assert_one_bad_input(&broken, 0);
    }

    /// A GSI DEM tile (JPGIS GML) of 5e-5° cells around `field`'s bounds, heights `f(lat)`.
    pub(crate) fn gsi_tile_around(field: &Path, f: impl Fn(f64) -> Option<f64>) -> String {
        let set = read_fields(&std::fs::read(field).unwrap()).unwrap();
        let b =
            geo::BoundingRect::bounding_rect(&set.fields[0].as_ref().unwrap().boundary).unwrap();
        let cell = 5e-5;
        let (w, s) = (b.min().x - 0.002, b.min().y - 0.002);
        let (nx, ny) = (
            ((b.max().x + 0.002 - w) / cell) as usize,
            ((b.max().y + 0.002 - s) / cell) as usize,
        );
        let n = s + ny as f64 * cell;
        let mut tuples = String::new();
        for r in 0..ny {
            let lat = n - (r as f64 + 0.5) * cell;
            for _ in 0..nx {
                match f(lat) {
                    Some(h) => tuples.push_str(&format!("地表面,{h:.2}\n")),
                    None => tuples.push_str("データなし,-9999.\n"),
                }
            }
        }
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Dataset xmlns:gml="http://www.opengis.net/gml/3.2" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema">
<DEM><type>5mメッシュ（標高）</type><coverage>
<gml:boundedBy><gml:Envelope srsName="fguuid:jgd2011.bl">
<gml:lowerCorner>{s} {w}</gml:lowerCorner><gml:upperCorner>{n} {e}</gml:upperCorner>
</gml:Envelope></gml:boundedBy>
<gml:gridDomain><gml:Grid dimension="2"><gml:limits><gml:GridEnvelope>
<gml:low>0 0</gml:low><gml:high>{hx} {hy}</gml:high></gml:GridEnvelope></gml:limits></gml:Grid></gml:gridDomain>
<gml:rangeSet><gml:DataBlock><gml:tupleList>
{tuples}</gml:tupleList></gml:DataBlock></gml:rangeSet>
<gml:coverageFunction><gml:GridFunction><gml:sequenceRule order="+x-y">Linear</gml:sequenceRule>
<gml:startPoint>0 0</gml:startPoint></gml:GridFunction></gml:coverageFunction>
</coverage></DEM></Dataset>
"#,
            e = w + nx as f64 * cell,
            hx = nx - 1,
            hy = ny - 1,
        )
    }

    #[test]
    fn plans_over_a_terrace_from_a_gsi_dem_in_the_terrain_frame() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let paddy = root.join("samples/fields/paddy_with_zones.geojson");
        let dir = tempfile::tempdir().unwrap();
        let set = read_fields(&std::fs::read(&paddy).unwrap()).unwrap();
        let b =
            geo::BoundingRect::bounding_rect(&set.fields[0].as_ref().unwrap().boundary).unwrap();
        let mid = (b.min().y + b.max().y) / 2.0;
        let dem = dir.path().join("FG-GML-test-DEM5A.xml");
        // A 10 m terrace step across the middle of the field.
        std::fs::write(
            &dem,
            gsi_tile_around(&paddy, |lat| Some(if lat < mid { 150.0 } else { 160.0 })),
        )
        .unwrap();
        let run_with = |frame: &str, out: &Path| {
            run(args(&[
                paddy.to_str().unwrap(),
                "--swath-width",
                "5",
                "--out",
                out.to_str().unwrap(),
                "--format",
                "waypoints",
                "--dem",
                dem.to_str().unwrap(),
                "--alt-frame",
                frame,
            ]))
        };
        let out = dir.path().join("terrain");
        run_with("terrain", &out).unwrap();
        let wpl = std::fs::read_to_string(out.join("jp_fude_2024_rice_03.waypoints")).unwrap();
        let waypoints: Vec<Vec<&str>> = wpl
            .lines()
            .skip(2)
            .map(|l| l.split('\t').collect())
            .filter(|c: &Vec<&str>| c[3] == "16")
            .collect();
        assert!(
            waypoints.iter().all(|c| c[2] == "10"),
            "terrain frame on every waypoint"
        );
        let out = dir.path().join("amsl");
        run_with("amsl", &out).unwrap();
        let wpl = std::fs::read_to_string(out.join("jp_fude_2024_rice_03.waypoints")).unwrap();
        let alts: Vec<f64> = wpl
            .lines()
            .skip(2)
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|c| c[3] == "16")
            .map(|c| c[10].parse().unwrap())
            .collect();
        let (lo, hi) = alts
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(
            (lo - 152.0).abs() < 0.6 && (hi - 162.0).abs() < 0.6,
            "{lo} .. {hi}"
        );

        // Terrain missing over half the field: the field is refused, saying so.
        let half = dir.path().join("half.xml");
        std::fs::write(
            &half,
            gsi_tile_around(&paddy, |lat| (lat < mid).then_some(150.0)),
        )
        .unwrap();
        let e = run(args(&[
            paddy.to_str().unwrap(),
            "--swath-width",
            "5",
            "--out",
            dir.path().join("half").to_str().unwrap(),
            "--dem",
            half.to_str().unwrap(),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("1 of 1 inputs"), "{e}");
        let e = run(args(&[
            paddy.to_str().unwrap(),
            "--swath-width",
            "5",
            "--out",
            dir.path().join("x").to_str().unwrap(),
            "--alt-frame",
            "amsl",
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("--dem"), "{e}");
    }

    #[test]
    fn tile_paths_give_their_address() {
        assert_eq!(
            tile_address(Path::new("/x/dem/15/29119/12830.png")),
            Some((15, 29119, 12830))
        );
        assert_eq!(tile_address(Path::new("/x/dem/tile.png")), None);
    }

    #[test]
    fn plans_with_a_prescription_and_refuses_plain_ardupilot() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let paddy = root.join("samples/fields/paddy_with_zones.geojson");
        let set = read_fields(&std::fs::read(&paddy).unwrap()).unwrap();
        let field = set.fields[0].as_ref().unwrap();
        // Two zones splitting the field's bounding box west / east, rates in L/ha.
        let (mut x0, mut y0, mut x1, mut y1) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
        for c in field.boundary.exterior().coords() {
            (x0, y0, x1, y1) = (x0.min(c.x), y0.min(c.y), x1.max(c.x), y1.max(c.y));
        }
        let xm = (x0 + x1) / 2.0;
        let zone = |a: f64, b: f64, rate: f64| {
            format!(
                r#"{{"type":"Feature","properties":{{"name":"z{rate}","RATE":{rate}}},"geometry":{{"type":"Polygon","coordinates":[[[{a},{y0}],[{b},{y0}],[{b},{y1}],[{a},{y1}],[{a},{y0}]]]}}}}"#
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let rx = dir.path().join("rx.geojson");
        std::fs::write(
            &rx,
            format!(
                r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
                zone(x0, xm, 8.0),
                zone(xm, x1, 16.0)
            ),
        )
        .unwrap();
        let out = dir.path().join("out");
        let base = [
            paddy.to_str().unwrap(),
            "--swath-width",
            "5",
            "--out",
            out.to_str().unwrap(),
            "--prescription",
            rx.to_str().unwrap(),
            "--rate-column",
            "RATE",
            "--rate-unit",
            "l-per-ha",
            "--gap",
            "default:4",
            "--pump-full-flow-l-min",
            "2.4",
        ];
        let err = run(args(&base)).unwrap_err().to_string();
        assert!(err.contains("ardupilot-servo"), "{err}");
        let mut servo = base.to_vec();
        servo.extend(["--autopilot", "ardupilot-servo", "--rate-lag-s", "0.4"]);
        let a = args(&servo);
        let cfg = config(&a).unwrap();
        assert_eq!(cfg.rate_lag.get(), 0.4);
        assert_eq!(
            cfg.prescription.as_ref().unwrap().gap,
            GapPolicy::Default(4.0)
        );
        run(a).unwrap();
        let plan: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("jp_fude_2024_rice_03.plan")).unwrap(),
        )
        .unwrap();
        let pwms: std::collections::BTreeSet<u64> = plan["mission"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|it| it["command"] == 183)
            .map(|it| it["params"][1].as_f64().unwrap() as u64)
            .collect();
        // Off, and the levels of 8 and 16 L/ha at 5 m/s over 5 m with a 2.4 L/min pump
        // (1.2 and 2.4 L/min: half and full flow).
        assert!(
            pwms.contains(&1000) && pwms.contains(&1700) && pwms.contains(&1900),
            "{pwms:?}"
        );
        // A missing rate column names the ones there are.
        let mut bad = base.to_vec();
        bad[8] = "DOSE";
        let err = format!("{:#}", config(&args(&bad)).unwrap_err());
        assert!(err.contains("its columns are: RATE, name"), "{err}");
    }

    #[test]
    fn the_summary_says_what_was_planned() {
        let out = Path::new("/tmp/o");
        assert_eq!(failure_summary(0, 3, out), None);
        assert_eq!(
            failure_summary(1, 1, out).unwrap(),
            "1 of 1 inputs (files and fields) failed; nothing was planned"
        );
        assert_eq!(
            failure_summary(1, 2, out).unwrap(),
            "1 of 2 inputs (files and fields) failed; the other one was planned and written to /tmp/o"
        );
        assert_eq!(
            failure_summary(1, 3, out).unwrap(),
            "1 of 3 inputs (files and fields) failed; the other 2 were planned and written to /tmp/o"
        );
    }

    #[test]
    fn a_field_over_the_vertex_limit_fails_fast_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let ring: Vec<String> = (0..=300_000)
            .map(|i| {
                let a = std::f64::consts::TAU * f64::from(i % 300_000) / 300_000.0;
                format!("[{},{}]", 139.9 + 0.002 * a.cos(), 36.9 + 0.002 * a.sin())
            })
            .collect();
        let big = dir.path().join("circle.geojson");
        std::fs::write(
            &big,
            format!(
                r#"{{"type":"Feature","properties":{{"id":"circle"}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}"#,
                ring.join(",")
            ),
        )
        .unwrap();
        let out = dir.path().join("out");
        let e = run(args(&[
            big.to_str().unwrap(),
            "--swath-width",
            "5",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 of 1 inputs (files and fields) failed; nothing was planned"
        );
    }
}
