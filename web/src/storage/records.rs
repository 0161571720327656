//! Spray records (農薬使用記録), flight logbook entries (飛行日誌) and each farm's pesticide
//! catalogue.
//!
//! Records and logbook entries are kept as versions per flight: only the newest version may be
//! changed, and only until it is signed. A change after signing is an amendment: a new version
//! copied from the signed one, which stays as it was.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, On, StorageError, Tx, on_exec, on_pool};

/// A pesticide of a farm's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Pesticide {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// Product name.
    pub name: String,
    /// MAFF registration number (農林水産省登録第N号), the N.
    pub reg_no: String,
    /// Default dilution, times (倍).
    pub dilution: Option<f64>,
    /// Default amount of diluted liquid, litres per 10 a.
    pub l_per_10a: Option<f64>,
}

/// What a person writes on a spray record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, sqlx::FromRow)]
pub struct RecordFields {
    /// Date sprayed, `YYYY-MM-DD` (JST).
    pub sprayed_on: String,
    /// Place: the field's name.
    pub place: String,
    /// MAFF fude polygon id of the field.
    pub fude_polygon_id: String,
    /// Address.
    pub address: String,
    /// Crop.
    pub crop: String,
    /// Pesticide product name.
    pub pesticide_name: String,
    /// Its registration number.
    pub pesticide_reg_no: String,
    /// Dilution, times (倍).
    pub dilution: Option<f64>,
    /// Diluted liquid per area, litres per 10 a.
    pub l_per_10a: Option<f64>,
    /// Diluted liquid used in total, litres.
    pub litres: Option<f64>,
    /// Area sprayed, m².
    pub area_m2: Option<f64>,
    /// Who sprayed.
    pub operator: String,
    /// Free notes.
    pub notes: String,
}

/// One version of a flight's spray record.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct SprayRecord {
    /// Row id.
    pub id: i64,
    /// The flight.
    pub flight_id: i64,
    /// 1 for the first draft, +1 per amendment.
    pub version: i64,
    /// The farm.
    pub farm_id: i64,
    /// The written items.
    #[sqlx(flatten)]
    pub fields: RecordFields,
    /// When it was signed off (then it never changes).
    pub signed_at: Option<DateTime<Utc>>,
    /// Who signed it (display name).
    pub signed_by: Option<String>,
    /// When this version was made.
    pub created_at: DateTime<Utc>,
}

/// What a logbook entry holds besides its signature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, sqlx::FromRow)]
pub struct LogbookFields {
    /// Date flown, `YYYY-MM-DD` (JST).
    pub flown_on: String,
    /// Pilot.
    pub pilot: String,
    /// Drone registration number (登録記号).
    pub drone_reg_no: String,
    /// Takeoff time.
    pub takeoff_at: Option<DateTime<Utc>>,
    /// Takeoff latitude.
    pub takeoff_lat: Option<f64>,
    /// Takeoff longitude.
    pub takeoff_lon: Option<f64>,
    /// Takeoff place in words (field, address).
    pub takeoff_place: String,
    /// Landing time.
    pub landing_at: Option<DateTime<Utc>>,
    /// Landing latitude.
    pub landing_lat: Option<f64>,
    /// Landing longitude.
    pub landing_lon: Option<f64>,
    /// Landing place in words.
    pub landing_place: String,
    /// Flight time, seconds.
    pub flight_s: Option<f64>,
    /// Purpose of the flight.
    pub purpose: String,
    /// Anomalies and failsafes derived from the `.tlog`, as JSON (`telemetry::LogbookDraft`).
    pub events_json: String,
    /// Free notes.
    pub notes: String,
}

