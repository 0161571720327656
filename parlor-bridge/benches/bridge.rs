//! Bridge throughput in one run, against the crate's own tokio-modbus simulator on loopback:
//! FC03 × 125 registers requests/s on one connection (beside libmodbus's ~3.0–3.4 k/s here),
//! and the CPU the bridge process uses polling 200 simulated parlors once a second.
//!
//! `cargo bench -p parlor-bridge --bench bridge [-- SECONDS]`. The simulator runs in a child
//! process (this binary with `--serve`) so the CPU figure is the bridge's alone.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parlor_bridge::sim::{self, Framing, SimConfig};
use parlor_bridge::{
    Bridge, BridgeConfig, Connection, DeviceConfig, ReadBlock, RegisterMap, Sink, Table, Transport,
};

const LIBMODBUS_LOW: f64 = 3000.0;
const LIBMODBUS_HIGH: f64 = 3400.0;

fn map_a() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/map_a.toml")
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let n: u8 = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(200);
        tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(serve(n));
        return;
    }
    let secs: u64 = args
        .iter()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(10);
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--serve", "200"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the simulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("simulator address");
    let addr: std::net::SocketAddr = line.trim().parse().expect("address");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (rate, cpu, wall, milkings) = rt.block_on(async {
        // 1. Requests per second on one connection.
        let mut conn = Connection::new(Transport::Tcp(addr));
        let block = ReadBlock {
            table: Table::Holding,
            start: 1000,
            count: 125,
        };
        for _ in 0..200 {
            conn.read("bench", 1, block, Duration::from_secs(2))
                .await
                .expect("warm-up read");
        }
        let t0 = Instant::now();
        let mut n = 0u64;
        while t0.elapsed() < Duration::from_secs(secs.min(5)) {
            conn.read("bench", 1, block, Duration::from_secs(2))
                .await
                .expect("read");
            n += 1;
        }
        let rate = n as f64 / t0.elapsed().as_secs_f64();
        conn.disconnect().await;
        // 2. CPU polling 200 parlors (60 bails each) once a second, one connection each.
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = BridgeConfig {
            bridge_id: "bench".into(),
            store: None,
            server: None,
            devices: (1..=200u8)
                .map(|u| {
                    let mut d =
                        DeviceConfig::new(&format!("p{u}"), &format!("tcp:{addr}"), u, &map_a());
                    d.status_interval_ms = 1000;
                    d.totals_interval_ms = 1000;
                    d.bail_interval_ms = 1000;
                    d
                })
                .collect(),
        };
        let db = dir.path().join("bench.db");
        let c0 = cpu_seconds();
        let w0 = Instant::now();
        let bridge = Bridge::start(&cfg, Sink::Local(db.clone()))
            .await
            .expect("bridge");
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let store = bridge.store().clone();
        bridge.stop().await;
        let cpu = cpu_seconds() - c0;
        let wall = w0.elapsed().as_secs_f64();
        let milkings = store
            .milkings_since(chrono::DateTime::UNIX_EPOCH)
            .await
            .map(|v| v.len())
            .unwrap_or(0);
        (rate, cpu, wall, milkings)
    });
    let _ = child.kill();
    let _ = child.wait();
    println!("| measurement | value | reference |");
    println!("|---|---|---|");
    println!(
        "| FC03 × 125 registers, one connection (tokio-modbus sim on loopback) | {rate:.0} req/s | libmodbus 3.0–3.4 k/s: ratio {:.2}–{:.2} |",
        rate / LIBMODBUS_HIGH,
        rate / LIBMODBUS_LOW
    );
    println!(
        "| polling 200 parlors × 60 bails at 1 Hz for {wall:.1} s (8 requests/parlor/s) | {cpu:.2} CPU s = {:.1} % of one core | |",
        100.0 * cpu / wall
    );
    println!("| milkings recorded meanwhile (real-time sim) | {milkings} | |");
}
