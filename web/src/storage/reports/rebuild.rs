//! Every roll-up rebuilt from the raw records, for repair and bulk loads.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::{KEY_SQL, RebuildStats};
use crate::storage::parlors::{hour_start, jst_day_start, jst_month_start};
use crate::storage::{BeginWrite, Db, StorageError, on_pool};

/// Rows per multi-row INSERT in bulk writes (10 columns: well under both backends' limits).
const CHUNK: usize = 100;

/// `$first, $first+1, …` placeholders of one row of `cols` columns.
fn row_placeholders(first: usize, cols: usize) -> String {
    let p: Vec<String> = (first..first + cols).map(|i| format!("${i}")).collect();
    format!("({})", p.join(", "))
}

/// `INSERT INTO head VALUES (…), (…)` for `rows` rows of `cols` columns.
fn multi_insert(head: &str, rows: usize, cols: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| row_placeholders(r * cols + 1, cols))
        .collect();
    format!("{head} VALUES {}", values.join(", "))
}

/// (parlor, hour since the epoch, cows, milk kg, online s, kick-offs, stops, alerts) of intervals.
type IntervalHour = (i64, i64, f64, f64, f64, f64, f64, i64);

/// (id, farm, started, created, sprayed m², litres) of a flight without a fact.
type FactlessFlight = (
    i64,
    i64,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    Option<f64>,
    Option<f64>,
);

/// Sums of one roll-up bucket while rebuilding.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    cows: f64,
    milk_kg: f64,
    milkings: i64,
    online_s: f64,
    kickoffs: f64,
    stops: f64,
    alerts: i64,
    offline_s: f64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.cows += o.cows;
        self.milk_kg += o.milk_kg;
        self.milkings += o.milkings;
        self.online_s += o.online_s;
        self.kickoffs += o.kickoffs;
        self.stops += o.stops;
        self.alerts += o.alerts;
        self.offline_s += o.offline_s;
    }
}

impl Db {
    /// Recomputes every roll-up from the raw records, in one transaction: `parlor_rollups`
    /// (hour, day) and `parlor_month_rollups` from milking events, KPI intervals, gaps and
    /// sessions; flight facts for flights that have none; `spray_month_rollups` from the facts.
    ///
    /// The buckets are the ones `ingest_batch` uses, so after a rebuild the roll-ups equal those
    /// grown incrementally (up to floating-point summation order).
    ///
    /// # Errors
    /// The database failed (the old roll-ups stay then).
    pub async fn rebuild_rollups(&self) -> Result<RebuildStats, StorageError> {
        self.rebuild_rollups_reporting(|_| {}).await
    }

