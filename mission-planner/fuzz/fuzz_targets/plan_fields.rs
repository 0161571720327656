//! Every field `read_fields` accepts from arbitrary bytes is planned with the default
//! configuration: a plan or a typed error, never a panic, and a plan never leaves its field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(set) = mission_planner::read_fields(data) else {
        return;
    };
    let Ok(swath) = mission_planner::SwathWidth::new(5.0) else {
        return;
    };
    let cfg = mission_planner::PlanConfig::new(swath);
    for f in set.fields.iter().flatten().take(4) {
        if let Ok(p) = mission_planner::plan(f, &cfg) {
            assert_eq!(p.report.outside_m, 0.0, "{}", f.id);
        }
    }
});
