//! Flights: record a flown sortie from its `.tlog` against the plan it flew (track, summary,
//! as-applied coverage, litres at the planned rate), and show it with a map and a replay.

use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::pages::{self, fmt_duration, map_assets};
use crate::http::routes::flight_shared::{FLIGHT_READERS, flight_for};
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::Msg;
use crate::i18n::applied::AppliedMsg;
use crate::services::flights::as_applied::{AsApplied, zone_shape};
use crate::services::flights::isoxml::{SprayedPart, TaskInput, task_data};
use crate::services::flights::record::{FlightOrigin, record_flight_from_tlog};
use crate::storage::{FlightRow, Role};

/// Largest `.tlog` accepted (an hour of telemetry at typical rates is a few MB).
const MAX_TLOG: usize = 64 << 20;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/plans/{id}/flights",
            post(record).layer(DefaultBodyLimit::max(MAX_TLOG)),
        )
        .route("/flights/{id}", get(page))
        .route("/flights/{id}/geojson", get(geojson))
        .route("/flights/{id}/track.json", get(track_json))
        .route("/flights/{id}/as-applied.geojson", get(as_applied_geojson))
        .route("/flights/{id}/as-applied.xml", get(as_applied_isoxml))
        .route(
            "/flights/{id}/as-applied-taskdata.zip",
            get(as_applied_taskdata_zip),
        )
}

mod applied_view;

/// The flight's as-applied map: for each prescription zone, the part the flight sprayed with
/// the zone's rate, unit, area and amount (GeoJSON, WGS84). 404 for a flight without one.
async fn as_applied_geojson(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let v: Value = serde_json::from_str(&f.summary_json).unwrap_or(Value::Null);
    let g = &v["as_applied_geojson"];
    if !g.is_object() {
        return Err(AppError::NotFound);
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"flight-{id}-as-applied.geojson\""),
            ),
        ],
        g.to_string(),
    )
        .into_response())
}

/// The flight's as-applied task data, ISO 11783-10 `TASKDATA.XML` (see
/// [`crate::services::flights::isoxml`]): the field, the product, and per prescription zone
/// its sprayed part with its target and (where the pump output is known) applied rate. 404
/// for a flight without a prescription or a field.
async fn as_applied_isoxml(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let (xml, _) = task_xml(&state, &user, &f, false).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"TASKDATA.XML\"".to_owned(),
            ),
        ],
        xml,
    )
        .into_response())
}

/// The flight's as-applied task data with its time log, as an ISOBUS terminal or farm
/// software imports it: `TASKDATA/TASKDATA.XML` (as [`as_applied_isoxml`], naming the vehicle
/// as a device and holding the log) with `TASKDATA/TLG00001.XML` and `TLG00001.BIN`, every
/// position the vehicle reported with its work state and target and laid rates (see
/// [`crate::services::flights::timelog`]). 404 for a flight without a prescription, a field
/// or a stored `.tlog`.
async fn as_applied_taskdata_zip(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    use crate::services::flights::isoxml::{TIME_LOG_NAME, rate_ddis};
    use crate::services::flights::timelog;
    let f = readable_flight(&state, &user, id).await?;
    let (xml, applied) = task_xml(&state, &user, &f, true).await?;
    let tlog = state.db.flight_tlog(id).await?.ok_or(AppError::NotFound)?;
    let plan = state.db.plan(f.plan_id.ok_or(AppError::NotFound)?).await?;
    let zones = state
        .db
        .plan_prescription(plan.id, f.farm_id)
        .await?
        .map(|(_, z)| z)
        .unwrap_or_default();
    let config: Value = serde_json::from_str(&plan.config_json).unwrap_or(Value::Null);
    let unit = applied.unit.clone();
    let zip = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, AppError> {
        let (points, measured) = timelog::points_of(&tlog, &plan.plan_file, &config, &unit, &zones)
            .map_err(AppError::BadInput)?;
        let (setpoint, actual) = rate_ddis(&unit);
        let header = timelog::header_xml(setpoint, measured.then_some(actual));
        let binary = timelog::binary(&points, measured);
        taskdata_zip(&[
            ("TASKDATA/TASKDATA.XML", xml.as_bytes()),
            (&format!("TASKDATA/{TIME_LOG_NAME}.XML"), header.as_bytes()),
            (&format!("TASKDATA/{TIME_LOG_NAME}.BIN"), &binary),
        ])
    })
    .await
    .map_err(|e| AppError::Internal(format!("time log task failed: {e}")))??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"flight-{id}-TASKDATA.zip\""),
            ),
        ],
        zip,
    )
        .into_response())
}

