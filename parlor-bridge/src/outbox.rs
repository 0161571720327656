//! Sink: the durable local store (SQLite through sqlx, WAL) — records, tracker state and the forwarding outbox.
//!
//! Every poll's records and the tracker state that produced them are written in one
//! transaction, so a `kill -9` either keeps both or neither. Records are unique by their
//! dedupe key (`INSERT OR IGNORE`), and the outbox hands out batches whose idempotency key is
//! fixed when the batch is formed, so a retry after a crash resends the very same batch.
//!
//! A second, independent queue, `mqtt_outbox`, holds what the MQTT sink publishes (the same
//! records plus platform state and alarm edges), filled in the same transaction; a row leaves it
//! only after the broker's PUBACK, so neither a broker outage nor a crash loses a message (a
//! crash between PUBACK and the delete republishes it under the same key).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tokio::sync::Notify;

use crate::error::BridgeError;
use crate::milking::{Output, TrackerState};
use crate::wire::{BailSnapshot, KpiInterval, MilkingEvent, OfflineGap, Record};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS milkings (key TEXT PRIMARY KEY, parlor TEXT NOT NULL, farm TEXT NOT NULL, unit INTEGER NOT NULL, bail INTEGER NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, t_ms INTEGER NOT NULL, controller_t INTEGER, cow_id INTEGER NOT NULL, yield_kg REAL NOT NULL, duration_s REAL, conductivity REAL, high_conductivity INTEGER NOT NULL, missed_before INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS milkings_t ON milkings (t_ms)",
    "CREATE TABLE IF NOT EXISTS intervals (key TEXT PRIMARY KEY, parlor TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, cows REAL NOT NULL, kg REAL NOT NULL, json TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS intervals_t ON intervals (start_ms)",
    "CREATE TABLE IF NOT EXISTS gaps (key TEXT PRIMARY KEY, parlor TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, json TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, parlor TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, json TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tracker_state (parlor TEXT PRIMARY KEY, json TEXT NOT NULL, updated_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL, batch_id INTEGER, UNIQUE (kind, key))",
    "CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY AUTOINCREMENT, batch_key TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL, acked_ms INTEGER)",
    "CREATE TABLE IF NOT EXISTS mqtt_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, farm TEXT NOT NULL, parlor TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL, UNIQUE (kind, key))",
    "CREATE TABLE IF NOT EXISTS mqtt_state (parlor TEXT PRIMARY KEY, farm TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY AUTOINCREMENT, batch_key TEXT NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL, rejected_ms INTEGER NOT NULL)",
];

/// Queues for MQTT what one commit produced: the records stored for the first time, the
/// newest bail snapshot and platform state (latest wins: older unpublished ones of the parlor
/// are dropped) and the alarm edges.
async fn enqueue_mqtt(
    tx: &mut sqlx::SqliteConnection,
    records: &[Record],
    output: &Output,
) -> Result<(), BridgeError> {
    let mut rows: Vec<(&'static str, String, String, String, String)> = Vec::new();
    let record_row = |r: &Record| {
        let (farm, parlor) = match r {
            Record::Milking(m) => (&m.farm, &m.parlor),
            Record::Interval(i) => (&i.farm, &i.parlor),
            Record::Gap(g) => (&g.farm, &g.parlor),
            Record::Session(s) => (&s.farm, &s.parlor),
            Record::Bails(b) => (&b.farm, &b.parlor),
        };
        (
            crate::mqtt::topic_kind(r),
            farm.clone(),
            parlor.clone(),
            r.key().to_string(),
            serde_json::to_string(r).unwrap_or_default(),
        )
    };
    rows.extend(records.iter().map(record_row));
    if let Some(b) = &output.bails {
        rows.push(record_row(&Record::Bails(b.clone())));
    }
    if let Some(st) = &output.status {
        rows.push((
            crate::mqtt::STATE,
            st.farm.clone(),
            st.parlor.clone(),
            st.key.clone(),
            crate::mqtt::state_payload(st),
        ));
    }
    for a in &output.alarms {
        rows.push((
            crate::mqtt::ALARM,
            a.farm.clone(),
            a.parlor.clone(),
            a.key.clone(),
            crate::mqtt::alarm_payload(a),
        ));
    }
    for (kind, farm, parlor, key, payload) in rows {
        if kind == crate::mqtt::STATE {
            // Kept after its PUBACK too: every new session publishes it again, so the retained
            // state is back even on a broker that lost it (one without persistence, restarted).
            sqlx::query("INSERT INTO mqtt_state (parlor, farm, key, payload) VALUES (?,?,?,?) ON CONFLICT (parlor) DO UPDATE SET farm = excluded.farm, key = excluded.key, payload = excluded.payload")
                .bind(&parlor)
                .bind(&farm)
                .bind(&key)
                .bind(&payload)
                .execute(&mut *tx)
                .await
                .map_err(BridgeError::store("keep state"))?;
        }
        if crate::mqtt::latest_wins(kind) {
            sqlx::query("DELETE FROM mqtt_outbox WHERE kind = ? AND parlor = ?")
                .bind(kind)
                .bind(&parlor)
                .execute(&mut *tx)
                .await
                .map_err(BridgeError::store("drop older state"))?;
        }
        sqlx::query("INSERT OR IGNORE INTO mqtt_outbox (kind, farm, parlor, key, payload) VALUES (?,?,?,?,?)")
            .bind(kind)
            .bind(farm)
            .bind(parlor)
            .bind(key)
            .bind(payload)
            .execute(&mut *tx)
            .await
            .map_err(BridgeError::store("enqueue mqtt"))?;
    }
    Ok(())
}

/// The local database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    forward: bool,
    mqtt: bool,
    mqtt_queued: Arc<Notify>,
}

