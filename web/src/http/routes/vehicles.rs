//! Vehicles of a farm (`/vehicles`, `/vehicles/{id}`, `/api/v1/vehicles`) and pilot credentials
//! (`/pilots/{user_id}`), the data the launch page's go/no-go reads.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::error::AppForm;
use crate::http::pages;
use crate::http::state::AppState;
use crate::i18n::{Lang, Msg};
use crate::services::vehicles::{self, PilotInput, VehicleInput};
use crate::storage::{Farm, Role, VehicleRow};

/// Who may see vehicles.
const READERS: &[Role] = &[Role::Admin, Role::Staff, Role::Farmer];
/// Who may register and edit vehicles (a farmer only on their own farm).
const WRITERS: &[Role] = &[Role::Admin, Role::Farmer];

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vehicles", get(list).post(create))
        .route("/vehicles/{id}", get(edit_page).post(update))
        .route("/api/v1/vehicles", get(api_vehicles))
        .route("/pilots/{user_id}", get(pilot_page).post(pilot_save))
}

/// The vehicles `user` may read.
async fn readable_vehicles(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<VehicleRow>, AppError> {
    user.require_role(READERS)?;
    if user.user.role.sees_all_farms() {
        Ok(state.db.vehicles(None).await?)
    } else {
        match user.user.farm_id {
            Some(farm) => Ok(state.db.vehicles(Some(farm)).await?),
            None => Ok(Vec::new()),
        }
    }
}

/// The vehicle form.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct VehicleForm {
    #[serde(default)]
    csrf: String,
    farm_id: Option<String>,
    #[serde(default)]
    registration_no: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    autopilot: String,
    #[serde(default)]
    link_address: String,
    #[serde(default)]
    registration_expiry: String,
    #[serde(default)]
    pump_servo: String,
}

impl VehicleForm {
    /// The form's vehicle, for [`vehicles::add_vehicle`] and [`vehicles::edit_vehicle`].
    fn input(&self) -> VehicleInput<'_> {
        VehicleInput {
            registration_no: &self.registration_no,
            name: &self.name,
            autopilot: &self.autopilot,
            link_address: &self.link_address,
            registration_expiry: &self.registration_expiry,
            pump_servo: &self.pump_servo,
        }
    }
}

fn vehicle_fields(lang: Lang, v: Option<&VehicleRow>) -> Markup {
    let ap = v.map_or("ardupilot", |v| v.autopilot.as_str());
    html! {
        label for="registration_no" { (Msg::RegistrationNo.text(lang)) }
        input #registration_no name="registration_no" type="text" required maxlength="32"
            value=[v.map(|v| v.registration_no.as_str())];
        label for="name" { (Msg::Name.text(lang)) }
        input #name name="name" type="text" required maxlength="100" value=[v.map(|v| v.name.as_str())];
        label for="autopilot" { (Msg::Autopilot.text(lang)) }
        select #autopilot name="autopilot" {
            option value="ardupilot" selected[ap == "ardupilot"] { "ArduPilot Copter" }
            option value="px4" selected[ap == "px4"] { "PX4" }
        }
        label for="link_address" { (Msg::LinkAddress.text(lang)) }
        input #link_address name="link_address" type="text" required
            value=[v.map(|v| v.link_address.as_str())];
        label for="registration_expiry" { (Msg::RegistrationExpiry.text(lang)) }
        input #registration_expiry name="registration_expiry" type="date"
            value=[v.and_then(|v| v.registration_expiry).map(|d| d.to_string())];
        label for="pump_servo" { (Msg::PumpServo.text(lang)) }
        input #pump_servo name="pump_servo" type="number" min="1" max="16" required
            value=(v.map_or(9, |v| v.pump_servo));
    }
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let vehicles = readable_vehicles(&state, &user).await?;
    let lang = user.lang;
    let farms: Vec<Farm> = if user.user.role == Role::Admin {
        state.db.farms().await?
    } else {
        Vec::new()
    };
    let can_write = user.require_role(WRITERS).is_ok()
        && (user.user.role == Role::Admin || user.user.farm_id.is_some());
    let title = Msg::Vehicles.text(lang);
    let body = html! {
        h1 { (title) }
        @if vehicles.is_empty() { p { (Msg::NoVehicles.text(lang)) } } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::RegistrationNo.text(lang)) }
                    th scope="col" { (Msg::Name.text(lang)) }
                    th scope="col" { (Msg::Autopilot.text(lang)) }
                    th scope="col" { (Msg::RegistrationExpiry.text(lang)) }
                    th scope="col" { (Msg::StatusWord.text(lang)) }
                } }
                tbody { @for v in &vehicles {
                    tr {
                        th scope="row" { a href=(format!("/vehicles/{}", v.id)) { (v.registration_no) } }
                        td { (v.name) }
                        td { (crate::i18n::names::autopilot_name(&v.autopilot)) }
                        td { (v.registration_expiry.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                        td { @match state.flights.flight_of_vehicle(v.id) {
                            Some(f) => a href=(format!("/flights/{f}/live")) { (Msg::StatusFlying.text(lang)) " #" (f) },
                            None => "—",
                        } }
                    }
                } }
            }
        }
        @if can_write {
            h2 { (Msg::AddVehicle.text(lang)) }
            form method="post" action="/vehicles" {
                input type="hidden" name="csrf" value=(user.csrf_token);
                @if user.user.role == Role::Admin {
                    label for="farm_id" { (Msg::Farm.text(lang)) }
                    select #farm_id name="farm_id" required {
                        @for f in &farms { option value=(f.id) { (f.name) } }
                    }
                }
                (vehicle_fields(lang, None))
                p { button type="submit" { (Msg::AddVehicle.text(lang)) } }
            }
        }
        p { a href=(format!("/pilots/{}", user.user.id)) { (Msg::MyPilotCredentials.text(lang)) } }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}

