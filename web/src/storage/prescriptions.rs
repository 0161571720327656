//! The variable-rate prescription a plan was made with and its zones. Every row names the farm
//! of the plan's field, taken from the field itself on insert, and reads ask for that farm.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, StorageError, Tx, on_pool, on_tx};

/// The prescription stored with a plan.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PrescriptionRow {
    /// The plan it was planned with.
    pub plan_id: i64,
    /// The farm of the plan's field.
    pub farm_id: i64,
    /// The uploaded file's name, as the person's browser sent it (cleaned).
    pub file_name: String,
    /// The rate column chosen (`None`: rasters and ISOXML, or the file's only column).
    pub rate_column: Option<String>,
    /// `L/10a`, `L/ha` or `kg/10a`.
    pub rate_unit: String,
    /// The rate the field outside every zone gets; `None`: no spray there.
    pub gap_rate: Option<f64>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// One zone of a stored prescription, clipped to the field as the planner used it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RxZoneRow {
    /// The plan.
    pub plan_id: i64,
    /// The zone's number on the page, from 1 in the planner's order (the gap last).
    pub position: i64,
    /// The zone's name from the file (`gap` for the field outside every zone).
    pub name: String,
    /// Target rate in the prescription's unit.
    pub rate: f64,
    /// True for the field's area outside every prescribed zone.
    pub is_gap: bool,
    /// The zone's part of the sprayable area, hectares.
    pub sprayable_ha: f64,
    /// What the prescription asks for there, litres (kg for granules).
    pub amount: f64,
    /// What the pump delivers there along the spray path, litres (kg).
    pub amount_pumped: f64,
    /// The zone's area as a GeoJSON geometry (WGS84 MultiPolygon).
    pub geojson: String,
}

/// What is needed to store a plan's prescription.
#[derive(Debug, Clone)]
pub struct NewPrescription<'a> {
    /// The uploaded file's name.
    pub file_name: &'a str,
    /// The rate column chosen.
    pub rate_column: Option<&'a str>,
    /// `L/10a`, `L/ha` or `kg/10a`.
    pub rate_unit: &'a str,
    /// The gap's rate; `None`: no spray.
    pub gap_rate: Option<f64>,
}

/// What is needed to store one zone of a prescription.
#[derive(Debug, Clone)]
pub struct NewRxZone<'a> {
    /// The zone's name.
    pub name: &'a str,
    /// Target rate in the prescription's unit.
    pub rate: f64,
    /// True for the gap.
    pub is_gap: bool,
    /// Sprayable hectares.
    pub sprayable_ha: f64,
    /// Amount asked for.
    pub amount: f64,
    /// Amount pumped.
    pub amount_pumped: f64,
    /// GeoJSON geometry text.
    pub geojson: &'a str,
}

impl Tx {
    /// Stores the prescription of plan `plan_id` and its zones (numbered from 1 in order). The
    /// rows take the farm of the plan's field, which must be `farm_id`.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when `plan_id` is not a plan of a field of `farm_id`,
    /// [`StorageError::Conflict`] for a plan that has one already or a value a check refuses.
    pub async fn create_prescription(
        &mut self,
        plan_id: i64,
        farm_id: i64,
        rx: &NewPrescription<'_>,
        zones: &[NewRxZone<'_>],
    ) -> Result<(), StorageError> {
        let now = Utc::now();
        on_tx!(self, tx => {
            let n = sqlx::query(
                "INSERT INTO plan_prescriptions (plan_id, farm_id, file_name, rate_column, \
                 rate_unit, gap_rate, created_at) \
                 SELECT p.id, f.farm_id, $3, $4, $5, $6, $7 \
                 FROM plans p JOIN fields f ON f.id = p.field_id WHERE p.id = $1 AND f.farm_id = $2")
                .bind(plan_id).bind(farm_id).bind(rx.file_name).bind(rx.rate_column)
                .bind(rx.rate_unit).bind(rx.gap_rate).bind(now)
                .execute(&mut *tx).await
                .map_err(|e| StorageError::conflict("prescription", e))?
                .rows_affected();
            if n == 0 {
                return Err(StorageError::NotFound { what: "plan" });
            }
            for (i, z) in zones.iter().enumerate() {
                let position = i as i64 + 1;
                sqlx::query(
                    "INSERT INTO plan_prescription_zones (plan_id, position, farm_id, name, rate, \
                     is_gap, sprayable_ha, amount, amount_pumped, geojson) \
                     SELECT plan_id, $2, farm_id, $3, $4, $5, $6, $7, $8, $9 \
                     FROM plan_prescriptions WHERE plan_id = $1")
                    .bind(plan_id).bind(position).bind(z.name).bind(z.rate).bind(z.is_gap)
                    .bind(z.sprayable_ha).bind(z.amount).bind(z.amount_pumped).bind(z.geojson)
                    .execute(&mut *tx).await
                    .map_err(|e| StorageError::conflict("prescription zone", e))?;
            }
            Ok(())
        })
    }
}

impl Db {
    /// The prescription of plan `plan_id` with its zones in order, if the plan has one and
    /// it belongs to `farm_id`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn plan_prescription(
        &self,
        plan_id: i64,
        farm_id: i64,
    ) -> Result<Option<(PrescriptionRow, Vec<RxZoneRow>)>, StorageError> {
        let rx = on_pool!(self, pool => sqlx::query_as::<_, PrescriptionRow>(
            "SELECT plan_id, farm_id, file_name, rate_column, rate_unit, gap_rate, created_at \
             FROM plan_prescriptions WHERE plan_id = $1 AND farm_id = $2")
            .bind(plan_id).bind(farm_id).fetch_optional(pool).await?);
        let Some(rx) = rx else { return Ok(None) };
        let zones = on_pool!(self, pool => sqlx::query_as::<_, RxZoneRow>(
            "SELECT plan_id, position, name, rate, is_gap, sprayable_ha, amount, amount_pumped, \
             geojson FROM plan_prescription_zones WHERE plan_id = $1 AND farm_id = $2 \
             ORDER BY position")
            .bind(plan_id).bind(farm_id).fetch_all(pool).await?);
        Ok(Some((rx, zones)))
    }
}

