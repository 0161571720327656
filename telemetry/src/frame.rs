//! MAVLink frames as received: the raw bytes (for the `.tlog`) beside the decoded message.
//!
//! [`FrameDecoder`] is a push decoder: hand it bytes in any chunking and pull out CRC-checked,
//! decoded frames. It wraps `mavlink::MavlinkReader`, which rescans byte by byte after a bad
//! candidate, so a corrupted frame never swallows the good frame after it.

use std::collections::VecDeque;
use std::io::Read;

use mavlink::dialects::ardupilotmega::MavMessage;
use mavlink::{MAVLinkMessageRaw, MAVLinkV2MessageRaw, MavHeader, MavlinkVersion, Message};

/// The dialect every frame is decoded with (ardupilotmega, which includes common).
pub type Msg = MavMessage;

/// One received (or sent) MAVLink frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The whole frame as it was on the wire, from the STX byte through the CRC (and signature).
    pub raw: Vec<u8>,
    /// MAVLink 1 or 2.
    pub version: MavlinkVersion,
    /// Sender system, component and sequence number.
    pub header: MavHeader,
    /// The decoded message.
    pub msg: Msg,
}

impl Frame {
    /// Builds a frame from a CRC-checked raw message, decoding its payload.
    ///
    /// # Errors
    /// The dialect's parse error (unknown message id, invalid enum value, oversized payload).
    pub fn from_raw(raw: &MAVLinkMessageRaw) -> Result<Self, mavlink::error::ParserError> {
        let bytes = match raw {
            MAVLinkMessageRaw::V1(m) => m.raw_bytes().to_vec(),
            MAVLinkMessageRaw::V2(m) => m.raw_bytes().to_vec(),
        };
        let msg = Msg::parse(raw.version(), raw.message_id(), raw.payload())?;
        Ok(Self {
            raw: bytes,
            version: raw.version(),
            header: MavHeader {
                system_id: raw.system_id(),
                component_id: raw.component_id(),
                sequence: raw.sequence(),
            },
            msg,
        })
    }

    /// Encodes `msg` as an unsigned MAVLink 2 frame from `header` (used by fakes and tests).
    pub fn encode(header: MavHeader, msg: Msg) -> Self {
        let mut raw = MAVLinkV2MessageRaw::new();
        raw.serialize_message(header, &msg);
        Self {
            raw: raw.raw_bytes().to_vec(),
            version: MavlinkVersion::V2,
            header,
            msg,
        }
    }

    /// The sender's system id as a byte (MAVLink system ids on the wire fit in a byte).
    pub fn system_id(&self) -> u8 {
        u8::try_from(self.header.system_id).unwrap_or(u8::MAX)
    }
}

/// Counters kept by a [`FrameDecoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames returned.
    pub frames: u64,
    /// CRC-valid frames whose payload the dialect refused (bad enum value, …).
    pub undecodable: u64,
    /// CRC-valid frames dropped for an incompatibility flag this decoder does not speak.
    pub unsupported_flags: u64,
    /// Bytes fed in.
    pub bytes_in: u64,
}

/// Bytes waiting to be parsed; `Read` returns 0 ("end of input") when empty, which the
/// reader reports as EOF while keeping any partial frame for the next push.
#[derive(Debug, Default)]
struct PushBuffer(VecDeque<u8>);

impl Read for PushBuffer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let (a, b) = self.0.as_slices();
        let src = if a.is_empty() { b } else { a };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        self.0.drain(..n);
        Ok(n)
    }
}

/// Incremental decoder: [`push`](Self::push) bytes, then call [`next_frame`](Self::next_frame)
/// until it returns `None`.
pub struct FrameDecoder {
    reader: mavlink::MavlinkReader<PushBuffer>,
    stats: DecoderStats,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder accepting MAVLink 1 and 2, signed or not (signatures are not checked).
    pub fn new() -> Self {
        Self {
            reader: mavlink::MavlinkReader::new(PushBuffer::default()),
            stats: DecoderStats::default(),
        }
    }

