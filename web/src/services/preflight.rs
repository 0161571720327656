//! The go/no-go of one launch: everything [`gonogo::evaluate`] decides on, gathered for a
//! plan's sortie — the farm's vehicles and the one chosen, the sortie, where an interrupted
//! flight of it may resume, the wind (entered, else the weather station's), the height above
//! the crop, the pilot's and the vehicle's papers and the site — and the checklist over it
//! ([`assess`]); and the launch decided on it ([`launch`]): refused on any Block or an
//! unacknowledged Warn, else stored with its inputs and outcomes and handed to the flight
//! manager.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::AppError;
use crate::i18n::JST;
use crate::services::flights::manager::{FlightManager, LaunchRequest};
use crate::services::gonogo::{self, Check, GoNoGoConfig, GoNoGoInputs, Site};
use crate::services::weather::WeatherStation;
use crate::storage::{Db, FieldRow, NewLaunch, PlanRow, VehicleRow};

/// What the pilot chose and entered for a launch (as sent: the choices are checked here).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The pilot (whose licence and permit count).
    pub pilot_user_id: i64,
    /// The plan to fly.
    pub plan: &'a PlanRow,
    /// Its field.
    pub field: &'a FieldRow,
    /// The vehicle id chosen; none or empty: the farm's first vehicle.
    pub vehicle: Option<&'a str>,
    /// The sortie number chosen (from 1); none or empty: the first.
    pub sortie: Option<&'a str>,
    /// `resume` (the default when the sortie can resume) or `beginning`.
    pub start: Option<&'a str>,
    /// The wind the pilot entered, in m/s; `None`: ask the weather station.
    pub wind_mps: Option<f64>,
    /// `Some` when the form carried a height above the crop (`Some(None)`: not a number);
    /// `None`: the plan's flight height.
    pub height_m: Option<Option<f64>>,
    /// The neighbours were told of the spraying.
    pub neighbours_notified: bool,
    /// The airspace approval's reference, if one was needed.
    pub airspace_approval: &'a str,
}

/// The go/no-go of a launch and what it was decided on.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The farm's vehicles.
    pub vehicles: Vec<VehicleRow>,
    /// The vehicle chosen, if the farm has one.
    pub vehicle: Option<VehicleRow>,
    /// The sortie (from 1).
    pub sortie: usize,
    /// How many sorties the plan has.
    pub n_sorties: usize,
    /// The inputs of the checklist.
    pub inputs: GoNoGoInputs,
    /// The checklist.
    pub checks: Vec<Check>,
    /// When the weather station was read, if its wind was used.
    pub station_read_at: Option<DateTime<Utc>>,
    /// The sortie item an interrupted flight of this sortie reached last, with its number as
    /// people count (from 1), if the sortie can resume from there.
    pub resume_offer: Option<(usize, usize)>,
    /// The item this launch resumes after (the offer, unless the pilot chose the beginning).
    pub resume_after: Option<usize>,
}

