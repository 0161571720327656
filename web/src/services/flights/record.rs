//! A flown `.tlog` becomes a flight record: the one place both uploaded and launched flights
//! go through. The flight, its `.tlog`, its report facts and its spray record and logbook
//! drafts are stored in one transaction.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::AppError;
use crate::services::flights::as_applied::{AsApplied, PumpReadback, applied_segments, as_applied};
use crate::services::records::{DraftSource, logbook_draft};
use crate::storage::{
    Db, FlightFact, FlightResult, NewFlight, PlanRow, RxZoneRow, SampleRow, StorageError,
    tlog_sha256,
};

/// Samples kept per flight for the map and replay.
const MAX_SAMPLES: usize = 3000;

/// What a `.tlog` amounts to against its plan.
struct Recorded {
    samples: Vec<SampleRow>,
    summary: Value,
    sprayed_m2: Option<f64>,
    /// By prescription zone, when the plan has a prescription.
    applied: Option<AsApplied>,
}

/// How a flight's log reads its pump against its plan: the output the pump state is read on
/// (the plan's DO_SET_SERVO channel; PX4's actuator on the output the log's own parameters
/// give that function) and, for a plan with a pump calibration, how its level reads back as a
/// rate.
pub(crate) fn pump_of(
    records: &[telemetry::TlogRecord],
    plan: &telemetry::Plan,
    config: &Value,
) -> (telemetry::SprayerOutput, Option<PumpReadback>) {
    let px4_output = telemetry::PumpOutput::in_records(records);
    let sprayer = match px4_output.filter(|_| plan.uses_actuator()) {
        Some(o) => o.sprayer(),
        None => telemetry::SprayerOutput {
            servo: plan
                .pump_servo()
                .unwrap_or(telemetry::SprayerOutput::default().servo),
            ..telemetry::SprayerOutput::default()
        },
    };
    (sprayer, PumpReadback::of_plan_config(config, px4_output))
}

/// Decodes a `.tlog`, rebuilds the track and compares it with the plan and, with `rx` (its
/// prescription's unit and zones), with each zone's rate (blocking work).
fn analyse(
    tlog: &[u8],
    plan_file: &str,
    swath_m: f64,
    rx: Option<&(String, Vec<RxZoneRow>)>,
    config: &Value,
) -> Result<Recorded, String> {
    let (records, skipped) = telemetry::parse_tlog(tlog);
    if records.is_empty() {
        return Err("tlog: no MAVLink frame found in the file".to_owned());
    }
    let plan = telemetry::Plan::from_json(plan_file, std::path::Path::new("plan"))
        .map_err(|e| format!("stored plan unreadable: {e}"))?;
    let (sprayer, pump) = pump_of(&records, &plan, config);
    let pump = pump.as_ref();
    let track = telemetry::track_from_records(&records, Some(&plan), sprayer);
    if track.is_empty() {
        return Err("tlog: the log holds no position of the vehicle".to_owned());
    }
    let summary = telemetry::summarize(&records, Some(&plan), sprayer);
    let coverage = telemetry::coverage(&track, &plan.spray_legs(), swath_m).ok();
    let measured = pump.and_then(|p| applied_segments(&track, p));
    let by_zone = coverage
        .as_ref()
        .zip(rx)
        .map(|(c, (unit, zones))| as_applied(c, unit, zones, measured.as_deref()));
    // Keep every spray on/off change, and thin the rest evenly.
    let step = track.len().div_ceil(MAX_SAMPLES).max(1);
    let mut samples = Vec::new();
    let mut last_t = None;
    for (i, p) in track.iter().enumerate() {
        let changes = i > 0 && track[i - 1].spraying != p.spraying;
        if i % step != 0 && !changes && i + 1 != track.len() {
            continue;
        }
        let Some(t) = DateTime::<Utc>::from_timestamp_micros(p.time_us as i64) else {
            continue;
        };
        // Samples are keyed by time: drop a second sample at the same microsecond.
        if last_t == Some(t) {
            continue;
        }
        last_t = Some(t);
        samples.push(SampleRow {
            t,
            lat: p.lat,
            lon: p.lon,
            alt_m: 0.0,
            spray: p.spraying,
            battery_pct: None,
        });
    }
    let (applied, applied_geojson) = by_zone.unzip();
    Ok(Recorded {
        samples,
        sprayed_m2: coverage.as_ref().map(|c| c.sprayed_m2),
        summary: json!({
            "summary": summary,
            "coverage": coverage,
            "as_applied": applied,
            "as_applied_geojson": applied_geojson,
            "frames_skipped": skipped,
            "swath_m": swath_m,
        }),
        applied,
    })
}

/// Where a `.tlog` being recorded comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlightOrigin<'a> {
    /// Uploaded by a person: a new flight row, status `completed`.
    Upload {
        /// Who uploaded it: the operator of the spray record draft.
        operator: &'a str,
    },
    /// Flown from the web: the launched flight's row gets its record and final status.
    Launched {
        /// The launched flight.
        flight_id: i64,
        /// `completed`, `aborted` or `failed`.
        status: &'static str,
        /// Why it failed, in English for the log, kept with the record.
        error: Option<&'a str>,
        /// Why it failed, where the page words it in the user's language.
        problem: Option<super::control::Problem>,
    },
}