/// One version of a flight's logbook entry.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct LogbookEntry {
    /// Row id.
    pub id: i64,
    /// The flight.
    pub flight_id: i64,
    /// 1 for the draft, +1 per amendment.
    pub version: i64,
    /// The farm.
    pub farm_id: i64,
    /// The items.
    #[sqlx(flatten)]
    pub fields: LogbookFields,
    /// When it was signed off.
    pub signed_at: Option<DateTime<Utc>>,
    /// Who signed it.
    pub signed_by: Option<String>,
    /// When this version was made.
    pub created_at: DateTime<Utc>,
}

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

    /// Adds a pesticide to a farm's catalogue; returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a name the farm already has, an empty name or a
    /// non-positive default.
    pub async fn create_pesticide(
        &self,
        farm_id: i64,
        name: &str,
        reg_no: &str,
        dilution: Option<f64>,
        l_per_10a: Option<f64>,
    ) -> Result<i64, StorageError> {
        on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO pesticides (farm_id, name, reg_no, dilution, l_per_10a, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(farm_id).bind(name).bind(reg_no).bind(dilution).bind(l_per_10a).bind(Utc::now())
            .fetch_one(pool).await
            .map_err(|e| StorageError::conflict("pesticide", e)))
    }

    /// A farm's pesticide catalogue, by name.
    ///
    /// # Errors
    /// The database failed.
    pub async fn pesticides(&self, farm_id: i64) -> Result<Vec<Pesticide>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Pesticide>(
            "SELECT id, farm_id, name, reg_no, dilution, l_per_10a FROM pesticides \
             WHERE farm_id = $1 ORDER BY name")
            .bind(farm_id).fetch_all(pool).await?))
    }

    /// The newest version of each spray record of a farm sprayed between `from` and `to`
    /// (inclusive `YYYY-MM-DD`), by date.
    ///
    /// # Errors
    /// The database failed.
    pub async fn spray_records_of_farm(
        &self,
        farm_id: i64,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<SprayRecord>, StorageError> {
        self.newest_of_farm(&SPRAY, farm_id, from, to).await
    }

    /// The newest version of each logbook entry of a farm flown between `from` and `to`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn logbooks_of_farm(
        &self,
        farm_id: i64,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<LogbookEntry>, StorageError> {
        self.newest_of_farm(&LOGBOOK, farm_id, from, to).await
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

    /// The registration number of the drone that flew a flight, when the flight names one.
    ///
    /// # Errors
    /// The database failed.
    async fn vehicle_registration_of_flight(
        self,
        flight_id: i64,
    ) -> Result<Option<String>, StorageError> {
        Ok(on_exec!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT v.registration_no FROM flights f JOIN vehicles v ON v.id = f.vehicle_id \
             WHERE f.id = $1")
            .bind(flight_id).fetch_optional(pool).await?))
    }

    /// Stores the first draft of a flight's spray record unless it has one; true if stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown flight or farm.
    async fn create_spray_record(
        self,
        flight_id: i64,
        farm_id: i64,
        r: &RecordFields,
    ) -> Result<bool, StorageError> {
        let n = on_exec!(self, pool => sqlx::query(concat!(
            "INSERT INTO spray_records (flight_id, version, farm_id, created_at, ", record_cols!(), ") \
             VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (flight_id, version) DO NOTHING"))
            .bind(flight_id).bind(farm_id).bind(Utc::now())
            .bind(&r.sprayed_on).bind(&r.place).bind(&r.fude_polygon_id).bind(&r.address)
            .bind(&r.crop).bind(&r.pesticide_name).bind(&r.pesticide_reg_no).bind(r.dilution)
            .bind(r.l_per_10a).bind(r.litres).bind(r.area_m2).bind(&r.operator).bind(&r.notes)
            .execute(pool).await
            .map_err(|e| StorageError::conflict("spray record", e))?.rows_affected());
        Ok(n == 1)
    }

    /// Every version of a flight's spray record, oldest first.
    ///
    /// # Errors
    /// The database failed.
    async fn spray_record_versions(self, flight_id: i64) -> Result<Vec<SprayRecord>, StorageError> {
        self.versions(&SPRAY, flight_id).await
    }

    /// Changes the newest version of a flight's spray record while it is unsigned.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is signed or not the newest.
    async fn update_spray_record(
        self,
        flight_id: i64,
        version: i64,
        r: &RecordFields,
    ) -> Result<(), StorageError> {
        let n = on_exec!(self, pool => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE spray_records SET sprayed_on = $3, place = $4, fude_polygon_id = $5, \
             address = $6, crop = $7, pesticide_name = $8, pesticide_reg_no = $9, dilution = $10, \
             l_per_10a = $11, litres = $12, area_m2 = $13, operator = $14, notes = $15 \
             WHERE {}", newest_unsigned("spray_records"))))
            .bind(flight_id).bind(version)
            .bind(&r.sprayed_on).bind(&r.place).bind(&r.fude_polygon_id).bind(&r.address)
            .bind(&r.crop).bind(&r.pesticide_name).bind(&r.pesticide_reg_no).bind(r.dilution)
            .bind(r.l_per_10a).bind(r.litres).bind(r.area_m2).bind(&r.operator).bind(&r.notes)
            .execute(pool).await
            .map_err(|e| StorageError::conflict("spray record", e))?.rows_affected());
        touched(n, "spray record")
    }

    /// Signs the newest, unsigned version of a flight's spray record.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is already signed or not the newest.
    async fn sign_spray_record(
        self,
        flight_id: i64,
        version: i64,
        by: &str,
    ) -> Result<(), StorageError> {
        self.sign_version(&SPRAY, flight_id, version, by).await
    }

    /// Starts an amendment: a new unsigned version copied from the signed newest one; returns
    /// its version number.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when the newest version is not signed (edit it instead).
    async fn amend_spray_record(self, flight_id: i64) -> Result<i64, StorageError> {
        self.amend_version(&SPRAY, flight_id).await
    }

    /// Stores the first draft of a flight's logbook entry unless it has one; true if stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown flight or farm.
    async fn create_logbook(
        self,
        flight_id: i64,
        farm_id: i64,
        l: &LogbookFields,
    ) -> Result<bool, StorageError> {
        let n = on_exec!(self, pool => sqlx::query(concat!(
            "INSERT INTO flight_logbooks (flight_id, version, farm_id, created_at, ", logbook_cols!(), ") \
             VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (flight_id, version) DO NOTHING"))
            .bind(flight_id).bind(farm_id).bind(Utc::now())
            .bind(&l.flown_on).bind(&l.pilot).bind(&l.drone_reg_no).bind(l.takeoff_at)
            .bind(l.takeoff_lat).bind(l.takeoff_lon).bind(&l.takeoff_place).bind(l.landing_at)
            .bind(l.landing_lat).bind(l.landing_lon).bind(&l.landing_place).bind(l.flight_s)
            .bind(&l.purpose).bind(&l.events_json).bind(&l.notes)
            .execute(pool).await
            .map_err(|e| StorageError::conflict("logbook entry", e))?.rows_affected());
        Ok(n == 1)
    }

    /// Every version of a flight's logbook entry, oldest first.
    ///
    /// # Errors
    /// The database failed.
    async fn logbook_versions(self, flight_id: i64) -> Result<Vec<LogbookEntry>, StorageError> {
        self.versions(&LOGBOOK, flight_id).await
    }

    /// Changes what a person may write on the newest, unsigned logbook version.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is signed or not the newest.
    async fn update_logbook(
        self,
        flight_id: i64,
        version: i64,
        l: &LogbookFields,
    ) -> Result<(), StorageError> {
        let n = on_exec!(self, pool => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE flight_logbooks SET pilot = $3, drone_reg_no = $4, takeoff_place = $5, \
             landing_place = $6, purpose = $7, notes = $8 \
             WHERE {}", newest_unsigned("flight_logbooks"))))
            .bind(flight_id).bind(version).bind(&l.pilot).bind(&l.drone_reg_no)
            .bind(&l.takeoff_place).bind(&l.landing_place).bind(&l.purpose).bind(&l.notes)
            .execute(pool).await?.rows_affected());
        touched(n, "logbook entry")
    }

    /// Signs the newest, unsigned logbook version.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is already signed or not the newest.
    async fn sign_logbook(
        self,
        flight_id: i64,
        version: i64,
        by: &str,
    ) -> Result<(), StorageError> {
        self.sign_version(&LOGBOOK, flight_id, version, by).await
    }

    /// Starts a logbook amendment from the signed newest version; returns its version number.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when the newest version is not signed.
    async fn amend_logbook(self, flight_id: i64) -> Result<i64, StorageError> {
        self.amend_version(&LOGBOOK, flight_id).await
    }
}

