//! Farmers' fields and spray plans: import (GeoJSON, KML/KMZ, fude polygons) or draw a field,
//! see it on the map, plan it with the planner's options, see swaths, transits and sorties on
//! the map, and download the mission files.

use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use geo::ChamberlainDuquetteArea;
use maud::{Markup, html};
use mission_planner::{
    ApplicationRate, Autopilot, Field, Litres, Metres, MetresPerSecond, PlanConfig, Polygon,
    Seconds, SwathWidth,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[allow(unused_imports)]
use super::openapi::ApiError;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppForm};
use crate::i18n::JST;
use crate::i18n::{Lang, Msg};
use crate::pages::{self, fmt_duration, map_assets};
use crate::storage::{FieldRow, NewField, NewPlan, PlanRow, Role};
use crate::validate::{Lines, MAX_NAME, check_text, clean_text};

/// Longest crop name, in characters.
const MAX_CROP: usize = 50;

/// Largest upload accepted (a KMZ of a whole village's fields fits easily).
const MAX_UPLOAD: usize = 16 << 20;

/// Runs heavy field work (imports, plans) on blocking threads, at most `n_slots` at once,
/// each within a deadline, so the request workers (and `/healthz`) keep answering however
/// many large fields are sent at the same time.
///
/// A job past its deadline is abandoned: the person gets an answer at once, but the thread
/// cannot be stopped and keeps its slot until it ends, so abandoned jobs still count
/// against the limit. The planner's field limits keep every job's length bounded.
#[derive(Debug, Clone)]
pub struct PlannerPool {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    n_slots: usize,
    deadline: std::time::Duration,
}

/// Why a job of the [`PlannerPool`] gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// No slot came free before the deadline.
    Busy,
    /// The job ran past the deadline and was abandoned.
    Deadline,
    /// The job panicked (a bug; the detail is logged).
    Failed(String),
}

impl PlannerPool {
    /// A pool running at most `n_slots` jobs (at least 1), each given `deadline`.
    pub fn new(n_slots: usize, deadline: std::time::Duration) -> PlannerPool {
        let n_slots = n_slots.max(1);
        PlannerPool {
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(n_slots)),
            n_slots,
            deadline,
        }
    }

    /// How many jobs may run at once.
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// How many slots are free now.
    pub fn n_free(&self) -> usize {
        self.slots.available_permits()
    }

    /// The deadline of one job, waiting for a slot included.
    pub fn deadline(&self) -> std::time::Duration {
        self.deadline
    }

    /// Runs `job` on a blocking thread once a slot is free.
    ///
    /// # Errors
    /// [`PoolError::Busy`] when no slot is free before the deadline, [`PoolError::Deadline`]
    /// when the job does not end before it, [`PoolError::Failed`] when it panicked.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let end = tokio::time::Instant::now() + self.deadline;
        let permit = tokio::time::timeout_at(end, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| PoolError::Busy)?
            .map_err(|e| PoolError::Failed(e.to_string()))?;
        // The permit moves into the thread: the slot is free only when the work really ends.
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        });
        match tokio::time::timeout_at(end, handle).await {
            Err(_) => {
                tracing::warn!(
                    message = "Planner job abandoned at its deadline.",
                    deadline_s = self.deadline.as_secs_f64()
                );
                Err(PoolError::Deadline)
            }
            Ok(Err(e)) => Err(PoolError::Failed(e.to_string())),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

impl Default for PlannerPool {
    fn default() -> Self {
        PlannerPool::new(2, std::time::Duration::from_secs(30))
    }
}

/// The answer to a job the pool could not run: 503 in the person's language (busy or too
/// slow), a logged 500 for a panic.
fn pool_refusal(e: PoolError) -> Result<Response, AppError> {
    let msg = match e {
        PoolError::Busy => Msg::PlannerBusy,
        PoolError::Deadline => Msg::PlannerDeadline,
        PoolError::Failed(detail) => {
            return Err(AppError::Internal(format!("planner job failed: {detail}")));
        }
    };
    let mut resp = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "30")],
    )
        .into_response();
    resp.extensions_mut()
        .insert(crate::error::ErrorInfo { msg, detail: None });
    Ok(resp)
}

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/fields", get(list))
        .route(
            "/fields/import",
            post(import).layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/fields.geojson", get(all_geojson))
        .route("/fields/{id}", get(detail))
        .route("/fields/{id}/geojson", get(field_geojson))
        .route("/fields/{id}/plan", post(make_plan))
        .route("/plans/{id}", get(plan_page))
        .route("/plans/{id}/geojson", get(plan_geojson))
        .route("/plans/{id}/download/{kind}", get(download))
        .route("/api/v1/fields", get(api_fields))
        .route("/api/v1/plans/{id}", get(api_plan))
}

const READERS: &[Role] = &[Role::Admin, Role::Staff, Role::Farmer, Role::Dairy];

/// The farm whose fields `user` may change: farmers and dairy operators, their own farm.
fn writable_farm(user: &CurrentUser) -> Result<i64, AppError> {
    user.require_role(&[Role::Farmer, Role::Dairy])?;
    user.user.farm_id.ok_or(AppError::Forbidden)
}

