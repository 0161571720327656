//! Sign-in, sign-out and the language switch.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use chrono::Utc;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{
    self, CurrentUser, LANG_COOKIE, SESSION_COOKIE, SESSION_TTL, request_lang, site_cookie,
    token_hash,
};
use crate::error::{AppError, AppForm};
use crate::i18n::{Lang, Msg};
use crate::pages;

/// Cookie holding the double-submit token of the sign-in form (no session exists yet).
const LOGIN_CSRF_COOKIE: &str = "login_csrf";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/lang", post(switch_lang))
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = request_lang(&headers);
    render_login(&state, lang, None, "")
}

fn render_login(state: &AppState, lang: Lang, error: Option<Msg>, username: &str) -> Response {
    let token = auth::new_token();
    let jar = CookieJar::new().add(site_cookie(
        LOGIN_CSRF_COOKIE,
        token.clone(),
        state.settings.secure_cookies,
    ));
    let page = pages::login_page(lang, error, username, &token);
    let status = match error {
        Some(Msg::TooManyAttempts) => axum::http::StatusCode::TOO_MANY_REQUESTS,
        Some(_) => axum::http::StatusCode::UNAUTHORIZED,
        None => axum::http::StatusCode::OK,
    };
    (status, jar, page).into_response()
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    AppForm(form): AppForm<LoginForm>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    if expected.as_deref() != Some(form.csrf.as_str()) || form.csrf.is_empty() {
        return Err(AppError::Csrf);
    }
    let key = form.username.trim().to_lowercase();
    if !state.login_limiter.allowed(&key) {
        tracing::warn!(message = "Sign-in rate limit hit.", username = %key);
        return Ok(render_login(
            &state,
            lang,
            Some(Msg::TooManyAttempts),
            &form.username,
        ));
    }
    let user = state.db.user_by_username(form.username.trim()).await?;
    let Some(user) =
        user.filter(|u| !u.disabled && auth::verify_password(&form.password, &u.password_hash))
    else {
        state.login_limiter.failed(&key);
        return Ok(render_login(
            &state,
            lang,
            Some(Msg::BadCredentials),
            &form.username,
        ));
    };
    state.login_limiter.succeeded(&key);
    let token = auth::new_token();
    let csrf = auth::new_token();
    let ttl =
        chrono::Duration::from_std(SESSION_TTL).map_err(|e| AppError::Internal(e.to_string()))?;
    state
        .db
        .create_session(&token_hash(&token), user.id, &csrf, Utc::now() + ttl)
        .await?;
    let secure = state.settings.secure_cookies;
    let jar = jar
        .remove(Cookie::from(LOGIN_CSRF_COOKIE))
        .add(site_cookie(SESSION_COOKIE, token, secure))
        .add(site_cookie(LANG_COOKIE, user.lang.clone(), secure));
    Ok((jar, Redirect::to("/")).into_response())
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
    AppForm(form): AppForm<CsrfForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    if let Some(c) = jar.get(SESSION_COOKIE) {
        state.db.delete_session(&token_hash(c.value())).await?;
    }
    let jar = jar.remove(Cookie::from(SESSION_COOKIE));
    Ok((jar, Redirect::to("/login")).into_response())
}

/// The language switch's field.
#[derive(Debug, Deserialize)]
struct LangForm {
    lang: String,
}

async fn switch_lang(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    AppForm(form): AppForm<LangForm>,
) -> Result<Response, AppError> {
    let lang = match form.lang.as_str() {
        "ja" => Lang::Ja,
        "en" => Lang::En,
        other => {
            return Err(AppError::BadInput(format!(
                "lang: unknown language {other:?}"
            )));
        }
    };
    // A signed-in user keeps the choice across devices.
    if let Some(c) = jar.get(SESSION_COOKIE)
        && let Some(s) = state.db.session(&token_hash(c.value())).await?
    {
        state.db.set_user_lang(s.user.id, lang.tag()).await?;
    }
    let back = headers
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<axum::http::Uri>().ok())
        .map(|u| u.path().to_owned())
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".to_owned());
    let jar = jar.add(site_cookie(
        LANG_COOKIE,
        lang.tag().to_owned(),
        state.settings.secure_cookies,
    ));
    Ok((jar, Redirect::to(&back)).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::storage::Role;
    use crate::testutil::both_apps;

    both_apps!(sign_in_and_out, |app| {
        // Pages need a session: the home page sends strangers to the sign-in form.
        let r = app.get("/", "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.headers["location"], "/login");

        let b = app.user("sato", Role::Staff, None).await;
        let home = app.get("/", &b.cookies).await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.body.contains("lang=\"ja\""), "{}", home.body);
        assert!(home.body.contains("ログアウト"));

        // Sign-out needs the session's CSRF token.
        let forged = app
            .post_form("/logout", &b.cookies, &[("csrf", "nope")])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(
            forged.body.contains("フォームの有効期限"),
            "{}",
            forged.body
        );
        let out = app
            .post_form("/logout", &b.cookies, &[("csrf", &b.csrf)])
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(app.get("/", &b.cookies).await.status, StatusCode::SEE_OTHER);
    });

    both_apps!(wrong_password_and_rate_limit, |app| {
        app.user("suzuki", Role::Staff, None).await;
        assert!(app.sign_in("suzuki", "wrong-password").await.is_none());
        for _ in 0..4 {
            app.sign_in("suzuki", "wrong-password").await;
        }
        // Five failures: even the right password is refused for a while.
        assert!(app.sign_in("suzuki", "password1").await.is_none());
        let form = app.get("/login", "").await;
        let c = form.cookie("login_csrf").unwrap();
        let r = app
            .post_form(
                "/login",
                &format!("login_csrf={c}"),
                &[
                    ("username", "suzuki"),
                    ("password", "password1"),
                    ("csrf", &c),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.body.contains("試行が多すぎます"));
    });

    both_apps!(login_form_needs_its_csrf_cookie, |app| {
        app.user("ito", Role::Staff, None).await;
        let r = app
            .post_form(
                "/login",
                "",
                &[
                    ("username", "ito"),
                    ("password", "password1"),
                    ("csrf", "x"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    });

    both_apps!(malformed_form_is_422_in_users_language, |app| {
        let r = app
            .post_form("/lang", "lang=en", &[("nothing", "here")])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("Some input is not valid."), "{}", r.body);
        assert!(
            r.body.contains("lang"),
            "the detail names the field: {}",
            r.body
        );
        let r = app.post_form("/lang", "", &[("lang", "fr")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("入力内容に誤りがあります"), "{}", r.body);
    });

    both_apps!(language_switch_sticks_to_the_user, |app| {
        let b = app.user("kato", Role::Staff, None).await;
        let r = app.post_form("/lang", &b.cookies, &[("lang", "en")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.cookie("lang").as_deref(), Some("en"));
        let home = app.get("/", &format!("{}; lang=en", b.cookies)).await;
        assert!(home.body.contains("lang=\"en\""));
        assert!(home.body.contains("Sign out"));
        // Stored with the user: a new sign-in (no lang cookie) is English too.
        let again = app.sign_in("kato", "password1").await.unwrap();
        let home = app.get("/", &again.cookies).await;
        assert!(home.body.contains("Sign out"), "{}", home.body);
    });
}
