//! Regional reports: per-flight spray facts, the monthly spray and dairy roll-ups the reports
//! read, and a rebuild of every roll-up from the raw records (for repair and bulk loads).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::parlors::{hour_start, jst_day_start, jst_month_start};
use super::{BeginWrite, Db, StorageError, Tx, on_pool, on_tx};

/// What one flight contributes to the spray reports.
#[derive(Debug, Clone, PartialEq)]
pub struct FlightFact {
    /// The flight.
    pub flight_id: i64,
    /// The farm that flew it.
    pub farm_id: i64,
    /// When it was flown (its month is an Asia/Tokyo month).
    pub flown_at: DateTime<Utc>,
    /// Area sprayed, m².
    pub area_m2: f64,
    /// Liquid applied, litres.
    pub litres: f64,
    /// Pesticide name, when a pesticide record names it.
    pub pesticide_name: Option<String>,
    /// Pesticide registration number (農薬登録番号), when recorded.
    pub pesticide_reg_no: Option<String>,
}

/// One farm's figures for one Asia/Tokyo month, read from the monthly roll-ups.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FarmMonth {
    /// The farm.
    pub farm_id: i64,
    /// The farm's district.
    pub district_id: i64,
    /// Start of the month (00:00 JST on the 1st, as a UTC instant).
    pub month_start: DateTime<Utc>,
    /// Flights flown.
    pub flights: i64,
    /// Area sprayed, m².
    pub area_m2: f64,
    /// Liquid applied, litres.
    pub litres: f64,
    /// Cows milked (from the controllers' counters).
    pub cows: f64,
    /// Milk, kg.
    pub milk_kg: f64,
    /// Milking events recorded.
    pub milkings: i64,
    /// Seconds the parlors answered.
    pub online_s: f64,
    /// Seconds of recorded offline gaps.
    pub offline_s: f64,
    /// High-conductivity alerts.
    pub alerts: i64,
}

/// One farm's spray totals for one month and one pesticide (`None` name and number = not recorded).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PesticideMonth {
    /// The farm.
    pub farm_id: i64,
    /// The farm's district.
    pub district_id: i64,
    /// Start of the month.
    pub month_start: DateTime<Utc>,
    /// Pesticide name, if recorded.
    pub pesticide_name: Option<String>,
    /// Registration number, if recorded.
    pub pesticide_reg_no: Option<String>,
    /// Flights.
    pub flights: i64,
    /// Area sprayed, m².
    pub area_m2: f64,
    /// Liquid applied, litres.
    pub litres: f64,
}

/// One monthly dairy roll-up row of a parlor.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ParlorMonthRow {
    /// The parlor.
    pub parlor_id: i64,
    /// Start of the month.
    pub month_start: DateTime<Utc>,
    /// Cows milked.
    pub cows: f64,
    /// Milk, kg.
    pub milk_kg: f64,
    /// Milking events.
    pub milkings: i64,
    /// Seconds online.
    pub online_s: f64,
    /// Seconds of offline gaps.
    pub offline_s: f64,
    /// Alerts.
    pub alerts: i64,
}

/// How many roll-up rows a rebuild wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildStats {
    /// Hour and day rows of `parlor_rollups`.
    pub parlor_rows: u64,
    /// Rows of `parlor_month_rollups`.
    pub month_rows: u64,
    /// Flights given a fact because they had none.
    pub facts_added: u64,
    /// Rows of `spray_month_rollups`.
    pub spray_rows: u64,
}

/// Trims a pesticide field; blank means not recorded.
fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The key of a pesticide in `spray_month_rollups`: registration number, else name, else ''.
fn pesticide_key(name: &Option<String>, reg_no: &Option<String>) -> String {
    reg_no.clone().or_else(|| name.clone()).unwrap_or_default()
}

