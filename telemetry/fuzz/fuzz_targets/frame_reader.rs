//! Arbitrary bytes, pushed in arbitrary chunks, into the frame reader: it must never panic,
//! and every frame it returns must re-decode from its own raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let chunk = usize::from(split).max(1);
    let mut d = telemetry::FrameDecoder::new();
    for part in rest.chunks(chunk) {
        d.push(part);
        while let Some(frame) = d.next_frame() {
            let again = telemetry::decode_all(&frame.raw);
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].raw, frame.raw);
        }
    }
});
