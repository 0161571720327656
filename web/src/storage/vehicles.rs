//! Vehicles (registered spray drones of a farm), pilot credentials, and the go/no-go record
//! and life cycle of flights launched from the web.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{BeginWrite, Db, FlightRow, SampleRow, StorageError, Tx, on_pool, on_tx};

/// A registered vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct VehicleRow {
    /// Row id.
    pub id: i64,
    /// The farm that flies it.
    pub farm_id: i64,
    /// 登録記号 (MLIT registration number, e.g. JU0123456789).
    pub registration_no: String,
    /// Name shown to the pilot.
    pub name: String,
    /// `ardupilot` or `px4`.
    pub autopilot: String,
    /// Link address (`udpout:HOST:PORT`, `tcpout:…`, `serial:PORT:BAUD` …).
    pub link_address: String,
    /// When the registration expires.
    pub registration_expiry: Option<NaiveDate>,
    /// Servo output (1–16) that drives the pump.
    pub pump_servo: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// What is needed to store or change a vehicle.
#[derive(Debug, Clone)]
pub struct NewVehicle<'a> {
    /// The farm.
    pub farm_id: i64,
    /// 登録記号.
    pub registration_no: &'a str,
    /// Name.
    pub name: &'a str,
    /// `ardupilot` or `px4`.
    pub autopilot: &'a str,
    /// Link address, already validated.
    pub link_address: &'a str,
    /// Registration expiry.
    pub registration_expiry: Option<NaiveDate>,
    /// Pump servo output.
    pub pump_servo: i64,
}

/// A pilot's credentials for the go/no-go.
#[derive(Debug, Clone, PartialEq, Default, Serialize, sqlx::FromRow)]
pub struct PilotCredentials {
    /// The user.
    pub user_id: i64,
    /// 技能証明 (remote pilot licence) number.
    pub licence_no: String,
    /// When the licence expires.
    pub licence_expiry: Option<NaiveDate>,
    /// MLIT 許可・承認 (permit and approval) number.
    pub permit_no: String,
    /// When the permit expires.
    pub permit_expiry: Option<NaiveDate>,
}

/// How a launched flight ended, as [`Db::finish_flight`] stores it.
#[derive(Debug, Clone, Copy)]
pub struct FlightResult<'a> {
    /// `completed`, `aborted` or `failed`.
    pub status: &'a str,
    /// Area sprayed, m².
    pub sprayed_area_m2: Option<f64>,
    /// Litres applied.
    pub litres: Option<f64>,
    /// Summary JSON.
    pub summary_json: &'a str,
    /// The track.
    pub samples: &'a [SampleRow],
    /// The `.tlog` it was recorded in.
    pub tlog: Option<&'a [u8]>,
}

/// The go/no-go stored with a launched flight.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct GoNoGoRecord {
    /// The flight.
    pub flight_id: i64,
    /// Who launched it.
    pub pilot_user_id: i64,
    /// The sortie flown (1-based).
    pub sortie: i64,
    /// The submitted inputs as JSON.
    pub inputs_json: String,
    /// Every check with its outcome as JSON.
    pub checks_json: String,
    /// The pilot ticked the acknowledgement of the warnings.
    pub warnings_acknowledged: bool,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// The sortie item this flight resumed after, if it resumed an interrupted one.
    pub resumed_after: Option<i64>,
    /// The last sortie item the flight reached (sortie numbering, 0-based), once it ended.
    pub plan_item_reached: Option<i64>,
}

/// A flight launched from the web, before it flies.
#[derive(Debug, Clone)]
pub struct NewLaunch<'a> {
    /// The farm.
    pub farm_id: i64,
    /// The field.
    pub field_id: i64,
    /// The plan.
    pub plan_id: i64,
    /// The vehicle.
    pub vehicle_id: i64,
    /// The pilot.
    pub pilot_user_id: i64,
    /// The sortie (1-based).
    pub sortie: i64,
    /// Go/no-go inputs as JSON.
    pub inputs_json: &'a str,
    /// Go/no-go checks as JSON.
    pub checks_json: &'a str,
    /// Warnings acknowledged.
    pub warnings_acknowledged: bool,
    /// The sortie item it resumes after, when it resumes an interrupted flight.
    pub resumed_after: Option<i64>,
}

/// The columns of [`VehicleRow`].
macro_rules! vehicle_cols {
    () => {
        "id, farm_id, registration_no, name, autopilot, link_address, registration_expiry, pump_servo, created_at"
    };
}

