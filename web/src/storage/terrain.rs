//! A farm's terrain library: elevation models decoded once at upload and kept as the
//! planner's grid bytes (`Dem::to_bytes`), with their extent, so a plan or a flight finds the
//! models under a field by query and reads them back without parsing the files again.
//! Every query names the farm, so one farm's requests never reach another farm's models.

use chrono::{DateTime, Utc};

use super::{Db, StorageError, Tx, on_exec};

/// A decoded model to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDem<'a> {
    /// What the page calls it.
    pub name: &'a str,
    /// The uploaded files' names, comma-separated.
    pub files: &'a str,
    /// Height cells held.
    pub cells: i64,
    /// The finest cell, metres.
    pub cell_m: f64,
    /// Extent, WGS84 degrees: south, west, north, east.
    pub bounds: (f64, f64, f64, f64),
    /// Lowest and highest ground held, metres AMSL.
    pub ground: Option<(f64, f64)>,
    /// `Dem::to_bytes`.
    pub data: &'a [u8],
    /// SHA-256 of the uploaded files, hex: the same upload twice is one model.
    pub sha256: &'a str,
}

/// A stored model without its bytes, for the page and the plan form.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DemRow {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// What the page calls it.
    pub name: String,
    /// The uploaded files' names.
    pub files: String,
    /// Height cells held.
    pub cells: i64,
    /// The finest cell, metres.
    pub cell_m: f64,
    /// South edge, degrees.
    pub min_lat: f64,
    /// West edge, degrees.
    pub min_lon: f64,
    /// North edge, degrees.
    pub max_lat: f64,
    /// East edge, degrees.
    pub max_lon: f64,
    /// Lowest ground held, metres AMSL.
    pub ground_min_m: Option<f64>,
    /// Highest ground held, metres AMSL.
    pub ground_max_m: Option<f64>,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
}

impl Tx {
    /// Stores a farm's model; the same files stored before give the earlier row's id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when a check refuses the row; the database failed.
    pub async fn create_dem(&mut self, farm_id: i64, d: &NewDem<'_>) -> Result<i64, StorageError> {
        let existing = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM farm_dems WHERE farm_id = $1 AND sha256 = $2")
            .bind(farm_id).bind(d.sha256).fetch_optional(e).await?);
        if let Some(id) = existing {
            return Ok(id);
        }
        let (s, w, n, east) = d.bounds;
        let (lo, hi) = d.ground.unzip();
        on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO farm_dems (farm_id, name, files, cells, cell_m, min_lat, min_lon, \
               max_lat, max_lon, ground_min_m, ground_max_m, data, sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id")
            .bind(farm_id).bind(d.name).bind(d.files).bind(d.cells).bind(d.cell_m)
            .bind(s).bind(w).bind(n).bind(east).bind(lo).bind(hi).bind(d.data)
            .bind(d.sha256).bind(Utc::now()).fetch_one(e).await)
        .map_err(|err| StorageError::conflict("elevation model", err))
    }

    /// Removes a farm's model.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when the farm has no such model; the database failed.
    pub async fn delete_dem(&mut self, farm_id: i64, id: i64) -> Result<(), StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query(
            "DELETE FROM farm_dems WHERE farm_id = $1 AND id = $2")
            .bind(farm_id).bind(id).execute(e).await?.rows_affected());
        if n == 0 {
            return Err(StorageError::NotFound {
                what: "elevation model",
            });
        }
        Ok(())
    }
}

impl Db {
    /// A farm's models, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn dems_of_farm(&self, farm_id: i64) -> Result<Vec<DemRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, DemRow>(
            "SELECT id, farm_id, name, files, cells, cell_m, min_lat, min_lon, max_lat, \
               max_lon, ground_min_m, ground_max_m, created_at \
             FROM farm_dems WHERE farm_id = $1 ORDER BY id DESC")
            .bind(farm_id).fetch_all(e).await?))
    }

    /// The bytes of a farm's models whose extent meets the box (south, west, north, east),
    /// newest first: a newer upload of the same ground is sampled before an older one.
    ///
    /// # Errors
    /// The database failed.
    pub async fn dem_data_over(
        &self,
        farm_id: i64,
        (s, w, n, e_): (f64, f64, f64, f64),
    ) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        Ok(
            on_exec!(self.on(), e => sqlx::query_as::<_, (i64, Vec<u8>)>(
            "SELECT id, data FROM farm_dems WHERE farm_id = $1 \
             AND max_lat >= $2 AND min_lat <= $3 AND max_lon >= $4 AND min_lon <= $5 \
             ORDER BY id DESC")
            .bind(farm_id).bind(s).bind(n).bind(w).bind(e_).fetch_all(e).await?),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;

    fn model<'a>(sha: &'a str, data: &'a [u8], bounds: (f64, f64, f64, f64)) -> NewDem<'a> {
        NewDem {
            name: "北の棚田",
            files: "a.xml, b.xml",
            cells: 4,
            cell_m: 5.0,
            bounds,
            ground: Some((410.0, 432.5)),
            data,
            sha256: sha,
        }
    }

    both_backends!(a_farm_reaches_only_its_own_models, |db| {
        let district = db.districts().await.unwrap()[0].id;
        let a = db
            .create_farm(district, "標高A", "crop", "")
            .await
            .unwrap()
            .id;
        let b = db
            .create_farm(district, "標高B", "crop", "")
            .await
            .unwrap()
            .id;
        let here = (36.90, 139.90, 36.91, 139.91);
        let mut tx = db.begin().await.unwrap();
        let id = tx.create_dem(a, &model("aa", b"one", here)).await.unwrap();
        // The same upload again is the same model; the same bytes on farm B are B's own.
        assert_eq!(
            tx.create_dem(a, &model("aa", b"one", here)).await.unwrap(),
            id
        );
        let idb = tx.create_dem(b, &model("aa", b"two", here)).await.unwrap();
        assert_ne!(id, idb);
        tx.commit().await.unwrap();
        let rows = db.dems_of_farm(a).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].ground_max_m, Some(432.5));
        assert_eq!(rows[0].name, "北の棚田");
        // Found by the box under a field, not elsewhere, and only for its own farm.
        let field = (36.905, 139.905, 36.906, 139.906);
        assert_eq!(
            db.dem_data_over(a, field).await.unwrap(),
            vec![(id, b"one".to_vec())]
        );
        assert!(
            db.dem_data_over(a, (35.0, 139.0, 35.1, 139.1))
                .await
                .unwrap()
                .is_empty()
        );
        // Farm B cannot delete farm A's model.
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            tx.delete_dem(b, id).await,
            Err(StorageError::NotFound { .. })
        ));
        tx.delete_dem(a, id).await.unwrap();
        tx.commit().await.unwrap();
        assert!(db.dems_of_farm(a).await.unwrap().is_empty());
        assert_eq!(db.dems_of_farm(b).await.unwrap().len(), 1);
    });
}
