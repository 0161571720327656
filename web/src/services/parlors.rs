//! A rotary parlor's figures as the dairy pages show them: its live state (online or not, the
//! rates, the Asia/Tokyo day's totals), its cows per hour of today and per day of the last
//! two weeks, read from the roll-ups.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::storage::{Db, Parlor, jst_day_start};

/// A parlor whose last report is older than this is shown offline.
pub const STALE_AFTER: Duration = Duration::from_secs(180);

/// A parlor's live figures at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFigures {
    /// Canonical platform state (`running` …), or `unknown` before the first report.
    pub state: String,
    /// The bridge reported within [`STALE_AFTER`].
    pub online: bool,
    /// Cows per hour (rolling window).
    pub cows_per_hour: Option<f64>,
    /// Kilograms per hour over the same window.
    pub kg_per_hour: Option<f64>,
    /// Rotation time, s/rev.
    pub rotation_s: Option<f64>,
    /// Bail occupancy, 0..1.
    pub occupancy: Option<f64>,
    /// Cows milked today (Asia/Tokyo day).
    pub cows_today: f64,
    /// Milk today, kg.
    pub kg_today: f64,
    /// High-conductivity alerts today.
    pub alerts_today: i64,
    /// End of the last reported interval.
    pub last_update: Option<DateTime<Utc>>,
}

/// The live figures of `parlor` at `now`: its newest interval and the roll-up of its day.
///
/// # Errors
/// The database failed.
pub async fn live_figures(
    db: &Db,
    parlor: &Parlor,
    now: DateTime<Utc>,
) -> Result<LiveFigures, AppError> {
    let last = db.latest_interval(parlor.id).await?;
    let day = jst_day_start(now);
    let today = db
        .parlor_rollups(parlor.id, "day", day, day + chrono::Duration::days(1))
        .await?;
    // `+ 0.0`: an empty float sum is -0.0, which would print as "-0".
    let cows_today: f64 = today.iter().map(|r| r.cows).sum::<f64>() + 0.0;
    let kg_today: f64 = today.iter().map(|r| r.milk_kg).sum::<f64>() + 0.0;
    let alerts_today: i64 = today.iter().map(|r| r.alerts).sum();
    let online = last.as_ref().is_some_and(|l| {
        (now - l.end_t)
            .to_std()
            .map(|age| age <= STALE_AFTER)
            .unwrap_or(true)
    });
    let st = last
        .as_ref()
        .map(|l| l.state.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    Ok(LiveFigures {
        state: st,
        online,
        cows_per_hour: last.as_ref().map(|l| l.cows_per_hour_rolling),
        // Over the same window as cows/h: the rolling cow rate times the day's yield per cow
        // (the last interval's alone can hold no completed milking and read 0 beside 300 cows/h).
        kg_per_hour: last.as_ref().and_then(|l| {
            let per_cow = if cows_today > 0.0 {
                Some(kg_today / cows_today)
            } else {
                (l.cows > 0.0).then(|| l.milk_kg / l.cows)
            };
            per_cow.map(|k| l.cows_per_hour_rolling * k)
        }),
        rotation_s: last.as_ref().and_then(|l| l.rotation_s),
        occupancy: last.as_ref().and_then(|l| l.occupancy),
        cows_today,
        kg_today,
        alerts_today,
        last_update: last.as_ref().map(|l| l.end_t),
    })
}

/// Cows milked in each hour (0–23) of the Asia/Tokyo day of `now`, `None` for an hour without
/// a roll-up.
///
/// # Errors
/// The database failed.
pub async fn cows_by_hour(
    db: &Db,
    parlor_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Option<f64>>, AppError> {
    let day = jst_day_start(now);
    let rows = db
        .parlor_rollups(parlor_id, "hour", day, day + chrono::Duration::days(1))
        .await?;
    let mut values = vec![None; 24];
    for r in &rows {
        let h = ((r.bucket_start - day).num_hours()).clamp(0, 23) as usize;
        values[h] = Some(values[h].unwrap_or(0.0) + r.cows);
    }
    Ok(values)
}

/// Cows milked on each of the 14 Asia/Tokyo days up to the day of `now`, `None`
/// for a day without a roll-up; and the first day's start.
///
/// # Errors
/// The database failed.
pub async fn cows_by_day(
    db: &Db,
    parlor_id: i64,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Vec<Option<f64>>), AppError> {
    let today = jst_day_start(now);
    let first = today - chrono::Duration::days(13);
    let rows = db
        .parlor_rollups(parlor_id, "day", first, today + chrono::Duration::days(1))
        .await?;
    let mut values = vec![None; 14];
    for r in &rows {
        let i = ((r.bucket_start - first).num_days()).clamp(0, 13) as usize;
        values[i] = Some(values[i].unwrap_or(0.0) + r.cows);
    }
    Ok((first, values))
}

/// `amount` per hour between `start` and `end` (0 for an empty span).
pub fn per_hour(amount: f64, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    let h = (end - start).num_milliseconds() as f64 / 3_600_000.0;
    if h > 0.0 { amount / h } else { 0.0 }
}
