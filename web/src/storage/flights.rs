//! Flights: one row per flown sortie (status, times, sprayed area, litres, summary) and its
//! track samples.

use chrono::{DateTime, Utc};
use serde::Serialize;

use sha2::{Digest, Sha256};

use super::{Db, StorageError, Tx, on_exec, on_pool, on_tx};

/// A stored flight.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FlightRow {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// The field flown, if known.
    pub field_id: Option<i64>,
    /// The plan flown, if known.
    pub plan_id: Option<i64>,
    /// `planned`, `uploading`, `flying`, `paused`, `completed`, `aborted` or `failed`.
    pub status: String,
    /// First sample.
    pub started_at: Option<DateTime<Utc>>,
    /// Last sample.
    pub ended_at: Option<DateTime<Utc>>,
    /// Area actually sprayed (union of the swaths), m².
    pub sprayed_area_m2: Option<f64>,
    /// Liquid applied at the planned rate over the sprayed area, litres.
    pub litres: Option<f64>,
    /// Flight summary and as-applied coverage as JSON.
    pub summary_json: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// One point of a flown track.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, sqlx::FromRow)]
pub struct SampleRow {
    /// Time.
    pub t: DateTime<Utc>,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Altitude above home, metres.
    pub alt_m: f64,
    /// Pump on.
    pub spray: bool,
    /// Battery, percent, when known.
    pub battery_pct: Option<f64>,
}

/// What is needed to store a flown flight.
#[derive(Debug, Clone)]
pub struct NewFlight<'a> {
    /// The farm.
    pub farm_id: i64,
    /// The field.
    pub field_id: Option<i64>,
    /// The plan.
    pub plan_id: Option<i64>,
    /// Status.
    pub status: &'a str,
    /// Sprayed area, m².
    pub sprayed_area_m2: Option<f64>,
    /// Litres applied.
    pub litres: Option<f64>,
    /// Summary JSON.
    pub summary_json: &'a str,
    /// The track.
    pub samples: &'a [SampleRow],
    /// The `.tlog` the flight was recorded from, kept whole (the logbook is derived from it).
    pub tlog: Option<&'a [u8]>,
}

/// The columns of [`FlightRow`], as a literal for `concat!`.
macro_rules! flight_cols {
    () => {
        "id, farm_id, field_id, plan_id, status, started_at, ended_at, sprayed_area_m2, litres, summary_json, created_at"
    };
}

/// The SHA-256 of a `.tlog`, in hex: what makes a retried upload the same flight.
pub fn tlog_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Tx {
    /// Stores a flight with its whole track (and the SHA-256 of its `.tlog`); returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm, field or plan, or a `.tlog` this farm
    /// already recorded (see [`Db::flight_by_tlog`]).
    pub async fn create_flight(&mut self, f: &NewFlight<'_>) -> Result<i64, StorageError> {
        let now = Utc::now();
        let started = f.samples.first().map(|s| s.t);
        let ended = f.samples.last().map(|s| s.t);
        let hash = f.tlog.map(tlog_sha256);
        on_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO flights (farm_id, field_id, plan_id, status, started_at, ended_at, \
                 sprayed_area_m2, litres, summary_json, created_at, tlog_sha256) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
                .bind(f.farm_id).bind(f.field_id).bind(f.plan_id).bind(f.status).bind(started)
                .bind(ended).bind(f.sprayed_area_m2).bind(f.litres).bind(f.summary_json).bind(now)
                .bind(&hash)
                .fetch_one(&mut *tx).await
                .map_err(|e| StorageError::conflict("flight", e))?;
            for s in f.samples {
                sqlx::query(
                    "INSERT INTO flight_samples (flight_id, t, lat, lon, alt_m, spray, battery_pct) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING")
                    .bind(id).bind(s.t).bind(s.lat).bind(s.lon).bind(s.alt_m).bind(s.spray)
                    .bind(s.battery_pct)
                    .execute(&mut *tx).await?;
            }
            if let Some(bytes) = f.tlog {
                sqlx::query("INSERT INTO flight_tlogs (flight_id, bytes) VALUES ($1, $2)")
                    .bind(id).bind(bytes).execute(&mut *tx).await?;
            }
            Ok(id)
        })
    }

    /// One flight by id, as this transaction sees it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such flight.
    pub async fn flight(&mut self, id: i64) -> Result<FlightRow, StorageError> {
        flight_on(self.on(), id).await
    }
}

