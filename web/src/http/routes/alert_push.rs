//! Web Push subscriptions: the alert settings page's push section, the service worker at
//! `/sw.js` (scope `/`), and the forms the page's script posts (CSRF like every form):
//! subscribe this browser, unsubscribe it, and remove any of the farm's subscriptions (a
//! plain form, so it works without script); and for the service worker's
//! `pushsubscriptionchange`, the CSRF token as JSON and the replacement of an ended
//! subscription by the new one.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::error::AppForm;
use crate::http::state::AppState;
use crate::i18n::push::PushMsg;
use crate::i18n::{JST, Lang};
use crate::services::alerts::webpush::{self, SubscriptionInput};
use crate::storage::{PushSubscriptionRow, PushWhich, Role};

/// Roles that subscribe a browser to a farm's alerts (staff only read the settings).
const WRITERS: &[Role] = &[Role::Admin, Role::Farmer, Role::Dairy];

/// The service worker, compiled in.
const SERVICE_WORKER: &[u8] = include_bytes!("../../../static/sw.js");

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sw.js", get(service_worker))
        .route("/farms/{id}/alerts/push", post(subscribe))
        .route("/farms/{id}/alerts/push/unsubscribe", post(unsubscribe))
        .route("/farms/{id}/alerts/push/replace", post(replace))
        .route("/alerts/push/csrf", get(csrf_token))
        .route("/farms/{id}/alerts/push/{sub}/remove", post(remove))
}

/// `/sw.js`: served from the root so its scope may be the whole site; never cached long, so
/// a new version reaches browsers at their next visit.
async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::HeaderName::from_static("service-worker-allowed"),
                "/",
            ),
        ],
        SERVICE_WORKER,
    )
        .into_response()
}

/// A subscribed browser as the push section lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushDevice<'a> {
    /// The subscription row (its remove button's path).
    pub id: i64,
    /// Who subscribed it.
    pub username: &'a str,
    /// The push service's URL (only its origin is shown).
    pub endpoint: &'a str,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl<'a> From<&'a PushSubscriptionRow> for PushDevice<'a> {
    fn from(s: &'a PushSubscriptionRow) -> Self {
        PushDevice {
            id: s.id,
            username: &s.username,
            endpoint: &s.endpoint,
            created_at: s.created_at,
        }
    }
}

/// The push section of a settings page (a farm's `/farms/{id}/alerts/settings`, staff's
/// `/staff/alerts`): without script it says push needs JavaScript; with it,
/// `static/push.js` shows this browser's state and the buttons, posting to `base`
/// (subscribe), `base/unsubscribe`, `base/replace`. The subscribed browsers are listed with
/// a remove button (`base/{sub}/remove`) for writers.
pub fn section(
    lang: Lang,
    base: &str,
    public_key: &str,
    subs: &[PushDevice<'_>],
    writes: bool,
    csrf: &str,
) -> Markup {
    let m = |p: PushMsg| p.text(lang);
    html! {
        section #push aria-labelledby="push-h"
            data-key=(public_key)
            data-csrf=(csrf)
            data-subscribe=(base)
            data-unsubscribe=(format!("{base}/unsubscribe"))
            data-replace=(format!("{base}/replace"))
            data-msg-unsupported=(m(PushMsg::Unsupported))
            data-msg-subscribed=(m(PushMsg::Subscribed))
            data-msg-not-subscribed=(m(PushMsg::NotSubscribed))
            data-msg-denied=(m(PushMsg::Denied))
            data-msg-failed=(m(PushMsg::Failed))
            data-msg-working=(m(PushMsg::Working)) {
            h2 #push-h { (m(PushMsg::Section)) }
            p { (m(PushMsg::Intro)) }
            noscript { p { (m(PushMsg::NeedsJs)) } }
            @if writes {
                div #push-controls hidden {
                    p #push-status role="status" aria-live="polite" {}
                    button #push-on type="button" hidden { (m(PushMsg::Subscribe)) }
                    " "
                    button.secondary #push-off type="button" hidden { (m(PushMsg::Unsubscribe)) }
                }
                script src="/static/push.js" defer {}
            }
            h3 { (m(PushMsg::Devices)) }
            @if subs.is_empty() {
                p { (m(PushMsg::NoDevices)) }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { (m(PushMsg::User)) }
                        th scope="col" { (m(PushMsg::Service)) }
                        th scope="col" { (m(PushMsg::Since)) }
                        @if writes { th scope="col" { span.visually-hidden { (m(PushMsg::Remove)) } } }
                    } }
                    tbody { @for s in subs { tr {
                        td { (s.username) }
                        td { (origin(s.endpoint)) }
                        td { (s.created_at.with_timezone(&JST).format("%Y-%m-%d %H:%M")) }
                        @if writes { td {
                            form method="post" action=(format!("{base}/{}/remove", s.id)) {
                                input type="hidden" name="csrf" value=(csrf);
                                button.secondary type="submit"
                                    aria-label=(format!("{} ({})", m(PushMsg::Remove), s.username)) {
                                    (m(PushMsg::Remove))
                                }
                            }
                        } }
                    } } }
                } }
            }
        }
    }
}

