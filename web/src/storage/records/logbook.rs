//! Flight logbook entries (飛行日誌), versioned per flight.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{LOGBOOK, newest_unsigned, touched};
use crate::storage::{Db, On, StorageError, Tx, on_exec};

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

impl Db {
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
