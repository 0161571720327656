//! Storage: one [`Db`] over SQLite (the embedded default) or PostgreSQL, both through sqlx.
//!
//! Every query is written once, with `$1`-style parameters that both backends accept, and run
//! on whichever pool is open through the [`on_pool!`] macro, which compiles the query body once
//! per backend. Migrations live in `web/migrations/{sqlite,postgres}` and run at start-up.
//!
//! The writes of one user action go through one [`Tx`] ([`Db::begin`], then [`Tx::commit`]):
//! multi-statement writes are methods of `Tx` (their `Db` namesakes run them as a transaction
//! of their own), single-query functions run on either through `On`. A `Tx` reads only through
//! itself: while it holds SQLite's write lock it must not wait for a second pooled connection.

mod accounts;
mod alert_acks;
mod alert_facts;
mod alert_outbox;
mod alert_settings;
mod alerts;
mod fields;
mod flights;
mod parlors;
mod prescriptions;
mod push;
mod records;
mod reports;
mod staff_alerts;
mod terrain;
mod today;
mod vehicles;

pub use accounts::{AuditRow, District, DistrictOverview, Farm, NewUser, Role, SessionRow, User};
pub use alert_facts::{
    BridgeFact, CONDUCTIVITY_HISTORY, FlightEventFact, MilkingFact, UnsignedRecordFact,
};
pub use alert_outbox::{OutboxOutcome, OutboxRow};
pub use alert_settings::{ChannelRow, NewRule, RuleRow};
pub use alerts::{
    AlertChannel, AlertRow, DeliveryRow, IntervalFact, NewChannel, NewDelivery, OpenCondition,
    Rule, RuleKind,
};
pub use fields::{FIELDS_PER_INSERT, FieldEdit, FieldRow, NewField, NewPlan, PlanRow};
pub use flights::{FlightRow, NewFlight, SampleRow, tlog_sha256};
pub use parlors::{
    BailsRow, IngestOutcome, IntervalRow, MilkingRow, Parlor, RollupRow, jst_day_start,
    jst_month_start,
};
pub use prescriptions::{NewPrescription, NewRxZone, PrescriptionRow, RxZoneRow};
pub use push::{NewPushSubscription, PushSubscriptionRow, PushTarget, PushWhich, WEBPUSH};
pub use records::{LogbookEntry, LogbookFields, Pesticide, RecordFields, SprayRecord};
#[cfg(test)]
pub(crate) use reports::fixtures as reports_fixtures;
pub use reports::{FarmMonth, FlightFact, ParlorMonthRow, PesticideMonth, RebuildStats};
pub use staff_alerts::{
    FarmActivity, STAFF_DEFAULT_HOUR, StaffAlertRow, StaffChannelRow, StaffOutboxRow, StaffPushRow,
    StaffRule,
};
pub use terrain::{DemRow, NewDem};
pub use today::{DistrictChanges, ParlorNow, WorkItem};
pub use vehicles::{
    FlightResult, GoNoGoRecord, NewLaunch, NewVehicle, PilotCredentials, VehicleRow,
};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// A failure of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL {url:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl {
        /// The URL as given.
        url: String,
    },
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique or check constraint refused a write.
    #[error("{what} conflicts with existing data ({constraint})")]
    Conflict {
        /// What was being written.
        what: &'static str,
        /// The constraint that refused it, as the database names it.
        constraint: String,
    },
    /// A row that must exist does not.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up.
        what: &'static str,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

impl StorageError {
    /// Turns a unique/check/foreign-key violation into [`StorageError::Conflict`]; other errors pass.
    pub(crate) fn conflict(what: &'static str, err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && (db.is_unique_violation()
                || db.is_check_violation()
                || db.is_foreign_key_violation())
        {
            return StorageError::Conflict {
                what,
                constraint: db
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| db.message().to_owned()),
            };
        }
        StorageError::Sqlx(err)
    }
}

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded, WAL journal.
    Sqlite,
    /// PostgreSQL over the network.
    Postgres,
}

/// A connection pool to the agriops database.
#[derive(Debug, Clone)]
pub enum Db {
    /// The embedded SQLite database, and the queue its writers of this process take turns in.
    Sqlite(SqlitePool, WriteQueue),
    /// A PostgreSQL database shared by one or more servers.
    Postgres(PgPool),
}

