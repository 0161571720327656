//! Launching a plan's sortie from the web: the launch page with the go/no-go checklist
//! (`/plans/{id}/launch`), the live page and its SSE stream (`/flights/{id}/live`,
//! `/flights/{id}/events`), the pilot's commands (`POST /flights/{id}/{start|pause|resume|rtl|abort}`)
//! and the flight history (`/flights`). The vehicle is flown by [`crate::launch::FlightManager`].

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

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppForm};
use crate::gonogo::{self, Check, GoNoGoInputs, Site};
use crate::i18n::JST;
use crate::i18n::{Lang, Msg};
use crate::launch::{Command, LaunchRequest, Live, Phase};
use crate::pages::{self, map_assets};
use crate::storage::{FieldRow, FlightRow, GoNoGoRecord, NewLaunch, PlanRow, Role, VehicleRow};

/// Who may launch and command flights: the farm's farmer, and admin.
const PILOTS: &[Role] = &[Role::Admin, Role::Farmer];
/// Who may read flights.
const READERS: &[Role] = super::flights::FLIGHT_READERS;
/// Least time between two live events of one stream.
const LIVE_EVERY: Duration = Duration::from_millis(500);

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
    super::flights::flight_for(state, user, id, READERS).await
}

/// The launch form (also the "check" submission).
#[derive(Debug, Default, Deserialize)]
struct LaunchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    vehicle: Option<String>,
    sortie: Option<String>,
    wind_mps: Option<String>,
    height_m: Option<String>,
    neighbours_notified: Option<String>,
    airspace_approval: Option<String>,
    acknowledge: Option<String>,
    /// Consent to switch the vehicle's geofence on (ticked by default on a fresh form).
    enable_fence: Option<String>,
    /// `resume` (the default when an interrupted flight can be resumed) or `beginning`.
    start: Option<String>,
}

fn number(s: &Option<String>) -> Option<f64> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<f64>().ok())
}

/// Everything the launch page shows and the POST decides on.
struct Evaluation {
    vehicles: Vec<VehicleRow>,
    vehicle: Option<VehicleRow>,
    sortie: usize,
    n_sorties: usize,
    inputs: GoNoGoInputs,
    checks: Vec<Check>,
    form: LaunchForm,
    /// When the weather station was read, if its wind was used.
    station_read_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The sortie item an interrupted flight of this sortie reached last, with its number as
    /// people count (from 1), if the sortie can resume from there.
    resume_offer: Option<(usize, usize)>,
    /// The item this launch resumes after (the offer, unless the pilot chose the beginning).
    resume_after: Option<usize>,
}

/// Where an interrupted flight of `sortie` stopped, if the stored plan (`parsed`, when it
/// reads) can resume that sortie from there: (sortie item, its number counted from 1).
async fn resume_offer(
    state: &AppState,
    plan: &PlanRow,
    parsed: Option<&telemetry::Plan>,
    sortie: usize,
) -> Result<Option<(usize, usize)>, AppError> {
    let Some(reached) = state.db.resume_point(plan.id, sortie as i64).await? else {
        return Ok(None);
    };
    let path = std::path::Path::new("plan");
    let Some(p) = parsed.and_then(|p| p.sortie(sortie, path).ok()) else {
        return Ok(None);
    };
    Ok(usize::try_from(reached)
        .ok()
        .filter(|&r| p.resume_after(r, path).is_ok())
        .map(|r| (r, r + 1)))
}

async fn evaluate(
    state: &AppState,
    user: &CurrentUser,
    plan: &PlanRow,
    field: &FieldRow,
    form: LaunchForm,
) -> Result<Evaluation, AppError> {
    let vehicles = state.db.vehicles(Some(field.farm_id)).await?;
    let vehicle = match form.vehicle.as_deref().map(str::trim) {
        None | Some("") => vehicles.first().cloned(),
        Some(v) => {
            let id: i64 = v
                .parse()
                .map_err(|_| AppError::BadInput(format!("vehicle: {v:?} is not a vehicle id")))?;
            Some(
                vehicles
                    .iter()
                    .find(|x| x.id == id)
                    .cloned()
                    .ok_or_else(|| {
                        AppError::BadInput("vehicle: not a vehicle of this farm".into())
                    })?,
            )
        }
    };
    // An unreadable stored plan shows one sortie; its flight task then fails with the reason.
    let parsed = telemetry::Plan::from_json(&plan.plan_file, std::path::Path::new("plan")).ok();
    let n_sorties = parsed.as_ref().map_or(1, |p| p.n_sorties()).max(1);
    let sortie = match form.sortie.as_deref().map(str::trim) {
        None | Some("") => 1,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=n_sorties).contains(n))
            .ok_or_else(|| {
                AppError::BadInput(format!("sortie: choose a sortie from 1 to {n_sorties}"))
            })?,
    };
    let resume_offer = resume_offer(state, plan, parsed.as_ref(), sortie).await?;
    let resume_after = match form.start.as_deref() {
        Some("beginning") => None,
        None | Some("" | "resume") => resume_offer.map(|(r, _)| r),
        Some(other) => {
            return Err(AppError::BadInput(format!(
                "start: {other:?} is neither resume nor beginning"
            )));
        }
    };
    let config: Value = serde_json::from_str(&plan.config_json).unwrap_or(Value::Null);
    let (wind, source, station_read_at) = match number(&form.wind_mps) {
        Some(w) => (Some(w), "entered", None),
        None => match state.weather.wind(&state.settings.gonogo).await {
            Some(r) => (Some(r.mps), "station", Some(r.at)),
            None => (None, "entered", None),
        },
    };
    let height = if form.height_m.is_some() {
        number(&form.height_m)
    } else {
        config["height_m"].as_f64()
    };
    let pilot = state.db.pilot_credentials(user.user.id).await?;
    let field_geo: Value = serde_json::from_str(&field.geojson).unwrap_or(Value::Null);
    let plan_geo: Value = serde_json::from_str(&plan.geojson).unwrap_or(Value::Null);
    let inputs = GoNoGoInputs {
        today: Some(chrono::Utc::now().with_timezone(&JST).date_naive()),
        wind_mps: wind,
        wind_source: source.to_owned(),
        height_above_crop_m: height,
        neighbours_notified: form.neighbours_notified.is_some(),
        airspace_approval: form.airspace_approval.clone().unwrap_or_default(),
        licence_expiry: pilot.licence_expiry,
        permit_expiry: pilot.permit_expiry,
        registration_expiry: vehicle.as_ref().and_then(|v| v.registration_expiry),
        site: Site::from_geojson(&field_geo, &plan_geo, sortie),
    };
    let checks = gonogo::evaluate(&state.settings.gonogo, &inputs);
    Ok(Evaluation {
        vehicles,
        vehicle,
        sortie,
        n_sorties,
        inputs,
        checks,
        form,
        station_read_at,
        resume_offer,
        resume_after,
    })
}

