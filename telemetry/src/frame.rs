//! MAVLink frames as received: the raw bytes (for the `.tlog`) beside the decoded message.
//!
//! [`FrameDecoder`] is a push decoder: hand it bytes in any chunking and pull out CRC-checked,
//! decoded frames. It wraps `mavlink::MavlinkReader`, which rescans byte by byte after a bad
//! candidate, so a corrupted frame never swallows the good frame after it.

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
    /// Bytes fed in.
    pub bytes_in: u64,
}

/// MAVLink framing constants (MAVLink serialisation docs, "Packet format"; the same values as
/// `mavlink::consts`).
mod wire {
    /// MAVLink 1 start marker.
    pub const STX_V1: u8 = 0xFE;
    /// MAVLink 2 start marker.
    pub const STX_V2: u8 = 0xFD;
    /// Header bytes after the marker: len, seq, sysid, compid, msgid (v1).
    pub const HEADER_V1: usize = 5;
    /// Header bytes after the marker: len, incompat, compat, seq, sysid, compid, msgid×3 (v2).
    pub const HEADER_V2: usize = 9;
    /// The one incompatibility flag MAVLink 2 defines: the frame is signed.
    pub const IFLAG_SIGNED: u8 = 0x01;
    /// Length of a MAVLink 2 signature (link id, timestamp, signature).
    pub const SIGNATURE: usize = 13;
    /// Largest frame: marker + v2 header + 255 payload + CRC + signature.
    pub const MAX_FRAME: usize = 1 + HEADER_V2 + 255 + 2 + SIGNATURE;
}

/// Incremental decoder: [`push`](Self::push) bytes, then call [`next_frame`](Self::next_frame)
/// until it returns `None`.
///
/// It finds frames by the rules of `mavlink`'s own (crate-private) frame finder in
/// mavlink-core 0.21 `frame_decoder.rs` — search for a marker, drop a candidate with an
/// incompatibility flag other than "signed", wait for the whole frame, check the CRC with the
/// dialect's CRC_EXTRA, and on a bad candidate resume one byte after its marker — and then
/// decodes the payload straight from its own contiguous buffer with the dialect's parser.
/// Going through `MavlinkReader::read_any_raw_message` instead copied every frame into a
/// 280-byte `MAVLinkMessageRaw` and moved it twice before parsing; the bare reader does not,
/// and that copy was most of the difference (telemetry/benches/PROFILE.md). A differential
/// property test keeps the two finders in agreement.
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    stats: DecoderStats,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("stats", &self.stats)
            .field("buffered", &(self.buf.len() - self.start))
            .finish_non_exhaustive()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// What the frame finder made of the bytes at the current position.
enum Candidate {
    /// Not enough bytes yet.
    Incomplete,
    /// Not a frame: resume one byte later.
    Reject,
    /// A CRC-valid frame of this length.
    Frame(MavlinkVersion, usize),
}

