//! `.tlog` recording and replay (QGroundControl / Mission Planner format): each record is an
//! 8-byte big-endian timestamp in microseconds since the Unix epoch, then one raw MAVLink frame.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::frame::{Frame, FrameDecoder};

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Writes frames to a `.tlog` file.
#[derive(Debug)]
pub struct TlogWriter {
    out: BufWriter<File>,
    path: PathBuf,
    n_frames: u64,
}

impl TlogWriter {
    /// Creates (or truncates) `path`.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be created.
    pub fn create(path: &Path) -> Result<Self> {
        let file =
            File::create(path).map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        Ok(Self {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
            n_frames: 0,
        })
    }

    /// Appends one frame's raw bytes stamped with `time_us`.
    ///
    /// # Errors
    /// [`Error::Io`] if writing fails.
    pub fn write(&mut self, time_us: u64, raw: &[u8]) -> Result<()> {
        self.out
            .write_all(&time_us.to_be_bytes())
            .and_then(|()| self.out.write_all(raw))
            .map_err(|e| Error::io(format!("write {}", self.path.display()), e))?;
        self.n_frames += 1;
        Ok(())
    }

    /// Flushes buffered records to the file.
    ///
    /// # Errors
    /// [`Error::Io`] if flushing fails.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io(format!("flush {}", self.path.display()), e))
    }

    /// Frames written so far.
    pub fn n_frames(&self) -> u64 {
        self.n_frames
    }
}

impl Drop for TlogWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// One replayed record.
#[derive(Debug, Clone)]
pub struct TlogRecord {
    /// Timestamp, microseconds since the Unix epoch.
    pub time_us: u64,
    /// The decoded frame.
    pub frame: Frame,
}

/// Length of the MAVLink frame starting at `bytes[0]`, from its header, if plausible.
fn frame_len(bytes: &[u8]) -> Option<usize> {
    match *bytes.first()? {
        0xFD => {
            let plen = usize::from(*bytes.get(1)?);
            let flags = *bytes.get(2)?;
            Some(10 + plen + 2 + if flags & 1 != 0 { 13 } else { 0 })
        }
        0xFE => Some(6 + usize::from(*bytes.get(1)?) + 2),
        _ => None,
    }
}

/// Reads a whole `.tlog` into records, skipping damaged records (it resynchronises on the next
/// timestamp + frame that decodes).
pub fn parse_tlog(bytes: &[u8]) -> (Vec<TlogRecord>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let mut pos = 0usize;
    while pos + 8 < bytes.len() {
        let ts = u64::from_be_bytes(bytes[pos..pos + 8].try_into().unwrap_or([0; 8]));
        let body = &bytes[pos + 8..];
        if let Some(len) = frame_len(body)
            && len <= body.len()
        {
            let mut d = FrameDecoder::small();
            d.push(&body[..len]);
            if let Some(frame) = d.next_frame()
                && frame.raw.len() == len
            {
                out.push(TlogRecord { time_us: ts, frame });
                pos += 8 + len;
                continue;
            }
        }
        pos += 1;
        skipped += 1;
    }
    (out, skipped)
}

/// Reads a `.tlog` file.
///
/// # Errors
/// [`Error::Io`] if it cannot be read, [`Error::Tlog`] if it holds no frame at all.
pub fn read_tlog(path: &Path) -> Result<Vec<TlogRecord>> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let (records, _) = parse_tlog(&bytes);
    if records.is_empty() && !bytes.is_empty() {
        return Err(Error::Tlog {
            path: path.to_path_buf(),
            reason: "no MAVLink frame found".into(),
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Msg;
    use mavlink::MavHeader;
    use mavlink::dialects::ardupilotmega as apm;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn random_bytes_never_panic_and_records_are_whole(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let (recs, _) = parse_tlog(&bytes);
            for r in recs {
                prop_assert!(r.frame.raw.len() >= 8);
            }
        }
    }

    fn frame(seq: u8) -> Frame {
        Frame::encode(
            MavHeader {
                system_id: 1,
                component_id: 1,
                sequence: seq,
            },
            Msg::MISSION_CURRENT(apm::MISSION_CURRENT_DATA {
                seq: u16::from(seq),
                ..Default::default()
            }),
        )
    }

    #[test]
    fn write_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tlog");
        let mut w = TlogWriter::create(&path).unwrap();
        for s in 0..10u8 {
            w.write(1_700_000_000_000_000 + u64::from(s), &frame(s).raw)
                .unwrap();
        }
        drop(w);
        let recs = read_tlog(&path).unwrap();
        assert_eq!(recs.len(), 10);
        assert_eq!(recs[3].time_us, 1_700_000_000_000_003);
        assert_eq!(recs[3].frame.header.sequence, 3);
    }

    #[test]
    fn damaged_record_is_skipped() {
        let mut bytes = Vec::new();
        for s in 0..3u8 {
            bytes.extend_from_slice(&(u64::from(s)).to_be_bytes());
            let mut raw = frame(s).raw;
            if s == 1 {
                let n = raw.len();
                raw[n - 1] ^= 0x55;
            }
            bytes.extend_from_slice(&raw);
        }
        let (recs, skipped) = parse_tlog(&bytes);
        assert_eq!(
            recs.iter()
                .map(|r| r.frame.header.sequence)
                .collect::<Vec<_>>(),
            vec![0, 2]
        );
        assert!(skipped > 0);
    }
}
