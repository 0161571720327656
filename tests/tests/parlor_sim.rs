//! End-to-end: the parlor bridge against `../shared/parlor/sim.py` (pymodbus) with every fault
//! on, judged by `check_truth.py` on the per-milking export: 0 double-counted, and 0 lost of
//! the milkings the bridge could have read.
//!
//! The simulator's restarts are non-retentive (sim.py `controller_restart`: `last_*` and
//! `milking_seq` of every bail go back to 0), as on a real controller without battery-backed
//! memory. A milking that completes while the bridge cannot read (a dropped connection, its
//! 0.5 s outage, a timed-out request) and is wiped by such a restart before the next read is
//! gone from the controller: no poller can record it. The bridge logs every read of the bail
//! registers (a trace event with its start and end); from that log and the truth file each
//! milking the bridge missed is classed as certainly unreadable (no read overlapped the time
//! the controller showed it), readable (a complete read started after it appeared and ended
//! before it was wiped) or in between. The check is exact: the checker's count of missed
//! milkings must lie between the certainly-unreadable count and that plus the in-between ones,
//! so one readable milking lost fails the test, and so does a classification that excuses
//! more than was missed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;

use agriops_e2e::{KillOnDrop, free_tcp_port, require_peer_python, require_shared, wait_for_file};
use parlor_bridge::{Bridge, BridgeConfig, DeviceConfig, Sink, Store};

/// The two runs share two CPU cores with pymodbus: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Real seconds the simulator runs.
const DURATION_S: u64 = 45;

struct Run {
    _dir: Option<tempfile::TempDir>,
    truth: PathBuf,
    export: PathBuf,
    shared: PathBuf,
    python: PathBuf,
    /// The bridge's reads of the bail registers during this run.
    reads: Vec<BailRead>,
    /// When the bridge saw each milking it recorded, UNIX s, with the parlor's unit.
    recorded: Vec<(u8, f64)>,
}

/// One read of a parlor's bail registers, from the bridge's `Bail registers read.` trace event.
#[derive(Debug, Clone, Default)]
struct BailRead {
    device: String,
    started_ms: i64,
    finished_ms: i64,
    complete: bool,
}

impl tracing::field::Visit for BailRead {
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        match field.name() {
            "started_ms" => self.started_ms = value,
            "finished_ms" => self.finished_ms = value,
            _ => {}
        }
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        if field.name() == "complete" {
            self.complete = value;
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "device" {
            self.device = value.to_owned();
        }
    }
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

/// Collects the bridge's bail-read events of this process (the runs take turns: see `SERIAL`).
#[derive(Clone, Default)]
struct ReadLog(Arc<Mutex<Vec<BailRead>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ReadLog {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut read = BailRead::default();
        event.record(&mut read);
        if !read.device.is_empty() && read.finished_ms > 0 {
            self.0.lock().unwrap().push(read);
        }
    }
}

/// The process's read log, installed once as the global subscriber (trace level for the
/// bridge's events only).
fn read_log() -> &'static ReadLog {
    static LOG: OnceLock<ReadLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = ReadLog::default();
        let filter = tracing_subscriber::filter::filter_fn(|m| {
            m.target() == "parlor_bridge::events" && m.level() == &tracing::Level::TRACE
        });
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::Layer::with_filter(log.clone(), filter));
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other subscriber in this test binary");
        log
    })
}

/// Drains what the bridge logged since the last call.
fn take_reads() -> Vec<BailRead> {
    std::mem::take(&mut *read_log().0.lock().unwrap())
}

