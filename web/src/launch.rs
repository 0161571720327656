//! Flights launched from the web: the [`FlightManager`] in `AppState` owns one background task
//! per active flight. The task talks to the vehicle through `telemetry` (connect, upload and
//! verify, then on the pilot's command pre-flight checks, arm, AUTO, start; pause, resume, RTL,
//! abort), records the `.tlog` under the data directory, publishes a [`Live`] snapshot for the
//! live page, keeps the flight row's status current and, when the flight ends, turns the `.tlog`
//! into the flight record through [`crate::routes::flights::record_flight_from_tlog`].
//! Requests never wait on the vehicle: they send a [`Command`] and return.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use telemetry::{
    Firmware, Link, LinkAddress, LinkConfig, MissionKind, Plan, PreflightLimits, SprayerOutput,
    TrackPoint, Vehicle, VehicleState, distance_to_go, preflight_checks,
};
use tokio::sync::{mpsc, watch};

use crate::app::AppState;
use crate::routes::flights::{FlightOrigin, record_flight_from_tlog};
use crate::storage::{FlightResult, PlanRow, VehicleRow};

/// A pilot's command to an active flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Pre-flight checks, arm, AUTO, start the verified mission.
    Start,
    /// Pump off and hold position.
    Pause,
    /// Continue the mission at the current item.
    Resume,
    /// Pump off and return to launch.
    Rtl,
    /// Pump off, return to launch (land in place if RTL is refused), end the flight as aborted.
    Abort,
}

/// Where an active flight is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Opening the link and waiting for the vehicle's heartbeat.
    #[default]
    Connecting,
    /// Uploading and reading back mission, fence and rally.
    Uploading,
    /// Verified by read-back; waiting for the pilot's start.
    Verified,
    /// Pre-flight checks, arming and starting.
    Starting,
    /// Flying the mission.
    Flying,
    /// Holding position, pump off.
    Paused,
    /// Returning to launch (after RTL or abort).
    Returning,
    /// Over: see `ended_status`.
    Ended,
}

/// What the live page shows, published by the flight's task.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Live {
    /// The flight.
    pub flight_id: i64,
    /// Phase.
    pub phase: Phase,
    /// `completed`, `aborted` or `failed` once ended.
    pub ended_status: Option<String>,
    /// The last problem (refused command, failed check, lost link), in English from telemetry.
    pub error: Option<String>,
    /// Items verified by read-back: mission, fence, rally.
    pub verified: Option<[usize; 3]>,
    /// Latitude, degrees.
    pub lat: Option<f64>,
    /// Longitude, degrees.
    pub lon: Option<f64>,
    /// Height above home, metres.
    pub rel_alt_m: Option<f64>,
    /// Ground speed, m/s.
    pub speed_m_s: Option<f64>,
    /// Battery, percent.
    pub battery_pct: Option<f64>,
    /// Battery, volts.
    pub battery_v: Option<f64>,
    /// Flight mode name.
    pub mode: String,
    /// Armed.
    pub armed: bool,
    /// Current mission item.
    pub item: Option<u16>,
    /// Last mission item.
    pub last_item: u16,
    /// Metres left along the mission.
    pub to_go_m: Option<f64>,
    /// Pump on (as reported, else as the plan commands).
    pub spray: Option<bool>,
    /// Heartbeats arrive.
    pub link_ok: bool,
    /// STATUSTEXT messages so far (at most the last 50).
    pub messages: Vec<String>,
    /// Messages ever received (so a page appends only new ones).
    pub message_count: usize,
    /// As-applied coverage so far: percent of the planned area.
    pub covered_pct: Option<f64>,
    /// As-applied coverage so far: sprayed m².
    pub sprayed_m2: Option<f64>,
    /// The sprayed area as GeoJSON (recomputed every few seconds).
    pub coverage: Option<Value>,
}

/// Why a launch was refused.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The vehicle is already in a flight.
    #[error("vehicle {0} is already flying flight {1}")]
    VehicleBusy(i64, i64),
}

