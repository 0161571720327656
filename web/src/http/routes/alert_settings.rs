//! `/farms/{id}/alerts/settings`: a farm's alert rules and channels, added and switched on or
//! off by forms (CSRF like every form; bad input named in the user's language), and the
//! browsers subscribed to Web Push (`alert_push`).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::error::AppForm;
use crate::http::pages;
use crate::http::routes::alert_push;
use crate::http::state::AppState;
use crate::i18n::push::PushMsg;
use crate::i18n::{Lang, Msg};
use crate::services::alerts::service::kind_msg;
use crate::services::alerts::settings::{self, ChannelInput, RuleInput, fmt_hhmm};
use crate::services::alerts::webpush;
use crate::storage::{Role, RuleKind, WEBPUSH};

/// Roles that see the settings (farmers and dairy operators only their own farm's).
const READERS: &[Role] = &[Role::Admin, Role::Staff, Role::Farmer, Role::Dairy];
/// Roles that change them.
const WRITERS: &[Role] = &[Role::Admin, Role::Farmer, Role::Dairy];

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/farms/{id}/alerts/settings", get(page))
        .route("/farms/{id}/alerts/rules", post(add_rule))
        .route("/farms/{id}/alerts/channels", post(add_channel))
        .route(
            "/farms/{id}/alerts/rules/{rule}/enabled",
            post(rule_enabled),
        )
        .route(
            "/farms/{id}/alerts/channels/{ch}/enabled",
            post(channel_enabled),
        )
}

fn kind_name(lang: Lang, kind: &str) -> String {
    // The TOML key (`agriops alerts export`) is not shown: people read the name.
    RuleKind::parse(kind).map_or_else(|| kind.to_owned(), |k| kind_msg(k).text(lang).to_owned())
}

fn toggle(lang: Lang, action: String, enabled: bool, csrf: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="enabled" value=(if enabled { "0" } else { "1" });
            button.secondary type="submit" {
                (if enabled { Msg::AlertDisable.text(lang) } else { Msg::AlertEnable.text(lang) })
            }
        }
    }
}

