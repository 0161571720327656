//! Arbitrary bytes as a `.tlog`: the replay reader must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (records, _skipped) = telemetry::parse_tlog(data);
    for r in records {
        assert!(!r.frame.raw.is_empty());
    }
});