/// The push service's origin: the endpoint's path is a capability and is not shown.
fn origin(endpoint: &str) -> String {
    reqwest::Url::parse(endpoint)
        .map_or_else(|_| String::new(), |u| u.origin().ascii_serialization())
}

/// A subscription as the page's script posts it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct SubscribeForm {
    pub(super) csrf: String,
    pub(super) endpoint: String,
    pub(super) p256dh: String,
    pub(super) auth: String,
}

/// The browser's own unsubscribe.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct UnsubscribeForm {
    pub(super) csrf: String,
    pub(super) endpoint: String,
}

/// The service worker's replacement of an ended subscription by the browser's new one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct ReplaceForm {
    pub(super) csrf: String,
    pub(super) old_endpoint: String,
    pub(super) endpoint: String,
    pub(super) p256dh: String,
    pub(super) auth: String,
}

/// The remove button.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct RemoveForm {
    pub(super) csrf: String,
}

fn writer(user: &CurrentUser, farm: i64, csrf: &str) -> Result<(), AppError> {
    user.require_role(WRITERS)?;
    user.require_farm(farm)?;
    user.check_csrf(csrf)
}

#[utoipa::path(
    post, path = "/farms/{id}/alerts/push", tag = "alerts",
    request_body(content = inline(SubscribeForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm")),
    responses((status = 204, description = "The subscription stored"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn subscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(f): AppForm<SubscribeForm>,
) -> Result<Response, AppError> {
    writer(&user, id, &f.csrf)?;
    state.db.farm(id).await?;
    let input = SubscriptionInput {
        endpoint: f.endpoint,
        p256dh: f.p256dh,
        auth: f.auth,
    };
    webpush::subscribe(&state.db, user.lang, id, user.user.id, &input).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/farms/{id}/alerts/push/unsubscribe", tag = "alerts",
    request_body(content = inline(UnsubscribeForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm")),
    responses((status = 204, description = "The subscription removed"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn unsubscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(f): AppForm<UnsubscribeForm>,
) -> Result<Response, AppError> {
    writer(&user, id, &f.csrf)?;
    webpush::unsubscribe(&state.db, id, PushWhich::Endpoint(f.endpoint.trim())).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `/alerts/push/csrf`: the signed-in user's CSRF token as JSON, for the service worker,
/// which has no page to read it from. Another site's script cannot read the answer (no
/// CORS), so the token stays this site's; never cached.
async fn csrf_token(user: CurrentUser) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "csrf": user.csrf_token })),
    )
        .into_response()
}

/// Replaces the user's ended subscription by the browser's new one (the service worker).
#[utoipa::path(
    post, path = "/farms/{id}/alerts/push/replace", tag = "alerts",
    request_body(content = inline(ReplaceForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm")),
    responses((status = 204, description = "Replaced"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn replace(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(f): AppForm<ReplaceForm>,
) -> Result<Response, AppError> {
    writer(&user, id, &f.csrf)?;
    let input = SubscriptionInput {
        endpoint: f.endpoint,
        p256dh: f.p256dh,
        auth: f.auth,
    };
    webpush::replace(
        &state.db,
        user.lang,
        id,
        user.user.id,
        &f.old_endpoint,
        &input,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/farms/{id}/alerts/push/{sub}/remove", tag = "alerts",
    request_body(content = inline(RemoveForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm"), ("sub" = i64, Path, description = "The subscription")),
    responses((status = 303, description = "See other: the alert settings page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, sub)): Path<(i64, i64)>,
    AppForm(f): AppForm<RemoveForm>,
) -> Result<Response, AppError> {
    writer(&user, id, &f.csrf)?;
    webpush::unsubscribe(&state.db, id, PushWhich::Id(sub)).await?;
    Ok(Redirect::to(&format!("/farms/{id}/alerts/settings#push")).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::{StatusCode, header};

    use crate::storage::Role;
    use crate::testutil::both_apps;

    const KEY: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[tokio::test]
    async fn the_service_worker_is_served_from_the_root_for_the_whole_site() {
        let app = crate::testutil::TestApp::sqlite().await;
        let r = app.get("/sw.js", "").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["service-worker-allowed"], "/");
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(r.body.contains("showNotification") && r.body.contains("notificationclick"));
        let js = app.get("/static/push.js", "").await;
        assert!(js.body.contains("pushManager.subscribe"));
    }

    both_apps!(
        the_service_worker_replaces_an_ended_subscription_signed_in_and_csrf_checked,
        |app| {
            let farm = app.farm("push-swap", "dairy").await.id;
            let op = app.user("swap-op", Role::Dairy, Some(farm)).await;
            let other = app.user("swap-other", Role::Dairy, Some(farm)).await;
            let old = "https://push.example.jp/wpush/v2/old-endpoint";
            let new = "https://push.example.jp/wpush/v2/new-endpoint";
            let csrf: &'static str = op.csrf.clone().leak();
            let r = app
                .post_form(
                    &format!("/farms/{farm}/alerts/push"),
                    &op.cookies,
                    &[
                        ("csrf", csrf),
                        ("endpoint", old),
                        ("p256dh", KEY),
                        ("auth", AUTH),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
            let channel = app.state.db.alert_channels(farm).await.unwrap()[0].id;
            // The worker's token: the session's, as JSON, never cached; none without a session.
            let r = app.get("/alerts/push/csrf", &op.cookies).await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
            let token: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(token["csrf"], csrf);
            let r = app.get("/alerts/push/csrf", "").await;
            assert_ne!(r.status, StatusCode::OK);
            assert!(!r.body.contains(csrf));
            let url = format!("/farms/{farm}/alerts/push/replace");
            let form = |c: &'static str, o: &'static str| {
                vec![
                    ("csrf", c),
                    ("old_endpoint", o),
                    ("endpoint", new),
                    ("p256dh", KEY),
                    ("auth", AUTH),
                ]
            };
            // Refused: a wrong token, no session, another user's subscription, an unknown one.
            let r = app.post_form(&url, &op.cookies, &form("nope", old)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            let r = app.post_form(&url, "", &form(csrf, old)).await;
            assert_ne!(r.status, StatusCode::NO_CONTENT);
            let oc: &'static str = other.csrf.clone().leak();
            let r = app.post_form(&url, &other.cookies, &form(oc, old)).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "only one's own subscription"
            );
            let r = app
                .post_form(&url, &op.cookies, &form(csrf, "https://push.example.jp/x"))
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
            let subs = app.state.db.push_subscriptions(farm).await.unwrap();
            assert_eq!(subs.len(), 1);
            let target = app
                .state
                .db
                .push_target(farm, channel)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(target.endpoint, old, "nothing changed by a refusal");
            // Accepted: the same channel now reaches the new endpoint, the old one is gone.
            let r = app.post_form(&url, &op.cookies, &form(csrf, old)).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
            let subs = app.state.db.push_subscriptions(farm).await.unwrap();
            assert_eq!(subs.len(), 1);
            let target = app
                .state
                .db
                .push_target(farm, channel)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(target.endpoint, new);
            let r = app.post_form(&url, &op.cookies, &form(csrf, old)).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "the old endpoint is gone");
            // The worker is served with its handler, and the page tells it where to post.
            let sw = app.get("/sw.js", "").await;
            assert!(sw.body.contains("pushsubscriptionchange"));
            let page = app
                .get(&format!("/farms/{farm}/alerts/settings"), &op.cookies)
                .await;
            assert!(page.body.contains(&format!("data-replace=\"{url}\"")));
        }
    );

    both_apps!(
        browsers_subscribe_and_unsubscribe_only_on_their_own_farm,
        |app| {
            let farm = app.farm("push-farm", "dairy").await.id;
            let other = app.farm("push-other", "dairy").await.id;
            let op = app.user("push-op", Role::Dairy, Some(farm)).await;
            let staff = app.user("push-staff", Role::Staff, None).await;
            let stranger = app.user("push-stranger", Role::Dairy, Some(other)).await;
            let url = format!("/farms/{farm}/alerts/push");
            let endpoint = "https://push.example.jp/wpush/v2/gAAAAAB-abc";
            let form = |csrf: &'static str, e: &'static str, k: &'static str, a: &'static str| {
                vec![("csrf", csrf), ("endpoint", e), ("p256dh", k), ("auth", a)]
            };
            let csrf: &'static str = op.csrf.clone().leak();
            // The page without script: it says push needs JavaScript, no device yet.
            let page = app
                .get(&format!("/farms/{farm}/alerts/settings"), &op.cookies)
                .await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(
                page.body
                    .contains("<noscript><p>プッシュ通知の登録には JavaScript が必要です"),
                "{}",
                page.body
            );
            assert!(page.body.contains("登録済みの端末はありません"));
            let key = crate::services::alerts::webpush::server_key(&app.state.db)
                .await
                .unwrap()
                .public_b64();
            assert!(page.body.contains(&format!("data-key=\"{key}\"")));
            assert_eq!(key.len(), 87);
            // Bad input: named in the user's language, nothing stored.
            let r = app
                .post_form(
                    &url,
                    &op.cookies,
                    &form(csrf, "http://push.example.jp/x", KEY, AUTH),
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                r.body.contains("通知の宛先: https の URL ではありません"),
                "{}",
                r.body
            );
            let r = app
                .post_form(&url, &op.cookies, &form(csrf, endpoint, &KEY[..40], AUTH))
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(r.body.contains("p256dh"), "{}", r.body);
            let r = app
                .post_form(&url, &op.cookies, &[("csrf", csrf), ("endpoint", endpoint)])
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "missing keys");
            assert!(
                app.state
                    .db
                    .push_subscriptions(farm)
                    .await
                    .unwrap()
                    .is_empty()
            );
            // Wrong CSRF, read-only staff, another farm's user: refused.
            let r = app
                .post_form(&url, &op.cookies, &form("nope", endpoint, KEY, AUTH))
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            let s: &'static str = staff.csrf.clone().leak();
            let r = app
                .post_form(&url, &staff.cookies, &form(s, endpoint, KEY, AUTH))
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            let st: &'static str = stranger.csrf.clone().leak();
            let r = app
                .post_form(&url, &stranger.cookies, &form(st, endpoint, KEY, AUTH))
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            // A good one, twice: one row, one channel.
            for _ in 0..2 {
                let r = app
                    .post_form(&url, &op.cookies, &form(csrf, endpoint, KEY, AUTH))
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
            }
            let subs = app.state.db.push_subscriptions(farm).await.unwrap();
            assert_eq!(subs.len(), 1);
            assert_eq!(subs[0].username, "push-op");
            let chans = app.state.db.alert_channels(farm).await.unwrap();
            assert_eq!(chans.len(), 1);
            assert_eq!(
                (chans[0].kind.as_str(), chans[0].target.as_str()),
                ("webpush", "https://push.example.jp")
            );
            // The page lists it by its service's origin, never the endpoint's path.
            let page = app
                .get(&format!("/farms/{farm}/alerts/settings"), &op.cookies)
                .await;
            assert!(page.body.contains("https://push.example.jp"));
            assert!(
                !page.body.contains("gAAAAAB-abc"),
                "the endpoint is a capability"
            );
            assert!(page.body.contains("プッシュ通知"));
            // Another farm cannot remove it, neither through its own farm nor through ours.
            let sub = subs[0].id;
            let r = app
                .post_form(
                    &format!("/farms/{other}/alerts/push/{sub}/remove"),
                    &stranger.cookies,
                    &[("csrf", st)],
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
            let r = app
                .post_form(
                    &format!("/farms/{farm}/alerts/push/{sub}/remove"),
                    &stranger.cookies,
                    &[("csrf", st)],
                )
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            let r = app
                .post_form(
                    &format!("/farms/{other}/alerts/push/unsubscribe"),
                    &stranger.cookies,
                    &[("csrf", st), ("endpoint", endpoint)],
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
            assert_eq!(
                app.state.db.push_subscriptions(farm).await.unwrap().len(),
                1
            );
            // The browser's own unsubscribe; then subscribed again, and removed by the page's form.
            let r = app
                .post_form(
                    &format!("/farms/{farm}/alerts/push/unsubscribe"),
                    &op.cookies,
                    &[("csrf", csrf), ("endpoint", endpoint)],
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
            assert!(
                app.state
                    .db
                    .push_subscriptions(farm)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(app.state.db.alert_channels(farm).await.unwrap().is_empty());
            // Its switched-off channel cannot be switched on without a subscription.
            let ch = chans[0].id;
            let r = app
                .post_form(
                    &format!("/farms/{farm}/alerts/channels/{ch}/enabled"),
                    &op.cookies,
                    &[("csrf", csrf), ("enabled", "1")],
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
            let r = app
                .post_form(&url, &op.cookies, &form(csrf, endpoint, KEY, AUTH))
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
            // A new channel; the old one stays off, for the attempts that name it.
            let on = app.state.db.alert_channels(farm).await.unwrap();
            assert_eq!(on.len(), 1);
            assert_ne!(on[0].id, ch);
            assert_eq!(
                app.state.db.alert_channel_rows(farm).await.unwrap().len(),
                2
            );
            let sub = app.state.db.push_subscriptions(farm).await.unwrap()[0].id;
            let r = app
                .post_form(
                    &format!("/farms/{farm}/alerts/push/{sub}/remove"),
                    &op.cookies,
                    &[("csrf", csrf)],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER);
            assert!(
                app.state
                    .db
                    .push_subscriptions(farm)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    );
}
