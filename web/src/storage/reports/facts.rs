//! A flight's fact, upserted after a `.tlog` upload and again when its pesticide is recorded,
//! moving its figures between months and pesticides in `spray_month_rollups`.

use chrono::{DateTime, Utc};

use super::{FlightFact, KEY_SQL, clean, pesticide_key};
use crate::storage::parlors::jst_month_start;
use crate::storage::{Db, StorageError, Tx, on_tx};

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
