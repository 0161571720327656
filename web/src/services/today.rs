//! The day as each role's home shows it: for a farmer the wind and whether it allows
//! spraying, the next sorties, the documents left to sign and the drones in the air; for a
//! dairy operator each parlor's state with its open alerts first; for city staff what reached
//! each district since yesterday began, and where nothing did.

use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::services::flights::control::Phase;
use crate::services::flights::manager::FlightManager;
use crate::services::gonogo::GoNoGoConfig;
use crate::services::weather::WeatherStation;
use crate::storage::{Db, DistrictChanges, ParlorNow, WorkItem, jst_day_start};

/// Whether today's wind allows spraying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wind {
    /// No station is configured, or it did not answer: nobody can say.
    NoForecast,
    /// The station's reading against the go/no-go limit.
    Reading {
        /// Wind speed, m/s.
        mps: f64,
        /// The go/no-go's limit, m/s.
        limit_mps: f64,
        /// When it was read.
        at: DateTime<Utc>,
    },
}

impl Wind {
    /// `Some(true)` when the wind is within the limit, `None` without a reading.
    pub fn go(self) -> Option<bool> {
        match self {
            Wind::NoForecast => None,
            Wind::Reading { mps, limit_mps, .. } => Some(mps <= limit_mps),
        }
    }
}

/// A drone of the farm in the air now.
#[derive(Debug, Clone, PartialEq)]
pub struct DroneNow {
    /// The vehicle's name.
    pub name: String,
    /// Its flight.
    pub flight_id: i64,
    /// Where the flight is.
    pub phase: Phase,
    /// Battery, %, when the vehicle reports it.
    pub battery_pct: Option<f64>,
}

/// A farmer's day.
#[derive(Debug, Clone, PartialEq)]
pub struct FarmerDay {
    /// The wind now.
    pub wind: Wind,
    /// Plans with no completed flight: the next sorties.
    pub sorties: Vec<WorkItem>,
    /// Flights whose 飛行日誌 is unsigned.
    pub logbooks: Vec<WorkItem>,
    /// Flights whose 農薬使用記録 is unsigned.
    pub records: Vec<WorkItem>,
    /// Drones flying now.
    pub drones: Vec<DroneNow>,
}

/// The farmer's day of `farm_id`: one read of its open work, the vehicles, the station's wind.
///
/// # Errors
/// The database failed.
pub async fn farmer_day(
    db: &Db,
    weather: &WeatherStation,
    gonogo: &GoNoGoConfig,
    flights: &FlightManager,
    farm_id: i64,
) -> Result<FarmerDay, AppError> {
    let work = db.open_work(farm_id).await?;
    let wind = match weather.wind(gonogo).await {
        Some(r) => Wind::Reading {
            mps: r.mps,
            limit_mps: gonogo.max_wind_mps,
            at: r.at,
        },
        None => Wind::NoForecast,
    };
    let mut drones = Vec::new();
    for v in db.vehicles(Some(farm_id)).await? {
        let Some(flight_id) = flights.flight_of_vehicle(v.id) else {
            continue;
        };
        let live = flights.live(flight_id).map(|rx| rx.borrow().clone());
        drones.push(DroneNow {
            name: v.name,
            flight_id,
            phase: live.as_ref().map(|l| l.phase).unwrap_or_default(),
            battery_pct: live.and_then(|l| l.battery_pct),
        });
    }
    let of =
        |kind: &str| -> Vec<WorkItem> { work.iter().filter(|w| w.kind == kind).cloned().collect() };
    Ok(FarmerDay {
        wind,
        sorties: of("sortie"),
        logbooks: of("logbook"),
        records: of("record"),
        drones,
    })
}

/// A dairy operator's day: each parlor, those with open alerts first.
///
/// # Errors
/// The database failed.
pub async fn dairy_day(db: &Db, farm_id: i64) -> Result<Vec<ParlorNow>, AppError> {
    Ok(db.parlors_now(farm_id).await?)
}

/// What a district is missing since yesterday began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Nothing is missing.
    Nothing,
    /// It has parlors, but none of them reported.
    ParlorData,
    /// It has farms, but nothing at all arrived from them.
    AllData,
}

impl Missing {
    /// What `farms` farms with `parlors` parlors are missing when `flights_and_records`
    /// flights and spray record versions and `parlor_reports` parlor intervals arrived from
    /// them in a window: the one definition the staff home and the staff alert share.
    pub fn judge(
        farms: i64,
        parlors: i64,
        flights_and_records: i64,
        parlor_reports: i64,
    ) -> Missing {
        if farms > 0 && flights_and_records + parlor_reports == 0 {
            Missing::AllData
        } else if parlors > 0 && parlor_reports == 0 {
            Missing::ParlorData
        } else {
            Missing::Nothing
        }
    }
}

/// City staff's day: each district's changes since the start of yesterday (JST).
#[derive(Debug, Clone, PartialEq)]
pub struct StaffDay {
    /// The start of yesterday.
    pub since: DateTime<Utc>,
    /// Each district with what it is missing.
    pub districts: Vec<(DistrictChanges, Missing)>,
}

/// City staff's day at `now`.
///
/// # Errors
/// The database failed.
pub async fn staff_day(db: &Db, now: DateTime<Utc>) -> Result<StaffDay, AppError> {
    let since = jst_day_start(now) - chrono::Duration::days(1);
    let districts = db
        .district_changes(since)
        .await?
        .into_iter()
        .map(|d| {
            let missing =
                Missing::judge(d.farms, d.parlors, d.flights + d.records, d.parlor_reports);
            (d, missing)
        })
        .collect();
    Ok(StaffDay { since, districts })
}
