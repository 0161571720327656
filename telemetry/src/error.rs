//! The one error type of the crate.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong between a `.plan` and a recorded flight.
///
/// A vehicle's refusal ([`Error::MissionRejected`], [`Error::CommandRejected`], [`Error::ArmRefused`])
/// is kept apart from a transport failure ([`Error::Io`], [`Error::LinkClosed`], [`Error::Timeout`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A link address string could not be understood.
    #[error("bad link address {address:?}: {reason}")]
    BadAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Opening, reading or writing a socket, serial port or file failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The link's reader or writer stopped (peer gone, socket closed).
    #[error("the link is closed")]
    LinkClosed,
    /// No HEARTBEAT from an autopilot arrived in time.
    #[error("no vehicle heartbeat within {waited:?}")]
    NoVehicle {
        /// How long we waited.
        waited: Duration,
    },
    /// The vehicle's heartbeat stopped.
    #[error("lost link: no heartbeat from the vehicle for {silent:?}")]
    LinkLost {
        /// How long the vehicle has been silent.
        silent: Duration,
    },
    /// The vehicle did not answer a protocol step within the retries allowed.
    #[error("timeout during {stage} (item {seq:?}) after {attempts} attempts")]
    Timeout {
        /// The protocol step that timed out, e.g. "mission upload".
        stage: String,
        /// The item sequence number concerned, if any.
        seq: Option<u16>,
        /// How many times we sent before giving up.
        attempts: u32,
    },
    /// The vehicle answered the mission protocol with an error MISSION_ACK.
    #[error("vehicle rejected the {mission_type} {operation}: {result} ({meaning})")]
    MissionRejected {
        /// "mission", "fence" or "rally".
        mission_type: &'static str,
        /// "upload", "download" or "clear".
        operation: &'static str,
        /// The MAV_MISSION_RESULT name.
        result: String,
        /// What that result means, in plain words.
        meaning: &'static str,
    },
    /// Every item of an upload was sent but the final MISSION_ACK never arrived (a read-back
    /// decides whether the list is on the vehicle).
    #[error("{mission_type} upload: all {count} items sent, but no MISSION_ACK arrived")]
    AckMissing {
        /// "mission", "fence" or "rally".
        mission_type: &'static str,
        /// Items sent.
        count: usize,
    },
    /// The vehicle broke the mission protocol (e.g. requested an item beyond the count).
    #[error("mission protocol violation by the vehicle: {detail}")]
    ProtocolViolation {
        /// What it did.
        detail: String,
    },
    /// The read-back mission differs from what was uploaded.
    #[error("{mission_type} verification failed at item {seq}: {detail}")]
    VerifyMismatch {
        /// "mission", "fence" or "rally".
        mission_type: &'static str,
        /// The first differing item.
        seq: u16,
        /// Which field differs and how.
        detail: String,
    },
    /// The vehicle refused a command (COMMAND_ACK with a result other than ACCEPTED).
    #[error("vehicle refused {command}: {result}")]
    CommandRejected {
        /// The MAV_CMD name.
        command: String,
        /// The MAV_RESULT name.
        result: String,
    },
    /// The vehicle refused to arm; the STATUSTEXT messages it sent say why.
    #[error("vehicle refused to arm: {}", if reasons.is_empty() { "no reason given".to_string() } else { reasons.join("; ") })]
    ArmRefused {
        /// Pre-arm failure texts from STATUSTEXT.
        reasons: Vec<String>,
    },
    /// A mode name is not known for this autopilot.
    #[error("unknown flight mode {mode:?} for {autopilot}")]
    UnknownMode {
        /// The mode as asked for.
        mode: String,
        /// The autopilot family.
        autopilot: String,
    },
    /// A `.plan` file could not be read or understood.
    #[error("plan {path}: {reason}")]
    Plan {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where in the file.
        reason: String,
    },
    /// A mission item uses a command or frame number the dialect does not know.
    #[error("mission item {index}: unknown {what} {value}")]
    UnknownEnum {
        /// Index of the item in the list.
        index: usize,
        /// "command" or "frame".
        what: &'static str,
        /// The number found.
        value: u32,
    },
    /// A `.tlog` file is malformed beyond recovery.
    #[error("tlog {path}: {reason}")]
    Tlog {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A parameter the vehicle does not have, or never answered for.
    #[error("the vehicle has no parameter {name} (or did not answer for it)")]
    ParamUnknown {
        /// The parameter name asked for.
        name: String,
    },

    /// A pre-flight check failed; the mission is not started.
    #[error("pre-flight check failed: {check}: {detail}")]
    PreflightFailed {
        /// Which check ("gps", "battery", "fence", …).
        check: &'static str,
        /// Why.
        detail: String,
    },
    /// Coverage could not be computed from the inputs.
    #[error("coverage: {reason}")]
    Coverage {
        /// What is missing or wrong.
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error with what we were doing.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
