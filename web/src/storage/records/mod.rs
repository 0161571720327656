//! Spray records (農薬使用記録), flight logbook entries (飛行日誌) and each farm's pesticide
//! catalogue.
//!
//! Records and logbook entries are kept as versions per flight: only the newest version may be
//! changed, and only until it is signed. A change after signing is an amendment: a new version
//! copied from the signed one, which stays as it was. The versioning both share is here;
//! `spray.rs` holds the spray records and the pesticide catalogue, `logbook.rs` the logbook.

pub use logbook::{LogbookEntry, LogbookFields};
pub use spray::{Pesticide, RecordFields, SprayRecord};

use chrono::Utc;

use super::{Db, On, StorageError, on_exec, on_pool};

macro_rules! record_cols {
    () => {
        "sprayed_on, place, fude_polygon_id, address, crop, pesticide_name, pesticide_reg_no, \
         dilution, l_per_10a, litres, area_m2, operator, notes"
    };
}

macro_rules! logbook_cols {
    () => {
        "flown_on, pilot, drone_reg_no, takeoff_at, takeoff_lat, takeoff_lon, takeoff_place, \
         landing_at, landing_lat, landing_lon, landing_place, flight_s, purpose, events_json, notes"
    };
}

/// A table of per-flight documents kept as versions that signing freezes.
struct Versioned {
    /// The table.
    table: &'static str,
    /// Its written columns (after the version bookkeeping ones).
    cols: &'static str,
    /// The column holding the document's `YYYY-MM-DD` date.
    date_col: &'static str,
    /// What a conflict names.
    what: &'static str,
}

/// 農薬使用記録, one row per version.
const SPRAY: Versioned = Versioned {
    table: "spray_records",
    cols: record_cols!(),
    date_col: "sprayed_on",
    what: "spray record",
};

/// 飛行日誌 entries, one row per version.
const LOGBOOK: Versioned = Versioned {
    table: "flight_logbooks",
    cols: logbook_cols!(),
    date_col: "flown_on",
    what: "logbook entry",
};

/// The condition that only the newest, unsigned version (`$1` flight, `$2` version) of `table`
/// matches.
fn newest_unsigned(table: &str) -> String {
    format!(
        "flight_id = $1 AND version = $2 AND signed_at IS NULL AND version = \
         (SELECT MAX(version) FROM {table} s WHERE s.flight_id = $1)"
    )
}

/// A row type the versioned queries can read on both backends.
trait VersionRow:
    for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
    + Send
    + Unpin
{
}

impl VersionRow for SprayRecord {}

impl VersionRow for LogbookEntry {}

/// Inclusive date bounds for the lists (`YYYY-MM-DD`; none = unbounded).
fn bounds<'a>(from: Option<&'a str>, to: Option<&'a str>) -> (&'a str, &'a str) {
    (from.unwrap_or("0000-00-00"), to.unwrap_or("9999-99-99"))
}

/// Fails with a conflict naming `what` when an update touched nothing.
fn touched(rows: u64, what: &'static str) -> Result<(), StorageError> {
    if rows == 0 {
        Err(StorageError::Conflict {
            what,
            constraint: "signed or superseded".into(),
        })
    } else {
        Ok(())
    }
}

impl Db {
    /// The newest version of each of a farm's documents in `v` dated between `from` and `to`
    /// (inclusive `YYYY-MM-DD`), by date.
    async fn newest_of_farm<T: VersionRow>(
        &self,
        v: &Versioned,
        farm_id: i64,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<T>, StorageError> {
        let (from, to) = bounds(from, to);
        let sql = format!(
            "SELECT id, flight_id, version, farm_id, signed_at, signed_by, created_at, {c} \
             FROM {t} r WHERE farm_id = $1 AND {d} >= $2 AND {d} <= $3 \
             AND version = (SELECT MAX(version) FROM {t} s WHERE s.flight_id = r.flight_id) \
             ORDER BY {d}, flight_id",
            c = v.cols,
            t = v.table,
            d = v.date_col
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql))
            .bind(farm_id).bind(from).bind(to).fetch_all(pool).await?),
        )
    }
}

impl On<'_> {
    /// Every version of a flight's document in `v`, oldest first.
    async fn versions<T: VersionRow>(
        self,
        v: &Versioned,
        flight_id: i64,
    ) -> Result<Vec<T>, StorageError> {
        let sql = format!(
            "SELECT id, flight_id, version, farm_id, signed_at, signed_by, created_at, {} \
             FROM {} WHERE flight_id = $1 ORDER BY version",
            v.cols, v.table
        );
        Ok(
            on_exec!(self, pool => sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql))
            .bind(flight_id).fetch_all(pool).await?),
        )
    }

    /// Signs the newest, unsigned version of a flight's document in `v`.
    async fn sign_version(
        self,
        v: &Versioned,
        flight_id: i64,
        version: i64,
        by: &str,
    ) -> Result<(), StorageError> {
        let sql = format!(
            "UPDATE {} SET signed_at = $3, signed_by = $4 WHERE {}",
            v.table,
            newest_unsigned(v.table)
        );
        let n = on_exec!(self, pool => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(flight_id).bind(version).bind(Utc::now()).bind(by)
            .execute(pool).await?.rows_affected());
        touched(n, v.what)
    }

    /// Copies the signed newest version of a flight's document in `v` into a new unsigned
    /// version; returns its number.
    async fn amend_version(self, v: &Versioned, flight_id: i64) -> Result<i64, StorageError> {
        let sql = format!(
            "INSERT INTO {t} (flight_id, version, farm_id, created_at, {c}) \
             SELECT flight_id, version + 1, farm_id, $2, {c} FROM {t} \
             WHERE flight_id = $1 AND signed_at IS NOT NULL \
             AND version = (SELECT MAX(version) FROM {t} s WHERE s.flight_id = $1) \
             RETURNING version",
            t = v.table,
            c = v.cols
        );
        on_exec!(self, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .bind(flight_id).bind(Utc::now())
            .fetch_optional(pool).await
            .map_err(|e| StorageError::conflict(v.what, e))?)
        .ok_or(StorageError::Conflict {
            what: v.what,
            constraint: "only a signed version is amended".into(),
        })
    }
}

// Declared after the column macros above, which both files use.
mod logbook;
mod spray;

#[cfg(test)]
mod tests;