/// The checklist as a table: check, outcome (symbol and word), reason.
pub(crate) fn checklist_table(lang: Lang, checks: &[Check]) -> Markup {
    html! {
        table #gonogo {
            caption { (Msg::GoNoGo.text(lang)) }
            thead { tr {
                th scope="col" { (Msg::CheckItem.text(lang)) }
                th scope="col" { (Msg::Outcome.text(lang)) }
                th scope="col" { (Msg::Reason.text(lang)) }
            } }
            tbody { @for c in checks {
                tr data-check=(c.id) data-outcome=(serde_json::to_value(c.outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()) {
                    th scope="row" { (c.title(lang)) }
                    td style="white-space: nowrap;" { strong { span aria-hidden="true" { (c.outcome.icon()) " " } (c.outcome.label(lang)) } }
                    td { (c.detail(lang)) }
                }
            } }
        }
    }
}

fn launch_body(
    state: &AppState,
    user: &CurrentUser,
    plan: &PlanRow,
    field: &FieldRow,
    ev: &Evaluation,
    alert: Option<Msg>,
) -> Markup {
    let lang = user.lang;
    let id = plan.id;
    let blocked = gonogo::blocked(&ev.checks);
    let warned = gonogo::has_warnings(&ev.checks);
    let wind_value = ev
        .form
        .wind_mps
        .clone()
        .filter(|w| !w.trim().is_empty())
        .or_else(|| ev.inputs.wind_mps.map(|w| format!("{w}")))
        .unwrap_or_default();
    let height_value = ev
        .inputs
        .height_above_crop_m
        .map(|h| format!("{h}"))
        .unwrap_or_default();
    html! {
        h1 { (Msg::LaunchFlight.text(lang)) " — " (field.name) " " (Msg::PlanWord.text(lang)) " #" (id) }
        p { a href=(format!("/plans/{id}")) { "← " (Msg::PlanWord.text(lang)) " #" (id) } }
        @if let Some(a) = alert { div.alert role="alert" #launch-alert { (a.text(lang)) } }
        @if ev.vehicles.is_empty() {
            div.alert role="alert" { (Msg::NoVehicles.text(lang)) " " a href="/vehicles" { (Msg::AddVehicle.text(lang)) } }
        }
        form method="post" action=(format!("/plans/{id}/launch")) {
            input type="hidden" name="csrf" value=(user.csrf_token);
            label for="vehicle" { (Msg::Vehicles.text(lang)) }
            select #vehicle name="vehicle" required {
                @for v in &ev.vehicles {
                    option value=(v.id) selected[ev.vehicle.as_ref().is_some_and(|x| x.id == v.id)] {
                        (v.name) " (" (v.registration_no) ")"
                    }
                }
            }
            label for="sortie" { (Msg::SortieWord.text(lang)) }
            select #sortie name="sortie" {
                @for n in 1..=ev.n_sorties {
                    option value=(n) selected[n == ev.sortie] { (n) " / " (ev.n_sorties) }
                }
            }
            @if let Some((_, n)) = ev.resume_offer {
                fieldset #resume aria-describedby="resume-hint" {
                    legend { (Msg::StartFrom.text(lang)) }
                    p.muted #resume-hint { (Msg::ResumeHint.text(lang)) }
                    label.check for="start-resume" {
                        input #start-resume type="radio" name="start" value="resume"
                            checked[ev.resume_after.is_some()] style="width: auto; min-height: 0;";
                        " " (Msg::ResumeFromItem.text(lang)) " " strong { (n) }
                    }
                    label.check for="start-beginning" {
                        input #start-beginning type="radio" name="start" value="beginning"
                            checked[ev.resume_after.is_none()] style="width: auto; min-height: 0;";
                        " " (Msg::StartFromBeginning.text(lang))
                    }
                }
            }
            label for="wind_mps" { (Msg::WindMps.text(lang)) }
            input #wind_mps name="wind_mps" type="number" step="0.1" min="0" inputmode="decimal"
                value=(wind_value) aria-describedby=[(ev.inputs.wind_source == "station").then_some("wind-source")];
            @if ev.inputs.wind_source == "station" {
                p.muted #wind-source {
                    (Msg::WindFromStation.text(lang))
                    @if let Some(at) = ev.station_read_at {
                        " (" (Msg::ReadAt.text(lang)) " "
                        time datetime=(at.to_rfc3339()) { (at.with_timezone(&JST).format("%H:%M:%S")) } ")"
                    }
                }
            }
            label for="height_m" { (Msg::HeightAboveCrop.text(lang)) }
            input #height_m name="height_m" type="number" step="0.1" min="0" inputmode="decimal" value=(height_value);
            label for="airspace_approval" { (Msg::AirspaceApproval.text(lang)) }
            input #airspace_approval name="airspace_approval" type="text" value=(ev.inputs.airspace_approval);
            label.check for="neighbours_notified" {
                input #neighbours_notified type="checkbox" name="neighbours_notified" value="on"
                    checked[ev.inputs.neighbours_notified] style="width: auto; min-height: 0;";
                " " (Msg::NeighboursNotified.text(lang))
            }
            p { button.secondary type="submit" name="action" value="check" { (Msg::CheckNow.text(lang)) } }
            h2 { (Msg::GoNoGo.text(lang)) }
            (checklist_table(lang, &ev.checks))
            p { a href=(format!("/pilots/{}", user.user.id)) { (Msg::MyPilotCredentials.text(lang)) } }
            @if blocked {
                div.alert role="status" { (Msg::LaunchBlocked.text(lang)) }
            }
            @if warned {
                label.check for="acknowledge" {
                    input #acknowledge type="checkbox" name="acknowledge" value="on"
                        checked[ev.form.acknowledge.is_some()] style="width: auto; min-height: 0;";
                    " " (Msg::AcknowledgeWarnings.text(lang))
                }
            }
            label.check for="enable_fence" {
                input #enable_fence type="checkbox" name="enable_fence" value="on"
                    checked[ev.form.enable_fence.is_some() || ev.form.action.is_empty()]
                    style="width: auto; min-height: 0;";
                " " (Msg::EnableFence.text(lang))
            }
            p { button type="submit" name="action" value="launch"
                disabled[blocked || ev.vehicles.is_empty()] { (Msg::UploadAndVerify.text(lang)) } }
        }
        (plan_map(state, lang, plan.id))
        (map_assets())
    }
}

fn plan_map(state: &AppState, lang: Lang, plan_id: i64) -> Markup {
    html! {
        div #map data-map data-geojson-url=(format!("/plans/{plan_id}/geojson"))
            data-tile-url=(state.settings.tile_url) role="region" aria-label=(Msg::Map.text(lang))
            style="height: 50vh; min-height: 16rem; border: 2px solid #ccd;" {}
    }
}

