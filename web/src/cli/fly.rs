//! `agriops fly`: connect, upload and verify mission + fence + rally, pre-flight checks,
//! confirm, arm, start, live progress, `.tlog`, and a summary with as-applied coverage.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use telemetry::{
    Firmware, Link, LinkAddress, LinkConfig, MissionKind, Plan, PreflightLimits, SprayerOutput,
    TerrainServer, Vehicle, VehicleState, distance_to_go, preflight_checks,
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
    let sprayer = SprayerOutput {
        servo: args.pump_servo,
        ..SprayerOutput::default()
    };
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

/// Refuses to fly with the uploaded fence switched off, unless the pilot lets it be switched on.
async fn ensure_fence_on(args: &Args, vehicle: &Vehicle) -> anyhow::Result<()> {
    let setup = match vehicle.fence_setup().await {
        Ok(setup) => setup,
        Err(e) if args.fence_unchecked => {
            println!(
                "Warning: the vehicle's fence parameters could not be read ({e}); flying with --fence-unchecked."
            );
            return Ok(());
        }
        Err(e) => bail!(
            "the vehicle's fence parameters could not be read ({e}), so the uploaded fence is not known to be on; \
             pass --fence-unchecked to fly anyway"
        ),
    };
    if setup.active() {
        println!("Geofence on (breach action {}).", setup.action);
        return Ok(());
    }
    let consent = args.enable_fence
        || (!args.yes
            && std::io::stdin().is_terminal()
            && {
                let q = format!(
                    "The vehicle's geofence is off (enabled {}, polygon {}, action {}). Switch it on? [y/N]",
                    setup.enabled, setup.polygon, setup.action
                );
                tokio::task::spawn_blocking(move || ask(&q))
                    .await
                    .unwrap_or(false)
            });
    if !consent {
        bail!(
            "the vehicle's geofence is off (enabled {}, polygon {}, action {}): the field's fence would not act on a breach; \
             pass --enable-fence (or answer y) to switch it on",
            setup.enabled,
            setup.polygon,
            setup.action
        );
    }
    let after = vehicle
        .enable_fence()
        .await
        .context("switching the geofence on")?;
    if !after.active() {
        bail!("the vehicle did not switch its geofence on: {after:?}");
    }
    println!("Geofence switched on (breach action {}).", after.action);
    Ok(())
}

/// Shows the altitude RTL climbs to, and sets it when the pilot asked for it.
async fn ensure_rtl_altitude(args: &Args, plan: &Plan, vehicle: &Vehicle) -> anyhow::Result<()> {
    if let Some(m) = args.rtl_alt_m {
        if !(1.0..=120.0).contains(&m) {
            bail!("--rtl-alt-m {m}: give 1 to 120 metres");
        }
        let got = vehicle
            .set_rtl_altitude_m(m)
            .await
            .context("setting the RTL altitude")?;
        if (got - m).abs() > 0.05 {
            bail!("the vehicle kept an RTL altitude of {got:.1} m instead of {m:.1} m");
        }
    }
    match vehicle.rtl_altitude_m().await {
        Ok(alt) => {
            let spray = plan
                .items
                .iter()
                .filter(|i| i.is_nav_with_position() && i.z > 0.0)
                .map(|i| f64::from(i.z))
                .fold(0.0, f64::max);
            println!("RTL climbs to {alt:.1} m above home (plan flies at {spray:.1} m).");
        }
        Err(e) => tracing::debug!(message = "RTL altitude not readable.", error = %e),
    }
    Ok(())
}

