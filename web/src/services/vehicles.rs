//! A farm's vehicles and a pilot's papers, the data the launch's go/no-go reads: what a
//! vehicle must state to be registered or changed (a registration number, a name, ArduPilot or
//! PX4, a link address that parses, the pump's servo output) and what a pilot's licence and
//! permit may hold.

use chrono::NaiveDate;

use crate::error::AppError;
use crate::i18n::{Lang, Msg};
use crate::storage::{Db, NewVehicle, PilotCredentials};
use crate::validate::{Lines, MAX_NAME, check_text};

/// A vehicle as the form sent it, unchecked.
#[derive(Debug, Clone, Copy)]
pub struct VehicleInput<'a> {
    /// Its registration number (機体登録記号).
    pub registration_no: &'a str,
    /// Its name.
    pub name: &'a str,
    /// `ardupilot` or `px4`.
    pub autopilot: &'a str,
    /// Where the server reaches it (a `telemetry` link address).
    pub link_address: &'a str,
    /// When its registration expires: empty or `YYYY-MM-DD`.
    pub registration_expiry: &'a str,
    /// The servo output of its pump, 1 to 16.
    pub pump_servo: &'a str,
}

/// A pilot's papers as the form sent them, unchecked.
#[derive(Debug, Clone, Copy)]
pub struct PilotInput<'a> {
    /// 技能証明 (remote pilot licence) number.
    pub licence_no: &'a str,
    /// When the licence expires: empty or `YYYY-MM-DD`.
    pub licence_expiry: &'a str,
    /// MLIT 許可・承認 (permit and approval) number.
    pub permit_no: &'a str,
    /// When the permit expires: empty or `YYYY-MM-DD`.
    pub permit_expiry: &'a str,
}

/// Registers vehicle `v` for farm `farm_id`; returns its id.
///
/// # Errors
/// [`AppError::BadInput`] for a vehicle that is not valid (messages in `lang`); the database
/// refused it (a registration number taken) or failed.
pub async fn add_vehicle(
    db: &Db,
    lang: Lang,
    farm_id: i64,
    v: &VehicleInput<'_>,
) -> Result<i64, AppError> {
    let v = validated(lang, v)?;
    Ok(db.create_vehicle(&v.row(farm_id)).await?)
}

/// Changes vehicle `id` of farm `farm_id` to `v`.
///
/// # Errors
/// As [`add_vehicle`]; an unknown vehicle.
pub async fn edit_vehicle(
    db: &Db,
    lang: Lang,
    id: i64,
    farm_id: i64,
    v: &VehicleInput<'_>,
) -> Result<(), AppError> {
    let valid = validated(lang, v)?;
    db.update_vehicle(id, &valid.row(farm_id)).await?;
    Ok(())
}

/// Stores the papers of pilot `user_id`.
///
/// # Errors
/// [`AppError::BadInput`] for a number over 64 characters or a date that is not one; the
/// database failed.
pub async fn save_pilot_credentials(
    db: &Db,
    user_id: i64,
    p: &PilotInput<'_>,
) -> Result<(), AppError> {
    let text = |field: &str, s: &str| {
        let s = s.trim();
        if s.chars().count() > 64 {
            Err(AppError::BadInput(format!(
                "{field}: at most 64 characters"
            )))
        } else {
            Ok(s.to_owned())
        }
    };
    let c = PilotCredentials {
        user_id,
        licence_no: text("licence_no", p.licence_no)?,
        licence_expiry: date("licence_expiry", p.licence_expiry)?,
        permit_no: text("permit_no", p.permit_no)?,
        permit_expiry: date("permit_expiry", p.permit_expiry)?,
    };
    db.set_pilot_credentials(&c).await?;
    Ok(())
}

/// A date field: empty is none, else `YYYY-MM-DD`.
fn date(field: &str, s: &str) -> Result<Option<NaiveDate>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::BadInput(format!("{field}: {s:?} is not a date (YYYY-MM-DD)")))
}

/// A checked vehicle form, trimmed.
struct ValidVehicle {
    registration_no: String,
    name: String,
    autopilot: String,
    link_address: String,
    registration_expiry: Option<NaiveDate>,
    pump_servo: i64,
}

impl ValidVehicle {
    fn row(&self, farm_id: i64) -> NewVehicle<'_> {
        NewVehicle {
            farm_id,
            registration_no: &self.registration_no,
            name: &self.name,
            autopilot: &self.autopilot,
            link_address: &self.link_address,
            registration_expiry: self.registration_expiry,
            pump_servo: self.pump_servo,
        }
    }
}

/// Checks a vehicle form.
fn validated(lang: Lang, f: &VehicleInput<'_>) -> Result<ValidVehicle, AppError> {
    for (label, value) in [
        (Msg::RegistrationNo, f.registration_no),
        (Msg::Name, f.name),
        (Msg::LinkAddress, f.link_address),
    ] {
        check_text(lang, label.text(lang), value.trim(), MAX_NAME, Lines::One)?;
    }
    let reg = f.registration_no.trim();
    if reg.is_empty() || reg.chars().count() > 32 {
        return Err(AppError::BadInput(
            "registration_no: 1 to 32 characters".into(),
        ));
    }
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadInput("name: 1 to 100 characters".into()));
    }
    if !matches!(f.autopilot, "ardupilot" | "px4") {
        return Err(AppError::BadInput("autopilot: ardupilot or px4".into()));
    }
    let link = f.link_address.trim();
    telemetry::LinkAddress::parse(link)
        .map_err(|e| AppError::BadInput(format!("link_address: {e}")))?;
    let expiry = date("registration_expiry", f.registration_expiry)?;
    let servo: i64 = f
        .pump_servo
        .trim()
        .parse()
        .ok()
        .filter(|s| (1..=16).contains(s))
        .ok_or_else(|| AppError::BadInput("pump_servo: a servo output from 1 to 16".into()))?;
    Ok(ValidVehicle {
        registration_no: reg.to_owned(),
        name: name.to_owned(),
        autopilot: f.autopilot.to_owned(),
        link_address: link.to_owned(),
        registration_expiry: expiry,
        pump_servo: servo,
    })
}
