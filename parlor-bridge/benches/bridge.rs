//! Bridge throughput, every figure measured in this run:
//!
//! 1. FC03 × 125 holding registers, one connection, sequential requests, three clients against
//!    the SAME server, rounds interleaved (A B C A B C …): the bridge's `Connection` (what the
//!    poller uses), bare tokio-modbus (the library under it: the ceiling), and libmodbus's own C
//!    client (`benches/libmodbus_fc03.c`, compiled here against the system's libmodbus-dev).
//!    Two servers: the crate's tokio-modbus simulator (a child process) and, where ../shared and
//!    the peers' venv exist, the pymodbus parlor simulator `../shared/parlor/sim.py`.
//!    Every client counts requests over the same wall-clock window after 200 warm-up requests
//!    (a request rate on one connection is a round-trip figure: wall time is the measure for all
//!    three alike). The median of the rounds is printed with the ratios.
//! 2. The CPU the bridge process uses polling 200 simulated parlors once a second.
//!
//! `cargo bench -p parlor-bridge --bench bridge [-- SECONDS]` (seconds per measurement,
//! default 3; the polling part runs 3 × SECONDS). Needs `cc` and `libmodbus-dev`
//! (`apt-get install libmodbus-dev`) for the libmodbus column; without them it says SKIP.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parlor_bridge::sim::{self, Framing, SimConfig};
use parlor_bridge::{
    Bridge, BridgeConfig, Connection, DeviceConfig, ReadBlock, RegisterMap, Sink, Table, Transport,
};
use tokio_modbus::client::Reader as _;

const ROUNDS: usize = 5;
const WARMUP: usize = 200;
const START: u16 = 1000;
const COUNT: u16 = 125;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn map_a() -> PathBuf {
    manifest().join("maps/map_a.toml")
}

fn shared() -> Option<PathBuf> {
    let d = std::env::var_os("AGRIOPS_SHARED")
        .map_or_else(|| manifest().join("../../shared"), PathBuf::from);
    d.is_dir().then_some(d)
}

fn python() -> Option<PathBuf> {
    std::env::var_os("AGRIOPS_PEER_PYTHON")
        .map(PathBuf::from)
        .or_else(|| Some(manifest().join("../.venv-peers/bin/python")).filter(|p| p.exists()))
}

/// User + system CPU seconds of this process, from /proc/self/stat (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command: state is index 0, utime 11, stime 12.
    (ticks(11) + ticks(12)) / 100.0
}

async fn serve(parlors: u8) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let cfg = SimConfig {
        parlors,
        bails: 60,
        speedup: 1.0,
        tick_ms: 1000,
        ..SimConfig::default()
    };
    let running = sim::serve(
        listener,
        RegisterMap::load(&map_a()).expect("map A"),
        cfg,
        Framing::Tcp,
        None,
    )
    .expect("serve");
    println!("{}", running.addr);
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

