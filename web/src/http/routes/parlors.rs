//! Dairy pages: every parlor at a glance, one parlor live (server-sent events), charts of today
//! and past days, milking sessions and offline periods; and their JSON API.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use maud::{Markup, html};
use serde::Serialize;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::charts::{Bars, bar_chart_svg};
#[allow(unused_imports)]
use crate::http::error::ApiError;
use crate::http::pages;
use crate::http::ring;
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::{Lang, Msg, platform_state};
use crate::storage::{Parlor, Role, jst_day_start};

/// A parlor whose last report is older than this is shown offline.
const STALE_AFTER: Duration = Duration::from_secs(180);
/// How often the live page gets a fresh summary.
const LIVE_EVERY: Duration = Duration::from_secs(2);

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/parlors", get(list))
        .route("/parlors/{id}", get(detail))
        .route("/parlors/{id}/events", get(events))
        .route("/parlors/{id}/today.svg", get(today_svg))
        .route("/parlors/{id}/days.svg", get(days_svg))
        .route("/api/v1/parlors", get(api_list))
        .route("/api/v1/parlors/{id}/summary", get(api_summary))
}

/// The parlor `id` if `user` may see it (dairy operators: their farm's; staff and admin: all).
async fn visible_parlor(state: &AppState, user: &CurrentUser, id: i64) -> Result<Parlor, AppError> {
    user.require_role(&[Role::Admin, Role::Staff, Role::Dairy])?;
    let parlor = state.db.parlor(id).await?;
    user.require_farm(parlor.farm_id)?;
    Ok(parlor)
}

/// Every parlor `user` may see.
async fn visible_parlors(state: &AppState, user: &CurrentUser) -> Result<Vec<Parlor>, AppError> {
    user.require_role(&[Role::Admin, Role::Staff, Role::Dairy])?;
    Ok(match (user.user.role.sees_all_farms(), user.user.farm_id) {
        (true, _) => state.db.all_parlors().await?,
        (false, Some(farm)) => state.db.parlors_of_farm(farm).await?,
        (false, None) => Vec::new(),
    })
}

/// What the live page shows of a parlor, numbers already formatted for the person.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Summary {
    /// Parlor id.
    pub id: i64,
    /// Parlor name.
    pub name: String,
    /// Canonical platform state (`running` …), or `unknown` before the first report.
    pub state: String,
    /// The bridge reported within the last three minutes.
    pub online: bool,
    /// Cows per hour (rolling window).
    pub cows_per_hour: Option<f64>,
    /// Kilograms per hour over the last interval.
    pub kg_per_hour: Option<f64>,
    /// Rotation time, s/rev.
    pub rotation_s: Option<f64>,
    /// Bail occupancy, 0..1.
    pub occupancy: Option<f64>,
    /// Cows milked today (Asia/Tokyo day).
    pub cows_today: f64,
    /// Milk today, kg.
    pub kg_today: f64,
    /// High-conductivity alerts today.
    pub alerts_today: i64,
    /// End of the last reported interval.
    pub last_update: Option<DateTime<Utc>>,
    /// The same values as display text in the requester's language, keyed like `data-field`.
    pub display: std::collections::BTreeMap<&'static str, String>,
}

