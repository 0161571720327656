//! Parlors, bridge tokens, and the idempotent ingest of bridge batches with their roll-ups.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, DurationRound, TimeZone, Utc};
use parlor_bridge::wire::{BailState, IngestBatch, Record};
use serde::Serialize;

use super::{BeginWrite, Db, On, StorageError, Tx, on_exec, on_pool};
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

/// A bridge token as the admin page lists it (its hash is never read back).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BridgeTokenRow {
    /// Row id.
    pub id: i64,
    /// The farm whose parlors it may report.
    pub farm_id: i64,
    /// Name given when it was made.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
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

/// The result of ingesting one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Records newly stored.
    pub accepted: u64,
    /// Records that were already stored (or the whole batch, for a replay).
    pub duplicates: u64,
    /// Milking events among the records newly stored.
    pub milkings: u64,
    /// The batch key had been seen before: nothing changed.
    pub replay: bool,
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

/// What one record adds to its roll-up buckets.
#[derive(Debug, Default, Clone, Copy)]
struct Delta {
    cows: f64,
    milk_kg: f64,
    milkings: i64,
    online_s: f64,
    kickoffs: f64,
    stops: f64,
    alerts: i64,
    /// Seconds offline (gaps), kept only in the monthly roll-up.
    offline_s: f64,
}

impl Delta {
    fn add(&mut self, d: &Delta) {
        self.cows += d.cows;
        self.milk_kg += d.milk_kg;
        self.milkings += d.milkings;
        self.online_s += d.online_s;
        self.kickoffs += d.kickoffs;
        self.stops += d.stops;
        self.alerts += d.alerts;
        self.offline_s += d.offline_s;
    }
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

impl Db {
    /// The (token id, farm id) of an unrevoked bridge token with this hash.
    ///
    /// # Errors
    /// The database failed.
    pub async fn bridge_token(&self, token_hash: &str) -> Result<Option<(i64, i64)>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, i64)>(
            "SELECT id, farm_id FROM bridge_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash).fetch_optional(pool).await?))
    }

