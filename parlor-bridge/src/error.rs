//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong in the bridge: loading maps and configs, talking Modbus, storing and forwarding.
///
/// A device's refusal ([`BridgeError::Exception`]) is kept apart from a transport failure
/// ([`BridgeError::Transport`], [`BridgeError::Timeout`], [`BridgeError::Protocol`]); a server's
/// refusal ([`BridgeError::Rejected`]) apart from an unreachable server ([`BridgeError::Http`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A TOML file (register map or bridge config) is not well-formed or has a wrong key or type.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A register map or config parsed but is not valid (overlap, out of range, unknown name...).
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending entry (0 when the problem is not tied to one entry).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A device address string could not be understood.
    #[error("bad device address {address:?}: {reason}")]
    Address {
        /// The address as written.
        address: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The connection to a device failed (connect, read, write, closed).
    #[error("device {device}: transport failure: {source}")]
    Transport {
        /// The device name.
        device: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A device sent a reply that does not fit the request (garbage, wrong header, wrong length).
    #[error("device {device}: protocol error: {message}")]
    Protocol {
        /// The device name.
        device: String,
        /// What was wrong with the reply.
        message: String,
    },
    /// A device answered with a Modbus exception (it refused the request).
    #[error("device {device}: Modbus exception {code:#04x} ({name}) for {request}")]
    Exception {
        /// The device name.
        device: String,
        /// The request that was refused, e.g. `FC03 1000+120`.
        request: String,
        /// The exception code (0x02 illegal address, 0x0B gateway target failed, ...).
        code: u8,
        /// The exception's name.
        name: String,
    },
    /// A device did not answer within its timeout.
    #[error("device {device}: no answer within {timeout_ms} ms to {request}")]
    Timeout {
        /// The device name.
        device: String,
        /// The request left unanswered.
        request: String,
        /// The timeout that expired.
        timeout_ms: u64,
    },
    /// A device's data does not fit its register map (e.g. a bail count beyond the map).
    #[error("device {device}: {message}")]
    DeviceData {
        /// The device name.
        device: String,
        /// What does not fit.
        message: String,
    },
    /// The local database failed.
    #[error("store {what}: {source}")]
    Store {
        /// What the store was doing.
        what: &'static str,
        /// The database error.
        source: sqlx::Error,
    },
    /// The ingest server could not be reached or the exchange broke off.
    #[error("forwarding to {url}: {message}")]
    Http {
        /// The URL posted to.
        url: String,
        /// What failed.
        message: String,
    },
    /// The ingest server answered but refused the batch.
    #[error("server {url} refused batch {batch_key}: HTTP {status}: {body}")]
    Rejected {
        /// The URL posted to.
        url: String,
        /// The batch's idempotency key.
        batch_key: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The MQTT broker could not be reached, refused the connection, or the session broke off.
    #[error("MQTT broker {broker}: {message}")]
    Mqtt {
        /// `host:port` of the broker.
        broker: String,
        /// What failed.
        message: String,
    },
    /// A time argument could not be parsed.
    #[error(
        "bad time {input:?}: expected RFC 3339 (2026-11-25T06:00:00Z), UNIX seconds or a duration like 2h"
    )]
    Time {
        /// The text given.
        input: String,
    },
}

impl BridgeError {
    /// True when the error is a device's refusal (a Modbus exception), not a transport problem.
    pub fn is_exception(&self) -> bool {
        matches!(self, BridgeError::Exception { .. })
    }

    pub(crate) fn store(what: &'static str) -> impl FnOnce(sqlx::Error) -> BridgeError {
        move |source| BridgeError::Store { what, source }
    }
}

/// Converts a byte offset in `src` into a 1-based (line, column).
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
    (line, column)
}

/// Turns a TOML parse error into [`BridgeError::Syntax`] naming the line.
pub(crate) fn toml_error(
    path: &std::path::Path,
    src: &str,
    error: &toml::de::Error,
) -> BridgeError {
    let (line, column) = error.span().map_or((0, 0), |s| line_col(src, s.start));
    BridgeError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message: error.message().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "a\nbc\nd";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 3), (2, 2));
        assert_eq!(line_col(src, 5), (3, 1));
    }
}