impl Db {
    /// Stores a vehicle; returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a registration number already stored, a bad autopilot or
    /// an unknown farm.
    pub async fn create_vehicle(&self, v: &NewVehicle<'_>) -> Result<i64, StorageError> {
        let now = Utc::now();
        on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "INSERT INTO vehicles (farm_id, registration_no, name, autopilot, link_address, \
             registration_expiry, pump_servo, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(v.farm_id).bind(v.registration_no).bind(v.name).bind(v.autopilot)
            .bind(v.link_address).bind(v.registration_expiry).bind(v.pump_servo).bind(now)
            .fetch_one(pool).await
            .map_err(|e| StorageError::conflict("vehicle", e)))
    }

    /// Changes a vehicle (its farm stays).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for no such vehicle, [`StorageError::Conflict`] as for create.
    pub async fn update_vehicle(&self, id: i64, v: &NewVehicle<'_>) -> Result<(), StorageError> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE vehicles SET registration_no = $1, name = $2, autopilot = $3, \
             link_address = $4, registration_expiry = $5, pump_servo = $6 WHERE id = $7")
            .bind(v.registration_no).bind(v.name).bind(v.autopilot).bind(v.link_address)
            .bind(v.registration_expiry).bind(v.pump_servo).bind(id)
            .execute(pool).await
            .map_err(|e| StorageError::conflict("vehicle", e))?.rows_affected());
        if n == 0 {
            return Err(StorageError::NotFound { what: "vehicle" });
        }
        Ok(())
    }

    /// One vehicle by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such vehicle.
    pub async fn vehicle(&self, id: i64) -> Result<VehicleRow, StorageError> {
        on_pool!(self, pool => sqlx::query_as::<_, VehicleRow>(concat!(
            "SELECT ", vehicle_cols!(), " FROM vehicles WHERE id = $1"))
            .bind(id).fetch_optional(pool).await?)
        .ok_or(StorageError::NotFound { what: "vehicle" })
    }

    /// The vehicles of one farm, or of every farm for `None`, by registration number.
    ///
    /// # Errors
    /// The database failed.
    pub async fn vehicles(&self, farm_id: Option<i64>) -> Result<Vec<VehicleRow>, StorageError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, VehicleRow>(concat!(
            "SELECT ", vehicle_cols!(), " FROM vehicles WHERE ($1 IS NULL OR farm_id = $1) \
             ORDER BY registration_no"))
            .bind(farm_id).fetch_all(pool).await?),
        )
    }

    /// A pilot's credentials (empty when never entered).
    ///
    /// # Errors
    /// The database failed.
    pub async fn pilot_credentials(&self, user_id: i64) -> Result<PilotCredentials, StorageError> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, PilotCredentials>(
            "SELECT user_id, licence_no, licence_expiry, permit_no, permit_expiry \
             FROM pilot_credentials WHERE user_id = $1")
            .bind(user_id).fetch_optional(pool).await?);
        Ok(row.unwrap_or(PilotCredentials {
            user_id,
            ..PilotCredentials::default()
        }))
    }

    /// Stores a pilot's credentials, replacing earlier ones.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown user.
    pub async fn set_pilot_credentials(&self, c: &PilotCredentials) -> Result<(), StorageError> {
        let now = Utc::now();
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO pilot_credentials (user_id, licence_no, licence_expiry, permit_no, \
             permit_expiry, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id) DO UPDATE SET licence_no = excluded.licence_no, \
             licence_expiry = excluded.licence_expiry, permit_no = excluded.permit_no, \
             permit_expiry = excluded.permit_expiry, updated_at = excluded.updated_at")
            .bind(c.user_id).bind(&c.licence_no).bind(c.licence_expiry).bind(&c.permit_no)
            .bind(c.permit_expiry).bind(now)
            .execute(pool).await
            .map_err(|e| StorageError::conflict("pilot credentials", e))?
            .rows_affected());
        Ok(())
    }

    /// Stores a launched flight (status `uploading`, no track yet) with its go/no-go, in one
    /// transaction; returns the flight id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm, field, plan, vehicle or pilot.
    pub async fn create_launch(&self, l: &NewLaunch<'_>) -> Result<i64, StorageError> {
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO flights (farm_id, field_id, plan_id, vehicle_id, pilot_user_id, \
                 status, summary_json, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'uploading', '{}', $6) RETURNING id")
                .bind(l.farm_id).bind(l.field_id).bind(l.plan_id).bind(l.vehicle_id)
                .bind(l.pilot_user_id).bind(now)
                .fetch_one(&mut *tx).await
                .map_err(|e| StorageError::conflict("flight", e))?;
            sqlx::query(
                "INSERT INTO flight_gonogo (flight_id, pilot_user_id, sortie, inputs_json, \
                 checks_json, warnings_acknowledged, created_at, resumed_after) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(id).bind(l.pilot_user_id).bind(l.sortie).bind(l.inputs_json)
                .bind(l.checks_json).bind(l.warnings_acknowledged).bind(now).bind(l.resumed_after)
                .execute(&mut *tx).await
                .map_err(|e| StorageError::conflict("go/no-go", e))?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// The go/no-go of a launched flight, if it was launched from the web.
    ///
    /// # Errors
    /// The database failed.
    pub async fn gonogo(&self, flight_id: i64) -> Result<Option<GoNoGoRecord>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, GoNoGoRecord>(
            "SELECT flight_id, pilot_user_id, sortie, inputs_json, checks_json, \
             warnings_acknowledged, created_at, resumed_after, plan_item_reached \
             FROM flight_gonogo WHERE flight_id = $1")
            .bind(flight_id).fetch_optional(pool).await?))
    }

    /// Records the last sortie item a launched flight reached.
    ///
    /// # Errors
    /// The database failed.
    pub async fn set_plan_item_reached(
        &self,
        flight_id: i64,
        item: Option<i64>,
    ) -> Result<(), StorageError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE flight_gonogo SET plan_item_reached = $2 WHERE flight_id = $1")
            .bind(flight_id).bind(item).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Where to resume sortie `sortie` of a plan: the last item reached by its newest launched
    /// flight, if that flight was aborted or failed on the way.
    ///
    /// # Errors
    /// The database failed.
    pub async fn resume_point(
        &self,
        plan_id: i64,
        sortie: i64,
    ) -> Result<Option<i64>, StorageError> {
        let newest: Option<(String, Option<i64>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT f.status, g.plan_item_reached FROM flights f \
             JOIN flight_gonogo g ON g.flight_id = f.id \
             WHERE f.plan_id = $1 AND g.sortie = $2 ORDER BY f.id DESC LIMIT 1")
            .bind(plan_id).bind(sortie).fetch_optional(pool).await?);
        Ok(match newest {
            Some((status, reached)) if matches!(status.as_str(), "aborted" | "failed") => reached,
            _ => None,
        })
    }

    /// Sets a flight's status.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a status the table refuses.
    pub async fn set_flight_status(&self, id: i64, status: &str) -> Result<(), StorageError> {
        on_pool!(self, pool => sqlx::query("UPDATE flights SET status = $1 WHERE id = $2")
            .bind(status).bind(id).execute(pool).await
            .map_err(|e| StorageError::conflict("flight status", e))?
            .rows_affected());
        Ok(())
    }

    /// Completes a launched flight with its record: status, results, summary, track and `.tlog`.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a refused status; nothing is changed then.
    pub async fn finish_flight(&self, id: i64, r: &FlightResult<'_>) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        tx.finish_flight(id, r).await?;
        tx.commit().await
    }

    /// The flights of one farm, or of every farm for `None`, newest first (at most `limit`).
    ///
    /// # Errors
    /// The database failed.
    pub async fn flights_of_farm(
        &self,
        farm_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<FlightRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, FlightRow>(
            "SELECT id, farm_id, field_id, plan_id, status, started_at, ended_at, \
             sprayed_area_m2, litres, summary_json, created_at FROM flights \
             WHERE ($1 IS NULL OR farm_id = $1) ORDER BY created_at DESC, id DESC LIMIT $2")
            .bind(farm_id).bind(limit).fetch_all(pool).await?))
    }

    /// Marks flights left `uploading`, `planned`, `flying` or `paused` by a server that stopped
    /// as `failed` (no task flies them any more); returns how many.
    ///
    /// # Errors
    /// The database failed.
    pub async fn fail_orphaned_flights(&self) -> Result<u64, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query(
            "UPDATE flights SET status = 'failed' \
             WHERE status IN ('uploading', 'planned', 'flying', 'paused')")
            .execute(pool).await?.rows_affected()))
    }

    /// The vehicle a flight flew, if recorded.
    ///
    /// # Errors
    /// The database failed.
    pub async fn flight_vehicle(&self, flight_id: i64) -> Result<Option<i64>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT vehicle_id FROM flights WHERE id = $1")
            .bind(flight_id).fetch_optional(pool).await?)
        .flatten())
    }
}

