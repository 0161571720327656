//! Spray records (農薬使用記録), versioned per flight, and each farm's pesticide catalogue.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{SPRAY, newest_unsigned, touched};
use crate::storage::{Db, On, StorageError, Tx, on_exec, on_pool};

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

impl Db {
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
}

impl On<'_> {
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
}

impl Db {
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
}

impl Tx {
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
}
