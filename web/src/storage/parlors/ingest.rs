//! The idempotent ingest of a bridge batch: its key, every record by its dedupe key, and the
//! roll-ups grown only by records stored for the first time, in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use parlor_bridge::wire::{IngestBatch, Record};

use super::{hour_start, jst_day_start, jst_month_start};
use crate::storage::{BeginWrite, Db, StorageError, on_pool};

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

impl Db {
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
}