/// The SQL expression of that key over `flight_facts` columns (same rule as [`pesticide_key`]).
const KEY_SQL: &str = "COALESCE(pesticide_reg_no, pesticide_name, '')";

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
    /// Stores (or replaces) one flight's contribution to the spray reports and brings the
    /// monthly spray roll-up of the touched months and pesticides up to date, in one transaction.
    ///
    /// Idempotent per flight: upserting the same fact twice changes nothing, and upserting a
    /// changed fact (another pesticide, corrected litres) replaces the old contribution.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown flight or farm, or a negative or non-finite
    /// area or volume; nothing is stored then.
    pub async fn upsert_flight_fact(&self, f: &FlightFact) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        tx.upsert_flight_fact(f).await?;
        tx.commit().await
    }

    /// Every farm's monthly figures for months starting in `[from, to)`, by farm then month.
    ///
    /// # Errors
    /// The database failed.
    pub async fn farm_months(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<FarmMonth>, StorageError> {
        type SprayRow = (i64, i64, DateTime<Utc>, i64, f64, f64);
        type DairyRow = (i64, i64, DateTime<Utc>, f64, f64, i64, f64, f64, i64);
        let (spray, dairy): (Vec<SprayRow>, Vec<DairyRow>) = on_pool!(self, pool => {
            let spray = sqlx::query_as(
                "SELECT s.farm_id, f.district_id, s.month_start, CAST(SUM(s.flights) AS BIGINT), \
                 SUM(s.area_m2), SUM(s.litres) FROM spray_month_rollups s \
                 JOIN farms f ON f.id = s.farm_id \
                 WHERE s.month_start >= $1 AND s.month_start < $2 \
                 GROUP BY s.farm_id, f.district_id, s.month_start")
                .bind(from).bind(to).fetch_all(pool).await?;
            let dairy = sqlx::query_as(
                "SELECT p.farm_id, f.district_id, m.month_start, SUM(m.cows), SUM(m.milk_kg), \
                 CAST(SUM(m.milkings) AS BIGINT), SUM(m.online_s), SUM(m.offline_s), \
                 CAST(SUM(m.alerts) AS BIGINT) FROM parlor_month_rollups m \
                 JOIN parlors p ON p.id = m.parlor_id JOIN farms f ON f.id = p.farm_id \
                 WHERE m.month_start >= $1 AND m.month_start < $2 \
                 GROUP BY p.farm_id, f.district_id, m.month_start")
                .bind(from).bind(to).fetch_all(pool).await?;
            (spray, dairy)
        });
        let mut out: BTreeMap<(i64, DateTime<Utc>), FarmMonth> = BTreeMap::new();
        let entry = |out: &mut BTreeMap<(i64, DateTime<Utc>), FarmMonth>, farm, district, month| {
            out.entry((farm, month))
                .or_insert_with(|| FarmMonth {
                    farm_id: farm,
                    district_id: district,
                    month_start: month,
                    ..FarmMonth::default()
                })
                .clone()
        };
        for (farm, district, month, flights, area, litres) in spray {
            let mut e = entry(&mut out, farm, district, month);
            e.flights = flights;
            e.area_m2 = area;
            e.litres = litres;
            out.insert((farm, month), e);
        }
        for (farm, district, month, cows, kg, milkings, online, offline, alerts) in dairy {
            let mut e = entry(&mut out, farm, district, month);
            e.cows = cows;
            e.milk_kg = kg;
            e.milkings = milkings;
            e.online_s = online;
            e.offline_s = offline;
            e.alerts = alerts;
            out.insert((farm, month), e);
        }
        Ok(out.into_values().collect())
    }

    /// Spray totals per farm, month and pesticide for months starting in `[from, to)`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn pesticide_months(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PesticideMonth>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PesticideMonth>(
            "SELECT s.farm_id, f.district_id, s.month_start, s.pesticide_name, s.pesticide_reg_no, \
             s.flights, s.area_m2, s.litres FROM spray_month_rollups s \
             JOIN farms f ON f.id = s.farm_id \
             WHERE s.month_start >= $1 AND s.month_start < $2 \
             ORDER BY s.farm_id, s.month_start, s.pesticide_key")
            .bind(from).bind(to).fetch_all(pool).await?))
    }

    /// The monthly dairy roll-up rows of a parlor, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlor_month_rollups(
        &self,
        parlor_id: i64,
    ) -> Result<Vec<ParlorMonthRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ParlorMonthRow>(
            "SELECT parlor_id, month_start, cows, milk_kg, milkings, online_s, offline_s, alerts \
             FROM parlor_month_rollups WHERE parlor_id = $1 ORDER BY month_start")
            .bind(parlor_id).fetch_all(pool).await?))
    }

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
            Db::Sqlite(_) => format!("(unixepoch({col}) / 3600)"),
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