fn start_sim(
    python: &Path,
    shared: &Path,
    map: &str,
    port: u16,
    framer: &str,
    truth: &Path,
) -> KillOnDrop {
    let child = Command::new(python)
        .arg(shared.join("parlor/sim.py"))
        .args([
            "--map",
            map,
            "--parlors",
            "3",
            "--bails",
            "24",
            "--port",
            &port.to_string(),
            "--framer",
            framer,
        ])
        .args([
            "--speedup",
            "20",
            "--seed",
            "4",
            "--tick",
            "0.05",
            "--duration",
            &DURATION_S.to_string(),
        ])
        .args([
            "--drop-every",
            "8",
            "--outage",
            "0.5",
            "--delay-ms",
            "1:5",
            "--exception-rate",
            "0.02",
        ])
        .args([
            "--timeout-rate",
            "0.002",
            "--garbage",
            "0.01",
            "--restart-every",
            "20",
            "--boot-s",
            "1",
            "--near-wrap",
        ])
        .arg("--truth")
        .arg(truth)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sim.py");
    KillOnDrop(child)
}

fn config(map: &Path, address: &str) -> BridgeConfig {
    BridgeConfig {
        bridge_id: "e2e".into(),
        store: None,
        server: None,
        mqtt: None,
        devices: (1..=3u8)
            .map(|unit| {
                let mut d = DeviceConfig::new(&format!("parlor-{unit}"), address, unit, map);
                d.farm = "test-farm".into();
                d.status_interval_ms = 50;
                d.totals_interval_ms = 100;
                d.bail_interval_ms = 20;
                d.timeout_ms = 250;
                d.offline_after_ms = 2000;
                d.kpi_interval_s = 10;
                d
            })
            .collect(),
    }
}

async fn wait_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sim.py did not listen on {port}");
}