/// What the task needs to fly one launched sortie.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// The flight row (status `uploading`).
    pub flight_id: i64,
    /// The plan.
    pub plan: PlanRow,
    /// The sortie (1-based).
    pub sortie: usize,
    /// Resume the sortie after this item of it (see `telemetry::Plan::resume_after`).
    pub resume_after: Option<usize>,
    /// The vehicle.
    pub vehicle: VehicleRow,
    /// The pilot agreed to have the vehicle's geofence switched on if it is off.
    pub enable_fence: bool,
}

#[derive(Debug, Clone)]
struct Active {
    vehicle_id: i64,
    live: watch::Receiver<Live>,
    cmd: mpsc::UnboundedSender<Command>,
}

/// Timing of the flight tasks (shortened in tests).
#[derive(Debug, Clone)]
pub struct FlightTiming {
    /// Wait for the vehicle's first heartbeat.
    pub connect_timeout: Duration,
    /// Heartbeat silence after which the link counts as lost.
    pub link_timeout: Duration,
    /// How long a verified flight waits for the start before it is given up.
    pub start_timeout: Duration,
    /// After the last item, wait this long for landing and disarm.
    pub land_wait: Duration,
    /// Coverage recomputation period.
    pub coverage_every: Duration,
    /// Minimum battery to take off, percent.
    pub min_battery_pct: f64,
}

impl Default for FlightTiming {
    fn default() -> Self {
        FlightTiming {
            connect_timeout: Duration::from_secs(15),
            link_timeout: Duration::from_secs(5),
            start_timeout: Duration::from_secs(15 * 60),
            land_wait: Duration::from_secs(120),
            coverage_every: Duration::from_secs(3),
            min_battery_pct: 40.0,
        }
    }
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

    /// Starts the task of a launched flight.
    ///
    /// # Errors
    /// [`LaunchError::VehicleBusy`] when the vehicle is in another active flight.
    pub fn launch(&self, state: AppState, req: LaunchRequest) -> Result<(), LaunchError> {
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
        tokio::spawn(run(state, req, tlog, timing, live_tx, cmd_rx));
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

/// How a flight ended.
struct End {
    status: &'static str,
    error: Option<String>,
}

impl End {
    fn failed(e: impl std::fmt::Display) -> End {
        End {
            status: "failed",
            error: Some(e.to_string()),
        }
    }
}

async fn run(
    state: AppState,
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
    let end = fly(&state, &req, &tlog, &timing, &live, &mut cmds).await;
    tracing::info!(message = "Flight ended.", flight = id, status = end.status, error = ?end.error);
    let bytes = tokio::fs::read(&tlog).await.unwrap_or_default();
    let recorded = record_flight_from_tlog(
        &state,
        &req.plan,
        bytes,
        FlightOrigin::Launched {
            flight_id: id,
            status: end.status,
        },
    )
    .await;
    if let Err(e) = recorded {
        // No usable track (e.g. never took off): keep the outcome and the reason.
        let summary =
            serde_json::json!({"error": end.error, "record": e.to_string(), "tlog": tlog});
        if let Err(e) = state
            .db
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
    });
    state.flights.finished(id);
}

async fn set_status(state: &AppState, id: i64, status: &str) {
    if let Err(e) = state.db.set_flight_status(id, status).await {
        tracing::error!(message = "Could not store a flight status.", flight = id, status, error = %e);
    }
}

/// What the mission commands the pump to do, per item, for telling the pump state.
struct PumpPlan {
    /// Pump commanded on after each plan item.
    spray_after: Vec<bool>,
    /// The vehicle's sequence number of plan item 0, plus one.
    first_item: usize,
}

impl PumpPlan {
    fn of(plan: &Plan) -> PumpPlan {
        PumpPlan {
            spray_after: plan.spray_state_after(),
            first_item: plan.vehicle_seq(0) + 1,
        }
    }

