//! Fields (boundaries with their zones) and the plans made for them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, On, StorageError, Tx, on_exec, on_pool};

/// A stored field.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FieldRow {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// Name shown to the farmer.
    pub name: String,
    /// Crop (free text: 水稲, 牧草 …).
    pub crop: String,
    /// MAFF fude polygon id, when imported from fude polygons.
    pub fude_polygon_id: Option<String>,
    /// MAFF land type (田, 畑 …), when known.
    pub land_type: Option<String>,
    /// The field's address as the farmer gives it (empty: not given).
    pub address: String,
    /// The 地番 (land-register lot number) as the farmer gives it (empty: not given).
    pub chiban: String,
    /// A GeoJSON FeatureCollection: the field and its exclusion/sensitive zones (WGS84).
    pub geojson: String,
    /// Area, hectares.
    pub area_ha: f64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// What is needed to store a field.
#[derive(Debug, Clone)]
pub struct NewField<'a> {
    /// The farm.
    pub farm_id: i64,
    /// Name.
    pub name: &'a str,
    /// Crop.
    pub crop: &'a str,
    /// Fude polygon id.
    pub fude_polygon_id: Option<&'a str>,
    /// Land type.
    pub land_type: Option<&'a str>,
    /// FeatureCollection text.
    pub geojson: &'a str,
    /// Area, hectares.
    pub area_ha: f64,
}

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PlanRow {
    /// Row id.
    pub id: i64,
    /// The field planned.
    pub field_id: i64,
    /// The planner options as JSON.
    pub config_json: String,
    /// The planner's report as JSON.
    pub report_json: String,
    /// The QGroundControl `.plan` (every sortie).
    pub plan_file: String,
    /// The plan as GeoJSON (field, sprayable area, path by sortie and spray state).
    pub geojson: String,
    /// Mission Planner `QGC WPL 110` waypoints (every sortie).
    pub waypoints_file: String,
    /// KML for Google Earth.
    pub kml_file: String,
    /// `ardupilot` or `px4`: how the sprayer is switched in the mission files.
    pub autopilot: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// What is needed to store a plan.
#[derive(Debug, Clone)]
pub struct NewPlan<'a> {
    /// The field planned.
    pub field_id: i64,
    /// Planner options as JSON.
    pub config_json: &'a str,
    /// Planner report as JSON.
    pub report_json: &'a str,
    /// QGC `.plan`.
    pub plan_file: &'a str,
    /// GeoJSON.
    pub geojson: &'a str,
    /// `QGC WPL 110`.
    pub waypoints_file: &'a str,
    /// KML.
    pub kml_file: &'a str,
    /// `ardupilot` or `px4`.
    pub autopilot: &'a str,
}

/// The columns of [`PlanRow`], as a literal for `concat!`.
macro_rules! plan_cols {
    () => {
        "id, field_id, config_json, report_json, plan_file, geojson, waypoints_file, kml_file, autopilot, created_at"
    };
}

impl Db {
    /// One field by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such field.
    pub async fn field(&self, id: i64) -> Result<FieldRow, StorageError> {
        on_pool!(self, pool => sqlx::query_as::<_, FieldRow>(
            "SELECT id, farm_id, name, crop, fude_polygon_id, land_type, address, chiban, geojson, area_ha, created_at \
             FROM fields WHERE id = $1")
            .bind(id).fetch_optional(pool).await?)
        .ok_or(StorageError::NotFound { what: "field" })
    }

    /// The fields of a farm (`None`: every farm's), by name.
    ///
    /// # Errors
    /// The database failed.
    pub async fn fields(&self, farm_id: Option<i64>) -> Result<Vec<FieldRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, FieldRow>(
            "SELECT id, farm_id, name, crop, fude_polygon_id, land_type, address, chiban, geojson, area_ha, created_at \
             FROM fields WHERE ($1 IS NULL OR farm_id = $1) ORDER BY farm_id, name, id")
            .bind(farm_id).fetch_all(pool).await?))
    }

    /// Stores a plan and returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown field.
    pub async fn create_plan(&self, p: &NewPlan<'_>) -> Result<i64, StorageError> {
        self.on().create_plan(p).await
    }

    /// One plan by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such plan.
    pub async fn plan(&self, id: i64) -> Result<PlanRow, StorageError> {
        on_pool!(self, pool => sqlx::query_as::<_, PlanRow>(concat!(
            "SELECT ", plan_cols!(), " FROM plans WHERE id = $1"))
            .bind(id).fetch_optional(pool).await?)
        .ok_or(StorageError::NotFound { what: "plan" })
    }

    /// The plans of a field, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn plans_of_field(&self, field_id: i64) -> Result<Vec<PlanRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PlanRow>(concat!(
            "SELECT ", plan_cols!(), " FROM plans WHERE field_id = $1 ORDER BY created_at DESC, id DESC"))
            .bind(field_id).fetch_all(pool).await?))
    }
}