#[utoipa::path(
    post, path = "/vehicles", tag = "vehicles",
    request_body(content = inline(VehicleForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the vehicle list"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(form): AppForm<VehicleForm>,
) -> Result<Response, AppError> {
    user.require_role(WRITERS)?;
    user.check_csrf(&form.csrf)?;
    let farm_id = if user.user.role == Role::Admin {
        form.farm_id
            .as_deref()
            .and_then(|f| f.trim().parse::<i64>().ok())
            .ok_or_else(|| AppError::BadInput("farm_id: choose a farm".into()))?
    } else {
        user.user.farm_id.ok_or(AppError::Forbidden)?
    };
    vehicles::add_vehicle(&state.db, user.lang, farm_id, &form.input()).await?;
    Ok(Redirect::to("/vehicles").into_response())
}

/// The vehicle `id` if `user` may change it.
async fn writable_vehicle(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<VehicleRow, AppError> {
    user.require_role(WRITERS)?;
    let v = state.db.vehicle(id).await?;
    user.require_farm(v.farm_id)?;
    Ok(v)
}

async fn edit_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require_role(READERS)?;
    let v = state.db.vehicle(id).await?;
    user.require_farm(v.farm_id)?;
    let lang = user.lang;
    let can_write = user.require_role(WRITERS).is_ok();
    let title = format!("{} — {}", Msg::EditVehicle.text(lang), v.registration_no);
    let body = html! {
        h1 { (title) }
        p { a href="/vehicles" { "← " (Msg::Vehicles.text(lang)) } }
        @if can_write {
            form method="post" action=(format!("/vehicles/{id}")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                (vehicle_fields(lang, Some(&v)))
                p { button type="submit" { (Msg::Save.text(lang)) } }
            }
        } @else {
            table { tbody {
                tr { th scope="row" { (Msg::RegistrationNo.text(lang)) } td { (v.registration_no) } }
                tr { th scope="row" { (Msg::Name.text(lang)) } td { (v.name) } }
                tr { th scope="row" { (Msg::Autopilot.text(lang)) } td { (crate::i18n::names::autopilot_name(&v.autopilot)) } }
                tr { th scope="row" { (Msg::RegistrationExpiry.text(lang)) } td { (v.registration_expiry.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) } }
            } }
        }
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

#[utoipa::path(
    post, path = "/vehicles/{id}", tag = "vehicles",
    request_body(content = inline(VehicleForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The vehicle")),
    responses((status = 303, description = "See other: the vehicle list"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<VehicleForm>,
) -> Result<Response, AppError> {
    let v = writable_vehicle(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    vehicles::edit_vehicle(&state.db, user.lang, id, v.farm_id, &form.input()).await?;
    Ok(Redirect::to("/vehicles").into_response())
}

/// The vehicles the caller may see (a farmer: their farm's; staff and admin: all).
#[utoipa::path(get, path = "/api/v1/vehicles", tag = "flights",
    responses((status = 200, body = Vec<VehicleRow>), (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_vehicles(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<VehicleRow>>, AppError> {
    Ok(axum::Json(readable_vehicles(&state, &user).await?))
}

/// Fails unless `user` is `user_id` or an admin.
fn may_edit_pilot(user: &CurrentUser, user_id: i64) -> Result<(), AppError> {
    if user.user.id == user_id || user.user.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct PilotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    licence_no: String,
    #[serde(default)]
    licence_expiry: String,
    #[serde(default)]
    permit_no: String,
    #[serde(default)]
    permit_expiry: String,
}

async fn pilot_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(user_id): Path<i64>,
) -> Result<Response, AppError> {
    may_edit_pilot(&user, user_id)?;
    let c = state.db.pilot_credentials(user_id).await?;
    let lang = user.lang;
    let title = Msg::PilotCredentials.text(lang);
    let d = |x: Option<NaiveDate>| x.map(|d| d.to_string());
    let body = html! {
        h1 { (title) }
        form method="post" action=(format!("/pilots/{user_id}")) {
            input type="hidden" name="csrf" value=(user.csrf_token);
            label for="licence_no" { (Msg::LicenceNo.text(lang)) }
            input #licence_no name="licence_no" type="text" maxlength="64" value=(c.licence_no);
            label for="licence_expiry" { (Msg::LicenceExpiry.text(lang)) }
            input #licence_expiry name="licence_expiry" type="date" value=[d(c.licence_expiry)];
            label for="permit_no" { (Msg::PermitNo.text(lang)) }
            input #permit_no name="permit_no" type="text" maxlength="64" value=(c.permit_no);
            label for="permit_expiry" { (Msg::PermitExpiry.text(lang)) }
            input #permit_expiry name="permit_expiry" type="date" value=[d(c.permit_expiry)];
            p { button type="submit" { (Msg::Save.text(lang)) } }
        }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}

#[utoipa::path(
    post, path = "/pilots/{user_id}", tag = "vehicles",
    request_body(content = inline(PilotForm), content_type = "application/x-www-form-urlencoded"),
    params(("user_id" = i64, Path, description = "The pilot (a user)")),
    responses((status = 303, description = "See other: the pilot page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
async fn pilot_save(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(user_id): Path<i64>,
    AppForm(form): AppForm<PilotForm>,
) -> Result<Response, AppError> {
    may_edit_pilot(&user, user_id)?;
    user.check_csrf(&form.csrf)?;
    vehicles::save_pilot_credentials(
        &state.db,
        user_id,
        &PilotInput {
            licence_no: &form.licence_no,
            licence_expiry: &form.licence_expiry,
            permit_no: &form.permit_no,
            permit_expiry: &form.permit_expiry,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/pilots/{user_id}")).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::storage::Role;
    use crate::testutil::both_apps;

    both_apps!(vehicle_text_with_a_nul_is_a_422_on_both_backends, |app| {
        let farm = app.farm("kiki", "crop").await;
        let b = app.user("kiki", Role::Farmer, Some(farm.id)).await;
        let form = |reg: &'static str, name: &'static str| {
            [
                ("csrf", b.csrf.clone()),
                ("registration_no", reg.to_owned()),
                ("name", name.to_owned()),
                ("autopilot", "ardupilot".to_owned()),
                ("link_address", "udpout:127.0.0.1:9".to_owned()),
                ("pump_servo", "9".to_owned()),
            ]
        };
        let post = |path: String, form: [(&'static str, String); 6]| {
            let cookies = b.cookies.clone();
            async move {
                let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                app.post_form(&path, &cookies, &pairs).await
            }
        };
        for f in [form("JU\0-1", "散布機1号"), form("JU1", "散布機\0号")] {
            let r = post("/vehicles".into(), f).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body.contains("制御文字"), "{}", r.body);
        }
        assert!(app.state.db.vehicles(None).await.unwrap().is_empty());
        let r = post("/vehicles".into(), form("JU1", "散布機1号")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let id = app.state.db.vehicles(None).await.unwrap()[0].id;
        let r = post(format!("/vehicles/{id}"), form("JU1", "散布機\n1号")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(
            app.state.db.vehicles(None).await.unwrap()[0].name,
            "散布機1号"
        );
    });
}