/// Which outboxes a [`Store`] fills besides its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outboxes {
    /// The HTTP forwarding outbox (`outbox`, `batches`).
    pub http: bool,
    /// The MQTT outbox (`mqtt_outbox`).
    pub mqtt: bool,
}

/// One message waiting in the MQTT outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttRow {
    /// Row id: messages are published in this order.
    pub id: i64,
    /// Topic kind (`milking`, `kpi`, `session`, `gap`, `bails`, `state`, `alarm`).
    pub kind: String,
    /// Farm of the parlor (a topic level).
    pub farm: String,
    /// Parlor name (a topic level).
    pub parlor: String,
    /// The message's idempotency key (also inside the payload).
    pub key: String,
    /// The JSON payload.
    pub payload: String,
}

/// One parlor's poll result to commit: its records and the tracker state after them.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The parlor.
    pub parlor: String,
    /// Records produced.
    pub output: Output,
    /// State after producing them.
    pub state: TrackerState,
}

/// A batch ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Row id of the batch.
    pub id: i64,
    /// Idempotency key (fixed when the batch was formed).
    pub key: String,
    /// The records.
    pub records: Vec<Record>,
}

fn t_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl Store {
    /// Opens (creating if needed) the database at `path`; `forward` also fills the outbox.
    ///
    /// # Errors
    /// [`BridgeError::Store`] when the file cannot be opened or the schema not created.
    pub async fn open(path: &Path, forward: bool) -> Result<Store, BridgeError> {
        Store::open_with(
            path,
            Outboxes {
                http: forward,
                mqtt: false,
            },
        )
        .await
    }

    /// Opens (creating if needed) the database at `path`, filling the given outboxes.
    ///
    /// # Errors
    /// [`BridgeError::Store`] when the file cannot be opened or the schema not created.
    pub async fn open_with(path: &Path, outboxes: Outboxes) -> Result<Store, BridgeError> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(BridgeError::store("open"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(BridgeError::store("open"))?;
        for stmt in SCHEMA {
            sqlx::query(*stmt)
                .execute(&pool)
                .await
                .map_err(BridgeError::store("create schema"))?;
        }
        Ok(Store {
            pool,
            forward: outboxes.http,
            mqtt: outboxes.mqtt,
            mqtt_queued: Arc::new(Notify::new()),
        })
    }

    /// The saved tracker state of `parlor`, if any.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn load_state(&self, parlor: &str) -> Result<Option<TrackerState>, BridgeError> {
        let row = sqlx::query("SELECT json FROM tracker_state WHERE parlor = ?")
            .bind(parlor)
            .fetch_optional(&self.pool)
            .await
            .map_err(BridgeError::store("load state"))?;
        Ok(row.and_then(|r| serde_json::from_str(&r.get::<String, _>(0)).ok()))
    }

    /// Writes the commits in one transaction: records (ignoring ones already stored), states, outbox rows.
    ///
    /// # Errors
    /// [`BridgeError::Store`]; nothing is written then.
    pub async fn commit(&self, commits: &[Commit]) -> Result<(), BridgeError> {
        let mut tx = self
            .pool
            // Take the write lock up front: a deferred transaction that reads first cannot
            // wait for the lock (SQLite answers BUSY at once), an immediate one waits busy_timeout.
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(BridgeError::store("begin"))?;
        let now = Utc::now().timestamp_millis();
        for c in commits {
            let mut records: Vec<Record> = Vec::new();
            for m in &c.output.events {
                let r = sqlx::query("INSERT OR IGNORE INTO milkings (key, parlor, farm, unit, bail, epoch, seq, t_ms, controller_t, cow_id, yield_kg, duration_s, conductivity, high_conductivity, missed_before) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
                    .bind(&m.key).bind(&m.parlor).bind(&m.farm).bind(i64::from(m.unit)).bind(i64::from(m.bail)).bind(i64::from(m.epoch)).bind(m.seq as i64)
                    .bind(t_ms(m.t)).bind(m.controller_t).bind(m.cow_id as i64).bind(m.yield_kg).bind(m.duration_s).bind(m.conductivity_ms_cm)
                    .bind(i64::from(m.high_conductivity)).bind(m.missed_before as i64)
                    .execute(&mut *tx).await.map_err(BridgeError::store("insert milking"))?;
                if r.rows_affected() > 0 {
                    records.push(Record::Milking(m.clone()));
                }
            }
            for i in &c.output.intervals {
                let json = serde_json::to_string(i).unwrap_or_default();
                let r = sqlx::query("INSERT OR IGNORE INTO intervals (key, parlor, start_ms, end_ms, cows, kg, json) VALUES (?,?,?,?,?,?,?)")
                    .bind(&i.key).bind(&i.parlor).bind(t_ms(i.start)).bind(t_ms(i.end)).bind(i.cows).bind(i.kg).bind(json)
                    .execute(&mut *tx).await.map_err(BridgeError::store("insert interval"))?;
                if r.rows_affected() > 0 {
                    records.push(Record::Interval(i.clone()));
                }
            }
            for g in &c.output.gaps {
                let json = serde_json::to_string(g).unwrap_or_default();
                let r = sqlx::query("INSERT OR IGNORE INTO gaps (key, parlor, start_ms, end_ms, json) VALUES (?,?,?,?,?)")
                    .bind(&g.key).bind(&g.parlor).bind(t_ms(g.start)).bind(t_ms(g.end)).bind(json)
                    .execute(&mut *tx).await.map_err(BridgeError::store("insert gap"))?;
                if r.rows_affected() > 0 {
                    records.push(Record::Gap(g.clone()));
                }
            }
            for s in &c.output.sessions {
                let json = serde_json::to_string(s).unwrap_or_default();
                let r = sqlx::query("INSERT OR IGNORE INTO sessions (key, parlor, start_ms, end_ms, json) VALUES (?,?,?,?,?)")
                    .bind(&s.key).bind(&s.parlor).bind(t_ms(s.start)).bind(t_ms(s.end)).bind(json)
                    .execute(&mut *tx).await.map_err(BridgeError::store("insert session"))?;
                if r.rows_affected() > 0 {
                    records.push(Record::Session(s.clone()));
                }
            }
            if self.forward {
                for r in &records {
                    let payload = serde_json::to_string(r).unwrap_or_default();
                    sqlx::query("INSERT OR IGNORE INTO outbox (kind, key, payload) VALUES (?,?,?)")
                        .bind(r.kind())
                        .bind(r.key())
                        .bind(payload)
                        .execute(&mut *tx)
                        .await
                        .map_err(BridgeError::store("enqueue"))?;
                }
            }
            if self.forward
                && let Some(b) = &c.output.bails
            {
                // A snapshot is not history: only the newest unsent one per parlor waits.
                sqlx::query("DELETE FROM outbox WHERE kind = 'bails' AND batch_id IS NULL AND json_extract(payload, '$.parlor') = ?")
                    .bind(&b.parlor)
                    .execute(&mut *tx)
                    .await
                    .map_err(BridgeError::store("drop old snapshot"))?;
                let r = Record::Bails(b.clone());
                sqlx::query("INSERT OR IGNORE INTO outbox (kind, key, payload) VALUES (?,?,?)")
                    .bind(r.kind())
                    .bind(r.key())
                    .bind(serde_json::to_string(&r).unwrap_or_default())
                    .execute(&mut *tx)
                    .await
                    .map_err(BridgeError::store("enqueue snapshot"))?;
            }
            if self.mqtt {
                enqueue_mqtt(&mut tx, &records, &c.output).await?;
            }
            let state = serde_json::to_string(&c.state).unwrap_or_default();
            sqlx::query("INSERT INTO tracker_state (parlor, json, updated_ms) VALUES (?,?,?) ON CONFLICT (parlor) DO UPDATE SET json = excluded.json, updated_ms = excluded.updated_ms")
                .bind(&c.parlor).bind(state).bind(now)
                .execute(&mut *tx).await.map_err(BridgeError::store("save state"))?;
        }
        tx.commit().await.map_err(BridgeError::store("commit"))?;
        if self.mqtt {
            self.mqtt_queued.notify_one();
        }
        Ok(())
    }

    /// Waits until a commit queued MQTT messages (returns at once if one did since the last wait).
    pub async fn mqtt_queued_notice(&self) {
        self.mqtt_queued.notified().await;
    }

    /// Up to `max` MQTT messages with a row id above `after`, oldest first.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn mqtt_after(&self, after: i64, max: u32) -> Result<Vec<MqttRow>, BridgeError> {
        let rows = sqlx::query("SELECT id, kind, farm, parlor, key, payload FROM mqtt_outbox WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after)
            .bind(i64::from(max))
            .fetch_all(&self.pool)
            .await
            .map_err(BridgeError::store("read mqtt outbox"))?;
        Ok(rows
            .iter()
            .map(|r| MqttRow {
                id: r.get(0),
                kind: r.get(1),
                farm: r.get(2),
                parlor: r.get(3),
                key: r.get(4),
                payload: r.get(5),
            })
            .collect())
    }

    /// The newest platform state of every parlor, as last queued for MQTT.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn mqtt_states(&self) -> Result<Vec<MqttRow>, BridgeError> {
        let rows = sqlx::query("SELECT farm, parlor, key, payload FROM mqtt_state ORDER BY parlor")
            .fetch_all(&self.pool)
            .await
            .map_err(BridgeError::store("read mqtt states"))?;
        Ok(rows
            .iter()
            .map(|r| MqttRow {
                id: 0,
                kind: crate::mqtt::STATE.to_string(),
                farm: r.get(0),
                parlor: r.get(1),
                key: r.get(2),
                payload: r.get(3),
            })
            .collect())
    }

    /// Drops MQTT messages the broker acknowledged (PUBACK).
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn mqtt_acked(&self, ids: &[i64]) -> Result<(), BridgeError> {
        if ids.is_empty() {
            return Ok(());
        }
        let list = serde_json::to_string(ids).unwrap_or_default();
        sqlx::query("DELETE FROM mqtt_outbox WHERE id IN (SELECT value FROM json_each(?))")
            .bind(list)
            .execute(&self.pool)
            .await
            .map_err(BridgeError::store("drop published"))?;
        Ok(())
    }

    /// MQTT messages still waiting for the broker's PUBACK.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn mqtt_queued(&self) -> Result<u64, BridgeError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM mqtt_outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(BridgeError::store("count mqtt outbox"))?
            .get(0);
        Ok(n as u64)
    }

    /// Milkings recorded at or after `since`, oldest first.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn milkings_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<MilkingEvent>, BridgeError> {
        let rows = sqlx::query("SELECT key, parlor, farm, unit, bail, epoch, seq, t_ms, controller_t, cow_id, yield_kg, duration_s, conductivity, high_conductivity, missed_before FROM milkings WHERE t_ms >= ? ORDER BY t_ms, parlor, bail")
            .bind(t_ms(since))
            .fetch_all(&self.pool)
            .await
            .map_err(BridgeError::store("read milkings"))?;
        Ok(rows
            .iter()
            .map(|r| MilkingEvent {
                key: r.get(0),
                parlor: r.get(1),
                farm: r.get(2),
                unit: r.get::<i64, _>(3) as u8,
                bail: r.get::<i64, _>(4) as u16,
                epoch: r.get::<i64, _>(5) as u32,
                seq: r.get::<i64, _>(6) as u64,
                t: DateTime::from_timestamp_millis(r.get(7)).unwrap_or_default(),
                controller_t: r.get(8),
                cow_id: r.get::<i64, _>(9) as u64,
                yield_kg: r.get(10),
                duration_s: r.get(11),
                conductivity_ms_cm: r.get(12),
                high_conductivity: r.get::<i64, _>(13) != 0,
                missed_before: r.get::<i64, _>(14) as u64,
            })
            .collect())
    }

    /// KPI intervals starting at or after `since`, oldest first.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn intervals_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<KpiInterval>, BridgeError> {
        let rows =
            sqlx::query("SELECT json FROM intervals WHERE start_ms >= ? ORDER BY start_ms, parlor")
                .bind(t_ms(since))
                .fetch_all(&self.pool)
                .await
                .map_err(BridgeError::store("read intervals"))?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.get::<String, _>(0)).ok())
            .collect())
    }

    /// Offline gaps starting at or after `since`, oldest first.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn gaps_since(&self, since: DateTime<Utc>) -> Result<Vec<OfflineGap>, BridgeError> {
        let rows =
            sqlx::query("SELECT json FROM gaps WHERE start_ms >= ? ORDER BY start_ms, parlor")
                .bind(t_ms(since))
                .fetch_all(&self.pool)
                .await
                .map_err(BridgeError::store("read gaps"))?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.get::<String, _>(0)).ok())
            .collect())
    }

    /// The oldest unacknowledged batch, or a new one of up to `max` queued records; `None` when all is sent.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn next_batch(
        &self,
        bridge_id: &str,
        max: u32,
    ) -> Result<Option<Batch>, BridgeError> {
        let mut tx = self
            .pool
            // Take the write lock up front: a deferred transaction that reads first cannot
            // wait for the lock (SQLite answers BUSY at once), an immediate one waits busy_timeout.
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(BridgeError::store("begin"))?;
        let pending = sqlx::query(
            "SELECT id, batch_key FROM batches WHERE acked_ms IS NULL ORDER BY id LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(BridgeError::store("read batches"))?;
        let (id, key) = match pending {
            Some(r) => (r.get::<i64, _>(0), r.get::<String, _>(1)),
            None => {
                let n: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE batch_id IS NULL")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(BridgeError::store("count outbox"))?
                    .get(0);
                if n == 0 {
                    return Ok(None);
                }
                let now = Utc::now().timestamp_millis();
                let id: i64 = sqlx::query(
                    "INSERT INTO batches (batch_key, created_ms) VALUES (?, ?) RETURNING id",
                )
                .bind(format!("{bridge_id}-pending-{now}"))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(BridgeError::store("new batch"))?
                .get(0);
                let key = format!("{bridge_id}-{id}");
                sqlx::query("UPDATE batches SET batch_key = ? WHERE id = ?")
                    .bind(&key)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(BridgeError::store("name batch"))?;
                sqlx::query("UPDATE outbox SET batch_id = ? WHERE id IN (SELECT id FROM outbox WHERE batch_id IS NULL ORDER BY id LIMIT ?)")
                    .bind(id)
                    .bind(i64::from(max))
                    .execute(&mut *tx)
                    .await
                    .map_err(BridgeError::store("fill batch"))?;
                (id, key)
            }
        };
        let rows = sqlx::query("SELECT payload FROM outbox WHERE batch_id = ? ORDER BY id")
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .map_err(BridgeError::store("read batch"))?;
        tx.commit()
            .await
            .map_err(BridgeError::store("commit batch"))?;
        let records = rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.get::<String, _>(0)).ok())
            .collect();
        Ok(Some(Batch { id, key, records }))
    }

    /// Marks a batch delivered and drops its outbox rows.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn ack_batch(&self, id: i64) -> Result<(), BridgeError> {
        let mut tx = self
            .pool
            // Take the write lock up front: a deferred transaction that reads first cannot
            // wait for the lock (SQLite answers BUSY at once), an immediate one waits busy_timeout.
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(BridgeError::store("begin"))?;
        sqlx::query("UPDATE batches SET acked_ms = ? WHERE id = ?")
            .bind(Utc::now().timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(BridgeError::store("ack batch"))?;
        sqlx::query("DELETE FROM outbox WHERE batch_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(BridgeError::store("drop sent"))?;
        tx.commit().await.map_err(BridgeError::store("commit ack"))
    }

    /// The newest bail snapshot of `parlor` waiting to be delivered, if any.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn pending_snapshot(
        &self,
        parlor: &str,
    ) -> Result<Option<BailSnapshot>, BridgeError> {
        let row = sqlx::query("SELECT payload FROM outbox WHERE kind = 'bails' AND json_extract(payload, '$.parlor') = ? ORDER BY id DESC LIMIT 1")
            .bind(parlor)
            .fetch_optional(&self.pool)
            .await
            .map_err(BridgeError::store("read snapshot"))?;
        Ok(row
            .and_then(|r| serde_json::from_str::<Record>(&r.get::<String, _>(0)).ok())
            .and_then(|r| match r {
                Record::Bails(b) => Some(b),
                _ => None,
            }))
    }

    /// Records still waiting to be delivered.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn queued(&self) -> Result<u64, BridgeError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(BridgeError::store("count outbox"))?
            .get(0);
        Ok(n as u64)
    }

    /// Takes a batch the server refused for its content out of the queue, keeping its records
    /// with the server's `status` and `reason` in the `rejected` table for a person to look at
    /// and send again, so the records behind it are not held up forever; returns how many.
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn reject_batch(
        &self,
        id: i64,
        status: u16,
        reason: &str,
    ) -> Result<u64, BridgeError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(BridgeError::store("begin"))?;
        let moved = sqlx::query(
            "INSERT INTO rejected (batch_key, status, reason, kind, key, payload, rejected_ms) \
             SELECT b.batch_key, ?, ?, o.kind, o.key, o.payload, ? \
             FROM outbox o JOIN batches b ON b.id = o.batch_id WHERE o.batch_id = ? ORDER BY o.id",
        )
        .bind(i64::from(status))
        .bind(reason)
        .bind(Utc::now().timestamp_millis())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(BridgeError::store("keep rejected"))?
        .rows_affected();
        sqlx::query("UPDATE batches SET acked_ms = ? WHERE id = ?")
            .bind(Utc::now().timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(BridgeError::store("close rejected batch"))?;
        sqlx::query("DELETE FROM outbox WHERE batch_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(BridgeError::store("drop rejected"))?;
        tx.commit()
            .await
            .map_err(BridgeError::store("commit reject"))?;
        Ok(moved)
    }

    /// Records the server refused, kept by [`Store::reject_batch`].
    ///
    /// # Errors
    /// [`BridgeError::Store`] on a database failure.
    pub async fn rejected(&self) -> Result<u64, BridgeError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM rejected")
            .fetch_one(&self.pool)
            .await
            .map_err(BridgeError::store("count rejected"))?
            .get(0);
        Ok(n as u64)
    }

    /// Closes the pool (waits for in-flight statements).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::MilkingEvent;

    fn event(key: &str, t: i64) -> MilkingEvent {
        MilkingEvent {
            key: key.into(),
            parlor: "p".into(),
            farm: "f".into(),
            unit: 1,
            bail: 3,
            epoch: 0,
            seq: 9,
            t: DateTime::from_timestamp_millis(t).unwrap(),
            controller_t: None,
            cow_id: 4_000_000_000,
            yield_kg: 12.34,
            duration_s: Some(400.0),
            conductivity_ms_cm: None,
            high_conductivity: false,
            missed_before: 0,
        }
    }

    pub(crate) fn commit(keys: &[&str]) -> Commit {
        Commit {
            parlor: "p".into(),
            output: Output {
                events: keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| event(k, 1000 + i as i64))
                    .collect(),
                ..Output::default()
            },
            state: TrackerState::default(),
        }
    }

    fn snapshot(parlor: &str, t: i64, state: &str) -> crate::wire::BailSnapshot {
        crate::wire::BailSnapshot {
            key: format!("{parlor}/{t}"),
            parlor: parlor.into(),
            farm: "f".into(),
            unit: 1,
            t: DateTime::from_timestamp_millis(t).unwrap(),
            entrance_bail: Some(1),
            bails: vec![crate::wire::BailState {
                bail: 1,
                state: state.into(),
                cow_id: 7,
                current_yield_kg: None,
                alarm: false,
            }],
        }
    }

    fn snap_commit(parlor: &str, t: i64, state: &str) -> Commit {
        Commit {
            parlor: parlor.into(),
            output: Output {
                bails: Some(snapshot(parlor, t, state)),
                ..Output::default()
            },
            state: TrackerState::default(),
        }
    }

    #[tokio::test]
    async fn only_the_newest_unsent_snapshot_per_parlor_waits() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.db"), true).await.unwrap();
        // Offline for a long time: a thousand snapshots of two parlors leave two rows.
        for t in 0..1000 {
            s.commit(&[snap_commit("a", t, "prep"), snap_commit("b", t, "milking")])
                .await
                .unwrap();
        }
        assert_eq!(s.queued().await.unwrap(), 2);
        let b1 = s.next_batch("br", 10).await.unwrap().unwrap();
        assert_eq!(b1.records.len(), 2);
        assert!(b1.records.iter().all(|r| r.key().ends_with("/999")));
        // A snapshot taken while that batch is in flight waits beside it, it does not replace it.
        s.commit(&[snap_commit("a", 1000, "done")]).await.unwrap();
        s.commit(&[snap_commit("a", 1001, "empty")]).await.unwrap();
        assert_eq!(s.queued().await.unwrap(), 3);
        assert_eq!(s.next_batch("br", 10).await.unwrap().unwrap(), b1);
        s.ack_batch(b1.id).await.unwrap();
        let b2 = s.next_batch("br", 10).await.unwrap().unwrap();
        assert_eq!(b2.records.len(), 1);
        assert_eq!(b2.records[0], Record::Bails(snapshot("a", 1001, "empty")));
        assert_eq!(
            s.pending_snapshot("a").await.unwrap(),
            Some(snapshot("a", 1001, "empty"))
        );
        assert_eq!(s.pending_snapshot("zzz").await.unwrap(), None);
        // Without forwarding, snapshots are not kept at all.
        let local = Store::open(&dir.path().join("l.db"), false).await.unwrap();
        local.commit(&[snap_commit("a", 1, "prep")]).await.unwrap();
        assert_eq!(local.queued().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn duplicates_are_ignored_and_batches_are_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let s = Store::open(&path, true).await.unwrap();
        s.commit(&[commit(&["a", "b"])]).await.unwrap();
        s.commit(&[commit(&["b", "c"])]).await.unwrap();
        assert_eq!(
            s.milkings_since(DateTime::UNIX_EPOCH).await.unwrap().len(),
            3
        );
        assert_eq!(s.queued().await.unwrap(), 3);
        let b1 = s.next_batch("br", 2).await.unwrap().unwrap();
        assert_eq!(b1.records.len(), 2);
        // Not acked (say the POST failed, or the bridge was killed): the same batch again, after a reopen.
        s.close().await;
        let s = Store::open(&path, true).await.unwrap();
        let again = s.next_batch("br", 2).await.unwrap().unwrap();
        assert_eq!(again, b1);
        s.ack_batch(b1.id).await.unwrap();
        let b2 = s.next_batch("br", 2).await.unwrap().unwrap();
        assert_ne!(b2.key, b1.key);
        assert_eq!(b2.records.len(), 1);
        s.ack_batch(b2.id).await.unwrap();
        assert!(s.next_batch("br", 2).await.unwrap().is_none());
        let m = &s.milkings_since(DateTime::UNIX_EPOCH).await.unwrap()[0];
        assert_eq!(m.cow_id, 4_000_000_000);
    }

    fn status(parlor: &str, t: i64, state: &str) -> crate::wire::PlatformStatus {
        crate::wire::PlatformStatus {
            key: format!("{parlor}/state/{t}"),
            parlor: parlor.into(),
            farm: "f".into(),
            unit: 1,
            t: DateTime::from_timestamp_millis(t).unwrap(),
            online: true,
            state: state.into(),
            alarms: vec![],
        }
    }

    #[tokio::test]
    async fn the_mqtt_outbox_keeps_history_once_and_state_latest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let s = Store::open_with(
            &path,
            Outboxes {
                http: false,
                mqtt: true,
            },
        )
        .await
        .unwrap();
        let mut c = commit(&["a", "b"]);
        c.output.status = Some(status("p", 1, "running"));
        c.output.bails = Some(snapshot("p", 1, "prep"));
        c.output.alarms = vec![crate::wire::AlarmEvent {
            key: "p/alarm/vacuum_low/1/on".into(),
            parlor: "p".into(),
            farm: "f".into(),
            unit: 1,
            t: DateTime::from_timestamp_millis(1).unwrap(),
            alarm: "vacuum_low".into(),
            active: true,
        }];
        s.commit(&[c]).await.unwrap();
        // The same milkings again (a replayed poll) are not queued twice; newer state replaces older.
        let mut again = commit(&["b", "c"]);
        again.output.status = Some(status("p", 2, "stopped"));
        again.output.bails = Some(snapshot("p", 2, "milking"));
        s.commit(&[again]).await.unwrap();
        let rows = s.mqtt_after(0, 100).await.unwrap();
        let kinds: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.kind.as_str(), r.key.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("milking", "a"),
                ("milking", "b"),
                ("alarm", "p/alarm/vacuum_low/1/on"),
                ("milking", "c"),
                ("bails", "p/2"),
                ("state", "p/state/2"),
            ]
        );
        let state: serde_json::Value = serde_json::from_str(&rows[5].payload).unwrap();
        assert_eq!(
            (state["type"].as_str(), state["state"].as_str()),
            (Some("state"), Some("stopped"))
        );
        let milking: Record = serde_json::from_str(&rows[0].payload).unwrap();
        assert_eq!(milking.key(), "a", "the payload is the ingest's record");
        assert_eq!((rows[0].farm.as_str(), rows[0].parlor.as_str()), ("f", "p"));
        assert_eq!(
            s.queued().await.unwrap(),
            0,
            "no HTTP outbox without a server"
        );
        // Acknowledged rows leave, across a reopen the rest is still there.
        s.mqtt_acked(&[rows[0].id, rows[2].id]).await.unwrap();
        s.close().await;
        let s = Store::open_with(
            &path,
            Outboxes {
                http: false,
                mqtt: true,
            },
        )
        .await
        .unwrap();
        assert_eq!(s.mqtt_queued().await.unwrap(), 4);
        let states = s.mqtt_states().await.unwrap();
        assert_eq!(states.len(), 1);
        assert_eq!(
            states[0].key, "p/state/2",
            "the newest state is kept for every new session"
        );
        assert_eq!(s.mqtt_after(rows[3].id, 100).await.unwrap().len(), 2);
        // A server and a broker: each outbox gets every record, and draining one leaves the other.
        let both = Store::open_with(
            &dir.path().join("both.db"),
            Outboxes {
                http: true,
                mqtt: true,
            },
        )
        .await
        .unwrap();
        both.commit(&[commit(&["x", "y"])]).await.unwrap();
        let batch = both.next_batch("br", 10).await.unwrap().unwrap();
        both.ack_batch(batch.id).await.unwrap();
        assert_eq!(
            (
                both.queued().await.unwrap(),
                both.mqtt_queued().await.unwrap()
            ),
            (0, 2)
        );
        let ids: Vec<i64> = both
            .mqtt_after(0, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        both.mqtt_acked(&ids).await.unwrap();
        assert_eq!(both.mqtt_queued().await.unwrap(), 0);
        // Without [mqtt] nothing is queued for it.
        let plain = Store::open(&dir.path().join("p.db"), true).await.unwrap();
        plain.commit(&[commit(&["x"])]).await.unwrap();
        assert_eq!(plain.mqtt_queued().await.unwrap(), 0);
    }
}
