//! The signed-in person's own account: who they are, and changing their password.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use maud::html;
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::{CurrentUser, SESSION_COOKIE};
use crate::http::error::AppForm;
use crate::http::pages;
use crate::http::state::AppState;
use crate::http::textsize::TextSize;
use crate::i18n::{Msg, role_name};
use crate::services::accounts;
use crate::services::credentials::{self, token_hash};

/// Shortest password accepted anywhere (sign-up, reset, change).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(page))
        .route("/account/password", post(change_password))
        .route("/account/textsize", post(set_text_size))
}

async fn page(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    render(&state, &user, StatusCode::OK, None).await
}

/// The page, with a notice (`Ok`, shown as status) or a problem (`Err`, shown as alert).
async fn render(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    notice: Option<Result<Msg, Msg>>,
) -> Result<Response, AppError> {
    let lang = user.lang;
    let u = &user.user;
    let farm = match u.farm_id {
        Some(id) => Some(state.db.farm(id).await?.name),
        None => None,
    };
    let title = Msg::Account.text(lang);
    let body = html! {
        h1 { (title) }
        @match notice {
            Some(Ok(m)) => { div.notice role="status" { (m.text(lang)) } }
            Some(Err(m)) => { div.alert role="alert" { (m.text(lang)) } }
            None => {}
        }
        dl {
            dt { (Msg::Username.text(lang)) } dd { (u.username) }
            dt { (Msg::DisplayName.text(lang)) } dd { (u.display_name) }
            dt { (Msg::RoleLabel.text(lang)) } dd { (role_name(lang, u.role.as_str())) }
            dt { (Msg::Farm.text(lang)) } dd { (farm.as_deref().unwrap_or("—")) }
        }
        h2 { (Msg::TextSize.text(lang)) }
        (pages::text_size_form(lang, &user.csrf_token, "account"))
        h2 id="password" { (Msg::ChangePassword.text(lang)) }
        form method="post" action="/account/password" aria-labelledby="password" {
            input type="hidden" name="csrf" value=(user.csrf_token);
            label for="pw-current" { (Msg::CurrentPassword.text(lang)) }
            input id="pw-current" name="current" type="password" required autocomplete="current-password";
            label for="pw-new" { (Msg::NewPassword.text(lang)) }
            input id="pw-new" name="new" type="password" required minlength=(MIN_PASSWORD_CHARS)
                autocomplete="new-password" aria-describedby="pw-hint";
            p.muted id="pw-hint" { (Msg::PasswordHint.text(lang)) }
            label for="pw-again" { (Msg::NewPasswordAgain.text(lang)) }
            input id="pw-again" name="again" type="password" required minlength=(MIN_PASSWORD_CHARS)
                autocomplete="new-password";
            p { button type="submit" { (Msg::ChangePassword.text(lang)) } }
        }
    };
    Ok((status, pages::layout(lang, title, Some(user), body)).into_response())
}

/// The text-size form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct TextSizeForm {
    csrf: String,
    /// `normal`, `large` or `larger` (`TextSize::tag`).
    #[schema(pattern = "^(normal|large|larger)$")]
    size: String,
}

/// Keeps the chosen text size in a browser cookie (not the session: it outlives sign-out)
/// and goes back to the page the form was on.
#[utoipa::path(
    post, path = "/account/textsize", tag = "account",
    request_body(content = inline(TextSizeForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the page the form was on"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn set_text_size(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: axum::http::HeaderMap,
    jar: CookieJar,
    AppForm(form): AppForm<TextSizeForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    let size = TextSize::parse(&form.size).ok_or_else(|| {
        AppError::BadInput(format!(
            "size: {} ({})",
            Msg::TextSize.text(user.lang),
            TextSize::ALL.map(TextSize::tag).join(", ")
        ))
    })?;
    let back = headers
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<axum::http::Uri>().ok())
        .map(|u| u.path().to_owned())
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/account".to_owned());
    let secure = crate::http::routes::session::secure_cookies(&state, &headers);
    Ok((jar.add(size.cookie(secure)), Redirect::to(&back)).into_response())
}

/// The password-change form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    again: String,
}

