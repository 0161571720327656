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
use serde_json::Value;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::csv::{self, CsvCell, CsvCell::Figure, CsvCell::Text};
use crate::error::{AppError, AppForm};
use crate::i18n::JST;
use crate::i18n::{Lang, Msg};
use crate::pages::{self, fmt_duration};
use crate::storage::{
    FlightRow, LogbookEntry, LogbookFields, RecordFields, Role, SprayRecord, StorageError, Tx,
};
use crate::validate::{Lines, MAX_LINE, MAX_NAME, MAX_NOTES, check_text};

/// What the logbook names as the purpose of a spray flight (MLIT: 物件投下・危険物輸送).
pub const SPRAY_PURPOSE: &str = "農薬散布（物件投下・危険物輸送）";

/// Roles that read records (farmers and dairy operators only their own farm's).
const READERS: &[Role] = super::flights::FLIGHT_READERS;
/// Roles that write records (farmers and dairy operators only their own farm's).
const WRITERS: &[Role] = &[Role::Admin, Role::Farmer, Role::Dairy];

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

fn jst_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&JST).format("%Y-%m-%d").to_string()
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

/// Decimals people read an area in: whole square metres.
const AREA_DECIMALS: usize = 0;
/// Decimals people read a volume in: 0.1 L.
const LITRE_DECIMALS: usize = 1;

/// The stored value when the submitted text is that value as the form showed it (rounded
/// for people), so saving an untouched form keeps full precision; otherwise the submission.
fn keep_precision(submitted: Option<f64>, stored: Option<f64>, decimals: usize) -> Option<f64> {
    match (submitted, stored) {
        (Some(s), Some(v)) if opt_num(Some(v), decimals) == opt_num(Some(s), decimals) => Some(v),
        _ => submitted,
    }
}