/// Checks ArduPilot's sprayer before a plan that uses it: refuses when it is off (the pump
/// would never run), sets SPRAY_SPEED_MIN when the pilot asked, and says how far each spray
/// leg runs dry at the speed the vehicle keeps.
async fn ensure_sprayer(args: &Args, plan: &Plan, vehicle: &Vehicle) -> anyhow::Result<()> {
    if !plan.uses_sprayer() || vehicle.target().firmware != Firmware::ArduPilot {
        return Ok(());
    }
    if let Some(v) = args.spray_speed_min_mps {
        // ArduCopter's WPNAV_SPEED default (10 m/s) when the plan sets no speed.
        let spray_speed = plan.spray_speed_mps().unwrap_or(10.0).min(10.0);
        if !(0.0..spray_speed).contains(&v) {
            bail!(
                "--spray-speed-min-mps {v}: give 0 to under {spray_speed:.1} m/s (the plan's spray speed)"
            );
        }
        if let Some(now) = vehicle
            .spray_speed_min_mps()
            .await
            .context("reading SPRAY_SPEED_MIN")?
            && (now - v).abs() > 0.005
        {
            let got = vehicle
                .set_spray_speed_min_mps(v)
                .await
                .context("setting SPRAY_SPEED_MIN")?;
            if (got - v).abs() > 0.005 {
                bail!("the vehicle kept SPRAY_SPEED_MIN at {got:.2} m/s instead of {v:.2} m/s");
            }
        }
    }
    let Some(min) = vehicle.check_sprayer(plan).await? else {
        return Ok(());
    };
    println!(
        "Sprayer: the pump runs above {min:.2} m/s ground speed (SPRAY_SPEED_MIN), 0.1 s after the vehicle passes it.{}",
        if min > 0.5 {
            " Each spray leg starting from a turn begins dry until then; --spray-speed-min-mps 0.3 shortens that."
        } else {
            ""
        }
    );
    Ok(())
}

/// Checks ArduPilot's terrain following before a plan with terrain-frame altitudes: refuses
/// when it is off, sets TERRAIN_SPACING when the pilot asked, and says when the grid is
/// coarse or nothing serves terrain.
async fn ensure_terrain(args: &Args, plan: &Plan, vehicle: &Vehicle) -> anyhow::Result<()> {
    if !plan.uses_terrain_frame() {
        return Ok(());
    }
    let Some((enabled, spacing)) = vehicle
        .terrain_setup()
        .await
        .context("reading TERRAIN_ENABLE and TERRAIN_SPACING")?
    else {
        return Ok(());
    };
    if !enabled {
        bail!(
            "the plan's altitudes are above the terrain, but the vehicle's terrain following is off \
             (TERRAIN_ENABLE 0): plan with --alt-frame relative or amsl, or switch it on"
        );
    }
    let spacing = match args.terrain_spacing_m {
        Some(n) if !(1..=1000).contains(&n) => {
            bail!("--terrain-spacing-m {n}: give 1 to 1000 metres")
        }
        Some(n) if (f64::from(n) - spacing).abs() > 0.5 => {
            let got = vehicle
                .set_terrain_spacing_m(n)
                .await
                .context("setting TERRAIN_SPACING")?;
            if (got - f64::from(n)).abs() > 0.5 {
                bail!("the vehicle kept TERRAIN_SPACING at {got:.0} m instead of {n} m");
            }
            got
        }
        _ => spacing,
    };
    println!(
        "Terrain following on: the vehicle keeps a {spacing:.0} m terrain grid (TERRAIN_SPACING).{}{}",
        if spacing > 30.0 {
            " That is coarse for a field: --terrain-spacing-m 10 asks for a finer one."
        } else {
            ""
        },
        if args.dem.is_empty() {
            " No --dem is served: the vehicle must have the terrain on its card."
        } else {
            ""
        }
    );
    Ok(())
}