    /// The pump state: as the vehicle's servo output shows it, else as the mission commands it
    /// at the current item; off while disarmed.
    fn state(&self, s: &VehicleState) -> Option<bool> {
        let commanded = s
            .current_item
            .map(usize::from)
            .and_then(|c| c.checked_sub(self.first_item))
            .and_then(|i| self.spray_after.get(i).copied());
        s.sprayer_on
            .or(if s.armed { commanded } else { Some(false) })
    }
}

/// Shared view of the vehicle filled by the frame subscriber.
#[derive(Default)]
struct Seen {
    state: VehicleState,
    messages: Vec<String>,
    message_count: usize,
    /// Every position received while armed, with the pump state then: the live coverage is
    /// computed from the same positions as the record's (the `.tlog`), not from samples.
    track: Vec<TrackPoint>,
}

async fn fly(
    state: &AppState,
    req: &LaunchRequest,
    tlog: &std::path::Path,
    timing: &FlightTiming,
    live: &watch::Sender<Live>,
    cmds: &mut mpsc::UnboundedReceiver<Command>,
) -> End {
    let id = req.flight_id;
    let path = std::path::Path::new("plan");
    let sortie =
        match Plan::from_json(&req.plan.plan_file, path).and_then(|p| p.sortie(req.sortie, path)) {
            Ok(p) => p,
            Err(e) => return End::failed(e),
        };
    // A resumed flight flies the cut plan; what it reaches is counted in the sortie's items.
    let (plan, resumed) = match req.resume_after.map(|r| sortie.resume_after(r, path)) {
        None => (sortie, None),
        Some(Ok(r)) => (r.plan.clone(), Some(r)),
        Some(Err(e)) => return End::failed(e),
    };
    let address = match LinkAddress::parse(&req.vehicle.link_address) {
        Ok(a) => a,
        Err(e) => return End::failed(e),
    };
    let mut cfg = LinkConfig::new(address);
    cfg.tlog = Some(tlog.to_path_buf());
    let link = match Link::connect(&cfg).await {
        Ok(l) => l,
        Err(e) => return End::failed(e),
    };
    let info = match link.wait_vehicle(timing.connect_timeout).await {
        Ok(i) => i,
        Err(e) => {
            link.close().await;
            return End::failed(e);
        }
    };
    if info.target.firmware != plan.firmware {
        link.close().await;
        return End::failed(format!(
            "the plan was written for {:?} but the vehicle runs {:?}",
            plan.firmware, info.target.firmware
        ));
    }
    let vehicle = Vehicle::new(link.port().clone(), info.target);
    let sprayer = SprayerOutput {
        servo: u8::try_from(req.vehicle.pump_servo).unwrap_or(9),
        ..SprayerOutput::default()
    };
    let seen = Arc::new(Mutex::new(Seen {
        state: VehicleState::new(
            Some(info.target.system),
            Some(info.target.component),
            sprayer,
        ),
        ..Seen::default()
    }));
    let pump = Arc::new(PumpPlan::of(&plan));
    let subscriber = {
        let seen = seen.clone();
        let pump = pump.clone();
        let mut rx = link.port().subscribe();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(f) => {
                        let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                        let applied = s.state.apply(&f.header, &f.msg);
                        if applied
                            && matches!(f.msg, telemetry::Msg::GLOBAL_POSITION_INT(_))
                            && s.state.armed
                            && let (Some(lat), Some(lon)) = (s.state.lat, s.state.lon)
                        {
                            let spraying = pump.state(&s.state);
                            s.track.push(TrackPoint {
                                time_us: telemetry::now_us(),
                                lat,
                                lon,
                                spraying: spraying.unwrap_or(false),
                            });
                        }
                        if applied && matches!(f.msg, telemetry::Msg::STATUSTEXT(_)) {
                            let text = s
                                .state
                                .status_texts
                                .last()
                                .map(|t| format!("[{}] {}", t.severity, t.text));
                            if let Some(t) = text {
                                s.messages.push(t);
                                s.message_count += 1;
                                if s.messages.len() > 50 {
                                    s.messages.remove(0);
                                }
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
        })
    };
    for (msgid, hz) in [
        (33, 5.0),
        (1, 1.0),
        (24, 1.0),
        (42, 2.0),
        (147, 1.0),
        (74, 2.0),
    ] {
        let _ = vehicle.request_message_interval(msgid, hz).await;
    }
    let mut flight = Flight {
        state,
        id,
        plan: &plan,
        items: plan.mission_items(),
        vehicle: &vehicle,
        link: &link,
        seen: &seen,
        live,
        timing,
        swath_m: swath_of(&req.plan),
        pump,
        enable_fence: req.enable_fence,
    };
    let end = flight.run(cmds).await;
    let home_items = plan.vehicle_seq(0);
    let reached = flight.snapshot().0.reached_up_to.and_then(|seq| {
        let i = usize::from(seq).checked_sub(home_items)?;
        Some(resumed.as_ref().map_or(i, |r| r.original_index(i)))
    });
    let reached = reached.or(req.resume_after);
    if let Err(e) = state
        .db
        .set_plan_item_reached(id, reached.map(|r| r as i64))
        .await
    {
        tracing::error!(message = "Could not store the item reached.", flight = id, error = %e);
    }
    if end.status != "completed" {
        vehicle.spray_off().await;
    }
    subscriber.abort();
    link.close().await;
    end
}

/// The swath width in the plan's stored options (5 m when absent).
pub fn swath_of(plan: &PlanRow) -> f64 {
    serde_json::from_str::<Value>(&plan.config_json)
        .ok()
        .and_then(|v| v["swath_width"].as_f64())
        .unwrap_or(5.0)
}

struct Flight<'a> {
    state: &'a AppState,
    id: i64,
    plan: &'a Plan,
    items: Vec<telemetry::MissionItem>,
    vehicle: &'a Vehicle,
    link: &'a Link,
    seen: &'a Arc<Mutex<Seen>>,
    live: &'a watch::Sender<Live>,
    timing: &'a FlightTiming,
    swath_m: f64,
    pump: Arc<PumpPlan>,
    /// The pilot agreed to have the geofence switched on.
    enable_fence: bool,
}

impl Flight<'_> {
    /// The positions received while armed so far.
    fn track(&self) -> Vec<TrackPoint> {
        let s = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        s.track.clone()
    }