impl On<'_> {
    /// Stores a plan and returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown field.
    async fn create_plan(self, p: &NewPlan<'_>) -> Result<i64, StorageError> {
        let now = Utc::now();
        on_exec!(self, pool => sqlx::query_scalar::<_, i64>(
            "INSERT INTO plans (field_id, config_json, report_json, plan_file, geojson, \
             waypoints_file, kml_file, autopilot, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
            .bind(p.field_id).bind(p.config_json).bind(p.report_json).bind(p.plan_file)
            .bind(p.geojson).bind(p.waypoints_file).bind(p.kml_file).bind(p.autopilot).bind(now)
            .fetch_one(pool).await)
        .map_err(|e| StorageError::conflict("plan", e))
    }

    /// Stores a field and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm.
    async fn create_fields(self, fs: &[NewField<'_>]) -> Result<Vec<FieldRow>, StorageError> {
        let now = Utc::now();
        let mut rows: Vec<FieldRow> = on_exec!(self, pool => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO fields (farm_id, name, crop, fude_polygon_id, land_type, geojson, area_ha, created_at) ",
            );
            q.push_values(fs, |mut b, f| {
                b.push_bind(f.farm_id).push_bind(f.name).push_bind(f.crop)
                    .push_bind(f.fude_polygon_id).push_bind(f.land_type).push_bind(f.geojson)
                    .push_bind(f.area_ha).push_bind(now);
            });
            q.push(" RETURNING id, farm_id, name, crop, fude_polygon_id, land_type, address, chiban, geojson, area_ha, created_at");
            q.build_query_as::<FieldRow>().fetch_all(pool).await
        })
        .map_err(|e| StorageError::conflict("field", e))?;
        // RETURNING's order is not promised (SQLite says so); ids follow the VALUES order.
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    async fn create_field(self, f: &NewField<'_>) -> Result<FieldRow, StorageError> {
        let now = Utc::now();
        on_exec!(self, pool => sqlx::query_as::<_, FieldRow>(
            "INSERT INTO fields (farm_id, name, crop, fude_polygon_id, land_type, geojson, area_ha, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id, farm_id, name, crop, fude_polygon_id, land_type, address, chiban, geojson, area_ha, created_at")
            .bind(f.farm_id).bind(f.name).bind(f.crop).bind(f.fude_polygon_id).bind(f.land_type)
            .bind(f.geojson).bind(f.area_ha).bind(now)
            .fetch_one(pool).await)
        .map_err(|e| StorageError::conflict("field", e))
    }
}

/// What a farmer may change of a field.
#[derive(Debug, Clone)]
pub struct FieldEdit<'a> {
    /// Name.
    pub name: &'a str,
    /// Crop.
    pub crop: &'a str,
    /// Address.
    pub address: &'a str,
    /// 地番.
    pub chiban: &'a str,
}

impl Db {
    /// Changes field `id` of farm `farm_id` and returns it; another farm's field is not
    /// touched.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when farm `farm_id` has no field `id`.
    pub async fn update_field(
        &self,
        farm_id: i64,
        id: i64,
        e: &FieldEdit<'_>,
    ) -> Result<FieldRow, StorageError> {
        on_pool!(self, pool => sqlx::query_as::<_, FieldRow>(
            "UPDATE fields SET name = $3, crop = $4, address = $5, chiban = $6 \
             WHERE id = $1 AND farm_id = $2 \
             RETURNING id, farm_id, name, crop, fude_polygon_id, land_type, address, chiban, \
             geojson, area_ha, created_at")
            .bind(id).bind(farm_id).bind(e.name).bind(e.crop).bind(e.address).bind(e.chiban)
            .fetch_optional(pool).await?)
        .ok_or(StorageError::NotFound { what: "field" })
    }

    /// Stores a field and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm.
    pub async fn create_field(&self, f: &NewField<'_>) -> Result<FieldRow, StorageError> {
        self.on().create_field(f).await
    }
}

impl Tx {
    /// Stores a plan and returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown field.
    pub async fn create_plan(&mut self, p: &NewPlan<'_>) -> Result<i64, StorageError> {
        self.on().create_plan(p).await
    }