impl Tx {
    /// Completes a launched flight with its record: status, results, summary, track and `.tlog`.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a refused status; nothing is changed then.
    pub async fn finish_flight(
        &mut self,
        id: i64,
        r: &FlightResult<'_>,
    ) -> Result<(), StorageError> {
        let FlightResult {
            status,
            sprayed_area_m2,
            litres,
            summary_json,
            samples,
            tlog,
        } = *r;
        let started = samples.first().map(|s| s.t);
        let ended = samples.last().map(|s| s.t);
        let hash = tlog.map(super::tlog_sha256);
        on_tx!(self, tx => {
            sqlx::query(
                "UPDATE flights SET status = $1, started_at = $2, ended_at = $3, \
                 sprayed_area_m2 = $4, litres = $5, summary_json = $6, \
                 tlog_sha256 = COALESCE($8, tlog_sha256) WHERE id = $7")
                .bind(status).bind(started).bind(ended).bind(sprayed_area_m2).bind(litres)
                .bind(summary_json).bind(id).bind(&hash)
                .execute(&mut *tx).await
                .map_err(|e| StorageError::conflict("flight", e))?;
            for s in samples {
                sqlx::query(
                    "INSERT INTO flight_samples (flight_id, t, lat, lon, alt_m, spray, battery_pct) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING")
                    .bind(id).bind(s.t).bind(s.lat).bind(s.lon).bind(s.alt_m).bind(s.spray)
                    .bind(s.battery_pct)
                    .execute(&mut *tx).await?;
            }
            if let Some(bytes) = tlog {
                sqlx::query(
                    "INSERT INTO flight_tlogs (flight_id, bytes) VALUES ($1, $2) \
                     ON CONFLICT (flight_id) DO UPDATE SET bytes = excluded.bytes")
                    .bind(id).bind(bytes)
                    .execute(&mut *tx).await?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;
    use crate::storage::{NewUser, Role};

    both_backends!(vehicles_pilots_and_launches, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "f", "crop", "").await.unwrap();
        let other = db.create_farm(d[0].id, "g", "crop", "").await.unwrap();
        let expiry = NaiveDate::from_ymd_opt(2027, 3, 31);
        let mut v = NewVehicle {
            farm_id: farm.id,
            registration_no: "JU0000000001",
            name: "一号機",
            autopilot: "ardupilot",
            link_address: "udpout:127.0.0.1:14550",
            registration_expiry: expiry,
            pump_servo: 9,
        };
        let id = db.create_vehicle(&v).await.unwrap();
        let row = db.vehicle(id).await.unwrap();
        assert_eq!(
            (row.registration_expiry, row.pump_servo, row.name.as_str()),
            (expiry, 9, "一号機")
        );
        // The registration number is unique, the autopilot and servo are checked.
        assert!(matches!(
            db.create_vehicle(&NewVehicle {
                farm_id: other.id,
                ..v.clone()
            })
            .await,
            Err(StorageError::Conflict { .. })
        ));
        assert!(
            db.create_vehicle(&NewVehicle {
                registration_no: "JU2",
                autopilot: "betaflight",
                ..v.clone()
            })
            .await
            .is_err()
        );
        v.name = "改名";
        v.pump_servo = 10;
        db.update_vehicle(id, &v).await.unwrap();
        assert_eq!(db.vehicle(id).await.unwrap().pump_servo, 10);
        assert!(matches!(
            db.update_vehicle(id + 99, &v).await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(db.vehicles(Some(farm.id)).await.unwrap().len(), 1);
        assert!(db.vehicles(Some(other.id)).await.unwrap().is_empty());
        assert_eq!(db.vehicles(None).await.unwrap().len(), 1);

        let user = db
            .create_user(&NewUser {
                username: "p",
                display_name: "p",
                password_hash: "x",
                role: Role::Farmer,
                farm_id: Some(farm.id),
                lang: "ja",
            })
            .await
            .unwrap();
        assert_eq!(db.pilot_credentials(user.id).await.unwrap().licence_no, "");
        let mut c = PilotCredentials {
            user_id: user.id,
            licence_no: "L-1".into(),
            licence_expiry: NaiveDate::from_ymd_opt(2028, 1, 1),
            permit_no: "P-1".into(),
            permit_expiry: None,
        };
        db.set_pilot_credentials(&c).await.unwrap();
        c.permit_expiry = NaiveDate::from_ymd_opt(2027, 6, 30);
        db.set_pilot_credentials(&c).await.unwrap();
        assert_eq!(db.pilot_credentials(user.id).await.unwrap(), c);

        let fid = db
            .create_field(&crate::storage::NewField {
                farm_id: farm.id,
                name: "x",
                crop: "",
                fude_polygon_id: None,
                land_type: None,
                geojson: "{}",
                area_ha: 1.0,
            })
            .await
            .unwrap()
            .id;
        let plan = db
            .create_plan(&crate::storage::NewPlan {
                field_id: fid,
                config_json: "{}",
                report_json: "{}",
                plan_file: "{}",
                geojson: "{}",
                waypoints_file: "",
                kml_file: "",
                autopilot: "ardupilot",
            })
            .await
            .unwrap();
        let launch = NewLaunch {
            farm_id: farm.id,
            field_id: fid,
            plan_id: plan,
            vehicle_id: id,
            pilot_user_id: user.id,
            sortie: 1,
            inputs_json: r#"{"wind_mps":1.0}"#,
            checks_json: "[]",
            warnings_acknowledged: true,
            resumed_after: None,
        };
        let flight = db.create_launch(&launch).await.unwrap();
        assert_eq!(db.flight(flight).await.unwrap().status, "uploading");
        assert_eq!(db.flight_vehicle(flight).await.unwrap(), Some(id));
        let g = db.gonogo(flight).await.unwrap().unwrap();
        assert_eq!((g.sortie, g.warnings_acknowledged), (1, true));
        db.set_flight_status(flight, "flying").await.unwrap();
        assert!(db.set_flight_status(flight, "crashed").await.is_err());
        let t0 = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let samples = [SampleRow {
            t: t0,
            lat: 36.0,
            lon: 140.0,
            alt_m: 0.0,
            spray: true,
            battery_pct: None,
        }];
        db.finish_flight(
            flight,
            &FlightResult {
                status: "completed",
                sprayed_area_m2: Some(10.0),
                litres: Some(0.1),
                summary_json: "{}",
                samples: &samples,
                tlog: None,
            },
        )
        .await
        .unwrap();
        let f = db.flight(flight).await.unwrap();
        assert_eq!((f.status.as_str(), f.started_at), ("completed", Some(t0)));
        assert_eq!(db.flight_samples(flight).await.unwrap().len(), 1);
        assert_eq!(
            db.flights_of_farm(Some(farm.id), 10).await.unwrap().len(),
            1
        );
        assert!(
            db.flights_of_farm(Some(other.id), 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A launch on another farm's vehicle id that does not exist is refused whole.
        assert!(
            db.create_launch(&NewLaunch {
                vehicle_id: id + 99,
                ..launch
            })
            .await
            .is_err()
        );
        assert_eq!(db.flights_of_farm(None, 10).await.unwrap().len(), 1);
        // A flight in the air when the server stopped is failed at the next start.
        let orphan = db.create_launch(&launch).await.unwrap();
        assert_eq!(db.fail_orphaned_flights().await.unwrap(), 1);
        assert_eq!(db.flight(orphan).await.unwrap().status, "failed");
        assert_eq!(db.flight(flight).await.unwrap().status, "completed");
        // Resume: only the newest flight of the sortie counts, and only if it was interrupted.
        assert_eq!(
            db.resume_point(plan, 1).await.unwrap(),
            None,
            "reached unknown"
        );
        db.set_plan_item_reached(orphan, Some(7)).await.unwrap();
        assert_eq!(db.resume_point(plan, 1).await.unwrap(), Some(7));
        assert_eq!(
            db.resume_point(plan, 2).await.unwrap(),
            None,
            "another sortie"
        );
        let resumed = db
            .create_launch(&NewLaunch {
                resumed_after: Some(7),
                ..launch
            })
            .await
            .unwrap();
        assert_eq!(
            db.gonogo(resumed).await.unwrap().unwrap().resumed_after,
            Some(7)
        );
        db.set_plan_item_reached(resumed, Some(12)).await.unwrap();
        db.set_flight_status(resumed, "completed").await.unwrap();
        assert_eq!(
            db.resume_point(plan, 1).await.unwrap(),
            None,
            "the sortie was finished"
        );
    });
}
