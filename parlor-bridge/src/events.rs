//! Named log events of the bridge: every observable event in one place, key/value style.

use crate::error::BridgeError;

/// A register map loaded with a non-fatal remark.
pub(crate) fn map_remark(remark: &str) {
    tracing::warn!(message = "Register map remark.", remark);
}

/// A read of a parlor failed (the first failure, then every power of two).
pub(crate) fn modbus_read_failed(device: &str, error: &BridgeError, failures: u32) {
    tracing::warn!(message = "Modbus read failed.", %error, device, failures);
}

/// A parlor stopped answering.
pub(crate) fn parlor_offline(device: &str) {
    tracing::warn!(message = "Parlor offline.", device);
}

/// A parlor answers again.
pub(crate) fn parlor_online(device: &str) {
    tracing::info!(message = "Parlor back online.", device);
}

/// A controller restart was detected (counters reset).
pub(crate) fn controller_restart(device: &str) {
    tracing::info!(message = "Controller restart detected.", device);
}

/// Milkings on a bail completed unseen (the sequence jumped by more than one).
pub(crate) fn milkings_missed(device: &str, bail: u16, missed: u64) {
    tracing::warn!(message = "Milkings missed on a bail.", device, bail, missed);
}

/// The device's bail count does not fit its register map.
pub(crate) fn bail_count_rejected(device: &str, bails: u16, detail: &str) {
    tracing::error!(
        message = "Bail count does not fit the register map.",
        device,
        bails,
        detail
    );
}

/// Writing to the local store failed; the records are kept and retried.
pub(crate) fn store_write_failed(error: &BridgeError, pending: usize) {
    tracing::error!(message = "Store write failed; retrying.", %error, pending);
}

/// Records were delivered to the server.
pub(crate) fn forwarded(records: u64, url: &str) {
    tracing::debug!(message = "Forwarded records.", records, url);
}

/// The server refused a batch for its content; its records were set aside.
pub(crate) fn batch_rejected(batch_key: &str, records: u64, reason: &str) {
    tracing::error!(
        message = "Server refused a batch as unprocessable; its records are kept in the rejected table and forwarding goes on.",
        batch = batch_key,
        records,
        reason
    );
}

/// Delivery failed; it is retried after `retry_in_ms`.
pub(crate) fn forward_failed(error: &BridgeError, retry_in_ms: u64) {
    tracing::warn!(message = "Forwarding failed; will retry.", %error, retry_in_ms);
}

/// One read of a parlor's bail blocks finished (trace level: one per poll cycle). `complete` is
/// false when a block went unanswered; the times are UNIX ms of the first request and the last
/// answer, so a reader of the log can tell which register states the bridge could have seen.
pub(crate) fn bails_read(device: &str, started_ms: i64, finished_ms: i64, complete: bool) {
    tracing::trace!(
        message = "Bail registers read.",
        device,
        started_ms,
        finished_ms,
        complete
    );
}

/// Connected to the MQTT broker (a new clean session: everything unacknowledged is published again).
pub(crate) fn mqtt_connected(broker: &str, client_id: &str) {
    tracing::info!(message = "Connected to the MQTT broker.", broker, client_id);
}

/// Messages were published to the broker during one session.
pub(crate) fn mqtt_published(messages: u64, broker: &str) {
    tracing::debug!(message = "Published to MQTT.", messages, broker);
}

/// The MQTT session failed or could not start; it is retried after `retry_in_ms`.
pub(crate) fn mqtt_failed(error: &BridgeError, retry_in_ms: u64) {
    tracing::warn!(message = "MQTT publishing failed; will reconnect.", %error, retry_in_ms);
}