async fn summary(state: &AppState, parlor: &Parlor, lang: Lang) -> Result<Summary, AppError> {
    let now = Utc::now();
    let last = state.db.latest_interval(parlor.id).await?;
    let day = jst_day_start(now);
    let today = state
        .db
        .parlor_rollups(parlor.id, "day", day, day + chrono::Duration::days(1))
        .await?;
    // `+ 0.0`: an empty float sum is -0.0, which would print as "-0".
    let cows_today: f64 = today.iter().map(|r| r.cows).sum::<f64>() + 0.0;
    let kg_today: f64 = today.iter().map(|r| r.milk_kg).sum::<f64>() + 0.0;
    let alerts_today: i64 = today.iter().map(|r| r.alerts).sum();
    let online = last.as_ref().is_some_and(|l| {
        (now - l.end_t)
            .to_std()
            .map(|age| age <= STALE_AFTER)
            .unwrap_or(true)
    });
    let st = last
        .as_ref()
        .map(|l| l.state.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    let mut s = Summary {
        id: parlor.id,
        name: parlor.name.clone(),
        state: st,
        online,
        cows_per_hour: last.as_ref().map(|l| l.cows_per_hour_rolling),
        // Over the same window as cows/h: the rolling cow rate times the day's yield per cow
        // (the last interval's alone can hold no completed milking and read 0 beside 300 cows/h).
        kg_per_hour: last.as_ref().and_then(|l| {
            let per_cow = if cows_today > 0.0 {
                Some(kg_today / cows_today)
            } else {
                (l.cows > 0.0).then(|| l.milk_kg / l.cows)
            };
            per_cow.map(|k| l.cows_per_hour_rolling * k)
        }),
        rotation_s: last.as_ref().and_then(|l| l.rotation_s),
        occupancy: last.as_ref().and_then(|l| l.occupancy),
        cows_today,
        kg_today,
        alerts_today,
        last_update: last.as_ref().map(|l| l.end_t),
        display: Default::default(),
    };
    let dash = || "—".to_owned();
    let d = &mut s.display;
    d.insert("state", platform_state(lang, &s.state).to_owned());
    d.insert(
        "online",
        if online { Msg::Online } else { Msg::Offline }
            .text(lang)
            .to_owned(),
    );
    d.insert(
        "cows_per_hour",
        s.cows_per_hour
            .map(|v| format!("{v:.0}"))
            .unwrap_or_else(dash),
    );
    d.insert(
        "kg_per_hour",
        s.kg_per_hour
            .map(|v| format!("{v:.0}"))
            .unwrap_or_else(dash),
    );
    d.insert(
        "rotation",
        s.rotation_s
            .map(|v| match lang {
                Lang::Ja => format!("{:.1} 分", v / 60.0),
                Lang::En => format!("{:.1} min", v / 60.0),
            })
            .unwrap_or_else(dash),
    );
    d.insert(
        "occupancy",
        s.occupancy
            .map(|v| format!("{:.0} %", v * 100.0))
            .unwrap_or_else(dash),
    );
    d.insert("cows_today", format!("{:.0}", s.cows_today));
    d.insert("kg_today", format!("{:.0} kg", s.kg_today));
    d.insert("alerts_today", s.alerts_today.to_string());
    d.insert(
        "last_update",
        s.last_update
            .map(|t| t.with_timezone(&JST).format("%H:%M:%S").to_string())
            .unwrap_or_else(dash),
    );
    Ok(s)
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let lang = user.lang;
    let parlors = visible_parlors(&state, &user).await?;
    let mut rows = Vec::with_capacity(parlors.len());
    for p in &parlors {
        rows.push(summary(&state, p, lang).await?);
    }
    let title = Msg::Parlors.text(lang);
    let body = html! {
        h1 { (title) }
        @if rows.is_empty() {
            p { (Msg::NoDataYet.text(lang)) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::Parlors.text(lang)) }
                    th scope="col" { (Msg::PlatformState.text(lang)) }
                    th scope="col" { (Msg::Connection.text(lang)) }
                    th.num scope="col" { (Msg::CowsPerHour.text(lang)) }
                    th.num scope="col" { (Msg::CowsToday.text(lang)) }
                    th.num scope="col" { (Msg::MilkToday.text(lang)) }
                } }
                tbody {
                    @for s in &rows {
                        tr {
                            td { a href=(format!("/parlors/{}", s.id)) { (s.name) } }
                            td { (s.display["state"]) }
                            td { (s.display["online"]) }
                            td.num { (s.display["cows_per_hour"]) }
                            td.num { (s.display["cows_today"]) }
                            td.num { (s.display["kg_today"]) }
                        }
                    }
                }
            }
        }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}

