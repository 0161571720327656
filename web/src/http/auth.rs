//! Sign-in over HTTP: session cookies (only a SHA-256 of the token is stored), CSRF tokens for
//! forms, the request's language and the [`CurrentUser`] extractor. Hashes, tokens and the
//! sign-in limit are in [`crate::services::credentials`].

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use crate::error::AppError;
use crate::http::state::AppState;
use crate::i18n::Lang;
use crate::services::credentials::token_hash;
use crate::storage::{Role, User};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "agriops_session";
/// Name of the language cookie.
pub const LANG_COOKIE: &str = "lang";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
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
