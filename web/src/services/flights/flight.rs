//! One launched flight's task: connect, upload and verify the sortie, then on the pilot's
//! commands pre-flight checks, arm, AUTO, start, pause, resume, RTL and abort, keeping the
//! flight row's status and the [`Live`] snapshot current while it watches the vehicle.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use telemetry::{
    Firmware, Link, LinkAddress, LinkConfig, MissionKind, Plan, PreflightLimits, PumpOutputSetup,
    SprayerOutput, TerrainServer, TrackPoint, Vehicle, VehicleState, distance_to_go,
    preflight_checks,
};
use tokio::sync::{mpsc, watch};

use super::control::{Command, FlightTiming, LaunchRequest, Live, Phase, Problem, TerrainServed};
use crate::storage::{Db, PlanRow};

/// How a flight ended: its final status and, when it failed, why.
pub(super) struct End {
    pub(super) status: &'static str,
    pub(super) error: Option<String>,
    /// The refusal the page words in the user's language, when there is one.
    pub(super) problem: Option<Problem>,
}

async fn set_status(db: &Db, id: i64, status: &str) {
    if let Err(e) = db.set_flight_status(id, status).await {
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

pub(super) async fn fly(
    db: &Db,
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
    // A plan in the vehicle's terrain frame flies on the ground the vehicle is sent: the farm's
    // elevation models under the mission, the ones it was planned over (ArduPilot asks its
    // ground station for the blocks it lacks, AP_Terrain's TerrainGCS.cpp).
    let dem = if plan.uses_terrain_frame() {
        match terrain_model(db, req.farm_id, &plan).await {
            Ok(Some(d)) => Some(d),
            Ok(None) => {
                return End::problem(
                    Problem::TerrainNotServed,
                    "the plan flies in the vehicle's terrain frame, but the farm holds no \
                     elevation model under it to serve",
                );
            }
            Err(e) => return End::failed(e),
        }
    } else {
        None
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
    // Answer the vehicle's TERRAIN_REQUESTs from the first frame on.
    let terrain = dem.map(|dem| {
        let source = move |lat: f64, lon: f64| dem.height_amsl(lat, lon);
        TerrainServer::spawn(link.port(), Arc::new(source), 100)
    });
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
    let mut sprayer = SprayerOutput {
        servo: u8::try_from(req.vehicle.pump_servo).unwrap_or(9),
        ..SprayerOutput::default()
    };
    // PX4 runs a pump driven by the mission's actuator value on whichever output has the
    // function "Peripheral via Actuator Set 1": the pump is read on that output, and its
    // range reads the level back as a rate (the PARAM_VALUEs land in the flight's log).
    if plan.uses_actuator() {
        match vehicle.px4_pump_output().await {
            Ok(PumpOutputSetup::Found(o)) => sprayer = o.sprayer(),
            Ok(PumpOutputSetup::NoneAssigned) => {
                link.close().await;
                return End::problem(
                    Problem::NoPumpOutput,
                    "the plan runs the pump by DO_SET_ACTUATOR, but no output of the vehicle \
                     has the function Peripheral via Actuator Set 1 (PWM_MAIN_FUNCn = 301)",
                );
            }
            // An older PX4 without output functions: the vehicle's configured output.
            Ok(PumpOutputSetup::Unknown) => {}
            Err(e) => {
                link.close().await;
                return End::failed(format!("reading the pump output: {e}"));
            }
        }
    }
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
                            let (pump_pwm, ground_speed_mps, vehicle_ms) = (
                                s.state.pump_pwm,
                                s.state.ground_speed_m_s,
                                s.state.position_time_boot_ms,
                            );
                            s.track.push(TrackPoint {
                                time_us: telemetry::now_us(),
                                lat,
                                lon,
                                spraying: spraying.unwrap_or(false),
                                pump_pwm,
                                ground_speed_mps,
                                vehicle_ms,
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
    // SERVO_OUTPUT_RAW (36) is the pump as the vehicle drives it, what the flight's sprayed
    // area and record are made from: without it ArduPilot's default streams leave the record
    // to sparse samples (on SITL an aborted flight recorded twice the area it pumped).
    for (msgid, hz) in [
        (33, 5.0),
        (36, 5.0),
        (1, 1.0),
        (24, 1.0),
        (42, 2.0),
        (147, 1.0),
        (74, 2.0),
    ] {
        let _ = vehicle.request_message_interval(msgid, hz).await;
    }
    let mut flight = Flight {
        db,
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
        terrain: terrain.as_ref(),
        terrain_spacing_m: None,
    };
    let end = flight.run(cmds).await;
    flight.publish_terrain();
    let home_items = plan.vehicle_seq(0);
    let reached = flight.snapshot().0.reached_up_to.and_then(|seq| {
        let i = usize::from(seq).checked_sub(home_items)?;
        Some(resumed.as_ref().map_or(i, |r| r.original_index(i)))
    });
    let reached = reached.or(req.resume_after);
    if let Err(e) = db
        .set_plan_item_reached(id, reached.map(|r| r as i64))
        .await
    {
        tracing::error!(message = "Could not store the item reached.", flight = id, error = %e);
    }
    if end.status != "completed" {
        vehicle.spray_off().await;
    }
    subscriber.abort();
    drop(terrain);
    link.close().await;
    end
}

/// The farm's elevation models that reach the plan's positions or come within about 55 m of
/// them, merged newest first (whole models: the vehicle asks for its grid blocks around
/// where it flies, beyond the mission's own points); `None` when none does.
async fn terrain_model(
    db: &Db,
    farm_id: i64,
    plan: &Plan,
) -> Result<Option<mission_planner::Dem>, crate::error::AppError> {
    let points = plan
        .mission_items()
        .into_iter()
        .filter(|i| i.x != 0 || i.y != 0)
        .map(|i| (i.lat(), i.lon()))
        .chain(plan.home.map(|h| (h.0, h.1)));
    let (mut s, mut w, mut n, mut e) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (lat, lon) in points {
        (s, w, n, e) = (s.min(lat), w.min(lon), n.max(lat), e.max(lon));
    }
    if s > n {
        return Ok(None);
    }
    let margin = 0.0005;
    crate::services::terrain::model_over(
        db,
        farm_id,
        (s - margin, w - margin, n + margin, e + margin),
    )
    .await
}

/// The swath width in the plan's stored options (5 m when absent).
pub fn swath_of(plan: &PlanRow) -> f64 {
    serde_json::from_str::<Value>(&plan.config_json)
        .ok()
        .and_then(|v| v["swath_width"].as_f64())
        .unwrap_or(5.0)
}

struct Flight<'a> {
    db: &'a Db,
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
    /// The farm's elevation model served to the vehicle, for a terrain-frame plan.
    terrain: Option<&'a TerrainServer>,
    /// The vehicle's terrain grid, metres, once read.
    terrain_spacing_m: Option<f64>,
}

impl End {
    fn ended(status: &'static str, error: Option<String>) -> End {
        End {
            status,
            error,
            problem: None,
        }
    }

    fn failed(e: impl std::fmt::Display) -> End {
        End {
            status: "failed",
            error: Some(e.to_string()),
            problem: None,
        }
    }

    /// Failed for a reason the page words in the user's language.
    fn problem(p: Problem, e: &str) -> End {
        End {
            status: "failed",
            error: Some(e.to_owned()),
            problem: Some(p),
        }
    }
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
        self.publish_terrain();
        s
    }

    /// For a plan in the vehicle's terrain frame: refuses a vehicle whose terrain following is
    /// off (TERRAIN_ENABLE 0: ArduPilot would reject or mis-fly every terrain-frame item) and
    /// keeps its terrain grid for the page. The farm's model is served from the first frame.
    async fn terrain_on(&mut self) -> Result<(), End> {
        if !self.plan.uses_terrain_frame() {
            return Ok(());
        }
        match self.vehicle.terrain_setup().await {
            Ok(Some((false, _))) => Err(End::problem(
                Problem::VehicleTerrainOff,
                "the plan's altitudes are above the terrain, but the vehicle's terrain following \
                 is off (TERRAIN_ENABLE 0)",
            )),
            Ok(Some((true, spacing))) => {
                self.terrain_spacing_m = Some(spacing);
                self.publish_terrain();
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(End::failed(format!(
                "reading TERRAIN_ENABLE and TERRAIN_SPACING: {e}"
            ))),
        }
    }

    /// Publishes what has been served of the farm's elevation model so far.
    fn publish_terrain(&self) {
        let Some(t) = self.terrain else {
            return;
        };
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let served = TerrainServed {
            spacing_m: self.terrain_spacing_m,
            requests: load(&t.stats.requests),
            blocks_sent: load(&t.stats.blocks_sent),
            blocks_missing: load(&t.stats.blocks_missing),
        };
        self.live.send_modify(|l| l.terrain = Some(served));
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
        set_status(self.db, self.id, "uploading").await;
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
        if let Err(end) = self.terrain_on().await {
            return end;
        }
        if let Err(e) = self.vehicle.check_sprayer(self.plan).await {
            return End::failed(e.to_string());
        }
        let counts = [self.items.len(), fence.len(), rally.len()];
        self.live.send_modify(|l| l.verified = Some(counts));
        set_status(self.db, self.id, "planned").await;

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
                        return End::ended("aborted", None);
                    }
                    Some(_) => {}
                }
            }
            if let Err(e) = self.link.check_alive(self.timing.link_timeout) {
                return End::failed(e);
            }
            self.publish(Phase::Verified);
            if waiting_since.elapsed() > self.timing.start_timeout {
                return End::ended("aborted", Some("not started in time".into()));
            }
        }
        set_status(self.db, self.id, "flying").await;
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
                            set_status(self.db, self.id, status).await;
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
                    return End::ended(if done { "completed" } else { "aborted" }, None);
                }
                continue;
            }
            let at_end = s.mission_finished(last);
            if at_end {
                let since = *end_seen.get_or_insert_with(Instant::now);
                if !s.armed || !lands || since.elapsed() >= self.timing.land_wait {
                    self.coverage().await;
                    return End::ended("completed", None);
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