    fn snapshot(&self) -> (VehicleState, Vec<String>, usize) {
        let s = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        (s.state.clone(), s.messages.clone(), s.message_count)
    }

    /// Publishes the vehicle's state; returns it.
    fn publish(&mut self, phase: Phase) -> VehicleState {
        let (s, messages, count) = self.snapshot();
        let last = self.items.len().saturating_sub(1) as u16;
        let cur = s.current_item;
        let to_go = match (s.lat, s.lon, cur) {
            (Some(lat), Some(lon), Some(c)) => Some(distance_to_go(&self.items, c, (lat, lon))),
            _ => None,
        };
        let spray = self.pump.state(&s);
        let link_ok = self.link.check_alive(self.timing.link_timeout).is_ok();
        self.live.send_modify(|l| {
            l.phase = phase;
            l.lat = s.lat;
            l.lon = s.lon;
            l.rel_alt_m = s.rel_alt_m;
            l.speed_m_s = s.ground_speed_m_s;
            l.battery_pct = s.battery_pct;
            l.battery_v = s.battery_v;
            l.mode = s.mode.clone();
            l.armed = s.armed;
            l.item = cur;
            l.last_item = last;
            l.to_go_m = to_go;
            l.spray = spray;
            l.link_ok = link_ok;
            l.messages = messages;
            l.message_count = count;
        });
        s
    }

    fn error(&self, e: impl std::fmt::Display) {
        let e = e.to_string();
        self.live.send_modify(|l| l.error = Some(e));
    }

