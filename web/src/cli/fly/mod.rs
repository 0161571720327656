//! `agriops fly`: connect, upload and verify mission + fence + rally, pre-flight checks,
//! confirm, arm, start, live progress, `.tlog`, and a summary with as-applied coverage.
//!
//! The options and the flight's steps are here; `setup.rs` makes the vehicle ready (fence,
//! RTL altitude, sprayer output, terrain data), `follow.rs` follows the flight to its end and
//! reports it.

mod follow;
mod setup;

use follow::*;
use setup::*;

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use telemetry::{
    Firmware, Link, LinkAddress, LinkConfig, MissionKind, Plan, PreflightLimits, PumpOutputSetup,
    SprayerOutput, TerrainServer, Vehicle, VehicleState, distance_to_go, preflight_checks,
};

/// Arguments of `agriops fly`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Vehicle link: udpin:HOST:PORT, udpout:HOST:PORT, tcpin:HOST:PORT, tcpout:HOST:PORT or serial:PORT:BAUD.
    #[arg(long)]
    pub connect: String,
    /// The mission plan (QGroundControl .plan).
    pub plan: PathBuf,
    /// Fly only sortie N (1-based) of a whole-field plan.
    #[arg(long)]
    pub sortie: Option<usize>,
    /// Upload and verify, then stop (no arming).
    #[arg(long)]
    pub upload_only: bool,
    /// Start at mission item N (vehicle numbering, as progress shows it) of a vehicle already
    /// in the air, e.g. after a pause.
    #[arg(long, conflicts_with = "resume_after")]
    pub resume_at: Option<u16>,
    /// Fly the rest of an interrupted sortie from the ground: take off, fly in to item N (the
    /// last item it reached, vehicle numbering as progress and the interruption message show
    /// it), restore the pump and speed there, and go on from item N + 1.
    #[arg(long)]
    pub resume_after: Option<u16>,
    /// Do not ask for confirmation before arming.
    #[arg(long)]
    pub yes: bool,
    /// Where to record the flight (default: <plan stem>-<unix time>.tlog in the current folder).
    #[arg(long)]
    pub tlog: Option<PathBuf>,
    /// Swath width for the as-applied coverage, metres.
    #[arg(long, default_value_t = 5.0)]
    pub swath_m: f64,
    /// Minimum battery to take off, percent.
    #[arg(long, default_value_t = 40.0)]
    pub min_battery_pct: f64,
    /// Skip the GPS fix check (only for simulators that never report GPS_RAW_INT).
    #[arg(long)]
    pub no_gps_check: bool,
    /// Seconds without a vehicle heartbeat before the link counts as lost.
    #[arg(long, default_value_t = 5.0)]
    pub link_timeout_s: f64,
    /// Servo output (1-16) that drives the pump, for the spray state in SERVO_OUTPUT_RAW.
    #[arg(long, default_value_t = 9)]
    pub pump_servo: u8,
    /// After the last item, wait this long for the vehicle to land and disarm, seconds.
    #[arg(long, default_value_t = 120.0)]
    pub land_wait_s: f64,
    /// Switch the vehicle's geofence on if it is off (ArduPilot FENCE_ENABLE 1, the polygon
    /// bit in FENCE_TYPE, FENCE_ACTION RTL if it only reports; PX4 GF_ACTION RTL if 0). Without
    /// it the pilot is asked, and with --yes the flight is refused.
    #[arg(long)]
    pub enable_fence: bool,
    /// Fly although the fence parameters cannot be read (autopilots other than ArduPilot and
    /// PX4 name them differently); the uploaded fence is then not known to be on.
    #[arg(long)]
    pub fence_unchecked: bool,
    /// Set the vehicle's RTL altitude to this many metres above home before flying.
    #[arg(long)]
    pub rtl_alt_m: Option<f64>,
    /// Set ArduPilot's SPRAY_SPEED_MIN to this ground speed, m/s, before flying: the pump runs
    /// only above it (0.1 s after), so every spray leg that starts from a turn begins dry until
    /// the vehicle is that fast. The dose per area holds lower: the pump follows ground speed.
    #[arg(long)]
    pub spray_speed_min_mps: Option<f64>,
    /// Elevation model served to the vehicle over the MAVLink terrain protocol while flying
    /// (ArduPilot with TERRAIN_ENABLE 1 asks its ground station for terrain): files or tile
    /// folders as for `agriops plan --dem`; repeat for more tiles.
    #[arg(long)]
    pub dem: Vec<PathBuf>,
    /// Set ArduPilot's TERRAIN_SPACING (the grid it asks terrain for) to this many metres
    /// before a terrain-frame flight; its default, 100 m, is coarser than a paddy. Served from
    /// `--dem` at the new spacing.
    #[arg(long)]
    pub terrain_spacing_m: Option<u16>,
    /// MAVLink 2 signing key, 64 hex digits.
    #[arg(long, env = "AGRIOPS_SIGNING_KEY")]
    pub signing_key: Option<String>,
}

