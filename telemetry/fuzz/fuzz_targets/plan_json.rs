//! Arbitrary text as a QGroundControl `.plan`: reading it, cutting sorties and resuming after
//! any item give a plan or a typed error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.plan");
    let Ok(plan) = telemetry::Plan::from_json(text, path) else {
        return;
    };
    let _ = plan.mission_items();
    let _ = plan.fence_items();
    for n in 1..=3 {
        if let Ok(s) = plan.sortie(n, path) {
            for r in 0..s.items.len().min(64) {
                let _ = s.resume_after(r, path);
            }
        }
    }
});