async fn launch_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (plan, field) = launchable_plan(&state, &user, id).await?;
    let ev = evaluate(&state, &user, &plan, &field, LaunchForm::default()).await?;
    let body = launch_body(&state, &user, &plan, &field, &ev, None);
    Ok(pages::layout(
        user.lang,
        Msg::LaunchFlight.text(user.lang),
        Some(&user),
        body,
    )
    .into_response())
}

async fn launch(
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
    if state.flights.launch(state.clone(), req).is_err() {
        // Another launch took the vehicle in between.
        state.db.set_flight_status(flight_id, "failed").await?;
        return Ok(page(StatusCode::CONFLICT, Some(Msg::VehicleBusy)));
    }
    Ok(Redirect::to(&format!("/flights/{flight_id}/live")).into_response())
}

fn phase_msg(p: Phase) -> Msg {
    match p {
        Phase::Connecting => Msg::PhaseConnecting,
        Phase::Uploading => Msg::PhaseUploading,
        Phase::Verified => Msg::PhaseVerified,
        Phase::Starting => Msg::PhaseStarting,
        Phase::Flying => Msg::PhaseFlying,
        Phase::Paused => Msg::PhasePaused,
        Phase::Returning => Msg::PhaseReturning,
        Phase::Ended => Msg::PhaseEnded,
    }
}

/// The word for a stored flight status.
pub(crate) fn status_msg(status: &str) -> Msg {
    match status {
        "planned" => Msg::StatusPlanned,
        "uploading" => Msg::StatusUploading,
        "flying" => Msg::StatusFlying,
        "paused" => Msg::StatusPaused,
        "completed" => Msg::StatusCompleted,
        "aborted" => Msg::StatusAborted,
        _ => Msg::StatusFailed,
    }
}

/// The live values as display text in `lang`, keyed as the page's `data-live` elements.
fn display(l: &Live, lang: Lang) -> Value {
    let opt = |v: Option<f64>, digits: usize| {
        v.map(|x| format!("{x:.digits$}"))
            .unwrap_or_else(|| "—".into())
    };
    let phase = match (&l.phase, &l.ended_status) {
        (Phase::Ended, Some(s)) => format!(
            "{} ({})",
            Msg::PhaseEnded.text(lang),
            status_msg(s).text(lang)
        ),
        (p, _) => phase_msg(*p).text(lang).to_owned(),
    };
    json!({
        "phase": phase,
        "mode": if l.mode.is_empty() { "—".to_owned() } else { l.mode.clone() },
        "armed": if l.armed { Msg::Yes.text(lang) } else { Msg::No.text(lang) },
        "battery": match (l.battery_pct, l.battery_v) {
            (Some(p), Some(v)) => format!("{p:.0} % ({v:.1} V)"),
            (Some(p), None) => format!("{p:.0} %"),
            _ => "—".into(),
        },
        "alt": opt(l.rel_alt_m, 1),
        "progress": l.item.map(|i| format!("{} / {}", i.min(l.last_item), l.last_item)).unwrap_or_else(|| "—".into()),
        "to_go": opt(l.to_go_m, 0),
        "spray": match l.spray {
            Some(true) => Msg::SprayOn.text(lang),
            Some(false) => Msg::SprayOff.text(lang),
            None => "—",
        },
        "link": if l.link_ok { Msg::Online.text(lang) } else { Msg::Offline.text(lang) },
        "coverage": l.covered_pct.map(|p| format!("{p:.1} %")).unwrap_or_else(|| "—".into()),
        "verified": l.verified.map(|v| format!("{} / {} / {}", v[0], v[1], v[2])).unwrap_or_default(),
    })
}

/// The live state of flight `id`: the manager's while it is active, else the ended record.
fn current_live(state: &AppState, f: &FlightRow) -> Live {
    match state.flights.live(f.id) {
        Some(rx) => rx.borrow().clone(),
        None => Live {
            flight_id: f.id,
            phase: Phase::Ended,
            ended_status: Some(f.status.clone()),
            ..Live::default()
        },
    }
}

async fn live_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let l = current_live(&state, &f);
    let d = display(&l, lang);
    let can_control = user.require_role(PILOTS).is_ok();
    let ended = l.phase == Phase::Ended;
    let stat = |key: &str, label: Msg| {
        html! {
            div.stat { dt { (label.text(lang)) } dd data-live=(key) { (d[key].as_str().unwrap_or("—")) } }
        }
    };
    let title = format!(
        "{} — {} #{id}",
        Msg::LiveFlight.text(lang),
        Msg::FlightWord.text(lang)
    );
    let hide = |show: bool| (!show).then_some("hidden");
    let body = html! {
        h1 { (title) }
        @if let Some(p) = f.plan_id { p { a href=(format!("/plans/{p}")) { "← " (Msg::PlanWord.text(lang)) " #" (p) } } }
        div #live data-events=(format!("/flights/{id}/events")) data-map-id="map" {
            p role="status" { (Msg::PhaseWord.text(lang)) ": " strong data-live="phase" { (d["phase"].as_str().unwrap_or("")) } }
            div.alert role="alert" #problem hidden[l.error.is_none()] {
                (Msg::ProblemWord.text(lang)) ": " span data-live-error { (l.error.clone().unwrap_or_default()) }
            }
            dl.stats {
                (stat("mode", Msg::ModeWord))
                (stat("armed", Msg::ArmedWord))
                (stat("battery", Msg::BatteryNow))
                (stat("alt", Msg::AltitudeM))
                (stat("progress", Msg::Progress))
                (stat("to_go", Msg::ToGoM))
                (stat("spray", Msg::SprayWord))
                (stat("link", Msg::Connection))
                (stat("coverage", Msg::Coverage))
            }
            section #verified hidden=[hide(l.verified.is_some() && !ended)] aria-labelledby="verified-h" {
                h2 #verified-h { (Msg::VerifiedItems.text(lang)) }
                p { (Msg::MissionItems.text(lang)) " / " (Msg::FenceItems.text(lang)) " / " (Msg::RallyPoints.text(lang)) ": "
                    strong data-live="verified" { (d["verified"].as_str().unwrap_or("")) } }
            }
            @if can_control {
                form #start-form method="post" action=(format!("/flights/{id}/start"))
                    hidden=[hide(l.phase == Phase::Verified)] {
                    input type="hidden" name="csrf" value=(user.csrf_token);
                    label.check for="confirm" {
                        input #confirm type="checkbox" name="confirm" value="on" required style="width: auto; min-height: 0;";
                        " " (Msg::ConfirmClear.text(lang))
                    }
                    p { button type="submit" { (Msg::ArmAndStart.text(lang)) } }
                }
                div #controls role="group" aria-label=(Msg::LiveFlight.text(lang))
                    hidden=[hide(matches!(l.phase, Phase::Flying | Phase::Paused | Phase::Returning | Phase::Starting))] {
                    @for (cmd, label, class) in [("pause", Msg::PauseFlight, "secondary"), ("resume", Msg::ResumeFlight, "secondary"),
                        ("rtl", Msg::RtlFlight, "secondary"), ("abort", Msg::AbortFlight, "danger")] {
                        form method="post" action=(format!("/flights/{id}/{cmd}")) style="display: inline-block; margin: .3rem .3rem 0 0;" {
                            input type="hidden" name="csrf" value=(user.csrf_token);
                            button class=(class) type="submit" { (label.text(lang)) }
                        }
                    }
                }
            }
            p #record-link hidden=[hide(ended)] {
                a href=(format!("/flights/{id}")) { (Msg::ViewRecord.text(lang)) }
            }
            div #map data-map data-geojson-url=[f.plan_id.map(|p| format!("/plans/{p}/geojson"))]
                data-tile-url=(state.settings.tile_url) role="region" aria-label=(Msg::Map.text(lang))
                style="height: 55vh; min-height: 16rem; border: 2px solid #ccd;" {}
            h2 #messages-h { (Msg::VehicleMessages.text(lang)) }
            div role="log" aria-live="polite" aria-labelledby="messages-h" {
                ol #messages data-count=(l.message_count) {
                    @for m in &l.messages { li { (m) } }
                }
            }
        }
        (map_assets())
        script src="/static/live.js" defer {}
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