    async fn coverage(&self) {
        let track = self.track();
        if track.len() < 2 {
            return;
        }
        let legs = self.plan.spray_legs();
        let swath = self.swath_m;
        let c = tokio::task::spawn_blocking(move || telemetry::coverage(&track, &legs, swath))
            .await
            .ok()
            .and_then(Result::ok);
        if let Some(c) = c {
            self.live.send_modify(|l| {
                l.covered_pct = Some(c.covered_pct);
                l.sprayed_m2 = Some(c.sprayed_m2);
                l.coverage = Some(c.geojson.clone());
            });
        }
    }

    async fn run(&mut self, cmds: &mut mpsc::UnboundedReceiver<Command>) -> End {
        set_status(self.state, self.id, "uploading").await;
        self.publish(Phase::Uploading);
        let verified = match self
            .vehicle
            .upload_verified(MissionKind::Mission, &self.items)
            .await
        {
            Ok(v) => v,
            Err(e) => return End::failed(format!("mission upload: {e}")),
        };
        let fence = self.plan.fence_items();
        if !fence.is_empty()
            && let Err(e) = self
                .vehicle
                .upload_verified(MissionKind::Fence, &fence)
                .await
        {
            return End::failed(format!("fence upload: {e}"));
        }
        let rally = self.plan.rally_items();
        if !rally.is_empty()
            && let Err(e) = self
                .vehicle
                .upload_verified(MissionKind::Rally, &rally)
                .await
        {
            return End::failed(format!("rally upload: {e}"));
        }
        if !fence.is_empty()
            && let Err(e) = self.fence_on().await
        {
            return End::failed(e);
        }
        let counts = [self.items.len(), fence.len(), rally.len()];
        self.live.send_modify(|l| l.verified = Some(counts));
        set_status(self.state, self.id, "planned").await;

        // Verified: wait for the pilot.
        let waiting_since = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                cmd = cmds.recv() => match cmd {
                    Some(Command::Start) => {
                        self.publish(Phase::Starting);
                        match self.start(&verified).await {
                            Ok(()) => break,
                            Err(e) => {
                                // Not armed, or armed but not started: make sure the pump is off.
                                self.vehicle.spray_off().await;
                                if self.snapshot().0.armed {
                                    let _ = self.vehicle.disarm().await;
                                }
                                self.error(e);
                            }
                        }
                    }
                    Some(Command::Abort) | None => {
                        return End { status: "aborted", error: None };
                    }
                    Some(_) => {}
                }
            }
            if let Err(e) = self.link.check_alive(self.timing.link_timeout) {
                return End::failed(e);
            }
            self.publish(Phase::Verified);
            if waiting_since.elapsed() > self.timing.start_timeout {
                return End {
                    status: "aborted",
                    error: Some("not started in time".into()),
                };
            }
        }
        set_status(self.state, self.id, "flying").await;
        self.follow(&verified, cmds).await
    }

    /// The uploaded fence acts on a breach, or is switched on with the pilot's consent.
    async fn fence_on(&self) -> Result<(), String> {
        let setup = self
            .vehicle
            .fence_setup()
            .await
            .map_err(|e| format!("the vehicle's fence parameters could not be read: {e}"))?;
        if setup.active() {
            return Ok(());
        }
        if !self.enable_fence {
            return Err(format!(
                "the vehicle's geofence is off (enabled {}, polygon {}, action {}); \
                 tick \"switch it on\" to have it switched on before take-off",
                setup.enabled, setup.polygon, setup.action
            ));
        }
        let after = self
            .vehicle
            .enable_fence()
            .await
            .map_err(|e| format!("switching the geofence on: {e}"))?;
        if !after.active() {
            return Err(format!(
                "the vehicle did not switch its geofence on: {after:?}"
            ));
        }
        tracing::info!(
            message = "Geofence switched on with the pilot's consent.",
            flight = self.id,
            action = after.action
        );
        Ok(())
    }

    async fn start(&mut self, verified: &telemetry::VerifiedMission) -> Result<(), String> {
        // Fresh telemetry for the checks.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let limits = PreflightLimits {
            min_battery_pct: self.timing.min_battery_pct,
            require_3d_fix: true,
        };
        let s = self.snapshot().0;
        preflight_checks(&s, self.plan, &limits).map_err(|e| e.to_string())?;
        if self.vehicle.target().firmware == Firmware::ArduPilot {
            self.vehicle
                .set_mode("GUIDED")
                .await
                .map_err(|e| format!("GUIDED: {e}"))?;
        }
        self.vehicle.arm().await.map_err(|e| e.to_string())?;
        self.vehicle
            .start_mission(verified)
            .await
            .map_err(|e| format!("starting the mission: {e}"))?;
        self.live.send_modify(|l| l.error = None);
        Ok(())
    }

    async fn follow(
        &mut self,
        verified: &telemetry::VerifiedMission,
        cmds: &mut mpsc::UnboundedReceiver<Command>,
    ) -> End {
        let last = self.items.len().saturating_sub(1) as u16;
        let lands = self.items.last().is_some_and(|i| i.command == 21);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut phase = Phase::Flying;
        let mut aborted = false;
        let mut was_armed = false;
        let mut end_seen: Option<Instant> = None;
        let mut last_coverage = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                cmd = cmds.recv() => {
                    let result = match cmd {
                        Some(Command::Pause) => self.vehicle.pause().await.map(|()| {
                            phase = Phase::Paused;
                            "paused"
                        }),
                        Some(Command::Resume) => {
                            let cur = self.snapshot().0.current_item.unwrap_or(0);
                            let pump = self.plan.pump_on_toward(cur);
                            self.vehicle.resume_at(cur, pump, verified).await.map(|()| {
                                phase = Phase::Flying;
                                "flying"
                            })
                        }
                        Some(Command::Rtl) => self.vehicle.rtl().await.map(|()| {
                            phase = Phase::Returning;
                            "flying"
                        }),
                        Some(Command::Abort) | None => {
                            aborted = true;
                            phase = Phase::Returning;
                            match self.vehicle.rtl().await {
                                Ok(()) => Ok("flying"),
                                // RTL refused: land where it is.
                                Err(_) => self.vehicle.set_mode("LAND").await.map(|()| "flying"),
                            }
                        }
                        Some(Command::Start) => Ok(""),
                    };
                    match result {
                        Ok("") => {}
                        Ok(status) => {
                            set_status(self.state, self.id, status).await;
                            self.live.send_modify(|l| l.error = None);
                        }
                        Err(e) => self.error(e),
                    }
                }
            }
            if let Err(e) = self.link.check_alive(self.timing.link_timeout) {
                self.coverage().await;
                return End::failed(format!("{e}: the vehicle's failsafe takes over"));
            }
            let s = self.publish(phase);
            if last_coverage.elapsed() >= self.timing.coverage_every {
                last_coverage = Instant::now();
                self.coverage().await;
            }
            let landed = was_armed && !s.armed;
            was_armed |= s.armed;
            if aborted || phase == Phase::Returning {
                if landed {
                    self.coverage().await;
                    let done = !aborted && s.mission_finished(last);
                    return End {
                        status: if done { "completed" } else { "aborted" },
                        error: None,
                    };
                }
                continue;
            }
            let at_end = s.mission_finished(last);
            if at_end {
                let since = *end_seen.get_or_insert_with(Instant::now);
                if !s.armed || !lands || since.elapsed() >= self.timing.land_wait {
                    self.coverage().await;
                    return End {
                        status: "completed",
                        error: None,
                    };
                }
            } else if landed {
                self.coverage().await;
                return End::failed(format!(
                    "the vehicle disarmed at item {} before the end of the mission",
                    s.current_item.unwrap_or(0)
                ));
            }
        }
    }
}
