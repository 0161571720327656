//! Signed acknowledge links: `/alerts/ack/{alert}.{expiry}.{mac}` for a farm's alert and
//! `/staff/alerts/ack/{alert}.{expiry}.{mac}` for a staff alert, the MAC an HMAC-SHA256 under
//! the server's `alert_ack` key over the link's [`Scope`], the alert id and the expiry (Unix
//! seconds). The scope is inside the MAC, so a farm alert's link never verifies as a staff
//! alert's with the same id, nor the other way round. Opening the link shows a confirm page
//! (GET changes nothing, so a mail scanner that follows links acknowledges nothing); its
//! button POSTs the same token.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The server key that signs the links.
pub const KEY_NAME: &str = "alert_ack";
/// How long a link stays good.
pub const VALID_FOR: Duration = Duration::days(7);

/// Which alerts a link acknowledges: the two tables number their alerts independently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A farm's alert (`alerts`).
    Farm,
    /// The city staff's alert (`staff_alerts`).
    Staff,
}

impl Scope {
    /// What the MAC covers before the id (the farm's is the links' original form).
    fn label(self) -> &'static str {
        match self {
            Scope::Farm => "agriops-ack",
            Scope::Staff => "agriops-staff-ack",
        }
    }

    /// The path the links of this scope live under.
    fn path(self) -> &'static str {
        match self {
            Scope::Farm => "/alerts/ack/",
            Scope::Staff => "/staff/alerts/ack/",
        }
    }
}

fn mac(key: &[u8], scope: Scope, alert_id: i64, expiry: i64) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(format!("{}:{alert_id}:{expiry}", scope.label()).as_bytes());
    m
}

/// The token for acknowledging the farm alert `alert_id` until `now` + [`VALID_FOR`].
pub fn token(key: &[u8], alert_id: i64, now: DateTime<Utc>) -> String {
    scoped_token(key, Scope::Farm, alert_id, now)
}

/// The token for acknowledging `alert_id` of `scope` until `now` + [`VALID_FOR`].
pub fn scoped_token(key: &[u8], scope: Scope, alert_id: i64, now: DateTime<Utc>) -> String {
    let expiry = (now + VALID_FOR).timestamp();
    let tag = hex::encode(mac(key, scope, alert_id, expiry).finalize().into_bytes());
    format!("{alert_id}.{expiry}.{tag}")
}

/// The farm alert a token acknowledges, if its MAC is right and it has not expired at `now`.
pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Option<i64> {
    scoped_verify(key, Scope::Farm, token, now)
}

/// The alert of `scope` a token acknowledges, if its MAC is right for that scope and it has
/// not expired at `now`.
pub fn scoped_verify(key: &[u8], scope: Scope, token: &str, now: DateTime<Utc>) -> Option<i64> {
    let mut parts = token.splitn(3, '.');
    let alert_id: i64 = parts.next()?.parse().ok()?;
    let expiry: i64 = parts.next()?.parse().ok()?;
    let tag = hex::decode(parts.next()?).ok()?;
    // Constant-time comparison.
    mac(key, scope, alert_id, expiry).verify_slice(&tag).ok()?;
    (now.timestamp() < expiry).then_some(alert_id)
}

/// The farm link's address under the server's public URL.
pub fn url(public_url: &str, token: &str) -> String {
    scoped_url(Scope::Farm, public_url, token)
}

/// The address of a link of `scope` under the server's public URL.
pub fn scoped_url(scope: Scope, public_url: &str, token: &str) -> String {
    format!(
        "{}{}{token}",
        public_url.trim_end_matches('/'),
        scope.path()
    )
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

    #[test]
    fn a_link_acknowledges_only_in_its_own_scope() {
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let farm = token(b"k1", 7, now);
        let staff = scoped_token(b"k1", Scope::Staff, 7, now);
        assert_ne!(farm, staff);
        assert_eq!(scoped_verify(b"k1", Scope::Staff, &staff, now), Some(7));
        assert_eq!(scoped_verify(b"k1", Scope::Staff, &farm, now), None);
        assert_eq!(verify(b"k1", &staff, now), None);
        assert_eq!(scoped_verify(b"k1", Scope::Farm, &farm, now), Some(7));
        assert_eq!(
            scoped_url(Scope::Staff, "https://a.example/", &staff),
            format!("https://a.example/staff/alerts/ack/{staff}")
        );
        assert_eq!(
            url("https://a.example", &farm),
            format!("https://a.example/alerts/ack/{farm}")
        );
    }
}
