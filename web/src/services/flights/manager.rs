//! Flights launched from the web: the [`FlightManager`] (held by the server state) owns one background task
//! per active flight. The task talks to the vehicle through `telemetry` (connect, upload and
//! verify, then on the pilot's command pre-flight checks, arm, AUTO, start; pause, resume, RTL,
//! abort), records the `.tlog` under the data directory, publishes a [`Live`] snapshot for the
//! live page, keeps the flight row's status current and, when the flight ends, turns the `.tlog`
//! into the flight record through [`record_flight_from_tlog`].
//! Requests never wait on the vehicle: they send a [`Command`] and return.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

pub use super::control::{Command, FlightTiming, LaunchRequest, Live, Phase};
use super::flight::fly;
use crate::services::flights::record::{FlightOrigin, record_flight_from_tlog};
use crate::storage::{Db, FlightResult};

/// Why a launch was refused.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The vehicle is already in a flight.
    #[error("vehicle {0} is already flying flight {1}")]
    VehicleBusy(i64, i64),
}

#[derive(Debug, Clone)]
struct Active {
    vehicle_id: i64,
    live: watch::Receiver<Live>,
    cmd: mpsc::UnboundedSender<Command>,
}

/// The active flights of this server, one task each.
#[derive(Debug)]
pub struct FlightManager {
    active: Mutex<HashMap<i64, Active>>,
    tlog_dir: PathBuf,
    timing: FlightTiming,
}

impl FlightManager {
    /// A manager recording `.tlog` files under `tlog_dir`.
    pub fn new(tlog_dir: PathBuf, timing: FlightTiming) -> FlightManager {
        FlightManager {
            active: Mutex::new(HashMap::new()),
            tlog_dir,
            timing,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Active>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The active flight of `vehicle_id`, if any.
    pub fn flight_of_vehicle(&self, vehicle_id: i64) -> Option<i64> {
        self.lock()
            .iter()
            .find(|(_, a)| a.vehicle_id == vehicle_id)
            .map(|(id, _)| *id)
    }

    /// Starts the task of a launched flight, which stores its progress and its record in `db`.
    ///
    /// # Errors
    /// [`LaunchError::VehicleBusy`] when the vehicle is in another active flight.
    pub fn launch(self: &Arc<Self>, db: Db, req: LaunchRequest) -> Result<(), LaunchError> {
        let mut map = self.lock();
        if let Some((id, _)) = map.iter().find(|(_, a)| a.vehicle_id == req.vehicle.id) {
            return Err(LaunchError::VehicleBusy(req.vehicle.id, *id));
        }
        let (live_tx, live_rx) = watch::channel(Live {
            flight_id: req.flight_id,
            ..Live::default()
        });
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        map.insert(
            req.flight_id,
            Active {
                vehicle_id: req.vehicle.id,
                live: live_rx,
                cmd: cmd_tx,
            },
        );
        let tlog = self.tlog_dir.join(format!(
            "flight-{}-{}.tlog",
            req.flight_id,
            telemetry::now_us()
        ));
        let timing = self.timing.clone();
        tokio::spawn(run(
            Arc::clone(self),
            db,
            req,
            tlog,
            timing,
            live_tx,
            cmd_rx,
        ));
        Ok(())
    }

    /// The live snapshots of an active flight.
    pub fn live(&self, flight_id: i64) -> Option<watch::Receiver<Live>> {
        self.lock().get(&flight_id).map(|a| a.live.clone())
    }

    /// Sends `cmd` to an active flight; false when the flight is not active.
    pub fn send(&self, flight_id: i64, cmd: Command) -> bool {
        self.lock()
            .get(&flight_id)
            .is_some_and(|a| a.cmd.send(cmd).is_ok())
    }

    fn finished(&self, flight_id: i64) {
        self.lock().remove(&flight_id);
    }
}

async fn run(
    manager: Arc<FlightManager>,
    db: Db,
    req: LaunchRequest,
    tlog: PathBuf,
    timing: FlightTiming,
    live: watch::Sender<Live>,
    mut cmds: mpsc::UnboundedReceiver<Command>,
) {
    let id = req.flight_id;
    if let Some(dir) = tlog.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
    }
    let end = fly(&db, &req, &tlog, &timing, &live, &mut cmds).await;
    tracing::info!(message = "Flight ended.", flight = id, status = end.status, error = ?end.error);
    let bytes = tokio::fs::read(&tlog).await.unwrap_or_default();
    let recorded = record_flight_from_tlog(
        &db,
        &req.plan,
        bytes,
        FlightOrigin::Launched {
            flight_id: id,
            status: end.status,
            error: end.error.as_deref(),
            problem: end.problem,
        },
    )
    .await;
    if let Err(e) = recorded {
        // No usable track (e.g. never took off): keep the outcome and the reason.
        let summary = serde_json::json!({
            "error": end.error,
            "problem": end.problem,
            "record": e.to_string(),
            "tlog": tlog,
        });
        if let Err(e) = db
            .finish_flight(
                id,
                &FlightResult {
                    status: end.status,
                    sprayed_area_m2: None,
                    litres: None,
                    summary_json: &summary.to_string(),
                    samples: &[],
                    tlog: None,
                },
            )
            .await
        {
            tracing::error!(message = "Could not store the end of a flight.", flight = id, error = %e);
        }
    }
    live.send_modify(|l| {
        l.phase = Phase::Ended;
        l.ended_status = Some(end.status.to_owned());
        if end.error.is_some() {
            l.error = end.error.clone();
        }
        if end.problem.is_some() {
            l.problem = end.problem;
        }
    });
    manager.finished(id);
}