/// Runs sim.py and the bridge; with `crash_at`, aborts the bridge then (a crash: no final write) and starts a new one on the same database.
async fn run(
    test: &str,
    framer: &str,
    address_scheme: &str,
    map_arg: Option<&Path>,
    crash_at: Option<u64>,
) -> Option<Run> {
    let shared = require_shared(test)?;
    let python = require_peer_python(test)?;
    let _one_at_a_time = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let db = dir.path().join("bridge.db");
    let export = dir.path().join("export.csv");
    let port = free_tcp_port();
    let map_path = map_arg.map_or_else(|| shared.join("parlor/map_a.toml"), Path::to_path_buf);
    let mut sim = start_sim(
        &python,
        &shared,
        map_path.to_str().unwrap(),
        port,
        framer,
        &truth,
    );
    assert!(
        wait_for_file(&truth, Duration::from_secs(20)),
        "sim.py wrote no truth file"
    );
    wait_port(port).await;
    let cfg = config(&map_path, &format!("{address_scheme}:127.0.0.1:{port}"));
    take_reads();
    let mut bridge = Bridge::start(&cfg, Sink::Local(db.clone()))
        .await
        .expect("bridge starts");
    let started = std::time::Instant::now();
    if let Some(at) = crash_at {
        tokio::time::sleep(Duration::from_secs(at)).await;
        bridge.abort();
        tokio::time::sleep(Duration::from_millis(300)).await;
        bridge = Bridge::start(&cfg, Sink::Local(db.clone()))
            .await
            .expect("bridge restarts");
    }
    // Poll until the simulator stops (bounded), then stop cleanly.
    let deadline = Duration::from_secs(DURATION_S + 20);
    loop {
        if sim.0.try_wait().ok().flatten().is_some() || started.elapsed() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bridge.stop().await;
    let reads = take_reads();
    let _ = sim.0.wait();
    let store = Store::open(&db, false).await.unwrap();
    let rows = store
        .milkings_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    let mut f = std::fs::File::create(&export).unwrap();
    parlor_bridge::write_milkings_csv(&mut f, &rows).unwrap();
    eprintln!("{test}: {} milkings recorded", rows.len());
    assert!(rows.len() > 40, "too few milkings recorded: {}", rows.len());
    let dir = keep_if_asked(test, dir);
    Some(Run {
        _dir: dir,
        truth,
        export,
        shared,
        python,
        reads,
        recorded: recorded(&rows),
    })
}

/// With `AGRIOPS_KEEP_RUN=1` the truth, the bridge's database and its export outlive the test, for
/// diagnosing a failed comparison by hand (its path is printed).
fn keep_if_asked(test: &str, dir: tempfile::TempDir) -> Option<tempfile::TempDir> {
    if std::env::var_os("AGRIOPS_KEEP_RUN").is_some() {
        eprintln!("{test}: run kept in {}", dir.keep().display());
        None
    } else {
        Some(dir)
    }
}

fn check_truth(r: &Run) -> serde_json::Value {
    let out = Command::new(&r.python)
        .arg(r.shared.join("parlor/check_truth.py"))
        .arg("--truth")
        .arg(&r.truth)
        .arg("--bridge")
        .arg(&r.export)
        .arg("--json")
        .output()
        .expect("run check_truth.py");
    let text = String::from_utf8_lossy(&out.stdout);
    let json_end = text.rfind('}').map_or(0, |i| i + 1);
    let report: serde_json::Value = serde_json::from_str(&text[..json_end])
        .unwrap_or_else(|e| panic!("check_truth output {text}: {e}"));
    eprintln!("check_truth: {report}");
    report
}

fn recorded(rows: &[parlor_bridge::wire::MilkingEvent]) -> Vec<(u8, f64)> {
    rows.iter()
        .map(|m| (m.unit, m.t.timestamp_millis() as f64 / 1000.0))
        .collect()
}

/// check_truth.py's default `--edge`: truth milkings this close to the last record are not
/// counted as missed.
const CHECKER_EDGE_S: f64 = 5.0;
/// The simulator's tick (`--tick`): a milking's registers change at the end of the tick its
/// truth time falls in, so a read must start this much later to be sure to see it.
const SIM_TICK_S: f64 = 0.05;

/// What the controller showed of the milkings in the checker's window that the bridge could
/// not have read, judged from its read log.
#[derive(Debug, Default)]
struct Readability {
    /// No read overlapped the time the controller showed the milking.
    unreadable: Vec<serde_json::Value>,
    /// Some read overlapped it, but none complete read started after it appeared and ended
    /// before it was wiped.
    in_between: Vec<serde_json::Value>,
}

fn readability(r: &Run) -> Readability {
    let text = std::fs::read_to_string(&r.truth).expect("read truth");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let milkings: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["type"] == "milking").collect();
    let restarts: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["type"] == "fault" && l["kind"] == "restart")
        .collect();
    let mut out = Readability::default();
    let units: std::collections::BTreeSet<u8> = r.recorded.iter().map(|(u, _)| *u).collect();
    let t_min = r
        .recorded
        .iter()
        .map(|(_, t)| *t)
        .fold(f64::INFINITY, f64::min);
    let t_max = r
        .recorded
        .iter()
        .map(|(_, t)| *t)
        .fold(f64::NEG_INFINITY, f64::max);
    for m in &milkings {
        let (parlor, bail, shown) = (m["parlor"].as_u64(), m["bail"].as_u64(), f(m, "t_wall"));
        let Some(unit) = parlor.and_then(|p| u8::try_from(p).ok()) else {
            continue;
        };
        if !units.contains(&unit) || shown < t_min || shown > t_max - CHECKER_EDGE_S {
            continue;
        }
        // Shown until the bail's next milking replaced it or a restart of its parlor wiped it.
        let replaced = milkings
            .iter()
            .filter(|n| n["parlor"].as_u64() == parlor && n["bail"].as_u64() == bail)
            .map(|n| f(n, "t_wall"))
            .filter(|t| *t > shown);
        let wiped = restarts
            .iter()
            .filter(|x| x["parlor"].as_u64() == parlor)
            .map(|x| f(x, "t_wall"))
            .filter(|t| *t > shown);
        let gone = replaced.chain(wiped).fold(f64::INFINITY, f64::min);
        let device = format!("parlor-{unit}");
        let reads = r.reads.iter().filter(|x| x.device == device);
        let (mut readable, mut touched) = (false, false);
        for x in reads {
            let (a, b) = (x.started_ms as f64 / 1000.0, x.finished_ms as f64 / 1000.0);
            readable |= x.complete && a >= shown + 2.0 * SIM_TICK_S && b <= gone;
            touched |= b > shown && a < gone + SIM_TICK_S;
        }
        if readable {
            continue;
        }
        let note = serde_json::json!({"milking": m, "shown_s": gone - shown});
        if touched {
            out.in_between.push(note);
        } else {
            out.unreadable.push(note);
        }
    }
    out
}

