//! Regional reports for staff: district × month tables and charts for a year, season or month,
//! drill-down to a district's farms and to one farm, and a CSV of every table (UTF-8 with BOM,
//! Japanese headers). Farmers and dairy operators may open their own farm's report only.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::charts::{Bars, bar_chart_svg};
use crate::http::csv::{self, CsvCell, CsvCell::Figure, CsvCell::Text};
use crate::http::pages;
use crate::http::state::AppState;
use crate::i18n::{Lang, Msg};
use crate::services::reports::{Cell, Period, Season, YearMonth, month_name};
use crate::storage::{District, Farm, FarmMonth, PesticideMonth, Role};

mod tables;
#[cfg(test)]
pub(crate) mod tests;
mod views;

use tables::*;
use views::*;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(city))
        .route("/reports/csv", get(city_csv))
        .route("/reports/districts/{id}", get(district))
        .route("/reports/districts/{id}/csv", get(district_csv))
        .route("/reports/farms/{id}", get(farm))
        .route("/reports/farms/{id}/csv", get(farm_csv))
}

/// The query of every report page: `year`, `period` (`year`, a season, a month 1–12), and for
/// CSV downloads the `table`.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    year: Option<String>,
    period: Option<String>,
    table: Option<String>,
}

impl ReportQuery {
    fn period(&self) -> Result<Period, AppError> {
        let this_year = YearMonth::of(chrono::Utc::now()).year;
        Period::parse(self.year.as_deref(), self.period.as_deref(), this_year)
            .map_err(AppError::BadInput)
    }
}

fn query(q: Result<Query<ReportQuery>, QueryRejection>) -> Result<ReportQuery, AppError> {
    q.map(|Query(q)| q)
        .map_err(|e| AppError::rejected(e.status(), e.body_text()))
}
