//! Arbitrary bytes as an uploaded field file (GeoJSON, KML or KMZ, detected from the content):
//! `read_fields` must return fields or a typed error, never panic, overflow the stack or run
//! away with memory (libFuzzer's -rss_limit_mb enforces the last).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = mission_planner::read_fields(data) {
        for f in set.fields.iter().flatten() {
            // Whatever was accepted is a real polygon with a name.
            assert!(!f.id.is_empty());
        }
    }
});