/// The field `id` if `user` may read it.
async fn readable_field(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FieldRow, AppError> {
    user.require_role(READERS)?;
    let f = state.db.field(id).await?;
    user.require_farm(f.farm_id)?;
    Ok(f)
}

/// The plan `id` and its field if `user` may read them.
async fn readable_plan(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<(PlanRow, FieldRow), AppError> {
    let p = state.db.plan(id).await?;
    let f = readable_field(state, user, p.field_id).await?;
    Ok((p, f))
}

/// The fields `user` may read.
async fn readable_fields(state: &AppState, user: &CurrentUser) -> Result<Vec<FieldRow>, AppError> {
    user.require_role(READERS)?;
    if user.user.role.sees_all_farms() {
        Ok(state.db.fields(None).await?)
    } else {
        match user.user.farm_id {
            Some(farm) => Ok(state.db.fields(Some(farm)).await?),
            None => Ok(Vec::new()),
        }
    }
}

fn rings(p: &Polygon) -> Vec<Vec<[f64; 2]>> {
    std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(|r| r.coords().map(|c| [c.x, c.y]).collect())
        .collect()
}

/// The stored form of a field: a FeatureCollection the planner reads back as the same field.
pub(crate) fn field_collection(f: &Field, name: &str) -> Value {
    let mut features = vec![json!({
        "type": "Feature",
        "properties": {"id": f.id, "land_type": f.land_type, "name": name, "kind": "field"},
        "geometry": {"type": "Polygon", "coordinates": rings(&f.boundary)},
    })];
    for (role, zones) in [("exclusion", &f.exclusions), ("sensitive", &f.sensitive)] {
        for z in zones {
            features.push(json!({
                "type": "Feature",
                "properties": {"role": role, "kind": role},
                "geometry": {"type": "Polygon", "coordinates": rings(z)},
            }));
        }
    }
    json!({"type": "FeatureCollection", "features": features})
}

/// Reads a stored field back into the planner's [`Field`].
fn stored_field(row: &FieldRow) -> Result<Field, AppError> {
    let set = mission_planner::read_fields(row.geojson.as_bytes())
        .map_err(|e| AppError::Internal(format!("stored field {} unreadable: {e}", row.id)))?;
    set.fields
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Internal(format!("stored field {} is empty", row.id)))?
        .map_err(|e| AppError::Internal(format!("stored field {} invalid: {e}", row.id)))
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && s.matches('-').count() == 4
}

fn map_div(url: &str, tile_url: &str, label: &str) -> Markup {
    html! {
        div #map data-map data-geojson-url=(url) data-tile-url=(tile_url)
            role="region" aria-label=(label) style="height: 60vh; min-height: 18rem; border: 2px solid #ccd;" {}
    }
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    render_list(&state, &user, None, &[], StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    user: &CurrentUser,
    imported: Option<&[FieldRow]>,
    errors: &[String],
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = user.lang;
    let fields = readable_fields(state, user).await?;
    let can_write = writable_farm(user).is_ok();
    let title = Msg::Fields.text(lang);
    let body = html! {
        h1 { (title) }
        @if let Some(done) = imported {
            div.notice role="status" {
                (Msg::FieldsImported.text(lang)) " "
                @for (i, f) in done.iter().enumerate() {
                    @if i > 0 { "、" }
                    a href=(format!("/fields/{}", f.id)) { (f.name) }
                }
            }
        }
        @if !errors.is_empty() {
            div.alert role="alert" {
                p { (Msg::FieldErrors.text(lang)) }
                ul { @for e in errors { li { (e) } } }
            }
        }
        (map_div("/fields.geojson", &state.settings.tile_url, Msg::Map.text(lang)))
        @if fields.is_empty() { p { (Msg::NoDataYet.text(lang)) } } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::Name.text(lang)) }
                    th scope="col" { (Msg::Crop.text(lang)) }
                    th scope="col" { (Msg::LandType.text(lang)) }
                    th.num scope="col" { (Msg::AreaHa.text(lang)) }
                } }
                tbody { @for f in &fields { tr {
                    td { a href=(format!("/fields/{}", f.id)) { (f.name) } }
                    td { (f.crop) }
                    td { (f.land_type.as_deref().unwrap_or("—")) }
                    td.num { (format!("{:.2}", f.area_ha)) }
                } } }
            }
        }
        @if can_write {
            h2 { (Msg::ImportFields.text(lang)) }
            form method="post" action="/fields/import" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(user.csrf_token);
                label for="field-file" { (Msg::FieldFile.text(lang)) }
                input #field-file type="file" name="file" accept=".geojson,.json,.kml,.kmz";
                h3 { (Msg::DrawField.text(lang)) }
                p #draw-help { (Msg::DrawHelp.text(lang)) }
                div data-map data-tile-url=(state.settings.tile_url) data-draw-target="field-geojson"
                    data-draw-clear="draw-clear" role="application" aria-describedby="draw-help"
                    aria-label=(Msg::DrawField.text(lang))
                    style="height: 45vh; min-height: 16rem; border: 2px solid #ccd;" {}
                p { button.secondary #draw-clear type="button" { (Msg::ClearDrawing.text(lang)) } }
                label for="field-geojson" { (Msg::PasteGeoJson.text(lang)) }
                textarea #field-geojson name="geojson" rows="4" {}
                label for="field-name" { (Msg::Name.text(lang)) }
                input #field-name name="name" maxlength="100";
                label for="field-crop" { (Msg::Crop.text(lang)) }
                input #field-crop name="crop" maxlength="50" placeholder="水稲";
                p { button type="submit" { (Msg::ImportFields.text(lang)) } }
            }
        }
        (map_assets())
    };
    Ok((status, pages::layout(lang, title, Some(user), body)).into_response())
}