/// A zip of `files` (name, bytes), deflated.
fn taskdata_zip(files: &[(&str, &[u8])]) -> Result<Vec<u8>, AppError> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let fail = |e: &dyn std::fmt::Display| AppError::Internal(format!("zip: {e}"));
    for (name, bytes) in files {
        w.start_file(*name, opts).map_err(|e| fail(&e))?;
        w.write_all(bytes).map_err(|e| fail(&e))?;
    }
    Ok(w.finish().map_err(|e| fail(&e))?.into_inner())
}

/// The task data of flight `f` as `TASKDATA.XML`, and its as-applied amounts.
async fn task_xml(
    state: &AppState,
    user: &CurrentUser,
    f: &FlightRow,
    time_log: bool,
) -> Result<(String, AsApplied), AppError> {
    let id = f.id;
    let v: Value = serde_json::from_str(&f.summary_json).unwrap_or(Value::Null);
    let applied: AsApplied =
        serde_json::from_value(v["as_applied"].clone()).map_err(|_| AppError::NotFound)?;
    let field = state
        .db
        .field(f.field_id.ok_or(AppError::NotFound)?)
        .await?;
    let fc: Value = serde_json::from_str(&field.geojson).unwrap_or(Value::Null);
    let boundary = fc["features"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|ft| ft["properties"]["kind"] == "field")
        .map(|ft| zone_shape(&ft["geometry"].to_string()))
        .unwrap_or_else(|| geo::MultiPolygon::new(vec![]));
    let product = state
        .db
        .spray_record_versions(id)
        .await?
        .pop()
        .map(|r| r.fields.pesticide_name)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| AppliedMsg::UnnamedProduct.text(user.lang).to_owned());
    let part = |ft: &Value| SprayedPart {
        shape: zone_shape(&ft["geometry"].to_string()),
        area_m2: ft["properties"]["applied_m2"].as_f64().unwrap_or(0.0),
    };
    let features = v["as_applied_geojson"]["features"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let is_outside = |ft: &&Value| ft["properties"]["outside"].as_bool() == Some(true);
    let parts: Vec<SprayedPart> = features
        .iter()
        .filter(|ft| !is_outside(ft))
        .map(part)
        .collect();
    let outside = features.iter().find(is_outside).map(part);
    let xml = task_data(&TaskInput {
        flight_id: id,
        field_name: &field.name,
        boundary: &boundary,
        field_area_m2: field.area_ha * 10_000.0,
        product: &product,
        applied: &applied,
        parts: &parts,
        outside: outside.as_ref(),
        span: (f.started_at, f.ended_at),
        time_log,
    })?;
    Ok((xml, applied))
}

/// The flight `id` if `user` may read it.
async fn readable_flight(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FlightRow, AppError> {
    flight_for(state, user, id, FLIGHT_READERS).await
}

/// The parts of the flight upload form (`multipart/form-data`), for the API description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TlogUpload {
    /// The session's CSRF token.
    csrf: String,
    /// The flight's MAVLink `.tlog`.
    #[schema(value_type = String, format = Binary)]
    tlog: Vec<u8>,
}

