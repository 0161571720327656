//! `/staff/alerts`: city staff's own alert, a district's data missing for a day — the rule
//! (on/off, districts, the hour), its channels (mail and signed webhook, validated like a
//! farm's, and the staff member's own browser by Web Push through the farm pages' push
//! section and script), each with its quiet hours and escalation, and the alerts with their
//! delivery attempts and an acknowledge button. Only administrators and staff reach any of
//! it; farm users get 403. The one exception is the messages' signed link
//! `/staff/alerts/ack/{token}` (GET confirms and changes nothing, POST acknowledges, with no
//! user), whose token is the authority: it acknowledges only the staff alert it was made
//! for, and a farm alert's link is refused there.

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
use crate::http::routes::alert_push::{
    self, PushDevice, RemoveForm, ReplaceForm, SubscribeForm, UnsubscribeForm,
};
use crate::http::state::AppState;
use crate::i18n::push::PushMsg;
use crate::i18n::staff_alerts::StaffAlertMsg as S;
use crate::i18n::{JST, Lang, Msg};
use crate::services::alerts::settings::{ChannelInput, fmt_hhmm};
use crate::services::alerts::staff::{self, StaffRuleInput};
use crate::services::alerts::webpush::{self, SubscriptionInput};
use crate::storage::{DeliveryRow, PushWhich, Role, StaffAlertRow, StaffChannelRow, WEBPUSH};

/// Roles that see and change staff alerts.
const STAFF: &[Role] = &[Role::Admin, Role::Staff];
/// How many alerts the page lists, newest first.
const LISTED: i64 = 50;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/alerts", get(page))
        .route("/staff/alerts/rule", post(save_rule))
        .route("/staff/alerts/channels", post(add_channel))
        .route("/staff/alerts/channels/{ch}/enabled", post(channel_enabled))
        .route("/staff/alerts/channels/{ch}/timing", post(channel_timing))
        .route(
            "/staff/alerts/ack/{token}",
            get(ack_confirm).post(ack_by_link),
        )
        .route("/staff/alerts/{alert}/ack", post(ack))
        .route("/staff/alerts/push", post(push_subscribe))
        .route("/staff/alerts/push/unsubscribe", post(push_unsubscribe))
        .route("/staff/alerts/push/replace", post(push_replace))
        .route("/staff/alerts/push/{sub}/remove", post(push_remove))
}

/// Where the push section's script posts.
const PUSH_BASE: &str = "/staff/alerts/push";

fn jst(t: DateTime<Utc>) -> String {
    t.with_timezone(&JST).format("%Y-%m-%d %H:%M").to_string()
}

fn channel_kind(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "email" => Msg::AlertChannelEmail.text(lang),
        WEBPUSH => PushMsg::ChannelKind.text(lang),
        _ => Msg::AlertChannelWebhook.text(lang),
    }
}

fn attempts(lang: Lang, d: &[DeliveryRow]) -> Markup {
    html! {
        details {
            summary { (Msg::AlertDeliveries.text(lang)) " (" (d.len()) ")" }
            @if !d.is_empty() {
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { (S::Time.text(lang)) }
                        th scope="col" { (S::Message.text(lang)) }
                        th scope="col" { (S::Channel.text(lang)) }
                        th scope="col" { (S::Attempt.text(lang)) }
                        th scope="col" { (S::Outcome.text(lang)) }
                    } }
                    tbody { @for t in d { tr {
                        td { (jst(t.at)) }
                        td { (if t.event == "resolved" { Msg::AlertResolved.text(lang) } else { S::Missing.text(lang) }) }
                        td { (channel_kind(lang, &t.channel)) " " (t.target) }
                        td { (t.attempt) }
                        td {
                            (if t.status == "sent" { S::Sent.text(lang) } else { S::Failed.text(lang) })
                            @if let Some(e) = &t.error { " " small lang="en" { (e) } }
                        }
                    } } }
                } }
            }
        }
    }
}

