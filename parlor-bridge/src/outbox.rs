//! Sink: the durable local store (SQLite through sqlx, WAL) — records, tracker state and the forwarding outbox.
//!
//! Every poll's records and the tracker state that produced them are written in one
//! transaction, so a `kill -9` either keeps both or neither. Records are unique by their
//! dedupe key (`INSERT OR IGNORE`), and the outbox hands out batches whose idempotency key is
//! fixed when the batch is formed, so a retry after a crash resends the very same batch.

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

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
    "CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY AUTOINCREMENT, batch_key TEXT NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL, rejected_ms INTEGER NOT NULL)",
];

/// The local database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    forward: bool,
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
        Ok(Store { pool, forward })
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
            let state = serde_json::to_string(&c.state).unwrap_or_default();
            sqlx::query("INSERT INTO tracker_state (parlor, json, updated_ms) VALUES (?,?,?) ON CONFLICT (parlor) DO UPDATE SET json = excluded.json, updated_ms = excluded.updated_ms")
                .bind(&c.parlor).bind(state).bind(now)
                .execute(&mut *tx).await.map_err(BridgeError::store("save state"))?;
        }
        tx.commit().await.map_err(BridgeError::store("commit"))
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
}
