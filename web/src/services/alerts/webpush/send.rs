//! One push: the notice as a small JSON payload (Japanese first, short enough for a lock
//! screen, with the page's link), encrypted to the subscription and POSTed to its push
//! service with the VAPID header, `TTL` and `Urgency` (RFC 8030 §5). The push service's
//! answer decides what follows: 2xx sent; 404/410 the subscription is gone; 429 or 503 with
//! a `Retry-After` reschedule the message for when the service asked; 429 and 5xx without
//! one (and an unreachable service) are tried again with the outbox's backoff; any other
//! status is a refusal that retrying cannot change.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

use super::ece;
use super::vapid::VapidKey;
use crate::services::alerts::deliver::{DeliveryError, MAX_RETRY_AFTER};
use crate::storage::PushTarget;

/// How long the push service keeps an undelivered message: half a day (an alert older than
/// that is on the alerts page, and a phone that was off that long gets the mail).
pub const TTL_S: u32 = 12 * 3600;

/// What the service worker gets (decrypted), as JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    /// The notification's title: the message's first line (≤ 60 characters, Japanese first).
    pub title: String,
    /// The notification's text: what a tap does, in both languages.
    pub body: String,
    /// The page the alert is about; a tap opens it.
    pub url: String,
    /// The signed acknowledge link (openings only): the notification's action opens it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_url: Option<String>,
    /// The acknowledge action's label, in both languages (openings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_title: Option<String>,
    /// `alert-<id>`: the resolution replaces the opening's notification on the device.
    pub tag: String,
    /// `opened` or `resolved`.
    pub event: String,
}

/// RFC 8030 §5.3 urgency: a critical rule's opening is `high`, every other message `normal`.
pub fn urgency(critical: bool, event: &str) -> &'static str {
    if critical && event == "opened" {
        "high"
    } else {
        "normal"
    }
}

/// Where, with which key and how a push goes.
#[derive(Debug, Clone, Copy)]
pub struct Push<'a> {
    /// The subscription.
    pub target: &'a PushTarget,
    /// The server's VAPID key.
    pub key: &'a VapidKey,
    /// The VAPID `sub` contact.
    pub contact: &'a str,
    /// The `Urgency` header.
    pub urgency: &'a str,
    /// The plaintext (the JSON payload).
    pub payload: &'a [u8],
    /// For the token's expiry.
    pub now: DateTime<Utc>,
}

/// Encrypts and posts one push.
///
/// # Errors
/// [`DeliveryError::PushGone`] for 404/410, [`DeliveryError::PushRefused`] for a refusal
/// (or a stored key that cannot encrypt), [`DeliveryError::Push`] for what may pass on retry.
pub async fn post(client: &reqwest::Client, p: &Push<'_>) -> Result<(), DeliveryError> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let refused = |e: &dyn std::fmt::Display| DeliveryError::PushRefused(e.to_string());
    let url = reqwest::Url::parse(&p.target.endpoint).map_err(|e| refused(&e))?;
    let ua = URL_SAFE_NO_PAD
        .decode(&p.target.p256dh)
        .map_err(|e| refused(&e))?;
    let auth = URL_SAFE_NO_PAD
        .decode(&p.target.auth)
        .map_err(|e| refused(&e))?;
    let body = ece::encrypt_fresh(&ua, &auth, p.payload).map_err(|e| refused(&e))?;
    let resp = client
        .post(url.clone())
        .header("TTL", TTL_S.to_string())
        .header("Urgency", p.urgency)
        .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header(
            reqwest::header::AUTHORIZATION,
            p.key.authorization(&url, p.contact, p.now),
        )
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| DeliveryError::Push(e.to_string()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let later = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, p.now)),
        _ => None,
    };
    // The service's reason, for the stored attempt (cut short: it is shown on the page).
    let why: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    let what = format!("HTTP {status} {why}").trim_end().to_owned();
    if let Some(after) = later {
        return Err(DeliveryError::PushLater {
            reason: what,
            after,
        });
    }
    Err(match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => DeliveryError::PushGone(what),
        StatusCode::TOO_MANY_REQUESTS => DeliveryError::Push(what),
        s if s.is_server_error() => DeliveryError::Push(what),
        _ => DeliveryError::PushRefused(what),
    })
}

/// A `Retry-After` value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as the wait from
/// `now`, at least one second and at most [`MAX_RETRY_AFTER`]; `None` when it is neither.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    let wait = if let Ok(s) = v.parse::<u64>() {
        Duration::from_secs(s)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(wait.clamp(Duration::from_secs(1), MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_critical_opening_is_urgent() {
        assert_eq!(urgency(true, "opened"), "high");
        assert_eq!(urgency(true, "resolved"), "normal");
        assert_eq!(urgency(false, "opened"), "normal");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date_within_bounds() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = Duration::from_secs;
        assert_eq!(retry_after("120", now), Some(s(120)));
        assert_eq!(retry_after(" 0 ", now), Some(s(1)));
        assert_eq!(retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 12:01:30 GMT", now),
            Some(s(90))
        );
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 11:00:00 GMT", now),
            Some(s(1))
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }
}
