//! The logbook entry (飛行日誌) of a flight: its page with the events from the `.tlog`, the form
//! that saves a draft, signing and amending.

use super::*;

/// One event of a logbook entry: the time, kind and severity in the reader's language, and
/// what the vehicle said in its own words (English, as the autopilot sends it).
pub(super) type EventParts = (String, String);

/// The anomalies and failsafes stored with a logbook entry, each split as [`EventParts`].
pub(super) fn event_parts(lang: Lang, events_json: &str) -> (Vec<EventParts>, Vec<EventParts>) {
    let d: telemetry::LogbookDraft = serde_json::from_str(events_json).unwrap_or_default();
    let line = |e: &telemetry::LogEvent| {
        let t = DateTime::<Utc>::from_timestamp_micros(e.time_us as i64)
            .map(|t| t.with_timezone(&JST).format("%H:%M:%S").to_string())
            .unwrap_or_default();
        let kind = e.failsafe.map(|k| failsafe_name(lang, k)).unwrap_or("");
        let severity = if e.severity.is_empty() {
            ""
        } else {
            crate::i18n::names::severity_name(lang, &e.severity)
        };
        let head = [t.as_str(), kind, severity]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (head, e.text.clone())
    };
    (
        d.anomalies.iter().map(line).collect(),
        d.failsafes.iter().map(line).collect(),
    )
}

/// The anomalies and failsafes stored with a logbook entry, as lines of text.
pub(super) fn event_lines(lang: Lang, events_json: &str) -> (Vec<String>, Vec<String>) {
    let join = |v: Vec<EventParts>| {
        v.into_iter()
            .map(|(head, said)| format!("{head} {said}").trim().to_owned())
            .collect()
    };
    let (anomalies, failsafes) = event_parts(lang, events_json);
    (join(anomalies), join(failsafes))
}

pub(super) fn failsafe_name(lang: Lang, k: telemetry::FailsafeKind) -> &'static str {
    use telemetry::FailsafeKind as K;
    let (ja, en) = match k {
        K::Battery => ("バッテリーフェールセーフ", "battery failsafe"),
        K::Radio => ("送信機（電波）フェールセーフ", "radio failsafe"),
        K::Gcs => ("地上局フェールセーフ", "GCS failsafe"),
        K::Other => ("フェールセーフ", "failsafe"),
        K::UncommandedMode => ("指示によらないモード変更", "mode change not commanded"),
        K::LinkLoss => ("通信途絶", "link lost"),
    };
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

pub(super) fn latlon(lat: Option<f64>, lon: Option<f64>) -> String {
    match (lat, lon) {
        (Some(a), Some(b)) => format!("{a:.6}, {b:.6}"),
        _ => String::new(),
    }
}

pub(super) fn logbook_rows(l: &LogbookFields) -> Vec<(Msg, String)> {
    vec![
        (Msg::LogDate, l.flown_on.clone()),
        (Msg::LogPilot, l.pilot.clone()),
        (Msg::LogDrone, l.drone_reg_no.clone()),
        (Msg::LogTakeoffAt, jst_time(l.takeoff_at)),
        (Msg::LogTakeoffPlace, l.takeoff_place.clone()),
        (Msg::LogTakeoffPos, latlon(l.takeoff_lat, l.takeoff_lon)),
        (Msg::LogLandingAt, jst_time(l.landing_at)),
        (Msg::LogLandingPlace, l.landing_place.clone()),
        (Msg::LogLandingPos, latlon(l.landing_lat, l.landing_lon)),
        (
            Msg::LogFlightTime,
            l.flight_s.map(fmt_duration).unwrap_or_default(),
        ),
        (Msg::LogPurpose, l.purpose.clone()),
        (Msg::RecNotes, l.notes.clone()),
    ]
}

