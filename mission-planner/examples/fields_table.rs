//! Plans every field of `../shared/fields/fields.geojson` (or the file given as the first
//! argument) and prints a table with the median plan time. `plan_ms` is the whole of
//! `plan()`, including the coverage check (buffering every swath and measuring what it covers)
//! and the length flown outside the field. No peer figure is printed: Fields2Cover is not run
//! here, and a figure copied from elsewhere would be a constant, not a measurement.
//!
//! `cargo run --release -p mission-planner --example fields_table [FILE] [--swath-width M]`

use mission_planner::{PlanConfig, SwathWidth, naive_grid_length, plan, read_fields};
use std::path::PathBuf;

/// Plans per field for the timing (median of these).
const REPEATS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut file: Option<PathBuf> = None;
    let mut width = 5.0;
    while let Some(a) = args.next() {
        if a == "--swath-width" {
            width = args.next().ok_or("--swath-width needs a value")?.parse()?;
        } else {
            file = Some(a.into());
        }
    }
    let file = file.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fields/fields.geojson")
    });
    let Ok(bytes) = std::fs::read(&file) else {
        eprintln!("SKIP: {} is absent", file.display());
        return Ok(());
    };
    let set = read_fields(&bytes)?;
    let cfg = PlanConfig::new(SwathWidth::new(width)?);
    println!(
        "{:<26} {:>7} {:>7} {:>5} {:>4} {:>8} {:>8} {:>8} {:>7} {:>6} {:>3} {:>8} {:>8} {:>5} {:>7}",
        "field",
        "area",
        "spray",
        "legs",
        "cell",
        "route m",
        "naive m",
        "path m",
        "time s",
        "litres",
        "sor",
        "coverage",
        "cov raw",
        "out",
        "plan ms"
    );
    let mut times = Vec::new();
    let (mut sum_route, mut sum_naive) = (0.0, 0.0);
    let mut n_shorter = 0;
    let mut n_ok = 0;
    for f in &set.fields {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                println!("ERROR {e}");
                continue;
            }
        };
        let mut ms = Vec::new();
        let mut last = None;
        for _ in 0..REPEATS {
            match plan(f, &cfg) {
                Ok(p) => {
                    ms.push(p.report.plan_ms);
                    last = Some(p);
                }
                Err(e) => {
                    println!("ERROR {}: {e}", f.id);
                    break;
                }
            }
        }
        let Some(p) = last else { continue };
        ms.sort_by(f64::total_cmp);
        let med = ms[ms.len() / 2];
        times.push(med);
        let r = &p.report;
        // The naive grid at the same heading as ours and at 0° (QGC's default); the better one.
        let naive = naive_grid_length(&p.field, width, (90.0 - r.heading_deg).to_radians()).min(
            naive_grid_length(&p.field, width, std::f64::consts::FRAC_PI_2),
        );
        sum_route += r.route_length_m;
        sum_naive += naive;
        n_shorter += usize::from(r.route_length_m < naive);
        n_ok += 1;
        println!(
            "{:<26} {:>7.3} {:>7.3} {:>5} {:>4} {:>8.0} {:>8.0} {:>8.0} {:>7.0} {:>6.1} {:>3} {:>8.4} {:>8.4} {:>5.1} {:>7.2}",
            r.field_id,
            r.area_ha,
            r.sprayable_ha,
            r.n_swaths,
            r.n_cells,
            r.route_length_m,
            naive,
            r.path_length_m,
            r.flight_time_s,
            r.litres,
            r.sorties,
            r.coverage,
            r.coverage_raw,
            r.outside_m,
            med
        );
    }
    times.sort_by(f64::total_cmp);
    if times.is_empty() {
        return Ok(());
    }
    let median = times[times.len() / 2];
    println!();
    println!("fields planned: {n_ok}/{}", set.fields.len());
    println!(
        "median plan time: {median:.2} ms/field (plan_ms: the whole plan, coverage check included)"
    );
    println!(
        "coverage route vs naive grid: {sum_route:.0} m vs {sum_naive:.0} m ({:+.1} %); shorter on {n_shorter}/{n_ok} fields",
        100.0 * (sum_route / sum_naive - 1.0)
    );
    Ok(())
}
