//! Sign-in: argon2 password hashes, session cookies (only a SHA-256 of the token is stored),
//! CSRF tokens for forms, a sign-in rate limit, and the [`CurrentUser`] extractor.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::storage::{Role, User};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "agriops_session";
/// Name of the language cookie.
pub const LANG_COOKIE: &str = "lang";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

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

/// The language of a request: the `lang` cookie, else `Accept-Language`, else Japanese.
pub fn request_lang(headers: &HeaderMap) -> Lang {
    let jar = CookieJar::from_headers(headers);
    if let Some(c) = jar.get(LANG_COOKIE) {
        return Lang::from_tag(c.value());
    }
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default()
}

/// A cookie that carries `value` for the whole site, HttpOnly and SameSite=Lax; Secure when the
/// server runs behind TLS.
pub fn site_cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// The signed-in user of a page request, with the session's CSRF token and the request language.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The user.
    pub user: User,
    /// The token every form of this session must carry.
    pub csrf_token: String,
    /// The language to answer in.
    pub lang: Lang,
}

impl CurrentUser {
    /// Fails with [`AppError::Forbidden`] unless the user's role is one of `roles`.
    ///
    /// # Errors
    /// The role is not allowed.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Fails with [`AppError::Forbidden`] unless the user may see farm `farm_id`.
    ///
    /// # Errors
    /// Another farm's data, for a farmer or dairy operator.
    pub fn require_farm(&self, farm_id: i64) -> Result<(), AppError> {
        if self.user.role.sees_all_farms() || self.user.farm_id == Some(farm_id) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Fails with [`AppError::Csrf`] unless `token` is this session's CSRF token.
    ///
    /// # Errors
    /// A missing or wrong token.
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        // Compare in constant time over the hashes, so timing says nothing about the token.
        if token_hash(token) == token_hash(&self.csrf_token) && !token.is_empty() {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or(AppError::Unauthorized)?;
        let session = state
            .db
            .session(&token_hash(&token))
            .await?
            .ok_or(AppError::Unauthorized)?;
        let lang = if jar.get(LANG_COOKIE).is_some() {
            request_lang(&parts.headers)
        } else {
            Lang::from_tag(&session.user.lang)
        };
        Ok(CurrentUser {
            user: session.user,
            csrf_token: session.csrf_token,
            lang,
        })
    }
}

/// Limits sign-in attempts per key (username and client address) in a sliding window.
#[derive(Debug)]
pub struct LoginLimiter {
    max_attempts: u32,
    window: Duration,
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    /// A limiter allowing `max_attempts` failures per `window`.
    pub fn new(max_attempts: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            max_attempts,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// True when `key` may try again now.
    pub fn allowed(&self, key: &str) -> bool {
        let map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((n, since)) => *n < self.max_attempts || since.elapsed() >= self.window,
            None => true,
        }
    }

    /// Records a failed attempt for `key`.
    pub fn failed(&self, key: &str) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let entry = map.entry(key.to_owned()).or_insert((0, now));
        if entry.1.elapsed() >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
        // Keep the map bounded: forget windows that have passed.
        if map.len() > 10_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
    }

    /// Forgets `key` after a successful sign-in.
    pub fn succeeded(&self, key: &str) {
        self.attempts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
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

    #[test]
    fn limiter_blocks_after_max_failures() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(l.allowed("u"));
            l.failed("u");
        }
        assert!(!l.allowed("u"));
        assert!(l.allowed("other"));
        l.succeeded("u");
        assert!(l.allowed("u"));
    }

    #[test]
    fn limiter_window_expires() {
        let l = LoginLimiter::new(1, Duration::from_millis(0));
        l.failed("u");
        assert!(l.allowed("u"));
    }
}
