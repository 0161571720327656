//! The launch command (`POST /plans/{id}/launch`: the checklist again, then the flight manager
//! takes over) and the pilot's commands to a flight in the air.

use super::*;

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
    if gonogo::blocked(&ev.checks) {
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(Msg::LaunchBlocked),
        ));
    }
    let acknowledged = ev.form.acknowledge.is_some();
    if gonogo::has_warnings(&ev.checks) && !acknowledged {
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(Msg::WarningsNeedAck),
        ));
    }
    let Some(vehicle) = ev.vehicle.clone() else {
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(Msg::NoVehicles),
        ));
    };
    if state.flights.flight_of_vehicle(vehicle.id).is_some() {
        return Ok(page(StatusCode::CONFLICT, Some(Msg::VehicleBusy)));
    }
    let inputs = serde_json::to_string(&json!({
        "inputs": ev.inputs,
        "vehicle": {"id": vehicle.id, "registration_no": vehicle.registration_no, "name": vehicle.name},
        "config": {
            "max_wind_mps": state.settings.gonogo.max_wind_mps,
            "wind_height_m": state.settings.gonogo.wind_height_m,
            "max_height_above_crop_m": state.settings.gonogo.max_height_above_crop_m,
            "approval_zone_m": state.settings.gonogo.approval_zone_m,
            "max_field_gap_m": state.settings.gonogo.max_field_gap_m,
        },
    }))
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let checks =
        serde_json::to_string(&ev.checks).map_err(|e| AppError::Internal(e.to_string()))?;
    let flight_id = state
        .db
        .create_launch(&NewLaunch {
            farm_id: field.farm_id,
            field_id: field.id,
            plan_id: plan.id,
            vehicle_id: vehicle.id,
            pilot_user_id: user.user.id,
            sortie: ev.sortie as i64,
            inputs_json: &inputs,
            checks_json: &checks,
            warnings_acknowledged: acknowledged,
            resumed_after: ev.resume_after.map(|r| r as i64),
        })
        .await?;
    let req = LaunchRequest {
        flight_id,
        plan: plan.clone(),
        sortie: ev.sortie,
        resume_after: ev.resume_after,
        vehicle,
        enable_fence: ev.form.enable_fence.is_some(),
    };
    if state.flights.launch(state.db.clone(), req).is_err() {
        // Another launch took the vehicle in between.
        state.db.set_flight_status(flight_id, "failed").await?;
        return Ok(page(StatusCode::CONFLICT, Some(Msg::VehicleBusy)));
    }
    Ok(Redirect::to(&format!("/flights/{flight_id}/live")).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct CommandForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

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
