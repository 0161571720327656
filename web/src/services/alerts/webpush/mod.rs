//! Web Push (issue 14): a browser subscribed by a user of a farm gets the farm's alerts as
//! notifications. A subscription is validated here and stored as one `webpush` channel (see
//! `storage::push`), so the outbox sends to it like to any channel; [`send`] encrypts each
//! message (RFC 8291, [`ece`]) and signs the request (RFC 8292, [`vapid`]).

pub mod ece;
pub mod send;
pub mod vapid;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use crate::error::AppError;
use crate::i18n::Lang;
use crate::i18n::push::PushMsg;
use crate::storage::{Db, NewPushSubscription, PushWhich, StorageError};

/// The longest endpoint accepted (push services' URLs are a few hundred characters).
pub const MAX_ENDPOINT: usize = 2048;

/// A subscription as the page's script sends it (`PushSubscription.toJSON()`'s parts).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct SubscriptionInput {
    /// The push service's URL for this browser.
    pub endpoint: String,
    /// The browser's public key, base64url.
    pub p256dh: String,
    /// The browser's auth secret, base64url.
    pub auth: String,
}

/// A subscription that passed [`validate`]: keys re-encoded without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSubscription {
    /// The endpoint, as sent.
    pub endpoint: String,
    /// The push service's origin, shown in the channel list.
    pub origin: String,
    /// The browser's public key, base64url without padding.
    pub p256dh: String,
    /// The auth secret, base64url without padding.
    pub auth: String,
}

/// base64url with or without padding (browsers send it without); `None` for anything else.
fn b64url(s: &str, max_len: usize) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() > max_len {
        return None;
    }
    if s.ends_with('=') {
        URL_SAFE.decode(s).ok()
    } else {
        URL_SAFE_NO_PAD.decode(s).ok()
    }
}

/// Whether the URL's host is this machine (the only place plain `http:` may go: tests).
fn loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Checks a subscription: an `https:` endpoint (or `http:` to loopback) without user info or
/// fragment, at most [`MAX_ENDPOINT`] characters; a P-256 public key on the curve and a
/// 16-byte auth secret. Errors name the part in `lang`.
///
/// # Errors
/// [`AppError::BadInput`] for the first bad part.
pub fn validate(lang: Lang, s: &SubscriptionInput) -> Result<ValidSubscription, AppError> {
    let bad = |m: PushMsg| AppError::BadInput(m.text(lang).to_owned());
    let endpoint = s.endpoint.trim();
    if endpoint.chars().count() > MAX_ENDPOINT {
        return Err(bad(PushMsg::EndpointTooLong));
    }
    let url = reqwest::Url::parse(endpoint).map_err(|_| bad(PushMsg::BadEndpoint))?;
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => loopback(&url),
        _ => false,
    };
    if !scheme_ok
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
        || endpoint.chars().any(char::is_control)
    {
        return Err(bad(PushMsg::BadEndpoint));
    }
    let key = b64url(&s.p256dh, 100).ok_or_else(|| bad(PushMsg::BadKey))?;
    ece::ua_public_key(&key).map_err(|_| bad(PushMsg::BadKey))?;
    let auth = b64url(&s.auth, 30).ok_or_else(|| bad(PushMsg::BadAuth))?;
    if auth.len() != 16 {
        return Err(bad(PushMsg::BadAuth));
    }
    Ok(ValidSubscription {
        endpoint: endpoint.to_owned(),
        origin: url.origin().ascii_serialization(),
        p256dh: URL_SAFE_NO_PAD.encode(key),
        auth: URL_SAFE_NO_PAD.encode(auth),
    })
}

/// Validates and stores a user's browser subscription on a farm, in one transaction;
/// returns its channel.
///
/// # Errors
/// Bad input in `lang`, or the database failed.
pub async fn subscribe(
    db: &Db,
    lang: Lang,
    farm_id: i64,
    user_id: i64,
    s: &SubscriptionInput,
) -> Result<i64, AppError> {
    let v = validate(lang, s)?;
    let mut tx = db.begin().await?;
    let channel = tx
        .upsert_push_subscription(
            farm_id,
            user_id,
            &NewPushSubscription {
                endpoint: &v.endpoint,
                p256dh: &v.p256dh,
                auth: &v.auth,
                label: &v.origin,
            },
        )
        .await?;
    tx.commit().await?;
    Ok(channel)
}

