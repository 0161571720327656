//! Sign-in, sign-out and the language switch.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::{
    CurrentUser, LANG_COOKIE, SESSION_COOKIE, SESSION_TTL, request_lang, site_cookie,
};
use crate::http::error::AppForm;
use crate::http::pages;
use crate::http::state::AppState;
use crate::i18n::{Lang, Msg};
use crate::services::accounts::{self, SignInOutcome};
use crate::services::credentials::{self, token_hash};

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
    render_login(&state, &headers, lang, None, "")
}

fn render_login(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    error: Option<Msg>,
    username: &str,
) -> Response {
    let token = credentials::new_token();
    let jar = CookieJar::new().add(site_cookie(
        LOGIN_CSRF_COOKIE,
        token.clone(),
        secure_cookies(state, headers),
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

/// Whether this response's cookies are `Secure`: always with `--secure-cookies`, and on their
/// own when the request reached us over HTTPS through a TLS-terminating proxy
/// (`X-Forwarded-Proto: https` or `Forwarded: proto=https`). A client that sends the header
/// over plain HTTP only makes its own cookies unusable, so it is honoured without
/// `--trust-proxy`.
pub fn secure_cookies(state: &AppState, headers: &HeaderMap) -> bool {
    let header = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
            .to_ascii_lowercase()
    };
    let xfp = header("x-forwarded-proto");
    let forwarded = header("forwarded");
    state.settings.secure_cookies
        || xfp.split(',').next().map(str::trim) == Some("https")
        || forwarded
            .split([';', ','])
            .any(|p| p.trim() == "proto=https")
}

/// Cookie naming a browser its user signed in from before (see `known_devices`).
pub const DEVICE_COOKIE: &str = "agriops_device";
/// How long a browser stays known without signing in again.
const DEVICE_TTL: time::Duration = time::Duration::days(400);

/// The source a request is counted under by the sign-in limiter: the peer's address, or behind
/// a trusted reverse proxy the address it appended last to `X-Forwarded-For`. An IPv6 address
/// counts by its /64, the block one subscriber is usually given.
pub fn client_addr(state: &AppState, headers: &HeaderMap, ext: &Extensions) -> String {
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|a| !a.is_empty())
        .and_then(|a| a.parse::<IpAddr>().ok());
    let ip = match forwarded {
        Some(ip) if state.settings.trust_proxy => Some(ip),
        _ => ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
    };
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    }
}

#[utoipa::path(
    post, path = "/login", tag = "session",
    request_body(content = inline(LoginForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the home page, with the session cookie"), crate::http::error::FormAnswers),
    security(())
)]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    jar: CookieJar,
    AppForm(form): AppForm<LoginForm>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    if expected.as_deref() != Some(form.csrf.as_str()) || form.csrf.is_empty() {
        return Err(AppError::Csrf);
    }
    let device = jar.get(DEVICE_COOKIE).map(|c| token_hash(c.value()));
    let ttl =
        chrono::Duration::from_std(SESSION_TTL).map_err(|e| AppError::Internal(e.to_string()))?;
    let outcome = accounts::sign_in(
        &state.db,
        &state.login_limiter,
        &accounts::SignIn {
            username: &form.username,
            password: &form.password,
            device_hash: device.as_deref(),
            source: &client_addr(&state, &headers, &ext),
            ttl,
        },
    )
    .await?;
    let refused = |why: Msg| render_login(&state, &headers, lang, Some(why), &form.username);
    let (user, token, device) = match outcome {
        SignInOutcome::SignedIn {
            user,
            token,
            device,
        } => (user, token, device),
        SignInOutcome::TooManyAttempts => return Ok(refused(Msg::TooManyAttempts)),
        SignInOutcome::BadCredentials => return Ok(refused(Msg::BadCredentials)),
    };
    let secure = secure_cookies(&state, &headers);
    let mut jar = jar
        .remove(Cookie::from(LOGIN_CSRF_COOKIE))
        .add(site_cookie(SESSION_COOKIE, token, secure))
        .add(site_cookie(LANG_COOKIE, user.lang.clone(), secure));
    if let Some(device) = device {
        let mut cookie = site_cookie(DEVICE_COOKIE, device, secure);
        cookie.set_max_age(DEVICE_TTL);
        jar = jar.add(cookie);
    }
    Ok((jar, Redirect::to("/")).into_response())
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CsrfForm {
    csrf: String,
}

#[utoipa::path(
    post, path = "/logout", tag = "session",
    request_body(content = inline(CsrfForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the sign-in form"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct LangForm {
    /// `ja` or `en`.
    #[schema(pattern = "^(ja|en)$")]
    lang: String,
    /// The session's token, when signed in (the switch also changes the stored preference).
    #[serde(default)]
    csrf: String,
}

/// Whether a signed-out POST comes from one of our own pages: browsers send `Sec-Fetch-Site`
/// and `Origin` on form posts; a cross-site one (another site's form aimed at us) is refused.
fn same_site_post(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if fetch_site == "cross-site" || fetch_site == "same-site" {
        return false;
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok());
    match headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(origin) => {
            let origin_host = origin.split_once("://").map(|(_, h)| h);
            origin_host.is_some() && origin_host == host
        }
    }
}

