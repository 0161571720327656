//! Regional reports: per-flight spray facts, the monthly spray and dairy roll-ups the reports
//! read, and a rebuild of every roll-up from the raw records (for repair and bulk loads).
//! The row types and the reports' reads are here; `facts.rs` upserts a flight's fact and its
//! month, `rebuild.rs` rebuilds every roll-up.

mod facts;
mod rebuild;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, StorageError, on_pool};

/// What one flight contributes to the spray reports.
#[derive(Debug, Clone, PartialEq)]
pub struct FlightFact {
    /// The flight.
    pub flight_id: i64,
    /// The farm that flew it.
    pub farm_id: i64,
    /// When it was flown (its month is an Asia/Tokyo month).
    pub flown_at: DateTime<Utc>,
    /// Area sprayed, m².
    pub area_m2: f64,
    /// Liquid applied, litres.
    pub litres: f64,
    /// Pesticide name, when a pesticide record names it.
    pub pesticide_name: Option<String>,
    /// Pesticide registration number (農薬登録番号), when recorded.
    pub pesticide_reg_no: Option<String>,
}

/// One farm's figures for one Asia/Tokyo month, read from the monthly roll-ups.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FarmMonth {
    /// The farm.
    pub farm_id: i64,
    /// The farm's district.
    pub district_id: i64,
    /// Start of the month (00:00 JST on the 1st, as a UTC instant).
    pub month_start: DateTime<Utc>,
    /// Flights flown.
    pub flights: i64,
    /// Area sprayed, m².
    pub area_m2: f64,
    /// Liquid applied, litres.
    pub litres: f64,
    /// Cows milked (from the controllers' counters).
    pub cows: f64,
    /// Milk, kg.
    pub milk_kg: f64,
    /// Milking events recorded.
    pub milkings: i64,
    /// Seconds the parlors answered.
    pub online_s: f64,
    /// Seconds of recorded offline gaps.
    pub offline_s: f64,
    /// High-conductivity alerts.
    pub alerts: i64,
}

/// One farm's spray totals for one month and one pesticide (`None` name and number = not recorded).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PesticideMonth {
    /// The farm.
    pub farm_id: i64,
    /// The farm's district.
    pub district_id: i64,
    /// Start of the month.
    pub month_start: DateTime<Utc>,
    /// Pesticide name, if recorded.
    pub pesticide_name: Option<String>,
    /// Registration number, if recorded.
    pub pesticide_reg_no: Option<String>,
    /// Flights.
    pub flights: i64,
    /// Area sprayed, m².
    pub area_m2: f64,
    /// Liquid applied, litres.
    pub litres: f64,
}

/// One monthly dairy roll-up row of a parlor.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ParlorMonthRow {
    /// The parlor.
    pub parlor_id: i64,
    /// Start of the month.
    pub month_start: DateTime<Utc>,
    /// Cows milked.
    pub cows: f64,
    /// Milk, kg.
    pub milk_kg: f64,
    /// Milking events.
    pub milkings: i64,
    /// Seconds online.
    pub online_s: f64,
    /// Seconds of offline gaps.
    pub offline_s: f64,
    /// Alerts.
    pub alerts: i64,
}

/// How many roll-up rows a rebuild wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildStats {
    /// Hour and day rows of `parlor_rollups`.
    pub parlor_rows: u64,
    /// Rows of `parlor_month_rollups`.
    pub month_rows: u64,
    /// Flights given a fact because they had none.
    pub facts_added: u64,
    /// Rows of `spray_month_rollups`.
    pub spray_rows: u64,
}

/// Trims a pesticide field; blank means not recorded.
fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The key of a pesticide in `spray_month_rollups`: registration number, else name, else ''.
fn pesticide_key(name: &Option<String>, reg_no: &Option<String>) -> String {
    reg_no.clone().or_else(|| name.clone()).unwrap_or_default()
}

/// The SQL expression of that key over `flight_facts` columns (same rule as [`pesticide_key`]).
const KEY_SQL: &str = "COALESCE(pesticide_reg_no, pesticide_name, '')";

