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

use crate::error::AppError;
use crate::http::auth::CurrentUser;
#[allow(unused_imports)]
use crate::http::error::ApiError;
use crate::http::error::AppForm;
use crate::http::pages::{self, fmt_duration, map_assets};
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::{Lang, Msg};
use crate::services::planner::PoolError;
use crate::storage::{FieldRow, NewField, NewPlan, PlanRow, Role};
use crate::validate::{Lines, MAX_NAME, check_text, clean_text};

mod edit;
mod errors;
mod import;
mod list;
mod plan;
mod preview;
#[cfg(test)]
mod preview_tests;
mod rx;
mod rx_errors;
#[cfg(test)]
pub(crate) mod rx_tests;
pub(crate) mod rx_view;
mod terrain;
#[cfg(test)]
pub(crate) mod terrain_tests;
#[cfg(test)]
mod tests;

use errors::*;
use import::*;
use list::*;
pub(crate) use list::{__path_api_fields, api_fields};
use plan::*;
pub(crate) use plan::{__path_api_plan, api_plan};

/// Longest crop name, in characters.
const MAX_CROP: usize = 50;

/// Largest upload accepted (a KMZ of a whole village's fields fits easily), for field imports
/// and the plan form's prescription maps alike.
const MAX_UPLOAD: usize = 16 << 20;

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
        .insert(crate::http::error::ErrorInfo { msg, detail: None });
    Ok(resp)
}

/// A required number input with its label.
fn number_input(id: &str, label: &str, value: f64, step: &str) -> Markup {
    // A wild value sent back (1e308) stays short, as HTML's number syntax allows.
    let shown = if value != 0.0 && !(1e-6..1e15).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        format!("{value}")
    };
    html! {
        label for=(id) { (label) }
        input id=(id) name=(id) type="number" inputmode="decimal" step=(step) min="0" required value=(shown);
    }
}

/// The field import, field edit and plan forms, for `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    import::import,
    edit::save_edit,
    plan::make_plan,
    preview::preview,
    terrain::upload,
    terrain::delete
))]
pub(crate) struct FormsDoc;

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
        .route(
            "/fields/{id}/edit",
            get(edit::edit_form).post(edit::save_edit),
        )
        .route(
            "/fields/{id}/plan",
            post(make_plan).layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/fields/{id}/preview", post(preview::preview))
        .route("/plans/{id}", get(plan_page))
        .route("/plans/{id}/geojson", get(plan_geojson))
        .route("/plans/{id}/download/{kind}", get(download))
        .route(
            "/farms/{id}/terrain",
            get(terrain::page)
                .post(terrain::upload)
                .layer(DefaultBodyLimit::max(terrain::MAX_DEM_UPLOAD)),
        )
        .route("/farms/{id}/terrain/{dem}/delete", post(terrain::delete))
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

fn geojson_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/geo+json")], body).into_response()
}
