//! `/parlors/{id}`: one parlor live (its figures, the ring of bails, the charts, the week's
//! sessions and offline periods) and `/parlors/{id}/events`, the stream that keeps it fresh.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use maud::{Markup, html};

use super::{LIVE_EVERY, summary, visible_parlor};
use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::pages;
use crate::http::ring;
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::{Lang, Msg};
use crate::services::parlors::{cows_by_day, cows_by_hour, per_hour};
use crate::storage::jst_day_start;

fn stat(lang: Lang, label: Msg, field: &str, value: &str) -> Markup {
    html! {
        div.stat {
            dt { (label.text(lang)) }
            dd data-field=(field) { (value) }
        }
    }
}

pub(super) async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let lang = user.lang;
    let parlor = visible_parlor(&state, &user, id).await?;
    let s = summary(&state, &parlor, lang).await?;
    let bails = state.db.latest_bails(id).await?;
    let now = Utc::now();
    let since = jst_day_start(now) - chrono::Duration::days(6);
    let sessions = state.db.parlor_sessions(id, since, now).await?;
    let gaps = state.db.parlor_gaps(id, since, now).await?;
    let fmt_t = |t: DateTime<Utc>| t.with_timezone(&JST).format("%m/%d %H:%M").to_string();
    // The charts' figures again as tables, for readers who cannot see the pictures.
    let hours = cows_by_hour(&state.db, id, now).await?;
    let (first_day, days) = cows_by_day(&state.db, id, now).await?;
    let hour_rows: Vec<(String, Option<f64>)> = hours
        .iter()
        .enumerate()
        .map(|(h, v)| (format!("{h}"), *v))
        .collect();
    let day_rows: Vec<(String, Option<f64>)> = days
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let day = (first_day + chrono::Duration::days(i as i64)).with_timezone(&JST);
            (day.format("%m/%d").to_string(), *v)
        })
        .collect();
    let d = &s.display;
    let body = html! {
        h1 { (parlor.name) }
        p.status role="status" aria-live="polite" {
            (Msg::PlatformState.text(lang)) ": " strong data-field="state" { (d["state"]) }
            " · " (Msg::Connection.text(lang)) ": " strong data-field="online" { (d["online"]) }
            " · " (Msg::LastUpdate.text(lang)) " " span data-field="last_update" { (d["last_update"]) }
        }
        dl.stats {
            (stat(lang, Msg::CowsPerHour, "cows_per_hour", &d["cows_per_hour"]))
            (stat(lang, Msg::KgPerHour, "kg_per_hour", &d["kg_per_hour"]))
            (stat(lang, Msg::RotationTime, "rotation", &d["rotation"]))
            (stat(lang, Msg::Occupancy, "occupancy", &d["occupancy"]))
            (stat(lang, Msg::CowsToday, "cows_today", &d["cows_today"]))
            (stat(lang, Msg::MilkToday, "kg_today", &d["kg_today"]))
            (stat(lang, Msg::AlertsToday, "alerts_today", &d["alerts_today"]))
        }
        p.muted { (Msg::RateNote.text(lang)) }
        section aria-labelledby="bail-ring-h" {
            h2 id="bail-ring-h" { (Msg::BailRing.text(lang)) }
            div id="bail-ring" data-parlor-events=(format!("/parlors/{id}/events")) { (ring::ring_section(lang, bails.as_ref())) }
        }
        figure {
            img src=(format!("/parlors/{id}/today.svg")) width="360" height="260" class="chart"
                alt=(Msg::TodayChart.text(lang));
            (chart_table(lang, Msg::HourOfDay, &hour_rows))
        }
        figure {
            img src=(format!("/parlors/{id}/days.svg")) width="360" height="260" class="chart"
                alt=(Msg::DaysChart.text(lang));
            (chart_table(lang, Msg::Date, &day_rows))
        }
        h2 { (Msg::MilkingSessions.text(lang)) }
        @if sessions.is_empty() { p { (Msg::NoDataYet.text(lang)) } } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::Start.text(lang)) }
                    th scope="col" { (Msg::End.text(lang)) }
                    th.num scope="col" { (Msg::Cows.text(lang)) }
                    th.num scope="col" { (Msg::MilkKg.text(lang)) }
                    th.num scope="col" { (Msg::CowsPerHour.text(lang)) }
                } }
                tbody { @for (start, end, cows, kg) in &sessions {
                    tr {
                        td { (fmt_t(*start)) } td { (fmt_t(*end)) }
                        td.num { (format!("{cows:.0}")) } td.num { (format!("{kg:.0}")) }
                        td.num { (format!("{:.0}", per_hour(*cows, *start, *end))) }
                    }
                } }
            }
        }
        h2 { (Msg::OfflinePeriods.text(lang)) }
        @if gaps.is_empty() { p { "—" } } @else {
            ul { @for (start, end, restarted) in &gaps {
                li { (fmt_t(*start)) " – " (fmt_t(*end))
                     @if *restarted { " (" (Msg::ControllerRestarted.text(lang)) ")" } }
            } }
        }
        script src="/static/parlor.js" defer {}
    };
    Ok(pages::layout(lang, &parlor.name, Some(&user), body).into_response())
}

/// A chart's figures as a table behind a disclosure: one row per bar, `—` where it has none.
fn chart_table(lang: Lang, what: Msg, rows: &[(String, Option<f64>)]) -> Markup {
    html! {
        details {
            summary { (Msg::ChartAsTable.text(lang)) }
            table {
                thead { tr { th scope="col" { (what.text(lang)) } th.num scope="col" { (Msg::CowsUnit.text(lang)) } } }
                tbody { @for (label, v) in rows { tr {
                    th scope="row" { (label) }
                    td.num { @match v { Some(v) => (format!("{v:.0}")), None => "—" } }
                } } }
            }
        }
    }
}

pub(super) async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let parlor = visible_parlor(&state, &user, id).await?;
    let lang = user.lang;
    // Each tick: the summary, and the ring when a newer bail snapshot arrived.
    let stream = futures::stream::unfold(
        (state, parlor, true, None::<DateTime<Utc>>),
        move |(state, parlor, first, mut ring_t)| async move {
            if !first {
                tokio::time::sleep(LIVE_EVERY).await;
            }
            let mut out = Vec::with_capacity(2);
            out.push(match summary(&state, &parlor, lang).await {
                Ok(s) => Event::default()
                    .event("summary")
                    .json_data(&s)
                    .unwrap_or_else(|_| Event::default().comment("encoding failed")),
                Err(error) => {
                    tracing::warn!(message = "Live parlor summary failed.", %error, parlor = parlor.id);
                    Event::default().comment("temporarily unavailable")
                }
            });
            match state.db.latest_bails(parlor.id).await {
                Ok(Some(b)) if ring_t != Some(b.t) => {
                    ring_t = Some(b.t);
                    let html = ring::ring_section(lang, Some(&b)).into_string();
                    out.push(
                        Event::default()
                            .event("bails")
                            .json_data(serde_json::json!({ "t": b.t, "html": html }))
                            .unwrap_or_else(|_| Event::default().comment("encoding failed")),
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(message = "Live bail ring failed.", %error, parlor = parlor.id);
                }
            }
            Some((out, (state, parlor, false, ring_t)))
        },
    )
    .flat_map(|events| futures::stream::iter(events.into_iter().map(Ok)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
