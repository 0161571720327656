//! Credentials, below any transport: argon2 password hashes, random tokens and the SHA-256 the
//! database keeps instead of them, and the sign-in rate limit ([`LoginLimiter`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// Hashes a password into an argon2id PHC string.
///
/// # Errors
/// Only if the system random source fails.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A fresh random token, 32 bytes as hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 of a token as hex: what the database stores instead of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Limits sign-in attempts per key (source address, account) in a fixed window.
///
/// An attempt is counted when it begins, before its password is checked, under one lock for
/// all its keys: however many guesses arrive at once, at most the limit of them reach argon2.
/// Only an [`Attempt`] can check a password, so no path verifies without being counted.
#[derive(Debug)]
pub struct LoginLimiter {
    per_account: u32,
    per_source: u32,
    window: Duration,
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
    /// Passwords checked (real or dummy hash).
    verified: AtomicU64,
    /// Of those, checked against the dummy hash (no such user).
    dummy_verified: AtomicU64,
}

/// One counted sign-in attempt. Dropped without [`Attempt::succeeded`], it stays counted as a
/// failure.
#[derive(Debug)]
pub struct Attempt {
    limiter: Arc<LoginLimiter>,
    keys: Vec<String>,
}

impl LoginLimiter {
    /// A limiter allowing `per_account` attempts per account and `per_source` per source
    /// address in each `window`.
    pub fn new(per_account: u32, per_source: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            per_account,
            per_source,
            window,
            attempts: Mutex::new(HashMap::new()),
            verified: AtomicU64::new(0),
            dummy_verified: AtomicU64::new(0),
        }
    }

    /// The attempts one account may have per window.
    pub fn per_account(&self) -> u32 {
        self.per_account
    }

    /// The attempts one source address may have per window.
    pub fn per_source(&self) -> u32 {
        self.per_source
    }

    /// Counts an attempt against every `(key, limit)` at once, unless one of them has spent its
    /// limit in this window (then nothing is counted and `None` comes back).
    pub fn begin(self: &Arc<Self>, keys: &[(String, u32)]) -> Option<Attempt> {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let window = self.window;
        let spent = keys.iter().any(|(key, limit)| {
            map.get(key)
                .is_some_and(|(n, since)| *n >= *limit && now.duration_since(*since) < window)
        });
        if spent {
            return None;
        }
        for (key, _) in keys {
            let entry = map.entry(key.clone()).or_insert((0, now));
            if now.duration_since(entry.1) >= window {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
        // Keep the map bounded: forget windows that have passed.
        if map.len() > 10_000 {
            map.retain(|_, (_, since)| now.duration_since(*since) < window);
        }
        Some(Attempt {
            limiter: Arc::clone(self),
            keys: keys.iter().map(|(k, _)| k.clone()).collect(),
        })
    }

    /// Passwords checked so far: `(all, against the dummy hash)`.
    pub fn verifications(&self) -> (u64, u64) {
        (
            self.verified.load(Ordering::Relaxed),
            self.dummy_verified.load(Ordering::Relaxed),
        )
    }
}

impl Attempt {
    /// Checks `password` against `hash` (argon2, off the async workers), or, for a name with
    /// no account (`None`), against a dummy hash of the same cost, so an unknown name takes as
    /// long as a known one and says nothing by its timing.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let limiter = &self.limiter;
        limiter.verified.fetch_add(1, Ordering::Relaxed);
        let (password, hash, real) = match hash {
            Some(h) => (password.to_owned(), h.to_owned(), true),
            None => {
                limiter.dummy_verified.fetch_add(1, Ordering::Relaxed);
                (password.to_owned(), dummy_hash().to_owned(), false)
            }
        };
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        ok && real
    }

    /// Ends the attempt as a success: keys in `forget` start afresh, the others no longer
    /// count this attempt.
    pub fn succeeded(self, forget: &[&str]) {
        let mut map = self
            .limiter
            .attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if forget.contains(&key.as_str()) {
                map.remove(key);
            } else if let Some(entry) = map.get_mut(key) {
                entry.0 = entry.0.saturating_sub(1);
            }
        }
    }
}

/// An argon2 hash of a random password, made once, with the cost of every real one.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&new_token()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }

    fn keys(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    }

    #[test]
    fn limiter_counts_before_the_check_and_blocks_at_the_limit() {
        let l = Arc::new(LoginLimiter::new(3, 10, Duration::from_secs(60)));
        let both = keys(&[("account:u", 3), ("source:a", 10)]);
        let held: Vec<Attempt> = (0..3).map(|_| l.begin(&both).expect("allowed")).collect();
        // Three attempts are under way, none has ended: the fourth is refused already.
        assert!(l.begin(&both).is_none());
        // The refusal counted nothing against the source.
        assert!(l.begin(&keys(&[("source:a", 4)])).is_some());
        assert!(l.begin(&keys(&[("account:other", 3)])).is_some());
        drop(held);
        assert!(l.begin(&both).is_none());
    }

    #[test]
    fn a_success_forgets_the_account_and_uncounts_the_source() {
        let l = Arc::new(LoginLimiter::new(2, 3, Duration::from_secs(60)));
        let both = keys(&[("account:u", 2), ("source:a", 3)]);
        drop(l.begin(&both));
        l.begin(&both).unwrap().succeeded(&["account:u"]);
        // One failure is left on the source, none on the account.
        drop(l.begin(&both));
        drop(l.begin(&both));
        assert!(l.begin(&keys(&[("account:u", 2)])).is_none());
        assert!(l.begin(&keys(&[("source:a", 3)])).is_none());
    }

    #[test]
    fn limiter_window_expires() {
        let l = Arc::new(LoginLimiter::new(1, 1, Duration::from_millis(0)));
        drop(l.begin(&keys(&[("u", 1)])));
        assert!(l.begin(&keys(&[("u", 1)])).is_some());
    }

    #[tokio::test]
    async fn unknown_names_are_checked_against_a_dummy_hash() {
        let l = Arc::new(LoginLimiter::new(5, 5, Duration::from_secs(60)));
        let real = hash_password("correct horse").unwrap();
        let a = l.begin(&keys(&[("x", 5)])).unwrap();
        assert!(a.verify("correct horse", Some(&real)).await);
        assert!(!a.verify("wrong", Some(&real)).await);
        assert_eq!(l.verifications(), (2, 0));
        // No account: argon2 still runs, on a hash of the same parameters, and never matches.
        assert!(!a.verify("correct horse", None).await);
        assert_eq!(l.verifications(), (3, 1));
        let params = |h: &str| h.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(params(dummy_hash()), params(&real));
    }
}
