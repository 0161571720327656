//! Plans every field of `../shared/fields/fields.geojson` with the default configuration and
//! 5 m swaths: no error, no leg of the mission closer than the fence margin to the fence,
//! coverage ≥ 99 %, a fence that fits ArduPilot's ~70 points; prints the table.

use mission_planner::{PlanConfig, SwathWidth, fit_fence, plan, read_fields};

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
    println!("{}", mission_planner::PlanReport::table_header());
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
        println!("{}", r.table_row());
        if r.outside_m != 0.0 {
            failures.push(format!("{}: outside_m = {}", r.field_id, r.outside_m));
        }
        if r.outside_field_m != 0.0 {
            failures.push(format!(
                "{}: outside_field_m = {}",
                r.field_id, r.outside_field_m
            ));
        }
        match fit_fence(&p, 70) {
            Ok(fit) if fit.changed() => println!(
                "  fence {} → {} points (within {} m), exclusions left out of the fence: {:?}",
                fit.points_before, fit.points_after, fit.max_shift_m, fit.dropped_exclusions
            ),
            Ok(_) => {}
            Err(e) => failures.push(e.to_string()),
        }
        if r.cut_off_ha > 0.0 {
            println!(
                "  {:.3} ha beyond necks narrower than twice the fence margin; plan it from {:?}",
                r.cut_off_ha, r.cut_off_refills
            );
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