#[utoipa::path(
    post, path = "/plans/{id}/flights", tag = "flights",
    request_body(content = inline(TlogUpload), content_type = "multipart/form-data"),
    params(("id" = i64, Path, description = "The plan")),
    responses((status = 303, description = "See other: the new flight's page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(plan_id): Path<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    user.require_role(&[Role::Farmer, Role::Dairy])?;
    let plan = state.db.plan(plan_id).await?;
    let field = state.db.field(plan.field_id).await?;
    user.require_farm(field.farm_id)?;
    let mut mp = multipart.map_err(|e| AppError::rejected(e.status(), e.body_text()))?;
    let (mut csrf, mut tlog) = (String::new(), Vec::new());
    while let Some(part) = mp
        .next_field()
        .await
        .map_err(|e| AppError::rejected(e.status(), e.body_text()))?
    {
        let bad = |e: axum::extract::multipart::MultipartError| {
            AppError::rejected(e.status(), e.body_text())
        };
        match part.name().unwrap_or_default() {
            "csrf" => csrf = part.text().await.map_err(bad)?,
            "tlog" => tlog = part.bytes().await.map_err(bad)?.to_vec(),
            _ => {}
        }
    }
    user.check_csrf(&csrf)?;
    if tlog.is_empty() {
        return Err(AppError::BadInput(
            "tlog: choose the flight's .tlog file".into(),
        ));
    }
    let id = record_flight_from_tlog(
        &state.db,
        &plan,
        tlog,
        FlightOrigin::Upload {
            operator: &user.user.display_name,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/flights/{id}")).into_response())
}

async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let gonogo = state.db.gonogo(id).await?;
    let live = state.flights.live(id).is_some();
    let v: Value = serde_json::from_str(&f.summary_json).unwrap_or(Value::Null);
    let s = &v["summary"];
    let c = &v["coverage"];
    let applied: Option<AsApplied> = serde_json::from_value(v["as_applied"].clone()).ok();
    let num = |x: &Value| {
        x.as_f64()
            .map(|n| format!("{n:.0}"))
            .unwrap_or_else(|| "—".into())
    };
    let when = f
        .started_at
        .map(|t| t.with_timezone(&JST).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let title = format!("{} #{} — {when}", Msg::FlightWord.text(lang), f.id);
    let battery = format!(
        "{} → {} %",
        num(&s["battery_pct"][0]),
        num(&s["battery_pct"][1])
    );
    let rows: Vec<(Msg, String)> = vec![
        (
            Msg::Duration,
            s["duration_s"]
                .as_f64()
                .map(fmt_duration)
                .unwrap_or_default(),
        ),
        (Msg::DistanceM, num(&s["distance_m"])),
        (Msg::Battery, battery),
        (
            Msg::SprayingTime,
            s["spraying_s"]
                .as_f64()
                .map(fmt_duration)
                .unwrap_or_default(),
        ),
        (Msg::PlannedM2, num(&c["target_m2"])),
        (Msg::SprayedM2, num(&c["sprayed_m2"])),
        (
            Msg::CoveredPct,
            c["covered_pct"]
                .as_f64()
                .map(|p| format!("{p:.1} %"))
                .unwrap_or_else(|| "—".into()),
        ),
        (Msg::GapsM2, num(&c["gaps_m2"])),
        (Msg::OverlapsM2, num(&c["overlaps_m2"])),
        (Msg::OffTargetM2, num(&c["off_target_m2"])),
        (
            Msg::Litres,
            f.litres
                .map(|l| format!("{l:.1}"))
                .unwrap_or_else(|| "—".into()),
        ),
    ];
    let warnings: Vec<String> = s["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let body = html! {
        h1 { (title) }
        @if let Some(p) = f.plan_id { p { a href=(format!("/plans/{p}")) { "← " (Msg::PlanWord.text(lang)) " #" (p) } } }
        p { (Msg::StatusWord.text(lang)) ": " strong { (super::flight_shared::status_msg(&f.status).text(lang)) }
            @if live { " — " a href=(format!("/flights/{id}/live")) { (Msg::LiveFlight.text(lang)) } } }
        nav aria-label=(Msg::RecLinks.text(lang)) { p {
            a href=(format!("/flights/{id}/record")) { (Msg::RecTitle.text(lang)) } " · "
            a href=(format!("/flights/{id}/logbook")) { (Msg::LogTitle.text(lang)) }
        } }
        table { tbody { @for (label, value) in &rows {
            tr { th scope="row" { (label.text(lang)) } td.num { (value) } }
        } } }
        @if let Some(a) = &applied { (applied_view::section(lang, id, a, &v["as_applied_geojson"])) }
        @if !warnings.is_empty() {
            h2 { (Msg::VehicleWarnings.text(lang)) }
            // "CRITICAL: Battery Failsafe": the severity in the reader's words, the text as
            // the vehicle said it.
            ul { @for w in &warnings { li { @match w.split_once(": ") {
                Some((sev, said)) if sev.chars().all(|c| c.is_ascii_uppercase()) => {
                    (crate::i18n::names::severity_name(lang, sev)) ": " span lang="en" { (said) }
                }
                _ => span lang="en" { (w) },
            } } } }
        }
        div #map data-map data-geojson-url=(format!("/flights/{id}/geojson"))
            data-tile-url=(state.settings.tile_url) role="region" aria-label=(Msg::Map.text(lang))
            style="height: 60vh; min-height: 18rem; border: 2px solid #ccd;" {}
        label for="replay" { (Msg::Replay.text(lang)) }
        input #replay type="range" min="0" max="0" value="0" step="1"
            data-replay=(format!("/flights/{id}/track.json")) data-map-id="map" data-output="replay-at"
            aria-describedby="replay-at";
        output #replay-at for="replay" {}
        h2 { (Msg::Legend.text(lang)) }
        ul {
            li { span style="border-bottom: 5px solid #e65100; padding: 0 1em;" {} " " (Msg::LegendTrackSpray.text(lang)) }
            li { span style="border-bottom: 3px dotted #212121; padding: 0 1em;" {} " " (Msg::LegendTrackOff.text(lang)) }
            li { span style="border-bottom: 4px solid #0b5394; padding: 0 1em;" {} " " (Msg::LegendSpray.text(lang)) }
        }
        @if let Some(g) = &gonogo { (super::flight_shared::gonogo_section(lang, g)) }
        (map_assets(lang))
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

/// The flown track as LineStrings split where the pump switched, over the plan's own GeoJSON.
async fn geojson(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let samples = state.db.flight_samples(id).await?;
    let mut features: Vec<Value> = Vec::new();
    if let Some(plan_id) = f.plan_id {
        let plan = state.db.plan(plan_id).await?;
        if let Ok(Value::Object(fc)) = serde_json::from_str::<Value>(&plan.geojson)
            && let Some(Value::Array(fs)) = fc.get("features")
        {
            features.extend(fs.iter().cloned());
        }
    }
    let mut run: Vec<[f64; 2]> = Vec::new();
    let mut spray = samples.first().is_some_and(|s| s.spray);
    for s in &samples {
        if s.spray != spray {
            // Close the run at this point so the line has no gap.
            run.push([s.lon, s.lat]);
            features.push(
                json!({"type": "Feature", "properties": {"kind": "track", "spray": spray},
                "geometry": {"type": "LineString", "coordinates": run}}),
            );
            run = Vec::new();
            spray = s.spray;
        }
        run.push([s.lon, s.lat]);
    }
    if run.len() >= 2 {
        features.push(
            json!({"type": "Feature", "properties": {"kind": "track", "spray": spray},
            "geometry": {"type": "LineString", "coordinates": run}}),
        );
    }
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
        .into_response())
}

/// `[[lat, lon, spraying, "HH:MM:SS"], …]` for the replay slider.
async fn track_json(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<Value>>, AppError> {
    readable_flight(&state, &user, id).await?;
    Ok(axum::Json(
        state
            .db
            .flight_samples(id)
            .await?
            .iter()
            .map(|s| {
                json!([
                    s.lat,
                    s.lon,
                    s.spray,
                    s.t.with_timezone(&JST).format("%H:%M:%S").to_string()
                ])
            })
            .collect(),
    ))
}

#[cfg(test)]
pub(crate) mod tests;