/// One flight by id.
async fn flight_on(on: super::On<'_>, id: i64) -> Result<FlightRow, StorageError> {
    on_exec!(on, e => sqlx::query_as::<_, FlightRow>(concat!(
        "SELECT ", flight_cols!(), " FROM flights WHERE id = $1"))
        .bind(id).fetch_optional(e).await?)
    .ok_or(StorageError::NotFound { what: "flight" })
}

impl Db {
    /// Stores a flight with its whole track in one transaction; returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm, field or plan; nothing is stored then.
    pub async fn create_flight(&self, f: &NewFlight<'_>) -> Result<i64, StorageError> {
        let mut tx = self.begin().await?;
        let id = tx.create_flight(f).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The flight of `farm_id` recorded from the `.tlog` whose SHA-256 is `sha256`, if any.
    ///
    /// # Errors
    /// The database failed.
    pub async fn flight_by_tlog(
        &self,
        farm_id: i64,
        sha256: &str,
    ) -> Result<Option<i64>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM flights WHERE farm_id = $1 AND tlog_sha256 = $2")
            .bind(farm_id).bind(sha256).fetch_optional(pool).await?))
    }

    /// One flight by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such flight.
    pub async fn flight(&self, id: i64) -> Result<FlightRow, StorageError> {
        flight_on(self.on(), id).await
    }

    /// The flights of a plan, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn flights_of_plan(&self, plan_id: i64) -> Result<Vec<FlightRow>, StorageError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, FlightRow>(concat!(
            "SELECT ", flight_cols!(), " FROM flights WHERE plan_id = $1 ORDER BY created_at DESC, id DESC"))
            .bind(plan_id).fetch_all(pool).await?),
        )
    }

    /// The `.tlog` a flight was recorded from, if it was kept.
    ///
    /// # Errors
    /// The database failed.
    pub async fn flight_tlog(&self, flight_id: i64) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT bytes FROM flight_tlogs WHERE flight_id = $1")
            .bind(flight_id).fetch_optional(pool).await?))
    }

    /// The track of a flight, in time order.
    ///
    /// # Errors
    /// The database failed.
    pub async fn flight_samples(&self, flight_id: i64) -> Result<Vec<SampleRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SampleRow>(
            "SELECT t, lat, lon, alt_m, spray, battery_pct FROM flight_samples \
             WHERE flight_id = $1 ORDER BY t")
            .bind(flight_id).fetch_all(pool).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;

    both_backends!(flights_with_tracks, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "f", "crop", "").await.unwrap();
        let t0 = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let samples: Vec<SampleRow> = (0..5)
            .map(|i| SampleRow {
                t: t0 + chrono::Duration::seconds(i),
                lat: 36.97 + i as f64 * 1e-5,
                lon: 139.98,
                alt_m: 2.0,
                spray: i % 2 == 0,
                battery_pct: Some(90.0 - i as f64),
            })
            .collect();
        let id = db
            .create_flight(&NewFlight {
                farm_id: farm.id,
                field_id: None,
                plan_id: None,
                status: "completed",
                sprayed_area_m2: Some(120.0),
                litres: Some(0.096),
                summary_json: "{}",
                samples: &samples,
                tlog: Some(b"tlog bytes"),
            })
            .await
            .unwrap();
        assert_eq!(
            db.flight_tlog(id).await.unwrap().as_deref(),
            Some(&b"tlog bytes"[..])
        );
        let f = db.flight(id).await.unwrap();
        assert_eq!(
            (f.started_at, f.ended_at),
            (Some(t0), Some(t0 + chrono::Duration::seconds(4)))
        );
        assert_eq!(db.flight_samples(id).await.unwrap(), samples);
        let bad = db
            .create_flight(&NewFlight {
                farm_id: farm.id + 99,
                field_id: None,
                plan_id: None,
                status: "completed",
                sprayed_area_m2: None,
                litres: None,
                summary_json: "{}",
                samples: &samples,
                tlog: None,
            })
            .await;
        assert!(matches!(bad, Err(StorageError::Conflict { .. })), "{bad:?}");
        let bad_status = db
            .create_flight(&NewFlight {
                farm_id: farm.id,
                field_id: None,
                plan_id: None,
                status: "crashed",
                sprayed_area_m2: None,
                litres: None,
                summary_json: "{}",
                samples: &[],
                tlog: None,
            })
            .await;
        assert!(bad_status.is_err());
    });
}
