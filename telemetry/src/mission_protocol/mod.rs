//! The MAVLink mission protocol for mission, fence and rally lists: upload, download, clear,
//! and read-back verification. Each transfer is a small state machine with per-step timeouts
//! and retries; every MAV_MISSION_RESULT other than ACCEPTED becomes [`crate::Error::MissionRejected`].

pub mod download;
pub mod items;
pub mod stored;
pub mod upload;

use std::time::Duration;

use mavlink::dialects::ardupilotmega::MavMissionResult;

use crate::error::Error;
use crate::frame::Frame;
use crate::link::Target;
use items::MissionKind;

/// Timeouts and retries of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferConfig {
    /// How long to wait for the vehicle's next message before resending.
    pub step_timeout: Duration,
    /// How many times one step is sent before giving up.
    pub max_attempts: u32,
}

impl Default for TransferConfig {
    /// 1.5 s per step, 5 attempts (survives a lossy telemetry radio).
    fn default() -> Self {
        Self {
            step_timeout: Duration::from_millis(1500),
            max_attempts: 5,
        }
    }
}

/// Plain-words meaning of a MAV_MISSION_RESULT.
pub fn result_meaning(r: MavMissionResult) -> &'static str {
    use MavMissionResult::*;
    match r {
        MAV_MISSION_ACCEPTED => "accepted",
        MAV_MISSION_ERROR => "generic error",
        MAV_MISSION_UNSUPPORTED_FRAME => "a coordinate frame is not supported",
        MAV_MISSION_UNSUPPORTED => "a command is not supported",
        MAV_MISSION_NO_SPACE => "the mission does not fit in the vehicle's storage",
        MAV_MISSION_INVALID => "a parameter is invalid",
        MAV_MISSION_INVALID_PARAM1 => "param1 is invalid",
        MAV_MISSION_INVALID_PARAM2 => "param2 is invalid",
        MAV_MISSION_INVALID_PARAM3 => "param3 is invalid",
        MAV_MISSION_INVALID_PARAM4 => "param4 is invalid",
        MAV_MISSION_INVALID_PARAM5_X => "param5 (x / latitude) is invalid",
        MAV_MISSION_INVALID_PARAM6_Y => "param6 (y / longitude) is invalid",
        MAV_MISSION_INVALID_PARAM7 => "param7 (z / altitude) is invalid",
        MAV_MISSION_INVALID_SEQUENCE => "an item arrived out of sequence",
        MAV_MISSION_DENIED => "the vehicle is not accepting missions now",
        MAV_MISSION_OPERATION_CANCELLED => "the transfer was cancelled",
        #[allow(unreachable_patterns)]
        _ => "unknown result",
    }
}

/// The rejection error for a result.
pub(crate) fn rejected(kind: MissionKind, operation: &'static str, r: MavMissionResult) -> Error {
    Error::MissionRejected {
        mission_type: kind.name(),
        operation,
        result: format!("{r:?}"),
        meaning: result_meaning(r),
    }
}

/// True if a frame comes from the target vehicle.
pub(crate) fn from_target(f: &Frame, t: Target) -> bool {
    f.system_id() == t.system && f.header.component_id == t.component
}