impl FrameDecoder {
    /// A decoder accepting MAVLink 1 and 2, signed or not (signatures are not checked).
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(4096),
            start: 0,
            stats: DecoderStats::default(),
        }
    }

    /// A decoder with the smallest starting buffer (one maximum-size frame), for decoding
    /// many short byte slices cheaply.
    pub fn small() -> Self {
        Self {
            buf: Vec::with_capacity(wire::MAX_FRAME),
            start: 0,
            stats: DecoderStats::default(),
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.stats.bytes_in += bytes.len() as u64;
        if self.start > 0 {
            // What is left is at most a partial frame: move it to the front.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Classifies the bytes at `self.start`, which hold a marker.
    fn candidate(&self) -> Candidate {
        let c = &self.buf[self.start..];
        let v2 = c[0] == wire::STX_V2;
        if c.len() < if v2 { 3 } else { 2 } {
            return Candidate::Incomplete;
        }
        // MAVLink 2 receivers must drop frames with an incompatibility flag they do not
        // understand; mavlink 0.21 also takes a non-standard 32-bit system id flag, we do not.
        let signed = v2 && c[2] & wire::IFLAG_SIGNED != 0;
        if v2 && c[2] & !wire::IFLAG_SIGNED != 0 {
            return Candidate::Reject;
        }
        let header = if v2 { wire::HEADER_V2 } else { wire::HEADER_V1 };
        let payload = usize::from(c[1]);
        let crc_at = 1 + header + payload;
        let len = crc_at + 2 + if signed { wire::SIGNATURE } else { 0 };
        if c.len() < len {
            return Candidate::Incomplete;
        }
        let id = if v2 {
            u32::from_le_bytes([c[7], c[8], c[9], 0])
        } else {
            u32::from(c[5])
        };
        let want = u16::from_le_bytes([c[crc_at], c[crc_at + 1]]);
        if mavlink::calculate_crc(&c[1..crc_at], Msg::extra_crc(id)) != want {
            return Candidate::Reject;
        }
        let version = if v2 {
            MavlinkVersion::V2
        } else {
            MavlinkVersion::V1
        };
        Candidate::Frame(version, len)
    }

    /// The next complete, CRC-valid, decodable frame, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let rest = &self.buf[self.start..];
            // In a stream in step the next byte is a marker: skip the search setup then.
            let found = match rest.first() {
                Some(&b) if b == wire::STX_V1 || b == wire::STX_V2 => Some(0),
                _ => memchr::memchr2(wire::STX_V1, wire::STX_V2, rest),
            };
            let Some(at) = found else {
                self.buf.clear();
                self.start = 0;
                return None;
            };
            self.start += at;
            let (version, len) = match self.candidate() {
                Candidate::Incomplete => return None,
                Candidate::Reject => {
                    self.start += 1;
                    continue;
                }
                Candidate::Frame(version, len) => (version, len),
            };
            let raw = &self.buf[self.start..self.start + len];
            let (header_len, id, seq, sys, comp) = match version {
                MavlinkVersion::V1 => (wire::HEADER_V1, u32::from(raw[5]), raw[2], raw[3], raw[4]),
                MavlinkVersion::V2 => (
                    wire::HEADER_V2,
                    u32::from_le_bytes([raw[7], raw[8], raw[9], 0]),
                    raw[4],
                    raw[5],
                    raw[6],
                ),
            };
            let payload = &raw[1 + header_len..1 + header_len + usize::from(raw[1])];
            let parsed = Msg::parse(version, id, payload);
            let frame = parsed.map(|msg| Frame {
                raw: raw.to_vec(),
                version,
                header: MavHeader {
                    system_id: sys.into(),
                    component_id: comp,
                    sequence: seq,
                },
                msg,
            });
            self.start += len;
            match frame {
                Ok(frame) => {
                    self.stats.frames += 1;
                    return Some(frame);
                }
                Err(error) => {
                    self.stats.undecodable += 1;
                    crate::events::frame_undecodable(id, &error);
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

    /// What `mavlink`'s own reader finds in `bytes`: the raw bytes of every CRC-valid frame
    /// a standard receiver keeps (no unknown incompatibility flag) and the dialect decodes.
    fn mavlink_reader_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut r = mavlink::MavlinkReader::new(bytes);
        let mut out = Vec::new();
        loop {
            match r.read_any_raw_message::<Msg>() {
                Ok(MAVLinkMessageRaw::V2(m)) if m.incompatibility_flags() & !0x01 != 0 => {}
                Ok(raw) => {
                    if Msg::parse(raw.version(), raw.message_id(), raw.payload()).is_ok() {
                        out.push(match &raw {
                            MAVLinkMessageRaw::V1(m) => m.raw_bytes().to_vec(),
                            MAVLinkMessageRaw::V2(m) => m.raw_bytes().to_vec(),
                        });
                    }
                }
                Err(mavlink::error::MessageReadError::Io(_)) => return out,
                Err(_) => {}
            }
        }
    }

    /// A mixed stream: MAVLink 1 and 2, signed and not, several message types.
    fn mixed(seqs: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (i, s) in seqs.iter().enumerate() {
            let header = MavHeader {
                system_id: 1 + u32::try_from(i % 3).unwrap(),
                component_id: 1,
                sequence: *s,
            };
            let msg = match i % 4 {
                0 => Msg::HEARTBEAT(apm::HEARTBEAT_DATA::default()),
                1 => Msg::GLOBAL_POSITION_INT(apm::GLOBAL_POSITION_INT_DATA {
                    lat: 368_000_000 + i32::from(*s),
                    ..Default::default()
                }),
                2 => Msg::SERVO_OUTPUT_RAW(apm::SERVO_OUTPUT_RAW_DATA {
                    servo9_raw: 1900,
                    ..Default::default()
                }),
                _ => Msg::SYS_STATUS(apm::SYS_STATUS_DATA::default()),
            };
            if i % 5 == 4 {
                let mut raw = mavlink::MAVLinkV1MessageRaw::new();
                raw.serialize_message(header, &msg);
                bytes.extend_from_slice(raw.raw_bytes());
            } else {
                let mut raw = Frame::encode(header, msg).raw;
                if i % 7 == 6 {
                    // Signed: flag set, CRC recomputed over the changed header, 13 bytes after.
                    raw[2] |= 0x01;
                    let n = raw.len();
                    let id = u32::from_le_bytes([raw[7], raw[8], raw[9], 0]);
                    let crc = mavlink::calculate_crc(&raw[1..n - 2], Msg::extra_crc(id));
                    raw[n - 2..].copy_from_slice(&crc.to_le_bytes());
                    raw.extend_from_slice(&[7u8; 13]);
                }
                bytes.extend_from_slice(&raw);
            }
        }
        bytes
    }

    #[test]
    fn signed_and_v1_frames_come_out_whole() {
        let bytes = mixed(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let ours: Vec<Vec<u8>> = decode_all(&bytes).into_iter().map(|f| f.raw).collect();
        assert_eq!(ours.len(), 10);
        assert_eq!(ours.concat(), bytes);
        assert_eq!(ours, mavlink_reader_frames(&bytes));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Our frame finder and `mavlink`'s own agree frame for frame on damaged streams cut
        /// into any chunks.
        #[test]
        fn finds_what_the_mavlink_reader_finds(
            seqs in proptest::collection::vec(any::<u8>(), 1..40),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
            chunk in 1usize..600,
        ) {
            let mut bytes = mixed(&seqs);
            for (i, x) in flips { let i = i.index(bytes.len()); bytes[i] ^= x; }
            let mut d = FrameDecoder::new();
            let mut ours = Vec::new();
            for c in bytes.chunks(chunk) {
                d.push(c);
                while let Some(f) = d.next_frame() { ours.push(f.raw); }
            }
            prop_assert_eq!(ours, mavlink_reader_frames(&bytes));
        }
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
