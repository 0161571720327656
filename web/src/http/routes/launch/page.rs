//! The launch page of a plan: the vehicle and sortie form, the go/no-go checklist evaluated
//! from the plan, the vehicle, the weather and the pilot's inputs, and the offer to resume an
//! interrupted sortie.

use super::*;

/// The launch form (also the "check" submission).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(super) struct LaunchForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) action: String,
    pub(super) vehicle: Option<String>,
    pub(super) sortie: Option<String>,
    pub(super) wind_mps: Option<String>,
    pub(super) height_m: Option<String>,
    pub(super) neighbours_notified: Option<String>,
    pub(super) airspace_approval: Option<String>,
    pub(super) acknowledge: Option<String>,
    /// Consent to switch the vehicle's geofence on (ticked by default on a fresh form).
    pub(super) enable_fence: Option<String>,
    /// `resume` (the default when an interrupted flight can be resumed) or `beginning`.
    pub(super) start: Option<String>,
}

pub(super) fn number(s: &Option<String>) -> Option<f64> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<f64>().ok())
}

/// Everything the launch page shows and the POST decides on.
pub(super) struct Evaluation {
    pub(super) vehicles: Vec<VehicleRow>,
    pub(super) vehicle: Option<VehicleRow>,
    pub(super) sortie: usize,
    pub(super) n_sorties: usize,
    pub(super) inputs: GoNoGoInputs,
    pub(super) checks: Vec<Check>,
    pub(super) form: LaunchForm,
    /// When the weather station was read, if its wind was used.
    pub(super) station_read_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The sortie item an interrupted flight of this sortie reached last, with its number as
    /// people count (from 1), if the sortie can resume from there.
    pub(super) resume_offer: Option<(usize, usize)>,
    /// The item this launch resumes after (the offer, unless the pilot chose the beginning).
    pub(super) resume_after: Option<usize>,
}

/// The go/no-go of `form` against `plan` over `field`, by [`preflight::assess`].
pub(super) async fn evaluate(
    state: &AppState,
    user: &CurrentUser,
    plan: &PlanRow,
    field: &FieldRow,
    form: LaunchForm,
) -> Result<Evaluation, AppError> {
    let a = preflight::assess(
        &state.db,
        &state.weather,
        &state.settings.gonogo,
        &preflight::Request {
            pilot_user_id: user.user.id,
            plan,
            field,
            vehicle: form.vehicle.as_deref(),
            sortie: form.sortie.as_deref(),
            start: form.start.as_deref(),
            wind_mps: number(&form.wind_mps),
            height_m: form.height_m.is_some().then(|| number(&form.height_m)),
            neighbours_notified: form.neighbours_notified.is_some(),
            airspace_approval: form.airspace_approval.as_deref().unwrap_or_default(),
        },
    )
    .await?;
    Ok(Evaluation {
        vehicles: a.vehicles,
        vehicle: a.vehicle,
        sortie: a.sortie,
        n_sorties: a.n_sorties,
        inputs: a.inputs,
        checks: a.checks,
        form,
        station_read_at: a.station_read_at,
        resume_offer: a.resume_offer,
        resume_after: a.resume_after,
    })
}

pub(super) fn launch_body(
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
        (map_assets(lang))
    }
}

pub(super) fn plan_map(state: &AppState, lang: Lang, plan_id: i64) -> Markup {
    html! {
        div #map data-map data-geojson-url=(format!("/plans/{plan_id}/geojson"))
            data-tile-url=(state.settings.tile_url) role="region" aria-label=(Msg::Map.text(lang))
            style="height: 50vh; min-height: 16rem; border: 2px solid #ccd;" {}
    }
}

pub(super) async fn launch_page(
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