async fn import(
    State(state): State<AppState>,
    user: CurrentUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let farm_id = writable_farm(&user)?;
    let mut mp = multipart.map_err(|e| AppError::rejected(e.status(), e.body_text()))?;
    let (mut csrf, mut file, mut pasted, mut name, mut crop) = (
        String::new(),
        Vec::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    while let Some(part) = mp
        .next_field()
        .await
        .map_err(|e| AppError::rejected(e.status(), e.body_text()))?
    {
        let key = part.name().unwrap_or_default().to_owned();
        let bad = |e: axum::extract::multipart::MultipartError| {
            AppError::rejected(e.status(), e.body_text())
        };
        match key.as_str() {
            "file" => file = part.bytes().await.map_err(bad)?.to_vec(),
            "csrf" => csrf = part.text().await.map_err(bad)?,
            "geojson" => pasted = part.text().await.map_err(bad)?,
            "name" => name = part.text().await.map_err(bad)?,
            "crop" => crop = part.text().await.map_err(bad)?,
            _ => {}
        }
    }
    user.check_csrf(&csrf)?;
    let input: Vec<u8> = if !file.is_empty() {
        file
    } else if !pasted.trim().is_empty() {
        pasted.trim().as_bytes().to_vec()
    } else {
        return Err(AppError::BadInput(
            Msg::NothingToImport.text(user.lang).to_owned(),
        ));
    };
    let lang = user.lang;
    let (name, crop) = (name.trim(), crop.trim());
    check_text(lang, Msg::Name.text(lang), name, MAX_NAME, Lines::One)?;
    check_text(lang, Msg::Crop.text(lang), crop, MAX_CROP, Lines::One)?;
    let set = match state
        .settings
        .planner
        .run(move || mission_planner::read_fields(&input))
        .await
    {
        Ok(r) => r.map_err(|e| AppError::BadInput(plan_error_text(&e, lang)))?,
        Err(e) => return pool_refusal(e),
    };
    let n_fields = set.fields.len();
    // What each readable field becomes, worked out before the transaction that stores them.
    struct Prepared {
        display: String,
        land_type: Option<String>,
        fude_polygon_id: Option<String>,
        geojson: String,
        area_ha: f64,
    }
    let mut prepared = Vec::new();
    let mut errors = Vec::new();
    for (i, result) in set.fields.into_iter().enumerate() {
        match result {
            Ok(f) => {
                // A name from the file (its feature id) is cleaned, not refused.
                let display = match (name.is_empty(), n_fields) {
                    (false, 1) => name.to_owned(),
                    (false, _) => format!("{name} {}", i + 1),
                    (true, _) => clean_text(&f.id, MAX_NAME),
                };
                prepared.push(Prepared {
                    land_type: f.land_type.as_deref().map(|t| clean_text(t, MAX_NAME)),
                    fude_polygon_id: looks_like_uuid(&f.id).then(|| f.id.clone()),
                    area_ha: f.boundary.chamberlain_duquette_unsigned_area() / 10_000.0,
                    geojson: field_collection(&f, &display).to_string(),
                    display,
                });
            }
            Err(e) => errors.push(plan_error_text(&e, lang)),
        }
    }
    // The fields of one file are stored together or not at all.
    let mut imported = Vec::new();
    let mut tx = state.db.begin().await?;
    for p in &prepared {
        let row = tx
            .create_field(&NewField {
                farm_id,
                name: &p.display,
                crop,
                fude_polygon_id: p.fude_polygon_id.as_deref(),
                land_type: p.land_type.as_deref(),
                geojson: &p.geojson,
                area_ha: p.area_ha,
            })
            .await?;
        imported.push(row);
        tx.checkpoint("fields.after_field").await?;
    }
    tx.commit().await?;
    let status = if imported.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_list(&state, &user, Some(&imported), &errors, status).await
}

/// A number as people read it: plain when of everyday size, else scientific (`1e308`).
fn short_num(v: f64) -> String {
    if v == 0.0 || (v.is_finite() && (1e-3..1e9).contains(&v.abs())) {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else if v.is_finite() {
        let s = format!("{v:.3e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            None => s,
        }
    } else {
        v.to_string()
    }
}

/// Where in the file a defect is, in the person's language: the feature, then the ring and
/// vertex when known.
fn place(
    lang: Lang,
    f: &mission_planner::FeatureRef,
    ring: Option<mission_planner::Ring>,
    vertex: Option<usize>,
) -> String {
    use mission_planner::Ring as R;
    let mut s = format!("{} #{}", Msg::FeatureWord.text(lang), f.index);
    if let Some(id) = &f.id {
        s.push_str(&format!(" (id {:?})", clean_text(id, MAX_NAME)));
    }
    match ring {
        Some(R::Exterior) => s.push_str(&format!(", {}", Msg::ExteriorRing.text(lang))),
        Some(R::Interior(i)) => s.push_str(&format!(", {} {i}", Msg::InteriorRing.text(lang))),
        _ => {}
    }
    if let Some(v) = vertex {
        s.push_str(&format!(", {} {v}", Msg::VertexWord.text(lang)));
    }
    s
}

/// What is wrong with a file, a field or the plan options and how to fix it, in the person's
/// language; errors without their own sentence keep the planner's (English) wording.
fn plan_error_text(e: &mission_planner::PlanError, lang: Lang) -> String {
    use mission_planner::{KmzLimit as K, PlanError as E};
    let ring_name = |r: mission_planner::Ring| match r {
        mission_planner::Ring::Exterior => Msg::ExteriorRing.text(lang).to_owned(),
        mission_planner::Ring::Interior(i) => format!("{} {i}", Msg::InteriorRing.text(lang)),
    };
    match e {
        E::TooDeep { limit, .. } => format!("{} {limit}", Msg::ImportTooDeep.text(lang)),
        E::KmzLimit {
            limit: K::Entries(n),
        } => format!("{} {n}", Msg::KmzTooManyEntries.text(lang)),
        E::KmzLimit {
            limit: K::Inflated(n),
        } => format!("{} {}", Msg::KmzTooLarge.text(lang), n >> 20),
        E::KmzLimit { limit: K::Ratio(r) } => format!("{} {r}", Msg::KmzBadRatio.text(lang)),
        E::TooManyVertices {
            feature,
            ring,
            n_vertices,
            limit,
            simplified,
        } => format!(
            "{}: {} {n_vertices}{} / {limit}",
            place(lang, feature, Some(*ring), None),
            Msg::FieldTooManyVertices.text(lang),
            if *simplified {
                Msg::AfterThinning.text(lang)
            } else {
                ""
            }
        ),
        E::TooManyPolygonVertices {
            feature,
            n_vertices,
            limit,
        } => format!(
            "{}: {} {n_vertices} / {limit}",
            place(lang, feature, None, None),
            Msg::FieldTooManyVertices.text(lang)
        ),
        E::TooManyHoles {
            feature,
            n_holes,
            limit,
        } => format!(
            "{}: {} {n_holes} / {limit}",
            place(lang, feature, None, None),
            Msg::FieldTooManyHoles.text(lang)
        ),
        E::TooManyZones {
            feature,
            n_zones,
            limit,
        } => format!(
            "{}: {} {n_zones} / {limit}",
            place(lang, feature, None, None),
            Msg::FieldTooManyZones.text(lang)
        ),
        E::TooManyFileVertices { n_vertices, limit } => format!(
            "{} {n_vertices} / {limit}",
            Msg::FileTooManyVertices.text(lang)
        ),
        E::CrossesAntimeridian {
            feature,
            ring,
            vertex,
        } => format!(
            "{}: {}",
            place(lang, feature, Some(*ring), Some(*vertex)),
            Msg::CrossesAntimeridian.text(lang)
        ),
        E::SelfIntersection {
            feature,
            ring_a,
            vertex_a,
            ring_b,
            vertex_b,
        } => {
            let v = Msg::VertexWord.text(lang);
            format!(
                "{}: {} {} {v} {vertex_a} — {} {v} {vertex_b}",
                place(lang, feature, None, None),
                Msg::SelfIntersection.text(lang),
                ring_name(*ring_a),
                ring_name(*ring_b),
            )
        }
        E::ZeroArea { feature, area_m2 } => format!(
            "{}: {} {}",
            place(lang, feature, None, None),
            Msg::ZeroAreaField.text(lang),
            short_num(*area_m2)
        ),
        E::TooLarge {
            feature,
            area_ha,
            limit_ha,
        } => format!(
            "{}: {} {} / {}",
            place(lang, feature, None, None),
            Msg::FieldTooLargeHa.text(lang),
            short_num(*area_ha),
            short_num(*limit_ha)
        ),
        E::OutOfRange {
            feature,
            ring,
            vertex,
            lon,
            lat,
            swapped,
        } => format!(
            "{}: {} ({}, {}){}",
            place(lang, feature, Some(*ring), Some(*vertex)),
            Msg::CoordOutOfRange.text(lang),
            short_num(*lon),
            short_num(*lat),
            if *swapped {
                format!(" {}", Msg::CoordSwapped.text(lang))
            } else {
                String::new()
            }
        ),
        E::NonFiniteCoord {
            feature,
            ring,
            vertex,
        } => format!(
            "{}: {}",
            place(lang, feature, Some(*ring), Some(*vertex)),
            Msg::CoordNotFinite.text(lang)
        ),
        E::TooFewPoints {
            feature,
            ring,
            n_distinct,
        } => format!(
            "{}: {} {n_distinct}",
            place(lang, feature, Some(*ring), None),
            Msg::TooFewPointsField.text(lang)
        ),
        E::UnsupportedGeometry { feature, kind } => format!(
            "{}: {} {kind}",
            place(lang, feature, None, None),
            Msg::UnsupportedShape.text(lang)
        ),
        E::InvalidValue {
            quantity,
            value,
            expected,
        } => format!(
            "{} {quantity} = {} ({expected})",
            Msg::SettingOutOfRange.text(lang),
            short_num(*value)
        ),
        E::NothingToSpray { .. } => Msg::NothingLeftToSpray.text(lang).to_owned(),
        other => other.to_string(),
    }
}

async fn all_geojson(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let mut features = Vec::new();
    for f in readable_fields(&state, &user).await? {
        let fc: Value = serde_json::from_str(&f.geojson).unwrap_or(Value::Null);
        if let Some(Value::Array(fs)) = fc.get("features") {
            for mut feat in fs.iter().cloned() {
                if feat["properties"]["kind"] == "field" {
                    feat["properties"]["name"] = json!(f.name);
                    feat["properties"]["href"] = json!(format!("/fields/{}", f.id));
                }
                features.push(feat);
            }
        }
    }
    Ok(geojson_response(
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    ))
}

fn geojson_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/geo+json")], body).into_response()
}

async fn field_geojson(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_field(&state, &user, id).await?;
    Ok(geojson_response(f.geojson))
}

/// The planner options of the plan form, in the units farmers use.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlanForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    swath_width: f64,
    rate_l_per_10a: f64,
    tank_l: f64,
    endurance_min: f64,
    speed_mps: f64,
    height_m: f64,
    headland_passes: u32,
    drift_buffer_m: f64,
    autopilot: String,
}