    /// Stores a field and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm.
    pub async fn create_field(&mut self, f: &NewField<'_>) -> Result<FieldRow, StorageError> {
        self.on().create_field(f).await
    }

    /// Stores fields with one statement per [`FIELDS_PER_INSERT`] and returns them in the
    /// order given (an import of 157 000 placemarks is 157 statements, not 157 000 round trips).
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm.
    pub async fn create_fields(
        &mut self,
        fs: &[NewField<'_>],
    ) -> Result<Vec<FieldRow>, StorageError> {
        if fs.is_empty() {
            return Ok(Vec::new());
        }
        self.on().create_fields(fs).await
    }
}

/// Fields stored by one INSERT: 8 values each, 8 000 bound values a statement, under
/// SQLite's 32 766 (SQLITE_MAX_VARIABLE_NUMBER since 3.32) and PostgreSQL's 65 535.
pub const FIELDS_PER_INSERT: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;

    both_backends!(a_field_is_changed_only_by_its_own_farm, |db| {
        let d = db.districts().await.unwrap();
        let a = db.create_farm(d[0].id, "a", "crop", "").await.unwrap();
        let b = db.create_farm(d[0].id, "b", "crop", "").await.unwrap();
        let f = db
            .create_field(&NewField {
                farm_id: a.id,
                name: "jp_fude_2024_03",
                crop: "",
                fude_polygon_id: Some("uuid-1"),
                land_type: Some("田"),
                geojson: "{}",
                area_ha: 0.42,
            })
            .await
            .unwrap();
        assert_eq!((f.address.as_str(), f.chiban.as_str()), ("", ""));
        let edit = FieldEdit {
            name: "北の田",
            crop: "水稲",
            address: "那須塩原市三島",
            chiban: "123-4",
        };
        let changed = db.update_field(a.id, f.id, &edit).await.unwrap();
        assert_eq!(
            (
                changed.name.as_str(),
                changed.crop.as_str(),
                changed.address.as_str(),
                changed.chiban.as_str()
            ),
            ("北の田", "水稲", "那須塩原市三島", "123-4")
        );
        assert_eq!(changed.fude_polygon_id.as_deref(), Some("uuid-1"));
        assert_eq!(db.field(f.id).await.unwrap(), changed);
        // Farm b cannot touch it.
        let other = FieldEdit {
            name: "盗", ..edit
        };
        assert!(matches!(
            db.update_field(b.id, f.id, &other).await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(db.field(f.id).await.unwrap().name, "北の田");
    });

    both_backends!(fields_and_plans, |db| {
        let d = db.districts().await.unwrap();
        let a = db.create_farm(d[0].id, "a", "crop", "").await.unwrap();
        let b = db.create_farm(d[0].id, "b", "crop", "").await.unwrap();
        let f = db
            .create_field(&NewField {
                farm_id: a.id,
                name: "北の田",
                crop: "水稲",
                fude_polygon_id: Some("uuid-1"),
                land_type: Some("田"),
                geojson: "{}",
                area_ha: 0.42,
            })
            .await
            .unwrap();
        db.create_field(&NewField {
            farm_id: b.id,
            name: "b1",
            crop: "",
            fude_polygon_id: None,
            land_type: None,
            geojson: "{}",
            area_ha: 1.0,
        })
        .await
        .unwrap();
        assert_eq!(db.field(f.id).await.unwrap(), f);
        assert_eq!(db.fields(Some(a.id)).await.unwrap(), vec![f.clone()]);
        assert_eq!(db.fields(None).await.unwrap().len(), 2);
        let new = |report: &'static str| NewPlan {
            field_id: f.id,
            config_json: "{}",
            report_json: report,
            plan_file: "{}",
            geojson: "{}",
            waypoints_file: "QGC WPL 110",
            kml_file: "<kml/>",
            autopilot: "px4",
        };
        let p1 = db.create_plan(&new("{\"litres\":1}")).await.unwrap();
        let p2 = db.create_plan(&new("{\"litres\":2}")).await.unwrap();
        let plans = db.plans_of_field(f.id).await.unwrap();
        assert_eq!(plans.iter().map(|p| p.id).collect::<Vec<_>>(), vec![p2, p1]);
        assert_eq!(db.plan(p1).await.unwrap().report_json, "{\"litres\":1}");
        assert_eq!(db.plan(p1).await.unwrap().autopilot, "px4");
        let orphan = NewPlan {
            field_id: f.id + 100,
            ..new("{}")
        };
        assert!(matches!(
            db.create_plan(&orphan).await,
            Err(StorageError::Conflict { .. })
        ));
    });
}
