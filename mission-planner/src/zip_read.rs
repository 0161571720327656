//! Every file of a zip archive (a zipped prescription, a GSI elevation download), inflated
//! within limits (entries, total inflated size, compression ratio), never trusting the
//! archive's headers.

use crate::field::import::KmzLimits;
use std::io::Read;

/// The archive's files as (name, bytes), directories left out; the error says in English
/// what is wrong, for the caller's own error.
pub(crate) fn read_all(bytes: &[u8], limits: &KmzLimits) -> Result<Vec<(String, Vec<u8>)>, String> {
    let zip_err = |e: &dyn std::fmt::Display| e.to_string();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| zip_err(&e))?;
    if archive.len() > limits.entries {
        return Err(zip_err(&format!("more than {} entries", limits.entries)));
    }
    let mut left = limits.inflated;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let file = archive.by_index(i).map_err(|e| zip_err(&e))?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().map_err(|e| zip_err(&e))?.to_string();
        // The decoder reads at most the entry's compressed size, so the ratio bound holds
        // whatever the header claims the inflated size to be.
        let compressed = file.compressed_size().min(bytes.len() as u64);
        let by_ratio = compressed
            .saturating_mul(limits.ratio)
            .max(limits.ratio_floor);
        let cap = left.min(by_ratio);
        let mut data = Vec::new();
        file.take(cap + 1)
            .read_to_end(&mut data)
            .map_err(|e| zip_err(&e))?;
        if data.len() as u64 > cap {
            return Err(zip_err(&if cap == left {
                format!("the files inflate to more than {} bytes", limits.inflated)
            } else {
                format!(
                    "{name} inflates to more than {} times its compressed size",
                    limits.ratio
                )
            }));
        }
        left -= data.len() as u64;
        out.push((name, data));
    }
    Ok(out)
}