impl Default for PlanForm {
    fn default() -> Self {
        PlanForm {
            csrf: String::new(),
            swath_width: 5.0,
            rate_l_per_10a: 0.8,
            tank_l: 10.0,
            endurance_min: 10.0,
            speed_mps: 5.0,
            height_m: 2.0,
            headland_passes: 1,
            drift_buffer_m: 5.0,
            autopilot: "ardupilot".to_owned(),
        }
    }
}

impl PlanForm {
    fn config(&self) -> Result<(PlanConfig, Autopilot), mission_planner::PlanError> {
        let mut c = PlanConfig::new(SwathWidth::new(self.swath_width)?);
        c.rate = ApplicationRate::from_l_per_10a(self.rate_l_per_10a)?;
        c.tank = Litres::new(self.tank_l)?;
        c.endurance = Seconds::new(self.endurance_min * 60.0)?;
        c.spray_speed = MetresPerSecond::new(self.speed_mps)?;
        c.height = Metres::new(self.height_m)?;
        c.headland_passes = self.headland_passes;
        c.drift_buffer = Metres::new(self.drift_buffer_m)?;
        c.check()?;
        let ap = match self.autopilot.as_str() {
            "px4" => Autopilot::Px4Actuator,
            _ => Autopilot::ArduPilot,
        };
        Ok((c, ap))
    }
}

fn number_input(id: &str, label: Msg, lang: Lang, value: f64, step: &str) -> Markup {
    html! {
        label for=(id) { (label.text(lang)) }
        input id=(id) name=(id) type="number" inputmode="decimal" step=(step) min="0" required value=(value);
    }
}

async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_field(&state, &user, id).await?;
    let lang = user.lang;
    let plans = state.db.plans_of_field(id).await?;
    let can_write = writable_farm(&user).is_ok_and(|farm| farm == f.farm_id);
    let d = PlanForm::default();
    let body = html! {
        h1 { (f.name) }
        dl {
            dt { (Msg::AreaHa.text(lang)) } dd { (format!("{:.2}", f.area_ha)) }
            @if let Some(fude) = &f.fude_polygon_id { dt { (Msg::FudeId.text(lang)) } dd { code { (fude) } } }
            @if let Some(lt) = &f.land_type { dt { (Msg::LandType.text(lang)) } dd { (lt) } }
            @if !f.crop.is_empty() { dt { (Msg::Crop.text(lang)) } dd { (f.crop) } }
        }
        (map_div(&format!("/fields/{id}/geojson"), &state.settings.tile_url, Msg::Map.text(lang)))
        @if !plans.is_empty() {
            h2 { (Msg::Plans.text(lang)) }
            ul { @for p in &plans {
                li { a href=(format!("/plans/{}", p.id)) {
                    (Msg::PlanWord.text(lang)) " #" (p.id) " — "
                    (p.created_at.with_timezone(&JST).format("%Y-%m-%d %H:%M"))
                } }
            } }
        }
        @if can_write {
            h2 { (Msg::PlanSpray.text(lang)) }
            form method="post" action=(format!("/fields/{id}/plan")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                (number_input("swath_width", Msg::SwathWidth, lang, d.swath_width, "0.1"))
                (number_input("rate_l_per_10a", Msg::RateL10a, lang, d.rate_l_per_10a, "0.01"))
                (number_input("tank_l", Msg::TankL, lang, d.tank_l, "0.5"))
                (number_input("endurance_min", Msg::EnduranceMin, lang, d.endurance_min, "0.5"))
                (number_input("speed_mps", Msg::SpeedMps, lang, d.speed_mps, "0.1"))
                (number_input("height_m", Msg::HeightM, lang, d.height_m, "0.1"))
                (number_input("headland_passes", Msg::HeadlandPasses, lang, f64::from(d.headland_passes), "1"))
                (number_input("drift_buffer_m", Msg::DriftBufferM, lang, d.drift_buffer_m, "0.5"))
                label for="autopilot" { (Msg::Autopilot.text(lang)) }
                select #autopilot name="autopilot" {
                    option value="ardupilot" selected { "ArduPilot Copter" }
                    option value="px4" { "PX4" }
                }
                p { button type="submit" { (Msg::MakePlan.text(lang)) } }
            }
        }
        (map_assets())
    };
    Ok(pages::layout(lang, &f.name, Some(&user), body).into_response())
}

