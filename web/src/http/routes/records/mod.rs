//! Spray records (農薬使用記録) and flight logbook drafts (飛行日誌) per flight: prefilled from
//! the flight and its `.tlog`, editable by the farm until signed, amended as new versions after;
//! per-farm lists with a date filter, a print layout and CSV (UTF-8 with BOM, Japanese headers).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::csv::{self, CsvCell, CsvCell::Figure, CsvCell::Text};
use crate::http::error::AppForm;
use crate::http::pages::{self, fmt_duration};
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::{Lang, Msg};
use crate::services::records::{
    self, AREA_DECIMALS, LITRE_DECIMALS, frozen, logbook_versions, missing_for_signing,
    record_versions,
};
use crate::storage::{FlightRow, LogbookEntry, LogbookFields, RecordFields, Role, SprayRecord};
use crate::validate::{Lines, MAX_LINE, MAX_NAME, MAX_NOTES, check_text};

mod lists;
mod logbook;
mod record;
#[cfg(test)]
pub(crate) mod tests;

use lists::*;
use logbook::*;
use record::*;

/// Roles that read records (farmers and dairy operators only their own farm's).
const READERS: &[Role] = super::flight_shared::FLIGHT_READERS;

/// Roles that write records (farmers and dairy operators only their own farm's).
const WRITERS: &[Role] = &[Role::Admin, Role::Farmer, Role::Dairy];

/// The spray record, logbook and pesticide forms, for `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    record::save_record,
    record::sign_record,
    record::amend_record,
    logbook::save_logbook,
    logbook::sign_logbook,
    logbook::amend_logbook,
    lists::add_pesticide
))]
pub(crate) struct FormsDoc;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/flights/{id}/record", get(record_page).post(save_record))
        .route("/flights/{id}/record/sign", post(sign_record))
        .route("/flights/{id}/record/amend", post(amend_record))
        .route(
            "/flights/{id}/logbook",
            get(logbook_page).post(save_logbook),
        )
        .route("/flights/{id}/logbook/sign", post(sign_logbook))
        .route("/flights/{id}/logbook/amend", post(amend_logbook))
        .route("/farms/{id}/records", get(farm_records))
        .route("/farms/{id}/records.csv", get(records_csv))
        .route("/farms/{id}/logbook.csv", get(logbook_csv))
        .route("/farms/{id}/pesticides", post(add_pesticide))
}

fn jst_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&JST)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    })
    .unwrap_or_default()
}

fn opt_num(x: Option<f64>, decimals: usize) -> String {
    x.map(|v| format!("{v:.decimals$}")).unwrap_or_default()
}

