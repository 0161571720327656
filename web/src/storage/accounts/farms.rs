//! Districts and farms.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::storage::{Db, On, StorageError, Tx, on_exec, on_pool};

/// A district of Nasushiobara (黒磯, 西那須野, 塩原 …).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct District {
    /// Row id.
    pub id: i64,
    /// Stable ASCII code (`kuroiso`).
    pub code: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
}

/// A farm (crop, dairy or both) in a district.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Farm {
    /// Row id.
    pub id: i64,
    /// The district it belongs to.
    pub district_id: i64,
    /// Farm name, unique within its district.
    pub name: String,
    /// `crop`, `dairy` or `mixed`.
    pub kind: String,
    /// Postal address, free text.
    pub address: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// One district's figures for the staff overview.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DistrictOverview {
    /// District id.
    pub id: i64,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Farms registered.
    pub farms: i64,
    /// Fields registered.
    pub fields: i64,
    /// Their area, hectares.
    pub field_ha: f64,
    /// Spray plans made.
    pub plans: i64,
    /// Rotary parlors reporting.
    pub parlors: i64,
    /// Cows milked in the day bucket asked for.
    pub cows_day: f64,
    /// Milk in that day, kg.
    pub milk_kg_day: f64,
}

impl Db {
    /// Every district, in id order.
    ///
    /// # Errors
    /// The database failed.
    pub async fn districts(&self) -> Result<Vec<District>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, District>(
            "SELECT id, code, name_ja, name_en FROM districts ORDER BY id")
            .fetch_all(pool).await?))
    }

    /// Per-district counts and the milking totals of the day starting at `day_start`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn district_overview(
        &self,
        day_start: DateTime<Utc>,
    ) -> Result<Vec<DistrictOverview>, StorageError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, DistrictOverview>(
            "SELECT d.id, d.name_ja, d.name_en, \
               (SELECT COUNT(*) FROM farms f WHERE f.district_id = d.id) AS farms, \
               (SELECT COUNT(*) FROM fields fl JOIN farms f ON f.id = fl.farm_id \
                  WHERE f.district_id = d.id) AS fields, \
               (SELECT COALESCE(SUM(fl.area_ha), 0.0) FROM fields fl JOIN farms f ON f.id = fl.farm_id \
                  WHERE f.district_id = d.id) AS field_ha, \
               (SELECT COUNT(*) FROM plans pl JOIN fields fl ON fl.id = pl.field_id \
                  JOIN farms f ON f.id = fl.farm_id WHERE f.district_id = d.id) AS plans, \
               (SELECT COUNT(*) FROM parlors p JOIN farms f ON f.id = p.farm_id \
                  WHERE f.district_id = d.id) AS parlors, \
               (SELECT COALESCE(SUM(r.cows), 0.0) FROM parlor_rollups r \
                  JOIN parlors p ON p.id = r.parlor_id JOIN farms f ON f.id = p.farm_id \
                  WHERE f.district_id = d.id AND r.granularity = 'day' AND r.bucket_start = $1) AS cows_day, \
               (SELECT COALESCE(SUM(r.milk_kg), 0.0) FROM parlor_rollups r \
                  JOIN parlors p ON p.id = r.parlor_id JOIN farms f ON f.id = p.farm_id \
                  WHERE f.district_id = d.id AND r.granularity = 'day' AND r.bucket_start = $1) AS milk_kg_day \
             FROM districts d ORDER BY d.id")
            .bind(day_start).fetch_all(pool).await?),
        )
    }

    /// Every farm, by district then name.
    ///
    /// # Errors
    /// The database failed.
    pub async fn farms(&self) -> Result<Vec<Farm>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Farm>(
            "SELECT id, district_id, name, kind, address, created_at FROM farms \
             ORDER BY district_id, name")
            .fetch_all(pool).await?))
    }
}

impl On<'_> {
    /// Registers a farm and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a duplicate name in the district or an unknown district.
    async fn create_farm(
        self,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        let now = Utc::now();
        on_exec!(self, pool => sqlx::query_as::<_, Farm>(
            "INSERT INTO farms (district_id, name, kind, address, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, district_id, name, kind, address, created_at")
            .bind(district_id).bind(name).bind(kind).bind(address).bind(now)
            .fetch_one(pool).await)
        .map_err(|e| StorageError::conflict("farm", e))
    }

    /// One farm by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such farm.
    async fn farm(self, id: i64) -> Result<Farm, StorageError> {
        on_exec!(self, pool => sqlx::query_as::<_, Farm>(
            "SELECT id, district_id, name, kind, address, created_at FROM farms WHERE id = $1")
            .bind(id).fetch_optional(pool).await?)
        .ok_or(StorageError::NotFound { what: "farm" })
    }

    /// Changes a farm's district, name, kind and address and returns it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown farm; [`StorageError::Conflict`] for a
    /// duplicate name in the district, an unknown district or a bad kind.
    async fn update_farm(
        self,
        id: i64,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        on_exec!(self, pool => sqlx::query_as::<_, Farm>(
            "UPDATE farms SET district_id = $1, name = $2, kind = $3, address = $4 WHERE id = $5 \
             RETURNING id, district_id, name, kind, address, created_at")
            .bind(district_id).bind(name).bind(kind).bind(address).bind(id)
            .fetch_optional(pool).await)
        .map_err(|e| StorageError::conflict("farm", e))?
        .ok_or(StorageError::NotFound { what: "farm" })
    }
}

impl Db {
    /// Registers a farm and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a duplicate name in the district or an unknown district.
    pub async fn create_farm(
        &self,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        self.on()
            .create_farm(district_id, name, kind, address)
            .await
    }

    /// One farm by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such farm.
    pub async fn farm(&self, id: i64) -> Result<Farm, StorageError> {
        self.on().farm(id).await
    }

    /// Changes a farm's district, name, kind and address and returns it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown farm; [`StorageError::Conflict`] for a
    /// duplicate name in the district, an unknown district or a bad kind.
    pub async fn update_farm(
        &self,
        id: i64,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        self.on()
            .update_farm(id, district_id, name, kind, address)
            .await
    }
}

impl Tx {
    /// Registers a farm and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a duplicate name in the district or an unknown district.
    pub async fn create_farm(
        &mut self,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        self.on()
            .create_farm(district_id, name, kind, address)
            .await
    }

    /// One farm by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such farm.
    pub async fn farm(&mut self, id: i64) -> Result<Farm, StorageError> {
        self.on().farm(id).await
    }

    /// Changes a farm's district, name, kind and address and returns it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown farm; [`StorageError::Conflict`] for a
    /// duplicate name in the district, an unknown district or a bad kind.
    pub async fn update_farm(
        &mut self,
        id: i64,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        self.on()
            .update_farm(id, district_id, name, kind, address)
            .await
    }
}
