//! RFC 8291 message encryption for Web Push: the `aes128gcm` content coding of RFC 8188 with
//! a key agreed between a fresh P-256 key of ours and the browser's subscription key, mixed
//! with the browser's auth secret. One record holds the whole message.

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size written in the header (RFC 8188 §2.1); a message is one record.
pub const RECORD_SIZE: u32 = 4096;
/// Bytes of the header: salt (16), record size (4), key id length (1), our public key (65).
pub const HEADER_LEN: usize = 16 + 4 + 1 + 65;
/// The most bytes a push message may have in all (RFC 8030 §7.2: services take at least
/// 4096), so the longest plaintext is this less the header, the padding delimiter and the tag.
pub const MAX_BODY: usize = 4096;
/// The longest plaintext one message carries.
pub const MAX_PLAINTEXT: usize = MAX_BODY - HEADER_LEN - 1 - 16;

/// Why a message could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EceError {
    /// The subscription's public key is not an uncompressed P-256 point.
    #[error("the subscription's p256dh is not a P-256 public key")]
    BadPublicKey,
    /// The subscription's auth secret is not 16 bytes.
    #[error("the subscription's auth secret is not 16 bytes")]
    BadAuth,
    /// The message is longer than one push message holds.
    #[error("payload of {0} bytes is longer than {MAX_PLAINTEXT}")]
    TooLong(usize),
}

/// The browser's uncompressed P-256 point (65 bytes), checked to lie on the curve.
///
/// # Errors
/// [`EceError::BadPublicKey`] for anything else.
pub fn ua_public_key(bytes: &[u8]) -> Result<PublicKey, EceError> {
    if bytes.len() != 65 || bytes[0] != 0x04 {
        return Err(EceError::BadPublicKey);
    }
    PublicKey::from_sec1_bytes(bytes).map_err(|_| EceError::BadPublicKey)
}

/// HKDF-Expand of `prk` into `N` bytes.
fn expand<const N: usize>(hk: &Hkdf<Sha256>, info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // N ≤ 32 here, far below HKDF-SHA256's limit of 255 × 32 bytes.
    hk.expand(info, &mut out)
        .unwrap_or_else(|_| unreachable!("HKDF output of {N} bytes"));
    out
}

/// Encrypts `plaintext` to the subscription (`ua_public`, `auth`) with our one-time key
/// `as_secret` and `salt`: the whole `aes128gcm` body (header, then the one record).
///
/// # Errors
/// [`EceError`] for a bad key or secret, or a message too long for one push message.
pub fn encrypt(
    ua_public: &[u8],
    auth: &[u8],
    plaintext: &[u8],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, EceError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(EceError::TooLong(plaintext.len()));
    }
    if auth.len() != 16 {
        return Err(EceError::BadAuth);
    }
    let ua = ua_public_key(ua_public)?;
    let as_public = as_secret.public_key().to_encoded_point(false);
    let as_public = as_public.as_bytes();
    // RFC 8291 §3.3-3.4: ecdh_secret, then IKM from the auth secret and both public keys.
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua.as_affine());
    let prk_key = Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes());
    let mut key_info = Vec::with_capacity(14 + 65 + 65);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let ikm: [u8; 32] = expand(&prk_key, &key_info);
    // RFC 8188 §2.2-2.3: the content encryption key and nonce from the salt.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let cek: [u8; 16] = expand(&prk, b"Content-Encoding: aes128gcm\0");
    let nonce: [u8; 12] = expand(&prk, b"Content-Encoding: nonce\0");
    // The last (only) record: the plaintext, then the delimiter 0x02, no padding.
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(0x02);
    let cipher = Aes128Gcm::new_from_slice(&cek)
        .unwrap_or_else(|_| unreachable!("a 16-byte key is an AES-128 key"));
    let sealed = cipher
        .encrypt(&aes_gcm::Nonce::from(nonce), record.as_slice())
        .map_err(|_| EceError::TooLong(plaintext.len()))?;
    let mut body = Vec::with_capacity(HEADER_LEN + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// A fresh one-time P-256 key.
pub fn one_time_key() -> SecretKey {
    loop {
        // A random 32-byte string is a valid scalar but with probability ~2^-32.
        if let Ok(k) = SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
            return k;
        }
    }
}

/// Encrypts `plaintext` to the subscription with a fresh key and salt.
///
/// # Errors
/// As [`encrypt`].
pub fn encrypt_fresh(ua_public: &[u8], auth: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, EceError> {
    encrypt(
        ua_public,
        auth,
        plaintext,
        &one_time_key(),
        &rand::random::<[u8; 16]>(),
    )
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn d(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    // RFC 8291 Appendix A ("Push Message Encryption Example"), every value as printed there.
    const PLAINTEXT: &str = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AS_PUBLIC: &str =
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const MESSAGE: &str = concat!(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
        "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
        "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    );

    #[test]
    fn the_rfc_8291_example_encrypts_byte_for_byte() {
        let plaintext = d(PLAINTEXT);
        assert_eq!(plaintext, b"When I grow up, I want to be a watermelon");
        let as_secret = SecretKey::from_slice(&d(AS_PRIVATE)).unwrap();
        assert_eq!(
            as_secret.public_key().to_encoded_point(false).as_bytes(),
            d(AS_PUBLIC).as_slice()
        );
        let salt: [u8; 16] = d(SALT).try_into().unwrap();
        let body = encrypt(&d(UA_PUBLIC), &d(AUTH), &plaintext, &as_secret, &salt).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&body), MESSAGE);
        // Any other salt, secret or message gives another body.
        let mut other = salt;
        other[0] ^= 1;
        let b2 = encrypt(&d(UA_PUBLIC), &d(AUTH), &plaintext, &as_secret, &other).unwrap();
        assert_ne!(b2, body);
        let mut auth = d(AUTH);
        auth[15] ^= 1;
        let b3 = encrypt(&d(UA_PUBLIC), &auth, &plaintext, &as_secret, &salt).unwrap();
        assert_ne!(b3[HEADER_LEN..], body[HEADER_LEN..]);
    }

    #[test]
    fn bad_keys_and_long_messages_are_refused() {
        let k = one_time_key();
        let s = [0u8; 16];
        let ua = d(UA_PUBLIC);
        assert_eq!(
            encrypt(&ua[..64], &d(AUTH), b"x", &k, &s),
            Err(EceError::BadPublicKey)
        );
        let mut off_curve = ua.clone();
        off_curve[64] ^= 1;
        assert_eq!(
            encrypt(&off_curve, &d(AUTH), b"x", &k, &s),
            Err(EceError::BadPublicKey)
        );
        assert_eq!(encrypt(&ua, &[0; 15], b"x", &k, &s), Err(EceError::BadAuth));
        let long = vec![b'a'; MAX_PLAINTEXT + 1];
        assert_eq!(
            encrypt(&ua, &d(AUTH), &long, &k, &s),
            Err(EceError::TooLong(MAX_PLAINTEXT + 1))
        );
        let max = encrypt(&ua, &d(AUTH), &long[1..], &k, &s).unwrap();
        assert_eq!(max.len(), MAX_BODY);
        // Fresh keys and salts: the same message never encrypts the same way twice.
        assert_ne!(
            encrypt_fresh(&ua, &d(AUTH), b"x").unwrap(),
            encrypt_fresh(&ua, &d(AUTH), b"x").unwrap()
        );
    }
}
