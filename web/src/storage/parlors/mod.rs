//! Parlors, bridge tokens, and the idempotent ingest of bridge batches with their roll-ups:
//! the row types and the Asia/Tokyo buckets here, `ingest.rs` (a bridge batch stored once,
//! with its roll-ups), `reads.rs` (what the pages and alerts read back) and `tokens.rs` (the
//! bridges' tokens).

mod ingest;
mod reads;
mod tokens;

pub use ingest::IngestOutcome;

use chrono::{DateTime, Datelike, Duration, DurationRound, TimeZone, Utc};
use parlor_bridge::wire::BailState;
use serde::Serialize;

use crate::i18n::JST;

/// A rotary parlor of a farm.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Parlor {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// Name, as the bridge config names the device.
    pub name: String,
    /// Number of bails, when known.
    pub bails: Option<i64>,
}

/// A stored milking.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct MilkingRow {
    /// The parlor.
    pub parlor_id: i64,
    /// When the bridge saw it complete.
    pub t: DateTime<Utc>,
    /// Bail number.
    pub bail: i64,
    /// Cow id (u64 stored bit-for-bit in a signed column; see [`MilkingRow::cow`]).
    pub cow_id: i64,
    /// Yield, kg.
    pub yield_kg: f64,
}

impl MilkingRow {
    /// The cow id as the controller sent it.
    pub fn cow(&self) -> u64 {
        self.cow_id as u64
    }
}

/// One hourly or daily roll-up bucket of a parlor.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RollupRow {
    /// The parlor.
    pub parlor_id: i64,
    /// Start of the bucket (UTC instant; days start at 00:00 Asia/Tokyo).
    pub bucket_start: DateTime<Utc>,
    /// Cows milked (from the controller's counters).
    pub cows: f64,
    /// Milk, kg.
    pub milk_kg: f64,
    /// Milking events recorded.
    pub milkings: i64,
    /// Seconds the parlor answered.
    pub online_s: f64,
    /// Kick-offs.
    pub kickoffs: f64,
    /// Platform stops.
    pub stops: f64,
    /// High-conductivity alerts.
    pub alerts: i64,
}

/// The last KPI interval a parlor reported.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct IntervalRow {
    /// The parlor.
    pub parlor_id: i64,
    /// Interval start.
    pub start_t: DateTime<Utc>,
    /// Interval end.
    pub end_t: DateTime<Utc>,
    /// Seconds the parlor answered.
    pub online_s: f64,
    /// Cows milked in the interval.
    pub cows: f64,
    /// Milk in the interval, kg.
    pub milk_kg: f64,
    /// Cows per hour over the bridge's rolling window.
    pub cows_per_hour_rolling: f64,
    /// Mean rotation time, s/rev.
    pub rotation_s: Option<f64>,
    /// Mean share of bails occupied.
    pub occupancy: Option<f64>,
    /// High-conductivity alerts.
    pub alerts: i64,
    /// Platform state at the end (`off`, `running`, `stopped`, `washing`, `fault`).
    pub state: String,
}

impl IntervalRow {
    /// Cows per hour over this interval.
    pub fn cows_per_hour(&self) -> f64 {
        per_hour(self.cows, self.start_t, self.end_t)
    }

    /// Kilograms per hour over this interval.
    pub fn kg_per_hour(&self) -> f64 {
        per_hour(self.milk_kg, self.start_t, self.end_t)
    }
}

/// `amount` per hour over `[start, end)`; 0 for an empty span.
fn per_hour(amount: f64, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    let h = (end - start).num_milliseconds() as f64 / 3_600_000.0;
    if h > 0.0 { amount / h } else { 0.0 }
}

/// The latest state of every bail of a parlor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BailsRow {
    /// When the bridge read the bails.
    pub t: DateTime<Utc>,
    /// Bail at the entrance then, when the parlor reports it.
    pub entrance_bail: Option<u16>,
    /// Every bail, in bail order.
    pub bails: Vec<BailState>,
}

/// Start of the hour containing `t`.
pub(crate) fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

/// Start (as a UTC instant) of the Asia/Tokyo day containing `t`.
pub fn jst_day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let local = t.with_timezone(&JST).date_naive();
    JST.from_local_datetime(&local.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(t)
}

/// Start (as a UTC instant) of the Asia/Tokyo calendar month containing `t`.
pub fn jst_month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let local = t.with_timezone(&JST).date_naive();
    let first = local.with_day(1).unwrap_or(local);
    JST.from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests;