/// A server in a child process, killed on drop.
struct Server {
    name: &'static str,
    addr: SocketAddr,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn our_simulator() -> Server {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--serve", "200"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the simulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("simulator address");
    Server {
        name: "tokio-modbus simulator (this crate)",
        addr: line.trim().parse().expect("address"),
        child,
    }
}

fn pymodbus_simulator() -> Result<Server, String> {
    let shared = shared().ok_or("../shared is absent")?;
    let py = python().ok_or("no .venv-peers (bash scripts/setup-peers.sh)")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new(py)
        .arg(shared.join("parlor/sim.py"))
        .args([
            "--parlors",
            "1",
            "--bails",
            "60",
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Server {
        name: "pymodbus simulator (../shared/parlor/sim.py)",
        addr,
        child,
    };
    let t0 = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if t0.elapsed() > Duration::from_secs(20) {
            return Err("sim.py did not open its port in 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

/// Compiles the libmodbus client into `dir`; the reason when it cannot.
fn build_libmodbus_client(dir: &Path) -> Result<PathBuf, String> {
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libmodbus"])
        .output()
        .map_err(|e| format!("pkg-config: {e}"))?;
    if !flags.status.success() {
        return Err("libmodbus-dev is not installed (apt-get install libmodbus-dev)".into());
    }
    let flags = String::from_utf8_lossy(&flags.stdout).to_string();
    let exe = dir.join("libmodbus_fc03");
    let out = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(manifest().join("benches/libmodbus_fc03.c"))
        .args(flags.split_whitespace())
        .output()
        .map_err(|e| format!("cc: {e}"))?;
    if !out.status.success() {
        return Err(format!("cc: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(exe)
}

/// Requests per second of the bridge's own `Connection`.
async fn ours(addr: SocketAddr, secs: f64) -> f64 {
    let mut conn = Connection::new(Transport::Tcp(addr));
    let block = ReadBlock {
        table: Table::Holding,
        start: START,
        count: COUNT,
    };
    let timeout = Duration::from_secs(2);
    for _ in 0..WARMUP {
        conn.read("bench", 1, block, timeout)
            .await
            .expect("warm-up read");
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        conn.read("bench", 1, block, timeout).await.expect("read");
        n += 1;
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    conn.disconnect().await;
    rate
}

/// Requests per second of tokio-modbus used directly (no timeout, no checks): the ceiling.
async fn bare_tokio_modbus(addr: SocketAddr, secs: f64) -> f64 {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut ctx = tokio_modbus::client::tcp::attach_slave(stream, tokio_modbus::Slave(1));
    for _ in 0..WARMUP {
        let _ = ctx
            .read_holding_registers(START, COUNT)
            .await
            .expect("warm-up read");
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        let _ = ctx
            .read_holding_registers(START, COUNT)
            .await
            .expect("read");
        n += 1;
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

/// Requests per second of the libmodbus C client.
fn libmodbus(exe: &Path, addr: SocketAddr, secs: f64) -> Result<f64, String> {
    let out = Command::new(exe)
        .args([
            addr.ip().to_string(),
            addr.port().to_string(),
            "1".into(),
            START.to_string(),
            COUNT.to_string(),
            secs.to_string(),
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>());
    match (it.next(), it.next()) {
        (Some(Ok(n)), Some(Ok(s))) if s > 0.0 => Ok(n / s),
        _ => Err(format!(
            "libmodbus client failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure_server(
    rt: &tokio::runtime::Runtime,
    server: &Server,
    lmb: Result<&Path, &str>,
    secs: f64,
) {
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    let mut lmb_error = None;
    for _ in 0..ROUNDS {
        a.push(rt.block_on(ours(server.addr, secs)));
        b.push(rt.block_on(bare_tokio_modbus(server.addr, secs)));
        match lmb
            .map_err(str::to_string)
            .and_then(|exe| libmodbus(exe, server.addr, secs))
        {
            Ok(r) => c.push(r),
            Err(e) => lmb_error = Some(e),
        }
    }
    let (ours, bare) = (median(&mut a), median(&mut b));
    println!();
    println!(
        "FC03 × {COUNT} registers, one connection, {ROUNDS} interleaved rounds of {secs} s, against the {}:",
        server.name
    );
    println!("| client | req/s (median) | min–max |");
    println!("|---|---:|---:|");
    let row = |name: &str, v: &[f64], m: f64| {
        println!(
            "| {name} | {m:.0} | {:.0}–{:.0} |",
            v.first().copied().unwrap_or(0.0),
            v.last().copied().unwrap_or(0.0)
        );
    };
    row("parlor-bridge `Connection`", &a, ours);
    row("tokio-modbus 0.17 bare (ceiling)", &b, bare);
    if c.len() == ROUNDS {
        let lm = median(&mut c);
        row("libmodbus 3.1 C client (peer)", &c, lm);
        println!(
            "ratio bridge / libmodbus: {:.2}; bridge / bare tokio-modbus: {:.2}",
            ours / lm,
            ours / bare
        );
    } else {
        println!(
            "| libmodbus 3.1 C client (peer) | SKIP: {} | |",
            lmb_error.as_deref().or(lmb.err()).unwrap_or("failed")
        );
        println!("ratio bridge / bare tokio-modbus: {:.2}", ours / bare);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let n: u8 = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(200);
        tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(serve(n));
        return;
    }
    let secs: f64 = args
        .iter()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(3.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let lmb = build_libmodbus_client(dir.path());
    let lmb_ref = lmb.as_deref().map_err(String::as_str);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let sim = our_simulator();
    measure_server(&rt, &sim, lmb_ref, secs);
    match pymodbus_simulator() {
        Ok(py) => measure_server(&rt, &py, lmb_ref, secs),
        Err(e) => println!("\nSKIP the pymodbus server: {e}"),
    }

    // 2. CPU polling 200 parlors (60 bails each) once a second, one connection each.
    let poll_secs = Duration::from_secs_f64(3.0 * secs);
    let (cpu, wall, milkings) = rt.block_on(async {
        let db = dir.path().join("bench.db");
        let cfg = BridgeConfig {
            bridge_id: "bench".into(),
            store: None,
            server: None,
            mqtt: None,
            devices: (1..=200u8)
                .map(|u| {
                    let mut d = DeviceConfig::new(
                        &format!("p{u}"),
                        &format!("tcp:{}", sim.addr),
                        u,
                        &map_a(),
                    );
                    d.status_interval_ms = 1000;
                    d.totals_interval_ms = 1000;
                    d.bail_interval_ms = 1000;
                    d
                })
                .collect(),
        };
        let c0 = cpu_seconds();
        let w0 = Instant::now();
        let bridge = Bridge::start(&cfg, Sink::Local(db)).await.expect("bridge");
        tokio::time::sleep(poll_secs).await;
        let store = bridge.store().clone();
        bridge.stop().await;
        let cpu = cpu_seconds() - c0;
        let wall = w0.elapsed().as_secs_f64();
        let milkings = store
            .milkings_since(chrono::DateTime::UNIX_EPOCH)
            .await
            .map(|v| v.len())
            .unwrap_or(0);
        (cpu, wall, milkings)
    });
    drop(sim);
    println!();
    println!(
        "polling 200 parlors × 60 bails at 1 Hz for {wall:.1} s (8 requests/parlor/s): {cpu:.2} CPU s = {:.1} % of one core; {milkings} milkings recorded (real-time simulator)",
        100.0 * cpu / wall
    );
}
