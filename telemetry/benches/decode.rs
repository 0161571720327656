//! MAVLink decode rates, every figure measured in this run on the same bytes and by the same
//! clock (CPU time of the decoding thread): ours (`FrameDecoder`, as the link uses it), the
//! bare `mavlink` reader underneath (the ceiling) and pymavlink, on the golden mix
//! (../shared/mavlink/golden) and on a ≥ 64 MiB stream; then the time to upload 500 items
//! to the MAVSDK peer. Linux only (thread CPU time from /proc/thread-self/schedstat).
//!
//! `cargo bench -p telemetry --bench decode`. Without ../shared or the peer venv the parts
//! that need them print SKIP.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use telemetry::mavlink::dialects::ardupilotmega::MavMessage;
use telemetry::{
    FrameDecoder, Link, LinkAddress, LinkConfig, MissionItem, MissionKind, Vehicle, decode_all,
    mavlink,
};

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

/// pymavlink's decode rate over `argv[1]`, streamed in 64 KiB chunks as a ground station
/// reads a link, timed by the CPU time of the decoding thread (`time.thread_time`) for
/// `argv[2]` seconds.
const PYMAVLINK_RATE: &str = r#"
import sys, time
from pymavlink.dialects.v20 import ardupilotmega as m
data = open(sys.argv[1], 'rb').read()
limit = float(sys.argv[2])
def fresh():
    mav = m.MAVLink(None)
    mav.robust_parsing = True
    return mav
mav, off, n = fresh(), 0, 0
t0 = time.thread_time()
while time.thread_time() - t0 < limit:
    chunk = data[off:off + 65536]
    off += 65536
    if not chunk:
        mav, off = fresh(), 0
        continue
    n += sum(1 for x in (mav.parse_buffer(chunk) or []) if x.get_type() != 'BAD_DATA')
print(n / (time.thread_time() - t0))
"#;

/// CPU time of the calling thread, seconds (Linux `/proc/thread-self/schedstat`, in ns: the
/// same clock as Python's `time.thread_time`).
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

/// Frames per thread-CPU second of `pass` (one pass returns its frame count), over ≥ `limit` s.
fn cpu_rate(limit: f64, mut pass: impl FnMut() -> usize) -> f64 {
    let t0 = thread_cpu_s();
    let mut n = 0usize;
    loop {
        n += pass();
        let dt = thread_cpu_s() - t0;
        if dt >= limit {
            return n as f64 / dt;
        }
    }
}

/// Ours: the push decoder as the link uses it, fed in 64 KiB chunks, every frame built.
fn ours(bytes: &[u8]) -> usize {
    let mut d = FrameDecoder::new();
    let mut n = 0;
    for chunk in bytes.chunks(65_536) {
        d.push(chunk);
        while let Some(f) = d.next_frame() {
            std::hint::black_box(&f);
            n += 1;
        }
    }
    n
}

/// The ceiling: the bare `mavlink` reader over the same bytes, decoding every message.
fn bare(bytes: &[u8]) -> usize {
    let mut r = mavlink::MavlinkReader::new(bytes);
    let mut n = 0;
    loop {
        match r.read_any_message::<MavMessage>() {
            Ok(m) => {
                std::hint::black_box(&m);
                n += 1;
            }
            Err(mavlink::error::MessageReadError::Io(_)) => return n,
            Err(_) => {}
        }
    }
}

fn pymavlink(path: &Path, limit: f64) -> Option<f64> {
    let out = Command::new(python()?)
        .arg("-c")
        .arg(PYMAVLINK_RATE)
        .arg(path)
        .arg(limit.to_string())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Three interleaved rounds (ours, bare, pymavlink) on one input; prints the medians.
fn compare(name: &str, bytes: &[u8], path: &Path, limit: f64, rounds: usize) {
    let (mut o, mut b, mut p) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        o.push(cpu_rate(limit, || ours(std::hint::black_box(bytes))));
        b.push(cpu_rate(limit, || bare(std::hint::black_box(bytes))));
        if let Some(r) = pymavlink(path, limit) {
            p.push(r);
        }
    }
    let (o, b) = (median(o), median(b));
    println!();
    println!(
        "{name}: frames per second of thread CPU time, median of {rounds} interleaved rounds of {limit} s"
    );
    println!("| decoder | frames/s | vs bare reader |");
    println!("|---|---:|---:|");
    println!(
        "| telemetry `FrameDecoder` (ours) | {o:.0} | {:.2} |",
        o / b
    );
    println!("| `mavlink` 0.21 `MavlinkReader` (ceiling) | {b:.0} | 1.00 |");
    if p.is_empty() {
        println!("| pymavlink | SKIP (no .venv-peers) | |");
    } else {
        let p = median(p);
        println!(
            "| pymavlink (same input, same clock) | {p:.0} | {:.3} |",
            p / b
        );
        println!("ours / pymavlink: {:.1}x", o / p);
    }
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

    let golden = shared.join("mavlink/golden/golden.bin");
    compare(
        &format!("golden mix ({} bytes, {n_frames} frames)", bin.len()),
        &bin,
        &golden,
        2.0,
        3,
    );
    // A stream that does not fit in any cache: the golden mix repeated to ≥ 64 MiB.
    let mut big = Vec::with_capacity((64 << 20) + bin.len());
    while big.len() < 64 << 20 {
        big.extend_from_slice(&bin);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let big_path = dir.path().join("stream.bin");
    std::fs::write(&big_path, &big).expect("write stream");
    compare(
        &format!("64 MiB stream ({} bytes)", big.len()),
        &big,
        &big_path,
        3.0,
        3,
    );
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
