//! Criterion benchmark: `plan` on every field of `../shared/fields` (skipped when absent).
//!
//! `cargo bench -p mission-planner --bench plan`; the median per field is what the issue
//! compares against Fields2Cover (~0.45 s per field there).

use criterion::{Criterion, criterion_group, criterion_main};
use mission_planner::{PlanConfig, SwathWidth, plan, read_fields};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fields/fields.geojson");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("SKIP: {} is absent", path.display());
        return;
    };
    let fields: Vec<_> = read_fields(&bytes)
        .expect("fields parse")
        .fields
        .into_iter()
        .flatten()
        .collect();
    let cfg = PlanConfig::new(SwathWidth::new(5.0).expect("valid width"));
    let mut group = c.benchmark_group("plan_field");
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(1));
    group.warm_up_time(std::time::Duration::from_millis(200));
    for f in &fields {
        group.bench_function(&f.id, |b| {
            b.iter(|| plan(black_box(f), black_box(&cfg)).expect("plans"))
        });
    }
    group.finish();
    c.bench_function("plan_all_37_fields", |b| {
        b.iter(|| {
            fields
                .iter()
                .map(|f| plan(f, &cfg).expect("plans").report.n_swaths)
                .sum::<usize>()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