/// A channel's quiet hours and escalation, as a form that changes them.
fn timing_form(lang: Lang, c: &StaffChannelRow, csrf: &str) -> Markup {
    let (from, to) = match (c.quiet_from, c.quiet_to) {
        (Some(a), Some(b)) => (fmt_hhmm(a), fmt_hhmm(b)),
        _ => (String::new(), String::new()),
    };
    let esc = c
        .escalate_after_min
        .map(|m| m.to_string())
        .unwrap_or_default();
    let id = c.id;
    html! {
        form method="post" action=(format!("/staff/alerts/channels/{id}/timing")) {
            input type="hidden" name="csrf" value=(csrf);
            label for=(format!("t-from-{id}")) { (Msg::AlertQuietFromLabel.text(lang)) }
            input id=(format!("t-from-{id}")) name="quiet_from" type="text" inputmode="numeric" size="5" placeholder="22:00" value=(from);
            label for=(format!("t-to-{id}")) { (Msg::AlertQuietToLabel.text(lang)) }
            input id=(format!("t-to-{id}")) name="quiet_to" type="text" inputmode="numeric" size="5" placeholder="06:00" value=(to);
            label for=(format!("t-esc-{id}")) { (Msg::AlertEscalateLabel.text(lang)) }
            input id=(format!("t-esc-{id}")) name="escalate_after_min" type="number" min="1" max="10080" value=(esc);
            button.secondary type="submit" { (S::SaveTiming.text(lang)) }
        }
    }
}

async fn page(State(state): State<AppState>, user: CurrentUser) -> Result<Markup, AppError> {
    user.require_role(STAFF)?;
    let lang = user.lang;
    let rule = state.db.staff_alert_rule().await?;
    let districts = state.db.districts().await?;
    let channels = state.db.staff_alert_channels().await?;
    let alerts = state.db.staff_alerts(LISTED).await?;
    let subs = state.db.staff_push_subscriptions().await?;
    let devices: Vec<PushDevice<'_>> = subs
        .iter()
        .map(|s| PushDevice {
            id: s.id,
            username: &s.username,
            endpoint: &s.endpoint,
            created_at: s.created_at,
        })
        .collect();
    let push_key = webpush::server_key(&state.db).await?.public_b64();
    let mut tries = Vec::with_capacity(alerts.len());
    for a in &alerts {
        tries.push(state.db.staff_alert_deliveries(a.id).await?);
    }
    let district_name = |id: i64| {
        districts
            .iter()
            .find(|d| d.id == id)
            .map_or_else(String::new, |d| match lang {
                Lang::Ja => d.name_ja.clone(),
                Lang::En => d.name_en.clone(),
            })
    };
    let csrf = &user.csrf_token;
    let title = S::Title.text(lang);
    let body = html! {
        h1 { (title) }
        p { (S::Intro.text(lang)) }
        h2 { (S::Rule.text(lang)) }
        form method="post" action="/staff/alerts/rule" {
            input type="hidden" name="csrf" value=(csrf);
            p { label { input name="enabled" type="checkbox" value="1" checked[rule.enabled]; " " (S::On.text(lang)) } }
            label for="s-hour" { (S::AfterHour.text(lang)) }
            input id="s-hour" name="after_hour" type="number" min="0" max="23" required value=(rule.after_hour);
            fieldset {
                legend { (S::Districts.text(lang)) }
                @for d in &districts {
                    label {
                        input name="district" type="checkbox" value=(d.id) checked[rule.districts.contains(&d.id)];
                        " " (match lang { Lang::Ja => &d.name_ja, Lang::En => &d.name_en })
                    }
                    " "
                }
            }
            p { button type="submit" { (S::Save.text(lang)) } }
        }
        h2 { (Msg::AlertChannels.text(lang)) }
        div.table-wrap { table {
            thead { tr {
                th scope="col" { (Msg::AlertChannelKindLabel.text(lang)) }
                th scope="col" { (Msg::AlertTargetLabel.text(lang)) }
                th scope="col" { (S::Timing.text(lang)) }
                th scope="col" { (Msg::AlertEnabled.text(lang)) }
            } }
            tbody { @for c in &channels { tr {
                td { (channel_kind(lang, &c.kind)) }
                td { (c.target) }
                td { (timing_form(lang, c, csrf)) }
                td {
                    (if c.enabled { Msg::AlertEnabled.text(lang) } else { Msg::AlertDisabled.text(lang) })
                    // A browser's channel goes back on by subscribing it again.
                    @if c.enabled || c.kind != WEBPUSH { form method="post" action=(format!("/staff/alerts/channels/{}/enabled", c.id)) {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="enabled" value=(if c.enabled { "0" } else { "1" });
                        button.secondary type="submit" {
                            (if c.enabled { Msg::AlertDisable.text(lang) } else { Msg::AlertEnable.text(lang) })
                        }
                    } }
                }
            } } }
        } }
        form method="post" action="/staff/alerts/channels" {
            input type="hidden" name="csrf" value=(csrf);
            label for="c-kind" { (Msg::AlertChannelKindLabel.text(lang)) }
            select id="c-kind" name="kind" {
                option value="email" { (Msg::AlertChannelEmail.text(lang)) }
                option value="webhook" { (Msg::AlertChannelWebhook.text(lang)) }
            }
            label for="c-target" { (Msg::AlertTargetLabel.text(lang)) }
            input id="c-target" name="target" type="text" required;
            label for="c-secret" { (Msg::AlertSecretLabel.text(lang)) }
            input id="c-secret" name="secret" type="password" autocomplete="off";
            label for="c-from" { (Msg::AlertQuietFromLabel.text(lang)) }
            input id="c-from" name="quiet_from" type="text" inputmode="numeric" placeholder="22:00";
            label for="c-to" { (Msg::AlertQuietToLabel.text(lang)) }
            input id="c-to" name="quiet_to" type="text" inputmode="numeric" placeholder="06:00";
            label for="c-esc" { (Msg::AlertEscalateLabel.text(lang)) }
            input id="c-esc" name="escalate_after_min" type="number" min="1" max="10080";
            p { button type="submit" { (Msg::AlertAdd.text(lang)) } }
        }
        p { small { (S::TimingNote.text(lang)) } }
        (alert_push::section(lang, PUSH_BASE, &push_key, &devices, true, csrf))
        h2 { (S::Alerts.text(lang)) }
        @if alerts.is_empty() { p { (Msg::AlertsNone.text(lang)) } }
        @for (a, d) in alerts.iter().zip(&tries) {
            article.card aria-labelledby=(format!("staff-alert-{}", a.id)) {
                h3 id=(format!("staff-alert-{}", a.id)) {
                    @if a.resolved_at.is_none() { span.badge { (Msg::AlertOpenNow.text(lang)) } " " }
                    strong { (S::Missing.text(lang)) } " " (district_name(a.district_id)) " " (a.day)
                }
                dl {
                    @if !a.detail.is_empty() { dt { (S::SilentFarms.text(lang)) } dd { (a.detail) } }
                    dt { (Msg::AlertOpenedAt.text(lang)) } dd { (jst(a.opened_at)) }
                    @if let Some(t) = a.resolved_at { dt { (Msg::AlertClearedAt.text(lang)) } dd { (jst(t)) } }
                    @if let Some(t) = a.acknowledged_at { dt { (Msg::AlertAckedAt.text(lang)) } dd { (jst(t)) } }
                }
                @if a.acknowledged_at.is_none() {
                    form method="post" action=(format!("/staff/alerts/{}/ack", a.id)) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { (Msg::AlertAck.text(lang)) }
                    }
                }
                (attempts(lang, d))
            }
        }
    };
    Ok(pages::layout(lang, title, Some(&user), body))
}

