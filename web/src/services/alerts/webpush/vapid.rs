//! RFC 8292 VAPID: the server's P-256 key (the `server_keys` row `vapid`, made once and shared
//! by every server on the database, since a browser's subscription is bound to its public
//! half) and the `Authorization: vapid t=<ES256 JWT>, k=<public key>` header of each push.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{FieldBytes, NonZeroScalar, Scalar, SecretKey, U256};

/// The server key that is the VAPID private key.
pub const KEY_NAME: &str = "vapid";
/// How long a signed token is good for (RFC 8292 §2: at most 24 hours).
pub const TOKEN_LIFE: chrono::Duration = chrono::Duration::hours(12);

/// The server's VAPID key pair.
#[derive(Clone)]
pub struct VapidKey {
    secret: SecretKey,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public_b64())
            .finish_non_exhaustive()
    }
}

/// The stored key could not be made into a P-256 key (it is not 32 bytes, or is zero).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored VAPID key is not a P-256 private key")]
pub struct BadVapidKey;

impl VapidKey {
    /// The key pair of 32 stored random bytes, taken modulo the group order.
    ///
    /// # Errors
    /// [`BadVapidKey`] for anything but 32 bytes, or bytes that are zero modulo the order.
    pub fn from_stored(bytes: &[u8]) -> Result<VapidKey, BadVapidKey> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| BadVapidKey)?;
        let scalar = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(bytes));
        let nz = Option::<NonZeroScalar>::from(NonZeroScalar::new(scalar)).ok_or(BadVapidKey)?;
        Ok(VapidKey {
            secret: SecretKey::from(nz),
        })
    }

    /// The uncompressed public key (65 bytes).
    pub fn public_bytes(&self) -> Vec<u8> {
        self.secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    /// The public key as the page's `applicationServerKey` and the header's `k=`: base64url
    /// without padding.
    pub fn public_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public_bytes())
    }

    /// The signed JWT for one push service (`aud`, the endpoint's origin), valid
    /// [`TOKEN_LIFE`] from `now`, naming `sub` (a `mailto:` or `https:` contact).
    pub fn token(&self, aud: &str, sub: &str, now: DateTime<Utc>) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": aud,
            "exp": (now + TOKEN_LIFE).timestamp(),
            "sub": sub,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{claims}");
        let sig: Signature = SigningKey::from(&self.secret).sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    /// The `Authorization` header value for a push to `endpoint`.
    pub fn authorization(&self, endpoint: &reqwest::Url, sub: &str, now: DateTime<Utc>) -> String {
        let aud = endpoint.origin().ascii_serialization();
        format!(
            "vapid t={}, k={}",
            self.token(&aud, sub, now),
            self.public_b64()
        )
    }
}

/// The contact a push service may write to about our pushes (RFC 8292 §2.1): the server's
/// public address when it is `https:`, else the alert mail's sender, else the public address.
pub fn contact(public_url: &str, mail_from: Option<&str>) -> String {
    let url = public_url.trim_end_matches('/');
    if url.starts_with("https://") {
        return url.to_owned();
    }
    match mail_from {
        Some(from) if from.contains('@') => format!("mailto:{from}"),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    use super::*;

    #[test]
    fn the_token_is_an_es256_jwt_for_the_push_service_that_our_public_key_verifies() {
        let key = VapidKey::from_stored(&[7u8; 32]).unwrap();
        assert_eq!(key.public_bytes().len(), 65);
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let endpoint = reqwest::Url::parse("https://push.example.jp:8443/wpush/v2/abc").unwrap();
        let auth = key.authorization(&endpoint, "mailto:ops@agri.example.jp", now);
        let (t, k) = auth
            .strip_prefix("vapid t=")
            .and_then(|r| r.split_once(", k="))
            .unwrap();
        assert_eq!(k, key.public_b64());
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.jp:8443");
        assert_eq!(claims["exp"], 1_800_000_000 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:ops@agri.example.jp");
        let vk = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).unwrap()).unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(vk.verify(input.as_bytes(), &sig).is_ok());
        // Another key's signature does not verify.
        let other = VapidKey::from_stored(&[8u8; 32]).unwrap();
        let vk2 = VerifyingKey::from_sec1_bytes(&other.public_bytes()).unwrap();
        assert!(vk2.verify(input.as_bytes(), &sig).is_err());
    }

    #[test]
    fn any_32_stored_bytes_but_zero_make_a_key() {
        assert!(
            VapidKey::from_stored(&[0xff; 32]).is_ok(),
            "above the order"
        );
        assert_eq!(VapidKey::from_stored(&[0; 32]).unwrap_err(), BadVapidKey);
        assert_eq!(VapidKey::from_stored(&[1; 31]).unwrap_err(), BadVapidKey);
        assert_eq!(
            contact("https://agri.example.jp/", Some("a@b.jp")),
            "https://agri.example.jp"
        );
        assert_eq!(contact("http://agri.test", Some("a@b.jp")), "mailto:a@b.jp");
        assert_eq!(contact("http://agri.test", None), "http://agri.test");
    }
}