async fn make_plan(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<PlanForm>,
) -> Result<Response, AppError> {
    let farm = writable_farm(&user)?;
    user.check_csrf(&form.csrf)?;
    let row = readable_field(&state, &user, id).await?;
    if row.farm_id != farm {
        return Err(AppError::Forbidden);
    }
    let (config, autopilot) = form
        .config()
        .map_err(|e| AppError::BadInput(plan_error_text(&e, user.lang)))?;
    let lang = user.lang;
    let job = move || stored_field(&row).map(|field| mission_planner::plan(&field, &config));
    let planned = match state.settings.planner.run(job).await {
        Ok(r) => r?.map_err(|e| {
            AppError::BadInput(format!(
                "{} {}",
                Msg::PlanFailed.text(lang),
                plan_error_text(&e, lang)
            ))
        })?,
        Err(e) => return pool_refusal(e),
    };
    let plan_file = mission_planner::to_qgc_plan(&planned, autopilot, None);
    let waypoints = mission_planner::to_waypoints(&planned, autopilot, None);
    let kml = mission_planner::to_kml(&planned);
    let geojson = mission_planner::to_geojson(&planned);
    let report =
        serde_json::to_string(&planned.report).map_err(|e| AppError::Internal(e.to_string()))?;
    let config_json =
        serde_json::to_string(&form).map_err(|e| AppError::Internal(e.to_string()))?;
    let plan_id = state
        .db
        .create_plan(&NewPlan {
            field_id: id,
            config_json: &config_json,
            report_json: &report,
            plan_file: &plan_file,
            geojson: &geojson,
            waypoints_file: &waypoints,
            kml_file: &kml,
            autopilot: if autopilot == Autopilot::ArduPilot {
                "ardupilot"
            } else {
                "px4"
            },
        })
        .await?;
    Ok(Redirect::to(&format!("/plans/{plan_id}")).into_response())
}

async fn plan_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (p, f) = readable_plan(&state, &user, id).await?;
    let lang = user.lang;
    let r: Value = serde_json::from_str(&p.report_json).unwrap_or(Value::Null);
    let num = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let title = format!("{} — {} #{}", f.name, Msg::PlanWord.text(lang), p.id);
    let flights = state.db.flights_of_plan(id).await?;
    let can_write = writable_farm(&user).is_ok_and(|farm| farm == f.farm_id);
    let rows: Vec<(Msg, String)> = vec![
        (Msg::AreaHa, format!("{:.2}", num("area_ha"))),
        (Msg::SprayableHa, format!("{:.2}", num("sprayable_ha"))),
        (Msg::Swaths, format!("{:.0}", num("n_swaths"))),
        (Msg::PathM, format!("{:.0}", num("path_length_m"))),
        (Msg::FlightTime, fmt_duration(num("flight_time_s"))),
        (Msg::Litres, format!("{:.1}", num("litres"))),
        (Msg::Sorties, format!("{:.0}", num("sorties"))),
        (Msg::Coverage, format!("{:.1} %", num("coverage") * 100.0)),
    ];
    let body = html! {
        h1 { (title) }
        p { a href=(format!("/fields/{}", f.id)) { "← " (f.name) } }
        table {
            tbody { @for (label, value) in &rows {
                tr { th scope="row" { (label.text(lang)) } td.num { (value) } }
            } }
        }
        (map_div(&format!("/plans/{id}/geojson"), &state.settings.tile_url, Msg::Map.text(lang)))
        h2 { (Msg::Legend.text(lang)) }
        ul.legend {
            li { span style="border-bottom: 4px solid #0b5394; padding: 0 1em;" {} " " (Msg::LegendSpray.text(lang)) }
            li { span style="border-bottom: 3px dashed #616161; padding: 0 1em;" {} " " (Msg::LegendTransit.text(lang)) }
            li { span style="background: #ef9a9a; border: 2px solid #b71c1c; padding: 0 1em;" {} " " (Msg::LegendExclusion.text(lang)) }
        }
        h2 { (Msg::Downloads.text(lang)) }
        ul {
            li { a href=(format!("/plans/{id}/download/plan")) download { "QGroundControl (.plan)" } }
            li { a href=(format!("/plans/{id}/download/waypoints")) download { "Mission Planner (.waypoints)" } }
            li { a href=(format!("/plans/{id}/download/kml")) download { "Google Earth (.kml)" } }
            li { a href=(format!("/plans/{id}/download/geojson")) download { "GeoJSON" } }
        }
        h2 { (Msg::Flights.text(lang)) }
        @if flights.is_empty() { p { (Msg::NoDataYet.text(lang)) } } @else {
            ul { @for fl in &flights { li {
                a href=(format!("/flights/{}", fl.id)) { (Msg::FlightWord.text(lang)) " #" (fl.id) }
                @if let Some(a) = fl.sprayed_area_m2 { " — " (format!("{a:.0} m²")) }
            } } }
        }
        @if matches!(user.user.role, Role::Admin | Role::Farmer) && user.require_farm(f.farm_id).is_ok() {
            p { a.button href=(format!("/plans/{id}/launch")) { (Msg::LaunchFlight.text(lang)) } }
        }
        @if can_write {
            h3 { (Msg::RecordFlight.text(lang)) }
            form method="post" action=(format!("/plans/{id}/flights")) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(user.csrf_token);
                label for="tlog" { (Msg::TlogFile.text(lang)) }
                input #tlog type="file" name="tlog" accept=".tlog" required;
                p { button type="submit" { (Msg::RecordFlight.text(lang)) } }
            }
        }
        (map_assets())
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

async fn plan_geojson(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (p, _) = readable_plan(&state, &user, id).await?;
    Ok(geojson_response(p.geojson))
}

