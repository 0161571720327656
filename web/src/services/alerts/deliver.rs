//! Sinks: the signed webhook and SMTP e-mail (Web Push is in `webpush::send`), each tried
//! with bounded exponential backoff.

use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use sha2::Sha256;

/// The header that carries `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Agriops-Signature";

/// How often and how patiently a delivery is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The pause after the first failure; doubled after each further one.
    pub first_backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// The pause after failed attempt `n` (1-based).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// An SMTP relay reached without TLS (a farm's or the city's relay, or loopback).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The `From:` address.
    pub from: String,
}

/// The JSON body of a webhook call.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookBody<'a> {
    /// `opened` or `resolved`.
    pub event: &'a str,
    /// The alert.
    pub alert_id: i64,
    /// The farm.
    pub farm_id: i64,
    /// The parlor, when the alert is about one.
    pub parlor_id: Option<i64>,
    /// What people call the thing (the parlor's, bridge's or field's name).
    pub subject: &'a str,
    /// What was seen (alarm names, a cow's reading, a temperature); may be empty.
    pub detail: &'a str,
    /// The rule kind (`parlor_offline`, `high_conductivity`, `flight_failsafe`, …).
    pub kind: &'a str,
    /// The short text, Japanese first.
    pub text: &'a str,
    /// The page the alert is about.
    pub url: &'a str,
    /// The signed link that acknowledges the alert (openings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_url: Option<&'a str>,
}

/// A delivery attempt that failed, with the reason to store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The webhook could not be reached or answered with a non-2xx status.
    #[error("webhook: {0}")]
    Webhook(String),
    /// The e-mail could not be built or the relay refused it.
    #[error("smtp: {0}")]
    Smtp(String),
    /// No SMTP relay is configured for an e-mail channel.
    #[error("smtp: no relay configured (--smtp)")]
    NoSmtp,
    /// The push service could not be reached, was busy (429) or failed (5xx): tried again.
    #[error("push: {0}")]
    Push(String),
    /// The push service says the subscription is gone (404, 410): it is removed.
    #[error("push: {0} (subscription removed)")]
    PushGone(String),
    /// The push service refused the message, or it could not be made: not tried again.
    #[error("push: {0}")]
    PushRefused(String),
    /// The push service was busy (429) or unavailable (503) and said when to come back
    /// (`Retry-After`): the message is rescheduled for then instead of retried at once.
    #[error("push: {reason} (retry after {} s)", after.as_secs())]
    PushLater {
        /// The status and the service's reason.
        reason: String,
        /// How long the service asked us to wait (bounded by [`MAX_RETRY_AFTER`]).
        after: Duration,
    },
}

/// The longest `Retry-After` honoured: a push message lives [`TTL`](super::webpush::send::TTL_S)
/// at the service anyway, and a longer wait is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

impl DeliveryError {
    /// Whether trying again cannot help (the outbox stops retrying).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            DeliveryError::PushGone(_) | DeliveryError::PushRefused(_)
        )
    }
}

/// `sha256=<hex>` of the body under the farm's secret.
///
/// # Errors
/// [`DeliveryError::Webhook`] if the key were refused (HMAC takes keys of any length, so
/// this does not happen with `hmac` 0.12).
pub fn signature(secret: &[u8], body: &[u8]) -> Result<String, DeliveryError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .map_err(|e| DeliveryError::Webhook(format!("HMAC key: {e}")))?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Posts one signed JSON body.
///
/// # Errors
/// [`DeliveryError::Webhook`] when it was not accepted.
pub async fn post_webhook(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &[u8],
) -> Result<(), DeliveryError> {
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(secret.as_bytes(), body)?)
        .body(body.to_vec())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| DeliveryError::Webhook(e.to_string()))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Webhook(format!("HTTP {}", resp.status())))
    }
}

/// Sends one plain-text e-mail through the relay.
///
/// # Errors
/// [`DeliveryError::Smtp`] for a bad address or a relay that refused or could not be reached.
pub async fn send_mail(
    smtp: &SmtpConfig,
    to: &str,
    subject: &str,
    text: &str,
) -> Result<(), DeliveryError> {
    let bad = |e: &dyn std::fmt::Display| DeliveryError::Smtp(e.to_string());
    let msg = lettre::Message::builder()
        .from(smtp.from.parse().map_err(|e| bad(&e))?)
        .to(to.parse().map_err(|e| bad(&e))?)
        .subject(subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(text.to_owned())
        .map_err(|e| bad(&e))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(10)))
        .build();
    transport.send(msg).await.map_err(|e| bad(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_published_hmac_sha256_vector() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?").unwrap(),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn the_client_speaks_tls() {
        // Without a TLS backend reqwest never connects for an https URL; with one, the first
        // byte it sends is a TLS handshake record (0x16, the ClientHello).
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let first = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.unwrap();
            b[0]
        });
        let sent = reqwest::Client::new()
            .get(format!("https://127.0.0.1:{port}/"))
            .timeout(Duration::from_secs(5))
            .send();
        let (got, _) = tokio::join!(tokio::time::timeout(Duration::from_secs(5), first), sent);
        assert_eq!(got.expect("a connection").unwrap(), 0x16);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let p = RetryPolicy {
            attempts: 6,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
        };
        let got: Vec<u64> = (1..=6).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 10, 10]);
        assert_eq!(p.backoff(200), Duration::from_secs(10));
    }
}
