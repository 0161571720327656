//! End-to-end against a real autopilot: ArduPilot Copter SITL (`arducopter`, built from
//! ArduPilot's own source outside this repository). Runs when `ARDUPILOT_SITL_BIN` names the
//! binary, otherwise each test prints why it is skipped. `ARDUPILOT_SITL_DEFAULTS` names the
//! defaults file (`Tools/autotest/default_params/copter.parm` of the same source tree); without
//! it the file is looked up beside the binary's source tree (`build/sitl/bin/arducopter`).
//!
//! Each test starts its own SITL instance on free ports, in its own folder, with the sprayer
//! set up as on a spray drone (SPRAY_ENABLE=1, SERVO9_FUNCTION=22 SprayerPump), plans a real
//! field with `agriops plan`, and judges the result from what the vehicle itself reports:
//! SERVO_OUTPUT_RAW servo 9, GLOBAL_POSITION_INT, MISSION_CURRENT, FENCE_TOTAL / RALLY_TOTAL
//! and the mission, fence and rally lists read from it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use agriops_e2e::{KillOnDrop, run_bounded, workspace_root};
use telemetry::mavlink::dialects::ardupilotmega as apm;
use telemetry::mavlink::types::CharArray;
use telemetry::{
    Error, Link, LinkAddress, LinkConfig, MissionItem, MissionKind, Msg, Plan, Port, SprayerOutput,
    Target, Vehicle, coverage, read_tlog, track_from_records,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// The simulation runs this many times faster than the wall clock.
const SPEEDUP: u32 = 3;
/// SERVO9_MIN, the pump's off output, as ArduPilot's default.
const PUMP_OFF_PWM: u16 = 1100;
/// An output this far above SERVO9_MIN counts as the pump running.
const PUMP_ON_MARGIN: u16 = 50;
/// Simulated seconds after a change of mission item in which the pump may still follow the
/// previous item (AC_Sprayer: 3 Hz update, 0.1 s turn-on delay, 1 s shut-off delay).
const GRACE_S: f64 = 1.5;

/// The SITL binary from `ARDUPILOT_SITL_BIN`, or `None` after printing why `test` is skipped.
fn sitl_bin(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ARDUPILOT_SITL_BIN") {
        Some(p) if Path::new(&p).is_file() => Some(PathBuf::from(p)),
        Some(p) => panic!(
            "{test}: ARDUPILOT_SITL_BIN={} is not a file",
            Path::new(&p).display()
        ),
        None => {
            eprintln!(
                "SKIP {test}: set ARDUPILOT_SITL_BIN to an ArduPilot Copter SITL binary (arducopter) to run it"
            );
            None
        }
    }
}

/// The defaults file: `ARDUPILOT_SITL_DEFAULTS`, else copter.parm of the binary's source tree.
fn sitl_defaults(bin: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("ARDUPILOT_SITL_DEFAULTS") {
        return PathBuf::from(p);
    }
    // <tree>/build/sitl/bin/arducopter → <tree>/Tools/autotest/default_params/copter.parm
    let guess = bin
        .ancestors()
        .nth(4)
        .map(|tree| tree.join("Tools/autotest/default_params/copter.parm"));
    match guess {
        Some(p) if p.is_file() => p,
        _ => panic!(
            "no defaults file beside {}: set ARDUPILOT_SITL_DEFAULTS to copter.parm",
            bin.display()
        ),
    }
}