async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, kind)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let (p, f) = readable_plan(&state, &user, id).await?;
    let (ext, ctype, body) = match kind.as_str() {
        "plan" => ("plan", "application/json", p.plan_file),
        "waypoints" => ("waypoints", "text/plain; charset=utf-8", p.waypoints_file),
        "kml" => ("kml", "application/vnd.google-earth.kml+xml", p.kml_file),
        "geojson" => ("geojson", "application/geo+json", p.geojson),
        _ => return Err(AppError::NotFound),
    };
    let stem: String = f
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{stem}-plan{id}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The fields the signed-in user may see (geometry as a GeoJSON FeatureCollection string).
#[utoipa::path(get, path = "/api/v1/fields", tag = "fields",
    responses((status = 200, body = Vec<FieldRow>), (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_fields(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<FieldRow>>, AppError> {
    Ok(axum::Json(readable_fields(&state, &user).await?))
}

/// A spray plan: its options and the planner's report.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "fields",
    params(("id" = i64, Path, description = "Plan id")),
    responses((status = 200, description = "{id, field_id, field_name, autopilot, config, report, created_at}", body = inline(Object)),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_plan(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, AppError> {
    let (p, f) = readable_plan(&state, &user, id).await?;
    Ok(axum::Json(json!({
        "id": p.id,
        "field_id": f.id,
        "field_name": f.name,
        "autopilot": p.autopilot,
        "config": serde_json::from_str::<Value>(&p.config_json).unwrap_or(Value::Null),
        "report": serde_json::from_str::<Value>(&p.report_json).unwrap_or(Value::Null),
        "created_at": p.created_at,
    })))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::storage::Role;
    use crate::testutil::{Browser, TestApp, both_apps};

    /// A 120 m × 60 m paddy near Nasushiobara with a shed (exclusion) in one corner.
    const PADDY: &str = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"polygon_uuid":"0a3575f8-0d3c-4200-98eb-7314d5c5fd24","land_type":"田"},
       "geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}},
      {"type":"Feature","properties":{"role":"exclusion"},
       "geometry":{"type":"Polygon","coordinates":[[[139.9801,36.9701],[139.9803,36.9701],[139.9803,36.9702],[139.9801,36.9702],[139.9801,36.9701]]]}}]}"#;

    /// A bow-tie: the boundary crosses itself.
    const BOWTIE: &str = r#"{"type":"Feature","properties":{"id":"bowtie"},"geometry":{"type":"Polygon",
      "coordinates":[[[139.98,36.97],[139.981,36.971],[139.981,36.97],[139.98,36.971],[139.98,36.97]]]}}"#;

    /// Two paddies side by side in one file.
    const TWO_PADDIES: &str = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"id":"west"},
       "geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}},
      {"type":"Feature","properties":{"id":"east"},
       "geometry":{"type":"Polygon","coordinates":[[[139.982,36.97],[139.98334,36.97],[139.98334,36.97054],[139.982,36.97054],[139.982,36.97]]]}}]}"#;

    both_apps!(an_import_cut_short_keeps_none_of_its_fields, |app| {
        let farm = app.farm("ta", "crop").await;
        let b = app.user("ta", Role::Farmer, Some(farm.id)).await;
        // A failure after the first field is stored, as a crash there would be.
        let r =
            crate::storage::fault::armed("fields.after_field", import(app, &b, TWO_PADDIES)).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
        assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
        // Without the failure both are stored.
        let r = import(app, &b, TWO_PADDIES).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(app.state.db.fields(Some(farm.id)).await.unwrap().len(), 2);
    });

    async fn import(app: &TestApp, b: &Browser, geojson: &str) -> crate::testutil::Resp {
        app.post_multipart(
            "/fields/import",
            &b.cookies,
            &[
                ("csrf", None, b.csrf.as_bytes()),
                ("file", Some("fields.geojson"), geojson.as_bytes()),
                ("name", None, "北の田".as_bytes()),
                ("crop", None, "水稲".as_bytes()),
            ],
        )
        .await
    }

    fn plan_form(csrf: &str) -> Vec<(&str, String)> {
        vec![
            ("csrf", csrf.to_owned()),
            ("swath_width", "5".into()),
            ("rate_l_per_10a", "0.8".into()),
            ("tank_l", "10".into()),
            ("endurance_min", "10".into()),
            ("speed_mps", "5".into()),
            ("height_m", "2".into()),
            ("headland_passes", "1".into()),
            ("drift_buffer_m", "5".into()),
            ("autopilot", "ardupilot".into()),
        ]
    }

    async fn post_plan(
        app: &TestApp,
        b: &Browser,
        field: i64,
        form: &[(&str, String)],
    ) -> crate::testutil::Resp {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app.post_form(&format!("/fields/{field}/plan"), &b.cookies, &pairs)
            .await
    }

    both_apps!(import_plan_and_download, |app| {
        let farm = app.farm("kita", "crop").await;
        let b = app.user("kita", Role::Farmer, Some(farm.id)).await;
        let r = import(app, &b, PADDY).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("ほ場を取り込みました"), "{}", r.body);
        let fields = app.state.db.fields(Some(farm.id)).await.unwrap();
        assert_eq!(fields.len(), 1);
        let f = &fields[0];
        assert_eq!(f.name, "北の田");
        assert_eq!(
            f.fude_polygon_id.as_deref(),
            Some("0a3575f8-0d3c-4200-98eb-7314d5c5fd24")
        );
        assert_eq!(f.land_type.as_deref(), Some("田"));
        assert!((f.area_ha - 0.72).abs() < 0.03, "area {}", f.area_ha);
        let gj = app
            .get(&format!("/fields/{}/geojson", f.id), &b.cookies)
            .await;
        assert!(
            gj.body.contains("\"exclusion\""),
            "the shed is kept: {}",
            gj.body
        );

        let r = post_plan(app, &b, f.id, &plan_form(&b.csrf)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let plan_url = r.headers["location"].to_str().unwrap().to_owned();
        let page = app.get(&plan_url, &b.cookies).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("薬液量"));
        let id: i64 = plan_url.rsplit('/').next().unwrap().parse().unwrap();
        let api: serde_json::Value = serde_json::from_str(
            &app.get(&format!("/api/v1/plans/{id}"), &b.cookies)
                .await
                .body,
        )
        .unwrap();
        let report = &api["report"];
        assert_eq!(report["outside_m"], 0.0);
        assert!(report["coverage"].as_f64().unwrap() >= 0.99, "{report}");
        // litres = rate × sprayable area: 0.8 L/10a = 8 L/ha.
        let expect = 8.0 * report["sprayable_ha"].as_f64().unwrap();
        assert!(
            (report["litres"].as_f64().unwrap() - expect).abs() < 1e-6 * expect.max(1.0),
            "{report}"
        );
        let plan = app
            .get(&format!("/plans/{id}/download/plan"), &b.cookies)
            .await;
        assert!(
            plan.headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains(".plan")
        );
        let v: serde_json::Value = serde_json::from_str(&plan.body).unwrap();
        assert_eq!(v["fileType"], "Plan");
        assert!(
            v["mission"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["command"] == 216),
            "DO_SPRAYER"
        );
        let wpl = app
            .get(&format!("/plans/{id}/download/waypoints"), &b.cookies)
            .await;
        assert!(wpl.body.starts_with("QGC WPL 110"));
        assert!(
            app.get(&format!("/plans/{id}/download/kml"), &b.cookies)
                .await
                .body
                .contains("<kml")
        );
        let gj = app.get(&format!("/plans/{id}/geojson"), &b.cookies).await;
        assert!(
            gj.body.contains("\"kind\":\"path\""),
            "{}",
            &gj.body[..200.min(gj.body.len())]
        );
        assert_eq!(
            app.get(&format!("/plans/{id}/download/exe"), &b.cookies)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    });

    both_apps!(
        an_upload_over_the_limit_is_413_in_the_users_language,
        |app| {
            let farm = app.farm("oki", "crop").await;
            let b = app.user("oki", Role::Farmer, Some(farm.id)).await;
            let big = " ".repeat(crate::routes::fields::MAX_UPLOAD + 1024);
            let r = import(app, &b, &big).await;
            assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
            assert!(r.body.contains("大きすぎます"), "{}", r.body);
            assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
        }
    );

    both_apps!(bad_fields_and_forms_are_422, |app| {
        let farm = app.farm("minami", "crop").await;
        let b = app.user("minami", Role::Farmer, Some(farm.id)).await;
        let r = import(app, &b, BOWTIE).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("bowtie"),
            "the error names the feature: {}",
            r.body
        );
        let r = import(app, &b, "this is not a field file").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .post_multipart(
                "/fields/import",
                &b.cookies,
                &[("csrf", None, b.csrf.as_bytes())],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .post_multipart(
                "/fields/import",
                &b.cookies,
                &[
                    ("csrf", None, b"forged"),
                    ("file", Some("f.geojson"), PADDY.as_bytes()),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(
            app.state.db.fields(Some(farm.id)).await.unwrap().is_empty(),
            "nothing stored"
        );

        import(app, &b, PADDY).await;
        let f = app.state.db.fields(Some(farm.id)).await.unwrap()[0].id;
        let mut form = plan_form(&b.csrf);
        form[1].1 = "abc".into();
        let r = post_plan(app, &b, f, &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("swath_width"), "{}", r.body);
        form[1].1 = "-5".into();
        let r = post_plan(app, &b, f, &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(app.state.db.plans_of_field(f).await.unwrap().is_empty());
    });

    both_apps!(deeply_nested_kml_is_a_clear_422, |app| {
        let farm = app.farm("kita", "crop").await;
        let b = app.user("kita", Role::Farmer, Some(farm.id)).await;
        let placemark = "<Placemark><name>p</name><Polygon><outerBoundaryIs><LinearRing>\
            <coordinates>139.98,36.97 139.98134,36.97 139.98134,36.97054 139.98,36.97054 139.98,36.97\
            </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>";
        let nested = |depth: usize| {
            format!(
                "<?xml version=\"1.0\"?><kml><Document>{}{placemark}{}</Document></kml>",
                "<Folder>".repeat(depth),
                "</Folder>".repeat(depth)
            )
        };
        for (depth, lang_cookie, expected) in [
            (2_000, "", "KMLのフォルダーなどの入れ子が深すぎる"),
            (
                100_000,
                "; lang=en",
                "nests folders or other elements too deeply",
            ),
        ] {
            let kml = nested(depth);
            let cookies = format!("{}{lang_cookie}", b.cookies);
            let r = app
                .post_multipart(
                    "/fields/import",
                    &cookies,
                    &[
                        ("csrf", None, b.csrf.as_bytes()),
                        ("file", Some("deep.kml"), kml.as_bytes()),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body.contains(expected), "{}", r.body);
            assert!(r.body.contains("32"), "names the limit: {}", r.body);
        }
        assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
        // An ordinary KML with a few folders still imports.
        let r = app
            .post_multipart(
                "/fields/import",
                &b.cookies,
                &[
                    ("csrf", None, b.csrf.as_bytes()),
                    ("file", Some("ok.kml"), nested(3).as_bytes()),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(app.state.db.fields(Some(farm.id)).await.unwrap().len(), 1);
    });

    /// A KMZ whose `doc.kml` is `<kml>` and then `len` blanks, built in chunks.
    fn kmz_bomb(len: usize) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        z.start_file("doc.kml", opts).unwrap();
        std::io::Write::write_all(&mut z, b"<kml>").unwrap();
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..len / chunk.len() {
            std::io::Write::write_all(&mut z, &chunk).unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    both_apps!(kmz_bombs_are_a_clear_422, |app| {
        let farm = app.farm("higashi", "crop").await;
        let b = app.user("higashi", Role::Farmer, Some(farm.id)).await;
        let bomb = kmz_bomb(256 << 20);
        for (lang_cookie, expected) in [("", "圧縮爆弾"), ("; lang=en", "zip bomb")] {
            let r = app
                .post_multipart(
                    "/fields/import",
                    &format!("{}{lang_cookie}", b.cookies),
                    &[
                        ("csrf", None, b.csrf.as_bytes()),
                        ("file", Some("bomb.kmz"), &bomb),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body.contains(expected), "{}", r.body);
        }
        assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
    });

    both_apps!(
        nul_field_names_are_a_422_and_file_names_are_cleaned,
        |app| {
            let farm = app.farm("nishi", "crop").await;
            let b = app.user("nishi", Role::Farmer, Some(farm.id)).await;
            let post = |name: &'static str, file: &'static str| {
                let cookies = b.cookies.clone();
                let csrf = b.csrf.clone();
                async move {
                    app.post_multipart(
                        "/fields/import",
                        &cookies,
                        &[
                            ("csrf", None, csrf.as_bytes()),
                            ("file", Some("f.geojson"), file.as_bytes()),
                            ("name", None, name.as_bytes()),
                        ],
                    )
                    .await
                }
            };
            let r = post("北の\0田", PADDY).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body.contains("制御文字"), "{}", r.body);
            let long: &'static str = Box::leak("田".repeat(101).into_boxed_str());
            let r = post(long, PADDY).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
            // A NUL inside the file's own feature id and land type is dropped, not stored.
            let r = post(
            "",
            r#"{"type":"Feature","properties":{"id":"a\u0000b","land_type":"田\u0000"},"geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}}"#,
        )
        .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let fields = app.state.db.fields(Some(farm.id)).await.unwrap();
            assert_eq!(fields[0].name, "ab");
            assert_eq!(fields[0].land_type.as_deref(), Some("田"));
        }
    );

    both_apps!(other_farms_fields_are_forbidden_everywhere, |app| {
        let a = app.farm("a-farm", "crop").await;
        let b_farm = app.farm("b-farm", "crop").await;
        let a_user = app.user("a-user", Role::Farmer, Some(a.id)).await;
        let b_user = app.user("b-user", Role::Farmer, Some(b_farm.id)).await;
        import(app, &a_user, PADDY).await;
        let f = app.state.db.fields(Some(a.id)).await.unwrap()[0].id;
        let r = post_plan(app, &a_user, f, &plan_form(&a_user.csrf)).await;
        let plan = r.headers["location"]
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        for path in [
            format!("/fields/{f}"),
            format!("/fields/{f}/geojson"),
            format!("/plans/{plan}"),
            format!("/plans/{plan}/geojson"),
            format!("/plans/{plan}/download/plan"),
            format!("/api/v1/plans/{plan}"),
        ] {
            assert_eq!(
                app.get(&path, &b_user.cookies).await.status,
                StatusCode::FORBIDDEN,
                "{path}"
            );
            assert_eq!(
                app.get(&path, "").await.status,
                StatusCode::UNAUTHORIZED,
                "{path}"
            );
        }
        let r = post_plan(app, &b_user, f, &plan_form(&b_user.csrf)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(
            !app.get("/fields.geojson", &b_user.cookies)
                .await
                .body
                .contains("0a3575f8")
        );
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&app.get("/api/v1/fields", &b_user.cookies).await.body).unwrap();
        assert!(list.is_empty());
        // Staff read everything but cannot import or plan.
        let staff = app.user("staff-f", Role::Staff, None).await;
        assert_eq!(
            app.get(&format!("/plans/{plan}"), &staff.cookies)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            import(app, &staff, PADDY).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            post_plan(app, &staff, f, &plan_form(&staff.csrf))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
    });

    #[tokio::test]
    async fn the_pool_limits_jobs_and_keeps_its_deadline() {
        use super::{PlannerPool, PoolError};
        use std::time::Duration;
        let pool = PlannerPool::new(1, Duration::from_millis(300));
        assert_eq!(pool.run(|| 7).await, Ok(7));
        let slow = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(|| std::thread::sleep(Duration::from_millis(1_000)))
                    .await
            })
        };
        while pool.n_free() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The one slot is taken: the next job waits its whole deadline, then is refused.
        assert_eq!(pool.run(|| 1).await, Err(PoolError::Busy));
        // The slow job is abandoned at its deadline but keeps the slot until it really ends.
        assert_eq!(slow.await.unwrap(), Err(PoolError::Deadline));
        assert_eq!(pool.n_free(), 0);
        while pool.n_free() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(pool.run(|| 2).await, Ok(2));
        let panicked = pool.run(|| -> u8 { panic!("planner bug") }).await;
        assert!(
            matches!(panicked, Err(PoolError::Failed(_))),
            "{panicked:?}"
        );
        assert_eq!(pool.n_free(), 1, "a panic frees its slot");
    }

    both_apps!(health_answers_while_the_planner_is_full, |app| {
        use crate::routes::fields::PlannerPool;
        use axum::body::Body;
        use axum::http::{Request, header};
        use std::time::Duration;
        use tower::ServiceExt;
        let farm = app.farm("kita", "crop").await;
        let b = app.user("kita", Role::Farmer, Some(farm.id)).await;
        import(app, &b, PADDY).await;
        let field = app.state.db.fields(Some(farm.id)).await.unwrap()[0].id;
        // A server whose one planner slot is held by a long job.
        let pool = PlannerPool::new(1, Duration::from_millis(400));
        let state = crate::app::AppState::new(
            app.state.db.clone(),
            crate::app::Settings {
                planner: pool.clone(),
                ..crate::app::Settings::default()
            },
        );
        let router = crate::app::app(state);
        let send = |req: Request<Body>| {
            let router = router.clone();
            async move {
                let resp = router.oneshot(req).await.unwrap();
                let status = resp.status();
                let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                    .await
                    .unwrap();
                (status, String::from_utf8_lossy(&body).into_owned())
            }
        };
        let hold = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(|| std::thread::sleep(Duration::from_millis(1_500)))
                    .await
            })
        };
        while pool.n_free() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (status, body) = send(Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
        let form = serde_urlencoded::to_string(
            plan_form(&b.csrf)
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let plan = |lang: &str| {
            Request::post(format!("/fields/{field}/plan"))
                .header(header::COOKIE, format!("{}{lang}", b.cookies))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.clone()))
                .unwrap()
        };
        for (lang, expected) in [("", "混み合っています"), ("; lang=en", "planner is busy")]
        {
            let (status, body) = send(plan(lang)).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
            assert!(body.contains(expected), "{body}");
        }
        assert!(app.state.db.plans_of_field(field).await.unwrap().is_empty());
        let _ = hold.await;
        while pool.n_free() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (status, body) = send(plan("")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    });

    both_apps!(oversized_and_malformed_fields_say_what_to_fix, |app| {
        let farm = app.farm("nanbu", "crop").await;
        let b = app.user("nanbu", Role::Farmer, Some(farm.id)).await;
        let post = |cookies: String, body: String| {
            let csrf = b.csrf.clone();
            async move {
                app.post_multipart(
                    "/fields/import",
                    &cookies,
                    &[
                        ("csrf", None, csrf.as_bytes()),
                        ("file", Some("f.geojson"), body.as_bytes()),
                    ],
                )
                .await
            }
        };
        let square = "[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]";
        let hole = "[[139.9801,36.9701],[139.9801,36.9702],[139.9802,36.9702],[139.9801,36.9701]]";
        let holes = format!(
            r#"{{"type":"Feature","properties":{{"id":"holey"}},"geometry":{{"type":"Polygon","coordinates":[{square},{}]}}}}"#,
            vec![hole; 2_500].join(",")
        );
        let antimeridian = r#"{"type":"Feature","properties":{"id":"fiji"},"geometry":{"type":"Polygon","coordinates":[[[179.9999,-16.5],[-179.9999,-16.5],[-179.9999,-16.4999],[179.9999,-16.4999],[179.9999,-16.5]]]}}"#;
        let en = format!("{}; lang=en", b.cookies);
        for (cookies, body, expected) in [
            (
                b.cookies.clone(),
                holes.clone(),
                "穴（くり抜き部分）が多すぎます",
            ),
            (
                en.clone(),
                holes.clone(),
                "too many holes. Draw small obstacles as exclusion zones",
            ),
            (b.cookies.clone(), antimeridian.to_owned(), "日付変更線"),
            (
                en.clone(),
                antimeridian.to_owned(),
                "crosses the 180° meridian",
            ),
            (b.cookies.clone(), BOWTIE.to_owned(), "自分自身と交差"),
            (en.clone(), BOWTIE.to_owned(), "crosses itself"),
        ] {
            let r = post(cookies, body).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body.contains(expected), "{expected}: {}", r.body);
            assert!(!r.body.contains("zero area"), "{}", r.body);
        }
        assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
        // A wild plan option is shown short, not as 309 digits.
        import(app, &b, PADDY).await;
        let f = app.state.db.fields(Some(farm.id)).await.unwrap()[0].id;
        let mut form = plan_form(&b.csrf);
        form[1].1 = "1e308".into();
        let r = post_plan(app, &b, f, &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body.contains("1e308") && r.body.contains("設定値が範囲外"),
            "{}",
            r.body
        );
        assert!(!r.body.contains("0000000000"), "{}", r.body);
    });
}