/// The rule's form, as described: the boxes come as repeated `district` fields, so the
/// handler reads the pairs itself ([`rule_input`]).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct RuleForm {
    csrf: String,
    /// `1` when ticked; absent otherwise.
    enabled: Option<String>,
    /// 0–23.
    after_hour: String,
    /// A district id, once per ticked box.
    district: Vec<i64>,
}

/// The add-channel form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ChannelForm {
    csrf: String,
    kind: String,
    target: String,
    #[serde(default)]
    secret: String,
    /// `HH:MM`, Asia/Tokyo; empty with `quiet_to` for no quiet hours.
    #[serde(default)]
    quiet_from: String,
    /// `HH:MM`, Asia/Tokyo.
    #[serde(default)]
    quiet_to: String,
    /// Minutes (1–10080) for a second line; empty for a first line.
    #[serde(default)]
    escalate_after_min: String,
}

/// A channel's quiet hours and escalation form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct TimingForm {
    csrf: String,
    /// `HH:MM`, Asia/Tokyo; empty with `quiet_to` for no quiet hours.
    #[serde(default)]
    quiet_from: String,
    /// `HH:MM`, Asia/Tokyo.
    #[serde(default)]
    quiet_to: String,
    /// Minutes (1–10080) for a second line; empty for a first line.
    #[serde(default)]
    escalate_after_min: String,
}

/// The quiet hours of the two fields as the channel rules read them (`HH:MM-HH:MM`).
fn quiet_of(from: &str, to: &str) -> String {
    match (from.trim(), to.trim()) {
        ("", "") => String::new(),
        (a, b) => format!("{a}-{b}"),
    }
}

/// The escalation field: empty is a first line, anything else must be a whole number.
fn escalation_of(lang: Lang, v: &str) -> Result<Option<i64>, AppError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| {
        AppError::BadInput(format!(
            "{}: {}",
            Msg::AlertEscalateLabel.text(lang),
            Msg::AlertBadNumber.text(lang)
        ))
    })
}

/// The on/off and acknowledge forms.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct EnabledForm {
    csrf: String,
    #[serde(default)]
    enabled: String,
}

