//! The ArduPilot Copter SITL rig shared by the real-autopilot tests: start `arducopter` (built
//! from ArduPilot's own source outside this repository, named by `ARDUPILOT_SITL_BIN`) on
//! loopback, configure the sprayer, watch what the vehicle itself reports, and judge a flight
//! from it. `ARDUPILOT_SITL_DEFAULTS` names the defaults file (`Tools/autotest/default_params/
//! copter.parm` of the same source tree); without it the file is looked up beside the binary's
//! source tree (`build/sitl/bin/arducopter`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{KillOnDrop, agriops, run_bounded, workspace_root};
use telemetry::mavlink::dialects::ardupilotmega as apm;
use telemetry::mavlink::types::CharArray;
use telemetry::{
    Link, LinkAddress, LinkConfig, MissionItem, MissionKind, Msg, Plan, Port, Target, Vehicle,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Live state and the observer of a flight.
pub mod live;
/// GEOS measures of a flight: fence, spray legs, sprayed area.
pub mod measure;

/// The simulation runs this many times faster than the wall clock.
pub const SPEEDUP: u32 = 3;
/// SERVO9_MIN, the pump's off output, as ArduPilot's default.
pub const PUMP_OFF_PWM: u16 = 1100;
/// An output this far above SERVO9_MIN counts as the pump running.
pub const PUMP_ON_MARGIN: u16 = 50;
/// Simulated seconds after a change of mission item in which the pump may still follow the
/// previous item (AC_Sprayer: 3 Hz update, 0.1 s turn-on delay, 1 s shut-off delay).
pub const GRACE_S: f64 = 1.5;

/// The SITL binary from `ARDUPILOT_SITL_BIN`, or `None` after printing why `test` is skipped.
pub fn sitl_bin(test: &str) -> Option<PathBuf> {
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
pub fn sitl_defaults(bin: &Path) -> PathBuf {
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

/// Relays one SITL serial port to whichever GCS connects: SITL connects out to `sitl_side`
/// (`tcpclient:127.0.0.1:PORT`, so nothing listens beyond loopback), a GCS connects to
/// `gcs_side`. Until a GCS is there SITL's output is drained; a GCS that leaves is replaced by
/// the next one, SITL's connection stays.
pub async fn relay(sitl_side: TcpListener, gcs_side: TcpListener) {
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
pub async fn loopback() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let port = l.local_addr().expect("local addr").port();
    (l, port)
}

/// A running SITL: its folder (eeprom, logs, its output) and the loopback ports of its relays.
pub struct Sitl {
    _child: KillOnDrop,
    /// Its folder: eeprom, logs, its output (`sitl.out`), the observer's `.tlog`.
    pub dir: tempfile::TempDir,
    /// SERIAL0: where `agriops` connects.
    pub gcs_port: u16,
    /// SERIAL1: the test's own observer link.
    pub observer_port: u16,
}

impl Sitl {
    /// What SITL printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sitl.out")).unwrap_or_default()
    }
}

/// Starts SITL (quad `+` frame) at `home` (lat, lon, alt m), `speedup` times faster than the
/// wall clock, SERIAL0 and SERIAL1 relayed on
/// loopback, SERIAL2 off.
pub async fn start_sitl(bin: &Path, home: (f64, f64, f64), speedup: u32) -> Sitl {
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
        .args(["--model", "+", "--speedup", &speedup.to_string(), "-w"])
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
pub async fn observer(sitl: &Sitl) -> (Link, Vehicle) {
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

/// A parameter id as text.
pub fn param_name(id: &CharArray<16>) -> String {
    let bytes: &[u8] = &id[..];
    String::from_utf8_lossy(bytes)
        .trim_end_matches('\0')
        .to_string()
}

/// Reads one parameter (PARAM_REQUEST_READ → PARAM_VALUE).
pub async fn get_param(link: &Link, target: Target, name: &str) -> Option<f32> {
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
pub async fn set_param(link: &Link, target: Target, name: &str, value: f32) {
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
pub async fn configure_sprayer(link: &Link, target: Target) {
    // SPRAY_* exists only once SPRAY_ENABLE is 1.
    set_param(link, target, "SPRAY_ENABLE", 1.0).await;
    set_param(link, target, "SERVO9_FUNCTION", 22.0).await;
    set_param(link, target, "SPRAY_PUMP_RATE", 10.0).await;
    set_param(link, target, "SPRAY_SPEED_MIN", 100.0).await;
}

/// Asks the vehicle for what the tests judge and wait on: SERVO_OUTPUT_RAW 10 Hz,
/// GLOBAL_POSITION_INT and MISSION_CURRENT 5 Hz, SYS_STATUS, GPS_RAW_INT and
/// EKF_STATUS_REPORT 2 Hz (the last three for [`wait_ready_to_arm`]).
pub async fn stream_reports(vehicle: &Vehicle) {
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
}

/// Waits until the vehicle reports a 3D fix, an absolute horizontal position from its EKF
/// (EKF_STATUS_REPORT flags POS_HORIZ_ABS | PRED_POS_HORIZ_ABS) and healthy pre-arm checks
/// (SYS_STATUS bit MAV_SYS_STATUS_PREARM_CHECK), all held for 3 s, so arming succeeds.
pub async fn wait_ready_to_arm(link: &Link, sitl: &Sitl) {
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
pub fn plan_field(field: &Path, out: &Path) -> PathBuf {
    plan_field_with(field, out, &[])
}

/// As [`plan_field`], with `extra` arguments for `agriops plan` (tank, refill, rate …).
pub fn plan_field_with(field: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let o = Command::new(agriops())
        .args(["plan", "--swath-width", "5", "--format", "plan", "--out"])
        .arg(out)
        .args(extra)
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
pub fn real_field() -> PathBuf {
    workspace_root().join("samples/fields/chofu_paddy.kml")
}

/// Runs `agriops` with `args`, killing it after `limit`; returns (success, stdout, stderr).
pub fn run_agriops(args: &[String], limit: Duration) -> (bool, String, String) {
    run_bounded(Command::new(agriops()).args(args), limit)
}

/// What the vehicle reported while `agriops` flew, one row per SERVO_OUTPUT_RAW.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Simulated time, seconds since boot (SERVO_OUTPUT_RAW.time_usec).
    pub t: f64,
    /// When the observer received the report (wall clock).
    pub at: std::time::Instant,
    /// MISSION_CURRENT.seq at that time.
    pub current: u16,
    /// Simulated time at which `current` became current.
    pub current_since: f64,
    /// SERVO9's output, microseconds.
    pub pump_pwm: u16,
    /// HEARTBEAT's armed flag.
    pub armed: bool,
    /// GLOBAL_POSITION_INT.relative_alt, metres.
    pub rel_alt_m: f64,
    /// GLOBAL_POSITION_INT position (lat, lon), degrees; `None` before the first report.
    pub pos: Option<(f64, f64)>,
    /// HEARTBEAT custom_mode (ArduCopter flight mode number).
    pub mode: u32,
}

/// Everything the observer saw.
#[derive(Debug, Default)]
pub struct Observed {
    /// One row per SERVO_OUTPUT_RAW.
    pub samples: Vec<Sample>,
    /// Highest altitude above home, metres.
    pub max_rel_alt_m: f64,
    /// Farthest distance from home, metres.
    pub max_dist_from_home_m: f64,
    /// MISSION_ITEM_REACHED seqs in order.
    pub reached: Vec<u16>,
}

/// Distance in metres between two WGS84 points (equirectangular; fine over a field).
pub fn dist_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let k = 111_320.0;
    let dy = (a.0 - b.0) * k;
    let dx = (a.1 - b.1) * k * a.0.to_radians().cos();
    dx.hypot(dy)
}

/// Records the vehicle's own reports until `stop` fires or, with `until_disarmed`, until the
/// first report after the vehicle armed and then disarmed.
pub async fn observe(
    port: Port,
    home: (f64, f64),
    mut stop: tokio::sync::oneshot::Receiver<()>,
    until_disarmed: bool,
) -> Observed {
    let mut rx = port.subscribe();
    let mut o = Observed::default();
    let (mut current, mut since, mut now) = (0u16, 0.0f64, 0.0f64);
    let (mut armed, mut was_armed, mut rel_alt) = (false, false, 0.0f64);
    let (mut pos, mut mode) = (None, 0u32);
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
                    .contains(apm::MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED);
                mode = h.custom_mode;
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
                pos = Some(here);
                o.max_dist_from_home_m = o.max_dist_from_home_m.max(dist_m(here, home));
            }
            Msg::SERVO_OUTPUT_RAW(s) if s.port == 0 => {
                now = f64::from(s.time_usec) / 1e6;
                o.samples.push(Sample {
                    t: now,
                    current,
                    current_since: since,
                    at: std::time::Instant::now(),
                    pump_pwm: s.servo9_raw,
                    armed,
                    rel_alt_m: rel_alt,
                    pos,
                    mode,
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

/// Flies the mission already on the vehicle from the ground, as a pilot's ground station
/// would (GUIDED, arm, MISSION_START [0, 0]), and returns what the observer saw until the
/// vehicle disarmed; fails the test after `limit`.
pub async fn fly_stored_mission(
    sitl: &Sitl,
    link: &Link,
    vehicle: &Vehicle,
    home: (f64, f64),
    limit: Duration,
) -> Observed {
    let (_stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(observe(link.port().clone(), home, stop_rx, true));
    vehicle.set_mode("GUIDED").await.expect("GUIDED");
    vehicle.arm().await.expect("arm");
    vehicle
        .command(apm::MavCmd::MAV_CMD_MISSION_START, [0.0; 7])
        .await
        .expect("MISSION_START [0, 0]");
    tokio::time::timeout(limit, watcher)
        .await
        .unwrap_or_else(|_| panic!("the flight did not end in {limit:?}:\n{}", sitl.output()))
        .expect("observer")
}

/// The pump state the plan commands while flying towards each NAV item (vehicle seq), and
/// whether that item is a takeoff, landing or return (where the pump must be off).
pub fn commanded_by_seq(items: &[MissionItem]) -> Vec<(bool, bool)> {
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
pub fn judge(seen: &Observed, items: &[MissionItem]) {
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
pub async fn vehicle_count(vehicle: &Vehicle, kind: MissionKind) -> usize {
    vehicle
        .download(kind)
        .await
        .unwrap_or_else(|e| panic!("download {kind:?}: {e}"))
        .len()
}

/// What [`rig`] returns: SITL, the observer's link and vehicle, the whole-field `.plan` and
/// its parsed form, and the folder it was planned in.
pub type Rig = (Sitl, Link, Vehicle, PathBuf, Plan, tempfile::TempDir);

/// Plans the real field, starts SITL at its refill point and configures the sprayer.
pub async fn rig(test: &str) -> Option<Rig> {
    rig_with(test, &real_field(), &[], SPEEDUP).await
}

/// As [`rig`] for `field` planned with `extra` arguments, SITL running `speedup` times faster
/// than the wall clock.
pub async fn rig_with(test: &str, field: &Path, extra: &[&str], speedup: u32) -> Option<Rig> {
    let bin = sitl_bin(test)?;
    let work = tempfile::tempdir().expect("tempdir");
    let plan_path = plan_field_with(field, work.path(), extra);
    let plan = Plan::read(&plan_path).expect("planned .plan");
    let home = plan.home.expect("the plan has a home");
    let sitl = start_sitl(&bin, home, speedup).await;
    let (link, vehicle) = observer(&sitl).await;
    configure_sprayer(&link, vehicle.target()).await;
    stream_reports(&vehicle).await;
    // Fully booted (a fresh SITL refuses missions with NO_SPACE for its first moments).
    wait_ready_to_arm(&link, &sitl).await;
    Some((sitl, link, vehicle, plan_path, plan, work))
}