/// Replaces this user's subscription `old` on a farm by the browser's new one (its service
/// worker's `pushsubscriptionchange`), validated as a new one is, in one transaction; the
/// channel stays the same. Returns the channel id.
///
/// # Errors
/// [`AppError::BadInput`] for a bad new subscription (in `lang`);
/// [`AppError::NotFound`] when the user has no such subscription on the farm; the
/// database failed.
pub async fn replace(
    db: &Db,
    lang: Lang,
    farm_id: i64,
    user_id: i64,
    old: &str,
    s: &SubscriptionInput,
) -> Result<i64, AppError> {
    let v = validate(lang, s)?;
    let mut tx = db.begin().await?;
    let channel = tx
        .replace_push_subscription(
            farm_id,
            user_id,
            old.trim(),
            &NewPushSubscription {
                endpoint: &v.endpoint,
                p256dh: &v.p256dh,
                auth: &v.auth,
                label: &v.origin,
            },
        )
        .await?;
    tx.commit().await?;
    Ok(channel)
}

/// Removes a farm's subscription (the browser's own unsubscribe, or the page's remove
/// button), in one transaction.
///
/// # Errors
/// [`AppError::NotFound`] when the farm has no such subscription; the database failed.
pub async fn unsubscribe(db: &Db, farm_id: i64, which: PushWhich<'_>) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.remove_push_subscription(farm_id, which).await?;
    tx.commit().await?;
    Ok(())
}

/// The server's VAPID key, made on first use.
///
/// # Errors
/// The database failed, or the stored key is unusable.
pub async fn server_key(db: &Db) -> Result<vapid::VapidKey, StorageError> {
    let stored = db.server_key(vapid::KEY_NAME).await?;
    vapid::VapidKey::from_stored(&stored).map_err(|_| StorageError::NotFound {
        what: "usable VAPID key",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    fn sub(endpoint: &str, p256dh: &str, auth: &str) -> SubscriptionInput {
        SubscriptionInput {
            endpoint: endpoint.into(),
            p256dh: p256dh.into(),
            auth: auth.into(),
        }
    }

    fn refusal(lang: Lang, s: SubscriptionInput) -> String {
        match validate(lang, &s) {
            Err(AppError::BadInput(m)) => m,
            other => panic!("{s:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn endpoints_must_be_https_or_loopback_and_keys_the_right_length() {
        let ok = validate(
            Lang::Ja,
            &sub("https://fcm.googleapis.com/fcm/send/x1", KEY, AUTH),
        );
        let ok = ok.unwrap();
        assert_eq!(ok.origin, "https://fcm.googleapis.com");
        assert_eq!((ok.p256dh.as_str(), ok.auth.as_str()), (KEY, AUTH));
        // Padded base64url is taken and stored without padding.
        let padded = validate(
            Lang::Ja,
            &sub("http://127.0.0.1:9/p", KEY, "BTBZMqHH6r4Tts7J_aSIgg=="),
        );
        assert_eq!(padded.unwrap().auth, AUTH);
        assert!(validate(Lang::Ja, &sub("http://[::1]:9/p", KEY, AUTH)).is_ok());
        assert!(validate(Lang::Ja, &sub("http://localhost:9/p", KEY, AUTH)).is_ok());
        for bad in [
            "http://push.example.jp/x",
            "http://10.0.0.1/x",
            "ftp://push.example.jp/x",
            "javascript:alert(1)",
            "https://user:pw@push.example.jp/x",
            "https://push.example.jp/x#frag",
            "",
            "push.example.jp/x",
        ] {
            assert_eq!(
                refusal(Lang::Ja, sub(bad, KEY, AUTH)),
                "通知の宛先: https の URL ではありません",
                "{bad}"
            );
        }
        let long = format!("https://push.example.jp/{}", "a".repeat(MAX_ENDPOINT));
        assert!(refusal(Lang::En, sub(&long, KEY, AUTH)).contains("2048"));
        // Keys: wrong length, not on the curve, not base64url, absurdly long.
        let short = &KEY[..86];
        let mut off = KEY.to_owned();
        off.replace_range(80..81, "A");
        for k in [short, off.as_str(), "!!!!", "", &"A".repeat(5000)] {
            assert!(
                refusal(Lang::En, sub("https://p.example.jp/x", k, AUTH)).contains("p256dh"),
                "{k}"
            );
        }
        for a in [
            "BTBZMqHH6r4Tts7J_aSI",
            "BTBZMqHH6r4Tts7J_aSIggAA",
            "***",
            "",
        ] {
            assert_eq!(
                refusal(Lang::Ja, sub("https://p.example.jp/x", KEY, a)),
                "端末の認証キー (auth): 16 バイトではありません"
            );
        }
    }
}
