//! Frames/s decoded on the golden mix (../shared/mavlink/golden), printed beside pymavlink's
//! rate measured in the same run, and the time to upload 500 items to the MAVSDK peer.
//!
//! `cargo bench -p telemetry --bench decode`. Without ../shared or the peer venv the parts
//! that need them print SKIP.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use telemetry::{Link, LinkAddress, LinkConfig, MissionItem, MissionKind, Vehicle, decode_all};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shared() -> Option<PathBuf> {
    let d = std::env::var_os("AGRIOPS_SHARED")
        .map_or_else(|| workspace().join("../shared"), PathBuf::from);
    d.is_dir().then_some(d)
}

fn python() -> Option<PathBuf> {
    std::env::var_os("AGRIOPS_PEER_PYTHON")
        .map(PathBuf::from)
        .or_else(|| Some(workspace().join(".venv-peers/bin/python")).filter(|p| p.exists()))
}

const PYMAVLINK_RATE: &str = r#"
import sys, time
from pymavlink.dialects.v20 import ardupilotmega as m
buf = open(sys.argv[1], 'rb').read()
n = 0
t0 = time.process_time()
while time.process_time() - t0 < 2.0:
    mav = m.MAVLink(None)
    mav.robust_parsing = True
    n += sum(1 for x in (mav.parse_buffer(buf) or []) if x.get_type() != 'BAD_DATA')
print(n / (time.process_time() - t0))
"#;

/// Our frames per CPU-bound second over ~2 s.
fn our_rate(bin: &[u8]) -> f64 {
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs(2) {
        n += decode_all(std::hint::black_box(bin)).len();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn upload_500(python: &Path, shared: &Path) -> Option<(Duration, Duration)> {
    let dir = tempfile::tempdir().ok()?;
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let ready = dir.path().join("ready");
    let mut child = Command::new(python)
        .arg(shared.join("mavlink/vehicle_peer.py"))
        .args([
            "--url",
            &format!("udpin://127.0.0.1:{port}"),
            "--max-s",
            "60",
        ])
        .arg("--out")
        .arg(dir.path().join("m.json"))
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let t0 = Instant::now();
    while !ready.exists() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let rt = tokio::runtime::Runtime::new().ok()?;
    let result = rt.block_on(async {
        let link = Link::connect(&LinkConfig::new(
            LinkAddress::parse(&format!("udpout:127.0.0.1:{port}")).ok()?,
        ))
        .await
        .ok()?;
        let info = link.wait_vehicle(Duration::from_secs(10)).await.ok()?;
        let v = Vehicle::new(link.port().clone(), info.target);
        let items: Vec<MissionItem> = (0..500)
            .map(|i| {
                MissionItem::nav(
                    16,
                    36.87 + f64::from(i) * 1e-5,
                    139.99 + f64::from(i % 7) * 1e-5,
                    5.0,
                )
            })
            .collect();
        let t = Instant::now();
        v.upload(MissionKind::Mission, &items).await.ok()?;
        let upload = t.elapsed();
        let t = Instant::now();
        v.upload_verified(MissionKind::Mission, &items).await.ok()?;
        let verified = t.elapsed();
        link.close().await;
        Some((upload, verified))
    });
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let Some(shared) = shared() else {
        eprintln!("SKIP decode bench: ../shared is absent");
        return;
    };
    let bin = std::fs::read(shared.join("mavlink/golden/golden.bin")).expect("golden.bin");
    let n_frames = decode_all(&bin).len();
    let mut g = c.benchmark_group("golden");
    g.throughput(Throughput::Elements(n_frames as u64));
    g.bench_function("decode_golden_mix", |b| {
        b.iter(|| decode_all(std::hint::black_box(&bin)))
    });
    g.finish();

    let ours = our_rate(&bin);
    let theirs = python().and_then(|py| {
        let out = Command::new(py)
            .arg("-c")
            .arg(PYMAVLINK_RATE)
            .arg(shared.join("mavlink/golden/golden.bin"))
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<f64>()
            .ok()
    });
    println!();
    println!("| decoder                       | frames/s (golden mix, {n_frames} frames/pass) |");
    println!("|-------------------------------|------------------:|");
    println!("| telemetry (mavlink 0.21)      | {ours:>17.0} |");
    match theirs {
        Some(r) => {
            println!("| pymavlink 2.4.50 (same run)   | {r:>17.0} |");
            println!("| ratio                         | {:>16.1}x |", ours / r);
        }
        None => println!("| pymavlink                     | SKIP (no .venv-peers) |"),
    }
    match python().and_then(|py| upload_500(&py, &shared)) {
        Some((up, ver)) => {
            println!();
            println!("| upload to MAVSDK peer (UDP)   | time |");
            println!("|-------------------------------|-----:|");
            println!(
                "| 500 items, upload             | {:.2} s |",
                up.as_secs_f64()
            );
            println!(
                "| 500 items, upload + read-back + verify | {:.2} s |",
                ver.as_secs_f64()
            );
        }
        None => println!("SKIP upload bench: no peer venv or the peer did not answer"),
    }
    c.final_summary();
}