impl Db {
    /// Every farm's monthly figures for months starting in `[from, to)`, by farm then month.
    ///
    /// # Errors
    /// The database failed.
    pub async fn farm_months(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<FarmMonth>, StorageError> {
        type SprayRow = (i64, i64, DateTime<Utc>, i64, f64, f64);
        type DairyRow = (i64, i64, DateTime<Utc>, f64, f64, i64, f64, f64, i64);
        let (spray, dairy): (Vec<SprayRow>, Vec<DairyRow>) = on_pool!(self, pool => {
            let spray = sqlx::query_as(
                "SELECT s.farm_id, f.district_id, s.month_start, CAST(SUM(s.flights) AS BIGINT), \
                 SUM(s.area_m2), SUM(s.litres) FROM spray_month_rollups s \
                 JOIN farms f ON f.id = s.farm_id \
                 WHERE s.month_start >= $1 AND s.month_start < $2 \
                 GROUP BY s.farm_id, f.district_id, s.month_start")
                .bind(from).bind(to).fetch_all(pool).await?;
            let dairy = sqlx::query_as(
                "SELECT p.farm_id, f.district_id, m.month_start, SUM(m.cows), SUM(m.milk_kg), \
                 CAST(SUM(m.milkings) AS BIGINT), SUM(m.online_s), SUM(m.offline_s), \
                 CAST(SUM(m.alerts) AS BIGINT) FROM parlor_month_rollups m \
                 JOIN parlors p ON p.id = m.parlor_id JOIN farms f ON f.id = p.farm_id \
                 WHERE m.month_start >= $1 AND m.month_start < $2 \
                 GROUP BY p.farm_id, f.district_id, m.month_start")
                .bind(from).bind(to).fetch_all(pool).await?;
            (spray, dairy)
        });
        let mut out: BTreeMap<(i64, DateTime<Utc>), FarmMonth> = BTreeMap::new();
        let entry = |out: &mut BTreeMap<(i64, DateTime<Utc>), FarmMonth>, farm, district, month| {
            out.entry((farm, month))
                .or_insert_with(|| FarmMonth {
                    farm_id: farm,
                    district_id: district,
                    month_start: month,
                    ..FarmMonth::default()
                })
                .clone()
        };
        for (farm, district, month, flights, area, litres) in spray {
            let mut e = entry(&mut out, farm, district, month);
            e.flights = flights;
            e.area_m2 = area;
            e.litres = litres;
            out.insert((farm, month), e);
        }
        for (farm, district, month, cows, kg, milkings, online, offline, alerts) in dairy {
            let mut e = entry(&mut out, farm, district, month);
            e.cows = cows;
            e.milk_kg = kg;
            e.milkings = milkings;
            e.online_s = online;
            e.offline_s = offline;
            e.alerts = alerts;
            out.insert((farm, month), e);
        }
        Ok(out.into_values().collect())
    }

    /// Spray totals per farm, month and pesticide for months starting in `[from, to)`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn pesticide_months(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PesticideMonth>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PesticideMonth>(
            "SELECT s.farm_id, f.district_id, s.month_start, s.pesticide_name, s.pesticide_reg_no, \
             s.flights, s.area_m2, s.litres FROM spray_month_rollups s \
             JOIN farms f ON f.id = s.farm_id \
             WHERE s.month_start >= $1 AND s.month_start < $2 \
             ORDER BY s.farm_id, s.month_start, s.pesticide_key")
            .bind(from).bind(to).fetch_all(pool).await?))
    }

    /// The monthly dairy roll-up rows of a parlor, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlor_month_rollups(
        &self,
        parlor_id: i64,
    ) -> Result<Vec<ParlorMonthRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ParlorMonthRow>(
            "SELECT parlor_id, month_start, cows, milk_kg, milkings, online_s, offline_s, alerts \
             FROM parlor_month_rollups WHERE parlor_id = $1 ORDER BY month_start")
            .bind(parlor_id).fetch_all(pool).await?))
    }
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests;
