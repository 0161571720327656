//! Public open data: the published spray and dairy totals per district and Asia/Tokyo month.
//!
//! Disclosure control: the spray figures of a cell built from 1 or 2 farms are suppressed, farm
//! count included (and the same for the dairy figures). Only district × month cells are
//! published — no city, year or pesticide totals — so no suppressed value can be recovered by
//! subtracting published cells from a published total.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::AppError;
use crate::services::reports::{Cell, Period, YearMonth};
use crate::storage::Db;

/// One published district × month record; `None` = suppressed (or, for rates, not applicable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenRecord {
    /// District code (`kuroiso`, …).
    pub district_code: String,
    /// District name in Japanese.
    pub district_name_ja: String,
    /// District name in English.
    pub district_name_en: String,
    /// Month, `YYYY-MM`, Asia/Tokyo.
    pub month: String,
    /// The spray figures are suppressed (1 or 2 farms).
    pub spray_suppressed: bool,
    /// Farms that flew.
    pub farms_sprayed: Option<u64>,
    /// Flights.
    pub flights: Option<i64>,
    /// Sprayed area, ha (2 decimals).
    pub sprayed_ha: Option<f64>,
    /// Liquid applied, L (1 decimal).
    pub litres: Option<f64>,
    /// The dairy figures are suppressed (1 or 2 farms).
    pub dairy_suppressed: bool,
    /// Farms whose parlors reported.
    pub dairy_farms: Option<u64>,
    /// Cows milked (whole cows).
    pub cows_milked: Option<f64>,
    /// Milk, kg (whole kg).
    pub milk_kg: Option<f64>,
    /// Cows per online hour (1 decimal); null also when no online time was recorded.
    pub cows_per_hour: Option<f64>,
    /// Uptime, % (1 decimal); null also when no time was recorded.
    pub uptime_pct: Option<f64>,
    /// High-conductivity alerts.
    pub alerts: Option<i64>,
}

fn round(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}

/// The record of one cell, suppressed as the rule says.
pub fn open_record(d: &crate::storage::District, ym: YearMonth, c: &Cell) -> OpenRecord {
    let spray = !c.spray_suppressed();
    let dairy = !c.dairy_suppressed();
    let s = |keep: bool| keep.then_some(());
    OpenRecord {
        district_code: d.code.clone(),
        district_name_ja: d.name_ja.clone(),
        district_name_en: d.name_en.clone(),
        month: ym.label(),
        spray_suppressed: !spray,
        farms_sprayed: s(spray).map(|_| c.spray_farms.len() as u64),
        flights: s(spray).map(|_| c.flights),
        sprayed_ha: s(spray).map(|_| round(c.sprayed_ha(), 2)),
        litres: s(spray).map(|_| round(c.litres, 1)),
        dairy_suppressed: !dairy,
        dairy_farms: s(dairy).map(|_| c.dairy_farms.len() as u64),
        cows_milked: s(dairy).map(|_| c.cows.round()),
        milk_kg: s(dairy).map(|_| c.milk_kg.round()),
        cows_per_hour: s(dairy).and(c.cows_per_hour()).map(|v| round(v, 1)),
        uptime_pct: s(dairy).and(c.uptime_pct()).map(|v| round(v, 1)),
        alerts: s(dairy).map(|_| c.alerts),
    }
}

/// Every district × month record of `year` (`None`: the year of `now`), up to the month of
/// `now`; and the year.
///
/// # Errors
/// [`AppError::BadInput`] for a year that is not one; the database failed.
pub async fn district_months(
    db: &Db,
    year: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(i32, Vec<OpenRecord>), AppError> {
    let now = YearMonth::of(now);
    let period = Period::parse(year, None, now.year).map_err(AppError::BadInput)?;
    let year = period.year();
    let (from, to) = period.range();
    let districts = db.districts().await?;
    let months = db.farm_months(from, to).await?;
    let mut out = Vec::new();
    for d in &districts {
        for ym in period.months().into_iter().filter(|m| *m <= now) {
            let start = ym.start();
            let c = Cell::of(
                months
                    .iter()
                    .filter(|m| m.district_id == d.id && m.month_start == start),
            );
            out.push(open_record(d, ym, &c));
        }
    }
    Ok((year, out))
}