    /// [`Db::rebuild_rollups`], telling `stage` what it starts on (for a progress display).
    ///
    /// # Errors
    /// As [`Db::rebuild_rollups`].
    pub async fn rebuild_rollups_reporting(
        &self,
        stage: impl Fn(&'static str) + Send + Sync,
    ) -> Result<RebuildStats, StorageError> {
        // Hour number since the epoch of a timestamp column, per backend.
        let hour = |col: &str| match self {
            Db::Sqlite(..) => format!("(unixepoch({col}) / 3600)"),
            Db::Postgres(_) => format!("CAST(floor(extract(epoch FROM {col}) / 3600) AS BIGINT)"),
        };
        let milk_sql = format!(
            "SELECT parlor_id, {h}, COUNT(*) FROM milking_events GROUP BY parlor_id, {h}",
            h = hour("t")
        );
        let int_sql = format!(
            "SELECT parlor_id, {h}, SUM(cows), SUM(milk_kg), SUM(online_s), SUM(kickoffs), \
             SUM(stops), CAST(SUM(alerts) AS BIGINT) FROM parlor_intervals GROUP BY parlor_id, {h}",
            h = hour("start_t")
        );
        let sess_sql = format!(
            "SELECT DISTINCT parlor_id, {h} FROM parlor_sessions",
            h = hour("start_t")
        );
        let mut stats = RebuildStats::default();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut hours: HashMap<(i64, i64), Sums> = HashMap::new();
            stage("counting milking events per parlor and hour");
            let milk: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(milk_sql))
                .fetch_all(&mut *tx).await?;
            for (p, h, n) in milk {
                hours.entry((p, h)).or_default().milkings += n;
            }
            stage("summing KPI intervals per parlor and hour");
            let ints: Vec<IntervalHour> =
                sqlx::query_as(sqlx::AssertSqlSafe(int_sql)).fetch_all(&mut *tx).await?;
            for (p, h, cows, kg, online, kick, stops, alerts) in ints {
                hours.entry((p, h)).or_default().add(&Sums {
                    cows, milk_kg: kg, online_s: online, kickoffs: kick, stops, alerts,
                    ..Sums::default()
                });
            }
            stage("reading sessions and offline gaps");
            let sessions: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sess_sql))
                .fetch_all(&mut *tx).await?;
            for key in sessions {
                hours.entry(key).or_default();
            }
            let gaps: Vec<(i64, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
                "SELECT parlor_id, start_t, end_t FROM parlor_gaps").fetch_all(&mut *tx).await?;
            for (p, start, end) in gaps {
                let h = start.timestamp().div_euclid(3600);
                hours.entry((p, h)).or_default().offline_s +=
                    (end - start).num_milliseconds().max(0) as f64 / 1000.0;
            }
            // Fold hours into the hour, day and month buckets of `ingest_batch`.
            let mut buckets: HashMap<(i64, &'static str, DateTime<Utc>), Sums> = HashMap::new();
            let mut months: HashMap<(i64, DateTime<Utc>), Sums> = HashMap::new();
            for ((p, h), s) in &hours {
                let at = DateTime::<Utc>::UNIX_EPOCH + Duration::hours(*h);
                buckets.entry((*p, "hour", hour_start(at))).or_default().add(s);
                buckets.entry((*p, "day", jst_day_start(at))).or_default().add(s);
                months.entry((*p, jst_month_start(at))).or_default().add(s);
            }
            stage("writing hour, day and month parlor roll-ups");
            sqlx::query("DELETE FROM parlor_rollups").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM parlor_month_rollups").execute(&mut *tx).await?;
            let rows: Vec<_> = buckets.into_iter().collect();
            for chunk in rows.chunks(CHUNK) {
                let sql = multi_insert(
                    "INSERT INTO parlor_rollups (parlor_id, granularity, bucket_start, cows, milk_kg, \
                     milkings, online_s, kickoffs, stops, alerts)", chunk.len(), 10);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for ((p, g, b), s) in chunk {
                    q = q.bind(*p).bind(*g).bind(*b).bind(s.cows).bind(s.milk_kg).bind(s.milkings)
                        .bind(s.online_s).bind(s.kickoffs).bind(s.stops).bind(s.alerts);
                }
                stats.parlor_rows += q.execute(&mut *tx).await?.rows_affected();
            }
            let rows: Vec<_> = months.into_iter().collect();
            for chunk in rows.chunks(CHUNK) {
                let sql = multi_insert(
                    "INSERT INTO parlor_month_rollups (parlor_id, month_start, cows, milk_kg, \
                     milkings, online_s, offline_s, alerts)", chunk.len(), 8);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for ((p, m), s) in chunk {
                    q = q.bind(*p).bind(*m).bind(s.cows).bind(s.milk_kg).bind(s.milkings)
                        .bind(s.online_s).bind(s.offline_s).bind(s.alerts);
                }
                stats.month_rows += q.execute(&mut *tx).await?.rows_affected();
            }
            stage("flight facts and spray roll-ups");
            // Flights recorded before facts existed get one (pesticide not recorded).
            let missing: Vec<FactlessFlight> =
                sqlx::query_as(
                    "SELECT id, farm_id, started_at, created_at, sprayed_area_m2, litres FROM flights \
                     WHERE sprayed_area_m2 IS NOT NULL \
                     AND id NOT IN (SELECT flight_id FROM flight_facts)")
                    .fetch_all(&mut *tx).await?;
            for (id, farm, started, created, area, litres) in missing {
                let at = started.unwrap_or(created);
                stats.facts_added += sqlx::query(
                    "INSERT INTO flight_facts (flight_id, farm_id, flown_at, month_start, area_m2, \
                     litres) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(id).bind(farm).bind(at).bind(jst_month_start(at))
                    .bind(area.unwrap_or(0.0).max(0.0)).bind(litres.unwrap_or(0.0).max(0.0))
                    .execute(&mut *tx).await?.rows_affected();
            }
            sqlx::query("DELETE FROM spray_month_rollups").execute(&mut *tx).await?;
            stats.spray_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO spray_month_rollups (farm_id, month_start, pesticide_key, pesticide_name, \
                 pesticide_reg_no, flights, area_m2, litres) \
                 SELECT farm_id, month_start, {KEY_SQL}, MIN(pesticide_name), MIN(pesticide_reg_no), \
                 COUNT(*), SUM(area_m2), SUM(litres) FROM flight_facts \
                 GROUP BY farm_id, month_start, {KEY_SQL}")))
                .execute(&mut *tx).await?.rows_affected();
            stage("committing");
            tx.commit().await?;
        });
        Ok(stats)
    }
}