/// The write transactions of one process on one SQLite database, one at a time in arrival
/// order.
///
/// SQLite has one write lock; a writer that finds it taken spins in the busy handler until the
/// busy timeout, then fails with `database is locked`. One user action may hold the lock for
/// longer than that (an import of 157 000 fields at the CLI's limits takes seconds, and three
/// at once made the third fail), so writers of this process queue here instead, with no busy
/// handler between them; the busy timeout remains for other processes (the admin commands) and
/// for single statements outside a [`Tx`].
#[derive(Debug, Clone, Default)]
pub struct WriteQueue(std::sync::Arc<tokio::sync::Mutex<()>>);

/// How long a writer waits for its turn before it fails (a wait this long means a stuck
/// transaction, not a busy one).
const WRITE_TURN_TIMEOUT: Duration = Duration::from_secs(300);

impl WriteQueue {
    /// Waits for this writer's turn; the turn lasts until the returned guard is dropped.
    async fn turn(&self) -> Result<tokio::sync::OwnedMutexGuard<()>, sqlx::Error> {
        tokio::time::timeout(WRITE_TURN_TIMEOUT, self.0.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)
    }
}

/// An open write transaction on either backend: every write of one user action goes through
/// one, so the action is stored whole or not at all.
///
/// On SQLite it begins `IMMEDIATE`: the write lock is taken at `BEGIN`, where the busy timeout
/// makes a second writer wait, instead of at the first write of a deferred transaction, where
/// SQLite answers `SQLITE_BUSY` at once (see <https://www.sqlite.org/lang_transaction.html>,
/// "deferred … upgrade", and <https://www.sqlite.org/c3ref/busy_timeout.html>). Dropping a
/// `Tx` without [`Tx::commit`] rolls it back.
#[derive(Debug)]
pub struct Tx {
    inner: TxInner,
    /// SQLite: this transaction's turn in the [`WriteQueue`], given back after `inner` ends
    /// (fields drop in order).
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// The backend's own transaction behind a [`Tx`].
#[derive(Debug)]
enum TxInner {
    /// SQLite, begun `IMMEDIATE`.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL, `READ COMMITTED`.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    /// Makes every write of this transaction durable.
    ///
    /// # Errors
    /// The database refused the commit; nothing of the transaction is stored then.
    pub async fn commit(self) -> Result<(), StorageError> {
        let Tx { inner, _turn } = self;
        match inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        drop(_turn);
        Ok(())
    }

    /// Fails at the named point when a test armed it (see `fault`); nothing otherwise.
    ///
    /// # Errors
    /// Only in tests, at an armed point.
    #[cfg_attr(not(test), allow(clippy::unused_async))]
    pub async fn checkpoint(&self, point: &'static str) -> Result<(), StorageError> {
        #[cfg(test)]
        fault::hit(point)?;
        #[cfg(not(test))]
        let _ = point;
        Ok(())
    }
}

/// Starts a write transaction on a pool: `BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL.
pub(crate) trait BeginWrite {
    /// The backend.
    type Database: sqlx::Database;
    /// Begins the transaction.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
    }
}

/// Runs `$body` with `$conn` bound to the open transaction's connection (`&mut` of the
/// backend's connection type; reborrow it as `&mut *$conn` per query); compiled per backend.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::storage::TxInner::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::storage::TxInner::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