/// A channel's kind as people say it.
fn channel_kind(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "email" => Msg::AlertChannelEmail.text(lang),
        WEBPUSH => PushMsg::ChannelKind.text(lang),
        _ => Msg::AlertChannelWebhook.text(lang),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Markup, AppError> {
    user.require_role(READERS)?;
    user.require_farm(id)?;
    let farm = state.db.farm(id).await?;
    let lang = user.lang;
    let rules = state.db.alert_rule_rows(id).await?;
    let channels = state.db.alert_channel_rows(id).await?;
    let parlors = state.db.parlors_of_farm(id).await?;
    let subs = state.db.push_subscriptions(id).await?;
    let devices: Vec<alert_push::PushDevice<'_>> = subs.iter().map(Into::into).collect();
    let push_key = webpush::server_key(&state.db).await?.public_b64();
    let writes = WRITERS.contains(&user.user.role);
    let csrf = &user.csrf_token;
    let title = format!("{} — {}", Msg::AlertRules.text(lang), farm.name);
    let body = html! {
        h1 { (title) }
        p { a href=(format!("/farms/{id}/alerts")) { (Msg::AlertsTitle.text(lang)) } }
        h2 { (Msg::AlertRules.text(lang)) }
        div.table-wrap { table {
            thead { tr {
                th scope="col" { (Msg::AlertKindLabel.text(lang)) }
                th scope="col" { (Msg::AlertParlorLabel.text(lang)) }
                th scope="col" { (Msg::AlertMinutesLabel.text(lang)) }
                th scope="col" { (Msg::AlertThresholdLowLabel.text(lang)) }
                th scope="col" { (Msg::AlertThresholdLabel.text(lang)) }
                th scope="col" { (Msg::AlertCriticalLabel.text(lang)) }
                th scope="col" { (Msg::AlertEnabled.text(lang)) }
            } }
            tbody { @for r in &rules { tr {
                td { (kind_name(lang, &r.kind)) }
                td { (r.parlor_id.and_then(|p| parlors.iter().find(|x| x.id == p)).map(|p| p.name.as_str()).unwrap_or("")) }
                td { (r.minutes) }
                td { (opt(r.threshold_low)) }
                td { (opt(r.threshold)) }
                td { @if r.severity == "critical" { "✓" } }
                td {
                    (if r.enabled { Msg::AlertEnabled.text(lang) } else { Msg::AlertDisabled.text(lang) })
                    @if writes { (toggle(lang, format!("/farms/{id}/alerts/rules/{}/enabled", r.id), r.enabled, csrf)) }
                }
            } } }
        } }
        @if writes {
            form method="post" action=(format!("/farms/{id}/alerts/rules")) {
                input type="hidden" name="csrf" value=(csrf);
                label for="r-kind" { (Msg::AlertKindLabel.text(lang)) }
                select id="r-kind" name="kind" {
                    @for k in RuleKind::ALL { option value=(k.as_str()) { (kind_name(lang, k.as_str())) } }
                }
                label for="r-parlor" { (Msg::AlertParlorLabel.text(lang)) }
                select id="r-parlor" name="parlor" {
                    option value="" { "—" }
                    @for p in &parlors { option value=(p.name) { (p.name) } }
                }
                label for="r-minutes" { (Msg::AlertMinutesLabel.text(lang)) }
                input id="r-minutes" name="minutes" type="number" min="1" max="43200" required value="5";
                label for="r-low" { (Msg::AlertThresholdLowLabel.text(lang)) }
                input id="r-low" name="threshold_low" type="text" inputmode="decimal";
                label for="r-high" { (Msg::AlertThresholdLabel.text(lang)) }
                input id="r-high" name="threshold" type="text" inputmode="decimal";
                label { input name="critical" type="checkbox" value="1"; " " (Msg::AlertCriticalLabel.text(lang)) }
                p { button type="submit" { (Msg::AlertAdd.text(lang)) } }
            }
        }
        h2 { (Msg::AlertChannels.text(lang)) }
        div.table-wrap { table {
            thead { tr {
                th scope="col" { (Msg::AlertChannelKindLabel.text(lang)) }
                th scope="col" { (Msg::AlertTargetLabel.text(lang)) }
                th scope="col" { (Msg::AlertQuietFromLabel.text(lang)) }
                th scope="col" { (Msg::AlertEscalateLabel.text(lang)) }
                th scope="col" { (Msg::AlertEnabled.text(lang)) }
            } }
            tbody { @for c in &channels { tr {
                td { (channel_kind(lang, &c.kind)) }
                td { (c.target) }
                td { @if let (Some(a), Some(b)) = (c.quiet_from, c.quiet_to) { (fmt_hhmm(a)) "–" (fmt_hhmm(b)) } }
                td { @if let Some(m) = c.escalate_after_min { (m) } }
                td {
                    (if c.enabled { Msg::AlertEnabled.text(lang) } else { Msg::AlertDisabled.text(lang) })
                    // A browser's channel goes back on by subscribing it again.
                    @if writes && (c.enabled || c.kind != WEBPUSH) { (toggle(lang, format!("/farms/{id}/alerts/channels/{}/enabled", c.id), c.enabled, csrf)) }
                }
            } } }
        } }
        @if writes {
            form method="post" action=(format!("/farms/{id}/alerts/channels")) {
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
        }
        (alert_push::section(lang, &format!("/farms/{id}/alerts/push"), &push_key, &devices, writes, csrf))
    };
    Ok(pages::layout(lang, &title, Some(&user), body))
}

/// The add-rule form as sent: every field text, parsed here so a malformed one is named.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct RuleForm {
    csrf: String,
    kind: String,
    #[serde(default)]
    parlor: String,
    minutes: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    threshold_low: String,
    #[serde(default)]
    critical: Option<String>,
}

/// The add-channel form as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ChannelForm {
    csrf: String,
    kind: String,
    target: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    quiet_from: String,
    #[serde(default)]
    quiet_to: String,
    #[serde(default)]
    escalate_after_min: String,
}