/// The flight `id` if `user` may read it.
async fn readable_flight(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FlightRow, AppError> {
    super::flights::flight_for(state, user, id, READERS).await
}

/// The flight `id` if `user` may write its records.
async fn writable_flight(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FlightRow, AppError> {
    super::flights::flight_for(state, user, id, WRITERS).await
}

/// The prefilled spray record and logbook entry of a flight (pure: everything is passed in).
pub struct Prefill {
    /// The spray record draft.
    pub record: RecordFields,
    /// The logbook draft.
    pub logbook: LogbookFields,
}

/// Square metres in 10 a (1 a = 100 m²), the unit of Japanese application rates.
const M2_PER_10A: f64 = 1000.0;

/// What a 農薬使用記録 must state before it may be signed, in the order of the form: the items
/// the MAFF/MOE 農薬を使用する者が遵守すべき基準を定める省令 (第9条) asks a user to record —
/// date, place, crop, the pesticide used, the amount per area or the dilution — and the total
/// used, without which the record cannot be checked against the label's maximum.
pub fn missing_for_signing(r: &RecordFields) -> Vec<Msg> {
    let blank = |s: &str| s.trim().is_empty();
    let mut missing = Vec::new();
    if blank(&r.sprayed_on) {
        missing.push(Msg::RecDate);
    }
    if blank(&r.place) && blank(&r.address) {
        missing.push(Msg::RecPlace);
    }
    if blank(&r.crop) {
        missing.push(Msg::RecCrop);
    }
    if blank(&r.pesticide_name) {
        missing.push(Msg::RecPesticide);
    }
    if r.l_per_10a.is_none() && r.dilution.is_none() {
        missing.push(Msg::RecRate);
    }
    if r.litres.is_none() {
        missing.push(Msg::RecLitres);
    }
    missing
}

/// Builds the drafts of `flight` from its field, farm address, plan rate, operator, drone
/// registration and the logbook items derived from its `.tlog`.
pub fn prefill(
    flight: &FlightRow,
    field: Option<&crate::storage::FieldRow>,
    address: &str,
    rate_l_per_10a: Option<f64>,
    operator: &str,
    drone_reg_no: &str,
    draft: &telemetry::LogbookDraft,
) -> Prefill {
    let day = jst_date(flight.started_at.unwrap_or(flight.created_at));
    let place_name = field.map(|f| f.name.clone()).unwrap_or_default();
    let place = |p: &str| {
        if address.is_empty() {
            p.to_owned()
        } else if p.is_empty() {
            address.to_owned()
        } else {
            format!("{p}（{address}）")
        }
    };
    let at = |fix: Option<telemetry::Fix>| {
        fix.and_then(|f| DateTime::<Utc>::from_timestamp_micros(f.time_us as i64))
    };
    Prefill {
        record: RecordFields {
            sprayed_on: day.clone(),
            place: place_name.clone(),
            fude_polygon_id: field
                .and_then(|f| f.fude_polygon_id.clone())
                .unwrap_or_default(),
            address: address.to_owned(),
            crop: field.map(|f| f.crop.clone()).unwrap_or_default(),
            // The plan's rate, or what the flight's own figures give.
            l_per_10a: rate_l_per_10a.or_else(|| {
                flight
                    .litres
                    .zip(flight.sprayed_area_m2)
                    .filter(|&(_, a)| a > 0.0)
                    .map(|(l, a)| l / (a / M2_PER_10A))
            }),
            // What the vehicle pumped where it reports it, else the plan's rate over the
            // sprayed area (10 a = 1 000 m²).
            litres: flight.litres.or_else(|| {
                rate_l_per_10a
                    .zip(flight.sprayed_area_m2)
                    .map(|(r, a)| r * a / M2_PER_10A)
            }),
            area_m2: flight.sprayed_area_m2,
            operator: operator.to_owned(),
            ..RecordFields::default()
        },
        logbook: LogbookFields {
            flown_on: draft
                .takeoff
                .and_then(|f| at(Some(f)))
                .map(jst_date)
                .unwrap_or(day),
            pilot: operator.to_owned(),
            drone_reg_no: drone_reg_no.to_owned(),
            takeoff_at: at(draft.takeoff),
            takeoff_lat: draft.takeoff.map(|f| f.lat),
            takeoff_lon: draft.takeoff.map(|f| f.lon),
            takeoff_place: place(&place_name),
            landing_at: at(draft.landing),
            landing_lat: draft.landing.map(|f| f.lat),
            landing_lon: draft.landing.map(|f| f.lon),
            landing_place: if draft.landing.is_some() {
                place(&place_name)
            } else {
                String::new()
            },
            flight_s: draft.flight_s,
            purpose: SPRAY_PURPOSE.to_owned(),
            events_json: serde_json::to_string(draft).unwrap_or_else(|_| "{}".into()),
            notes: String::new(),
        },
    }
}

/// What the first drafts of a flight's spray record and logbook entry are made from: read
/// before the transaction that stores them, which then reads nothing else from the pool.
#[derive(Debug, Clone)]
pub struct DraftSource {
    field: Option<crate::storage::FieldRow>,
    farm_address: String,
    rate_l_per_10a: Option<f64>,
    drone_reg_no: String,
    operator: String,
    draft: telemetry::LogbookDraft,
}

impl DraftSource {
    /// Reads the field, farm address, planned rate and drone behind a flight of `farm_id`;
    /// `operator` is who recorded it, `draft` what its `.tlog` says (see [`logbook_draft`]).
    ///
    /// # Errors
    /// The database failed.
    pub async fn read(
        state: &AppState,
        farm_id: i64,
        field_id: Option<i64>,
        plan_id: Option<i64>,
        flight_id: Option<i64>,
        operator: &str,
        draft: telemetry::LogbookDraft,
    ) -> Result<DraftSource, AppError> {
        let field = match field_id {
            Some(id) => Some(state.db.field(id).await?),
            None => None,
        };
        let farm = state.db.farm(farm_id).await?;
        let rate_l_per_10a = match plan_id {
            Some(p) => {
                let plan = state.db.plan(p).await?;
                serde_json::from_str::<Value>(&plan.config_json)
                    .ok()
                    .and_then(|c| c["rate_l_per_10a"].as_f64())
            }
            None => None,
        };
        let drone_reg_no = match flight_id {
            Some(id) => state
                .db
                .vehicle_registration_of_flight(id)
                .await?
                .unwrap_or_default(),
            None => String::new(),
        };
        Ok(DraftSource {
            field,
            farm_address: farm.address,
            rate_l_per_10a,
            drone_reg_no,
            operator: operator.to_owned(),
            draft,
        })
    }

    /// Stores the drafts of `flight` in `tx` unless it has them, and feeds the reports.
    ///
    /// # Errors
    /// The database failed, or the record holds a value the reports refuse.
    pub async fn store(&self, tx: &mut Tx, flight: &FlightRow) -> Result<(), AppError> {
        let p = prefill(
            flight,
            self.field.as_ref(),
            &self.farm_address,
            self.rate_l_per_10a,
            &self.operator,
            &self.drone_reg_no,
            &self.draft,
        );
        tx.create_spray_record(flight.id, flight.farm_id, &p.record)
            .await?;
        tx.checkpoint("records.after_spray_record").await?;
        feed_reports(tx, flight).await?;
        tx.create_logbook(flight.id, flight.farm_id, &p.logbook)
            .await?;
        Ok(())
    }
}

/// Takeoff, landing and events of a `.tlog` for its logbook draft (blocking work).
pub fn logbook_draft(tlog: &[u8]) -> telemetry::LogbookDraft {
    telemetry::logbook_draft(&telemetry::parse_tlog(tlog).0)
}

/// Stores the first drafts of a flight's spray record and logbook entry unless it has them,
/// in one transaction, from its stored `.tlog` (a flight recorded before records existed).
/// `operator` is who recorded the flight.
///
/// # Errors
/// The database failed.
pub async fn draft_records(
    state: &AppState,
    flight: &FlightRow,
    operator: &str,
) -> Result<(), AppError> {
    let draft = match state.db.flight_tlog(flight.id).await? {
        Some(bytes) => tokio::task::spawn_blocking(move || logbook_draft(&bytes))
            .await
            .map_err(|e| AppError::Internal(format!("logbook task failed: {e}")))?,
        None => telemetry::LogbookDraft::default(),
    };
    let source = DraftSource::read(
        state,
        flight.farm_id,
        flight.field_id,
        flight.plan_id,
        Some(flight.id),
        operator,
        draft,
    )
    .await?;
    let mut tx = state.db.begin().await?;
    source.store(&mut tx, flight).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives the regional reports the figures of the flight's newest spray record (area, litres,
/// pesticide), replacing what they counted for the flight before, in `tx`.
///
/// # Errors
/// The database failed, or the record holds a value the reports refuse.
pub async fn feed_reports(tx: &mut Tx, flight: &FlightRow) -> Result<(), AppError> {
    let Some(newest) = tx.spray_record_versions(flight.id).await?.pop() else {
        return Ok(());
    };
    let r = &newest.fields;
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    tx.upsert_flight_fact(&crate::storage::FlightFact {
        flight_id: flight.id,
        farm_id: flight.farm_id,
        flown_at: flight.started_at.unwrap_or(flight.created_at),
        area_m2: r.area_m2.or(flight.sprayed_area_m2).unwrap_or(0.0),
        litres: r.litres.or(flight.litres).unwrap_or(0.0),
        pesticide_name: non_empty(&r.pesticide_name),
        pesticide_reg_no: non_empty(&r.pesticide_reg_no),
    })
    .await?;
    Ok(())
}

/// The versions of a flight's record, drafting them first for a flight recorded before
/// records existed (the operator is then left for the farm to fill in).
async fn record_versions(state: &AppState, f: &FlightRow) -> Result<Vec<SprayRecord>, AppError> {
    let mut v = state.db.spray_record_versions(f.id).await?;
    if v.is_empty() {
        draft_records(state, f, "").await?;
        v = state.db.spray_record_versions(f.id).await?;
    }
    Ok(v)
}

async fn logbook_versions(state: &AppState, f: &FlightRow) -> Result<Vec<LogbookEntry>, AppError> {
    let mut v = state.db.logbook_versions(f.id).await?;
    if v.is_empty() {
        draft_records(state, f, "").await?;
        v = state.db.logbook_versions(f.id).await?;
    }
    Ok(v)
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

fn record_rows(lang: Lang, r: &RecordFields) -> Vec<(Msg, String)> {
    vec![
        (Msg::RecDate, r.sprayed_on.clone()),
        (Msg::RecPlace, r.place.clone()),
        (Msg::RecFude, r.fude_polygon_id.clone()),
        (Msg::RecAddress, r.address.clone()),
        (Msg::RecCrop, r.crop.clone()),
        (Msg::RecPesticide, r.pesticide_name.clone()),
        (
            Msg::RecRegNo,
            if r.pesticide_reg_no.is_empty() {
                String::new()
            } else {
                match lang {
                    Lang::Ja => format!("農林水産省登録第{}号", r.pesticide_reg_no),
                    Lang::En => format!("MAFF reg. No. {}", r.pesticide_reg_no),
                }
            },
        ),
        (Msg::RecDilution, opt_num(r.dilution, 0)),
        (Msg::RecRate, opt_num(r.l_per_10a, 2)),
        (Msg::RecLitres, opt_num(r.litres, LITRE_DECIMALS)),
        (Msg::RecArea, opt_num(r.area_m2, AREA_DECIMALS)),
        (Msg::RecOperator, r.operator.clone()),
        (Msg::RecNotes, r.notes.clone()),
    ]
}

async fn record_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let versions = record_versions(&state, &f).await?;
    let cur = versions.last().ok_or(AppError::NotFound)?;
    let can_write = user.require_role(WRITERS).is_ok();
    let catalogue = state.db.pesticides(f.farm_id).await?;
    let title = format!(
        "{} — {} #{}",
        Msg::RecTitle.text(lang),
        Msg::FlightWord.text(lang),
        id
    );
    let r = &cur.fields;
    let body = html! {
        (print_style())
        h1 { (title) }
        p.no-print {
            a href=(format!("/flights/{id}")) { "← " (Msg::FlightWord.text(lang)) " #" (id) } " · "
            a href=(format!("/flights/{id}/logbook")) { (Msg::LogTitle.text(lang)) } " · "
            a href=(format!("/farms/{}/records", f.farm_id)) { (Msg::RecFarmList.text(lang)) }
        }
        p { (Msg::RecVersion.text(lang)) " " (cur.version) }
        (signature(lang, cur.signed_at, cur.signed_by.as_deref()))
        (rows_table(lang, record_rows(lang, r)))
        p.no-print { button.secondary type="button" data-print { (Msg::Print.text(lang)) } }
        script src="/static/print.js" defer {}
        @if can_write && cur.signed_at.is_none() {
            h2.no-print { (Msg::RecEdit.text(lang)) }
            form.no-print method="post" action=(format!("/flights/{id}/record")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                input type="hidden" name="version" value=(cur.version);
                label for="sprayed_on" { (Msg::RecDate.text(lang)) }
                input #sprayed_on name="sprayed_on" type="date" required value=(r.sprayed_on);
                (text_input("place", Msg::RecPlace, lang, &r.place))
                (text_input("fude_polygon_id", Msg::RecFude, lang, &r.fude_polygon_id))
                (text_input("address", Msg::RecAddress, lang, &r.address))
                (text_input("crop", Msg::RecCrop, lang, &r.crop))
                label for="pesticide_id" { (Msg::RecFromCatalogue.text(lang)) }
                select #pesticide_id name="pesticide_id" {
                    option value="" { (Msg::RecNotFromCatalogue.text(lang)) }
                    @for p in &catalogue {
                        option value=(p.id) selected[p.name == r.pesticide_name] {
                            (p.name) @if !p.reg_no.is_empty() { " (" (p.reg_no) ")" }
                        }
                    }
                }
                (text_input("pesticide_name", Msg::RecPesticide, lang, &r.pesticide_name))
                (text_input("pesticide_reg_no", Msg::RecRegNoInput, lang, &r.pesticide_reg_no))
                (num_input("dilution", Msg::RecDilution, lang, r.dilution))
                (num_input("l_per_10a", Msg::RecRate, lang, r.l_per_10a))
                (num_input("litres", Msg::RecLitres, lang, r.litres))
                (num_input("area_m2", Msg::RecArea, lang, r.area_m2))
                (text_input("operator", Msg::RecOperator, lang, &r.operator))
                label for="notes" { (Msg::RecNotes.text(lang)) }
                textarea #notes name="notes" rows="3" { (r.notes) }
                p { button type="submit" { (Msg::Save.text(lang)) } }
            }
        }
        (sign_and_history(
            &user,
            &format!("/flights/{id}/record"),
            can_write,
            &missing_for_signing(&cur.fields),
            (cur.version, cur.signed_at.is_some()),
            versions.iter().rev().skip(1).map(|v| {
                (v.version, v.signed_at, v.signed_by.as_deref(), record_rows(lang, &v.fields))
            }),
        ))
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

/// The record form.
#[derive(Debug, Deserialize)]
struct RecordForm {
    #[serde(default)]
    csrf: String,
    version: i64,
    sprayed_on: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    fude_polygon_id: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    crop: String,
    #[serde(default)]
    pesticide_id: String,
    #[serde(default)]
    pesticide_name: String,
    #[serde(default)]
    pesticide_reg_no: String,
    #[serde(default)]
    dilution: String,
    #[serde(default)]
    l_per_10a: String,
    #[serde(default)]
    litres: String,
    #[serde(default)]
    area_m2: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    notes: String,
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

/// Maps a storage conflict (signed or superseded) to a message in the person's language.
fn frozen(lang: Lang) -> impl Fn(StorageError) -> AppError {
    move |e| match e {
        StorageError::Conflict { .. } => AppError::Conflict(Msg::RecFrozen.text(lang).to_owned()),
        other => other.into(),
    }
}

async fn save_record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<RecordForm>,
) -> Result<Response, AppError> {
    let f = writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    let lang = user.lang;
    for (label, value, max, lines) in [
        (Msg::RecPlace, &form.place, MAX_NAME, Lines::One),
        (Msg::RecFude, &form.fude_polygon_id, MAX_NAME, Lines::One),
        (Msg::RecAddress, &form.address, MAX_LINE, Lines::One),
        (Msg::RecCrop, &form.crop, MAX_NAME, Lines::One),
        (
            Msg::RecPesticide,
            &form.pesticide_name,
            MAX_NAME,
            Lines::One,
        ),
        (
            Msg::RecRegNoInput,
            &form.pesticide_reg_no,
            MAX_NAME,
            Lines::One,
        ),
        (Msg::RecOperator, &form.operator, MAX_NAME, Lines::One),
        (Msg::RecNotes, &form.notes, MAX_NOTES, Lines::Many),
    ] {
        check_text(lang, label.text(lang), value.trim(), max, lines)?;
    }
    let reg_no = form.pesticide_reg_no.trim().to_owned();
    if !reg_no.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::BadInput(format!(
            "{}: {}",
            Msg::RecRegNoInput.text(lang),
            Msg::RecBadRegNo.text(lang)
        )));
    }
    let mut r = RecordFields {
        sprayed_on: parse_date(lang, Msg::RecDate, &form.sprayed_on)?,
        place: form.place.trim().to_owned(),
        fude_polygon_id: form.fude_polygon_id.trim().to_owned(),
        address: form.address.trim().to_owned(),
        crop: form.crop.trim().to_owned(),
        pesticide_name: form.pesticide_name.trim().to_owned(),
        pesticide_reg_no: reg_no,
        dilution: parse_num(lang, Msg::RecDilution, &form.dilution)?,
        l_per_10a: parse_num(lang, Msg::RecRate, &form.l_per_10a)?,
        litres: parse_num(lang, Msg::RecLitres, &form.litres)?,
        area_m2: parse_num(lang, Msg::RecArea, &form.area_m2)?,
        operator: form.operator.trim().to_owned(),
        notes: form.notes.trim().to_owned(),
    };
    if !form.pesticide_id.trim().is_empty() {
        let pid: i64 = form.pesticide_id.trim().parse().map_err(|_| {
            AppError::BadInput(format!("pesticide_id: {}", Msg::RecBadNumber.text(lang)))
        })?;
        let p = state
            .db
            .pesticides(f.farm_id)
            .await?
            .into_iter()
            .find(|p| p.id == pid)
            .ok_or_else(|| {
                AppError::BadInput(format!(
                    "{}: {}",
                    Msg::RecFromCatalogue.text(lang),
                    Msg::NotFound.text(lang)
                ))
            })?;
        r.pesticide_name = p.name;
        r.pesticide_reg_no = p.reg_no;
        r.dilution = r.dilution.or(p.dilution);
        r.l_per_10a = r.l_per_10a.or(p.l_per_10a);
    }
    // The edit and the reports' figures of it are one transaction.
    let mut tx = state.db.begin().await?;
    if let Some(before) = tx.spray_record_versions(id).await?.pop() {
        r.litres = keep_precision(r.litres, before.fields.litres, LITRE_DECIMALS);
        r.area_m2 = keep_precision(r.area_m2, before.fields.area_m2, AREA_DECIMALS);
    }
    tx.update_spray_record(id, form.version, &r)
        .await
        .map_err(frozen(lang))?;
    let flight = tx.flight(id).await?;
    feed_reports(&mut tx, &flight).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/flights/{id}/record")).into_response())
}

/// A form that carries only the CSRF token and the version acted on.
#[derive(Debug, Deserialize)]
struct VersionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
}

async fn sign_record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<VersionForm>,
) -> Result<Response, AppError> {
    writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    // The signature and the reports' figures of the signed record are one transaction.
    let mut tx = state.db.begin().await?;
    if let Some(cur) = tx.spray_record_versions(id).await?.into_iter().last() {
        let missing = missing_for_signing(&cur.fields);
        if !missing.is_empty() && cur.version == form.version {
            let names: Vec<&str> = missing.iter().map(|m| m.text(user.lang)).collect();
            return Err(AppError::BadInput(format!(
                "{} {}",
                Msg::SignNeeds.text(user.lang),
                names.join(match user.lang {
                    Lang::Ja => "、",
                    Lang::En => ", ",
                })
            )));
        }
    }
    tx.sign_spray_record(id, form.version, &user.user.display_name)
        .await
        .map_err(frozen(user.lang))?;
    let flight = tx.flight(id).await?;
    feed_reports(&mut tx, &flight).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/flights/{id}/record")).into_response())
}