/// Where one query runs: on a pool (as its own statement) or inside an open [`Tx`].
pub(crate) enum On<'a> {
    /// A statement of its own on the SQLite pool.
    SqlitePool(&'a SqlitePool),
    /// A statement of its own on the PostgreSQL pool.
    PgPool(&'a PgPool),
    /// Inside a SQLite transaction.
    SqliteTx(&'a mut sqlx::SqliteConnection),
    /// Inside a PostgreSQL transaction.
    PgTx(&'a mut sqlx::PgConnection),
}

/// Runs the single query `$body` with `$e` bound to the executor of an [`On`]; compiled per
/// backend and per pool-or-transaction, so `$e` may be used once only.
macro_rules! on_exec {
    ($on:expr, $e:ident => $body:expr) => {
        match $on {
            $crate::storage::On::SqlitePool($e) => $body,
            $crate::storage::On::PgPool($e) => $body,
            $crate::storage::On::SqliteTx($e) => $body,
            $crate::storage::On::PgTx($e) => $body,
        }
    };
}
pub(crate) use on_exec;

impl Tx {
    /// Where queries of this transaction run.
    pub(crate) fn on(&mut self) -> On<'_> {
        match &mut self.inner {
            TxInner::Sqlite(t) => On::SqliteTx(t),
            TxInner::Postgres(t) => On::PgTx(t),
        }
    }
}

/// Test-only fault injection: a test arms a named point for the task it runs in, and
/// [`Tx::checkpoint`] at that point then fails, as a crash there would.
#[cfg(test)]
pub(crate) mod fault {
    tokio::task_local! {
        static ARMED: &'static str;
    }

    /// Runs `fut` with `point` armed.
    pub(crate) async fn armed<F: Future>(point: &'static str, fut: F) -> F::Output {
        ARMED.scope(point, fut).await
    }

    /// Fails if `point` is armed for this task.
    pub(crate) fn hit(point: &'static str) -> Result<(), super::StorageError> {
        if ARMED.try_with(|p| *p == point).unwrap_or(false) {
            return Err(super::StorageError::Sqlx(sqlx::Error::Protocol(format!(
                "fault injected at {point}"
            ))));
        }
        Ok(())
    }
}

/// Runs `$body` with `$pool` bound to the open backend's pool; the body is compiled per backend.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($pool, _) => $body,
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Db {
    /// Opens `url` (`sqlite://PATH`, `sqlite::memory:` or `postgres://…`) and runs the migrations.
    ///
    /// # Errors
    /// An unsupported URL, an unreachable database, or a failed migration.
    pub async fn connect(url: &str) -> Result<Db, StorageError> {
        let db = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // An in-memory database exists once per connection: keep a single one.
            let max = if url.contains(":memory:") { 1 } else { 8 };
            Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(max)
                    .connect_with(opts)
                    .await?,
                WriteQueue::default(),
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // JIT off: on a fresh database (no statistics yet) the overview's cost estimate
            // crossed jit_above_cost and every request paid ~45 ms of LLVM compilation for a
            // query that runs in under 1 ms. Our queries are short; JIT never pays here.
            let opts = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?,
            )
        } else {
            return Err(StorageError::UnsupportedUrl {
                url: url.to_owned(),
            });
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Opens (creating it if needed) `DIR/agriops.db`, the embedded default.
    ///
    /// # Errors
    /// The directory cannot be created, or [`Db::connect`] fails.
    pub async fn open_data_dir(dir: &Path) -> Result<Db, StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        let file = dir.join("agriops.db");
        Db::connect(&format!("sqlite://{}", file.display())).await
    }

    /// Applies the pending migrations of this backend.
    ///
    /// # Errors
    /// A migration failed or the database was changed by a newer agriops.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        match self {
            Db::Sqlite(pool, _) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Begins a write transaction (see [`Tx`]).
    ///
    /// # Errors
    /// No connection, or the write lock was not had within the busy timeout (SQLite).
    pub async fn begin(&self) -> Result<Tx, StorageError> {
        Ok(match self {
            Db::Sqlite(pool, queue) => {
                let turn = queue.turn().await?;
                Tx {
                    inner: TxInner::Sqlite(pool.begin_write().await?),
                    _turn: Some(turn),
                }
            }
            Db::Postgres(pool) => Tx {
                inner: TxInner::Postgres(pool.begin_write().await?),
                _turn: None,
            },
        })
    }

    /// Where a query of its own runs.
    pub(crate) fn on(&self) -> On<'_> {
        match self {
            Db::Sqlite(pool, _) => On::SqlitePool(pool),
            Db::Postgres(pool) => On::PgPool(pool),
        }
    }

    /// The engine behind this pool.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers (for `/healthz`).
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn ping(&self) -> Result<(), StorageError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected())?);
        Ok(())
    }

    /// Closes every connection (waits for checked-out ones).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

#[cfg(test)]
pub(crate) mod testdb;

#[cfg(test)]
mod tests;
