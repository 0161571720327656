//! Benchmark of `agriops plan` on a whole city's parcels: 50 000 rice parcels over about 22 km,
//! generated from the real field boundaries of `../shared/fields` (or the repository's
//! `samples/fields` when that is absent), each translated onto a 100 m grid around
//! Nasushiobara, rotated and scaled to a paddy's size (0.1–0.6 ha), so the bench ships no data.
//!
//! It runs the real binary the way a user would (`agriops plan city.geojson --swath-width 5 --out DIR --json`,
//! every default output format), twice: on a tenth of the parcels and on all of them, so the
//! peak memory of both says whether memory stays flat in the number of parcels. It prints
//! parcels per second, wall and CPU time, peak RSS (the child's own `ru_maxrss`), the bytes
//! written, and the share of planning time per stage summed from the reports' `stage_ms`.
//! Not run in CI.
//!
//! `cargo bench -p web --bench city` (`-- --parcels N` for another size; `--keep DIR` keeps the
//! generated input and outputs). Goal (issue 12): under 60 s on 2 cores for 50 000 parcels.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use geo::{Area, Centroid, Coord, LineString, Polygon};
use mission_planner::read_fields;

/// Nasushiobara city hall, the grid's south-west corner (lat, lon).
const ORIGIN: (f64, f64) = (36.9617, 139.9894);
/// Grid spacing between parcel centres, metres.
const SPACING_M: f64 = 100.0;
/// Largest distance of a parcel's vertex from its centroid, metres (keeps neighbours apart).
const MAX_RADIUS_M: f64 = 48.0;

/// splitmix64: a small deterministic generator, so every run plans the same city.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The real fields, each in metres around its own centroid (x east, y north).
fn source_shapes() -> Vec<Polygon> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = root.join("../shared/fields/fields.geojson");
    let files: Vec<PathBuf> = if shared.exists() {
        vec![shared]
    } else {
        eprintln!("note: ../shared/fields is absent; generating from samples/fields");
        ["paddies_jp.geojson", "holes.geojson", "chofu_paddy.kml"]
            .iter()
            .map(|f| root.join("samples/fields").join(f))
            .collect()
    };
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for field in read_fields(&bytes)
            .expect("fields parse")
            .fields
            .into_iter()
            .flatten()
        {
            let Some(c) = field.boundary.centroid() else {
                continue;
            };
            let k = 111_320.0 * c.y().to_radians().cos();
            let to_m = |ls: &LineString| {
                LineString::from(
                    ls.coords()
                        .map(|p| Coord {
                            x: (p.x - c.x()) * k,
                            y: (p.y - c.y()) * 110_574.0,
                        })
                        .collect::<Vec<_>>(),
                )
            };
            out.push(Polygon::new(
                to_m(field.boundary.exterior()),
                field.boundary.interiors().iter().map(to_m).collect(),
            ));
        }
    }
    assert!(!out.is_empty(), "no source fields");
    out
}

/// Writes `n` parcels as one GeoJSON FeatureCollection, streamed feature by feature.
fn write_city(path: &Path, n: usize, shapes: &[Polygon]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let cols = (n as f64).sqrt().ceil() as usize;
    let mut rng = Rng(0x0061_6772_696f_7073);
    write!(w, r#"{{"type":"FeatureCollection","features":["#)?;
    for i in 0..n {
        let s = &shapes[i % shapes.len()];
        let radius = s
            .exterior()
            .coords()
            .map(|p| p.x.hypot(p.y))
            .fold(0.0, f64::max);
        let target_m2 = 1_000.0 * 6f64.powf(rng.next());
        let scale = (target_m2 / s.unsigned_area())
            .sqrt()
            .min(MAX_RADIUS_M / radius);
        let (sin, cos) = (rng.next() * std::f64::consts::TAU).sin_cos();
        let (cx, cy) = ((i % cols) as f64 * SPACING_M, (i / cols) as f64 * SPACING_M);
        let lat0 = ORIGIN.0 + cy / 110_574.0;
        let k = 111_320.0 * lat0.to_radians().cos();
        let ring = |ls: &LineString| -> String {
            let pts: Vec<String> = ls
                .coords()
                .map(|p| {
                    let (x, y) = (
                        (p.x * cos - p.y * sin) * scale + cx,
                        (p.x * sin + p.y * cos) * scale + cy,
                    );
                    format!("[{:.7},{:.7}]", ORIGIN.1 + x / k, ORIGIN.0 + y / 110_574.0)
                })
                .collect();
            format!("[{}]", pts.join(","))
        };
        let mut rings = vec![ring(s.exterior())];
        rings.extend(s.interiors().iter().map(ring));
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(
            w,
            "\n{{\"type\":\"Feature\",\"properties\":{{\"id\":\"city_{i:05}\",\"land_type\":\"田\"}},\
             \"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[{}]}}}}",
            rings.join(",")
        )?;
    }
    writeln!(w, "\n]}}")?;
    w.flush()
}

fn dir_bytes(dir: &Path) -> (u64, usize) {
    let mut bytes = 0;
    let mut files = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(m) = e.metadata() {
                bytes += m.len();
                files += 1;
            }
        }
    }
    (bytes, files)
}

/// What one run of `agriops plan` took.
struct Run {
    parcels: usize,
    wall_s: f64,
    cpu_s: f64,
    peak_rss_mib: f64,
    planned: usize,
    failed: usize,
    out_bytes: u64,
    out_files: usize,
    stages: BTreeMap<String, f64>,
    plan_ms: f64,
}

