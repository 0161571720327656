//! Arbitrary bytes as an uploaded prescription (GeoJSON, zipped Shapefile or TASKDATA,
//! GeoTIFF, ISOXML, detected from the content): `read_prescription` must return zones or a
//! typed error, never panic, overflow the stack or run away with memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mission_planner::{RateUnit, ReadOptions, read_prescription};

fuzz_target!(|data: &[u8]| {
    let options = ReadOptions::new(Some("rate"), RateUnit::LitresPer10a);
    if let Ok(rx) = read_prescription(data, &options) {
        // Whatever was accepted has zones with rates in range.
        assert!(!rx.zones.is_empty());
        assert!(rx.zones.iter().all(|z| z.rate.is_finite() && z.rate >= 0.0));
    }
});
