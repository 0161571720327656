//! The parlor's charts as SVG: cows per hour of today, cows per day of the last two weeks.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::visible_parlor;
use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::charts::{Bars, bar_chart_svg};
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::Msg;
use crate::services::parlors::{cows_by_day, cows_by_hour};

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

pub(super) async fn today_svg(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    visible_parlor(&state, &user, id).await?;
    let lang = user.lang;
    let values = cows_by_hour(&state.db, id, Utc::now()).await?;
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
        crate::http::charts::CHART_WIDTH,
        260,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(svg_response(svg))
}

pub(super) async fn days_svg(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    visible_parlor(&state, &user, id).await?;
    let lang = user.lang;
    let (first, values) = cows_by_day(&state.db, id, Utc::now()).await?;
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
        crate::http::charts::CHART_WIDTH,
        260,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(svg_response(svg))
}