/// The children's resource usage so far (user + system CPU seconds, largest peak RSS in KiB).
fn children_usage() -> (f64, i64) {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    (t(u.user_time()) + t(u.system_time()), u.max_rss())
}

fn run(bin: &Path, work: &Path, n: usize, shapes: &[Polygon]) -> Run {
    let input = work.join(format!("city_{n}.geojson"));
    let out = work.join(format!("out_{n}"));
    let t = Instant::now();
    write_city(&input, n, shapes).expect("write city");
    eprintln!(
        "generated {n} parcels ({:.1} MiB of GeoJSON) in {:.1} s",
        std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&out);
    let (cpu0, _) = children_usage();
    let t = Instant::now();
    let mut child = Command::new(bin)
        .args(["plan", "--json", "--swath-width", "5", "--out"])
        .arg(&out)
        .arg(&input)
        // A failed parcel makes the run exit with an error; with RUST_BACKTRACE set, anyhow
        // would symbolize a backtrace then (about 170 MiB of debug info read), which is not
        // the planner's memory.
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("agriops runs");
    let mut planned = 0;
    let mut stages: BTreeMap<String, f64> = BTreeMap::new();
    let mut plan_ms = 0.0;
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("stdout line");
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        planned += 1;
        plan_ms += v["plan_ms"].as_f64().unwrap_or(0.0);
        if let Some(m) = v["stage_ms"].as_object() {
            for (k, ms) in m {
                *stages.entry(k.clone()).or_default() += ms.as_f64().unwrap_or(0.0);
            }
        }
        if planned % 5_000 == 0 {
            eprintln!(
                "  {planned}/{n} planned, {:.0} s",
                t.elapsed().as_secs_f64()
            );
        }
    }
    let status = child.wait().expect("agriops exits");
    let wall_s = t.elapsed().as_secs_f64();
    let (cpu1, maxrss_kib) = children_usage();
    let (out_bytes, out_files) = dir_bytes(&out);
    if !status.success() {
        eprintln!("note: agriops plan exited {status} (some parcels failed)");
    }
    Run {
        parcels: n,
        wall_s,
        cpu_s: cpu1 - cpu0,
        peak_rss_mib: maxrss_kib as f64 / 1024.0,
        planned,
        failed: n.saturating_sub(planned),
        out_bytes,
        out_files,
        stages,
        plan_ms,
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let mut n = 50_000usize;
    let mut keep: Option<PathBuf> = None;
    let mut i = 1;
    while i < argv.len() {
        match argv[i].as_str() {
            "--parcels" => {
                n = argv[i + 1].parse().expect("--parcels N");
                i += 1;
            }
            "--keep" => {
                keep = Some(PathBuf::from(&argv[i + 1]));
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_agriops"));
    let tmp = tempfile::tempdir().expect("temporary directory");
    let work = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work).expect("work directory");
    let shapes = source_shapes();
    eprintln!("{} source fields", shapes.len());
    // The small run first: ru_maxrss of the children only grows, so the big run's figure is
    // its own only when it is the larger; the small run's is read before the big one starts.
    let runs = [
        run(&bin, &work, n / 10, &shapes),
        run(&bin, &work, n, &shapes),
    ];
    println!(
        "\n`agriops plan --json --swath-width 5` (all default formats) on generated city parcels, {} core(s)",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!(
        "{:>8} {:>8} {:>7} {:>10} {:>8} {:>9} {:>9} {:>8} {:>7}",
        "parcels",
        "planned",
        "failed",
        "parcels/s",
        "wall s",
        "CPU s",
        "peak MiB",
        "out MiB",
        "files"
    );
    for r in &runs {
        println!(
            "{:>8} {:>8} {:>7} {:>10.0} {:>8.1} {:>9.1} {:>9.0} {:>8.0} {:>7}",
            r.parcels,
            r.planned,
            r.failed,
            r.planned as f64 / r.wall_s,
            r.wall_s,
            r.cpu_s,
            r.peak_rss_mib,
            r.out_bytes as f64 / 1048576.0,
            r.out_files
        );
    }
    let big = &runs[1];
    println!(
        "memory: peak RSS {:.0} MiB at {} parcels, {:.0} MiB at {} ({:.2}× for 10× the parcels)",
        runs[0].peak_rss_mib,
        runs[0].parcels,
        big.peak_rss_mib,
        big.parcels,
        big.peak_rss_mib / runs[0].peak_rss_mib
    );
    println!(
        "goal: < 60 s for 50 000 parcels; this run {:.1} s for {} ({:.1} s scaled to 50 000)",
        big.wall_s,
        big.parcels,
        big.wall_s * 50_000.0 / big.parcels as f64
    );
    // plan_ms covers `plan` from configuration check to the exact fence check, the coverage
    // check included, timed by the wall clock of the thread that planned it; the CPU time of
    // the whole process also holds reading, writing the files and the process itself.
    println!(
        "\nwhere planning time goes ({} parcels; plan_ms includes the coverage check):",
        big.parcels
    );
    for (stage, ms) in &big.stages {
        println!(
            "{stage:>16} {:>9.1} s {:>5.1} % of plan_ms",
            ms / 1000.0,
            ms / big.plan_ms * 100.0
        );
    }
    println!(
        "{:>16} {:>9.1} s (CPU of the process: {:.1} s)",
        "plan_ms",
        big.plan_ms / 1000.0,
        big.cpu_s
    );
    if keep.is_none() {
        eprintln!("removing the generated files…");
    }
}
