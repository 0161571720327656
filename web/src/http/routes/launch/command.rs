//! The launch command (`POST /plans/{id}/launch`: the checklist again, then
//! [`crate::services::preflight::launch`] decides and the flight manager takes over) and the
//! pilot's commands to a flight in the air.

use super::*;
use crate::services::preflight::Refusal;

#[utoipa::path(
    post, path = "/plans/{id}/launch", tag = "flights",
    request_body(content = inline(LaunchForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The plan")),
    responses((status = 303, description = "See other: the live flight page"), (status = 200, description = "The go/no-go checklist again (`action=check`)"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn launch(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<LaunchForm>,
) -> Result<Response, AppError> {
    let (plan, field) = launchable_plan(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    let launching = form.action == "launch";
    let ev = evaluate(&state, &user, &plan, &field, form).await?;
    let lang = user.lang;
    let page = |status: StatusCode, alert: Option<Msg>| {
        let body = launch_body(&state, &user, &plan, &field, &ev, alert);
        (
            status,
            pages::layout(lang, Msg::LaunchFlight.text(lang), Some(&user), body),
        )
            .into_response()
    };
    if !launching {
        return Ok(page(StatusCode::OK, None));
    }
    let launched = preflight::launch(
        &state.db,
        &state.flights,
        &state.settings.gonogo,
        &preflight::Launch {
            pilot_user_id: user.user.id,
            plan: &plan,
            field: &field,
            vehicle: ev.vehicle.as_ref(),
            sortie: ev.sortie,
            resume_after: ev.resume_after,
            inputs: &ev.inputs,
            checks: &ev.checks,
            acknowledged: ev.form.acknowledge.is_some(),
            enable_fence: ev.form.enable_fence.is_some(),
        },
    )
    .await?;
    let refusal = match launched {
        Ok(flight_id) => {
            return Ok(Redirect::to(&format!("/flights/{flight_id}/live")).into_response());
        }
        Err(r) => r,
    };
    let (status, alert) = match refusal {
        Refusal::Blocked => (StatusCode::UNPROCESSABLE_ENTITY, Msg::LaunchBlocked),
        Refusal::WarningsNeedAck => (StatusCode::UNPROCESSABLE_ENTITY, Msg::WarningsNeedAck),
        Refusal::NoVehicle => (StatusCode::UNPROCESSABLE_ENTITY, Msg::NoVehicles),
        Refusal::VehicleBusy => (StatusCode::CONFLICT, Msg::VehicleBusy),
    };
    Ok(page(status, Some(alert)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct CommandForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

#[utoipa::path(
    post, path = "/flights/{id}/{command}", tag = "flights",
    request_body(content = inline(CommandForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The flight"), ("command" = String, Path, description = "start, pause, resume, rtl or abort")),
    responses((status = 303, description = "See other: the live flight page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn command(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, name)): Path<(i64, String)>,
    AppForm(form): AppForm<CommandForm>,
) -> Result<Response, AppError> {
    let cmd = match name.as_str() {
        "start" => Command::Start,
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "rtl" => Command::Rtl,
        "abort" => Command::Abort,
        _ => return Err(AppError::NotFound),
    };
    user.require_role(PILOTS)?;
    let f = state.db.flight(id).await?;
    user.require_farm(f.farm_id)?;
    user.check_csrf(&form.csrf)?;
    if cmd == Command::Start && form.confirm.is_none() {
        return Err(AppError::BadInput(
            Msg::ConfirmNeeded.text(user.lang).to_owned(),
        ));
    }
    if !state.flights.send(id, cmd) {
        return Err(AppError::Conflict(
            Msg::FlightNotActive.text(user.lang).to_owned(),
        ));
    }
    Ok(Redirect::to(&format!("/flights/{id}/live")).into_response())
}