impl Tx {
    /// Stores (or replaces) one flight's contribution to the spray reports and brings the
    /// monthly spray roll-up of the touched months and pesticides up to date, in one transaction.
    ///
    /// Idempotent per flight: upserting the same fact twice changes nothing, and upserting a
    /// changed fact (another pesticide, corrected litres) replaces the old contribution.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown flight or farm, or a negative or non-finite
    /// area or volume; nothing is stored then.
    pub async fn upsert_flight_fact(&mut self, f: &FlightFact) -> Result<(), StorageError> {
        if !(f.area_m2.is_finite() && f.area_m2 >= 0.0 && f.litres.is_finite() && f.litres >= 0.0) {
            return Err(StorageError::Conflict {
                what: "flight fact",
                constraint: "area and litres must be finite and not negative".to_owned(),
            });
        }
        let name = clean(&f.pesticide_name);
        let reg_no = clean(&f.pesticide_reg_no);
        let key = pesticide_key(&name, &reg_no);
        let month = jst_month_start(f.flown_at);
        on_tx!(self, tx => {
            // The roll-ups below are read-modify-write: on PostgreSQL (READ COMMITTED) two
            // transactions counting flights of one farm at once would each miss the other's.
            // Locking the farm's row serialises them (SQLite already has one writer at a time).
            sqlx::query("UPDATE farms SET name = name WHERE id = $1")
                .bind(f.farm_id).execute(&mut *tx).await
                .map_err(|e| StorageError::conflict("flight fact", e))?;
            let old: Option<(i64, DateTime<Utc>, String)> = sqlx::query_as(
                "SELECT farm_id, month_start, COALESCE(pesticide_reg_no, pesticide_name, '') \
                 FROM flight_facts WHERE flight_id = $1")
                .bind(f.flight_id).fetch_optional(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO flight_facts (flight_id, farm_id, flown_at, month_start, area_m2, litres, \
                 pesticide_name, pesticide_reg_no) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (flight_id) DO UPDATE SET farm_id = excluded.farm_id, \
                 flown_at = excluded.flown_at, month_start = excluded.month_start, \
                 area_m2 = excluded.area_m2, litres = excluded.litres, \
                 pesticide_name = excluded.pesticide_name, pesticide_reg_no = excluded.pesticide_reg_no")
                .bind(f.flight_id).bind(f.farm_id).bind(f.flown_at).bind(month).bind(f.area_m2)
                .bind(f.litres).bind(&name).bind(&reg_no)
                .execute(&mut *tx).await
                .map_err(|e| StorageError::conflict("flight fact", e))?;
            let mut touched = vec![(f.farm_id, month, key)];
            if let Some(o) = old && o != touched[0] {
                touched.push(o);
            }
            for (farm_id, month, key) in &touched {
                let (n, area, litres, pname, preg): (i64, Option<f64>, Option<f64>, Option<String>, Option<String>) =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*), SUM(area_m2), SUM(litres), MIN(pesticide_name), \
                         MIN(pesticide_reg_no) FROM flight_facts \
                         WHERE farm_id = $1 AND month_start = $2 AND {KEY_SQL} = $3")))
                    .bind(farm_id).bind(month).bind(key).fetch_one(&mut *tx).await?;
                if n == 0 {
                    sqlx::query("DELETE FROM spray_month_rollups \
                                 WHERE farm_id = $1 AND month_start = $2 AND pesticide_key = $3")
                        .bind(farm_id).bind(month).bind(key).execute(&mut *tx).await?;
                } else {
                    sqlx::query(
                        "INSERT INTO spray_month_rollups (farm_id, month_start, pesticide_key, \
                         pesticide_name, pesticide_reg_no, flights, area_m2, litres) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (farm_id, month_start, pesticide_key) DO UPDATE SET \
                         pesticide_name = excluded.pesticide_name, \
                         pesticide_reg_no = excluded.pesticide_reg_no, flights = excluded.flights, \
                         area_m2 = excluded.area_m2, litres = excluded.litres")
                        .bind(farm_id).bind(month).bind(key).bind(pname).bind(preg).bind(n)
                        .bind(area.unwrap_or(0.0)).bind(litres.unwrap_or(0.0))
                        .execute(&mut *tx).await?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Raw parlor records and flights for report tests, with the sums the reports must show
    //! computed here from what is sent (not from the roll-ups).

    use std::collections::BTreeMap;

    use chrono::{DateTime, Duration, TimeZone, Utc};
    use parlor_bridge::wire::{
        IngestBatch, KpiInterval, MilkingEvent, OfflineGap, Record, SessionSummary, WIRE_VERSION,
    };

    use crate::services::reports::YearMonth;
    use crate::storage::{Db, FarmMonth, FlightFact, NewFlight, SampleRow};

    /// 2025-05-30 12:00 UTC: 72 hours from here cross into June in Tokyo (05-31 15:00 UTC).
    pub(crate) fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 5, 30, 12, 0, 0).unwrap()
    }

    /// Sums per Tokyo month of what was sent, in the shape the reports read.
    pub(crate) type Expected = BTreeMap<YearMonth, FarmMonth>;

    /// `hours` hours of one parlor's records (intervals, milkings, gaps, sessions) from `start`,
    /// varied by `seed`, and their sums per month.
    pub(crate) fn dairy(
        farm: &str,
        seed: u64,
        start: DateTime<Utc>,
        hours: i64,
    ) -> (Vec<Record>, Expected) {
        let parlor = format!("{farm}-rotary");
        let mut recs = Vec::new();
        let mut exp = Expected::new();
        for h in 0..hours {
            let at = start + Duration::hours(h) + Duration::minutes(5);
            let cows = ((h as u64 * 7 + seed) % 11 + 1) as f64;
            let kg = cows * 12.25 + seed as f64;
            let online = 3000.0 + (seed % 5) as f64 * 60.0;
            let alerts = ((h as u64 + seed) % 3) as i64;
            recs.push(Record::Interval(KpiInterval {
                key: format!("{parlor}/i/{h}"),
                parlor: parlor.clone(),
                farm: farm.into(),
                unit: 1,
                start: at,
                end: at + Duration::seconds(online as i64),
                online_s: online,
                cows,
                kg,
                cows_per_hour: 0.0,
                kg_per_hour: 0.0,
                cows_per_hour_rolling: 0.0,
                milkings: cows as u64,
                rotation_s: None,
                occupancy: None,
                idle_bails: 0.0,
                kickoffs: 1.0,
                reattaches: 0.0,
                stops: 0.0,
                washes: 0,
                high_conductivity_alerts: alerts as u64,
                state: "running".into(),
                milk_temp_c: None,
                alarms: Vec::new(),
            }));
            let e = exp.entry(YearMonth::of(at)).or_default();
            e.cows += cows;
            e.milk_kg += kg;
            e.online_s += online;
            e.alerts += alerts;
            for b in 0..2u16 {
                let t = at + Duration::minutes(10 + i64::from(b));
                recs.push(Record::Milking(MilkingEvent {
                    key: format!("{parlor}/m/{h}/{b}"),
                    parlor: parlor.clone(),
                    farm: farm.into(),
                    unit: 1,
                    bail: b + 1,
                    epoch: 0,
                    seq: h as u64,
                    t,
                    controller_t: None,
                    cow_id: 1000 + h as u64,
                    yield_kg: 11.0,
                    duration_s: None,
                    conductivity_ms_cm: None,
                    high_conductivity: false,
                    missed_before: 0,
                }));
                exp.entry(YearMonth::of(t)).or_default().milkings += 1;
            }
            if (h as u64 + seed).is_multiple_of(10) {
                let gs = start + Duration::hours(h) + Duration::minutes(58);
                recs.push(Record::Gap(OfflineGap {
                    key: format!("{parlor}/g/{h}"),
                    parlor: parlor.clone(),
                    farm: farm.into(),
                    start: gs,
                    end: gs + Duration::seconds(90),
                    controller_restarted: false,
                }));
                exp.entry(YearMonth::of(gs)).or_default().offline_s += 90.0;
            }
            if h % 24 == 3 {
                recs.push(Record::Session(SessionSummary {
                    key: format!("{parlor}/s/{h}"),
                    parlor: parlor.clone(),
                    farm: farm.into(),
                    start: at,
                    end: at + Duration::hours(2),
                    cows: 10.0,
                    kg: 100.0,
                    cows_per_hour: 5.0,
                    kg_per_hour: 50.0,
                }));
            }
        }
        (recs, exp)
    }

    /// Sends `recs` for `farm_id` through the real ingest in batches of 40, replaying one batch
    /// and re-sending one overlapping record, as a flaky bridge would.
    pub(crate) async fn ingest(db: &Db, farm_id: i64, recs: &[Record]) {
        let tok = db
            .create_bridge_token(farm_id, "b", &format!("tok-{farm_id}"))
            .await
            .unwrap();
        let mut prev: Option<IngestBatch> = None;
        for (i, chunk) in recs.chunks(40).enumerate() {
            let mut records = chunk.to_vec();
            if let Some(p) = &prev {
                records.push(p.records[0].clone());
            }
            let b = IngestBatch {
                version: WIRE_VERSION,
                bridge_id: "b".into(),
                batch_key: format!("k{i}"),
                records,
            };
            db.ingest_batch(tok, farm_id, &b).await.unwrap();
            db.ingest_batch(tok, farm_id, &b).await.unwrap();
            prev = Some(b);
        }
    }

    /// Stores `n` flights of `farm_id` from `start` (one every 5 hours) with their facts, and
    /// adds them to `exp`; `pesticide` names every flight's pesticide when given.
    pub(crate) async fn flights(
        db: &Db,
        farm_id: i64,
        n: i64,
        start: DateTime<Utc>,
        pesticide: Option<(&str, &str)>,
        exp: &mut Expected,
    ) -> Vec<i64> {
        let mut ids = Vec::new();
        for i in 0..n {
            let at = start + Duration::hours(5 * i);
            let area = 1000.0 + 137.5 * i as f64 + farm_id as f64;
            let litres = area * 0.0008;
            let samples = [SampleRow {
                t: at,
                lat: 36.97,
                lon: 139.98,
                alt_m: 2.0,
                spray: true,
                battery_pct: None,
            }];
            let id = db
                .create_flight(&NewFlight {
                    farm_id,
                    field_id: None,
                    plan_id: None,
                    status: "completed",
                    sprayed_area_m2: Some(area),
                    litres: Some(litres),
                    summary_json: "{}",
                    samples: &samples,
                    tlog: None,
                })
                .await
                .unwrap();
            db.upsert_flight_fact(&FlightFact {
                flight_id: id,
                farm_id,
                flown_at: at,
                area_m2: area,
                litres,
                pesticide_name: pesticide.map(|p| p.0.to_owned()),
                pesticide_reg_no: pesticide.map(|p| p.1.to_owned()),
            })
            .await
            .unwrap();
            let e = exp.entry(YearMonth::of(at)).or_default();
            e.flights += 1;
            e.area_m2 += area;
            e.litres += litres;
            ids.push(id);
        }
        ids
    }

    /// True when `a` and `b` agree to 1e-6 (relative).
    pub(crate) fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{Expected, close, dairy, flights, ingest, t0};
    use super::*;
    use crate::services::reports::{Period, YearMonth};
    use crate::storage::testdb::both_backends;
    use chrono::TimeZone;

    fn assert_month(got: &FarmMonth, want: &FarmMonth) {
        assert_eq!(got.flights, want.flights, "{got:?} vs {want:?}");
        assert_eq!(got.milkings, want.milkings, "{got:?} vs {want:?}");
        assert_eq!(got.alerts, want.alerts, "{got:?} vs {want:?}");
        for (a, b) in [
            (got.area_m2, want.area_m2),
            (got.litres, want.litres),
            (got.cows, want.cows),
            (got.milk_kg, want.milk_kg),
            (got.online_s, want.online_s),
            (got.offline_s, want.offline_s),
        ] {
            assert!(close(a, b), "{got:?} vs {want:?}");
        }
    }

    both_backends!(report_months_equal_sums_of_what_was_sent, |db| {
        let d = db.districts().await.unwrap();
        let mut expected: Vec<(i64, Expected)> = Vec::new();
        for (i, name) in ["kita", "minami"].iter().enumerate() {
            let farm = db.create_farm(d[i].id, name, "mixed", "").await.unwrap();
            let (recs, mut exp) = dairy(name, i as u64 + 3, t0(), 72);
            ingest(db, farm.id, &recs).await;
            flights(db, farm.id, 9, t0(), None, &mut exp).await;
            expected.push((farm.id, exp));
        }
        let (from, to) = Period::Year(2025).range();
        let got = db.farm_months(from, to).await.unwrap();
        let n_expected: usize = expected.iter().map(|(_, e)| e.len()).sum();
        assert_eq!(got.len(), n_expected, "{got:?}");
        for (farm, exp) in &expected {
            for (ym, want) in exp {
                let row = got
                    .iter()
                    .find(|m| m.farm_id == *farm && m.month_start == ym.start())
                    .unwrap_or_else(|| panic!("no row for farm {farm} {ym:?}"));
                assert_month(row, want);
            }
            // Both months of the fixture have data (it crosses 1 June in Tokyo).
            assert_eq!(exp.len(), 2);
        }

        // A rebuild from the raw records gives the same roll-ups as incremental ingest.
        let parlors = db.all_parlors().await.unwrap();
        let mut before = Vec::new();
        for p in &parlors {
            for g in ["hour", "day"] {
                before.push(
                    db.parlor_rollups(p.id, g, DateTime::UNIX_EPOCH, to)
                        .await
                        .unwrap(),
                );
            }
        }
        let months_before: Vec<_> = {
            let mut v = Vec::new();
            for p in &parlors {
                v.push(db.parlor_month_rollups(p.id).await.unwrap());
            }
            v
        };
        let spray_before = db.pesticide_months(from, to).await.unwrap();
        let stats = db.rebuild_rollups().await.unwrap();
        assert_eq!(stats.facts_added, 0);
        assert!(stats.parlor_rows > 0 && stats.month_rows == 4 && stats.spray_rows == 4);
        let mut i = 0;
        for p in &parlors {
            for g in ["hour", "day"] {
                let after = db
                    .parlor_rollups(p.id, g, DateTime::UNIX_EPOCH, to)
                    .await
                    .unwrap();
                assert_eq!(after.len(), before[i].len(), "{g} rows of parlor {}", p.id);
                for (a, b) in after.iter().zip(&before[i]) {
                    assert_eq!(
                        (a.bucket_start, a.milkings, a.alerts),
                        (b.bucket_start, b.milkings, b.alerts)
                    );
                    assert!(close(a.cows, b.cows) && close(a.milk_kg, b.milk_kg));
                    assert!(close(a.online_s, b.online_s) && close(a.kickoffs, b.kickoffs));
                }
                i += 1;
            }
        }
        for (p, b) in parlors.iter().zip(&months_before) {
            let a = db.parlor_month_rollups(p.id).await.unwrap();
            assert_eq!(a.len(), b.len());
            for (a, b) in a.iter().zip(b) {
                assert_eq!(
                    (a.month_start, a.milkings, a.alerts),
                    (b.month_start, b.milkings, b.alerts)
                );
                assert!(close(a.cows, b.cows) && close(a.offline_s, b.offline_s));
                assert!(close(a.online_s, b.online_s) && close(a.milk_kg, b.milk_kg));
            }
        }
        let spray_after = db.pesticide_months(from, to).await.unwrap();
        assert_eq!(spray_after.len(), spray_before.len());
        for (a, b) in spray_after.iter().zip(&spray_before) {
            assert_eq!(
                (a.farm_id, a.month_start, a.flights),
                (b.farm_id, b.month_start, b.flights)
            );
            assert!(close(a.litres, b.litres) && close(a.area_m2, b.area_m2));
        }
        let again = db.farm_months(from, to).await.unwrap();
        for (a, b) in again.iter().zip(&got) {
            assert_month(a, b);
        }
    });

    both_backends!(concurrent_flight_facts_of_one_farm_are_all_counted, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "kumo", "crop", "").await.unwrap();
        let at = Utc.with_ymd_and_hms(2025, 8, 1, 3, 0, 0).unwrap();
        // Eight transactions that each count a flight of the same farm and month and stay
        // open a moment: none may miss another's flight in the month's roll-up.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                let farm_id = farm.id;
                tokio::spawn(async move {
                    let mut tx = db.begin().await?;
                    let flight_id = tx
                        .create_flight(&crate::storage::NewFlight {
                            farm_id,
                            field_id: None,
                            plan_id: None,
                            status: "completed",
                            sprayed_area_m2: Some(100.0),
                            litres: Some(1.0),
                            summary_json: "{}",
                            samples: &[],
                            tlog: None,
                        })
                        .await?;
                    tx.upsert_flight_fact(&FlightFact {
                        flight_id,
                        farm_id,
                        flown_at: at,
                        area_m2: 100.0,
                        litres: 1.0,
                        pesticide_name: None,
                        pesticide_reg_no: None,
                    })
                    .await?;
                    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                    tx.commit().await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let ym = YearMonth::of(at);
        let rows = db
            .pesticide_months(ym.start(), ym.next().start())
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].flights, 8);
        assert!(close(rows[0].litres, 8.0));
    });

    both_backends!(flight_facts_are_idempotent_and_replaceable, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "sora", "crop", "").await.unwrap();
        let mut exp = Expected::new();
        let start = Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap();
        let ids = flights(db, farm.id, 3, start, None, &mut exp).await;
        let (from, to) = Period::parse(Some("2025"), Some("7"), 2025)
            .unwrap()
            .range();
        let rows = db.pesticide_months(from, to).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].flights, rows[0].pesticide_name.as_deref()),
            (3, None)
        );
        let want = &exp[&YearMonth {
            year: 2025,
            month: 7,
        }];
        assert!(close(rows[0].litres, want.litres));

        // The records helper saves a pesticide for flight 0: its contribution moves.
        let f0 = db.flight(ids[0]).await.unwrap();
        let mut fact = FlightFact {
            flight_id: ids[0],
            farm_id: farm.id,
            flown_at: f0.started_at.unwrap(),
            area_m2: f0.sprayed_area_m2.unwrap(),
            litres: f0.litres.unwrap(),
            pesticide_name: Some("スタークル粒剤".into()),
            pesticide_reg_no: Some(" 第21406号 ".into()),
        };
        for _ in 0..2 {
            db.upsert_flight_fact(&fact).await.unwrap();
        }
        let rows = db.pesticide_months(from, to).await.unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let named = rows.iter().find(|r| r.pesticide_name.is_some()).unwrap();
        assert_eq!(
            (named.flights, named.pesticide_reg_no.as_deref()),
            (1, Some("第21406号"))
        );
        assert!(close(named.litres, f0.litres.unwrap()));
        let total: f64 = rows.iter().map(|r| r.litres).sum();
        assert!(close(total, want.litres));
        // A corrected volume replaces the old one; moving back to "not recorded" empties the key.
        fact.litres = 5.0;
        db.upsert_flight_fact(&fact).await.unwrap();
        let named = db.pesticide_months(from, to).await.unwrap();
        assert!(close(
            named.iter().map(|r| r.litres).sum::<f64>(),
            want.litres - f0.litres.unwrap() + 5.0
        ));
        fact.pesticide_name = Some("  ".into());
        fact.pesticide_reg_no = None;
        db.upsert_flight_fact(&fact).await.unwrap();
        let rows = db.pesticide_months(from, to).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].flights, 3);
        let fm = db.farm_months(from, to).await.unwrap();
        assert_eq!((fm.len(), fm[0].flights), (1, 3));

        fact.litres = f64::NAN;
        assert!(matches!(
            db.upsert_flight_fact(&fact).await,
            Err(StorageError::Conflict { .. })
        ));
        fact.litres = 1.0;
        fact.flight_id = ids[2] + 100;
        assert!(matches!(
            db.upsert_flight_fact(&fact).await,
            Err(StorageError::Conflict { .. })
        ));

        // A flight without a fact (recorded before facts existed) gets one from a rebuild.
        let samples = [crate::storage::SampleRow {
            t: start,
            lat: 36.97,
            lon: 139.98,
            alt_m: 2.0,
            spray: true,
            battery_pct: None,
        }];
        db.create_flight(&crate::storage::NewFlight {
            farm_id: farm.id,
            field_id: None,
            plan_id: None,
            status: "completed",
            sprayed_area_m2: Some(800.0),
            litres: Some(0.64),
            summary_json: "{}",
            samples: &samples,
            tlog: None,
        })
        .await
        .unwrap();
        let stages = std::sync::Mutex::new(Vec::new());
        let stats = db
            .rebuild_rollups_reporting(|s| stages.lock().unwrap().push(s))
            .await
            .unwrap();
        assert_eq!(stats.facts_added, 1);
        let stages = stages.into_inner().unwrap();
        assert_eq!(stages.len(), 6, "{stages:?}");
        assert_eq!(stages.last(), Some(&"committing"));
        let fm = db.farm_months(from, to).await.unwrap();
        assert_eq!(fm[0].flights, 4);
        assert!(close(fm[0].area_m2, want.area_m2 + 800.0));
    });
}