fn live_event(l: &Live, lang: Lang) -> Event {
    Event::default()
        .event("live")
        .json_data(json!({"live": l, "display": display(l, lang)}))
        .unwrap_or_else(|_| Event::default().comment("encoding failed"))
}

async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let first = current_live(&state, &f);
    let rx = state.flights.live(id);
    // (receiver, pending first event, done)
    let stream = futures::stream::unfold(
        (rx, Some(first), false),
        move |(mut rx, first, done)| async move {
            if done {
                return None;
            }
            if let Some(l) = first {
                let ended = rx.is_none();
                return Some((Ok(live_event(&l, lang)), (rx, None, ended)));
            }
            let r = rx.as_mut()?;
            tokio::time::sleep(LIVE_EVERY).await;
            let ok = r.changed().await.is_ok();
            let l = r.borrow_and_update().clone();
            let end = !ok || l.phase == Phase::Ended;
            Some((Ok(live_event(&l, lang)), (rx, None, end)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize)]
struct CommandForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

async fn command(
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

/// The newest 200 flights `user` may read.
async fn readable_flights(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<FlightRow>, AppError> {
    user.require_role(READERS)?;
    if user.user.role.sees_all_farms() {
        Ok(state.db.flights_of_farm(None, 200).await?)
    } else {
        match user.user.farm_id {
            Some(farm) => Ok(state.db.flights_of_farm(Some(farm), 200).await?),
            None => Ok(Vec::new()),
        }
    }
}

/// The newest 200 flights the caller may see (a farmer or dairy operator: their farm's).
#[utoipa::path(get, path = "/api/v1/flights", tag = "flights",
    responses((status = 200, body = Vec<FlightRow>), (status = 401, body = crate::routes::openapi::ApiError),
        (status = 403, body = crate::routes::openapi::ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_flights(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<FlightRow>>, AppError> {
    Ok(axum::Json(readable_flights(&state, &user).await?))
}

async fn history(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let flights = readable_flights(&state, &user).await?;
    let lang = user.lang;
    let title = Msg::FlightHistory.text(lang);
    let body = html! {
        h1 { (title) }
        @if flights.is_empty() { p { (Msg::NoDataYet.text(lang)) } } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::FlightWord.text(lang)) }
                    th scope="col" { (Msg::Date.text(lang)) }
                    th scope="col" { (Msg::PlanWord.text(lang)) }
                    th scope="col" { (Msg::StatusWord.text(lang)) }
                    th scope="col" class="num" { (Msg::SprayedM2.text(lang)) }
                    th scope="col" class="num" { (Msg::Litres.text(lang)) }
                } }
                tbody { @for f in &flights {
                    tr {
                        th scope="row" {
                            @if state.flights.live(f.id).is_some() {
                                a href=(format!("/flights/{}/live", f.id)) { "#" (f.id) }
                            } @else {
                                a href=(format!("/flights/{}", f.id)) { "#" (f.id) }
                            }
                        }
                        td { (f.started_at.unwrap_or(f.created_at).with_timezone(&JST).format("%Y-%m-%d %H:%M")) }
                        td { @if let Some(p) = f.plan_id { a href=(format!("/plans/{p}")) { "#" (p) } } }
                        td { (status_msg(&f.status).text(lang)) }
                        td.num { (f.sprayed_area_m2.map(|a| format!("{a:.0}")).unwrap_or_else(|| "—".into())) }
                        td.num { (f.litres.map(|a| format!("{a:.1}")).unwrap_or_else(|| "—".into())) }
                    }
                } }
            }
        }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}

/// The recorded go/no-go of a launched flight, for the flight record page.
pub(crate) fn gonogo_section(lang: Lang, rec: &GoNoGoRecord) -> Markup {
    let checks: Vec<Check> = serde_json::from_str(&rec.checks_json).unwrap_or_default();
    let inputs: Value = serde_json::from_str(&rec.inputs_json).unwrap_or(Value::Null);
    let i = &inputs["inputs"];
    let num = |v: &Value| {
        v.as_f64()
            .map(|x| format!("{x:.1}"))
            .unwrap_or_else(|| "—".into())
    };
    html! {
        section aria-labelledby="gonogo-h" {
            h2 #gonogo-h { (Msg::RecordedGoNoGo.text(lang)) }
            table { tbody {
                tr { th scope="row" { (Msg::Vehicles.text(lang)) } td { (inputs["vehicle"]["name"].as_str().unwrap_or("")) " (" (inputs["vehicle"]["registration_no"].as_str().unwrap_or("")) ")" } }
                tr { th scope="row" { (Msg::SortieWord.text(lang)) } td { (rec.sortie) } }
                tr { th scope="row" { (Msg::WindMps.text(lang)) } td.num { (num(&i["wind_mps"])) } }
                tr { th scope="row" { (Msg::HeightAboveCrop.text(lang)) } td.num { (num(&i["height_above_crop_m"])) } }
                tr { th scope="row" { (Msg::WarningsAcknowledged.text(lang)) } td { (if rec.warnings_acknowledged { Msg::Yes } else { Msg::No }.text(lang)) } }
                @if let Some(r) = rec.resumed_after {
                    tr { th scope="row" { (Msg::ResumedAfter.text(lang)) } td.num { (r + 1) } }
                }
            } }
            (checklist_table(lang, &checks))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use futures::StreamExt;
    use telemetry::{LinkAddress, SimConfig, SimDrone};
    use tower::ServiceExt;

    use crate::storage::Role;
    use crate::testutil::{Browser, TestApp, both_apps};

    use crate::routes::flights::tests::planned;

    async fn user_id(app: &TestApp, name: &str) -> i64 {
        app.state
            .db
            .user_by_username(name)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    /// Registers a vehicle through the page and valid pilot credentials for `who`.
    async fn vehicle_and_pilot(app: &TestApp, b: &Browser, who: &str, link: &str) -> i64 {
        vehicle_and_pilot_for(app, b, who, link, "ardupilot").await
    }

    /// As [`vehicle_and_pilot`], for an `autopilot` (`ardupilot` or `px4`) vehicle.
    async fn vehicle_and_pilot_for(
        app: &TestApp,
        b: &Browser,
        who: &str,
        link: &str,
        autopilot: &str,
    ) -> i64 {
        let r = app
            .post_form(
                "/vehicles",
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("registration_no", "JU0123456789"),
                    ("name", "散布機1号"),
                    ("autopilot", autopilot),
                    ("link_address", link),
                    ("registration_expiry", "2099-12-31"),
                    ("pump_servo", "9"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let uid = user_id(app, who).await;
        let r = app
            .post_form(
                &format!("/pilots/{uid}"),
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("licence_no", "L-123"),
                    ("licence_expiry", "2099-01-01"),
                    ("permit_no", "P-456"),
                    ("permit_expiry", "2099-01-01"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        app.state.db.vehicles(None).await.unwrap()[0].id
    }

    fn launch_form<'a>(b: &'a Browser, vehicle: &'a str, wind: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("csrf", b.csrf.as_str()),
            ("action", "launch"),
            ("vehicle", vehicle),
            ("sortie", "1"),
            ("wind_mps", wind),
            ("height_m", "2"),
            ("enable_fence", "on"),
        ]
    }

    both_apps!(launch_is_refused_while_a_check_fails, |app| {
        let farm = app.farm("nasu", "crop").await;
        let b = app.user("pilot", Role::Farmer, Some(farm.id)).await;
        let plan = planned(app, &b).await;
        // Vehicle validation: a link address telemetry cannot parse is refused.
        let bad = app
            .post_form(
                "/vehicles",
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("registration_no", "JU1"),
                    ("name", "x"),
                    ("autopilot", "ardupilot"),
                    ("link_address", "carrier-pigeon:1"),
                    ("pump_servo", "9"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("link_address"), "{}", bad.body);
        let vid = vehicle_and_pilot(app, &b, "pilot", "udpout:127.0.0.1:9").await;
        let v = vid.to_string();
        let url = format!("/plans/{plan}/launch");
        let page = app.get(&url, &b.cookies).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("飛行前チェックリスト"));
        // Wind above 3 m/s: refused server-side, nothing stored.
        let r = app
            .post_form(&url, &b.cookies, &launch_form(&b, &v, "3.5"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("離陸できません"), "{}", r.body);
        assert!(
            r.body.contains(r#"data-check="wind" data-outcome="block""#),
            "{}",
            r.body
        );
        // No wind entered (and no station configured): refused.
        let r = app
            .post_form(&url, &b.cookies, &launch_form(&b, &v, ""))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Spray height above the limit: refused.
        let mut f = launch_form(&b, &v, "1.0");
        f[5] = ("height_m", "4");
        let r = app.post_form(&url, &b.cookies, &f).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body
                .contains(r#"data-check="height" data-outcome="block""#)
        );
        // An expired permit: refused.
        let uid = user_id(app, "pilot").await;
        let mut c = app.state.db.pilot_credentials(uid).await.unwrap();
        c.permit_expiry = chrono::NaiveDate::from_ymd_opt(2020, 1, 1);
        app.state.db.set_pilot_credentials(&c).await.unwrap();
        let r = app
            .post_form(&url, &b.cookies, &launch_form(&b, &v, "1.0"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body
                .contains(r#"data-check="permit" data-outcome="block""#)
        );
        // Expiring soon is a caution: refused until acknowledged.
        c.permit_expiry = Some(chrono::Utc::now().date_naive() + chrono::Duration::days(10));
        app.state.db.set_pilot_credentials(&c).await.unwrap();
        let r = app
            .post_form(&url, &b.cookies, &launch_form(&b, &v, "1.0"))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("注意」の項目を了承"), "{}", r.body);
        // "Check" only evaluates.
        let mut f = launch_form(&b, &v, "9");
        f[1] = ("action", "check");
        assert_eq!(
            app.post_form(&url, &b.cookies, &f).await.status,
            StatusCode::OK
        );
        // A forged form, another farm's farmer and staff are refused.
        let mut f = launch_form(&b, &v, "1.0");
        f[0] = ("csrf", "forged");
        assert_eq!(
            app.post_form(&url, &b.cookies, &f).await.status,
            StatusCode::FORBIDDEN
        );
        let other_farm = app.farm("other", "crop").await;
        let other = app.user("other", Role::Farmer, Some(other_farm.id)).await;
        assert_eq!(
            app.get(&url, &other.cookies).await.status,
            StatusCode::FORBIDDEN
        );
        let staff = app.user("staff", Role::Staff, None).await;
        assert_eq!(
            app.get(&url, &staff.cookies).await.status,
            StatusCode::FORBIDDEN
        );
        // A vehicle of another farm cannot be chosen.
        let r = app
            .post_form(
                &url,
                &b.cookies,
                &launch_form(&b, &(vid + 100).to_string(), "1.0"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            app.state
                .db
                .flights_of_farm(None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    });

    both_apps!(station_wind_and_did_layer_are_checked, |app| {
        let farm = app.farm("did", "crop").await;
        let b = app.user("did", Role::Farmer, Some(farm.id)).await;
        let plan = planned(app, &b).await;
        let v = vehicle_and_pilot(app, &b, "did", "udpout:127.0.0.1:9")
            .await
            .to_string();
        // A weather station answering 4.2 m/s, and a DID polygon over the paddy.
        let station = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let station_addr = station.local_addr().unwrap();
        let station_app = axum::Router::new().route(
            "/now",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"wind": {"mps": 4.2}})) }),
        );
        let server = tokio::spawn(async move { axum::serve(station, station_app).await });
        let mut gonogo = crate::gonogo::GoNoGoConfig {
            weather_station_url: Some(format!("http://{station_addr}/now")),
            weather_wind_pointer: "/wind/mps".into(),
            ..crate::gonogo::GoNoGoConfig::default()
        };
        gonogo.layers.did = crate::gonogo::geometries(
            &serde_json::json!({"type": "Polygon", "coordinates": [[[139.979, 36.969], [139.99, 36.969], [139.99, 36.975], [139.979, 36.969]]]}),
            |_| true,
        )
        .into_iter()
        .filter_map(|g| match g {
            geo::Geometry::Polygon(p) => Some(p),
            _ => None,
        })
        .collect();
        let state = crate::app::AppState::new(
            app.state.db.clone(),
            crate::app::Settings {
                gonogo,
                ..crate::app::Settings::default()
            },
        );
        let router = crate::app::app(state);
        let send = |req: Request<Body>| {
            let router = router.clone();
            async move {
                let resp = router.oneshot(req).await.unwrap();
                let status = resp.status();
                let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
                    .await
                    .unwrap();
                (status, String::from_utf8_lossy(&body).into_owned())
            }
        };
        let url = format!("/plans/{plan}/launch");
        let (status, body) = send(
            Request::get(&url)
                .header(header::COOKIE, &b.cookies)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("気象観測所の値"), "{body}");
        assert!(
            body.contains("観測時刻"),
            "the reading's time is shown: {body}"
        );
        assert!(body.contains(r#"value="4.2""#), "{body}");
        assert!(body.contains(r#"data-check="wind" data-outcome="block""#));
        assert!(body.contains(r#"data-check="did" data-outcome="block""#));
        let post = |form: Vec<(&str, &str)>| {
            Request::post(&url)
                .header(header::COOKIE, &b.cookies)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
                .unwrap()
        };
        // Entered wind wins over the station; the DID still blocks without an approval.
        let (status, body) = send(post(launch_form(&b, &v, "1.0"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains(r#"data-check="wind" data-outcome="pass""#));
        assert!(body.contains(r#"data-check="did" data-outcome="block""#));
        // With a recorded approval it is a caution that needs the acknowledgement.
        let mut f = launch_form(&b, &v, "1.0");
        f.push(("airspace_approval", "東空運第123号"));
        let (status, body) = send(post(f)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body.contains(r#"data-check="did" data-outcome="warn""#),
            "{body}"
        );
        assert!(body.contains("東空運第123号"));
        assert!(
            app.state
                .db
                .flights_of_farm(None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        server.abort();
    });

    /// Reads the SSE stream until `want` holds for a `live` event's JSON (or the deadline).
    async fn watch_events(
        app: &TestApp,
        cookies: &str,
        id: i64,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let resp = crate::app::app(app.state.clone())
            .oneshot(
                Request::get(format!("/flights/{id}/events"))
                    .header(header::COOKIE, cookies)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
        let mut stream = resp.into_body().into_data_stream();
        let mut buf = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let chunk = tokio::time::timeout_at(deadline, stream.next())
                .await
                .expect("the stream reported in time")
                .expect("the stream went on")
                .unwrap();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let v: serde_json::Value = serde_json::from_str(data).unwrap();
                    if want(&v) {
                        return v;
                    }
                }
            }
        }
    }

    both_apps!(
        launched_sortie_flies_live_and_aborts_with_spray_off,
        |app| {
            let farm = app.farm("tobu", "crop").await;
            let b = app.user("tobu", Role::Farmer, Some(farm.id)).await;
            let plan_id = planned(app, &b).await;
            let home = sortie1(app, plan_id).await.home.unwrap();
            let mut cfg = SimConfig::new(home);
            cfg.time_scale = 20.0;
            let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
                .await
                .unwrap();
            let link = format!("udpout:{}", sim.local_addr().unwrap());
            let vid = vehicle_and_pilot(app, &b, "tobu", &link).await.to_string();
            let r = app
                .post_form(
                    &format!("/plans/{plan_id}/launch"),
                    &b.cookies,
                    &launch_form(&b, &vid, "1.2"),
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
            let live_url = r.headers["location"].to_str().unwrap().to_owned();
            let id: i64 = live_url.split('/').nth(2).unwrap().parse().unwrap();
            // Upload and read-back verification, then the page offers the start.
            let v = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "verified").await;
            assert!(v["live"]["verified"][0].as_u64().unwrap() > 2, "{v}");
            let page = app.get(&live_url, &b.cookies).await;
            assert!(page.body.contains("検証済み・開始待ち"), "{}", page.body);
            assert_eq!(app.state.db.flight(id).await.unwrap().status, "planned");
            // The same vehicle cannot be launched twice.
            let again = app
                .post_form(
                    &format!("/plans/{plan_id}/launch"),
                    &b.cookies,
                    &launch_form(&b, &vid, "1.2"),
                )
                .await;
            assert_eq!(again.status, StatusCode::CONFLICT);
            // Start needs the confirmation tick.
            let start = format!("/flights/{id}/start");
            let r = app
                .post_form(&start, &b.cookies, &[("csrf", &b.csrf)])
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            let r = app
                .post_form(&start, &b.cookies, &[("csrf", &b.csrf), ("confirm", "on")])
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
            // The stream reports progress and spraying.
            let v = watch_events(app, &b.cookies, id, |v| {
                v["live"]["spray"] == true && v["live"]["item"].as_u64().unwrap_or(0) >= 2
            })
            .await;
            assert_eq!(v["live"]["phase"], "flying", "{v}");
            assert!(v["live"]["armed"].as_bool().unwrap());
            assert_eq!(v["display"]["spray"], "● 散布中");
            assert!(sim.snapshot().pump_on, "the simulated pump runs");
            assert_eq!(app.state.db.flight(id).await.unwrap().status, "flying");
            // Coverage fills in.
            watch_events(app, &b.cookies, id, |v| {
                v["live"]["sprayed_m2"].as_f64().unwrap_or(0.0) > 0.0
            })
            .await;
            // Pause: pump off and hold; resume continues the mission.
            assert_eq!(command(app, &b, id, "pause").await, StatusCode::SEE_OTHER);
            let v = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "paused").await;
            assert_eq!(v["live"]["spray"], false, "{v}");
            assert!(!sim.snapshot().pump_on, "pump off while paused");
            assert_eq!(app.state.db.flight(id).await.unwrap().status, "paused");
            assert_eq!(command(app, &b, id, "resume").await, StatusCode::SEE_OTHER);
            watch_events(app, &b.cookies, id, |v| {
                v["live"]["phase"] == "flying" && v["live"]["mode"] == "AUTO"
            })
            .await;
            // Abort: pump off at once, back to launch, landed.
            assert_eq!(command(app, &b, id, "abort").await, StatusCode::SEE_OTHER);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while sim.snapshot().pump_on {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "pump still on after abort"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
            assert_eq!(end["live"]["ended_status"], "aborted", "{end}");
            assert!(!sim.snapshot().pump_on && !sim.snapshot().armed);
            // The record is there: status, track, go/no-go.
            let f = app.state.db.flight(id).await.unwrap();
            assert_eq!(f.status, "aborted");
            assert!(f.sprayed_area_m2.unwrap() > 0.0);
            assert!(app.state.db.flight_samples(id).await.unwrap().len() > 10);
            let g = app.state.db.gonogo(id).await.unwrap().unwrap();
            assert!(g.inputs_json.contains("1.2"), "{}", g.inputs_json);
            let record = app.get(&format!("/flights/{id}"), &b.cookies).await;
            assert!(
                record.body.contains("記録された飛行前チェック"),
                "{}",
                record.body
            );
            assert!(record.body.contains("中止"));
            let history = app.get("/flights", &b.cookies).await;
            assert!(
                history.body.contains(&format!("/flights/{id}\"")),
                "{}",
                history.body
            );
            let api: serde_json::Value =
                serde_json::from_str(&app.get("/api/v1/flights", &b.cookies).await.body).unwrap();
            assert_eq!(api[0]["id"], id);
            assert_eq!(api[0]["status"], "aborted");
            // Commands to an ended flight are refused.
            assert_eq!(command(app, &b, id, "pause").await, StatusCode::CONFLICT);
            sim.stop().await;
        }
    );

    /// A farmer `who` with a farm, and a sortie launched on a SimDrone (10× speed) that has
    /// flown to mission item `item`: (farmer, simulator, flight id).
    async fn flying_past_item(app: &TestApp, who: &str, item: u64) -> (Browser, SimDrone, i64) {
        let farm = app.farm(who, "crop").await;
        let b = app.user(who, Role::Farmer, Some(farm.id)).await;
        let (sim, id) = launched_and_started(app, &b, who, 10.0).await;
        watch_events(app, &b.cookies, id, |v| {
            v["live"]["item"].as_u64().unwrap_or(0) >= item
        })
        .await;
        (b, sim, id)
    }

    /// Sortie 1 of stored plan `plan_id`, as the flight task reads it.
    async fn sortie1(app: &TestApp, plan_id: i64) -> telemetry::Plan {
        let plan = app.state.db.plan(plan_id).await.unwrap();
        let path = std::path::Path::new("plan");
        telemetry::Plan::from_json(&plan.plan_file, path)
            .unwrap()
            .sortie(1, path)
            .unwrap()
    }

    /// Starts verified flight `id` with the pilot's confirmation tick.
    async fn start_confirmed(app: &TestApp, b: &Browser, id: i64) {
        let r = app
            .post_form(
                &format!("/flights/{id}/start"),
                &b.cookies,
                &[("csrf", &b.csrf), ("confirm", "on")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }

    /// Sends the pilot's command `cmd` (pause, resume, rtl, abort) to flight `id`; returns the
    /// answer's status.
    async fn command(app: &TestApp, b: &Browser, id: i64, cmd: &str) -> StatusCode {
        app.post_form(
            &format!("/flights/{id}/{cmd}"),
            &b.cookies,
            &[("csrf", &b.csrf)],
        )
        .await
        .status
    }

    /// Posts the launch `form` of `plan_id`; returns the flight id the page redirects to.
    async fn post_launch(app: &TestApp, b: &Browser, plan_id: i64, form: &[(&str, &str)]) -> i64 {
        let r = app
            .post_form(&format!("/plans/{plan_id}/launch"), &b.cookies, form)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        r.headers["location"]
            .to_str()
            .unwrap()
            .split('/')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Launches sortie 1 of `plan_id` on vehicle `vid` through the launch page (calm wind) and
    /// waits until the mission is uploaded and verified; returns the flight id.
    async fn launch_verified(app: &TestApp, b: &Browser, plan_id: i64, vid: &str) -> i64 {
        let id = post_launch(app, b, plan_id, &launch_form(b, vid, "0.5")).await;
        watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "verified").await;
        id
    }

    /// A planned field, a fresh SimDrone at its sortie 1 home and `who`'s vehicle on it;
    /// returns the plan id, the sim and the vehicle id.
    async fn planned_on_a_sim(
        app: &TestApp,
        b: &Browser,
        who: &str,
        time_scale: f64,
    ) -> (i64, SimDrone, String) {
        let plan_id = planned(app, b).await;
        let home = sortie1(app, plan_id).await.home.unwrap();
        let mut cfg = SimConfig::new(home);
        cfg.time_scale = time_scale;
        let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
            .await
            .unwrap();
        let link = format!("udpout:{}", sim.local_addr().unwrap());
        let vid = vehicle_and_pilot(app, b, who, &link).await.to_string();
        (plan_id, sim, vid)
    }

    /// Launches sortie 1 on a fresh SimDrone through the pages and starts it; returns the sim
    /// and the flight id.
    async fn launched_and_started(
        app: &TestApp,
        b: &Browser,
        who: &str,
        time_scale: f64,
    ) -> (SimDrone, i64) {
        let (plan_id, sim, vid) = planned_on_a_sim(app, b, who, time_scale).await;
        let id = launch_verified(app, b, plan_id, &vid).await;
        start_confirmed(app, b, id).await;
        (sim, id)
    }

    both_apps!(launched_sortie_completes_with_its_record, |app| {
        let farm = app.farm("kan", "crop").await;
        let b = app.user("kan", Role::Farmer, Some(farm.id)).await;
        let (sim, id) = launched_and_started(app, &b, "kan", 10.0).await;
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(
            end["live"]["ended_status"], "completed",
            "{}",
            end["live"]["error"]
        );
        // Live coverage is from every position received, as the record's is from the .tlog.
        let live_pct = end["live"]["covered_pct"].as_f64().unwrap();
        let s = sim.snapshot();
        assert!(s.landed && !s.armed && !s.pump_on, "{s:?}");
        assert!(
            s.fence_active,
            "the fence was switched on with the pilot's consent"
        );
        assert!(s.list_lengths[1] > 0, "the field's fence is on the vehicle");
        let f = app.state.db.flight(id).await.unwrap();
        assert_eq!(f.status, "completed");
        let summary: serde_json::Value = serde_json::from_str(&f.summary_json).unwrap();
        let record_pct = summary["coverage"]["covered_pct"].as_f64().unwrap();
        assert!(record_pct > 80.0, "{summary}");
        assert!(
            (live_pct - record_pct).abs() < 2.0,
            "live {live_pct} % vs record {record_pct} %"
        );
        assert!(f.litres.unwrap() > 0.0);
        // The .tlog is kept with the flight, and the record and logbook drafts name the pilot
        // and the drone.
        assert!(
            !app.state
                .db
                .flight_tlog(id)
                .await
                .unwrap()
                .unwrap()
                .is_empty()
        );
        let rec = app.state.db.spray_record_versions(id).await.unwrap();
        assert_eq!(rec.len(), 1);
        assert!(!rec[0].fields.operator.is_empty());
        assert_eq!(rec[0].fields.area_m2, f.sprayed_area_m2);
        let log = app.state.db.logbook_versions(id).await.unwrap();
        assert_eq!(log.len(), 1);
        assert!(!log[0].fields.pilot.is_empty());
        assert!(
            !log[0].fields.drone_reg_no.is_empty(),
            "{:?}",
            log[0].fields
        );
        assert!(log[0].fields.takeoff_at.is_some());
        // The vehicle is free again.
        assert!(app.state.flights.flight_of_vehicle(1).is_none());
        sim.stop().await;
    });

    both_apps!(
        without_consent_a_vehicle_with_its_fence_off_is_not_flown,
        |app| {
            let farm = app.farm("nofence", "crop").await;
            let b = app.user("nofence", Role::Farmer, Some(farm.id)).await;
            let (plan_id, sim, vid) = planned_on_a_sim(app, &b, "nofence", 10.0).await;
            let form: Vec<(&str, &str)> = launch_form(&b, &vid, "0.5")
                .into_iter()
                .filter(|(k, _)| *k != "enable_fence")
                .collect();
            let id = post_launch(app, &b, plan_id, &form).await;
            let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
            assert_eq!(end["live"]["ended_status"], "failed", "{end}");
            assert!(
                end["live"]["error"]
                    .as_str()
                    .unwrap()
                    .contains("geofence is off"),
                "{end}"
            );
            let s = sim.snapshot();
            assert!(!s.armed && !s.fence_active, "{s:?}");
            sim.stop().await;
        }
    );

    both_apps!(an_interrupted_sortie_resumes_where_it_stopped, |app| {
        let (b, sim, id) = flying_past_item(app, "resume", 16).await;
        assert_eq!(command(app, &b, id, "abort").await, StatusCode::SEE_OTHER);
        watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        let reached = app
            .state
            .db
            .gonogo(id)
            .await
            .unwrap()
            .unwrap()
            .plan_item_reached;
        let k = usize::try_from(reached.expect("the item reached is stored")).unwrap();
        assert!(k >= 14, "reached {k}");
        // The launch page offers to resume there, chosen by default.
        let f = app.state.db.flight(id).await.unwrap();
        let plan_id = f.plan_id.unwrap();
        let url = format!("/plans/{plan_id}/launch");
        let page = app.get(&url, &b.cookies).await;
        assert!(
            page.body.contains("中断した地点から再開する"),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains(r#"id="start-resume" type="radio" name="start" value="resume" checked"#),
            "{}",
            page.body
        );
        // The resumed flight uploads the cut mission and flies the rest to the end.
        let vid = app
            .state
            .db
            .flight_vehicle(id)
            .await
            .unwrap()
            .unwrap()
            .to_string();
        let id2 = launch_verified(app, &b, plan_id, &vid).await;
        let path = std::path::Path::new("plan");
        let sortie = sortie1(app, plan_id).await;
        let cut = sortie.resume_after(k, path).unwrap();
        assert!(sortie.items[cut.reached].is_nav_with_position());
        assert_eq!(
            sim.snapshot().list_lengths[0],
            cut.plan.mission_items().len()
        );
        assert!(cut.plan.items.len() < sortie.items.len());
        assert_eq!(
            app.state
                .db
                .gonogo(id2)
                .await
                .unwrap()
                .unwrap()
                .resumed_after,
            Some(k as i64)
        );
        start_confirmed(app, &b, id2).await;
        let end = watch_events(app, &b.cookies, id2, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["ended_status"], "completed", "{end}");
        let last = sortie
            .items
            .iter()
            .rposition(|i| i.is_nav_with_position())
            .unwrap();
        let g2 = app.state.db.gonogo(id2).await.unwrap().unwrap();
        assert!(
            g2.plan_item_reached >= Some(last as i64 - 1),
            "{g2:?}, last {last}"
        );
        let record = app.get(&format!("/flights/{id2}"), &b.cookies).await;
        assert!(
            record.body.contains("中断した飛行の再開"),
            "{}",
            record.body
        );
        // Finished: nothing to resume any more; a bad choice is refused.
        let page = app.get(&url, &b.cookies).await;
        assert!(!page.body.contains("start-resume"));
        let mut form = launch_form(&b, &vid, "0.5");
        form.push(("start", "middle"));
        assert_eq!(
            app.post_form(&url, &b.cookies, &form).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        sim.stop().await;
    });

    both_apps!(
        a_px4_sortie_launched_from_the_web_pauses_and_completes,
        |app| {
            let farm = app.farm("px4", "crop").await;
            let b = app.user("px4", Role::Farmer, Some(farm.id)).await;
            let plan_id = crate::routes::flights::tests::planned_for(app, &b, "px4").await;
            let sortie = sortie1(app, plan_id).await;
            assert_eq!(sortie.firmware, telemetry::Firmware::Px4);
            let mut cfg = SimConfig::new(sortie.home.unwrap());
            cfg.time_scale = 10.0;
            cfg.firmware = telemetry::Firmware::Px4;
            let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
                .await
                .unwrap();
            let link = format!("udpout:{}", sim.local_addr().unwrap());
            let vid = vehicle_and_pilot_for(app, &b, "px4", &link, "px4")
                .await
                .to_string();
            let id = launch_verified(app, &b, plan_id, &vid).await;
            // PX4 numbering: the mission as uploaded has no home item.
            assert_eq!(sim.snapshot().list_lengths[0], sortie.items.len());
            start_confirmed(app, &b, id).await;
            let v = watch_events(app, &b.cookies, id, |v| v["live"]["spray"] == true).await;
            assert_eq!(v["live"]["mode"], "MISSION", "{v}");
            assert_eq!(command(app, &b, id, "pause").await, StatusCode::SEE_OTHER);
            let v = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "paused").await;
            assert!(!sim.snapshot().pump_on, "pump off while paused: {v}");
            watch_events(app, &b.cookies, id, |v| v["live"]["mode"] == "HOLD").await;
            assert_eq!(command(app, &b, id, "resume").await, StatusCode::SEE_OTHER);
            let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
            assert_eq!(end["live"]["ended_status"], "completed", "{end}");
            let f = app.state.db.flight(id).await.unwrap();
            assert_eq!(f.status, "completed");
            assert!(f.sprayed_area_m2.unwrap() > 0.0);
            let s = sim.snapshot();
            assert!(s.landed && !s.armed && !s.pump_on, "{s:?}");
            sim.stop().await;
        }
    );

    both_apps!(a_lost_link_fails_the_flight_and_keeps_the_record, |app| {
        let (b, sim, id) = flying_past_item(app, "lost", 3).await;
        // The vehicle goes silent (radio out of range).
        sim.stop().await;
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["ended_status"], "failed", "{end}");
        assert!(
            end["live"]["error"].as_str().unwrap().contains("failsafe"),
            "{end}"
        );
        let f = app.state.db.flight(id).await.unwrap();
        assert_eq!(f.status, "failed");
        assert!(!app.state.db.flight_samples(id).await.unwrap().is_empty());
    });
}