async fn amend_record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<VersionForm>,
) -> Result<Response, AppError> {
    writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    state
        .db
        .amend_spray_record(id)
        .await
        .map_err(frozen(user.lang))?;
    Ok(Redirect::to(&format!("/flights/{id}/record")).into_response())
}

/// The anomalies and failsafes stored with a logbook entry, as lines of text.
fn event_lines(lang: Lang, events_json: &str) -> (Vec<String>, Vec<String>) {
    let d: telemetry::LogbookDraft = serde_json::from_str(events_json).unwrap_or_default();
    let line = |e: &telemetry::LogEvent| {
        let t = DateTime::<Utc>::from_timestamp_micros(e.time_us as i64)
            .map(|t| t.with_timezone(&JST).format("%H:%M:%S").to_string())
            .unwrap_or_default();
        let kind = e.failsafe.map(|k| failsafe_name(lang, k)).unwrap_or("");
        [t, kind.to_owned(), e.severity.clone(), e.text.clone()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    (
        d.anomalies.iter().map(line).collect(),
        d.failsafes.iter().map(line).collect(),
    )
}

fn failsafe_name(lang: Lang, k: telemetry::FailsafeKind) -> &'static str {
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

fn latlon(lat: Option<f64>, lon: Option<f64>) -> String {
    match (lat, lon) {
        (Some(a), Some(b)) => format!("{a:.6}, {b:.6}"),
        _ => String::new(),
    }
}

fn logbook_rows(l: &LogbookFields) -> Vec<(Msg, String)> {
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

async fn logbook_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let versions = logbook_versions(&state, &f).await?;
    let cur = versions.last().ok_or(AppError::NotFound)?;
    let can_write = user.require_role(WRITERS).is_ok();
    let l = &cur.fields;
    let (anomalies, failsafes) = event_lines(lang, &l.events_json);
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
        @else { ul { @for e in &failsafes { li { (e) } } } }
        h2 { (Msg::LogAnomalies.text(lang)) }
        @if anomalies.is_empty() { p { (Msg::LogNone.text(lang)) } }
        @else { ul { @for e in &anomalies { li { (e) } } } }
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
#[derive(Debug, Deserialize)]
struct LogbookForm {
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

async fn save_logbook(
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

async fn sign_logbook(
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

async fn amend_logbook(
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

/// The date filter of the farm lists: a season (calendar year) or a from/to range.
#[derive(Debug, Default, Deserialize)]
struct Period {
    #[serde(default)]
    year: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl Period {
    /// Inclusive `YYYY-MM-DD` bounds; `year` wins over `from`/`to`.
    fn bounds(&self, lang: Lang) -> Result<(Option<String>, Option<String>), AppError> {
        let year = self.year.trim();
        if !year.is_empty() {
            let y: i32 = year
                .parse()
                .ok()
                .filter(|y| (1900..=9999).contains(y))
                .ok_or_else(|| {
                    AppError::BadInput(format!(
                        "{}: {}",
                        Msg::Season.text(lang),
                        Msg::RecBadNumber.text(lang)
                    ))
                })?;
            return Ok((Some(format!("{y:04}-01-01")), Some(format!("{y:04}-12-31"))));
        }
        let one = |s: &str, label: Msg| -> Result<Option<String>, AppError> {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                parse_date(lang, label, s).map(Some)
            }
        };
        Ok((one(&self.from, Msg::DateFrom)?, one(&self.to, Msg::DateTo)?))
    }

    fn query(&self) -> String {
        serde_urlencoded::to_string([
            ("year", self.year.trim()),
            ("from", self.from.trim()),
            ("to", self.to.trim()),
        ])
        .unwrap_or_default()
    }
}

/// The farm `id` if `user` may read its records.
async fn readable_farm(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<crate::storage::Farm, AppError> {
    user.require_role(READERS)?;
    user.require_farm(id)?;
    Ok(state.db.farm(id).await?)
}

async fn farm_records(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(period): Query<Period>,
) -> Result<Response, AppError> {
    let farm = readable_farm(&state, &user, id).await?;
    let lang = user.lang;
    let (from, to) = period.bounds(lang)?;
    let records = state
        .db
        .spray_records_of_farm(id, from.as_deref(), to.as_deref())
        .await?;
    let logbooks = state
        .db
        .logbooks_of_farm(id, from.as_deref(), to.as_deref())
        .await?;
    let catalogue = state.db.pesticides(id).await?;
    let can_write = user.require_role(WRITERS).is_ok();
    let q = period.query();
    let title = format!("{} — {}", Msg::RecFarmList.text(lang), farm.name);
    let signed = |s: &Option<DateTime<Utc>>| {
        if s.is_some() {
            Msg::RecSigned.text(lang)
        } else {
            Msg::RecDraft.text(lang)
        }
    };
    let body = html! {
        (print_style())
        h1 { (title) }
        form.no-print method="get" action=(format!("/farms/{id}/records")) {
            label for="year" { (Msg::Season.text(lang)) }
            input #year name="year" type="number" inputmode="numeric" min="1900" max="9999" value=(period.year);
            label for="from" { (Msg::DateFrom.text(lang)) }
            input #from name="from" type="date" value=(period.from);
            label for="to" { (Msg::DateTo.text(lang)) }
            input #to name="to" type="date" value=(period.to);
            p { button type="submit" { (Msg::Filter.text(lang)) } }
        }
        p.no-print {
            a href=(format!("/farms/{id}/records.csv?{q}")) download { (Msg::RecCsv.text(lang)) } " · "
            a href=(format!("/farms/{id}/logbook.csv?{q}")) download { (Msg::LogCsv.text(lang)) } " · "
            button.secondary type="button" data-print { (Msg::Print.text(lang)) }
            script src="/static/print.js" defer {}
        }
        h2 { (Msg::RecTitle.text(lang)) }
        @if records.is_empty() { p role="status" { (Msg::RecNone.text(lang)) } }
        @else {
            div style="overflow-x: auto;" {
            table {
                thead { tr {
                    th scope="col" { (Msg::RecDate.text(lang)) }
                    th scope="col" { (Msg::RecPlace.text(lang)) }
                    th scope="col" { (Msg::RecCrop.text(lang)) }
                    th scope="col" { (Msg::RecPesticide.text(lang)) }
                    th scope="col" class="num" { (Msg::RecLitres.text(lang)) }
                    th scope="col" class="num" { (Msg::RecArea.text(lang)) }
                    th scope="col" { (Msg::RecOperator.text(lang)) }
                    th scope="col" { (Msg::RecState.text(lang)) }
                } }
                tbody { @for r in &records { tr {
                    td { a href=(format!("/flights/{}/record", r.flight_id)) { (r.fields.sprayed_on) } }
                    td { (r.fields.place) }
                    td { (r.fields.crop) }
                    td { (r.fields.pesticide_name) }
                    td.num { (opt_num(r.fields.litres, LITRE_DECIMALS)) }
                    td.num { (opt_num(r.fields.area_m2, AREA_DECIMALS)) }
                    td { (r.fields.operator) }
                    td { (signed(&r.signed_at)) " (" (Msg::RecVersion.text(lang)) " " (r.version) ")" }
                } } }
            }
            }
        }
        h2 { (Msg::LogTitle.text(lang)) }
        @if logbooks.is_empty() { p role="status" { (Msg::RecNone.text(lang)) } }
        @else {
            div style="overflow-x: auto;" {
            table {
                thead { tr {
                    th scope="col" { (Msg::LogDate.text(lang)) }
                    th scope="col" { (Msg::LogPilot.text(lang)) }
                    th scope="col" { (Msg::LogTakeoffAt.text(lang)) }
                    th scope="col" { (Msg::LogLandingAt.text(lang)) }
                    th scope="col" class="num" { (Msg::LogFlightTime.text(lang)) }
                    th scope="col" class="num" { (Msg::LogFailsafes.text(lang)) }
                    th scope="col" { (Msg::RecState.text(lang)) }
                } }
                tbody { @for l in &logbooks { tr {
                    td { a href=(format!("/flights/{}/logbook", l.flight_id)) { (l.fields.flown_on) } }
                    td { (l.fields.pilot) }
                    td { (jst_time(l.fields.takeoff_at)) }
                    td { (jst_time(l.fields.landing_at)) }
                    td.num { (l.fields.flight_s.map(fmt_duration).unwrap_or_default()) }
                    td.num { (event_lines(lang, &l.fields.events_json).1.len()) }
                    td { (signed(&l.signed_at)) " (" (Msg::RecVersion.text(lang)) " " (l.version) ")" }
                } } }
            }
            }
        }
        h2 { (Msg::Catalogue.text(lang)) }
        @if catalogue.is_empty() { p { (Msg::RecNone.text(lang)) } }
        @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::RecPesticide.text(lang)) }
                    th scope="col" { (Msg::RecRegNoInput.text(lang)) }
                    th scope="col" class="num" { (Msg::RecDilution.text(lang)) }
                    th scope="col" class="num" { (Msg::RecRate.text(lang)) }
                } }
                tbody { @for p in &catalogue { tr {
                    td { (p.name) } td { (p.reg_no) }
                    td.num { (opt_num(p.dilution, 0)) } td.num { (opt_num(p.l_per_10a, 2)) }
                } } }
            }
        }
        @if can_write {
            form.no-print method="post" action=(format!("/farms/{id}/pesticides")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                h3 { (Msg::CatalogueAdd.text(lang)) }
                label for="p-name" { (Msg::RecPesticide.text(lang)) }
                input #p-name name="name" type="text" required;
                label for="p-reg" { (Msg::RecRegNoInput.text(lang)) }
                input #p-reg name="reg_no" type="text" inputmode="numeric";
                label for="p-dil" { (Msg::RecDilution.text(lang)) }
                input #p-dil name="dilution" type="number" inputmode="decimal" min="0" step="any";
                label for="p-rate" { (Msg::RecRate.text(lang)) }
                input #p-rate name="l_per_10a" type="number" inputmode="decimal" min="0" step="any";
                p { button type="submit" { (Msg::Save.text(lang)) } }
            }
        }
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

/// The catalogue form.
#[derive(Debug, Deserialize)]
struct PesticideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    reg_no: String,
    #[serde(default)]
    dilution: String,
    #[serde(default)]
    l_per_10a: String,
}

async fn add_pesticide(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<PesticideForm>,
) -> Result<Response, AppError> {
    user.require_role(WRITERS)?;
    user.require_farm(id)?;
    state.db.farm(id).await?;
    user.check_csrf(&form.csrf)?;
    let lang = user.lang;
    let name = form.name.trim();
    let reg_no = form.reg_no.trim();
    check_text(
        lang,
        Msg::RecPesticide.text(lang),
        name,
        MAX_NAME,
        Lines::One,
    )?;
    check_text(
        lang,
        Msg::RecRegNoInput.text(lang),
        reg_no,
        MAX_NAME,
        Lines::One,
    )?;
    if name.is_empty() {
        return Err(AppError::BadInput(format!(
            "{}: {}",
            Msg::RecPesticide.text(lang),
            Msg::RecRequired.text(lang)
        )));
    }
    if !reg_no.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::BadInput(format!(
            "{}: {}",
            Msg::RecRegNoInput.text(lang),
            Msg::RecBadRegNo.text(lang)
        )));
    }
    let positive = |label: Msg, s: &str| -> Result<Option<f64>, AppError> {
        match parse_num(lang, label, s)? {
            Some(v) if v <= 0.0 => Err(AppError::BadInput(format!(
                "{}: {}",
                label.text(lang),
                Msg::RecBadNumber.text(lang)
            ))),
            v => Ok(v),
        }
    };
    let dilution = positive(Msg::RecDilution, &form.dilution)?;
    let rate = positive(Msg::RecRate, &form.l_per_10a)?;
    state
        .db
        .create_pesticide(id, name, reg_no, dilution, rate)
        .await?;
    Ok(Redirect::to(&format!("/farms/{id}/records")).into_response())
}

/// Headers of the spray record CSV, in column order.
pub const RECORD_CSV_HEADER: [&str; 17] = [
    "散布日",
    "圃場",
    "筆ポリゴンID",
    "住所",
    "作物",
    "農薬名",
    "農林水産省登録番号",
    "希釈倍数",
    "10a当たり使用量(L)",
    "使用総量(L)",
    "散布面積(m2)",
    "作業者",
    "備考",
    "版",
    "署名日時",
    "署名者",
    "飛行ID",
];

/// Headers of the logbook CSV, in column order.
pub const LOGBOOK_CSV_HEADER: [&str; 19] = [
    "飛行日",
    "操縦者",
    "無人航空機登録記号",
    "離陸時刻",
    "離陸場所",
    "離陸地点緯度",
    "離陸地点経度",
    "着陸時刻",
    "着陸場所",
    "着陸地点緯度",
    "着陸地点経度",
    "飛行時間(秒)",
    "飛行目的",
    "不具合・フェールセーフ",
    "備考",
    "版",
    "署名日時",
    "署名者",
    "飛行ID",
];

/// The CSV row of a spray record, in [`RECORD_CSV_HEADER`] order.
pub fn record_csv_row(r: &SprayRecord) -> Vec<CsvCell> {
    let f = &r.fields;
    let n = |x: Option<f64>| Figure(x.map(|v| v.to_string()).unwrap_or_default());
    let t = |s: &str| Text(s.to_owned());
    vec![
        t(&f.sprayed_on),
        t(&f.place),
        t(&f.fude_polygon_id),
        t(&f.address),
        t(&f.crop),
        t(&f.pesticide_name),
        t(&f.pesticide_reg_no),
        n(f.dilution),
        n(f.l_per_10a),
        Figure(opt_num(f.litres, LITRE_DECIMALS)),
        Figure(opt_num(f.area_m2, AREA_DECIMALS)),
        t(&f.operator),
        t(&f.notes),
        Figure(r.version.to_string()),
        Figure(jst_time(r.signed_at)),
        t(r.signed_by.as_deref().unwrap_or_default()),
        Figure(r.flight_id.to_string()),
    ]
}

fn logbook_csv_row(l: &LogbookEntry) -> Vec<CsvCell> {
    let f = &l.fields;
    let n = |x: Option<f64>| Figure(x.map(|v| v.to_string()).unwrap_or_default());
    let t = |s: &str| Text(s.to_owned());
    let (_, failsafes) = event_lines(Lang::Ja, &f.events_json);
    let (anomalies, _) = event_lines(Lang::Ja, &f.events_json);
    let mut events = failsafes;
    events.extend(anomalies);
    vec![
        t(&f.flown_on),
        t(&f.pilot),
        t(&f.drone_reg_no),
        Figure(jst_time(f.takeoff_at)),
        t(&f.takeoff_place),
        n(f.takeoff_lat),
        n(f.takeoff_lon),
        Figure(jst_time(f.landing_at)),
        t(&f.landing_place),
        n(f.landing_lat),
        n(f.landing_lon),
        Figure(f.flight_s.map(|s| format!("{s:.0}")).unwrap_or_default()),
        t(&f.purpose),
        Text(events.join(" / ")),
        t(&f.notes),
        Figure(l.version.to_string()),
        Figure(jst_time(l.signed_at)),
        t(l.signed_by.as_deref().unwrap_or_default()),
        Figure(l.flight_id.to_string()),
    ]
}

fn csv_name(kind: &str, farm: i64, from: &Option<String>, to: &Option<String>) -> String {
    format!(
        "{kind}-farm{farm}-{}-{}.csv",
        from.as_deref().unwrap_or("start"),
        to.as_deref().unwrap_or("end")
    )
}

async fn records_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(period): Query<Period>,
) -> Result<Response, AppError> {
    readable_farm(&state, &user, id).await?;
    let (from, to) = period.bounds(user.lang)?;
    let rows: Vec<Vec<CsvCell>> = state
        .db
        .spray_records_of_farm(id, from.as_deref(), to.as_deref())
        .await?
        .iter()
        .map(record_csv_row)
        .collect();
    Ok(csv::response(
        &csv_name("spray-records", id, &from, &to),
        csv::document(RECORD_CSV_HEADER, rows),
    ))
}