fn stat(lang: Lang, label: Msg, field: &str, value: &str) -> Markup {
    html! {
        div.stat {
            dt { (label.text(lang)) }
            dd data-field=(field) { (value) }
        }
    }
}

async fn detail(
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
            img src=(format!("/parlors/{id}/today.svg")) width="720" height="320"
                alt=(Msg::TodayChart.text(lang)) style="max-width:100%;height:auto";
        }
        figure {
            img src=(format!("/parlors/{id}/days.svg")) width="720" height="320"
                alt=(Msg::DaysChart.text(lang)) style="max-width:100%;height:auto";
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

fn per_hour(amount: f64, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    let h = (end - start).num_milliseconds() as f64 / 3_600_000.0;
    if h > 0.0 { amount / h } else { 0.0 }
}

async fn events(
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

fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    )
        .into_response()
}

async fn today_svg(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    visible_parlor(&state, &user, id).await?;
    let lang = user.lang;
    let day = jst_day_start(Utc::now());
    let rows = state
        .db
        .parlor_rollups(id, "hour", day, day + chrono::Duration::days(1))
        .await?;
    let mut values = vec![None; 24];
    for r in &rows {
        let h = ((r.bucket_start - day).num_hours()).clamp(0, 23) as usize;
        values[h] = Some(values[h].unwrap_or(0.0) + r.cows);
    }
    let labels: Vec<String> = (0..24).map(|h| h.to_string()).collect();
    let svg = bar_chart_svg(
        &Bars {
            title: Msg::TodayChart.text(lang),
            x_desc: Msg::HourOfDay.text(lang),
            y_desc: Msg::CowsUnit.text(lang),
            labels: &labels,
            values: &values,
            label_every: 3,
        },
        720,
        320,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(svg_response(svg))
}

async fn days_svg(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    visible_parlor(&state, &user, id).await?;
    let lang = user.lang;
    let today = jst_day_start(Utc::now());
    let first = today - chrono::Duration::days(13);
    let rows = state
        .db
        .parlor_rollups(id, "day", first, today + chrono::Duration::days(1))
        .await?;
    let mut values = vec![None; 14];
    for r in &rows {
        let i = ((r.bucket_start - first).num_days()).clamp(0, 13) as usize;
        values[i] = Some(values[i].unwrap_or(0.0) + r.cows);
    }
    let labels: Vec<String> = (0..14)
        .map(|i| {
            (first + chrono::Duration::days(i))
                .with_timezone(&JST)
                .format("%m/%d")
                .to_string()
        })
        .collect();
    let svg = bar_chart_svg(
        &Bars {
            title: Msg::DaysChart.text(lang),
            x_desc: Msg::Date.text(lang),
            y_desc: Msg::CowsUnit.text(lang),
            labels: &labels,
            values: &values,
            label_every: 2,
        },
        720,
        320,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(svg_response(svg))
}

/// Every parlor the signed-in user may see, with live values.
#[utoipa::path(get, path = "/api/v1/parlors", tag = "dairy",
    responses((status = 200, body = Vec<Summary>), (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<Summary>>, AppError> {
    let mut out = Vec::new();
    for p in visible_parlors(&state, &user).await? {
        out.push(summary(&state, &p, user.lang).await?);
    }
    Ok(axum::Json(out))
}

/// One parlor's live values.
#[utoipa::path(get, path = "/api/v1/parlors/{id}/summary", tag = "dairy",
    params(("id" = i64, Path, description = "Parlor id")),
    responses((status = 200, body = Summary), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_summary(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<axum::Json<Summary>, AppError> {
    let parlor = visible_parlor(&state, &user, id).await?;
    Ok(axum::Json(summary(&state, &parlor, user.lang).await?))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use chrono::Utc;
    use futures::StreamExt;
    use parlor_bridge::wire::{
        BailSnapshot, BailState, IngestBatch, KpiInterval, Record, WIRE_VERSION,
    };
    use tower::ServiceExt;

    use crate::storage::Role;
    use crate::testutil::{TestApp, both_apps};

    /// Two dairy farms, each with one parlor fed one KPI interval ending now.
    async fn two_farms(app: &TestApp) -> (i64, i64, i64, i64) {
        let mut ids = Vec::new();
        for (farm_name, cows) in [("north", 10.0), ("south", 20.0)] {
            let farm = app.farm(farm_name, "dairy").await;
            let tok = app
                .state
                .db
                .create_bridge_token(farm.id, "b", farm_name)
                .await
                .unwrap();
            let end = Utc::now();
            // Never straddle Tokyo midnight: the day roll-up takes the interval's start.
            let start =
                (end - chrono::Duration::minutes(1)).max(crate::storage::jst_day_start(end));
            let rec = Record::Interval(KpiInterval {
                key: format!("{farm_name}/1"),
                parlor: format!("{farm_name}-rotary"),
                farm: farm_name.into(),
                unit: 1,
                start,
                end,
                online_s: 60.0,
                cows,
                kg: cows * 12.0,
                cows_per_hour: cows * 60.0,
                kg_per_hour: cows * 720.0,
                cows_per_hour_rolling: 300.0,
                milkings: cows as u64,
                rotation_s: Some(540.0),
                occupancy: Some(0.9),
                idle_bails: 0.0,
                kickoffs: 0.0,
                reattaches: 0.0,
                stops: 0.0,
                washes: 0,
                high_conductivity_alerts: 1,
                state: "running".into(),
                milk_temp_c: None,
                alarms: Vec::new(),
            });
            let batch = IngestBatch {
                version: WIRE_VERSION,
                bridge_id: "b".into(),
                batch_key: farm_name.into(),
                records: vec![rec],
            };
            app.state
                .db
                .ingest_batch(tok, farm.id, &batch)
                .await
                .unwrap();
            let parlor = app.state.db.parlors_of_farm(farm.id).await.unwrap()[0].id;
            ids.push((farm.id, parlor));
        }
        (ids[0].0, ids[0].1, ids[1].0, ids[1].1)
    }

    both_apps!(dairy_sees_only_own_parlors, |app| {
        let (north, north_p, _south, south_p) = two_farms(app).await;
        let op = app.user("op-north", Role::Dairy, Some(north)).await;
        let own = app.get(&format!("/parlors/{north_p}"), &op.cookies).await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.body);
        assert!(own.body.contains("稼働中"));
        assert!(own.body.contains("接続中"));
        for path in ["", "/today.svg", "/days.svg", "/events"] {
            let r = app
                .get(&format!("/parlors/{south_p}{path}"), &op.cookies)
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "other farm's parlor{path}");
        }
        let r = app
            .get(&format!("/api/v1/parlors/{south_p}/summary"), &op.cookies)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let list = app.get("/parlors", &op.cookies).await;
        assert!(list.body.contains("north-rotary") && !list.body.contains("south-rotary"));
        let api: Vec<serde_json::Value> =
            serde_json::from_str(&app.get("/api/v1/parlors", &op.cookies).await.body).unwrap();
        assert_eq!(api.len(), 1);
        // Unknown ids are 404, not a leak of whether they exist elsewhere.
        assert_eq!(
            app.get("/parlors/999999", &op.cookies).await.status,
            StatusCode::NOT_FOUND
        );
    });

    both_apps!(
        kg_per_hour_is_over_the_same_window_as_cows_per_hour,
        |app| {
            let (north, north_p, _, _) = two_farms(app).await;
            let parlor = app.state.db.parlor(north_p).await.unwrap();
            let s =
                crate::http::routes::parlors::summary(&app.state, &parlor, crate::i18n::Lang::Ja)
                    .await
                    .unwrap();
            assert_eq!(parlor.farm_id, north);
            // 300 cows/h rolling, 12 kg per cow today: 3 600 kg/h, not the last interval's own rate.
            assert_eq!(s.cows_per_hour, Some(300.0));
            let kg_h = s.kg_per_hour.unwrap();
            assert!((kg_h - 3600.0).abs() < 1e-6, "{kg_h}");
            assert_eq!(s.display["kg_per_hour"], "3600");
        }
    );

    both_apps!(a_parlor_without_milkings_today_shows_zero, |app| {
        let farm = app.farm("quiet", "dairy").await;
        let tok = app
            .state
            .db
            .create_bridge_token(farm.id, "b", "quiet")
            .await
            .unwrap();
        // Only an offline span: the parlor exists but milked nobody today.
        let end = Utc::now() - chrono::Duration::days(3);
        let gap = Record::Gap(parlor_bridge::wire::OfflineGap {
            key: "quiet/gap".into(),
            parlor: "quiet-rotary".into(),
            farm: "quiet".into(),
            start: end - chrono::Duration::hours(1),
            end,
            controller_restarted: false,
        });
        let batch = IngestBatch {
            version: WIRE_VERSION,
            bridge_id: "b".into(),
            batch_key: "quiet".into(),
            records: vec![gap],
        };
        app.state
            .db
            .ingest_batch(tok, farm.id, &batch)
            .await
            .unwrap();
        let parlor = app.state.db.parlors_of_farm(farm.id).await.unwrap()[0].id;
        let op = app.user("op-quiet", Role::Dairy, Some(farm.id)).await;
        let page = app.get(&format!("/parlors/{parlor}"), &op.cookies).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.body.contains(">-0<"), "{}", page.body);
        assert!(!page.body.contains("-0 kg"), "{}", page.body);
    });

    both_apps!(staff_sees_all_and_farmers_none, |app| {
        let (north, _north_p, _south, south_p) = two_farms(app).await;
        let staff = app.user("staff", Role::Staff, None).await;
        let list = app.get("/parlors", &staff.cookies).await;
        assert!(list.body.contains("north-rotary") && list.body.contains("south-rotary"));
        let s: serde_json::Value = serde_json::from_str(
            &app.get(
                &format!("/api/v1/parlors/{south_p}/summary"),
                &staff.cookies,
            )
            .await
            .body,
        )
        .unwrap();
        assert_eq!(s["state"], "running");
        assert_eq!(s["online"], true);
        assert_eq!(s["cows_today"], 20.0);
        assert_eq!(s["kg_today"], 240.0);
        assert_eq!(s["alerts_today"], 1);
        // The staff overview sums both farms' parlors in their district (10 + 20 cows, 360 kg).
        let home = app.get("/", &staff.cookies).await.body;
        assert!(home.contains("地区別の概況"), "{home}");
        assert!(
            home.contains("data-label=\"本日の搾乳頭数\" class=\"num\">30</td>")
                && home.contains("data-label=\"本日の乳量\" class=\"num\">360</td>"),
            "{home}"
        );
        let farmer = app.user("grower", Role::Farmer, Some(north)).await;
        assert_eq!(
            app.get("/parlors", &farmer.cookies).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.get("/parlors", "").await.status,
            StatusCode::UNAUTHORIZED
        );
    });

    both_apps!(charts_and_live_events, |app| {
        let (_n, north_p, _s, _sp) = two_farms(app).await;
        let staff = app.user("staff2", Role::Staff, None).await;
        let svg = app
            .get(&format!("/parlors/{north_p}/today.svg"), &staff.cookies)
            .await;
        assert_eq!(svg.status, StatusCode::OK);
        assert_eq!(
            svg.headers[header::CONTENT_TYPE],
            "image/svg+xml; charset=utf-8"
        );
        assert!(svg.body.contains("本日の時間別搾乳頭数"));
        let days = app
            .get(&format!("/parlors/{north_p}/days.svg"), &staff.cookies)
            .await;
        assert!(days.body.contains("<svg"));
        // The live stream's first event is the current summary.
        let resp = app_router(app)
            .oneshot(
                Request::get(format!("/parlors/{north_p}/events"))
                    .header(header::COOKIE, format!("{}; lang=en", staff.cookies))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
        let mut stream = resp.into_body().into_data_stream();
        let first = stream.next().await.expect("an event").expect("bytes");
        let text = String::from_utf8_lossy(&first);
        assert!(text.contains("event: summary"), "{text}");
        assert!(
            text.contains("\"state\":\"Running\""),
            "English display text: {text}"
        );
    });

    both_apps!(ring_of_bails_on_the_page_and_live, |app| {
        let (north, north_p, _s, _sp) = two_farms(app).await;
        let op = app.user("op-ring", Role::Dairy, Some(north)).await;
        let page = app.get(&format!("/parlors/{north_p}"), &op.cookies).await;
        assert!(page.body.contains("id=\"bail-ring\""), "{}", page.body);
        assert!(page.body.contains("ストールの情報はまだ届いていません"));
        let tok = app
            .state
            .db
            .create_bridge_token(north, "ring", "ring-token")
            .await
            .unwrap();
        let snap = |t: chrono::DateTime<Utc>, key: &str, states: &[&str]| IngestBatch {
            version: WIRE_VERSION,
            bridge_id: "b".into(),
            batch_key: key.into(),
            records: vec![Record::Bails(BailSnapshot {
                key: format!("north-rotary/{}", t.timestamp_millis()),
                parlor: "north-rotary".into(),
                farm: "north".into(),
                unit: 1,
                t,
                entrance_bail: Some(2),
                bails: states
                    .iter()
                    .enumerate()
                    .map(|(i, s)| BailState {
                        bail: i as u16 + 1,
                        state: (*s).into(),
                        cow_id: 700 + i as u64,
                        current_yield_kg: Some(6.5),
                        alarm: *s == "kicked_off",
                    })
                    .collect(),
            })],
        };
        let t0 = Utc::now();
        app.state
            .db
            .ingest_batch(
                tok,
                north,
                &snap(t0, "r1", &["milking", "empty", "kicked_off"]),
            )
            .await
            .unwrap();
        let page = app.get(&format!("/parlors/{north_p}"), &op.cookies).await;
        assert_eq!(
            page.body.matches("data-bail=").count(),
            6,
            "three segments and three rows"
        );
        assert!(page.body.contains("data-occupied=\"2\""), "{}", page.body);
        assert!(page.body.contains("<th scope=\"row\">2 (入口)</th>"));
        // The live stream sends the ring after the summary, and again only when it changed.
        let resp = app_router(app)
            .oneshot(
                Request::get(format!("/parlors/{north_p}/events"))
                    .header(header::COOKIE, format!("{}; lang=en", op.cookies))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let mut stream = resp.into_body().into_data_stream();
        let mut text = String::new();
        while !text.contains("event: bails") {
            let chunk = stream.next().await.expect("an event").expect("bytes");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(text.contains("Kicked off"), "{text}");
        app.state
            .db
            .ingest_batch(
                tok,
                north,
                &snap(
                    t0 + chrono::Duration::seconds(5),
                    "r2",
                    &["done", "prep", "empty"],
                ),
            )
            .await
            .unwrap();
        let mut next = String::new();
        while !next.contains("event: bails") {
            let chunk = stream.next().await.expect("an event").expect("bytes");
            let c = String::from_utf8_lossy(&chunk).to_string();
            assert!(
                c.contains("event: summary") || c.contains("event: bails") || c.starts_with(':'),
                "{c}"
            );
            next.push_str(&c);
        }
        assert!(
            next.contains("data-occupied=\\\"2\\\"") && next.contains("Prep"),
            "{next}"
        );
        assert!(!next.contains("Kicked off</td>"), "{next}");
    });

    fn app_router(app: &TestApp) -> axum::Router {
        crate::http::router::app(app.state.clone())
    }
}