/// Follows an RTL to the landing: the pilot sees the return instead of a prompt back.
async fn follow_return(
    args: &Args,
    link: &Link,
    state: &Arc<Mutex<VehicleState>>,
) -> anyhow::Result<()> {
    println!("Returning to launch …");
    let timeout = Duration::from_secs_f64(args.link_timeout_s);
    let deadline =
        std::time::Instant::now() + Duration::from_secs_f64(args.land_wait_s.max(60.0) * 5.0);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last = String::new();
    loop {
        tick.tick().await;
        link.check_alive(timeout).map_err(|e| {
            anyhow::anyhow!("{e} during the return: the vehicle's failsafe takes over")
        })?;
        let s = state.lock().map(|s| s.clone()).unwrap_or_default();
        if !s.armed {
            println!("Landed and disarmed.");
            return Ok(());
        }
        let line = format!(
            "{} | {:.1} m above home | {:.1} m/s",
            s.mode,
            s.rel_alt_m.unwrap_or(f64::NAN),
            s.ground_speed_m_s.unwrap_or(f64::NAN)
        );
        if line != last {
            println!("{line}");
            last = line;
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the vehicle has not landed from RTL in time; it is still armed ({})",
                s.mode
            );
        }
    }
}

/// Shows progress until the last item is reached; Ctrl-C pauses and offers RTL.
async fn follow(
    args: &Args,
    plan: &Plan,
    items: &[telemetry::MissionItem],
    vehicle: &Vehicle,
    link: &Link,
    state: &Arc<Mutex<VehicleState>>,
    verified: &telemetry::VerifiedMission,
) -> anyhow::Result<()> {
    let last = (items.len() - 1) as u16;
    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(u64::from(last));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} item {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let timeout = Duration::from_secs_f64(args.link_timeout_s);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    // One listener for the whole flight, so a Ctrl-C between two ticks is not lost.
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut last_line = String::new();
    let mut was_armed = false;
    let mut end_seen: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut ctrl_c => {
                ctrl_c = Box::pin(tokio::signal::ctrl_c());
                // Where it was going: after landing ArduPilot resets the current item.
                let toward = state.lock().ok().and_then(|s| s.current_item).unwrap_or(0);
                // Pump off and hold; if the vehicle refuses to hold, RTL is still offered.
                match vehicle.pause().await {
                    Ok(()) => {}
                    Err(e) => println!("\nThe vehicle refused to pause: {e}"),
                }
                if let Some(b) = &bar { b.suspend(|| ()); }
                println!("\nSpray-off sent; paused unless reported otherwise above.");
                let choice = tokio::task::spawn_blocking(|| {
                    print!("[r] return to launch, [c] continue, anything else: stay paused and exit? ");
                    let _ = std::io::stdout().flush();
                    let mut line = String::new();
                    let _ = std::io::stdin().lock().read_line(&mut line);
                    line.trim().to_ascii_lowercase()
                }).await.unwrap_or_default();
                match choice.as_str() {
                    "r" | "rtl" => {
                        vehicle.rtl().await.context("RTL")?;
                        follow_return(args, link, state).await?;
                        return Err(Interrupted {
                            toward,
                            what: "flight interrupted: returned to launch and landed, pump off",
                        }
                        .into());
                    }
                    "c" => {
                        let cur = state.lock().ok().and_then(|s| s.current_item).unwrap_or(0);
                        let pump = plan.pump_on_toward(cur);
                        vehicle.resume_at(cur, pump, verified).await.context("resuming")?;
                        println!("Resumed at item {cur}.");
                    }
                    _ => {
                        return Err(Interrupted {
                            toward,
                            what: "flight interrupted: the vehicle holds position, pump off",
                        }
                        .into());
                    }
                }
            }
        }
        link.check_alive(timeout)
            .map_err(|e| anyhow::anyhow!("{e}: the vehicle's failsafe takes over"))?;
        let s = state.lock().map(|s| s.clone()).unwrap_or_default();
        let cur = s.current_item.unwrap_or(0);
        let to_go = match (s.lat, s.lon) {
            (Some(lat), Some(lon)) => distance_to_go(items, cur, (lat, lon)),
            _ => f64::NAN,
        };
        // The pump as the vehicle reports it, else as the plan commands it at this item.
        let commanded = usize::from(cur)
            .checked_sub(plan.vehicle_seq(0) + 1)
            .and_then(|i| plan.spray_state_after().get(i).copied());
        let spray = match (s.sprayer_on, commanded) {
            (Some(true), _) => "ON",
            (Some(false), _) => "off",
            (None, Some(true)) => "ON (plan)",
            (None, Some(false)) => "off (plan)",
            (None, None) => "?",
        };
        let msg = format!(
            "{} | batt {:.0} % {:.1} V | {:.0} m to go | spray {spray} | {}",
            s.mode,
            s.battery_pct.unwrap_or(f64::NAN),
            s.battery_v.unwrap_or(f64::NAN),
            to_go,
            if s.armed { "armed" } else { "disarmed" }
        );
        match &bar {
            Some(b) => {
                b.set_position(u64::from(cur.min(last)));
                b.set_message(msg);
            }
            None => {
                let line = format!("item {cur}/{last} {msg}");
                if line.split('|').next() != last_line.split('|').next() {
                    println!("{line}");
                }
                last_line = line;
            }
        }
        if let Some(t) = s.status_texts.last().filter(|t| t.level <= 3) {
            tracing::warn!(message = "Vehicle reports a problem.", text = %t.text);
        }
        was_armed |= s.armed;
        let at_end = s.mission_finished(last);
        if at_end {
            let lands = items.last().is_some_and(|i| i.command == 21);
            let since = *end_seen.get_or_insert_with(std::time::Instant::now);
            if !s.armed || !lands || since.elapsed().as_secs_f64() >= args.land_wait_s {
                if let Some(b) = &bar {
                    b.finish_with_message("mission complete");
                }
                let how = if s.armed {
                    "still armed"
                } else {
                    "landed and disarmed"
                };
                println!("Mission complete: item {last} reached, {how}.");
                return Ok(());
            }
        } else if was_armed && !s.armed {
            bail!("the vehicle disarmed at item {cur} before the end of the mission");
        }
    }
}