async fn logbook_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(period): Query<Period>,
) -> Result<Response, AppError> {
    readable_farm(&state, &user, id).await?;
    let (from, to) = period.bounds(user.lang)?;
    let rows: Vec<Vec<CsvCell>> = state
        .db
        .logbooks_of_farm(id, from.as_deref(), to.as_deref())
        .await?
        .iter()
        .map(logbook_csv_row)
        .collect();
    Ok(csv::response(
        &csv_name("flight-logbook", id, &from, &to),
        csv::document(LOGBOOK_CSV_HEADER, rows),
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use telemetry::mavlink::dialects::ardupilotmega as apm;
    use telemetry::mavlink::{self, MavlinkVersion};

    use axum::http::header;

    use super::*;
    use crate::routes::flights::tests::{fly, planned};
    use crate::testutil::{Browser, TestApp, both_apps};

    /// A minimal RFC 4180 reader for the tests: rows of fields.
    fn read_csv(s: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let (mut row, mut field) = (Vec::new(), String::new());
        let mut chars = s.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        rows
    }

    /// The `.tlog` with STATUSTEXT frames from the vehicle spliced in at `(seconds after the
    /// first frame, severity, text)`.
    fn with_texts(tlog: &[u8], texts: &[(f64, apm::MavSeverity, &str)]) -> Vec<u8> {
        let (records, _) = telemetry::parse_tlog(tlog);
        let vehicle = records
            .iter()
            .find(|r| matches!(r.frame.msg, telemetry::Msg::HEARTBEAT(_)))
            .expect("a heartbeat")
            .frame
            .header;
        let t0 = records[0].time_us;
        let mut out: Vec<(u64, Vec<u8>)> = records
            .iter()
            .map(|r| (r.time_us, r.frame.raw.clone()))
            .collect();
        for (s, severity, text) in texts {
            let mut raw = Vec::new();
            mavlink::write_versioned_msg(
                &mut raw,
                MavlinkVersion::V2,
                vehicle,
                &apm::MavMessage::STATUSTEXT(apm::STATUSTEXT_DATA {
                    severity: *severity,
                    text: (*text).into(),
                    ..Default::default()
                }),
            )
            .unwrap();
            out.push((t0 + (s * 1e6) as u64, raw));
        }
        out.sort_by_key(|(t, _)| *t);
        let mut bytes = Vec::new();
        for (t, raw) in out {
            bytes.extend_from_slice(&t.to_be_bytes());
            bytes.extend_from_slice(&raw);
        }
        bytes
    }

    fn id_of(location: &axum::http::HeaderValue) -> i64 {
        location
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        let dy = (a.0 - b.0) * 111_320.0;
        let dx = (a.1 - b.1) * 111_320.0 * a.0.to_radians().cos();
        dx.hypot(dy)
    }

    both_apps!(a_replayed_flight_yields_its_record_and_logbook, |app| {
        let d = app.state.db.districts().await.unwrap();
        let farm = app
            .state
            .db
            .create_farm(d[0].id, "kiroku", "crop", "栃木県那須塩原市共墾社1-1")
            .await
            .unwrap();
        let b = app.user("kiroku", Role::Farmer, Some(farm.id)).await;
        let plan_id = planned(app, &b).await;
        let plan = app.state.db.plan(plan_id).await.unwrap();
        let flown = fly(&plan.plan_file).await;
        let tlog = with_texts(
            &flown,
            &[
                (2.0, apm::MavSeverity::MAV_SEVERITY_WARNING, "EKF variance"),
                (2.5, apm::MavSeverity::MAV_SEVERITY_INFO, "just info"),
                (
                    3.0,
                    apm::MavSeverity::MAV_SEVERITY_CRITICAL,
                    "Battery Failsafe",
                ),
            ],
        );
        let r = app
            .post_multipart(
                &format!("/plans/{plan_id}/flights"),
                &b.cookies,
                &[
                    ("csrf", None, b.csrf.as_bytes()),
                    ("tlog", Some("f.tlog"), &tlog),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let id = id_of(&r.headers["location"]);
        assert_eq!(
            app.state.db.flight_tlog(id).await.unwrap().as_deref(),
            Some(&tlog[..]),
            "the .tlog is kept with the flight"
        );

        // Independently: the as-applied area from the track and the plan's legs, at 0.8 L/10a.
        let path = std::path::Path::new("plan");
        let tplan = telemetry::Plan::from_json(&plan.plan_file, path).unwrap();
        let (records, _) = telemetry::parse_tlog(&tlog);
        let track = telemetry::track_from_records(
            &records,
            Some(&tplan),
            telemetry::SprayerOutput::default(),
        );
        let area = telemetry::coverage(&track, &tplan.spray_legs(), 5.0)
            .unwrap()
            .sprayed_m2;
        let litres = area * 0.8 / 1000.0;
        let rec = app.state.db.spray_record_versions(id).await.unwrap();
        assert_eq!(rec.len(), 1);
        let r0 = &rec[0].fields;
        assert!(
            (r0.area_m2.unwrap() - area).abs() < 1e-6,
            "{r0:?} vs {area}"
        );
        assert!((r0.litres.unwrap() - litres).abs() < 1e-9);
        assert_eq!(r0.l_per_10a, Some(0.8));
        assert_eq!(r0.operator, "kiroku");
        assert_eq!(r0.address, "栃木県那須塩原市共墾社1-1");
        let first_t = DateTime::<Utc>::from_timestamp_micros(track[0].time_us as i64).unwrap();
        assert_eq!(r0.sprayed_on, jst_date(first_t));
        let field = app.state.db.field(plan.field_id).await.unwrap();
        assert_eq!(r0.place, field.name);

        // The logbook: takeoff and landing at home (the sim flies RTL), inside the track's time.
        let lb = &app.state.db.logbook_versions(id).await.unwrap()[0].fields;
        let home = tplan.home.unwrap();
        let (take, land) = (lb.takeoff_at.unwrap(), lb.landing_at.unwrap());
        let last_t =
            DateTime::<Utc>::from_timestamp_micros(track.last().unwrap().time_us as i64).unwrap();
        assert!(first_t <= take && take < land && land <= last_t, "{lb:?}");
        assert!(
            metres(
                (lb.takeoff_lat.unwrap(), lb.takeoff_lon.unwrap()),
                (home.0, home.1)
            ) < 3.0
        );
        assert!(
            metres(
                (lb.landing_lat.unwrap(), lb.landing_lon.unwrap()),
                (home.0, home.1)
            ) < 3.0
        );
        assert_eq!(
            lb.flight_s.unwrap(),
            (land - take).num_microseconds().unwrap() as f64 / 1e6
        );
        assert_eq!(lb.purpose, SPRAY_PURPOSE);
        assert_eq!(lb.pilot, "kiroku");
        assert!(lb.takeoff_place.contains(&field.name));
        let (anomalies, failsafes) = event_lines(Lang::Ja, &lb.events_json);
        assert_eq!(anomalies.len(), 2, "{anomalies:?}");
        assert!(anomalies[0].contains("EKF variance") && anomalies[0].contains("WARNING"));
        assert!(anomalies[1].contains("Battery Failsafe"));
        assert_eq!(failsafes.len(), 1, "{failsafes:?}");
        assert!(failsafes[0].contains("バッテリーフェールセーフ"));
        let t_ekf = DateTime::<Utc>::from_timestamp_micros((records[0].time_us + 2_000_000) as i64)
            .unwrap()
            .with_timezone(&JST)
            .format("%H:%M:%S")
            .to_string();
        assert!(
            anomalies[0].starts_with(&t_ekf),
            "{} vs {t_ekf}",
            anomalies[0]
        );

        // The pages show them; the logbook lists the failsafe.
        let page = app.get(&format!("/flights/{id}/record"), &b.cookies).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("農薬使用記録") && page.body.contains("@page { size: A4"));
        let page = app.get(&format!("/flights/{id}/logbook"), &b.cookies).await;
        assert!(page.body.contains("Battery Failsafe"), "{}", page.body);
        assert!(page.body.contains(SPRAY_PURPOSE));
    });

    /// A completed flight of `farm_id` with no field or plan (a flight recorded before records
    /// existed), having flown `area_m2` and used `litres`.
    async fn flight_without_field(app: &TestApp, farm_id: i64, area_m2: f64, litres: f64) -> i64 {
        app.state
            .db
            .create_flight(&crate::storage::NewFlight {
                farm_id,
                field_id: None,
                plan_id: None,
                status: "completed",
                sprayed_area_m2: Some(area_m2),
                litres: Some(litres),
                summary_json: "{}",
                samples: &[],
                tlog: None,
            })
            .await
            .unwrap()
    }

    /// Saves the record form of flight `id` with `notes` and a catalogue pesticide.
    /// Adds a pesticide to `farm`'s catalogue through its form, `(name, reg_no, dilution,
    /// l_per_10a)`, and returns its id as the record form sends it.
    async fn add_pesticide(
        app: &TestApp,
        b: &Browser,
        farm: i64,
        (name, reg_no, dilution, rate): (&str, &str, &str, &str),
    ) -> String {
        let r = app
            .post_form(
                &format!("/farms/{farm}/pesticides"),
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("name", name),
                    ("reg_no", reg_no),
                    ("dilution", dilution),
                    ("l_per_10a", rate),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        app.state.db.pesticides(farm).await.unwrap()[0]
            .id
            .to_string()
    }

    async fn save(
        app: &TestApp,
        b: &Browser,
        id: i64,
        version: &str,
        notes: &str,
        pid: &str,
    ) -> crate::testutil::Resp {
        app.post_form(
            &format!("/flights/{id}/record"),
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("version", version),
                ("sprayed_on", "2026-06-10"),
                ("place", "北の田"),
                ("crop", "水稲"),
                ("pesticide_id", pid),
                ("litres", "1.5"),
                ("area_m2", "1875"),
                ("l_per_10a", ""),
                ("dilution", ""),
                ("operator", "山田 太郎"),
                ("notes", notes),
            ],
        )
        .await
    }

    both_apps!(
        areas_and_volumes_read_rounded_and_keep_their_precision,
        |app| {
            let farm = app.farm("marume", "crop").await;
            let b = app.user("marume", Role::Farmer, Some(farm.id)).await;
            let id = flight_without_field(app, farm.id, 1874.6382, 1.49873).await;
            let page = app.get(&format!("/flights/{id}/record"), &b.cookies).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.body.contains(r#"value="1875""#), "{}", page.body);
            assert!(page.body.contains(r#"value="1.5""#), "{}", page.body);
            assert!(!page.body.contains("1874.6382"), "{}", page.body);
            // Saved as shown: the stored figures keep their precision.
            let r = save(app, &b, id, "1", "", "").await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
            let v = app.state.db.spray_record_versions(id).await.unwrap();
            let f = &v.last().unwrap().fields;
            assert_eq!((f.area_m2, f.litres), (Some(1874.6382), Some(1.49873)));
            let csv = app
                .get(
                    &format!("/farms/{}/records.csv?year=2026", farm.id),
                    &b.cookies,
                )
                .await;
            assert!(csv.body.contains(",1.5,1875,"), "{}", csv.body);
            // A changed figure is taken as typed.
            let r = app
                .post_form(
                    &format!("/flights/{id}/record"),
                    &b.cookies,
                    &[
                        ("csrf", b.csrf.as_str()),
                        ("version", "1"),
                        ("sprayed_on", "2026-06-10"),
                        ("litres", "1.6"),
                        ("area_m2", "1900"),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
            let v = app.state.db.spray_record_versions(id).await.unwrap();
            let f = &v.last().unwrap().fields;
            assert_eq!((f.area_m2, f.litres), (Some(1900.0), Some(1.6)));
        }
    );

    both_apps!(nul_and_overlong_text_is_a_422_on_both_backends, |app| {
        let farm = app.farm("seigyo", "crop").await;
        let b = app.user("seigyo", Role::Farmer, Some(farm.id)).await;
        let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
        for page in ["record", "logbook"] {
            let r = app.get(&format!("/flights/{id}/{page}"), &b.cookies).await;
            assert_eq!(r.status, StatusCode::OK);
        }
        let pesticide = |name: &'static str| {
            let path = format!("/farms/{}/pesticides", farm.id);
            let csrf = b.csrf.clone();
            let cookies = b.cookies.clone();
            async move {
                app.post_form(
                    &path,
                    &cookies,
                    &[("csrf", csrf.as_str()), ("name", name), ("reg_no", "20887")],
                )
                .await
            }
        };
        let r = pesticide("スタークル\0粒剤").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("農薬名: 制御文字"), "{}", r.body);
        let long = "剤".repeat(crate::validate::MAX_NAME + 1);
        let long: &'static str = Box::leak(long.into_boxed_str());
        let r = pesticide(long).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("長すぎます"), "{}", r.body);
        assert!(app.state.db.pesticides(farm.id).await.unwrap().is_empty());
        assert_eq!(
            pesticide("スタークル粒剤").await.status,
            StatusCode::SEE_OTHER
        );

        let record = |name: &'static str| {
            let path = format!("/flights/{id}/record");
            let csrf = b.csrf.clone();
            let cookies = format!("{}; lang=en", b.cookies);
            async move {
                app.post_form(
                    &path,
                    &cookies,
                    &[
                        ("csrf", csrf.as_str()),
                        ("version", "1"),
                        ("sprayed_on", "2026-06-10"),
                        ("pesticide_name", name),
                    ],
                )
                .await
            }
        };
        let r = record("a\0b").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body.contains("Pesticide: must not contain control"),
            "{}",
            r.body
        );

        let logbook = |purpose: &'static str, notes: &'static str| {
            let path = format!("/flights/{id}/logbook");
            let csrf = b.csrf.clone();
            let cookies = b.cookies.clone();
            async move {
                app.post_form(
                    &path,
                    &cookies,
                    &[
                        ("csrf", csrf.as_str()),
                        ("version", "1"),
                        ("purpose", purpose),
                        ("notes", notes),
                    ],
                )
                .await
            }
        };
        let r = logbook("農薬散布\0", "").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("飛行目的: 制御文字"), "{}", r.body);
        let r = logbook("農薬散布\n危険物輸送", "").await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "one line: {}",
            r.body
        );
        // Notes may have several lines.
        let r = logbook("農薬散布", "一行目\n二行目").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    });

    both_apps!(formula_text_is_neutralised_in_both_farm_csvs, |app| {
        let farm = app.farm("shiki", "crop").await;
        let b = app.user("shiki", Role::Farmer, Some(farm.id)).await;
        let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
        for page in ["record", "logbook"] {
            let r = app.get(&format!("/flights/{id}/{page}"), &b.cookies).await;
            assert_eq!(r.status, StatusCode::OK);
        }
        let hostile = "=HYPERLINK(\"http://evil.example\",\"x\")";
        let r = save(app, &b, id, "1", hostile, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let csv = app
            .get(&format!("/farms/{}/records.csv", farm.id), &b.cookies)
            .await;
        let rows = read_csv(csv.body.trim_start_matches('\u{feff}'));
        assert_eq!(rows[1][12], format!("'{hostile}"), "notes neutralised");
        assert_eq!(rows[1][1], "北の田", "plain text unchanged");
        assert_eq!(rows[1][9], "1.5", "a figure stays a number");

        let r = app
            .post_form(
                &format!("/flights/{id}/logbook"),
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("version", "1"),
                    ("pilot", "@SUM(A1)"),
                    ("purpose", "農薬散布"),
                    ("notes", "  -2+3"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let csv = app
            .get(&format!("/farms/{}/logbook.csv", farm.id), &b.cookies)
            .await;
        let rows = read_csv(csv.body.trim_start_matches('\u{feff}'));
        assert_eq!(rows[1][1], "'@SUM(A1)");
        assert_eq!(rows[1][14], "'-2+3");
        assert_eq!(rows[1][12], "農薬散布");
    });

    both_apps!(a_record_without_its_legal_items_cannot_be_signed, |app| {
        let farm = app.farm("kisai", "crop").await;
        let b = app.user("kisai", Role::Farmer, Some(farm.id)).await;
        let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
        // The draft knows date, area and litres, not the pesticide nor the crop.
        let page = app.get(&format!("/flights/{id}/record"), &b.cookies).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("署名の前に"), "{}", page.body);
        assert!(
            !page
                .body
                .contains(&format!("action=\"/flights/{id}/record/sign\""))
        );
        let sign = || async {
            app.post_form(
                &format!("/flights/{id}/record/sign"),
                &b.cookies,
                &[("csrf", b.csrf.as_str()), ("version", "1")],
            )
            .await
        };
        let r = sign().await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body.contains("農薬"),
            "the reason names what is missing: {}",
            r.body
        );
        let v = app.state.db.spray_record_versions(id).await.unwrap();
        assert!(v[0].signed_at.is_none(), "nothing was signed");
        // Filled in and saved, it signs.
        let pid = add_pesticide(app, &b, farm.id, ("ブラシン粉剤", "17744", "", "3")).await;
        assert_eq!(
            save(app, &b, id, "1", "", &pid).await.status,
            StatusCode::SEE_OTHER
        );
        let page = app.get(&format!("/flights/{id}/record"), &b.cookies).await;
        assert!(!page.body.contains("署名の前に"), "{}", page.body);
        assert_eq!(sign().await.status, StatusCode::SEE_OTHER);
    });

    both_apps!(
        the_draft_total_is_the_plan_rate_over_the_sprayed_area,
        |app| {
            let farm = app.farm("gokei", "crop").await;
            let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
            let mut row = app.state.db.flight(id).await.unwrap();
            // The vehicle reported no pumped volume: plan rate 0.8 L/10a over 1 875 m² = 1.5 L.
            row.litres = None;
            let draft = telemetry::LogbookDraft::default();
            let p = super::prefill(&row, None, "", Some(0.8), "山田", "", &draft);
            assert!(
                (p.record.litres.unwrap() - 1.5).abs() < 1e-9,
                "{:?}",
                p.record.litres
            );
            assert_eq!(p.record.l_per_10a, Some(0.8));
            // Pumped volume reported, no plan: the rate follows from it.
            row.litres = Some(3.0);
            let p = super::prefill(&row, None, "", None, "山田", "", &draft);
            assert_eq!(p.record.litres, Some(3.0));
            assert!((p.record.l_per_10a.unwrap() - 1.6).abs() < 1e-9);
        }
    );

    #[test]
    fn the_legal_items_of_a_record_are_required_for_signing() {
        let full = RecordFields {
            sprayed_on: "2026-06-10".into(),
            place: "北の田".into(),
            crop: "水稲".into(),
            pesticide_name: "ブラシン粉剤".into(),
            l_per_10a: Some(3.0),
            litres: Some(5.6),
            ..RecordFields::default()
        };
        assert!(super::missing_for_signing(&full).is_empty());
        let diluted = RecordFields {
            l_per_10a: None,
            dilution: Some(1000.0),
            ..full.clone()
        };
        assert!(
            super::missing_for_signing(&diluted).is_empty(),
            "dilution instead of rate"
        );
        assert_eq!(
            super::missing_for_signing(&RecordFields::default()),
            [
                Msg::RecDate,
                Msg::RecPlace,
                Msg::RecCrop,
                Msg::RecPesticide,
                Msg::RecRate,
                Msg::RecLitres
            ]
        );
    }

    both_apps!(a_signed_record_refuses_edits_and_is_amended, |app| {
        let farm = app.farm("shomei", "crop").await;
        let b = app.user("shomei", Role::Farmer, Some(farm.id)).await;
        let staff = app.user("shomei-staff", Role::Staff, None).await;
        let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
        // A flight recorded before records existed gets its drafts on first view.
        assert_eq!(
            app.get(&format!("/flights/{id}/record"), &b.cookies)
                .await
                .status,
            StatusCode::OK
        );
        let pid = add_pesticide(app, &b, farm.id, ("スタークル粒剤", "20887", "1000", "0.8")).await;
        // Bad input is a 422 naming the field; a forged form and staff are refused.
        let bad = app
            .post_form(
                &format!("/flights/{id}/record"),
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("version", "1"),
                    ("sprayed_on", "6月10日"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("散布日"), "{}", bad.body);
        let mut forged = b.clone();
        forged.csrf = "x".into();
        assert_eq!(
            save(app, &forged, id, "1", "", "").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            save(app, &staff, id, "1", "", "").await.status,
            StatusCode::FORBIDDEN
        );

        let notes = "雨のため一時中断, \"再開\"\n午後に完了";
        let r = save(app, &b, id, "1", notes, &pid).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let v = app.state.db.spray_record_versions(id).await.unwrap();
        assert_eq!(v[0].fields.pesticide_name, "スタークル粒剤");
        assert_eq!(v[0].fields.pesticide_reg_no, "20887");
        assert_eq!(
            (v[0].fields.dilution, v[0].fields.l_per_10a),
            (Some(1000.0), Some(0.8))
        );
        assert_eq!(v[0].fields.notes, notes);
        // The regional reports count the flight under the recorded pesticide, once.
        let months = app
            .state
            .db
            .pesticide_months(
                "2000-01-01T00:00:00Z".parse().unwrap(),
                "2100-01-01T00:00:00Z".parse().unwrap(),
            )
            .await
            .unwrap();
        let flights: i64 = months.iter().map(|m| m.flights).sum();
        assert_eq!(flights, 1, "{months:?}");
        assert_eq!(months[0].pesticide_reg_no.as_deref(), Some("20887"));
        assert_eq!(Some(months[0].litres), v[0].fields.litres);

        let sign = |who: Browser| async move {
            app.post_form(
                &format!("/flights/{id}/record/sign"),
                &who.cookies,
                &[("csrf", who.csrf.as_str()), ("version", "1")],
            )
            .await
        };
        assert_eq!(sign(b.clone()).await.status, StatusCode::SEE_OTHER);
        // Signed: an edit is refused with a 409 and changes nothing.
        let late = save(app, &b, id, "1", "後から書き換え", "").await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
        assert!(late.body.contains("署名済み"), "{}", late.body);
        assert_eq!(sign(b.clone()).await.status, StatusCode::CONFLICT);
        let after = app.state.db.spray_record_versions(id).await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].fields, v[0].fields);
        assert_eq!(after[0].signed_by.as_deref(), Some("shomei"));
        let page = app
            .get(&format!("/flights/{id}/record"), &b.cookies)
            .await
            .body;
        assert!(!page.contains(&format!("action=\"/flights/{id}/record\"")));

        // An amendment is a new version; the signed one stays.
        let r = app
            .post_form(
                &format!("/flights/{id}/record/amend"),
                &b.cookies,
                &[("csrf", b.csrf.as_str())],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            save(app, &b, id, "2", "訂正", &pid).await.status,
            StatusCode::SEE_OTHER
        );
        let v = app.state.db.spray_record_versions(id).await.unwrap();
        assert_eq!(
            (
                v.len(),
                v[0].fields.notes.as_str(),
                v[1].fields.notes.as_str()
            ),
            (2, notes, "訂正")
        );
        let page = app
            .get(&format!("/flights/{id}/record"), &b.cookies)
            .await
            .body;
        assert!(page.contains("以前の版"));

        // The logbook signs the same way.
        let r = app
            .post_form(
                &format!("/flights/{id}/logbook"),
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("version", "1"),
                    ("pilot", "山田"),
                    ("notes", "異常なし"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let r = app
            .post_form(
                &format!("/flights/{id}/logbook/sign"),
                &b.cookies,
                &[("csrf", b.csrf.as_str()), ("version", "1")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let late = app
            .post_form(
                &format!("/flights/{id}/logbook"),
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("version", "1"),
                    ("pilot", "別人"),
                ],
            )
            .await;
        assert_eq!(late.status, StatusCode::CONFLICT);
        assert_eq!(
            app.state.db.logbook_versions(id).await.unwrap()[0]
                .fields
                .pilot,
            "山田"
        );

        // The farm CSV round-trips: BOM, Japanese header, the record's own values.
        let csv = app
            .get(
                &format!("/farms/{}/records.csv?year=2026", farm.id),
                &staff.cookies,
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let body = csv.body.strip_prefix('\u{feff}').expect("a BOM");
        let rows = read_csv(body);
        assert_eq!(rows[0], RECORD_CSV_HEADER);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], written(&record_csv_row(&v[1])));
        assert_eq!(rows[1][12], "訂正");
        assert_eq!(rows[1][0], "2026-06-10");
        let other_year = app
            .get(
                &format!("/farms/{}/records.csv?year=2025", farm.id),
                &b.cookies,
            )
            .await;
        assert_eq!(
            read_csv(other_year.body.trim_start_matches('\u{feff}')).len(),
            1
        );
        let lcsv = app
            .get(&format!("/farms/{}/logbook.csv", farm.id), &b.cookies)
            .await;
        let lrows = read_csv(lcsv.body.trim_start_matches('\u{feff}'));
        assert_eq!(lrows[0], LOGBOOK_CSV_HEADER);
        assert_eq!(lrows[1][1], "山田");
        assert_eq!(
            app.get(&format!("/farms/{}/records?from=x", farm.id), &b.cookies)
                .await
                .status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let list = app
            .get(
                &format!("/farms/{}/records?from=2026-06-01&to=2026-06-30", farm.id),
                &b.cookies,
            )
            .await;
        assert!(
            list.body.contains(&format!("/flights/{id}/record")),
            "{}",
            list.body
        );
    });

    /// The cells as the CSV writes them.
    fn written(cells: &[CsvCell]) -> Vec<String> {
        cells.iter().map(|c| c.written().into_owned()).collect()
    }

    proptest::proptest! {
        #[test]
        fn any_csv_rows_read_back_as_written(
            rows in proptest::collection::vec(
                proptest::collection::vec("[a-z,\"\r\n =+@田畑、。-]{0,12}", 4), 0..6)
        ) {
            let cells: Vec<Vec<CsvCell>> = rows
                .iter()
                .map(|r| r.iter().map(|c| Text(c.clone())).collect())
                .collect();
            let doc = csv::document(["一", "二", "三", "四"], cells.clone());
            let back = read_csv(doc.strip_prefix('\u{feff}').unwrap());
            let want: Vec<Vec<String>> = cells.iter().map(|r| written(r)).collect();
            proptest::prop_assert_eq!(&back[1..], &want[..]);
            for (b, r) in back[1..].iter().zip(&rows) {
                for (b, r) in b.iter().zip(r) {
                    // Never a formula start left, and the typed text follows any added quote.
                    let first = b.trim_start_matches(' ').chars().next();
                    proptest::prop_assert!(!matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')));
                    proptest::prop_assert!(b == r || b.strip_prefix('\'') == Some(r.as_str()));
                }
            }
        }
    }

    #[test]
    fn csv_fields_round_trip() {
        let rows = vec![
            vec![
                Text("a,b".to_owned()),
                Text("\"q\"".into()),
                Text("改行\r\nあり".into()),
                Text(String::new()),
            ],
            vec![
                Text("素".to_owned()),
                Text("x".into()),
                Figure("-1.5".into()),
                Text("z".into()),
            ],
        ];
        let doc = csv::document(["一", "二", "三", "四"], rows.clone());
        assert!(doc.starts_with('\u{feff}'));
        let back = read_csv(doc.trim_start_matches('\u{feff}'));
        assert_eq!(back[0], ["一", "二", "三", "四"]);
        // The reader drops bare CRs outside quotes only, so the quoted CRLF survives.
        let want: Vec<Vec<String>> = rows.iter().map(|r| written(r)).collect();
        assert_eq!(back[1..], want[..]);
        assert_eq!(back[2][2], "-1.5", "a figure stays a number");
    }
}