impl Db {
    /// The registration number of the drone that flew a flight, when the flight names one.
    ///
    /// # Errors
    /// The database failed.
    pub async fn vehicle_registration_of_flight(
        &self,
        flight_id: i64,
    ) -> Result<Option<String>, StorageError> {
        self.on().vehicle_registration_of_flight(flight_id).await
    }

    /// Stores the first draft of a flight's spray record unless it has one; true if stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown flight or farm.
    pub async fn create_spray_record(
        &self,
        flight_id: i64,
        farm_id: i64,
        r: &RecordFields,
    ) -> Result<bool, StorageError> {
        self.on().create_spray_record(flight_id, farm_id, r).await
    }

    /// Every version of a flight's spray record, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn spray_record_versions(
        &self,
        flight_id: i64,
    ) -> Result<Vec<SprayRecord>, StorageError> {
        self.on().spray_record_versions(flight_id).await
    }

    /// Changes the newest version of a flight's spray record while it is unsigned.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is signed or not the newest.
    pub async fn update_spray_record(
        &self,
        flight_id: i64,
        version: i64,
        r: &RecordFields,
    ) -> Result<(), StorageError> {
        self.on().update_spray_record(flight_id, version, r).await
    }

    /// Signs the newest, unsigned version of a flight's spray record.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is already signed or not the newest.
    pub async fn sign_spray_record(
        &self,
        flight_id: i64,
        version: i64,
        by: &str,
    ) -> Result<(), StorageError> {
        self.on().sign_spray_record(flight_id, version, by).await
    }

    /// Starts an amendment: a new unsigned version copied from the signed newest one; returns
    /// its version number.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when the newest version is not signed (edit it instead).
    pub async fn amend_spray_record(&self, flight_id: i64) -> Result<i64, StorageError> {
        self.on().amend_spray_record(flight_id).await
    }

    /// Stores the first draft of a flight's logbook entry unless it has one; true if stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown flight or farm.
    pub async fn create_logbook(
        &self,
        flight_id: i64,
        farm_id: i64,
        l: &LogbookFields,
    ) -> Result<bool, StorageError> {
        self.on().create_logbook(flight_id, farm_id, l).await
    }

    /// Every version of a flight's logbook entry, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn logbook_versions(
        &self,
        flight_id: i64,
    ) -> Result<Vec<LogbookEntry>, StorageError> {
        self.on().logbook_versions(flight_id).await
    }

    /// Changes what a person may write on the newest, unsigned logbook version.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is signed or not the newest.
    pub async fn update_logbook(
        &self,
        flight_id: i64,
        version: i64,
        l: &LogbookFields,
    ) -> Result<(), StorageError> {
        self.on().update_logbook(flight_id, version, l).await
    }

    /// Signs the newest, unsigned logbook version.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is already signed or not the newest.
    pub async fn sign_logbook(
        &self,
        flight_id: i64,
        version: i64,
        by: &str,
    ) -> Result<(), StorageError> {
        self.on().sign_logbook(flight_id, version, by).await
    }

    /// Starts a logbook amendment from the signed newest version; returns its version number.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when the newest version is not signed.
    pub async fn amend_logbook(&self, flight_id: i64) -> Result<i64, StorageError> {
        self.on().amend_logbook(flight_id).await
    }
}