/// Where an interrupted flight of `sortie` stopped, if the stored plan (`parsed`, when it
/// reads) can resume that sortie from there: (sortie item, its number counted from 1).
pub async fn resume_offer(
    db: &Db,
    plan: &PlanRow,
    parsed: Option<&telemetry::Plan>,
    sortie: usize,
) -> Result<Option<(usize, usize)>, AppError> {
    let Some(reached) = db.resume_point(plan.id, sortie as i64).await? else {
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

/// Gathers the inputs of `req` and evaluates the checklist with `config`.
///
/// # Errors
/// [`AppError::BadInput`] for a vehicle of another farm, a sortie the plan does not have or an
/// unknown start; the database failed.
pub async fn assess(
    db: &Db,
    weather: &WeatherStation,
    config: &GoNoGoConfig,
    req: &Request<'_>,
) -> Result<Assessment, AppError> {
    let (plan, field) = (req.plan, req.field);
    let vehicles = db.vehicles(Some(field.farm_id)).await?;
    let vehicle = match req.vehicle.map(str::trim) {
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
    let sortie = match req.sortie.map(str::trim) {
        None | Some("") => 1,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=n_sorties).contains(n))
            .ok_or_else(|| {
                AppError::BadInput(format!("sortie: choose a sortie from 1 to {n_sorties}"))
            })?,
    };
    let resume_offer = resume_offer(db, plan, parsed.as_ref(), sortie).await?;
    let resume_after = match req.start {
        Some("beginning") => None,
        None | Some("" | "resume") => resume_offer.map(|(r, _)| r),
        Some(other) => {
            return Err(AppError::BadInput(format!(
                "start: {other:?} is neither resume nor beginning"
            )));
        }
    };
    let plan_config: Value = serde_json::from_str(&plan.config_json).unwrap_or(Value::Null);
    let (wind, source, station_read_at) = match req.wind_mps {
        Some(w) => (Some(w), "entered", None),
        None => match weather.wind(config).await {
            Some(r) => (Some(r.mps), "station", Some(r.at)),
            None => (None, "entered", None),
        },
    };
    let height = match req.height_m {
        Some(entered) => entered,
        None => plan_config["height_m"].as_f64(),
    };
    let pilot = db.pilot_credentials(req.pilot_user_id).await?;
    let field_geo: Value = serde_json::from_str(&field.geojson).unwrap_or(Value::Null);
    let plan_geo: Value = serde_json::from_str(&plan.geojson).unwrap_or(Value::Null);
    let inputs = GoNoGoInputs {
        today: Some(chrono::Utc::now().with_timezone(&JST).date_naive()),
        wind_mps: wind,
        wind_source: source.to_owned(),
        height_above_crop_m: height,
        neighbours_notified: req.neighbours_notified,
        airspace_approval: req.airspace_approval.to_owned(),
        licence_expiry: pilot.licence_expiry,
        permit_expiry: pilot.permit_expiry,
        registration_expiry: vehicle.as_ref().and_then(|v| v.registration_expiry),
        site: Site::from_geojson(&field_geo, &plan_geo, sortie),
    };
    let checks = gonogo::evaluate(config, &inputs);
    Ok(Assessment {
        vehicles,
        vehicle,
        sortie,
        n_sorties,
        inputs,
        checks,
        station_read_at,
        resume_offer,
        resume_after,
    })
}

/// What the pilot asked to launch, on the checklist they were shown.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    /// The pilot.
    pub pilot_user_id: i64,
    /// The plan to fly.
    pub plan: &'a PlanRow,
    /// Its field.
    pub field: &'a FieldRow,
    /// The vehicle chosen (by [`assess`]), if the farm has one.
    pub vehicle: Option<&'a VehicleRow>,
    /// The sortie (from 1).
    pub sortie: usize,
    /// The item this launch resumes after.
    pub resume_after: Option<usize>,
    /// The inputs of the checklist.
    pub inputs: &'a GoNoGoInputs,
    /// The checklist the pilot was shown.
    pub checks: &'a [Check],
    /// The pilot acknowledged the checklist's warnings.
    pub acknowledged: bool,
    /// The pilot agreed to have the vehicle's geofence switched on if it is off.
    pub enable_fence: bool,
}

/// Why a launch was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A check blocks the flight.
    Blocked,
    /// The checklist warns and the pilot did not acknowledge it.
    WarningsNeedAck,
    /// The farm has no vehicle.
    NoVehicle,
    /// The vehicle is already flying.
    VehicleBusy,
}

/// Launches `l`: refuses a blocked checklist, unacknowledged warnings, a farm without a
/// vehicle and a vehicle already flying; otherwise stores the flight with the checklist's
/// inputs and outcomes (`flight_gonogo`) and hands it to `flights`. Returns the new flight's
/// id, or why it was refused.
///
/// # Errors
/// The database failed, or the checklist could not be encoded.
pub async fn launch(
    db: &Db,
    flights: &Arc<FlightManager>,
    config: &GoNoGoConfig,
    l: &Launch<'_>,
) -> Result<Result<i64, Refusal>, AppError> {
    let (plan, field, ev) = (l.plan, l.field, l);
    if gonogo::blocked(ev.checks) {
        return Ok(Err(Refusal::Blocked));
    }
    let acknowledged = l.acknowledged;
    if gonogo::has_warnings(ev.checks) && !acknowledged {
        return Ok(Err(Refusal::WarningsNeedAck));
    }
    let Some(vehicle) = ev.vehicle.cloned() else {
        return Ok(Err(Refusal::NoVehicle));
    };
    if flights.flight_of_vehicle(vehicle.id).is_some() {
        return Ok(Err(Refusal::VehicleBusy));
    }
    let inputs = serde_json::to_string(&json!({
        "inputs": ev.inputs,
        "vehicle": {"id": vehicle.id, "registration_no": vehicle.registration_no, "name": vehicle.name},
        "config": {
            "max_wind_mps": config.max_wind_mps,
            "wind_height_m": config.wind_height_m,
            "max_height_above_crop_m": config.max_height_above_crop_m,
            "approval_zone_m": config.approval_zone_m,
            "max_field_gap_m": config.max_field_gap_m,
        },
    }))
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let checks = serde_json::to_string(ev.checks).map_err(|e| AppError::Internal(e.to_string()))?;
    let flight_id = db
        .create_launch(&NewLaunch {
            farm_id: field.farm_id,
            field_id: field.id,
            plan_id: plan.id,
            vehicle_id: vehicle.id,
            pilot_user_id: l.pilot_user_id,
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
        enable_fence: l.enable_fence,
        farm_id: field.farm_id,
    };
    if flights.launch(db.clone(), req).is_err() {
        // Another launch took the vehicle in between.
        db.set_flight_status(flight_id, "failed").await?;
        return Ok(Err(Refusal::VehicleBusy));
    }
    Ok(Ok(flight_id))
}
