//! Launching a plan's sortie from the web: the launch page with the go/no-go checklist
//! (`/plans/{id}/launch`), the live page and its SSE stream (`/flights/{id}/live`,
//! `/flights/{id}/events`), the pilot's commands (`POST /flights/{id}/{start|pause|resume|rtl|abort}`)
//! and the flight history (`/flights`). The vehicle is flown by [`crate::services::flights::manager::FlightManager`].

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::Stream;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::error::AppForm;
use crate::http::pages::{self, map_assets};
use crate::http::routes::flight_shared::{checklist_table, status_msg};
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::{Lang, Msg};
use crate::services::flights::manager::{Command, Live, Phase};
use crate::services::gonogo::{self, Check, GoNoGoInputs};
use crate::services::preflight;
use crate::storage::{FieldRow, FlightRow, PlanRow, Role, VehicleRow};

mod command;
mod history;
pub(crate) mod live;
mod page;
#[cfg(test)]
mod tests;

use command::*;
use history::*;
pub(crate) use history::{__path_api_flights, api_flights};
use live::*;
use page::*;

/// Who may launch and command flights: the farm's farmer, and admin.
const PILOTS: &[Role] = &[Role::Admin, Role::Farmer];

/// Who may read flights.
const READERS: &[Role] = super::flight_shared::FLIGHT_READERS;

/// Least time between two live events of one stream.
const LIVE_EVERY: Duration = Duration::from_millis(500);

/// The launch and flight command forms, for `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(command::launch, command::command))]
pub(crate) struct FormsDoc;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plans/{id}/launch", get(launch_page).post(launch))
        .route("/flights", get(history))
        .route("/api/v1/flights", get(api_flights))
        .route("/flights/{id}/live", get(live_page))
        .route("/flights/{id}/events", get(events))
        .route("/flights/{id}/{command}", post(command))
}

/// The plan `id` and its field if `user` may launch it.
async fn launchable_plan(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<(PlanRow, FieldRow), AppError> {
    user.require_role(PILOTS)?;
    let plan = state.db.plan(id).await?;
    let field = state.db.field(plan.field_id).await?;
    user.require_farm(field.farm_id)?;
    Ok((plan, field))
}

/// The flight `id` if `user` may read it.
async fn readable_flight(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FlightRow, AppError> {
    super::flight_shared::flight_for(state, user, id, READERS).await
}
