//! Plans every field of `../shared/fields/fields.geojson` with the default configuration and
//! 5 m swaths: no error, nothing outside the field, coverage ≥ 99 %; prints the table.

use mission_planner::{PlanConfig, SwathWidth, plan, read_fields};

#[test]
fn every_shared_field_plans_inside_the_field_with_full_coverage() {
    let Some(shared) = agriops_e2e::require_shared("planner_shared_fields") else {
        return;
    };
    let bytes =
        std::fs::read(shared.join("fields/fields.geojson")).expect("fields.geojson is readable");
    let set = read_fields(&bytes).expect("fields.geojson parses");
    assert_eq!(set.fields.len(), 37);
    let cfg = PlanConfig::new(SwathWidth::new(5.0).unwrap());
    println!(
        "{:<26} {:>7} {:>9} {:>6} {:>8} {:>8} {:>7} {:>3} {:>8} {:>5} {:>8}",
        "field",
        "area ha",
        "spray ha",
        "swaths",
        "path m",
        "flight s",
        "litres",
        "sor",
        "coverage",
        "out m",
        "plan ms"
    );
    let mut failures = Vec::new();
    for f in &set.fields {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("invalid field: {e}"));
                continue;
            }
        };
        let p = match plan(f, &cfg) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{}: {e}", f.id));
                continue;
            }
        };
        let r = &p.report;
        println!(
            "{:<26} {:>7.3} {:>9.3} {:>6} {:>8.0} {:>8.0} {:>7.1} {:>3} {:>8.4} {:>5.1} {:>8.2}",
            r.field_id,
            r.area_ha,
            r.sprayable_ha,
            r.n_swaths,
            r.path_length_m,
            r.flight_time_s,
            r.litres,
            r.sorties,
            r.coverage,
            r.outside_m,
            r.plan_ms
        );
        if r.outside_m != 0.0 {
            failures.push(format!("{}: outside_m = {}", r.field_id, r.outside_m));
        }
        if r.coverage < 0.99 {
            failures.push(format!("{}: coverage = {}", r.field_id, r.coverage));
        }
        if r.sorties == 0 || r.path_length_m <= r.spray_length_m {
            failures.push(format!("{}: implausible path {r:?}", r.field_id));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
