//! Named tracing events of the telemetry crate, one function per event.

use std::time::Duration;

/// A CRC-valid frame whose payload the dialect refused.
pub(crate) fn frame_undecodable(msgid: u32, error: &mavlink::error::ParserError) {
    tracing::debug!(message = "Undecodable MAVLink frame dropped.", msgid, %error);
}

/// The link's transport failed.
pub(crate) fn link_read_failed(error: &dyn std::fmt::Display) {
    tracing::warn!(message = "MAVLink link read failed.", %error);
}

/// The vehicle was found by its heartbeat.
pub(crate) fn vehicle_found(system: u8, component: u8, autopilot: &str, vehicle_type: &str) {
    tracing::info!(
        message = "Vehicle found.",
        system,
        component,
        autopilot,
        vehicle_type
    );
}

/// A mission protocol step timed out and is retried.
pub(crate) fn mission_retry(stage: &str, seq: Option<u16>, attempt: u32) {
    tracing::debug!(
        message = "Mission protocol timeout, retrying.",
        stage,
        ?seq,
        attempt
    );
}

/// A mission list was uploaded.
pub(crate) fn mission_uploaded(mission_type: &str, count: usize, elapsed: Duration) {
    tracing::info!(
        message = "Mission list uploaded.",
        mission_type,
        count,
        elapsed_ms = elapsed.as_millis() as u64
    );
}

/// A command was sent and acknowledged (or not).
pub(crate) fn command_result(command: &str, result: &str) {
    tracing::info!(message = "Command acknowledged.", command, result);
}

/// The vehicle sent a status text.
pub(crate) fn status_text(severity: &str, text: &str) {
    tracing::info!(message = "Vehicle status text.", severity, text);
}

/// Spray-off could not be confirmed.
pub(crate) fn spray_off_unconfirmed(error: &dyn std::fmt::Display) {
    tracing::warn!(message = "Spray-off not acknowledged.", %error);
}
