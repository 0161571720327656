//! The alerts of a farm (open and recent, with every delivery attempt), acknowledging from
//! the page, and the signed acknowledge link of the messages (GET confirms, POST acknowledges).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::{CurrentUser, request_lang};
use crate::http::error::AppForm;
use crate::http::pages;
use crate::http::state::AppState;
use crate::i18n::{JST, Lang, Msg};
use crate::services::alerts::{ack_link, rules, service};
use crate::storage::{AlertRow, Role, RuleKind};

/// Roles that see a farm's alerts (farmers and dairy operators only their own farm's).
const READERS: &[Role] = &[Role::Admin, Role::Staff, Role::Farmer, Role::Dairy];
/// How many alerts the page lists, newest first.
const LISTED: usize = 50;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/farms/{id}/alerts", get(alerts_page))
        .route("/farms/{id}/alerts/{alert}/ack", post(ack_from_page))
        .route("/alerts/ack/{token}", get(ack_confirm).post(ack_by_link))
}

fn jst(t: DateTime<Utc>) -> String {
    t.with_timezone(&JST).format("%Y-%m-%d %H:%M").to_string()
}

/// The kind of an alert in `lang`, from its rule's stored kind.
fn kind_text(lang: Lang, kind: Option<&str>) -> &'static str {
    kind.and_then(RuleKind::parse)
        .map_or("", |k| service::kind_msg(k).text(lang))
}

/// What an alert is about, linked to its page.
fn about(lang: Lang, a: &AlertRow, kind: Option<&str>) -> Markup {
    let path = kind
        .and_then(RuleKind::parse)
        .map(|k| rules::link_path(k, &a.condition_key, a.parlor_id));
    html! {
        strong { (kind_text(lang, kind)) }
        @if !a.detail.is_empty() { " " (a.detail) }
        @if let Some(p) = path { " " a href=(p) { (a.condition_key) } }
    }
}

async fn alerts_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Markup, AppError> {
    user.require_role(READERS)?;
    user.require_farm(id)?;
    let farm = state.db.farm(id).await?;
    let lang = user.lang;
    let kinds = state.db.alert_rule_kinds(id).await?;
    let alerts: Vec<AlertRow> = state
        .db
        .alerts_of_farm(id)
        .await?
        .into_iter()
        .take(LISTED)
        .collect();
    let mut tries = Vec::with_capacity(alerts.len());
    for a in &alerts {
        tries.push(state.db.alert_deliveries(id, a.id).await?);
    }
    let title = format!("{} — {}", Msg::AlertsTitle.text(lang), farm.name);
    let body = html! {
        h1 { (title) }
        p { a href=(format!("/farms/{id}/alerts/settings")) { (Msg::AlertRules.text(lang)) " / " (Msg::AlertChannels.text(lang)) } }
        @if alerts.is_empty() { p { (Msg::AlertsNone.text(lang)) } }
        @for (a, d) in alerts.iter().zip(&tries) {
            article.card aria-labelledby=(format!("alert-{}", a.id)) {
                h2 id=(format!("alert-{}", a.id)) {
                    @if a.resolved_at.is_none() { span.badge { (Msg::AlertOpenNow.text(lang)) } " " }
                    (about(lang, a, kinds.get(&a.rule_id).map(String::as_str)))
                }
                dl {
                    dt { (Msg::AlertOpenedAt.text(lang)) } dd { (jst(a.opened_at)) }
                    @if let Some(t) = a.resolved_at { dt { (Msg::AlertClearedAt.text(lang)) } dd { (jst(t)) } }
                    @if let Some(t) = a.acknowledged_at { dt { (Msg::AlertAckedAt.text(lang)) } dd { (jst(t)) } }
                }
                @if a.acknowledged_at.is_none() {
                    form method="post" action=(format!("/farms/{id}/alerts/{}/ack", a.id)) {
                        input type="hidden" name="csrf" value=(user.csrf_token);
                        button type="submit" { (Msg::AlertAck.text(lang)) }
                    }
                }
                details {
                    summary { (Msg::AlertDeliveries.text(lang)) " (" (d.len()) ")" }
                    @if !d.is_empty() {
                        div.table-wrap { table {
                            thead { tr {
                                th scope="col" { "時刻 / Time" }
                                th scope="col" { "event" }
                                th scope="col" { "channel" }
                                th scope="col" { "#" }
                                th scope="col" { "status" }
                            } }
                            tbody { @for t in d { tr {
                                td { (jst(t.at)) }
                                td { (t.event) }
                                td { (t.channel) " " (t.target) }
                                td { (t.attempt) }
                                td { (t.status) @if let Some(e) = &t.error { " " small { (e) } } }
                            } } }
                        } }
                    }
                }
            }
        }
    };
    Ok(pages::layout(lang, &title, Some(&user), body))
}