/// Turns a flown `.tlog` into the flight record against `plan` (track, summary, as-applied
/// coverage, litres at the planned rate): the one place both the upload and launched flights
/// go through. Returns the flight id.
///
/// # Errors
/// [`AppError::BadInput`] for a file without MAVLink frames or positions; storage failures.
pub async fn record_flight_from_tlog(
    db: &Db,
    plan: &PlanRow,
    tlog: Vec<u8>,
    origin: FlightOrigin<'_>,
) -> Result<i64, AppError> {
    let field = db.field(plan.field_id).await?;
    let hash = tlog_sha256(&tlog);
    // A retry of an upload (same bytes, same farm) answers with the flight already stored.
    if matches!(origin, FlightOrigin::Upload { .. })
        && let Some(id) = db.flight_by_tlog(field.farm_id, &hash).await?
    {
        return Ok(id);
    }
    let config: Value = serde_json::from_str(&plan.config_json).unwrap_or(Value::Null);
    let swath_m = config["swath_width"].as_f64().unwrap_or(5.0);
    let rate_l_per_m2 = config["rate_l_per_10a"].as_f64().map(|r| r / 1000.0);
    let plan_file = plan.plan_file.clone();
    let rx = db
        .plan_prescription(plan.id, field.farm_id)
        .await?
        .map(|(p, zones)| (p.rate_unit, zones));
    let (rec, draft, tlog) = tokio::task::spawn_blocking(move || {
        analyse(&tlog, &plan_file, swath_m, rx.as_ref(), &config).map(|rec| {
            let draft = logbook_draft(&tlog);
            (rec, draft, tlog)
        })
    })
    .await
    .map_err(|e| AppError::Internal(format!("tlog task failed: {e}")))?
    .map_err(AppError::BadInput)?;
    let summary = match origin {
        // A launched flight's record keeps why it ended, for its page after the task is gone.
        FlightOrigin::Launched { error, problem, .. } if error.is_some() => {
            let mut v = rec.summary.clone();
            if let Some(o) = v.as_object_mut() {
                o.insert("error".into(), json!(error));
                o.insert("problem".into(), json!(problem));
            }
            v.to_string()
        }
        _ => rec.summary.to_string(),
    };
    // With a prescription, what each zone received (the pump's reported output where the
    // vehicle reports it, else the zone's rate over its sprayed area); else the plan's rate.
    let litres = match &rec.applied {
        Some(a) => Some(a.total),
        None => rec.sprayed_m2.zip(rate_l_per_m2).map(|(a, r)| a * r),
    };
    // Everything read from the pool is read before the transaction begins: a transaction that
    // waited for a second pooled connection could starve the pool.
    let (operator, launched) = match origin {
        FlightOrigin::Upload { operator } => (operator.to_owned(), None),
        FlightOrigin::Launched { flight_id, .. } => {
            // The pilot who launched it is the operator.
            let pilot = match db.gonogo(flight_id).await? {
                Some(g) => db
                    .users()
                    .await?
                    .into_iter()
                    .find(|u| u.id == g.pilot_user_id)
                    .map(|u| u.display_name),
                None => None,
            };
            (pilot.unwrap_or_default(), Some(flight_id))
        }
    };
    let source = DraftSource::read(
        db,
        field.farm_id,
        Some(field.id),
        Some(plan.id),
        launched,
        &operator,
        draft,
    )
    .await?;
    // The flight, its report facts, its spray record and its logbook: all or nothing.
    let mut tx = db.begin().await?;
    let id = match origin {
        FlightOrigin::Upload { .. } => {
            let stored = tx
                .create_flight(&NewFlight {
                    farm_id: field.farm_id,
                    field_id: Some(field.id),
                    plan_id: Some(plan.id),
                    status: "completed",
                    sprayed_area_m2: rec.sprayed_m2,
                    litres,
                    summary_json: &summary,
                    samples: &rec.samples,
                    tlog: Some(&tlog),
                })
                .await;
            match stored {
                Ok(id) => id,
                Err(e @ StorageError::Conflict { .. }) => {
                    // The same upload, sent twice at once, committed first in the other request.
                    drop(tx);
                    return match db.flight_by_tlog(field.farm_id, &hash).await? {
                        Some(id) => Ok(id),
                        None => Err(e.into()),
                    };
                }
                Err(e) => return Err(e.into()),
            }
        }
        FlightOrigin::Launched {
            flight_id, status, ..
        } => {
            tx.finish_flight(
                flight_id,
                &FlightResult {
                    status,
                    sprayed_area_m2: rec.sprayed_m2,
                    litres,
                    summary_json: &summary,
                    samples: &rec.samples,
                    tlog: Some(&tlog),
                },
            )
            .await?;
            flight_id
        }
    };
    tx.checkpoint("flights.after_flight").await?;
    // The regional reports count the flight now; its pesticide comes with its spray record.
    tx.upsert_flight_fact(&FlightFact {
        flight_id: id,
        farm_id: field.farm_id,
        flown_at: rec.samples.first().map_or_else(chrono::Utc::now, |s| s.t),
        area_m2: rec.sprayed_m2.unwrap_or(0.0),
        litres: litres.unwrap_or(0.0),
        pesticide_name: None,
        pesticide_reg_no: None,
    })
    .await?;
    tx.checkpoint("flights.after_facts").await?;
    // The spray record and logbook drafts, prefilled from the flight and its .tlog.
    let flight = tx.flight(id).await?;
    source.store(&mut tx, &flight).await?;
    tx.commit().await?;
    Ok(id)
}