#[utoipa::path(
    post, path = "/lang", tag = "session",
    request_body(content = inline(LangForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the page the form was on"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
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
    // A signed-in user keeps the choice across devices: the form must carry the session's
    // token. Signed out, only the cookie changes, and a cross-site post is still refused.
    let session = match jar.get(SESSION_COOKIE) {
        Some(c) => state.db.session(&token_hash(c.value())).await?,
        None => None,
    };
    match session {
        Some(s) => {
            if token_hash(&form.csrf) != token_hash(&s.csrf_token) || form.csrf.is_empty() {
                return Err(AppError::Csrf);
            }
            state.db.set_user_lang(s.user.id, lang.tag()).await?;
        }
        None if !same_site_post(&headers) => return Err(AppError::Csrf),
        None => {}
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
        secure_cookies(&state, &headers),
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
        // Signed in, the switch changes the stored preference: it needs the session's token.
        let r = app.post_form("/lang", &b.cookies, &[("lang", "en")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .post_form("/lang", &b.cookies, &[("lang", "en"), ("csrf", "forged")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let page = app.get("/", &b.cookies).await;
        assert!(
            page.body
                .contains(&format!("name=\"csrf\" value=\"{}\"", b.csrf)),
            "the switch in the header carries the token"
        );
        let r = app
            .post_form("/lang", &b.cookies, &[("lang", "en"), ("csrf", &b.csrf)])
            .await;
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

    both_apps!(a_cross_site_language_post_is_refused, |app| {
        use axum::body::Body;
        use axum::http::{Request, header};
        let post = |site: &str, origin: &str| {
            Request::post("/lang")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::HOST, "agri.example.jp")
                .header("sec-fetch-site", site)
                .header(header::ORIGIN, origin)
                .body(Body::from("lang=en"))
                .unwrap()
        };
        let r = app.send(post("cross-site", "https://evil.example")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app.send(post("same-origin", "https://evil.example")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "Origin must match Host");
        let r = app
            .send(post("same-origin", "https://agri.example.jp"))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.cookie("lang").as_deref(), Some("en"));
    });

    #[tokio::test]
    async fn the_source_is_the_peer_unless_a_trusted_proxy_names_it() {
        use std::net::SocketAddr;

        use axum::extract::ConnectInfo;
        use axum::http::{Extensions, HeaderMap};

        use super::client_addr;
        use crate::http::state::{AppState, Settings};
        use crate::storage::testdb::TestDb;

        let t = TestDb::sqlite().await;
        let direct = AppState::new(t.db.clone(), Settings::default());
        let proxied = AppState::new(
            t.db.clone(),
            Settings {
                trust_proxy: true,
                ..Settings::default()
            },
        );
        let peer = |addr: &str| {
            let mut ext = Extensions::new();
            ext.insert(ConnectInfo(addr.parse::<SocketAddr>().unwrap()));
            ext
        };
        let mut xff = HeaderMap::new();
        xff.append(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let none = HeaderMap::new();
        let from_proxy = peer("127.0.0.1:5000");
        // Without trust the header is the client's own word, and is ignored.
        assert_eq!(client_addr(&direct, &xff, &from_proxy), "127.0.0.1");
        assert_eq!(client_addr(&proxied, &xff, &from_proxy), "198.51.100.7");
        assert_eq!(client_addr(&proxied, &none, &from_proxy), "127.0.0.1");
        // IPv6 counts per /64; an IPv4-mapped address is the IPv4 one.
        let v6a = peer("[2001:db8:1:2:aaaa::1]:443");
        let v6b = peer("[2001:db8:1:2:bbbb::9]:443");
        assert_eq!(client_addr(&direct, &none, &v6a), "2001:db8:1:2::/64");
        assert_eq!(
            client_addr(&direct, &none, &v6a),
            client_addr(&direct, &none, &v6b)
        );
        let mapped = peer("[::ffff:192.0.2.1]:80");
        assert_eq!(client_addr(&direct, &none, &mapped), "192.0.2.1");
        assert_eq!(client_addr(&direct, &none, &Extensions::new()), "unknown");
    }

    /// Posts the sign-in form with `extra` cookies (`name=value; …`) besides its CSRF one.
    async fn post_login(
        app: &crate::testutil::TestApp,
        extra: &str,
        username: &str,
        password: &str,
    ) -> crate::testutil::Resp {
        let c = app.get("/login", "").await.cookie("login_csrf").unwrap();
        let cookies = if extra.is_empty() {
            format!("login_csrf={c}")
        } else {
            format!("login_csrf={c}; {extra}")
        };
        app.post_form(
            "/login",
            &cookies,
            &[("username", username), ("password", password), ("csrf", &c)],
        )
        .await
    }

    both_apps!(concurrent_guesses_evaluate_at_most_the_limit, |app| {
        app.user("target", Role::Staff, None).await;
        let limit = app.state.login_limiter.per_account() as usize;
        let (before, _) = app.state.login_limiter.verifications();
        let c = app.get("/login", "").await.cookie("login_csrf").unwrap();
        let cookies = format!("login_csrf={c}");
        let guesses: Vec<String> = (0..200).map(|i| format!("guess-{i}")).collect();
        let forms: Vec<[(&str, &str); 3]> = guesses
            .iter()
            .map(|g| [("username", "target"), ("password", g), ("csrf", &c)])
            .collect();
        let answers =
            futures::future::join_all(forms.iter().map(|f| app.post_form("/login", &cookies, f)))
                .await;
        let (after, _) = app.state.login_limiter.verifications();
        let evaluated = (after - before) as usize;
        assert!(
            evaluated <= limit,
            "{evaluated} of 200 guesses reached argon2"
        );
        let refused = answers
            .iter()
            .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
            .count();
        let wrong = answers
            .iter()
            .filter(|r| r.status == StatusCode::UNAUTHORIZED)
            .count();
        assert_eq!((wrong, refused), (evaluated, 200 - evaluated));
    });

    both_apps!(
        a_locked_account_still_admits_its_owner_from_a_known_browser,
        |app| {
            app.user("owner", Role::Staff, None).await;
            // The owner's browser signed in before and keeps its device cookie.
            let first = post_login(app, "", "owner", "password1").await;
            assert_eq!(first.status, StatusCode::SEE_OTHER);
            let device = first
                .cookie(crate::http::routes::session::DEVICE_COOKIE)
                .expect("a device cookie");
            let known = format!("{}={device}", crate::http::routes::session::DEVICE_COOKIE);
            // Someone else guesses until the account is locked.
            for i in 0..app.state.login_limiter.per_account() {
                let r = post_login(app, "", "owner", &format!("guess{i}")).await;
                assert_eq!(r.status, StatusCode::UNAUTHORIZED);
            }
            let locked = post_login(app, "", "owner", "password1").await;
            assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
            // The owner's own browser, with the right password, still gets in …
            let owner = post_login(app, &known, "owner", "password1").await;
            assert_eq!(owner.status, StatusCode::SEE_OTHER, "{}", owner.body);
            assert!(owner.cookie(crate::http::auth::SESSION_COOKIE).is_some());
            // … but a wrong password from it is still refused, and the lock holds for others.
            let wrong = post_login(app, &known, "owner", "nope").await;
            assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
            let still = post_login(app, "", "owner", "password1").await;
            assert_eq!(still.status, StatusCode::TOO_MANY_REQUESTS);
            // A device cookie of another account, or a made-up one, exempts nothing.
            app.user("other", Role::Staff, None).await;
            let forged = format!("{}=made-up", crate::http::routes::session::DEVICE_COOKIE);
            let r = post_login(app, &forged, "owner", "password1").await;
            assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        }
    );

    both_apps!(the_source_address_is_limited_across_accounts, |app| {
        let per_source = app.state.login_limiter.per_source();
        // Guesses spread over many names, from one address: the address runs out.
        for i in 0..per_source {
            let r = post_login(app, "", &format!("name{i}"), "guess").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "guess {i}");
        }
        let hash = crate::services::credentials::hash_password("password1").unwrap();
        app.state
            .db
            .create_user(&crate::storage::NewUser {
                username: "fresh",
                display_name: "fresh",
                password_hash: &hash,
                role: Role::Staff,
                farm_id: None,
                lang: "ja",
            })
            .await
            .unwrap();
        let r = post_login(app, "", "fresh", "password1").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    });

    both_apps!(unknown_names_cost_the_same_argon2_work, |app| {
        app.user("known", Role::Staff, None).await;
        let l = &app.state.login_limiter;
        let (n0, d0) = l.verifications();
        let r = post_login(app, "", "nobody-by-this-name", "password1").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // The unknown name ran argon2, on the dummy hash.
        assert_eq!(l.verifications(), (n0 + 1, d0 + 1));
        let r = post_login(app, "", "known", "wrong-password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(l.verifications(), (n0 + 2, d0 + 1));
        // The same answer either way: nothing in the page tells the two apart.
        let unknown = post_login(app, "", "nobody-by-this-name", "x").await;
        let known = post_login(app, "", "known", "x").await;
        assert_eq!(unknown.status, known.status);
        let msg = crate::i18n::Msg::BadCredentials.text(crate::i18n::Lang::Ja);
        assert!(unknown.body.contains(msg) && known.body.contains(msg));
    });
}