fn parse_key(hex: &str) -> anyhow::Result<[u8; 32]> {
    if hex.len() != 64 {
        bail!("the signing key must be 64 hex digits, got {}", hex.len());
    }
    let mut key = [0u8; 32];
    for (k, byte) in key.iter_mut().enumerate() {
        *byte =
            u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).context("the signing key is not hex")?;
    }
    Ok(key)
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
fn ask(question: &str) -> bool {
    print!("{question} ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok()
        && matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Runs `agriops fly`.
///
/// # Errors
/// Bad plan or address, lost link, a refused upload or command, failed pre-flight checks, or
/// no confirmation: the message says which, the exit code is non-zero.
pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(fly(args))
}

async fn fly(args: Args) -> anyhow::Result<()> {
    let plan_all = Plan::read(&args.plan)?;
    let sortie = match args.sortie {
        Some(n) => plan_all.sortie(n, &args.plan)?,
        None => plan_all,
    };
    let resumed = match args.resume_after {
        Some(seq) => {
            let reached = usize::from(seq)
                .checked_sub(sortie.vehicle_seq(0))
                .with_context(|| format!("--resume-after {seq}: item 0 is the vehicle's home"))?;
            let r = sortie
                .resume_after(reached, &args.plan)
                .with_context(|| format!("--resume-after {seq}"))?;
            println!(
                "Resuming after item {seq}: take off, fly in to it, then the rest of the sortie ({} items).",
                r.plan.mission_items().len()
            );
            Some(r)
        }
        None => None,
    };
    let plan = resumed
        .as_ref()
        .map_or_else(|| sortie.clone(), |r| r.plan.clone());
    plan.check_pump_off_in_transit(&args.plan)?;
    let items = plan.mission_items();
    let tlog = args.tlog.clone().unwrap_or_else(|| {
        let stem = args
            .plan
            .file_stem()
            .map_or("flight".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}-{}.tlog", telemetry::now_us() / 1_000_000))
    });
    let mut cfg = LinkConfig::new(LinkAddress::parse(&args.connect)?);
    cfg.tlog = Some(tlog.clone());
    cfg.signing_key = args.signing_key.as_deref().map(parse_key).transpose()?;
    println!("Connecting to {} …", cfg.address);
    let terrain_dem = if args.dem.is_empty() {
        None
    } else {
        Some(super::plan::load_dem(&args.dem)?)
    };
    let link = Link::connect(&cfg).await?;
    // Answer the vehicle's TERRAIN_REQUESTs from the first frame on.
    let terrain = terrain_dem.map(|dem| {
        let source = move |lat: f64, lon: f64| dem.height_amsl(lat, lon);
        TerrainServer::spawn(link.port(), Arc::new(source), 100)
    });
    let info = link.wait_vehicle(Duration::from_secs(15)).await?;
    println!(
        "Vehicle: system {} component {}, {} {} ({:?})",
        info.target.system,
        info.target.component,
        info.autopilot,
        info.vehicle_type,
        info.target.firmware
    );
    if info.target.firmware != plan.firmware {
        bail!(
            "the plan was written for {:?} but the vehicle runs {:?}: re-plan for this vehicle",
            plan.firmware,
            info.target.firmware
        );
    }
    let vehicle = Vehicle::new(link.port().clone(), info.target);
    let mut sprayer = SprayerOutput {
        servo: args.pump_servo,
        ..SprayerOutput::default()
    };
    // PX4 runs an actuator-driven pump on the output with "Peripheral via Actuator Set 1".
    if plan.uses_actuator() {
        match vehicle
            .px4_pump_output()
            .await
            .context("reading the pump output (PWM_MAIN_FUNCn)")?
        {
            PumpOutputSetup::Found(o) => {
                println!(
                    "Pump: output {} (PWM_MAIN_FUNC{} = 301), {}–{} µs",
                    o.servo, o.servo, o.pwm_min, o.pwm_max
                );
                sprayer = o.sprayer();
            }
            PumpOutputSetup::NoneAssigned => bail!(
                "the plan runs the pump by DO_SET_ACTUATOR, but no output of the vehicle has \
                 the function Peripheral via Actuator Set 1 (PWM_MAIN_FUNCn = 301): assign it \
                 to the pump's output"
            ),
            PumpOutputSetup::Unknown => {}
        }
    }
    let state = Arc::new(Mutex::new(VehicleState::new(
        Some(info.target.system),
        Some(info.target.component),
        sprayer,
    )));
    let state_task = {
        let state = state.clone();
        let mut rx = link.port().subscribe();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(f) => {
                        if let Ok(mut s) = state.lock() {
                            s.apply(&f.header, &f.msg);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
        })
    };
    // Stream rates: position 5 Hz, the rest 1–2 Hz. Vehicles that do not implement the
    // command keep their default rates.
    for (msgid, hz) in [
        (33, 5.0),
        (1, 1.0),
        (24, 1.0),
        (42, 2.0),
        (36, 5.0),
        (147, 1.0),
        (74, 2.0),
    ] {
        if let Err(error) = vehicle.request_message_interval(msgid, hz).await {
            tracing::debug!(message = "Stream rate request not acknowledged.", %error, msgid);
        }
    }

    let result = fly_connected(&args, &plan, &items, &vehicle, &link, &state).await;
    if result.is_err() {
        // Every abort leaves the pump off.
        vehicle.spray_off().await;
        let current = result
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<Interrupted>())
            .map(|i| i.toward)
            .or_else(|| state.lock().ok().and_then(|s| s.current_item));
        if let Some(hint) = resume_hint(&args, &sortie, &plan, resumed.as_ref(), current) {
            println!("{hint}");
        }
    }
    state_task.abort();
    if let Some(t) = &terrain {
        use std::sync::atomic::Ordering::Relaxed;
        println!(
            "Terrain served: {} requests, {} blocks sent, {} blocks outside the elevation model",
            t.stats.requests.load(Relaxed),
            t.stats.blocks_sent.load(Relaxed),
            t.stats.blocks_missing.load(Relaxed)
        );
    }
    drop(terrain);
    link.close().await;
    println!("Flight record: {}", tlog.display());
    if !args.upload_only {
        report(&tlog, &plan, sprayer, args.swath_m);
    }
    result
}