/// The `agriops` binary, built by the test harness before the tests run.
fn agriops() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let bin = target.join("debug/agriops");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p web --bin agriops` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Relays one SITL serial port to whichever GCS connects: SITL connects out to `sitl_side`
/// (`tcpclient:127.0.0.1:PORT`, so nothing listens beyond loopback), a GCS connects to
/// `gcs_side`. Until a GCS is there SITL's output is drained; a GCS that leaves is replaced by
/// the next one, SITL's connection stays.
async fn relay(sitl_side: TcpListener, gcs_side: TcpListener) {
    let Ok((mut sitl, _)) = sitl_side.accept().await else {
        return;
    };
    let (mut from_sitl, mut to_sitl) = sitl.split();
    let mut buf = vec![0u8; 4096];
    loop {
        let mut gcs = tokio::select! {
            r = gcs_side.accept() => match r {
                Ok((g, _)) => g,
                Err(_) => return,
            },
            n = from_sitl.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
        };
        let (mut from_gcs, mut to_gcs) = gcs.split();
        tokio::select! {
            _ = tokio::io::copy(&mut from_gcs, &mut to_sitl) => {}
            _ = tokio::io::copy(&mut from_sitl, &mut to_gcs) => return,
        }
    }
}

/// A loopback listener on a free port.
async fn loopback() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let port = l.local_addr().expect("local addr").port();
    (l, port)
}

/// A running SITL: its folder (eeprom, logs, its output) and the loopback ports of its relays.
struct Sitl {
    _child: KillOnDrop,
    dir: tempfile::TempDir,
    /// SERIAL0: where `agriops` connects.
    gcs_port: u16,
    /// SERIAL1: the test's own observer link.
    observer_port: u16,
}

impl Sitl {
    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sitl.out")).unwrap_or_default()
    }
}

/// Starts SITL (quad `+` frame) at `home` (lat, lon, alt m), SERIAL0 and SERIAL1 relayed on
/// loopback, SERIAL2 off.
async fn start_sitl(bin: &Path, home: (f64, f64, f64)) -> Sitl {
    let defaults = sitl_defaults(bin);
    let (sitl0, sitl0_port) = loopback().await;
    let (gcs0, gcs_port) = loopback().await;
    let (sitl1, sitl1_port) = loopback().await;
    let (gcs1, observer_port) = loopback().await;
    tokio::spawn(relay(sitl0, gcs0));
    tokio::spawn(relay(sitl1, gcs1));
    // -I N offsets SITL's remaining fixed port (RC input over UDP, 5501 + 10 N): a different
    // N per test, so tests may run in parallel.
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let instance = (std::process::id() % 40) as u16
        + 1
        + 7 * NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::fs::File::create(dir.path().join("sitl.out")).expect("sitl.out");
    let err = out.try_clone().expect("sitl.out");
    let child = Command::new(bin)
        .current_dir(dir.path())
        .args(["--model", "+", "--speedup", &SPEEDUP.to_string(), "-w"])
        .arg("--defaults")
        .arg(&defaults)
        .args(["-I", &instance.to_string()])
        .args(["--home", &format!("{},{},{},0", home.0, home.1, home.2)])
        .args(["--serial0", &format!("tcpclient:127.0.0.1:{sitl0_port}")])
        .args(["--serial1", &format!("tcpclient:127.0.0.1:{sitl1_port}")])
        .args(["--serial2", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("start ArduPilot SITL");
    Sitl {
        _child: KillOnDrop(child),
        dir,
        gcs_port,
        observer_port,
    }
}

/// The test's own link to SITL (system 250, so it never mixes with `agriops`' 255).
async fn observer(sitl: &Sitl) -> (Link, Vehicle) {
    let addr = format!("tcpout:127.0.0.1:{}", sitl.observer_port);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut cfg = LinkConfig::new(LinkAddress::parse(&addr).expect("address"));
        cfg.system_id = 250;
        cfg.tlog = Some(sitl.dir.path().join("observer.tlog"));
        if let Ok(link) = Link::connect(&cfg).await {
            if let Ok(info) = link.wait_vehicle(Duration::from_secs(10)).await {
                let vehicle = Vehicle::new(link.port().clone(), info.target);
                return (link, vehicle);
            }
            link.close().await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "SITL never answered on {addr}:\n{}",
            sitl.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn param_name(id: &CharArray<16>) -> String {
    let bytes: &[u8] = &id[..];
    String::from_utf8_lossy(bytes)
        .trim_end_matches('\0')
        .to_string()
}

/// Reads one parameter (PARAM_REQUEST_READ → PARAM_VALUE).
async fn get_param(link: &Link, target: Target, name: &str) -> Option<f32> {
    let mut rx = link.port().subscribe();
    for _ in 0..5 {
        link.port()
            .send(Msg::PARAM_REQUEST_READ(apm::PARAM_REQUEST_READ_DATA {
                param_index: -1,
                target_system: target.system,
                target_component: target.component,
                param_id: CharArray::from(name),
            }))
            .expect("send");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(f)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            if let Msg::PARAM_VALUE(v) = &f.msg
                && param_name(&v.param_id) == name
            {
                return Some(v.param_value);
            }
        }
    }
    None
}

/// Sets one parameter and waits for the vehicle to report the new value.
async fn set_param(link: &Link, target: Target, name: &str, value: f32) {
    let mut rx = link.port().subscribe();
    for _ in 0..5 {
        link.port()
            .send(Msg::PARAM_SET(apm::PARAM_SET_DATA {
                param_value: value,
                target_system: target.system,
                target_component: target.component,
                param_id: CharArray::from(name),
                param_type: apm::MavParamType::MAV_PARAM_TYPE_REAL32,
            }))
            .expect("send");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(f)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            if let Msg::PARAM_VALUE(v) = &f.msg
                && param_name(&v.param_id) == name
                && (v.param_value - value).abs() < 1e-3
            {
                return;
            }
        }
    }
    panic!("{name} = {value} was never confirmed by the vehicle");
}

/// The spray drone's setup: the sprayer on SERVO9 (function 22, SprayerPump).
async fn configure_sprayer(link: &Link, target: Target) {
    // SPRAY_* exists only once SPRAY_ENABLE is 1.
    set_param(link, target, "SPRAY_ENABLE", 1.0).await;
    set_param(link, target, "SERVO9_FUNCTION", 22.0).await;
    set_param(link, target, "SPRAY_PUMP_RATE", 10.0).await;
    set_param(link, target, "SPRAY_SPEED_MIN", 100.0).await;
}

/// Waits until the vehicle reports a 3D fix, an absolute horizontal position from its EKF
/// (EKF_STATUS_REPORT flags POS_HORIZ_ABS | PRED_POS_HORIZ_ABS) and healthy pre-arm checks
/// (SYS_STATUS bit MAV_SYS_STATUS_PREARM_CHECK), all held for 3 s, so arming succeeds.
async fn wait_ready_to_arm(link: &Link, sitl: &Sitl) {
    const PREARM: u32 = 0x1000_0000;
    const EKF_POS: u16 = 16 | 512;
    let mut rx = link.port().subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let (mut fix, mut ekf, mut prearm) = (false, false, false);
    let mut ready_since: Option<tokio::time::Instant> = None;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(f)) => match &f.msg {
                Msg::GPS_RAW_INT(g) => fix = g.fix_type as u8 >= 3,
                Msg::EKF_STATUS_REPORT(e) => ekf = e.flags.bits() & EKF_POS == EKF_POS,
                Msg::SYS_STATUS(s) => {
                    prearm = s.onboard_control_sensors_health.bits() & PREARM != 0
                }
                _ => {}
            },
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "SITL not ready to arm after 180 s (fix {fix}, EKF {ekf}, pre-arm {prearm}):\n{}",
                sitl.output()
            ),
        }
        if fix && ekf && prearm {
            let since = *ready_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= Duration::from_secs(3) {
                return;
            }
        } else {
            ready_since = None;
        }
    }
}

/// Plans `field` with `agriops plan` into `out` and returns the whole-field `.plan`.
fn plan_field(field: &Path, out: &Path) -> PathBuf {
    let o = Command::new(agriops())
        .args(["plan", "--swath-width", "5", "--format", "plan", "--out"])
        .arg(out)
        .arg(field)
        .output()
        .expect("run agriops plan");
    assert!(
        o.status.success(),
        "agriops plan failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_dir(out)
        .expect("plan output")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.extension().is_some_and(|x| x == "plan") && !p.to_string_lossy().contains("_sortie")
        })
        .expect("a whole-field .plan")
}

/// A real field: the Chofu paddy (a public fude/OSM polygon with a no-spray zone).
fn real_field() -> PathBuf {
    workspace_root().join("samples/fields/chofu_paddy.kml")
}

/// Runs `agriops` with `args`, killing it after `limit`; returns (success, stdout, stderr).
fn run_agriops(args: &[String], limit: Duration) -> (bool, String, String) {
    run_bounded(Command::new(agriops()).args(args), limit)
}

/// What the vehicle reported while `agriops` flew, one row per SERVO_OUTPUT_RAW.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Simulated time, seconds since boot (SERVO_OUTPUT_RAW.time_usec).
    t: f64,
    /// MISSION_CURRENT.seq at that time.
    current: u16,
    /// Simulated time at which `current` became current.
    current_since: f64,
    pump_pwm: u16,
    armed: bool,
    rel_alt_m: f64,
}

/// Everything the observer saw.
#[derive(Debug, Default)]
struct Observed {
    samples: Vec<Sample>,
    max_rel_alt_m: f64,
    max_dist_from_home_m: f64,
    reached: Vec<u16>,
}

/// Distance in metres between two WGS84 points (equirectangular; fine over a field).
fn dist_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let k = 111_320.0;
    let dy = (a.0 - b.0) * k;
    let dx = (a.1 - b.1) * k * a.0.to_radians().cos();
    dx.hypot(dy)
}

/// Records the vehicle's own reports until `stop` fires or, with `until_disarmed`, until the
/// first report after the vehicle armed and then disarmed.
async fn observe(
    port: Port,
    home: (f64, f64),
    mut stop: tokio::sync::oneshot::Receiver<()>,
    until_disarmed: bool,
) -> Observed {
    let mut rx = port.subscribe();
    let mut o = Observed::default();
    let (mut current, mut since, mut now) = (0u16, 0.0f64, 0.0f64);
    let (mut armed, mut was_armed, mut rel_alt) = (false, false, 0.0f64);
    loop {
        let f = tokio::select! {
            _ = &mut stop => return o,
            f = rx.recv() => match f {
                Ok(f) => f,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return o,
            },
        };
        if f.system_id() != 1 || f.header.component_id != 1 {
            continue;
        }
        match &f.msg {
            Msg::HEARTBEAT(h) => {
                armed = h
                    .base_mode
                    .contains(apm::MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED)
            }
            Msg::MISSION_CURRENT(c) if c.seq != current => {
                current = c.seq;
                since = now;
            }
            Msg::MISSION_ITEM_REACHED(r) => o.reached.push(r.seq),
            Msg::GLOBAL_POSITION_INT(p) => {
                rel_alt = f64::from(p.relative_alt) / 1000.0;
                o.max_rel_alt_m = o.max_rel_alt_m.max(rel_alt);
                let here = (f64::from(p.lat) / 1e7, f64::from(p.lon) / 1e7);
                o.max_dist_from_home_m = o.max_dist_from_home_m.max(dist_m(here, home));
            }
            Msg::SERVO_OUTPUT_RAW(s) if s.port == 0 => {
                now = f64::from(s.time_usec) / 1e6;
                o.samples.push(Sample {
                    t: now,
                    current,
                    current_since: since,
                    pump_pwm: s.servo9_raw,
                    armed,
                    rel_alt_m: rel_alt,
                });
                was_armed |= armed;
                if until_disarmed && was_armed && !armed {
                    return o;
                }
            }
            _ => {}
        }
    }
}

/// The pump state the plan commands while flying towards each NAV item (vehicle seq), and
/// whether that item is a takeoff, landing or return (where the pump must be off).
fn commanded_by_seq(items: &[MissionItem]) -> Vec<(bool, bool)> {
    let mut on = false;
    items
        .iter()
        .map(|it| {
            if let Some(s) = it.spray_command() {
                on = s;
            }
            (on, (20..=22).contains(&it.command))
        })
        .collect()
}

/// Judges a flight from the vehicle's own reports: it flew at about the spray height near the
/// field and landed disarmed; SERVO9 pumped along the spray legs and never on transits,
/// takeoff or landing.
fn judge(seen: &Observed, items: &[MissionItem]) {
    // It flew: off the ground at about the spray height, near the field, and back down.
    assert!(
        seen.max_rel_alt_m > 1.5,
        "never climbed: max {:.1} m",
        seen.max_rel_alt_m
    );
    assert!(
        seen.max_dist_from_home_m < 300.0,
        "strayed {:.0} m from home",
        seen.max_dist_from_home_m
    );
    let last = seen.samples.last().expect("SERVO_OUTPUT_RAW samples");
    assert!(
        !last.armed && last.rel_alt_m < 0.5,
        "not landed and disarmed: {last:?}"
    );

    // The pump, as the vehicle drives SERVO9: on along the spray legs, off on transits,
    // takeoff and landing.
    let commanded = commanded_by_seq(items);
    let (mut on_samples, mut on_pumping) = (0usize, 0usize);
    let mut wrongly_on = Vec::new();
    for s in seen.samples.iter().filter(|s| s.armed) {
        if s.t - s.current_since < GRACE_S || s.current == 0 {
            continue;
        }
        let Some(&(spray, no_spray_item)) = commanded.get(usize::from(s.current)) else {
            continue;
        };
        let pumping = s.pump_pwm > PUMP_OFF_PWM + PUMP_ON_MARGIN;
        if spray && !no_spray_item {
            on_samples += 1;
            on_pumping += usize::from(pumping);
        } else if pumping {
            wrongly_on.push(*s);
        }
    }
    assert!(
        wrongly_on.is_empty(),
        "pump on where the plan has it off (first of {}): {:?}",
        wrongly_on.len(),
        wrongly_on.first()
    );
    eprintln!(
        "spray legs: pump on in {on_pumping} of {on_samples} samples; {} samples in all; reached {:?}",
        seen.samples.len(),
        seen.reached
    );
    assert!(on_samples > 0, "no samples on spray legs");
    assert!(
        on_pumping * 2 >= on_samples,
        "pump on in only {on_pumping} of {on_samples} samples on spray legs"
    );
}

/// Asks the vehicle for the number of items it holds of `kind` (MISSION_REQUEST_LIST).
async fn vehicle_count(vehicle: &Vehicle, kind: MissionKind) -> usize {
    vehicle
        .download(kind)
        .await
        .unwrap_or_else(|e| panic!("download {kind:?}: {e}"))
        .len()
}

/// Plans the real field, starts SITL at its refill point and configures the sprayer.
async fn rig(test: &str) -> Option<(Sitl, Link, Vehicle, PathBuf, Plan, tempfile::TempDir)> {
    let bin = sitl_bin(test)?;
    let work = tempfile::tempdir().expect("tempdir");
    let plan_path = plan_field(&real_field(), work.path());
    let plan = Plan::read(&plan_path).expect("planned .plan");
    let home = plan.home.expect("the plan has a home");
    let sitl = start_sitl(&bin, home).await;
    let (link, vehicle) = observer(&sitl).await;
    configure_sprayer(&link, vehicle.target()).await;
    for (msgid, hz) in [
        (36, 10.0),
        (33, 5.0),
        (42, 5.0),
        (1, 2.0),
        (24, 2.0),
        (193, 2.0),
    ] {
        let _ = vehicle.request_message_interval(msgid, hz).await;
    }
    // Fully booted (a fresh SITL refuses missions with NO_SPACE for its first moments).
    wait_ready_to_arm(&link, &sitl).await;
    Some((sitl, link, vehicle, plan_path, plan, work))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_flies_a_planned_sortie_with_the_pump_on_only_on_spray_legs() {
    let test = "sitl_flies_a_planned_sortie_with_the_pump_on_only_on_spray_legs";
    let Some((sitl, link, vehicle, plan_path, plan, work)) = rig(test).await else {
        return;
    };
    let sortie = plan.sortie(1, &plan_path).expect("sortie 1");
    let items = sortie.mission_items();
    let home = plan.home.expect("home");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(observe(
        link.port().clone(),
        (home.0, home.1),
        stop_rx,
        false,
    ));
    let args: Vec<String> = vec![
        "fly".into(),
        "--connect".into(),
        format!("tcpout:127.0.0.1:{}", sitl.gcs_port),
        plan_path.display().to_string(),
        "--sortie".into(),
        "1".into(),
        "--yes".into(),
        "--enable-fence".into(),
        "--land-wait-s".into(),
        "60".into(),
        "--tlog".into(),
        work.path().join("fly.tlog").display().to_string(),
    ];
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || run_agriops(&args, Duration::from_secs(600)))
            .await
            .expect("agriops task");
    // Let the last reports arrive, then stop observing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(());
    let seen = watcher.await.expect("observer");
    assert!(ok, "agriops fly failed\nstdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("Mission complete"), "{out}");

    judge(&seen, &items);
    // The fence agriops uploaded was switched on (with --enable-fence) and would act.
    let target = vehicle.target();
    assert_eq!(
        get_param(&link, target, "FENCE_ENABLE").await,
        Some(1.0),
        "FENCE_ENABLE"
    );

    // What agriops makes of its own record: the spray legs were covered.
    let records = read_tlog(&work.path().join("fly.tlog")).expect("the flight record");
    let track = track_from_records(&records, Some(&sortie), SprayerOutput::default());
    let cov = coverage(&track, &sortie.spray_legs(), 5.0).expect("coverage");
    assert!(cov.covered_pct > 80.0, "as-applied coverage {cov:?}");
    link.close().await;
    drop(sitl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_holds_the_mission_fence_and_rally_agriops_uploaded() {
    let test = "sitl_holds_the_mission_fence_and_rally_agriops_uploaded";
    let Some((sitl, link, vehicle, plan_path, plan, work)) = rig(test).await else {
        return;
    };
    let sortie = plan.sortie(1, &plan_path).expect("sortie 1");
    let args: Vec<String> = vec![
        "fly".into(),
        "--connect".into(),
        format!("tcpout:127.0.0.1:{}", sitl.gcs_port),
        plan_path.display().to_string(),
        "--sortie".into(),
        "1".into(),
        "--upload-only".into(),
        "--tlog".into(),
        work.path().join("upload.tlog").display().to_string(),
    ];
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || run_agriops(&args, Duration::from_secs(120)))
            .await
            .expect("agriops task");
    assert!(
        ok,
        "agriops fly --upload-only failed\nstdout:\n{out}\nstderr:\n{err}"
    );

    // From the vehicle: the lists it holds and the parameters that count them.
    let target = vehicle.target();
    assert_eq!(
        vehicle_count(&vehicle, MissionKind::Mission).await,
        sortie.mission_items().len()
    );
    let fence = sortie.fence_items();
    assert!(!fence.is_empty(), "the plan has a fence");
    assert_eq!(
        vehicle_count(&vehicle, MissionKind::Fence).await,
        fence.len()
    );
    assert_eq!(
        vehicle_count(&vehicle, MissionKind::Rally).await,
        sortie.rally_items().len()
    );
    // FENCE_TOTAL counts polygon vertices + 2 (ArduPilot's old fence protocol: return point
    // and closing point), not the items of the list.
    let fence_total = get_param(&link, target, "FENCE_TOTAL").await;
    assert_eq!(fence_total, Some(fence.len() as f32 + 2.0), "FENCE_TOTAL");
    let rally_total = get_param(&link, target, "RALLY_TOTAL").await;
    assert_eq!(
        rally_total,
        Some(sortie.rally_items().len() as f32),
        "RALLY_TOTAL"
    );
    drop(sitl);
}

/// Pins what ArduPilot stores of agriops' items (the facts the read-back rules must accept):
/// NAV_LAND param4 NaN comes back +1, TAKEOFF param4 NaN comes back 0, DO items come back
/// with frame 0 and no position, seq 0 is the vehicle's home. Uploads without verification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_stores_items_as_ardupilot_documents() {
    let test = "sitl_stores_items_as_ardupilot_documents";
    let Some((sitl, _link, vehicle, plan_path, plan, _work)) = rig(test).await else {
        return;
    };
    let items = plan
        .sortie(1, &plan_path)
        .expect("sortie 1")
        .mission_items();
    vehicle
        .upload(MissionKind::Mission, &items)
        .await
        .expect("upload (not verified)");
    let back = vehicle
        .download(MissionKind::Mission)
        .await
        .expect("download");
    assert_eq!(back.len(), items.len());
    for (s, g) in items.iter().zip(&back).skip(1) {
        assert_eq!(s.command, g.command, "{s:?} / {g:?}");
        match s.command {
            21 => {
                assert!(s.params[3].is_nan(), "agriops sends LAND yaw as NaN");
                assert_eq!(g.params[3], 1.0, "LAND param4 NaN reads back +1: {g:?}");
            }
            22 => assert_eq!(g.params[3], 0.0, "TAKEOFF param4 NaN reads back 0: {g:?}"),
            _ => {}
        }
        if s.is_nav_with_position() {
            assert_eq!((g.frame, g.x, g.y), (s.frame, s.x, s.y), "{g:?}");
            assert!((g.z - s.z).abs() < 0.01, "{g:?}");
        } else {
            assert_eq!((g.frame, g.x, g.y, g.z), (0, 0, 0, 0.0), "{g:?}");
            assert_eq!(g.params[0], s.params[0], "{g:?}");
        }
    }
    drop(sitl);
}

/// ArduPilot Copter denies MAV_CMD_MISSION_START with a first/last item (the resume path
/// sends it); MISSION_SET_CURRENT followed by MISSION_START [0, 0] is how to start mid-mission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_denies_mission_start_with_first_and_last_items() {
    let test = "sitl_denies_mission_start_with_first_and_last_items";
    let Some((sitl, _link, vehicle, plan_path, plan, _work)) = rig(test).await else {
        return;
    };
    let items = plan
        .sortie(1, &plan_path)
        .expect("sortie 1")
        .mission_items();
    vehicle
        .upload(MissionKind::Mission, &items)
        .await
        .expect("upload");
    let last = (items.len() - 1) as f32;
    let r = vehicle
        .command(
            apm::MavCmd::MAV_CMD_MISSION_START,
            [3.0, last, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    match r {
        Err(Error::CommandRejected { result, .. }) => {
            assert_eq!(result, "MAV_RESULT_DENIED")
        }
        other => panic!("MISSION_START [3, {last}] was not denied: {other:?}"),
    }
    vehicle.set_current(3).await.expect("MISSION_SET_CURRENT 3");
    drop(sitl);
}

/// The planner's mission itself on the real autopilot, flown through the telemetry crate
/// without read-back verification (so it does not wait for the read-back rules): the pump
/// follows the spray legs exactly as the plan commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_flies_the_planned_items_with_the_pump_on_only_on_spray_legs() {
    let test = "sitl_flies_the_planned_items_with_the_pump_on_only_on_spray_legs";
    let Some((sitl, link, vehicle, plan_path, plan, _work)) = rig(test).await else {
        return;
    };
    let items = plan
        .sortie(1, &plan_path)
        .expect("sortie 1")
        .mission_items();
    let home = plan.home.expect("home");
    vehicle
        .upload(MissionKind::Mission, &items)
        .await
        .expect("upload");
    let (_stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(observe(
        link.port().clone(),
        (home.0, home.1),
        stop_rx,
        true,
    ));
    vehicle.set_mode("GUIDED").await.expect("GUIDED");
    vehicle.arm().await.expect("arm");
    vehicle
        .command(apm::MavCmd::MAV_CMD_MISSION_START, [0.0; 7])
        .await
        .expect("MISSION_START [0, 0]");
    let seen = tokio::time::timeout(Duration::from_secs(400), watcher)
        .await
        .unwrap_or_else(|_| panic!("the flight did not end in 400 s:\n{}", sitl.output()))
        .expect("observer");
    judge(&seen, &items);
    // The observer's own record, read as agriops reads a flight: the spray legs were covered.
    let sortie = plan.sortie(1, &plan_path).expect("sortie 1");
    let records = read_tlog(&sitl.dir.path().join("observer.tlog")).expect("observer record");
    let track = track_from_records(&records, Some(&sortie), SprayerOutput::default());
    let cov = coverage(&track, &sortie.spray_legs(), 5.0).expect("coverage");
    let just_above_min = SprayerOutput {
        servo: 9,
        on_at_or_above_pwm: PUMP_OFF_PWM + PUMP_ON_MARGIN,
    };
    let track_min = track_from_records(&records, Some(&sortie), just_above_min);
    let cov_min = coverage(&track_min, &sortie.spray_legs(), 5.0).expect("coverage");
    eprintln!(
        "as-applied coverage from the observer's record: {:.1} % (pump on at >= 1300 us), {:.1} % (on above {} us)",
        cov.covered_pct,
        cov_min.covered_pct,
        PUMP_OFF_PWM + PUMP_ON_MARGIN
    );
    // ArduPilot reports no MISSION_ITEM_REACHED for the final NAV_LAND: it disarms instead.
    let last = (items.len() - 1) as u16;
    assert!(!seen.reached.contains(&last), "{:?}", seen.reached);
    link.close().await;
    drop(sitl);
}