/// The on/off form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct EnabledForm {
    csrf: String,
    enabled: String,
}

/// An optional number field: empty is `None`, anything else must parse.
fn number<T: std::str::FromStr>(lang: Lang, label: Msg, v: &str) -> Result<Option<T>, AppError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| {
        AppError::BadInput(format!(
            "{}: {}",
            label.text(lang),
            Msg::AlertBadNumber.text(lang)
        ))
    })
}

fn writer(user: &CurrentUser, farm: i64, csrf: &str) -> Result<(), AppError> {
    user.require_role(WRITERS)?;
    user.require_farm(farm)?;
    user.check_csrf(csrf)
}

fn back(id: i64) -> Response {
    Redirect::to(&format!("/farms/{id}/alerts/settings")).into_response()
}

#[utoipa::path(
    post, path = "/farms/{id}/alerts/rules", tag = "alerts",
    request_body(content = inline(RuleForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm")),
    responses((status = 303, description = "See other: the alert settings page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn add_rule(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(f): AppForm<RuleForm>,
) -> Result<Response, AppError> {
    writer(&user, id, &f.csrf)?;
    state.db.farm(id).await?;
    let lang = user.lang;
    let minutes = number(lang, Msg::AlertMinutesLabel, &f.minutes)?.ok_or_else(|| {
        AppError::BadInput(format!(
            "{}: {}",
            Msg::AlertMinutesLabel.text(lang),
            Msg::AlertBadNumber.text(lang)
        ))
    })?;
    let input = RuleInput {
        kind: f.kind,
        parlor: Some(f.parlor),
        minutes,
        threshold: number(lang, Msg::AlertThresholdLabel, &f.threshold)?,
        threshold_low: number(lang, Msg::AlertThresholdLowLabel, &f.threshold_low)?,
        critical: f.critical.is_some(),
    };
    settings::add_rule(&state.db, lang, id, &input).await?;
    Ok(back(id))
}

#[utoipa::path(
    post, path = "/farms/{id}/alerts/channels", tag = "alerts",
    request_body(content = inline(ChannelForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm")),
    responses((status = 303, description = "See other: the alert settings page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn add_channel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(f): AppForm<ChannelForm>,
) -> Result<Response, AppError> {
    writer(&user, id, &f.csrf)?;
    state.db.farm(id).await?;
    let lang = user.lang;
    let quiet = match (f.quiet_from.trim(), f.quiet_to.trim()) {
        ("", "") => None,
        (a, b) => Some(format!("{a}-{b}")),
    };
    let input = ChannelInput {
        kind: f.kind,
        target: f.target,
        secret: Some(f.secret),
        quiet,
        escalate_after_min: number(lang, Msg::AlertEscalateLabel, &f.escalate_after_min)?,
    };
    settings::add_channel(&state.db, lang, id, &input).await?;
    Ok(back(id))
}

#[utoipa::path(
    post, path = "/farms/{id}/alerts/rules/{rule}/enabled", tag = "alerts",
    request_body(content = inline(EnabledForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm"), ("rule" = i64, Path, description = "The rule")),
    responses((status = 303, description = "See other: the alert settings page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn rule_enabled(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, rule)): Path<(i64, i64)>,
    AppForm(f): AppForm<EnabledForm>,
) -> Result<Response, AppError> {
    writer(&user, id, &f.csrf)?;
    settings::set_enabled(&state.db, false, id, rule, f.enabled == "1").await?;
    Ok(back(id))
}

#[utoipa::path(
    post, path = "/farms/{id}/alerts/channels/{ch}/enabled", tag = "alerts",
    request_body(content = inline(EnabledForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm"), ("ch" = i64, Path, description = "The channel")),
    responses((status = 303, description = "See other: the alert settings page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn channel_enabled(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, ch)): Path<(i64, i64)>,
    AppForm(f): AppForm<EnabledForm>,
) -> Result<Response, AppError> {
    writer(&user, id, &f.csrf)?;
    settings::set_enabled(&state.db, true, id, ch, f.enabled == "1").await?;
    Ok(back(id))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::storage::{Role, RuleKind};
    use crate::testutil::both_apps;

    both_apps!(rules_and_channels_are_added_and_switched_by_forms, |app| {
        let farm = app.farm("settings-farm", "dairy").await.id;
        let other = app.farm("settings-other", "dairy").await.id;
        let op = app.user("settings-op", Role::Dairy, Some(farm)).await;
        let staff = app.user("settings-staff", Role::Staff, None).await;
        let stranger = app
            .user("settings-stranger", Role::Dairy, Some(other))
            .await;
        let rules = format!("/farms/{farm}/alerts/rules");
        fn form<'a>(csrf: &'a str, minutes: &'a str) -> Vec<(&'a str, &'a str)> {
            vec![
                ("csrf", csrf),
                ("kind", "low_throughput"),
                ("parlor", ""),
                ("minutes", minutes),
                ("threshold", "250"),
                ("threshold_low", ""),
            ]
        }
        let csrf = op.csrf.as_str();
        // Malformed and out-of-range input: a 422 naming the field, nothing stored.
        let r = app.post_form(&rules, &op.cookies, &form(csrf, "abc")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("分: 数値が範囲外です"), "{}", r.body);
        let r = app
            .post_form(&rules, &op.cookies, &form(csrf, "99999999"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut no_floor = form(csrf, "10");
        no_floor[4] = ("threshold", "");
        let r = app.post_form(&rules, &op.cookies, &no_floor).await;
        assert!(
            r.body.contains("この種類にはしきい値が必要です"),
            "{}",
            r.body
        );
        assert!(app.state.db.enabled_alert_rules().await.unwrap().is_empty());
        // Wrong CSRF, read-only staff, another farm: refused.
        assert_eq!(
            app.post_form(&rules, &op.cookies, &form("x", "10"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let s = staff.csrf.as_str();
        assert_eq!(
            app.post_form(&rules, &staff.cookies, &form(s, "10"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let st = stranger.csrf.as_str();
        assert_eq!(
            app.post_form(&rules, &stranger.cookies, &form(st, "10"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        // A good one.
        let r = app.post_form(&rules, &op.cookies, &form(csrf, "10")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let stored = app.state.db.enabled_alert_rules().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            (stored[0].kind, stored[0].threshold),
            (RuleKind::LowThroughput, Some(250.0))
        );
        let rule = stored[0].id;
        // A channel: a bad address, a NUL byte, then a good one.
        let chans = format!("/farms/{farm}/alerts/channels");
        let ch = |target: &'static str| -> Vec<(&str, &str)> {
            vec![
                ("csrf", csrf),
                ("kind", "email"),
                ("target", target),
                ("quiet_from", "22:00"),
                ("quiet_to", "06:00"),
                ("escalate_after_min", ""),
            ]
        };
        let r = app.post_form(&chans, &op.cookies, &ch("nobody")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("メールアドレスか"), "{}", r.body);
        let r = app
            .post_form(&chans, &op.cookies, &ch("op\0@nasu.example.jp"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .post_form(&chans, &op.cookies, &ch("op@nasu.example.jp"))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let c = &app.state.db.alert_channels(farm).await.unwrap()[0];
        assert_eq!((c.quiet_from, c.quiet_to), (Some(22 * 60), Some(6 * 60)));
        // The page shows both; the rule is switched off, not by another farm.
        let page = app
            .get(&format!("/farms/{farm}/alerts/settings"), &op.cookies)
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("処理頭数低下") && page.body.contains("22:00–06:00"),
            "{}",
            page.body
        );
        let off = [("csrf", st), ("enabled", "0")];
        let r = app
            .post_form(
                &format!("/farms/{other}/alerts/rules/{rule}/enabled"),
                &stranger.cookies,
                &off,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(app.state.db.enabled_alert_rules().await.unwrap().len(), 1);
        let r = app
            .post_form(
                &format!("/farms/{farm}/alerts/rules/{rule}/enabled"),
                &op.cookies,
                &[("csrf", csrf), ("enabled", "0")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(app.state.db.enabled_alert_rules().await.unwrap().is_empty());
    });
}