#[utoipa::path(
    post, path = "/account/password", tag = "account",
    request_body(content = inline(PasswordForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the account page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
    AppForm(form): AppForm<PasswordForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    let key = format!("password-change:{}", user.user.id);
    let limit = state.login_limiter.per_account();
    // Counted before the current password is checked, as a sign-in is.
    let Some(attempt) = state.login_limiter.begin(&[(key.clone(), limit)]) else {
        tracing::warn!(
            message = "Password-change rate limit hit.",
            user_id = user.user.id
        );
        return render(
            &state,
            &user,
            StatusCode::TOO_MANY_REQUESTS,
            Some(Err(Msg::TooManyAttempts)),
        )
        .await;
    };
    if !attempt
        .verify(&form.current, Some(&user.user.password_hash))
        .await
    {
        return render(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(Err(Msg::WrongCurrentPassword)),
        )
        .await;
    }
    // The right current password: the attempt is no failure, whatever the new one is.
    attempt.succeeded(&[key.as_str()]);
    let problem = if form.new.chars().count() < MIN_PASSWORD_CHARS {
        Some(Msg::PasswordTooShort)
    } else if form.new != form.again {
        Some(Msg::PasswordsDiffer)
    } else {
        None
    };
    if let Some(p) = problem {
        return render(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(Err(p)),
        )
        .await;
    }
    let hash = credentials::hash_password(&form.new)?;
    let keep = jar.get(SESSION_COOKIE).map(|c| token_hash(c.value()));
    accounts::change_own_password(&state.db, &user.user, &hash, keep.as_deref()).await?;
    tracing::info!(message = "Password changed.", user_id = user.user.id);
    render(
        &state,
        &user,
        StatusCode::OK,
        Some(Ok(Msg::PasswordChanged)),
    )
    .await
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::storage::Role;
    use crate::testutil::both_apps;

    both_apps!(the_text_size_is_kept_by_the_browser_past_sign_out, |app| {
        let me = app
            .user("jiro", Role::Farmer, Some(app.farm("f", "crop").await.id))
            .await;
        let page = app.get("/account", &me.cookies).await;
        assert!(
            page.body.contains(r#"value="larger" aria-pressed="false""#),
            "{}",
            page.body
        );
        assert!(!page.body.contains("text-larger"));

        // A forged form changes nothing; a size we do not offer is a clear 422.
        let forged = app
            .post_form(
                "/account/textsize",
                &me.cookies,
                &[("csrf", "x"), ("size", "larger")],
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(forged.cookie("textsize"), None);
        let csrf = me.csrf.as_str();
        for bad in ["huge", "larger\0", ""] {
            let r = app
                .post_form(
                    "/account/textsize",
                    &me.cookies,
                    &[("csrf", csrf), ("size", bad)],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
            assert!(r.body.contains("文字の大きさ"), "{}", r.body);
        }

        let r = app
            .send(
                axum::http::Request::post("/account/textsize")
                    .header("cookie", &me.cookies)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("referer", "http://example.test/fields?x=1")
                    .body(axum::body::Body::from(format!("csrf={csrf}&size=larger")))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.headers["location"], "/fields");
        assert_eq!(r.cookie("textsize").as_deref(), Some("larger"));
        let set = r.headers["set-cookie"].to_str().unwrap();
        assert!(set.contains("Max-Age=31536000"), "{set}");

        // Every page, signed in or not, is laid out at that size.
        let cookies = format!("{}; textsize=larger", me.cookies);
        let page = app.get("/account", &cookies).await;
        assert!(
            page.body
                .contains(r#"<html lang="ja" class="text-larger">"#)
        );
        assert!(page.body.contains(r#"value="larger" aria-pressed="true""#));
        let out = app.post_form("/logout", &cookies, &[("csrf", csrf)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(out.cookie("textsize"), None, "signing out leaves it alone");
        let login = app.get("/login", "textsize=larger").await;
        assert!(
            login.body.contains(r#"class="text-larger""#),
            "{}",
            login.body
        );
        let missing = app.get("/no-such-page", "textsize=large").await;
        assert!(missing.body.contains(r#"class="text-large""#));
    });

    both_apps!(password_change_ends_other_sessions, |app| {
        let me = app
            .user("hanako", Role::Farmer, Some(app.farm("f", "crop").await.id))
            .await;
        let other = app
            .sign_in("hanako", "password1")
            .await
            .expect("second sign-in");
        let page = app.get("/account", &me.cookies).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("パスワードの変更") && page.body.contains("hanako"));
        assert!(page.body.contains("autocomplete=\"current-password\""));
        let post = |csrf: &str, current: &str, new: &str, again: &str| {
            vec![
                ("csrf".to_owned(), csrf.to_owned()),
                ("current".to_owned(), current.to_owned()),
                ("new".to_owned(), new.to_owned()),
                ("again".to_owned(), again.to_owned()),
            ]
        };
        let send = async |form: Vec<(String, String)>| {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.post_form("/account/password", &me.cookies, &f).await
        };
        // A forged form, a wrong current password, a short one, two that differ: nothing changes.
        assert_eq!(
            send(post("forged", "password1", "new-secret-1", "new-secret-1"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let r = send(post(&me.csrf, "wrong", "new-secret-1", "new-secret-1")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("role=\"alert\"")
                && r.body.contains("現在のパスワードが正しくありません")
        );
        let r = send(post(&me.csrf, "password1", "short", "short")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("8文字以上"));
        let r = send(post(&me.csrf, "password1", "new-secret-1", "new-secret-2")).await;
        assert!(r.body.contains("一致しません"));
        assert!(app.sign_in("hanako", "password1").await.is_some());
        // The change: this session stays, the other one ends, only the new password works.
        let r = send(post(&me.csrf, "password1", "new-secret-1", "new-secret-1")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("role=\"status\""));
        assert_eq!(
            app.get("/account", &me.cookies).await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.get("/account", &other.cookies).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert!(app.sign_in("hanako", "password1").await.is_none());
        assert!(app.sign_in("hanako", "new-secret-1").await.is_some());
        let log = app.state.db.audit_log(10).await.unwrap();
        assert_eq!(log[0].action, "user.password");
        assert_eq!(log[0].actor.as_deref(), Some("hanako"));
    });

    both_apps!(password_change_is_rate_limited, |app| {
        let me = app.user("jiro", Role::Staff, None).await;
        for _ in 0..5 {
            let r = app
                .post_form(
                    "/account/password",
                    &me.cookies,
                    &[
                        ("csrf", &me.csrf),
                        ("current", "guess"),
                        ("new", "abcdefgh"),
                        ("again", "abcdefgh"),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        // Even the right password is refused while the limit holds.
        let r = app
            .post_form(
                "/account/password",
                &me.cookies,
                &[
                    ("csrf", &me.csrf),
                    ("current", "password1"),
                    ("new", "abcdefgh"),
                    ("again", "abcdefgh"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(app.sign_in("jiro", "password1").await.is_some());
    });
}