#[cfg(test)]
impl Db {
    /// How many prescription and zone rows there are, over every farm.
    pub(crate) async fn count_prescription_rows(&self) -> (i64, i64) {
        let rx = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM plan_prescriptions").fetch_one(pool).await)
        .expect("count");
        let zones = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM plan_prescription_zones").fetch_one(pool).await)
        .expect("count");
        (rx, zones)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;
    use crate::storage::{NewField, NewPlan};

    both_backends!(a_prescription_belongs_to_its_plans_farm, |db| {
        let d = db.districts().await.unwrap();
        let a = db.create_farm(d[0].id, "a", "crop", "").await.unwrap();
        let b = db.create_farm(d[0].id, "b", "crop", "").await.unwrap();
        let field = db
            .create_field(&NewField {
                farm_id: a.id,
                name: "田",
                crop: "",
                fude_polygon_id: None,
                land_type: None,
                geojson: "{}",
                area_ha: 1.0,
            })
            .await
            .unwrap();
        let plan = NewPlan {
            field_id: field.id,
            config_json: "{}",
            report_json: "{}",
            plan_file: "{}",
            geojson: "{}",
            waypoints_file: "",
            kml_file: "",
            autopilot: "ardupilot",
        };
        let rx = NewPrescription {
            file_name: "rx.geojson",
            rate_column: Some("RATE"),
            rate_unit: "L/10a",
            gap_rate: None,
        };
        let zone = |name, rate, is_gap| NewRxZone {
            name,
            rate,
            is_gap,
            sprayable_ha: 0.5,
            amount: rate * 5.0,
            amount_pumped: rate * 5.2,
            geojson: "{}",
        };
        let zones = [zone("z1", 0.8, false), zone("gap", 0.0, true)];
        let mut tx = db.begin().await.unwrap();
        let id = tx.create_plan(&plan).await.unwrap();
        // Another farm cannot attach a prescription to this farm's plan.
        assert!(matches!(
            tx.create_prescription(id, b.id, &rx, &zones).await,
            Err(StorageError::NotFound { .. })
        ));
        tx.create_prescription(id, a.id, &rx, &zones).await.unwrap();
        tx.commit().await.unwrap();
        let (row, stored) = db.plan_prescription(id, a.id).await.unwrap().unwrap();
        assert_eq!((row.farm_id, row.rate_unit.as_str()), (a.id, "L/10a"));
        assert_eq!(row.rate_column.as_deref(), Some("RATE"));
        assert_eq!(row.gap_rate, None);
        let names: Vec<_> = stored
            .iter()
            .map(|z| (z.position, z.name.as_str()))
            .collect();
        assert_eq!(names, vec![(1, "z1"), (2, "gap")]);
        assert!(stored[1].is_gap && !stored[0].is_gap);
        assert_eq!(db.plan_prescription(id, b.id).await.unwrap(), None);
        // A negative rate is refused by the table itself, and the transaction keeps nothing.
        let mut tx = db.begin().await.unwrap();
        let id2 = tx.create_plan(&plan).await.unwrap();
        let bad = [zone("z1", -1.0, false)];
        assert!(matches!(
            tx.create_prescription(id2, a.id, &rx, &bad).await,
            Err(StorageError::Conflict { .. })
        ));
        drop(tx);
        assert_eq!(db.plans_of_field(field.id).await.unwrap().len(), 1);
    });
}
