//! What the pages and the alerts read of the parlors: their list, state, gaps, sessions,
//! milkings and roll-ups.

use chrono::{DateTime, Utc};

use super::{BailsRow, IntervalRow, MilkingRow, Parlor, RollupRow};
use crate::storage::{Db, StorageError, on_pool};

impl Db {
    /// The parlors of a farm, by name.
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlors_of_farm(&self, farm_id: i64) -> Result<Vec<Parlor>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Parlor>(
            "SELECT id, farm_id, name, bails FROM parlors WHERE farm_id = $1 ORDER BY name")
            .bind(farm_id).fetch_all(pool).await?))
    }

    /// The latest state of every bail of a parlor, if a bridge ever sent one.
    ///
    /// # Errors
    /// The database failed.
    pub async fn latest_bails(&self, parlor_id: i64) -> Result<Option<BailsRow>, StorageError> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, (i64, Option<i64>, String)>(
            "SELECT t_ms, entrance_bail, bails_json FROM parlor_bail_snapshots WHERE parlor_id = $1")
            .bind(parlor_id).fetch_optional(pool).await?);
        Ok(row.map(|(t_ms, entrance, json)| BailsRow {
            t: DateTime::from_timestamp_millis(t_ms).unwrap_or_default(),
            entrance_bail: entrance.and_then(|e| u16::try_from(e).ok()),
            bails: serde_json::from_str(&json).unwrap_or_default(),
        }))
    }

    /// One parlor by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such parlor.
    pub async fn parlor(&self, id: i64) -> Result<Parlor, StorageError> {
        on_pool!(self, pool => sqlx::query_as::<_, Parlor>(
            "SELECT id, farm_id, name, bails FROM parlors WHERE id = $1")
            .bind(id).fetch_optional(pool).await?)
        .ok_or(StorageError::NotFound { what: "parlor" })
    }

    /// Every parlor (for staff), by farm then name.
    ///
    /// # Errors
    /// The database failed.
    pub async fn all_parlors(&self) -> Result<Vec<Parlor>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Parlor>(
            "SELECT id, farm_id, name, bails FROM parlors ORDER BY farm_id, name")
            .fetch_all(pool).await?))
    }

    /// The latest KPI interval of a parlor, if it ever reported one.
    ///
    /// # Errors
    /// The database failed.
    pub async fn latest_interval(
        &self,
        parlor_id: i64,
    ) -> Result<Option<IntervalRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, IntervalRow>(
            "SELECT parlor_id, start_t, end_t, online_s, cows, milk_kg, cows_per_hour_rolling, \
             rotation_s, occupancy, alerts, state FROM parlor_intervals \
             WHERE parlor_id = $1 ORDER BY start_t DESC LIMIT 1")
            .bind(parlor_id).fetch_optional(pool).await?))
    }

    /// Offline gaps of a parlor overlapping `[from, to)`, as (start, end, controller restarted).
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlor_gaps(
        &self,
        parlor_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>, bool)>, StorageError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>, bool)>(
            "SELECT start_t, end_t, controller_restarted FROM parlor_gaps \
             WHERE parlor_id = $1 AND end_t > $2 AND start_t < $3 ORDER BY start_t")
            .bind(parlor_id).bind(from).bind(to).fetch_all(pool).await?),
        )
    }

    /// Milking sessions of a parlor starting in `[from, to)`, as (start, end, cows, kg), oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlor_sessions(
        &self,
        parlor_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>, f64, f64)>, StorageError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>, f64, f64)>(
            "SELECT start_t, end_t, cows, milk_kg FROM parlor_sessions \
             WHERE parlor_id = $1 AND start_t >= $2 AND start_t < $3 ORDER BY start_t")
            .bind(parlor_id).bind(from).bind(to).fetch_all(pool).await?),
        )
    }

    /// Milkings of a parlor in `[from, to)`, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn milkings(
        &self,
        parlor_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MilkingRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, MilkingRow>(
            "SELECT parlor_id, t, bail, cow_id, yield_kg FROM milking_events \
             WHERE parlor_id = $1 AND t >= $2 AND t < $3 ORDER BY t, bail")
            .bind(parlor_id).bind(from).bind(to).fetch_all(pool).await?))
    }

    /// Roll-up buckets (`hour` or `day`) of a parlor starting in `[from, to)`, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlor_rollups(
        &self,
        parlor_id: i64,
        granularity: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RollupRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RollupRow>(
            "SELECT parlor_id, bucket_start, cows, milk_kg, milkings, online_s, kickoffs, stops, alerts \
             FROM parlor_rollups WHERE parlor_id = $1 AND granularity = $2 \
             AND bucket_start >= $3 AND bucket_start < $4 ORDER BY bucket_start")
            .bind(parlor_id).bind(granularity).bind(from).bind(to).fetch_all(pool).await?))
    }
}