    /// Every bridge token (never the token itself), newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn bridge_tokens(&self) -> Result<Vec<BridgeTokenRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, BridgeTokenRow>(
            "SELECT id, farm_id, name, created_at, revoked_at FROM bridge_tokens ORDER BY id DESC")
            .fetch_all(pool).await?))
    }

    /// The parlors of a farm, by name.
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlors_of_farm(&self, farm_id: i64) -> Result<Vec<Parlor>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Parlor>(
            "SELECT id, farm_id, name, bails FROM parlors WHERE farm_id = $1 ORDER BY name")
            .bind(farm_id).fetch_all(pool).await?))
    }

    /// Stores a bridge batch for the token's farm exactly once.
    ///
    /// The batch key is recorded in the same transaction as the records, so a retried batch is
    /// a replay that changes nothing, and a record that arrives again in another batch (its
    /// dedupe key exists) is counted as a duplicate. Parlors are created on first sight.
    /// Roll-ups grow only by records stored for the first time.
    ///
    /// # Errors
    /// The database failed (nothing of the batch is stored then).
    pub async fn ingest_batch(
        &self,
        token_id: i64,
        farm_id: i64,
        batch: &IngestBatch,
    ) -> Result<IngestOutcome, StorageError> {
        let now = Utc::now();
        let n = batch.records.len() as u64;
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let fresh = sqlx::query(
                "INSERT INTO ingest_batches (token_id, batch_key, received_at, n_records, n_accepted) \
                 VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING")
                .bind(token_id).bind(&batch.batch_key).bind(now).bind(n as i64)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if !fresh {
                tx.rollback().await?;
                return Ok(IngestOutcome { accepted: 0, duplicates: n, milkings: 0, replay: true });
            }
            let mut parlor_ids: HashMap<String, i64> = HashMap::new();
            let mut rollups: HashMap<(i64, &'static str, DateTime<Utc>), Delta> = HashMap::new();
            let mut months: HashMap<(i64, DateTime<Utc>), Delta> = HashMap::new();
            let mut accepted = 0u64;
            let mut milkings = 0u64;
            for rec in &batch.records {
                let parlor_name = match rec {
                    Record::Milking(m) => &m.parlor,
                    Record::Interval(i) => &i.parlor,
                    Record::Gap(g) => &g.parlor,
                    Record::Session(s) => &s.parlor,
                    Record::Bails(b) => &b.parlor,
                };
                let parlor_id = match parlor_ids.get(parlor_name) {
                    Some(id) => *id,
                    None => {
                        sqlx::query(
                            "INSERT INTO parlors (farm_id, name, created_at) VALUES ($1, $2, $3) \
                             ON CONFLICT DO NOTHING")
                            .bind(farm_id).bind(parlor_name).bind(now)
                            .execute(&mut *tx).await?;
                        let id: i64 = sqlx::query_scalar(
                            "SELECT id FROM parlors WHERE farm_id = $1 AND name = $2")
                            .bind(farm_id).bind(parlor_name)
                            .fetch_one(&mut *tx).await?;
                        parlor_ids.insert(parlor_name.clone(), id);
                        id
                    }
                };
                let (inserted, at, delta) = match rec {
                    Record::Milking(m) => {
                        let ins = sqlx::query(
                            "INSERT INTO milking_events (parlor_id, dedupe_key, t, controller_t, bail, \
                             epoch, seq, cow_id, yield_kg, duration_s, conductivity, high_conductivity, \
                             missed_before) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                             ON CONFLICT DO NOTHING")
                            .bind(parlor_id).bind(&m.key).bind(m.t).bind(m.controller_t)
                            .bind(i64::from(m.bail)).bind(i64::from(m.epoch)).bind(m.seq as i64)
                            .bind(m.cow_id as i64).bind(m.yield_kg).bind(m.duration_s)
                            .bind(m.conductivity_ms_cm).bind(m.high_conductivity)
                            .bind(m.missed_before as i64)
                            .execute(&mut *tx).await?.rows_affected() == 1;
                        (ins, m.t, Delta { milkings: 1, ..Delta::default() })
                    }
                    Record::Interval(i) => {
                        let ins = sqlx::query(
                            "INSERT INTO parlor_intervals (parlor_id, dedupe_key, start_t, end_t, online_s, \
                             cows, milk_kg, cows_per_hour_rolling, milkings, rotation_s, occupancy, \
                             idle_bails, kickoffs, reattaches, stops, washes, alerts, state, milk_temp_c, alarms) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                             $16, $17, $18, $19, $20) \
                             ON CONFLICT DO NOTHING")
                            .bind(parlor_id).bind(&i.key).bind(i.start).bind(i.end).bind(i.online_s)
                            .bind(i.cows).bind(i.kg).bind(i.cows_per_hour_rolling)
                            .bind(i.milkings as i64).bind(i.rotation_s)
                            .bind(i.occupancy).bind(i.idle_bails).bind(i.kickoffs).bind(i.reattaches)
                            .bind(i.stops).bind(i.washes as i64).bind(i.high_conductivity_alerts as i64)
                            .bind(&i.state).bind(i.milk_temp_c)
                            .bind(serde_json::to_string(&i.alarms).unwrap_or_else(|_| "[]".into()))
                            .execute(&mut *tx).await?.rows_affected() == 1;
                        (ins, i.start, Delta {
                            cows: i.cows, milk_kg: i.kg, online_s: i.online_s,
                            kickoffs: i.kickoffs, stops: i.stops,
                            alerts: i.high_conductivity_alerts as i64, ..Delta::default()
                        })
                    }
                    Record::Gap(g) => {
                        let ins = sqlx::query(
                            "INSERT INTO parlor_gaps (parlor_id, dedupe_key, start_t, end_t, \
                             controller_restarted) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                            .bind(parlor_id).bind(&g.key).bind(g.start).bind(g.end)
                            .bind(g.controller_restarted)
                            .execute(&mut *tx).await?.rows_affected() == 1;
                        let offline_s = (g.end - g.start).num_milliseconds().max(0) as f64 / 1000.0;
                        (ins, g.start, Delta { offline_s, ..Delta::default() })
                    }
                    Record::Session(s) => {
                        let ins = sqlx::query(
                            "INSERT INTO parlor_sessions (parlor_id, dedupe_key, start_t, end_t, cows, \
                             milk_kg) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")
                            .bind(parlor_id).bind(&s.key).bind(s.start).bind(s.end)
                            .bind(s.cows).bind(s.kg)
                            .execute(&mut *tx).await?.rows_affected() == 1;
                        (ins, s.start, Delta::default())
                    }
                    Record::Bails(b) => {
                        // Latest wins: an older snapshot arriving late changes nothing.
                        let ins = sqlx::query(
                            "INSERT INTO parlor_bail_snapshots (parlor_id, t_ms, entrance_bail, bails_json) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (parlor_id) DO UPDATE SET \
                             t_ms = excluded.t_ms, entrance_bail = excluded.entrance_bail, \
                             bails_json = excluded.bails_json \
                             WHERE excluded.t_ms > parlor_bail_snapshots.t_ms")
                            .bind(parlor_id).bind(b.t.timestamp_millis())
                            .bind(b.entrance_bail.map(i64::from))
                            .bind(serde_json::to_string(&b.bails).unwrap_or_else(|_| "[]".to_owned()))
                            .execute(&mut *tx).await?.rows_affected() == 1;
                        if ins && (1..=200).contains(&b.bails.len()) {
                            sqlx::query("UPDATE parlors SET bails = $1 WHERE id = $2")
                                .bind(b.bails.len() as i64).bind(parlor_id)
                                .execute(&mut *tx).await?;
                        }
                        (ins, b.t, Delta::default())
                    }
                };
                if !inserted {
                    continue;
                }
                accepted += 1;
                if matches!(rec, Record::Bails(_)) {
                    continue;
                }
                milkings += u64::from(matches!(rec, Record::Milking(_)));
                for (gran, bucket) in [("hour", hour_start(at)), ("day", jst_day_start(at))] {
                    rollups.entry((parlor_id, gran, bucket)).or_default().add(&delta);
                }
                months.entry((parlor_id, jst_month_start(at))).or_default().add(&delta);
            }
            for ((parlor_id, gran, bucket), d) in &rollups {
                sqlx::query(
                    "INSERT INTO parlor_rollups (parlor_id, granularity, bucket_start, cows, milk_kg, \
                     milkings, online_s, kickoffs, stops, alerts) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (parlor_id, granularity, bucket_start) DO UPDATE SET \
                     cows = parlor_rollups.cows + excluded.cows, \
                     milk_kg = parlor_rollups.milk_kg + excluded.milk_kg, \
                     milkings = parlor_rollups.milkings + excluded.milkings, \
                     online_s = parlor_rollups.online_s + excluded.online_s, \
                     kickoffs = parlor_rollups.kickoffs + excluded.kickoffs, \
                     stops = parlor_rollups.stops + excluded.stops, \
                     alerts = parlor_rollups.alerts + excluded.alerts")
                    .bind(parlor_id).bind(*gran).bind(bucket).bind(d.cows).bind(d.milk_kg)
                    .bind(d.milkings).bind(d.online_s).bind(d.kickoffs).bind(d.stops).bind(d.alerts)
                    .execute(&mut *tx).await?;
            }
            for ((parlor_id, month), d) in &months {
                sqlx::query(
                    "INSERT INTO parlor_month_rollups (parlor_id, month_start, cows, milk_kg, \
                     milkings, online_s, offline_s, alerts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (parlor_id, month_start) DO UPDATE SET \
                     cows = parlor_month_rollups.cows + excluded.cows, \
                     milk_kg = parlor_month_rollups.milk_kg + excluded.milk_kg, \
                     milkings = parlor_month_rollups.milkings + excluded.milkings, \
                     online_s = parlor_month_rollups.online_s + excluded.online_s, \
                     offline_s = parlor_month_rollups.offline_s + excluded.offline_s, \
                     alerts = parlor_month_rollups.alerts + excluded.alerts")
                    .bind(parlor_id).bind(month).bind(d.cows).bind(d.milk_kg).bind(d.milkings)
                    .bind(d.online_s).bind(d.offline_s).bind(d.alerts)
                    .execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE ingest_batches SET n_accepted = $1 WHERE token_id = $2 AND batch_key = $3")
                .bind(accepted as i64).bind(token_id).bind(&batch.batch_key)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(IngestOutcome { accepted, duplicates: n - accepted, milkings, replay: false })
        })
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

impl On<'_> {
    /// Registers a bridge token for a farm; only its hash is stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm or a token that exists.
    async fn create_bridge_token(
        self,
        farm_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<i64, StorageError> {
        let now = Utc::now();
        on_exec!(self, pool => sqlx::query_scalar::<_, i64>(
            "INSERT INTO bridge_tokens (farm_id, name, token_hash, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(farm_id).bind(name).bind(token_hash).bind(now)
            .fetch_one(pool).await)
        .map_err(|e| StorageError::conflict("bridge token", e))
    }

    /// Revokes a bridge token.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown token.
    async fn revoke_bridge_token(self, id: i64) -> Result<(), StorageError> {
        let now = Utc::now();
        let n = on_exec!(self, pool => sqlx::query(
            "UPDATE bridge_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now).bind(id).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StorageError::NotFound {
                what: "bridge token",
            });
        }
        Ok(())
    }
}

impl Db {
    /// Registers a bridge token for a farm; only its hash is stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm or a token that exists.
    pub async fn create_bridge_token(
        &self,
        farm_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<i64, StorageError> {
        self.on()
            .create_bridge_token(farm_id, name, token_hash)
            .await
    }

    /// Revokes a bridge token.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown token.
    pub async fn revoke_bridge_token(&self, id: i64) -> Result<(), StorageError> {
        self.on().revoke_bridge_token(id).await
    }
}

impl Tx {
    /// Registers a bridge token for a farm; only its hash is stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm or a token that exists.
    pub async fn create_bridge_token(
        &mut self,
        farm_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<i64, StorageError> {
        self.on()
            .create_bridge_token(farm_id, name, token_hash)
            .await
    }

    /// Revokes a bridge token.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown token.
    pub async fn revoke_bridge_token(&mut self, id: i64) -> Result<(), StorageError> {
        self.on().revoke_bridge_token(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;
    use parlor_bridge::wire::{BailSnapshot, KpiInterval, MilkingEvent, OfflineGap, WIRE_VERSION};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    fn milking(bail: u16, seq: u64, at: i64, kg: f64) -> Record {
        Record::Milking(MilkingEvent {
            key: format!("p1/{bail}/0/{seq}"),
            parlor: "p1".into(),
            farm: "f".into(),
            unit: 1,
            bail,
            epoch: 0,
            seq,
            t: t(at),
            controller_t: Some(at),
            cow_id: 1_234_567_890_123,
            yield_kg: kg,
            duration_s: Some(400.0),
            conductivity_ms_cm: Some(5.1),
            high_conductivity: false,
            missed_before: 0,
        })
    }

    fn interval(start: i64, cows: f64, kg: f64) -> Record {
        Record::Interval(KpiInterval {
            key: format!("p1/{}", start * 1000),
            parlor: "p1".into(),
            farm: "f".into(),
            unit: 1,
            start: t(start),
            end: t(start + 60),
            online_s: 60.0,
            cows,
            kg,
            cows_per_hour: cows * 60.0,
            kg_per_hour: kg * 60.0,
            cows_per_hour_rolling: cows * 60.0,
            milkings: cows as u64,
            rotation_s: Some(600.0),
            occupancy: Some(0.8),
            idle_bails: 0.0,
            kickoffs: 1.0,
            reattaches: 1.0,
            stops: 0.0,
            washes: 0,
            high_conductivity_alerts: 0,
            state: "running".into(),
            milk_temp_c: None,
            alarms: Vec::new(),
        })
    }

    fn batch(key: &str, records: Vec<Record>) -> IngestBatch {
        IngestBatch {
            version: WIRE_VERSION,
            bridge_id: "b1".into(),
            batch_key: key.into(),
            records,
        }
    }

    #[test]
    fn jst_days_start_at_15_utc() {
        // 2026-11-25 14:59:59 UTC is still 11-25 23:59:59 JST; one second later is 11-26.
        let before = Utc.with_ymd_and_hms(2026, 11, 25, 14, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap();
        assert_eq!(
            jst_day_start(before),
            Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
        );
        assert_eq!(jst_day_start(after), after);
        assert_eq!(
            hour_start(before),
            Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
        );
    }

    both_backends!(ingest_is_idempotent, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "f", "dairy", "").await.unwrap();
        let tok = db
            .create_bridge_token(farm.id, "b1", "hash1")
            .await
            .unwrap();
        assert_eq!(
            db.bridge_token("hash1").await.unwrap(),
            Some((tok, farm.id))
        );
        assert_eq!(db.bridge_token("nope").await.unwrap(), None);

        let base = 1_764_000_000; // some instant
        let b1 = batch(
            "k1",
            vec![
                milking(1, 1, base, 12.5),
                milking(2, 1, base + 10, 13.0),
                interval(base, 2.0, 25.5),
                Record::Gap(OfflineGap {
                    key: "p1/gap1".into(),
                    parlor: "p1".into(),
                    farm: "f".into(),
                    start: t(base + 60),
                    end: t(base + 120),
                    controller_restarted: true,
                }),
            ],
        );
        let out = db.ingest_batch(tok, farm.id, &b1).await.unwrap();
        assert_eq!(
            out,
            IngestOutcome {
                accepted: 4,
                duplicates: 0,
                milkings: 2,
                replay: false
            }
        );
        // The same batch again is a replay and changes nothing.
        let again = db.ingest_batch(tok, farm.id, &b1).await.unwrap();
        assert_eq!(
            again,
            IngestOutcome {
                accepted: 0,
                duplicates: 4,
                milkings: 0,
                replay: true
            }
        );
        // A new batch overlapping one record stores only the new one.
        let b2 = batch(
            "k2",
            vec![
                milking(2, 1, base + 10, 13.0),
                milking(1, 2, base + 600, 11.0),
            ],
        );
        let out2 = db.ingest_batch(tok, farm.id, &b2).await.unwrap();
        assert_eq!(
            out2,
            IngestOutcome {
                accepted: 1,
                duplicates: 1,
                milkings: 1,
                replay: false
            }
        );

        let parlors = db.parlors_of_farm(farm.id).await.unwrap();
        assert_eq!(parlors.len(), 1);
        let p = parlors[0].id;
        let m = db.milkings(p, t(base - 1), t(base + 10_000)).await.unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].cow(), 1_234_567_890_123);
        let total: f64 = m.iter().map(|r| r.yield_kg).sum();
        assert!((total - 36.5).abs() < 1e-9);

        let last = db.latest_interval(p).await.unwrap().expect("an interval");
        assert_eq!(last.state, "running");
        assert!((last.cows_per_hour() - 120.0).abs() < 1e-9);
        let gaps = db.parlor_gaps(p, t(base), t(base + 1000)).await.unwrap();
        assert_eq!(gaps, vec![(t(base + 60), t(base + 120), true)]);
        assert_eq!(db.parlor(p).await.unwrap().name, "p1");
        assert!(matches!(
            db.parlor(p + 1000).await,
            Err(StorageError::NotFound { .. })
        ));

        // Roll-ups equal sums computed from the raw records.
        let days = db
            .parlor_rollups(p, "day", t(0), t(base * 2))
            .await
            .unwrap();
        let hours = db
            .parlor_rollups(p, "hour", t(0), t(base * 2))
            .await
            .unwrap();
        for rows in [&days, &hours] {
            assert_eq!(rows.iter().map(|r| r.milkings).sum::<i64>(), 3);
            assert!((rows.iter().map(|r| r.cows).sum::<f64>() - 2.0).abs() < 1e-9);
            assert!((rows.iter().map(|r| r.milk_kg).sum::<f64>() - 25.5).abs() < 1e-9);
            assert!((rows.iter().map(|r| r.online_s).sum::<f64>() - 60.0).abs() < 1e-9);
        }
    });

    fn snapshot(at: i64, states: &[&str]) -> Record {
        Record::Bails(BailSnapshot {
            key: format!("p1/{}", at * 1000),
            parlor: "p1".into(),
            farm: "f".into(),
            unit: 1,
            t: t(at),
            entrance_bail: Some(3),
            bails: states
                .iter()
                .enumerate()
                .map(|(i, s)| BailState {
                    bail: i as u16 + 1,
                    state: (*s).into(),
                    cow_id: if *s == "empty" { 0 } else { 100 + i as u64 },
                    current_yield_kg: (*s == "milking").then_some(4.5),
                    alarm: *s == "kicked_off",
                })
                .collect(),
        })
    }

    /// Every kind of keyed record of parlor `p1` at `base`, with `kg` as the milk figure.
    fn keyed_records(base: i64, kg: f64) -> Vec<Record> {
        vec![
            milking(1, 1, base, kg),
            milking(2, 1, base + 10, kg),
            interval(base, 2.0, kg),
            Record::Gap(OfflineGap {
                key: format!("p1/{}", (base + 60) * 1000),
                parlor: "p1".into(),
                farm: "f".into(),
                start: t(base + 60),
                end: t(base + 120),
                controller_restarted: false,
            }),
            Record::Session(parlor_bridge::wire::SessionSummary {
                key: format!("p1/{}", base * 1000),
                parlor: "p1".into(),
                farm: "f".into(),
                start: t(base),
                end: t(base + 60),
                cows: 2.0,
                kg,
                cows_per_hour: 120.0,
                kg_per_hour: kg * 60.0,
            }),
        ]
    }

    both_backends!(dedupe_keys_are_per_farm_parlor, |db| {
        let d = db.districts().await.unwrap();
        let a = db.create_farm(d[0].id, "a", "dairy", "").await.unwrap();
        let b = db.create_farm(d[0].id, "b", "dairy", "").await.unwrap();
        let tok_a = db.create_bridge_token(a.id, "a", "hash-a").await.unwrap();
        let tok_b = db.create_bridge_token(b.id, "b", "hash-b").await.unwrap();
        let base = 1_764_000_000;
        // Farm B's token sends farm A's keys first (same parlor name, same instants) …
        let out = db
            .ingest_batch(tok_b, b.id, &batch("k", keyed_records(base, 99.0)))
            .await
            .unwrap();
        assert_eq!((out.accepted, out.duplicates), (5, 0));
        // … and farm A's own records under those keys are still all stored.
        let out = db
            .ingest_batch(tok_a, a.id, &batch("k", keyed_records(base, 12.5)))
            .await
            .unwrap();
        assert_eq!((out.accepted, out.duplicates, out.replay), (5, 0, false));
        // A re-send within one farm is still a duplicate.
        let out = db
            .ingest_batch(tok_a, a.id, &batch("k2", keyed_records(base, 12.5)))
            .await
            .unwrap();
        assert_eq!((out.accepted, out.duplicates), (0, 5));

        let (from, to) = (t(base - 3600), t(base + 3600));
        for (farm, kg) in [(a.id, 12.5), (b.id, 99.0)] {
            let parlors = db.parlors_of_farm(farm).await.unwrap();
            assert_eq!(parlors.len(), 1, "one parlor p1 per farm");
            assert_eq!(parlors[0].name, "p1");
            let p = parlors[0].id;
            let m = db.milkings(p, from, to).await.unwrap();
            assert_eq!(m.len(), 2);
            assert!(m.iter().all(|m| m.yield_kg == kg), "{m:?}");
            let i = db.latest_interval(p).await.unwrap().expect("interval");
            assert_eq!(i.milk_kg, kg);
            assert_eq!(db.parlor_gaps(p, from, to).await.unwrap().len(), 1);
            let sessions = db.parlor_sessions(p, from, to).await.unwrap();
            assert_eq!(sessions.len(), 1);
            assert_eq!(sessions[0].3, kg);
        }
    });

    /// The SQLite table rebuild keeps every stored record, its id and the indexes.
    #[tokio::test]
    async fn sqlite_upgrade_to_parlor_scoped_keys_keeps_rows() {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("old.db"))
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .unwrap();
        let migrator = sqlx::migrate!("migrations/sqlite");
        migrator.run_to(7, &pool).await.unwrap();
        let db = Db::Sqlite(pool.clone());
        let d = db.districts().await.unwrap();
        let a = db.create_farm(d[0].id, "a", "dairy", "").await.unwrap();
        let b = db.create_farm(d[0].id, "b", "dairy", "").await.unwrap();
        let tok_a = db.create_bridge_token(a.id, "a", "hash-a").await.unwrap();
        let tok_b = db.create_bridge_token(b.id, "b", "hash-b").await.unwrap();
        let base = 1_764_000_000;
        // Today's ingest writes interval columns version 7 lacks (0014): the interval goes in
        // with the columns of its day, the other records through the ingest.
        let mut recs = keyed_records(base, 12.5);
        let Record::Interval(iv) = recs.remove(2) else {
            unreachable!("keyed_records' third record is the interval")
        };
        let old = db
            .ingest_batch(tok_a, a.id, &batch("k", recs))
            .await
            .unwrap();
        assert_eq!(old.accepted, 4);
        sqlx::query(
            "INSERT INTO parlor_intervals (parlor_id, dedupe_key, start_t, end_t, online_s, cows, \
             milk_kg, cows_per_hour_rolling, milkings, idle_bails, kickoffs, reattaches, stops, \
             washes, alerts, state) SELECT id, $1, $2, $3, 60, 2, 12.5, 120, 2, 0, 0, 0, 0, 0, 0, \
             'running' FROM parlors WHERE farm_id = $4",
        )
        .bind(&iv.key)
        .bind(iv.start)
        .bind(iv.end)
        .bind(a.id)
        .execute(&pool)
        .await
        .unwrap();
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM milking_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();

        migrator.run(&pool).await.unwrap();
        let after: Vec<i64> = sqlx::query_scalar("SELECT id FROM milking_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(after, ids);
        for (table, n) in [
            ("parlor_intervals", 1),
            ("parlor_gaps", 1),
            ("parlor_sessions", 1),
        ] {
            let got: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(got, n, "{table}");
        }
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name IN \
             ('milking_events_parlor_t', 'parlor_gaps_parlor', 'parlor_sessions_parlor') ORDER BY name",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(indexes.len(), 3, "{indexes:?}");
        // Farm B's same keys are now stored beside A's, and new ids follow the old ones.
        let out = db
            .ingest_batch(tok_b, b.id, &batch("k", keyed_records(base, 99.0)))
            .await
            .unwrap();
        assert_eq!((out.accepted, out.duplicates), (5, 0));
        let max: i64 = sqlx::query_scalar("SELECT MAX(id) FROM milking_events")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(max, ids.last().unwrap() + 2);
        let fk: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert!(fk.is_empty(), "{fk:?}");
    }

    both_backends!(latest_bail_snapshot_wins, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "b", "dairy", "").await.unwrap();
        let tok = db.create_bridge_token(farm.id, "b", "hb").await.unwrap();
        let base = 1_764_000_000;
        let out = db
            .ingest_batch(
                tok,
                farm.id,
                &batch(
                    "s1",
                    vec![snapshot(base + 10, &["milking", "empty", "kicked_off"])],
                ),
            )
            .await
            .unwrap();
        assert_eq!((out.accepted, out.duplicates), (1, 0));
        let p = db.parlors_of_farm(farm.id).await.unwrap()[0].clone();
        assert_eq!(p.bails, Some(3));
        let got = db.latest_bails(p.id).await.unwrap().expect("a snapshot");
        assert_eq!(got.t, t(base + 10));
        assert_eq!(got.entrance_bail, Some(3));
        assert_eq!(got.bails.len(), 3);
        assert_eq!(got.bails[0].current_yield_kg, Some(4.5));
        assert!(got.bails[2].alarm);
        // An older snapshot arriving late (a retried batch from before) is ignored.
        let late = db
            .ingest_batch(
                tok,
                farm.id,
                &batch("s0", vec![snapshot(base, &["empty", "empty", "empty"])]),
            )
            .await
            .unwrap();
        assert_eq!((late.accepted, late.duplicates), (0, 1));
        assert_eq!(
            db.latest_bails(p.id).await.unwrap().unwrap().t,
            t(base + 10)
        );
        // A newer one replaces it, and snapshots never touch the roll-ups.
        db.ingest_batch(
            tok,
            farm.id,
            &batch("s2", vec![snapshot(base + 20, &["done", "prep", "empty"])]),
        )
        .await
        .unwrap();
        let now = db.latest_bails(p.id).await.unwrap().unwrap();
        assert_eq!(now.t, t(base + 20));
        assert_eq!(now.bails[1].state, "prep");
        assert!(
            db.parlor_rollups(p.id, "hour", t(0), t(base * 2))
                .await
                .unwrap()
                .is_empty()
        );
        // A parlor that never sent one has none.
        assert!(db.latest_bails(p.id + 1000).await.unwrap().is_none());
    });

    both_backends!(revoked_token_stops_working, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[1].id, "g", "dairy", "").await.unwrap();
        let tok = db.create_bridge_token(farm.id, "b", "h").await.unwrap();
        db.revoke_bridge_token(tok).await.unwrap();
        assert_eq!(db.bridge_token("h").await.unwrap(), None);
        assert!(matches!(
            db.revoke_bridge_token(tok).await,
            Err(StorageError::NotFound { .. })
        ));
    });
}