async fn fly_connected(
    args: &Args,
    plan: &Plan,
    items: &[telemetry::MissionItem],
    vehicle: &Vehicle,
    link: &Link,
    state: &Arc<Mutex<VehicleState>>,
) -> anyhow::Result<()> {
    println!("Uploading mission ({} items) …", items.len());
    let verified = vehicle
        .upload_verified(MissionKind::Mission, items)
        .await
        .context("mission upload")?;
    let fence = plan.fence_items();
    if fence.is_empty() {
        println!("No geofence in the plan.");
    } else {
        vehicle
            .upload_verified(MissionKind::Fence, &fence)
            .await
            .context("fence upload")?;
    }
    let rally = plan.rally_items();
    if !rally.is_empty() {
        vehicle
            .upload_verified(MissionKind::Rally, &rally)
            .await
            .context("rally upload")?;
    }
    println!(
        "Verified by read-back: mission {} items, fence {} items, rally {} points.",
        items.len(),
        fence.len(),
        rally.len()
    );
    if args.upload_only {
        return Ok(());
    }
    if !fence.is_empty() {
        ensure_fence_on(args, vehicle).await?;
    }
    ensure_rtl_altitude(args, plan, vehicle).await?;
    ensure_sprayer(args, plan, vehicle).await?;
    ensure_terrain(args, plan, vehicle).await?;

    // Pre-flight checks, on fresh telemetry.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let limits = PreflightLimits {
        min_battery_pct: args.min_battery_pct,
        require_3d_fix: !args.no_gps_check,
    };
    let snapshot = state.lock().map(|s| s.clone()).unwrap_or_default();
    preflight_checks(&snapshot, plan, &limits)?;
    println!(
        "Pre-flight OK: GPS {:?} ({} sats), battery {:.0} % {:.1} V, inside the fence.",
        snapshot.gps_fix,
        snapshot.satellites.unwrap_or(0),
        snapshot.battery_pct.unwrap_or(f64::NAN),
        snapshot.battery_v.unwrap_or(f64::NAN)
    );
    let first = args.resume_at.unwrap_or(0);
    if usize::from(first) >= items.len() {
        bail!(
            "--resume-at {first}: the mission has items 0..{}",
            items.len() - 1
        );
    }
    if !args.yes {
        let q = format!(
            "Arm and start the mission at item {first} of {}? [y/N]",
            items.len() - 1
        );
        let confirmed = tokio::task::spawn_blocking(move || ask(&q))
            .await
            .unwrap_or(false);
        if !confirmed {
            bail!("not confirmed: the vehicle was not armed");
        }
    }
    if vehicle.target().firmware == Firmware::ArduPilot {
        vehicle
            .set_mode("GUIDED")
            .await
            .context("switching to GUIDED before arming")?;
    }
    vehicle.arm().await?;
    vehicle
        .start_mission_at(&verified, first)
        .await
        .context("starting the mission")?;
    println!("Mission started. Ctrl-C pauses.");
    follow(args, plan, items, vehicle, link, state, &verified).await
}

#[cfg(test)]
mod tests;