pub(super) async fn logbook_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let versions = logbook_versions(&state.db, &f).await?;
    let cur = versions.last().ok_or(AppError::NotFound)?;
    let can_write = user.require_role(WRITERS).is_ok();
    let l = &cur.fields;
    let (anomalies, failsafes) = event_parts(lang, &l.events_json);
    let title = format!(
        "{} — {} #{}",
        Msg::LogTitle.text(lang),
        Msg::FlightWord.text(lang),
        id
    );
    let body = html! {
        (print_style())
        h1 { (title) }
        p.no-print {
            a href=(format!("/flights/{id}")) { "← " (Msg::FlightWord.text(lang)) " #" (id) } " · "
            a href=(format!("/flights/{id}/record")) { (Msg::RecTitle.text(lang)) } " · "
            a href=(format!("/farms/{}/records", f.farm_id)) { (Msg::RecFarmList.text(lang)) }
        }
        p { (Msg::RecVersion.text(lang)) " " (cur.version) }
        (signature(lang, cur.signed_at, cur.signed_by.as_deref()))
        (rows_table(lang, logbook_rows(l)))
        h2 { (Msg::LogFailsafes.text(lang)) }
        @if failsafes.is_empty() { p { (Msg::LogNone.text(lang)) } }
        @else { ul { @for (head, said) in &failsafes { li { (head) " " span lang="en" { (said) } } } } }
        h2 { (Msg::LogAnomalies.text(lang)) }
        @if anomalies.is_empty() { p { (Msg::LogNone.text(lang)) } }
        @else { ul { @for (head, said) in &anomalies { li { (head) " " span lang="en" { (said) } } } } }
        p.no-print { button.secondary type="button" data-print { (Msg::Print.text(lang)) } }
        script src="/static/print.js" defer {}
        @if can_write && cur.signed_at.is_none() {
            h2.no-print { (Msg::RecEdit.text(lang)) }
            form.no-print method="post" action=(format!("/flights/{id}/logbook")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                input type="hidden" name="version" value=(cur.version);
                (text_input("pilot", Msg::LogPilot, lang, &l.pilot))
                (text_input("drone_reg_no", Msg::LogDrone, lang, &l.drone_reg_no))
                (text_input("takeoff_place", Msg::LogTakeoffPlace, lang, &l.takeoff_place))
                (text_input("landing_place", Msg::LogLandingPlace, lang, &l.landing_place))
                (text_input("purpose", Msg::LogPurpose, lang, &l.purpose))
                label for="notes" { (Msg::RecNotes.text(lang)) }
                textarea #notes name="notes" rows="3" { (l.notes) }
                p { button type="submit" { (Msg::Save.text(lang)) } }
            }
        }
        (sign_and_history(
            &user,
            &format!("/flights/{id}/logbook"),
            can_write,
            &[],
            (cur.version, cur.signed_at.is_some()),
            versions.iter().rev().skip(1).map(|v| {
                (v.version, v.signed_at, v.signed_by.as_deref(), logbook_rows(&v.fields))
            }),
        ))
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

/// The logbook form (what a person may write; times and places come from the `.tlog`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct LogbookForm {
    #[serde(default)]
    csrf: String,
    version: i64,
    #[serde(default)]
    pilot: String,
    #[serde(default)]
    drone_reg_no: String,
    #[serde(default)]
    takeoff_place: String,
    #[serde(default)]
    landing_place: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    notes: String,
}

#[utoipa::path(
    post, path = "/flights/{id}/logbook", tag = "records",
    request_body(content = inline(LogbookForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The flight")),
    responses((status = 303, description = "See other: the logbook page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn save_logbook(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<LogbookForm>,
) -> Result<Response, AppError> {
    writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    let lang = user.lang;
    for (label, value, max, lines) in [
        (Msg::LogPilot, &form.pilot, MAX_NAME, Lines::One),
        (Msg::LogDrone, &form.drone_reg_no, MAX_NAME, Lines::One),
        (
            Msg::LogTakeoffPlace,
            &form.takeoff_place,
            MAX_NAME,
            Lines::One,
        ),
        (
            Msg::LogLandingPlace,
            &form.landing_place,
            MAX_NAME,
            Lines::One,
        ),
        (Msg::LogPurpose, &form.purpose, MAX_LINE, Lines::One),
        (Msg::RecNotes, &form.notes, MAX_NOTES, Lines::Many),
    ] {
        check_text(lang, label.text(lang), value.trim(), max, lines)?;
    }
    let l = LogbookFields {
        pilot: form.pilot.trim().to_owned(),
        drone_reg_no: form.drone_reg_no.trim().to_owned(),
        takeoff_place: form.takeoff_place.trim().to_owned(),
        landing_place: form.landing_place.trim().to_owned(),
        purpose: form.purpose.trim().to_owned(),
        notes: form.notes.trim().to_owned(),
        ..LogbookFields::default()
    };
    state
        .db
        .update_logbook(id, form.version, &l)
        .await
        .map_err(frozen(user.lang))?;
    Ok(Redirect::to(&format!("/flights/{id}/logbook")).into_response())
}

#[utoipa::path(
    post, path = "/flights/{id}/logbook/sign", tag = "records",
    request_body(content = inline(VersionForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The flight")),
    responses((status = 303, description = "See other: the logbook page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn sign_logbook(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<VersionForm>,
) -> Result<Response, AppError> {
    writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    state
        .db
        .sign_logbook(id, form.version, &user.user.display_name)
        .await
        .map_err(frozen(user.lang))?;
    Ok(Redirect::to(&format!("/flights/{id}/logbook")).into_response())
}

#[utoipa::path(
    post, path = "/flights/{id}/logbook/amend", tag = "records",
    request_body(content = inline(VersionForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The flight")),
    responses((status = 303, description = "See other: the logbook page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn amend_logbook(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<VersionForm>,
) -> Result<Response, AppError> {
    writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    state
        .db
        .amend_logbook(id)
        .await
        .map_err(frozen(user.lang))?;
    Ok(Redirect::to(&format!("/flights/{id}/logbook")).into_response())
}