/// The flight `id` if `user` may read it.
async fn readable_flight(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FlightRow, AppError> {
    super::flight_shared::flight_for(state, user, id, READERS).await
}

/// The flight `id` if `user` may write its records.
async fn writable_flight(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FlightRow, AppError> {
    super::flight_shared::flight_for(state, user, id, WRITERS).await
}

/// A4 print layout: Mincho for text, Gothic for headings, no navigation or forms.
fn print_style() -> Markup {
    html! {
        style media="print" { (PreEscaped(
            "@page { size: A4; margin: 15mm 12mm; } \
             body { font-family: 'IPAexMincho', 'IPAex明朝', 'Noto Serif CJK JP', 'IPAMincho', serif; \
                    color: #000; background: #fff; } \
             h1, h2, h3, th { font-family: 'IPAexGothic', 'IPAexゴシック', 'Noto Sans CJK JP', sans-serif; } \
             header.site, nav, .skip, .no-print { display: none !important; } \
             main { padding: 0; max-width: none; } \
             table { page-break-inside: auto; } tr { page-break-inside: avoid; } \
             th, td { border: 1px solid #000; }"
        )) }
    }
}

/// The signature line of a version.
fn signature(lang: Lang, signed_at: Option<DateTime<Utc>>, by: Option<&str>) -> Markup {
    html! {
        @match signed_at {
            Some(t) => p role="status" { strong { (Msg::RecSigned.text(lang)) } " " (jst_time(Some(t))) " — " (by.unwrap_or_default()) },
            None => p role="status" { strong { (Msg::RecDraft.text(lang)) } " " (Msg::RecDraftHelp.text(lang)) },
        }
    }
}

fn text_input(id: &str, label: Msg, lang: Lang, value: &str) -> Markup {
    html! {
        label for=(id) { (label.text(lang)) }
        input id=(id) name=(id) type="text" value=(value);
    }
}

fn num_input(id: &str, label: Msg, lang: Lang, value: Option<f64>) -> Markup {
    // `step="any"`: prefilled values (area, litres) are not multiples of any step. Area and
    // volume are shown as people read them; saving them unchanged keeps the stored precision.
    let shown = match id {
        "area_m2" => opt_num(value, AREA_DECIMALS),
        "litres" => opt_num(value, LITRE_DECIMALS),
        _ => value.map(|v| v.to_string()).unwrap_or_default(),
    };
    html! {
        label for=(id) { (label.text(lang)) }
        input id=(id) name=(id) type="number" inputmode="decimal" step="any" min="0"
            value=(shown);
    }
}

/// The rows of a record as (label, value) for the table and the print.
/// A version's figures as a table of (label, value) rows.
fn rows_table(lang: Lang, rows: Vec<(Msg, String)>) -> Markup {
    html! {
        table { tbody { @for (label, value) in rows {
            tr { th scope="row" { (label.text(lang)) } td { (value) } }
        } } }
    }
}

/// The sign-off form of the newest version while it is a draft, the amend form once it is
/// signed, and the earlier versions `(version, signed at, signed by, rows)` folded away.
fn sign_and_history<'a>(
    user: &CurrentUser,
    action: &str,
    can_write: bool,
    missing: &[Msg],
    (version, signed): (i64, bool),
    earlier: impl Iterator<
        Item = (
            i64,
            Option<DateTime<Utc>>,
            Option<&'a str>,
            Vec<(Msg, String)>,
        ),
    >,
) -> Markup {
    let lang = user.lang;
    let earlier: Vec<_> = earlier.collect();
    html! {
        @if can_write && !signed && !missing.is_empty() {
            div.alert.no-print role="status" {
                p { (Msg::SignNeeds.text(lang)) }
                ul { @for m in missing { li { (m.text(lang)) } } }
            }
        }
        @if can_write && !signed && missing.is_empty() {
            form.no-print method="post" action=(format!("{action}/sign")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                input type="hidden" name="version" value=(version);
                p #sign-help { (Msg::SignHelp.text(lang)) }
                p { button type="submit" aria-describedby="sign-help" { (Msg::SignOff.text(lang)) } }
            }
        }
        @if can_write && signed {
            form.no-print method="post" action=(format!("{action}/amend")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                p #amend-help { (Msg::AmendHelp.text(lang)) }
                p { button.secondary type="submit" aria-describedby="amend-help" { (Msg::Amend.text(lang)) } }
            }
        }
        @if !earlier.is_empty() {
            h2 { (Msg::RecHistory.text(lang)) }
            @for (v, at, by, rows) in earlier {
                details {
                    summary { (Msg::RecVersion.text(lang)) " " (v) " — " (Msg::RecSigned.text(lang)) " " (jst_time(at)) " " (by.unwrap_or_default()) }
                    (rows_table(lang, rows))
                }
            }
        }
    }
}

/// An optional non-negative number of a form field; bad input names the field.
fn parse_num(lang: Lang, label: Msg, s: &str) -> Result<Option<f64>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(AppError::BadInput(format!(
            "{}: {}",
            label.text(lang),
            Msg::RecBadNumber.text(lang)
        ))),
    }
}

/// A `YYYY-MM-DD` date of a form field.
fn parse_date(lang: Lang, label: Msg, s: &str) -> Result<String, AppError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| {
            AppError::BadInput(format!(
                "{}: {}",
                label.text(lang),
                Msg::RecBadDate.text(lang)
            ))
        })
}

/// A form that carries only the CSRF token and the version acted on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct VersionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
}