impl Tx {
    /// The registration number of the drone that flew a flight, when the flight names one.
    ///
    /// # Errors
    /// The database failed.
    pub async fn vehicle_registration_of_flight(
        &mut self,
        flight_id: i64,
    ) -> Result<Option<String>, StorageError> {
        self.on().vehicle_registration_of_flight(flight_id).await
    }

    /// Stores the first draft of a flight's spray record unless it has one; true if stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown flight or farm.
    pub async fn create_spray_record(
        &mut self,
        flight_id: i64,
        farm_id: i64,
        r: &RecordFields,
    ) -> Result<bool, StorageError> {
        self.on().create_spray_record(flight_id, farm_id, r).await
    }

    /// Every version of a flight's spray record, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn spray_record_versions(
        &mut self,
        flight_id: i64,
    ) -> Result<Vec<SprayRecord>, StorageError> {
        self.on().spray_record_versions(flight_id).await
    }

    /// Changes the newest version of a flight's spray record while it is unsigned.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is signed or not the newest.
    pub async fn update_spray_record(
        &mut self,
        flight_id: i64,
        version: i64,
        r: &RecordFields,
    ) -> Result<(), StorageError> {
        self.on().update_spray_record(flight_id, version, r).await
    }

    /// Signs the newest, unsigned version of a flight's spray record.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is already signed or not the newest.
    pub async fn sign_spray_record(
        &mut self,
        flight_id: i64,
        version: i64,
        by: &str,
    ) -> Result<(), StorageError> {
        self.on().sign_spray_record(flight_id, version, by).await
    }

    /// Starts an amendment: a new unsigned version copied from the signed newest one; returns
    /// its version number.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when the newest version is not signed (edit it instead).
    pub async fn amend_spray_record(&mut self, flight_id: i64) -> Result<i64, StorageError> {
        self.on().amend_spray_record(flight_id).await
    }

    /// Stores the first draft of a flight's logbook entry unless it has one; true if stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown flight or farm.
    pub async fn create_logbook(
        &mut self,
        flight_id: i64,
        farm_id: i64,
        l: &LogbookFields,
    ) -> Result<bool, StorageError> {
        self.on().create_logbook(flight_id, farm_id, l).await
    }

    /// Every version of a flight's logbook entry, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn logbook_versions(
        &mut self,
        flight_id: i64,
    ) -> Result<Vec<LogbookEntry>, StorageError> {
        self.on().logbook_versions(flight_id).await
    }

    /// Changes what a person may write on the newest, unsigned logbook version.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is signed or not the newest.
    pub async fn update_logbook(
        &mut self,
        flight_id: i64,
        version: i64,
        l: &LogbookFields,
    ) -> Result<(), StorageError> {
        self.on().update_logbook(flight_id, version, l).await
    }

    /// Signs the newest, unsigned logbook version.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when that version is already signed or not the newest.
    pub async fn sign_logbook(
        &mut self,
        flight_id: i64,
        version: i64,
        by: &str,
    ) -> Result<(), StorageError> {
        self.on().sign_logbook(flight_id, version, by).await
    }

    /// Starts a logbook amendment from the signed newest version; returns its version number.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when the newest version is not signed.
    pub async fn amend_logbook(&mut self, flight_id: i64) -> Result<i64, StorageError> {
        self.on().amend_logbook(flight_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::NewFlight;
    use crate::storage::testdb::both_backends;

    async fn flight(db: &Db, farm_id: i64) -> i64 {
        db.create_flight(&NewFlight {
            farm_id,
            field_id: None,
            plan_id: None,
            status: "completed",
            sprayed_area_m2: Some(1000.0),
            litres: Some(0.8),
            summary_json: "{}",
            samples: &[],
            tlog: None,
        })
        .await
        .unwrap()
    }

    both_backends!(records_are_versions_frozen_by_signing, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "f", "crop", "").await.unwrap();
        let f1 = flight(db, farm.id).await;
        let f2 = flight(db, farm.id).await;
        let mut r = RecordFields {
            sprayed_on: "2026-06-10".into(),
            place: "北の田".into(),
            area_m2: Some(1000.0),
            litres: Some(0.8),
            ..RecordFields::default()
        };
        assert!(db.create_spray_record(f1, farm.id, &r).await.unwrap());
        // A second draft for the same flight is ignored.
        assert!(!db.create_spray_record(f1, farm.id, &r).await.unwrap());
        let r2 = RecordFields {
            sprayed_on: "2026-08-01".into(),
            ..r.clone()
        };
        assert!(db.create_spray_record(f2, farm.id, &r2).await.unwrap());

        r.pesticide_name = "スタークル粒剤".into();
        r.pesticide_reg_no = "20887".into();
        db.update_spray_record(f1, 1, &r).await.unwrap();
        db.sign_spray_record(f1, 1, "農家").await.unwrap();
        // Signed: neither an edit nor a second signature goes through.
        let mut late = r.clone();
        late.litres = Some(9.0);
        assert!(matches!(
            db.update_spray_record(f1, 1, &late).await,
            Err(StorageError::Conflict { .. })
        ));
        assert!(db.sign_spray_record(f1, 1, "x").await.is_err());
        // An unsigned record cannot be amended; a signed one can, and keeps the original.
        assert!(db.amend_spray_record(f2).await.is_err());
        assert_eq!(db.amend_spray_record(f1).await.unwrap(), 2);
        db.update_spray_record(f1, 2, &late).await.unwrap();
        let v = db.spray_record_versions(f1).await.unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].fields, r);
        assert_eq!(v[0].signed_by.as_deref(), Some("農家"));
        assert_eq!(v[1].fields.litres, Some(9.0));
        assert!(v[1].signed_at.is_none());
        // The superseded version stays frozen even though it was the signed one.
        assert!(db.update_spray_record(f1, 1, &late).await.is_err());

        // Lists hold the newest version per flight, filtered by date.
        let all = db.spray_records_of_farm(farm.id, None, None).await.unwrap();
        assert_eq!(
            all.iter()
                .map(|x| (x.flight_id, x.version))
                .collect::<Vec<_>>(),
            [(f1, 2), (f2, 1)]
        );
        let june = db
            .spray_records_of_farm(farm.id, Some("2026-06-01"), Some("2026-06-30"))
            .await
            .unwrap();
        assert_eq!(june.len(), 1);
        assert_eq!(june[0].flight_id, f1);

        let p = db
            .create_pesticide(farm.id, "スタークル粒剤", "20887", Some(1000.0), Some(0.8))
            .await
            .unwrap();
        assert!(
            db.create_pesticide(farm.id, "スタークル粒剤", "", None, None)
                .await
                .is_err()
        );
        assert!(
            db.create_pesticide(farm.id, "x", "", Some(-1.0), None)
                .await
                .is_err()
        );
        let cat = db.pesticides(farm.id).await.unwrap();
        assert_eq!(cat.len(), 1);
        assert_eq!((cat[0].id, cat[0].dilution), (p, Some(1000.0)));
    });

    both_backends!(logbooks_are_versions_frozen_by_signing, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "f", "crop", "").await.unwrap();
        let f1 = flight(db, farm.id).await;
        let t0 = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let mut l = LogbookFields {
            flown_on: "2026-06-10".into(),
            takeoff_at: Some(t0),
            takeoff_lat: Some(36.97),
            takeoff_lon: Some(139.98),
            landing_at: Some(t0 + chrono::Duration::seconds(300)),
            flight_s: Some(300.0),
            events_json: "{\"failsafes\":[]}".into(),
            ..LogbookFields::default()
        };
        assert!(db.create_logbook(f1, farm.id, &l).await.unwrap());
        l.pilot = "山田".into();
        l.notes = "異常なし".into();
        db.update_logbook(f1, 1, &l).await.unwrap();
        db.sign_logbook(f1, 1, "山田").await.unwrap();
        assert!(db.update_logbook(f1, 1, &l).await.is_err());
        assert_eq!(db.amend_logbook(f1).await.unwrap(), 2);
        let v = db.logbook_versions(f1).await.unwrap();
        assert_eq!(v[0].fields, l);
        assert_eq!(v[1].fields, l);
        assert!(v[1].signed_at.is_none());
        let list = db
            .logbooks_of_farm(farm.id, Some("2026-06-10"), Some("2026-06-10"))
            .await
            .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].version, 2);
        assert!(
            db.logbooks_of_farm(farm.id, Some("2026-06-11"), None)
                .await
                .unwrap()
                .is_empty()
        );
    });
}
