//! Signed acknowledge links: `/alerts/ack/{alert}.{expiry}.{mac}`, the MAC an HMAC-SHA256 under
//! the server's `alert_ack` key over the alert id and the expiry (Unix seconds). Opening the
//! link shows a confirm page (GET changes nothing, so a mail scanner that follows links
//! acknowledges nothing); its button POSTs the same token.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The server key that signs the links.
pub const KEY_NAME: &str = "alert_ack";
/// How long a link stays good.
pub const VALID_FOR: Duration = Duration::days(7);

fn mac(key: &[u8], alert_id: i64, expiry: i64) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(format!("agriops-ack:{alert_id}:{expiry}").as_bytes());
    m
}

/// The token for acknowledging `alert_id` until `now` + [`VALID_FOR`].
pub fn token(key: &[u8], alert_id: i64, now: DateTime<Utc>) -> String {
    let expiry = (now + VALID_FOR).timestamp();
    let tag = hex::encode(mac(key, alert_id, expiry).finalize().into_bytes());
    format!("{alert_id}.{expiry}.{tag}")
}

/// The alert a token acknowledges, if its MAC is right and it has not expired at `now`.
pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Option<i64> {
    let mut parts = token.splitn(3, '.');
    let alert_id: i64 = parts.next()?.parse().ok()?;
    let expiry: i64 = parts.next()?.parse().ok()?;
    let tag = hex::decode(parts.next()?).ok()?;
    // Constant-time comparison.
    mac(key, alert_id, expiry).verify_slice(&tag).ok()?;
    (now.timestamp() < expiry).then_some(alert_id)
}

/// The link's address under the server's public URL.
pub fn url(public_url: &str, token: &str) -> String {
    format!("{}/alerts/ack/{token}", public_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_acknowledges_its_alert_until_it_expires_and_nothing_else() {
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let t = token(b"k1", 42, now);
        assert_eq!(verify(b"k1", &t, now), Some(42));
        assert_eq!(
            verify(b"k1", &t, now + VALID_FOR - Duration::seconds(1)),
            Some(42)
        );
        assert_eq!(verify(b"k1", &t, now + VALID_FOR), None, "expired");
        assert_eq!(verify(b"k2", &t, now), None, "another server's key");
        // Another alert id, or a later expiry, with the same MAC: refused.
        let (_, rest) = t.split_once('.').unwrap();
        assert_eq!(verify(b"k1", &format!("43.{rest}"), now), None);
        let mut p: Vec<&str> = t.split('.').collect();
        let later = (now + Duration::days(30)).timestamp().to_string();
        p[1] = &later;
        assert_eq!(verify(b"k1", &p.join("."), now), None);
        for junk in ["", "42", "42.x.y", "x.1.00", "42.1.zz", "42.99999999999.\0"] {
            assert_eq!(verify(b"k1", junk, now), None, "{junk:?}");
        }
    }
}