/// The pilot interrupted the flight (Ctrl-C) while it flew toward item `toward`.
#[derive(Debug)]
struct Interrupted {
    toward: u16,
    what: &'static str,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what)
    }
}

impl std::error::Error for Interrupted {}

/// How to fly the rest of an interrupted sortie later (`--resume-after`), when the vehicle was
/// flying toward item `current` of the flown `plan` (itself `sortie` resumed, or the sortie).
fn resume_hint(
    args: &Args,
    sortie: &Plan,
    flown: &Plan,
    resumed: Option<&telemetry::Resumed>,
    current: Option<u16>,
) -> Option<String> {
    let toward = usize::from(current?).checked_sub(flown.vehicle_seq(0))?;
    let reached = toward.checked_sub(1)?;
    let original = resumed.map_or(reached, |r| r.original_index(reached));
    sortie.resume_after(original, &args.plan).ok()?;
    let seq = sortie.vehicle_seq(original);
    let which = args
        .sortie
        .map_or_else(String::new, |n| format!(" --sortie {n}"));
    Some(format!(
        "The sortie stopped after item {seq}. To fly the rest of it later: agriops fly --connect {} {}{which} --resume-after {seq}",
        args.connect,
        args.plan.display()
    ))
}

/// Prints the flight summary and coverage of a recorded flight.
fn report(tlog: &Path, plan: &Plan, sprayer: SprayerOutput, swath_m: f64) {
    match telemetry::read_tlog(tlog) {
        Ok(records) => {
            crate::cli::tlog::print_summary(&telemetry::summarize(&records, Some(plan), sprayer));
            let track = telemetry::track_from_records(&records, Some(plan), sprayer);
            match telemetry::coverage(&track, &plan.spray_legs(), swath_m) {
                Ok(c) => {
                    crate::cli::tlog::print_coverage(&c);
                    let out = tlog.with_extension("coverage.geojson");
                    if std::fs::write(&out, c.geojson.to_string()).is_ok() {
                        println!("Coverage GeoJSON: {}", out.display());
                    }
                }
                Err(e) => println!("Coverage: {e}"),
            }
        }
        Err(e) => println!("Could not read the flight record back: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.plan` is read through serde_json, whose recursion limit (128) is on: a hostile file
    /// nested 100 000 levels deep is a parse error, not a stack overflow.
    #[test]
    fn deeply_nested_plan_files_are_an_error() {
        for depth in [200, 100_000] {
            let text = format!(
                r#"{{"fileType":"Plan","mission":{{"items":{}0{}}}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let e = Plan::from_json(&text, std::path::Path::new("deep.plan")).unwrap_err();
            assert!(e.to_string().contains("recursion limit"), "{e}");
        }
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// `agriops plan --dem --alt-frame terrain`, then `agriops fly --dem` against the simulator
    /// standing on the same ground: it asks for terrain, gets it from us, and sprays at the
    /// planned height above its own ground model.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flies_a_terrain_frame_plan_with_terrain_served_from_the_dem() {
        use clap::Parser;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let paddy = root.join("samples/fields/paddy_with_zones.geojson");
        let dir = tempfile::tempdir().unwrap();
        let dem_path = dir.path().join("FG-GML-slope-DEM5A.xml");
        // Ground rising 6 cm per metre north.
        let set = mission_planner::read_fields(&std::fs::read(&paddy).unwrap()).unwrap();
        let lat0 = geo::BoundingRect::bounding_rect(&set.fields[0].as_ref().unwrap().boundary)
            .unwrap()
            .min()
            .y;
        std::fs::write(
            &dem_path,
            crate::cli::plan::tests::gsi_tile_around(&paddy, |lat| {
                Some(120.0 + (lat - lat0) * 111_000.0 * 0.06)
            }),
        )
        .unwrap();
        let out = dir.path().join("out");
        let plan_args = vec![
            "plan".to_string(),
            paddy.display().to_string(),
            "--swath-width".into(),
            "5".into(),
            "--format".into(),
            "plan".into(),
            "--out".into(),
            out.display().to_string(),
            "--dem".into(),
            dem_path.display().to_string(),
            "--alt-frame".into(),
            "terrain".into(),
        ];
        #[derive(Debug, clap::Parser)]
        struct PlanCli {
            #[command(flatten)]
            args: crate::cli::plan::Args,
        }
        crate::cli::plan::run(PlanCli::try_parse_from(plan_args).unwrap().args).unwrap();
        let plan_path = out.join("jp_fude_2024_rice_03.plan");
        let plan = Plan::read(&plan_path).unwrap();
        let home = plan.home.unwrap();
        let dem = Arc::new(crate::cli::plan::load_dem(std::slice::from_ref(&dem_path)).unwrap());
        assert!((home.2 - dem.height_amsl(home.0, home.1).unwrap()).abs() < 0.01);

        let mut cfg = telemetry::SimConfig::new(home);
        cfg.time_scale = 60.0;
        let ground = dem.clone();
        cfg.ground = Some(telemetry::SimGround {
            source: Arc::new(move |lat: f64, lon: f64| ground.height_amsl(lat, lon)),
            terrain_spacing_m: 5,
        });
        let sim =
            telemetry::SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
                .await
                .unwrap();
        let addr = sim.local_addr().unwrap();
        let sim = Arc::new(sim);
        let watch = sim.clone();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sampler = tokio::spawn(async move {
            let mut agl = Vec::new();
            loop {
                let s = watch.snapshot();
                if s.pump_on && !s.landed {
                    agl.push(s.agl_m.unwrap());
                }
                if stop_rx.try_recv().is_ok() {
                    return (agl, s);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let fly_args = vec![
            "fly".to_string(),
            "--connect".into(),
            format!("udpout:{addr}"),
            plan_path.display().to_string(),
            "--sortie".into(),
            "1".into(),
            "--yes".into(),
            "--enable-fence".into(),
            "--land-wait-s".into(),
            "60".into(),
            "--tlog".into(),
            dir.path().join("fly.tlog").display().to_string(),
            "--dem".into(),
            dem_path.display().to_string(),
            // From the simulator's 5 m grid to 10 m: its cached blocks go, it asks again.
            "--terrain-spacing-m".into(),
            "10".into(),
        ];
        let result = fly(Cli::try_parse_from(fly_args).unwrap().args).await;
        let _ = stop_tx.send(());
        let (agl, last) = sampler.await.unwrap();
        result.unwrap();
        assert!(agl.len() > 50, "{} samples while spraying", agl.len());
        let worst = agl.iter().map(|a| (a - 2.0).abs()).fold(0.0, f64::max);
        // Terrain travels in whole metres; the spray height is 2 m above the ground.
        assert!(
            worst < 1.0,
            "sprayed up to {worst:.2} m off 2 m above ground"
        );
        assert!(last.terrain_blocks.1 > 0, "{last:?}");
        assert_eq!(sim.snapshot().terrain_spacing_m, Some(10));
    }

    /// A terrain-frame plan on a vehicle whose terrain following is off is refused before
    /// arming; a relative one is not asked about terrain at all.
    #[tokio::test]
    async fn a_terrain_plan_needs_the_vehicles_terrain_following() {
        let relative = chofu_sortie();
        let mut terrain = relative.clone();
        for i in terrain.items.iter_mut().filter(|i| i.frame == 3) {
            i.frame = 10;
        }
        assert!(terrain.uses_terrain_frame() && !relative.uses_terrain_frame());
        // No ground in the simulator: TERRAIN_ENABLE 0.
        let (sim, port) =
            telemetry::SimDrone::in_process(telemetry::SimConfig::new(relative.home.unwrap()));
        let v = Vehicle::new(port, telemetry::Target::new(1, 1, Firmware::ArduPilot));
        let a = args(&["--connect", "udpout:127.0.0.1:1", "x.plan"]);
        ensure_terrain(&a, &relative, &v).await.unwrap();
        let e = ensure_terrain(&a, &terrain, &v).await.unwrap_err();
        assert!(e.to_string().contains("TERRAIN_ENABLE 0"), "{e}");
        v.set_param("TERRAIN_ENABLE", 1.0).await.unwrap();
        ensure_terrain(&a, &terrain, &v).await.unwrap();
        sim.stop().await;
    }

    /// The sprayer check before a DO_SPRAYER plan, against the simulator's ArduPilot
    /// parameters (SPRAY_SPEED_MIN in cm/s as AC_Sprayer keeps it).
    #[tokio::test]
    async fn the_sprayer_is_checked_and_its_minimum_speed_set_before_a_spraying_plan() {
        let plan = chofu_sortie();
        assert!(plan.uses_sprayer());
        assert_eq!(plan.spray_speed_mps(), Some(5.0));
        let (sim, port) =
            telemetry::SimDrone::in_process(telemetry::SimConfig::new(plan.home.unwrap()));
        let mut v = Vehicle::new(port, telemetry::Target::new(1, 1, Firmware::ArduPilot));
        v.ack_timeout = Duration::from_millis(300);
        let base = ["--connect", "udpout:127.0.0.1:1", "x.plan"];
        let with = |extra: &[&str]| args(&[&base[..], extra].concat());
        // As it is: ArduPilot's default 1 m/s, below the plan's 5 m/s, passes.
        ensure_sprayer(&with(&[]), &plan, &v).await.unwrap();
        assert_eq!(v.spray_speed_min_mps().await.unwrap(), Some(1.0));
        // Asked: set and read back.
        ensure_sprayer(&with(&["--spray-speed-min-mps", "0.3"]), &plan, &v)
            .await
            .unwrap();
        assert_eq!(v.spray_speed_min_mps().await.unwrap(), Some(0.3));
        // Not above the spray speed: the pump would never run.
        let e = ensure_sprayer(&with(&["--spray-speed-min-mps", "6"]), &plan, &v)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("give 0 to under 5.0 m/s"), "{e}");
        v.set_spray_speed_min_mps(7.0).await.unwrap();
        let e = ensure_sprayer(&with(&[]), &plan, &v).await.unwrap_err();
        assert!(e.to_string().contains("the pump would not run"), "{e}");
        // A sprayer switched off still answers SPRAY_SPEED_MIN, as ArduPilot does: refused.
        v.set_param("SPRAY_ENABLE", 0.0).await.unwrap();
        let e = ensure_sprayer(&with(&[]), &plan, &v).await.unwrap_err();
        assert!(e.to_string().contains("SPRAY_ENABLE 0"), "{e}");
        sim.stop().await;
    }

    /// `agriops fly ARGS`, parsed as the binary parses it.
    fn args(line: &[&str]) -> Args {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            fly: Args,
        }
        <Cli as clap::Parser>::try_parse_from(std::iter::once("fly").chain(line.iter().copied()))
            .expect("valid arguments")
            .fly
    }

    /// Sortie 1 of the Chofu paddy as `agriops plan` writes it for ArduPilot.
    /// Sortie 1 of the Chofu paddy, planned with `sprayer_lead` seconds of run-up, written to
    /// `dir` as a `.plan`.
    fn chofu_plan_file(dir: &Path, sprayer_lead: f64) -> std::path::PathBuf {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../samples/fields/chofu_paddy.kml"
        ))
        .expect("the sample field");
        let set = mission_planner::read_fields(&bytes).expect("fields");
        let field = set.fields[0].as_ref().expect("one field");
        let mut cfg =
            mission_planner::PlanConfig::new(mission_planner::SwathWidth::new(5.0).expect("width"));
        cfg.sprayer_lead = mission_planner::Seconds::new(sprayer_lead).expect("lead");
        let planned = mission_planner::plan(field, &cfg).expect("planned");
        let path = dir.join(format!("chofu_lead_{sprayer_lead}.plan"));
        let json =
            mission_planner::to_qgc_plan(&planned, mission_planner::Autopilot::ArduPilot, Some(1));
        std::fs::write(&path, json).expect("write the plan");
        path
    }

    /// Flies `plan_path` on the simulator (its ArduPilot sprayer starts 1/3 to 2/3 s after
    /// DO_SPRAYER) with `agriops fly`, and returns the as-applied coverage of the spray legs
    /// from the flight's own record, percent.
    async fn sim_coverage(plan_path: &Path, dir: &Path) -> f64 {
        use clap::Parser;
        let plan = Plan::read(plan_path).unwrap();
        let mut cfg = telemetry::SimConfig::new(plan.home.unwrap());
        cfg.time_scale = 40.0;
        let sim =
            telemetry::SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
                .await
                .unwrap();
        let tlog = dir.join(format!(
            "{}.tlog",
            plan_path.file_stem().unwrap().to_string_lossy()
        ));
        let fly_args = vec![
            "fly".to_string(),
            "--connect".into(),
            format!("udpout:{}", sim.local_addr().unwrap()),
            plan_path.display().to_string(),
            "--yes".into(),
            "--enable-fence".into(),
            "--land-wait-s".into(),
            "60".into(),
            "--tlog".into(),
            tlog.display().to_string(),
        ];
        fly(Cli::try_parse_from(fly_args).unwrap().args)
            .await
            .unwrap();
        sim.stop().await;
        let records = telemetry::read_tlog(&tlog).unwrap();
        let track = telemetry::track_from_records(
            &records,
            Some(&plan),
            telemetry::SprayerOutput::default(),
        );
        telemetry::coverage(&track, &plan.spray_legs(), 5.0)
            .unwrap()
            .covered_pct
    }

    /// ArduPilot's sprayer starts late (AC_Sprayer's 3 Hz update and 100 ms speed check): with
    /// the planner's run-ups its pump already runs where each leg begins; without them every
    /// leg starts dry for a metre or two.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_ups_let_a_late_sprayer_cover_every_leg_start() {
        let dir = tempfile::tempdir().unwrap();
        let with = sim_coverage(&chofu_plan_file(dir.path(), 0.7), dir.path()).await;
        let without = sim_coverage(&chofu_plan_file(dir.path(), 0.0), dir.path()).await;
        eprintln!("as-applied coverage: {with:.2} % with run-ups, {without:.2} % without");
        assert!(with >= 99.0, "with run-ups: {with:.2} %");
        assert!(without < with - 0.5, "without run-ups: {without:.2} %");
    }

    fn chofu_sortie() -> Plan {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../samples/fields/chofu_paddy.kml"
        ))
        .expect("the sample field");
        let field = mission_planner::read_fields(&bytes)
            .expect("fields")
            .fields
            .into_iter()
            .flatten()
            .next()
            .expect("one field");
        let cfg =
            mission_planner::PlanConfig::new(mission_planner::SwathWidth::new(5.0).expect("width"));
        let planned = mission_planner::plan(&field, &cfg).expect("planned");
        let json =
            mission_planner::to_qgc_plan(&planned, mission_planner::Autopilot::ArduPilot, None);
        let path = std::path::Path::new("chofu.plan");
        Plan::from_json(&json, path)
            .expect("the .plan")
            .sortie(1, path)
            .expect("sortie 1")
    }

    #[test]
    fn an_interrupted_flight_names_the_item_to_resume_after_in_the_sorties_numbering() {
        let sortie = chofu_sortie();
        let a = args(&[
            "--connect",
            "tcpout:127.0.0.1:5760",
            "chofu.plan",
            "--sortie",
            "1",
        ]);
        let takeoff = sortie
            .mission_items()
            .iter()
            .position(|i| i.command == 22)
            .expect("a takeoff") as u16;
        // Flying toward takeoff + 6: it reached takeoff + 5.
        let hint = resume_hint(&a, &sortie, &sortie, None, Some(takeoff + 6)).expect("a hint");
        let seq = hint
            .rsplit("--resume-after ")
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .expect("an item number");
        assert!(seq <= takeoff + 5 && seq > takeoff, "{hint}");
        assert!(hint.contains("--sortie 1"), "{hint}");
        // Before the takeoff there is nothing to resume.
        assert!(resume_hint(&a, &sortie, &sortie, None, Some(takeoff)).is_none());
        assert!(resume_hint(&a, &sortie, &sortie, None, None).is_none());

        // Interrupted again while flying the resumed mission: the hint is in the sortie's
        // numbering, past the first resume point.
        let first = usize::from(seq) - sortie.vehicle_seq(0);
        let resumed = sortie
            .resume_after(first, std::path::Path::new("chofu.plan"))
            .expect("resumable");
        let toward = (resumed.tail_start + 4 + resumed.plan.vehicle_seq(0)) as u16;
        let again =
            resume_hint(&a, &sortie, &resumed.plan, Some(&resumed), Some(toward)).expect("a hint");
        let seq2 = again
            .rsplit("--resume-after ")
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .expect("an item number");
        assert!(seq2 > seq, "{again} after {hint}");
        assert!(
            sortie
                .resume_after(
                    usize::from(seq2) - sortie.vehicle_seq(0),
                    std::path::Path::new("p")
                )
                .is_ok()
        );
    }

    #[test]
    fn signing_keys_are_64_hex_digits() {
        assert_eq!(parse_key(&"0f".repeat(32)).unwrap()[0], 15);
        assert!(parse_key("abc").is_err());
        assert!(parse_key(&"zz".repeat(32)).is_err());
    }
}
