//! Dairy pages: every parlor at a glance, one parlor live (server-sent events), charts of today
//! and past days, milking sessions and offline periods; and their JSON API. The figures come
//! from [`crate::services::parlors`]; here they are authorised and rendered: the router, who
//! may see which parlor and the live summary (with its JSON API) in this file, `list.rs` the
//! list, `live.rs` the live page and its stream, `charts.rs` the SVG charts.

mod charts;
mod list;
mod live;

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;

use self::charts::{days_svg, today_svg};
use self::list::list;
use self::live::{detail, events};
use crate::error::AppError;
use crate::http::auth::CurrentUser;
#[allow(unused_imports)]
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::{Lang, Msg, platform_state};
use crate::services::parlors::live_figures;
use crate::storage::{Parlor, Role};

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

/// The live figures of `parlor` ([`live_figures`]), with their display text in `lang`.
async fn summary(state: &AppState, parlor: &Parlor, lang: Lang) -> Result<Summary, AppError> {
    let f = live_figures(&state.db, parlor, Utc::now()).await?;
    let online = f.online;
    let mut s = Summary {
        id: parlor.id,
        name: parlor.name.clone(),
        state: f.state,
        online,
        cows_per_hour: f.cows_per_hour,
        kg_per_hour: f.kg_per_hour,
        rotation_s: f.rotation_s,
        occupancy: f.occupancy,
        cows_today: f.cows_today,
        kg_today: f.kg_today,
        alerts_today: f.alerts_today,
        last_update: f.last_update,
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
mod tests;