/// The form of the page's acknowledge button.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct AckForm {
    csrf: String,
}

#[utoipa::path(
    post, path = "/farms/{id}/alerts/{alert}/ack", tag = "alerts",
    request_body(content = inline(AckForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm"), ("alert" = i64, Path, description = "The alert")),
    responses((status = 303, description = "See other: the alerts page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn ack_from_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, alert)): Path<(i64, i64)>,
    AppForm(form): AppForm<AckForm>,
) -> Result<Response, AppError> {
    user.require_role(READERS)?;
    user.require_farm(id)?;
    user.check_csrf(&form.csrf)?;
    state
        .db
        .acknowledge_alert(id, alert, user.user.id, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/farms/{id}/alerts")).into_response())
}

/// The alert a link's token acknowledges, or the page saying the link is no good.
async fn linked_alert(
    state: &AppState,
    lang: Lang,
    token: &str,
) -> Result<Result<AlertRow, Response>, AppError> {
    let key = state.db.server_key(ack_link::KEY_NAME).await?;
    let bad = || {
        let page = pages::error_page(lang, StatusCode::FORBIDDEN, Msg::AlertAckBadLink, None);
        (StatusCode::FORBIDDEN, page).into_response()
    };
    let Some(id) = ack_link::verify(&key, token, Utc::now()) else {
        return Ok(Err(bad()));
    };
    match state.db.alert(id).await {
        Ok(a) => Ok(Ok(a)),
        Err(crate::storage::StorageError::NotFound { .. }) => Ok(Err(bad())),
        Err(e) => Err(e.into()),
    }
}

/// The confirm page of a link: shows the alert and a button; changes nothing.
async fn ack_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let a = match linked_alert(&state, lang, &token).await? {
        Ok(a) => a,
        Err(page) => return Ok(page),
    };
    let kinds = state.db.alert_rule_kinds(a.farm_id).await?;
    let kind = kinds.get(&a.rule_id).map(String::as_str);
    let title = Msg::AlertAck.text(lang);
    let body = html! {
        h1 { (title) }
        p { strong { (kind_text(lang, kind)) } @if !a.detail.is_empty() { " " (a.detail) } }
        p { (Msg::AlertOpenedAt.text(lang)) " " (jst(a.opened_at)) }
        @if let Some(t) = a.acknowledged_at {
            p role="status" { (Msg::AlertAckDone.text(lang)) " (" (jst(t)) ")" }
        } @else {
            p { (Msg::AlertAckConfirm.text(lang)) }
            form method="post" action=(format!("/alerts/ack/{token}")) {
                button type="submit" { (title) }
            }
        }
    };
    Ok(pages::layout(lang, title, None, body).into_response())
}

/// The confirm page's button: acknowledges the alert the token names.
#[utoipa::path(
    post, path = "/alerts/ack/{token}", tag = "alerts",
    params(("token" = String, Path, description = "The acknowledgement link's token")),
    responses((status = 200, description = "The alert acknowledged"), crate::http::error::FormAnswers),
    security(())
)]
async fn ack_by_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let a = match linked_alert(&state, lang, &token).await? {
        Ok(a) => a,
        Err(page) => return Ok(page),
    };
    state.db.acknowledge_alert_by_link(a.id, Utc::now()).await?;
    let title = Msg::AlertAck.text(lang);
    let body = html! {
        h1 { (title) }
        p role="status" { (Msg::AlertAckDone.text(lang)) }
    };
    Ok(pages::layout(lang, title, None, body).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use chrono::Utc;

    use crate::services::alerts::ack_link;
    use crate::storage::{OpenCondition, Role, RuleKind};
    use crate::testutil::{TestApp, both_apps};

    /// A farm with an open stopped-parlor alert that has one failed delivery attempt.
    async fn alert_of(app: &TestApp, farm_name: &str) -> (i64, i64) {
        let farm = app.farm(farm_name, "dairy").await.id;
        let db = &app.state.db;
        let rule = db
            .create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
            .await
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        let cond = OpenCondition {
            rule_id: rule,
            farm_id: farm,
            condition_key: "parlor:1".into(),
            parlor_id: None,
            subject: "第1パーラー".into(),
            detail: "vacuum_low".into(),
            kind: RuleKind::ParlorStopped,
            since: Utc::now(),
            critical: false,
        };
        let id = tx.open_alert(&cond, Utc::now()).await.unwrap().unwrap();
        tx.commit().await.unwrap();
        let channel = db
            .create_alert_channel(farm, "email", "op@nasu.example.jp", None)
            .await
            .unwrap();
        db.record_delivery(&crate::storage::NewDelivery {
            farm_id: farm,
            alert_id: id,
            event: "opened",
            channel_id: channel,
            channel: "email",
            target: "op@nasu.example.jp",
            attempt: 1,
            error: Some("smtp: refused"),
            at: Utc::now(),
        })
        .await
        .unwrap();
        (farm, id)
    }

    both_apps!(
        a_signed_link_confirms_on_get_and_acknowledges_on_post,
        |app| {
            let (_, id) = alert_of(app, "link-farm").await;
            let key = app.state.db.server_key(ack_link::KEY_NAME).await.unwrap();
            let url = format!("/alerts/ack/{}", ack_link::token(&key, id, Utc::now()));
            // GET (a mail scanner following the link) changes nothing.
            let r = app.get(&url, "").await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert!(
                r.body.contains("このアラートを確認済みにしますか"),
                "{}",
                r.body
            );
            assert!(r.body.contains("vacuum_low"));
            assert!(
                app.state
                    .db
                    .alert(id)
                    .await
                    .unwrap()
                    .acknowledged_at
                    .is_none()
            );
            let r = app.post_form(&url, "", &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert!(r.body.contains("確認済みにしました"), "{}", r.body);
            let a = app.state.db.alert(id).await.unwrap();
            assert!(a.acknowledged_at.is_some() && a.acknowledged_by.is_none());
            // Tampered, expired, another alert's: refused, in the reader's language.
            let old = ack_link::token(&key, id, Utc::now() - ack_link::VALID_FOR);
            let forged = ack_link::token(b"not the server's key", id, Utc::now());
            for bad in [
                format!("{}0", &url["/alerts/ack/".len()..]),
                old,
                forged,
                "1.2.3".into(),
            ] {
                let r = app.post_form(&format!("/alerts/ack/{bad}"), "", &[]).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}: {}", r.body);
                assert!(r.body.contains("無効か、有効期限"), "{}", r.body);
            }
            let r = app.get("/alerts/ack/1.2.3", "lang=en").await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            assert!(r.body.contains("not valid or has expired"), "{}", r.body);
        }
    );

    both_apps!(
        the_page_lists_alerts_with_their_attempts_and_acknowledges,
        |app| {
            let (farm, id) = alert_of(app, "page-farm").await;
            let (other, other_alert) = alert_of(app, "other-farm").await;
            let op = app.user("alert-op", Role::Dairy, Some(farm)).await;
            let stranger = app.user("alert-stranger", Role::Dairy, Some(other)).await;
            let page = format!("/farms/{farm}/alerts");
            let r = app.get(&page, &op.cookies).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            for want in [
                "停止中",
                "vacuum_low",
                "発生中",
                "送信の記録 (1)",
                "smtp: refused",
                "op@nasu.example.jp",
            ] {
                assert!(r.body.contains(want), "{want}: {}", r.body);
            }
            assert!(
                r.body.contains(&format!("/farms/{farm}/alerts\"")),
                "nav link"
            );
            // Another farm's operator sees neither the page nor can acknowledge through theirs.
            assert_eq!(
                app.get(&page, &stranger.cookies).await.status,
                StatusCode::FORBIDDEN
            );
            let r = app
                .post_form(
                    &format!("/farms/{other}/alerts/{id}/ack"),
                    &stranger.cookies,
                    &[("csrf", &stranger.csrf)],
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
            // A wrong CSRF token acknowledges nothing; the right one does, by this user.
            let ack = format!("/farms/{farm}/alerts/{id}/ack");
            let r = app.post_form(&ack, &op.cookies, &[("csrf", "nope")]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            assert!(
                app.state
                    .db
                    .alert(id)
                    .await
                    .unwrap()
                    .acknowledged_at
                    .is_none()
            );
            let r = app
                .post_form(&ack, &op.cookies, &[("csrf", &op.csrf)])
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
            let a = app.state.db.alert(id).await.unwrap();
            assert!(a.acknowledged_at.is_some());
            assert_eq!(
                a.acknowledged_by,
                Some(
                    app.state
                        .db
                        .user_by_username("alert-op")
                        .await
                        .unwrap()
                        .unwrap()
                        .id
                )
            );
            assert!(
                app.state
                    .db
                    .alert(other_alert)
                    .await
                    .unwrap()
                    .acknowledged_at
                    .is_none()
            );
            let r = app.get(&page, &op.cookies).await;
            assert!(r.body.contains("確認"), "{}", r.body);
            assert!(!r.body.contains(&ack), "no button once acknowledged");
        }
    );
}