/// The rule form's pairs as the service's input, and its CSRF token.
fn rule_input(
    lang: Lang,
    pairs: Vec<(String, String)>,
) -> Result<(String, StaffRuleInput), AppError> {
    let mut csrf = String::new();
    let mut input = StaffRuleInput::default();
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" => csrf = v,
            "enabled" => input.enabled = v == "1",
            "after_hour" => input.after_hour = v,
            "district" => input.districts.push(v),
            _ => {
                return Err(AppError::BadInput(format!(
                    "{k}: {}",
                    S::BadField.text(lang)
                )));
            }
        }
    }
    Ok((csrf, input))
}

fn back() -> Response {
    Redirect::to("/staff/alerts").into_response()
}

fn writer(user: &CurrentUser, csrf: &str) -> Result<(), AppError> {
    user.require_role(STAFF)?;
    user.check_csrf(csrf)
}

#[utoipa::path(
    post, path = "/staff/alerts/rule", tag = "alerts",
    request_body(content = inline(RuleForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the staff alerts page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn save_rule(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(pairs): AppForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    user.require_role(STAFF)?;
    let (csrf, input) = rule_input(user.lang, pairs)?;
    user.check_csrf(&csrf)?;
    staff::save_rule(&state.db, user.lang, &input, user.user.id).await?;
    Ok(back())
}

#[utoipa::path(
    post, path = "/staff/alerts/channels", tag = "alerts",
    request_body(content = inline(ChannelForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the staff alerts page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn add_channel(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(f): AppForm<ChannelForm>,
) -> Result<Response, AppError> {
    writer(&user, &f.csrf)?;
    let lang = user.lang;
    let input = ChannelInput {
        kind: f.kind,
        target: f.target,
        secret: Some(f.secret),
        quiet: Some(quiet_of(&f.quiet_from, &f.quiet_to)),
        escalate_after_min: escalation_of(lang, &f.escalate_after_min)?,
    };
    staff::add_channel_with(&state.db, lang, &input, user.user.id).await?;
    Ok(back())
}

#[utoipa::path(
    post, path = "/staff/alerts/channels/{ch}/timing", tag = "alerts",
    request_body(content = inline(TimingForm), content_type = "application/x-www-form-urlencoded"),
    params(("ch" = i64, Path, description = "The staff channel")),
    responses((status = 303, description = "See other: the staff alerts page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn channel_timing(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(ch): Path<i64>,
    AppForm(f): AppForm<TimingForm>,
) -> Result<Response, AppError> {
    writer(&user, &f.csrf)?;
    let lang = user.lang;
    let quiet = quiet_of(&f.quiet_from, &f.quiet_to);
    let escalate = escalation_of(lang, &f.escalate_after_min)?;
    staff::set_channel_timing(&state.db, lang, ch, &quiet, escalate).await?;
    Ok(back())
}

#[utoipa::path(
    post, path = "/staff/alerts/channels/{ch}/enabled", tag = "alerts",
    request_body(content = inline(EnabledForm), content_type = "application/x-www-form-urlencoded"),
    params(("ch" = i64, Path, description = "The staff channel")),
    responses((status = 303, description = "See other: the staff alerts page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn channel_enabled(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(ch): Path<i64>,
    AppForm(f): AppForm<EnabledForm>,
) -> Result<Response, AppError> {
    writer(&user, &f.csrf)?;
    staff::set_channel_enabled(&state.db, ch, f.enabled == "1").await?;
    Ok(back())
}

#[utoipa::path(
    post, path = "/staff/alerts/{alert}/ack", tag = "alerts",
    request_body(content = inline(EnabledForm), content_type = "application/x-www-form-urlencoded"),
    params(("alert" = i64, Path, description = "The staff alert")),
    responses((status = 303, description = "See other: the staff alerts page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn ack(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(alert): Path<i64>,
    AppForm(f): AppForm<EnabledForm>,
) -> Result<Response, AppError> {
    writer(&user, &f.csrf)?;
    staff::acknowledge(&state.db, alert, user.user.id).await?;
    Ok(back())
}

/// The page a link that is no staff alert's (tampered, expired, a farm's) gets.
fn bad_link(lang: Lang) -> Response {
    let page = pages::error_page(lang, StatusCode::FORBIDDEN, Msg::AlertAckBadLink, None);
    (StatusCode::FORBIDDEN, page).into_response()
}

/// What a linked staff alert is, for its confirm and done pages.
fn linked_summary(lang: Lang, a: &StaffAlertRow, district: &str) -> Markup {
    html! {
        p { strong { (S::Missing.text(lang)) } " " (district) " " (a.day) }
        @if !a.detail.is_empty() { p { (S::SilentFarms.text(lang)) ": " (a.detail) } }
        p { (Msg::AlertOpenedAt.text(lang)) " " (jst(a.opened_at)) }
    }
}

/// The district's name in `lang`.
async fn district_name(state: &AppState, lang: Lang, id: i64) -> Result<String, AppError> {
    Ok(state
        .db
        .districts()
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .map(|d| match lang {
            Lang::Ja => d.name_ja,
            Lang::En => d.name_en,
        })
        .unwrap_or_default())
}

/// The confirm page of a staff alert's signed link: shows the alert and a button; changes
/// nothing (a mail scanner following the link acknowledges nothing).
async fn ack_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let Some(a) = staff::linked_alert(&state.db, &token, Utc::now()).await? else {
        return Ok(bad_link(lang));
    };
    let district = district_name(&state, lang, a.district_id).await?;
    let title = S::AckTitle.text(lang);
    let body = html! {
        h1 { (title) }
        (linked_summary(lang, &a, &district))
        @if let Some(t) = a.acknowledged_at {
            p role="status" { (Msg::AlertAckDone.text(lang)) " (" (jst(t)) ")" }
        } @else {
            p { (Msg::AlertAckConfirm.text(lang)) }
            form method="post" action=(format!("/staff/alerts/ack/{token}")) {
                button type="submit" { (Msg::AlertAck.text(lang)) }
            }
        }
    };
    Ok(pages::layout(lang, title, None, body).into_response())
}

/// The confirm page's button: acknowledges the staff alert the token names, and only that.
#[utoipa::path(
    post, path = "/staff/alerts/ack/{token}", tag = "alerts",
    params(("token" = String, Path, description = "The staff alert's acknowledgement link token")),
    responses((status = 200, description = "The staff alert acknowledged"), crate::http::error::FormAnswers),
    security(())
)]
async fn ack_by_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    if staff::acknowledge_by_link(&state.db, &token, Utc::now())
        .await?
        .is_none()
    {
        return Ok(bad_link(lang));
    }
    let title = S::AckTitle.text(lang);
    let body = html! {
        h1 { (title) }
        p role="status" { (Msg::AlertAckDone.text(lang)) }
    };
    Ok(pages::layout(lang, title, None, body).into_response())
}

fn subscription(endpoint: String, p256dh: String, auth: String) -> SubscriptionInput {
    SubscriptionInput {
        endpoint,
        p256dh,
        auth,
    }
}

#[utoipa::path(
    post, path = "/staff/alerts/push", tag = "alerts",
    request_body(content = inline(SubscribeForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 204, description = "The subscription stored"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn push_subscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(f): AppForm<SubscribeForm>,
) -> Result<Response, AppError> {
    writer(&user, &f.csrf)?;
    let input = subscription(f.endpoint, f.p256dh, f.auth);
    staff::subscribe(&state.db, user.lang, user.user.id, &input).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/staff/alerts/push/unsubscribe", tag = "alerts",
    request_body(content = inline(UnsubscribeForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 204, description = "The subscription removed"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn push_unsubscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(f): AppForm<UnsubscribeForm>,
) -> Result<Response, AppError> {
    writer(&user, &f.csrf)?;
    staff::unsubscribe(&state.db, PushWhich::Endpoint(f.endpoint.trim())).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Replaces the staff member's ended subscription by the browser's new one (the service
/// worker).
#[utoipa::path(
    post, path = "/staff/alerts/push/replace", tag = "alerts",
    request_body(content = inline(ReplaceForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 204, description = "Replaced"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn push_replace(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(f): AppForm<ReplaceForm>,
) -> Result<Response, AppError> {
    writer(&user, &f.csrf)?;
    let input = subscription(f.endpoint, f.p256dh, f.auth);
    staff::replace_subscription(&state.db, user.lang, user.user.id, &f.old_endpoint, &input)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/staff/alerts/push/{sub}/remove", tag = "alerts",
    request_body(content = inline(RemoveForm), content_type = "application/x-www-form-urlencoded"),
    params(("sub" = i64, Path, description = "The subscription")),
    responses((status = 303, description = "See other: the staff alerts page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn push_remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(sub): Path<i64>,
    AppForm(f): AppForm<RemoveForm>,
) -> Result<Response, AppError> {
    writer(&user, &f.csrf)?;
    staff::unsubscribe(&state.db, PushWhich::Id(sub)).await?;
    Ok(Redirect::to("/staff/alerts#push").into_response())
}

#[cfg(test)]
#[path = "staff_alerts_tests.rs"]
mod tests;