    /// A decoder with the smallest read-ahead buffer (one maximum-size frame), for decoding
    /// many short byte slices cheaply.
    pub fn small() -> Self {
        Self {
            reader: mavlink::MavlinkReader::with_capacity(
                mavlink::consts::MAX_FRAME_SIZE,
                PushBuffer::default(),
            ),
            stats: DecoderStats::default(),
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.stats.bytes_in += bytes.len() as u64;
        self.reader.get_mut().0.extend(bytes);
    }

    /// The next complete, CRC-valid, decodable frame, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let raw = match self.reader.read_any_raw_message::<Msg>() {
                Ok(raw) => raw,
                Err(_) => return None, // end of the pushed bytes; partial frames stay buffered
            };
            // MAVLink 2 defines one incompatibility flag (signed). mavlink 0.21 also accepts a
            // non-standard 32-bit system id flag; a standard receiver must drop such frames.
            if let MAVLinkMessageRaw::V2(m) = &raw
                && m.incompatibility_flags() & !0x01 != 0
            {
                self.stats.unsupported_flags += 1;
                continue;
            }
            match Frame::from_raw(&raw) {
                Ok(frame) => {
                    self.stats.frames += 1;
                    return Some(frame);
                }
                Err(error) => {
                    self.stats.undecodable += 1;
                    crate::events::frame_undecodable(raw.message_id(), &error);
                }
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }
}

/// Decodes every frame in `bytes` (a convenience over [`FrameDecoder`]).
pub fn decode_all(bytes: &[u8]) -> Vec<Frame> {
    let mut d = FrameDecoder::new();
    d.push(bytes);
    std::iter::from_fn(|| d.next_frame()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mavlink::dialects::ardupilotmega as apm;
    use proptest::prelude::*;

    fn hb(seq: u8) -> Frame {
        let header = MavHeader {
            system_id: 1,
            component_id: 1,
            sequence: seq,
        };
        Frame::encode(header, Msg::HEARTBEAT(apm::HEARTBEAT_DATA::default()))
    }

    #[test]
    fn frames_split_across_pushes_come_out_whole() {
        let mut bytes = Vec::new();
        for s in 0..5 {
            bytes.extend_from_slice(&hb(s).raw);
        }
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for chunk in bytes.chunks(7) {
            d.push(chunk);
            while let Some(f) = d.next_frame() {
                got.push(f.header.sequence);
            }
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_bad_crc_frame_is_skipped_and_the_next_kept() {
        let mut bad = hb(1).raw;
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        let mut bytes = bad;
        bytes.extend_from_slice(&hb(2).raw);
        let got = decode_all(&bytes);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].header.sequence, 2);
    }

    #[test]
    fn unknown_incompat_flags_are_dropped() {
        let mut raw = MAVLinkV2MessageRaw::new();
        let header = MavHeader {
            system_id: 1,
            component_id: 1,
            sequence: 0,
        };
        raw.serialize_message(header, &Msg::HEARTBEAT(apm::HEARTBEAT_DATA::default()));
        let mut bytes = raw.raw_bytes().to_vec();
        bytes[2] = 0x04;
        assert!(decode_all(&bytes).is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_all(&bytes);
        }

        #[test]
        fn mutated_frames_never_panic_and_untouched_frames_survive(
            seqs in proptest::collection::vec(any::<u8>(), 1..20),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        ) {
            let mut bytes = Vec::new();
            for s in &seqs { bytes.extend_from_slice(&hb(*s).raw); }
            let clean = decode_all(&bytes);
            prop_assert_eq!(clean.len(), seqs.len());
            for (i, x) in flips { let i = i.index(bytes.len()); bytes[i] ^= x; }
            let got = decode_all(&bytes);
            prop_assert!(got.len() <= seqs.len() + 8);
        }
    }
}