fn assert_exact(r: &Run, report: &serde_json::Value) {
    assert_eq!(report["mode"], "per-cow");
    let missed = report["missed_in_window"]
        .as_u64()
        .expect("missed_in_window") as usize;
    let gone = readability(r);
    eprintln!(
        "missed {missed}; unreadable {} {:?}; in between {} {:?}; {} bail reads",
        gone.unreadable.len(),
        gone.unreadable,
        gone.in_between.len(),
        gone.in_between,
        r.reads.len()
    );
    assert!(
        missed <= gone.unreadable.len() + gone.in_between.len(),
        "lost milkings the bridge could read: {report}"
    );
    assert!(
        missed >= gone.unreadable.len(),
        "the read log excuses more milkings than were missed: {report}"
    );
    assert_eq!(report["extra"], 0, "records matching no milking: {report}");
    assert_eq!(report["duplicates"], 0, "double-counted milkings: {report}");
    assert!(
        report["faults_in_truth"].as_u64().unwrap_or(0) > 0,
        "no faults were injected"
    );
    assert!(
        r.reads.len() > 100,
        "the bridge's bail reads were not logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_every_fault_and_a_bridge_crash_lose_and_double_nothing() {
    let Some(r) = run("tcp_every_fault", "socket", "tcp", None, Some(15)).await else {
        return;
    };
    assert_exact(&r, &check_truth(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtu_framing_every_fault_loses_and_doubles_nothing() {
    let Some(r) = run("rtu_every_fault", "rtu", "rtu-tcp", None, None).await else {
        return;
    };
    assert_exact(&r, &check_truth(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_vendor_map_served_by_sim_py_loses_and_doubles_nothing() {
    let map_b = agriops_e2e::workspace_root().join("parlor-bridge/maps/map_b.toml");
    let Some(r) = run("map_b_every_fault", "socket", "tcp", Some(&map_b), None).await else {
        return;
    };
    assert_exact(&r, &check_truth(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_rtu_on_a_pty_pair_loses_and_doubles_nothing() {
    let test = "serial_rtu";
    let Some(shared) = require_shared(test) else {
        return;
    };
    let Some(python) = require_peer_python(test) else {
        return;
    };
    if Command::new("socat")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        assert!(
            !agriops_e2e::shared_required(),
            "{test}: socat is needed for the serial test"
        );
        eprintln!("SKIP {test}: socat is not installed");
        return;
    }
    let _one_at_a_time = SERIAL.lock().await;
    // A pty pair takes no parity setting other than none (termios refuses PARENB), so 8N1 here.
    let dir = tempfile::tempdir().unwrap();
    let (sim_tty, bridge_tty) = (dir.path().join("ttySIM"), dir.path().join("ttyBRIDGE"));
    let _socat = KillOnDrop(
        Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", sim_tty.display()))
            .arg(format!("pty,raw,echo=0,link={}", bridge_tty.display()))
            .spawn()
            .expect("start socat"),
    );
    assert!(
        wait_for_file(&sim_tty, Duration::from_secs(5))
            && wait_for_file(&bridge_tty, Duration::from_secs(5)),
        "socat made no ptys"
    );
    let truth = dir.path().join("truth.jsonl");
    let mut sim = KillOnDrop(
        Command::new(&python)
            .arg(shared.join("parlor/sim.py"))
            .arg("--serial")
            .arg(&sim_tty)
            .args([
                "--baudrate",
                "19200",
                "--parity",
                "N",
                "--parlors",
                "1",
                "--bails",
                "24",
            ])
            .args([
                "--speedup",
                "20",
                "--seed",
                "5",
                "--tick",
                "0.05",
                "--duration",
                &DURATION_S.to_string(),
            ])
            .args([
                "--delay-ms",
                "1:5",
                "--exception-rate",
                "0.02",
                "--timeout-rate",
                "0.002",
                "--garbage",
                "0.01",
            ])
            .args([
                "--restart-every",
                "20",
                "--boot-s",
                "1",
                "--near-wrap",
                "--truth",
            ])
            .arg(&truth)
            .stdout(Stdio::null())
            .spawn()
            .expect("start sim.py"),
    );
    assert!(
        wait_for_file(&truth, Duration::from_secs(20)),
        "sim.py wrote no truth file"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let map = shared.join("parlor/map_a.toml");
    let mut cfg = config(&map, &format!("serial:{}:19200:N", bridge_tty.display()));
    cfg.devices.truncate(1);
    cfg.devices[0].timeout_ms = 800;
    // One bus, one request at a time: spend it on the bail blocks (completed milkings); a
    // restart is still seen at once from the bail sequences, the clock at the next totals read.
    cfg.devices[0].status_interval_ms = 1000;
    cfg.devices[0].totals_interval_ms = 1000;
    let db = dir.path().join("bridge.db");
    take_reads();
    let bridge = Bridge::start(&cfg, Sink::Local(db.clone()))
        .await
        .expect("bridge starts");
    let started = std::time::Instant::now();
    while sim.0.try_wait().ok().flatten().is_none()
        && started.elapsed() < Duration::from_secs(DURATION_S + 20)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bridge.stop().await;
    let reads = take_reads();
    let store = Store::open(&db, false).await.unwrap();
    let rows = store
        .milkings_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    let export = dir.path().join("export.csv");
    parlor_bridge::write_milkings_csv(&mut std::fs::File::create(&export).unwrap(), &rows).unwrap();
    eprintln!("{test}: {} milkings recorded", rows.len());
    assert!(rows.len() > 15, "too few milkings recorded: {}", rows.len());
    let r = Run {
        _dir: keep_if_asked(test, dir),
        truth,
        export,
        shared,
        python,
        reads,
        recorded: recorded(&rows),
    };
    assert_exact(&r, &check_truth(&r));
}

/// The bridge's bail snapshots from sim.py: within a poll, the occupied count equals the
/// simulator's own `occupied_bails` register (compared only while that register holds still).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bail_snapshots_match_sim_py_occupancy_register() {
    let test = "bail_snapshots";
    let Some(shared) = require_shared(test) else {
        return;
    };
    let Some(python) = require_peer_python(test) else {
        return;
    };
    let _one_at_a_time = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let port = free_tcp_port();
    let map_path = shared.join("parlor/map_a.toml");
    let _sim = KillOnDrop(
        Command::new(&python)
            .arg(shared.join("parlor/sim.py"))
            .arg("--map")
            .arg(&map_path)
            .args([
                "--parlors",
                "1",
                "--bails",
                "24",
                "--port",
                &port.to_string(),
            ])
            .args([
                "--speedup",
                "4",
                "--seed",
                "7",
                "--tick",
                "0.05",
                "--duration",
                "40",
            ])
            .arg("--truth")
            .arg(&truth)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sim.py"),
    );
    assert!(
        wait_for_file(&truth, Duration::from_secs(20)),
        "sim.py wrote no truth file"
    );
    wait_port(port).await;
    let address = format!("tcp:127.0.0.1:{port}");
    let mut cfg = config(&map_path, &address);
    cfg.devices.truncate(1);
    cfg.devices[0].bail_snapshot_interval_ms = 50;
    let sink = Sink::Forward {
        store: dir.path().join("outbox.db"),
        settings: parlor_bridge::ForwardSettings {
            // Nobody listens: snapshots wait in the outbox, only the newest per parlor.
            url: "http://127.0.0.1:9/ingest".into(),
            token: None,
            bridge_id: "e2e".into(),
            batch_size: 50,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_millis(300),
        },
    };
    let bridge = Bridge::start(&cfg, sink).await.expect("bridge starts");
    let map = parlor_bridge::RegisterMap::load(&map_path).unwrap();
    let mut conn =
        parlor_bridge::Connection::new(parlor_bridge::Transport::parse(&address).unwrap());
    let read = async |conn: &mut parlor_bridge::Connection| {
        parlor_bridge::poll::read_platform_quantity(
            conn,
            "check",
            1,
            &map,
            "occupied_bails",
            Duration::from_millis(500),
        )
        .await
        .and_then(|v| v.as_f64())
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (mut checked, mut busiest) = (0, 0);
    for _ in 0..80 {
        if checked >= 5 {
            break;
        }
        let before = chrono::Utc::now();
        let o1 = read(&mut conn).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let snap = bridge.store().pending_snapshot("parlor-1").await.unwrap();
        let o2 = read(&mut conn).await;
        if let (Some(o1), Some(o2), Some(s)) = (o1, o2, snap)
            && o1 == o2
            && s.t > before
        {
            assert_eq!(s.bails.len(), 24, "{s:?}");
            assert_eq!(
                s.occupied() as f64,
                o1,
                "snapshot vs sim.py register: {s:?}"
            );
            assert!(
                s.entrance_bail.is_some_and(|e| (1..=24).contains(&e)),
                "{s:?}"
            );
            checked += 1;
            busiest = busiest.max(s.occupied());
        }
    }
    bridge.stop().await;
    assert!(checked >= 5, "only {checked} stable windows compared");
    assert!(busiest > 0, "no cow was ever on the platform");
}

/// The classifier itself, on a hand-made truth and read log: a milking wiped by a restart
/// before any read is unreadable, one read completely in time is readable, one whose only read
/// started too early is in between.
#[test]
fn the_read_log_classes_each_milking() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let lines = [
        r#"{"type":"milking","parlor":1,"bail":1,"t_wall":100.0,"cow_id":1,"yield_kg":9.0}"#,
        r#"{"type":"milking","parlor":1,"bail":2,"t_wall":200.0,"cow_id":2,"yield_kg":9.0}"#,
        r#"{"type":"fault","kind":"restart","parlor":1,"t_wall":200.5}"#,
        r#"{"type":"milking","parlor":1,"bail":3,"t_wall":300.0,"cow_id":3,"yield_kg":9.0}"#,
        r#"{"type":"fault","kind":"restart","parlor":1,"t_wall":301.0}"#,
    ];
    std::fs::write(&truth, lines.join("\n")).unwrap();
    let read = |a: f64, b: f64| BailRead {
        device: "parlor-1".into(),
        started_ms: (a * 1000.0) as i64,
        finished_ms: (b * 1000.0) as i64,
        complete: true,
    };
    let run = Run {
        _dir: None,
        truth,
        export: PathBuf::new(),
        shared: PathBuf::new(),
        python: PathBuf::new(),
        // 100: read at 100.2–100.3 (readable); 200: nothing until after the wipe;
        // 300: a read that began before the registers changed and ended after.
        reads: vec![read(100.2, 100.3), read(201.0, 201.1), read(299.95, 300.2)],
        recorded: vec![(1, 90.0), (1, 400.0)],
    };
    let got = readability(&run);
    let t = |v: &Vec<serde_json::Value>| -> Vec<f64> {
        v.iter()
            .map(|n| n["milking"]["t_wall"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(t(&got.unreadable), [200.0]);
    assert_eq!(t(&got.in_between), [300.0]);
}
