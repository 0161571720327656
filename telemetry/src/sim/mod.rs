//! A simulated ArduPilot-Copter-like (or, with [`SimConfig::firmware`], PX4-like) spray
//! multicopter: the vehicle side of the mission protocol (mission, fence, rally),
//! COMMAND_LONG/COMMAND_INT with COMMAND_ACK, modes, and a kinematic
//! flight model that flies the mission in AUTO with the pump on the spray legs, reporting the
//! usual telemetry streams.
//!
//! The simulator runs as tokio tasks, either in-process on a [`Port`] ([`SimDrone::in_process`])
//! or on a socket ([`SimDrone::listen`], `udpin:` / `tcpin:`). Its clock advances a fixed
//! `tick × time_scale` of simulated time per tick, so a flight is the same whatever the machine
//! load; only the real time between telemetry samples varies. Nothing is random.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mavlink::MavHeader;
use mavlink::dialects::ardupilotmega::{
    self as apm, MavAutopilot, MavCmd, MavMissionResult, MavMissionType, MavModeFlag, MavParamType,
    MavResult, MavSeverity, MavState, MavType,
};
use num_traits::ToPrimitive;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::frame::{Frame, FrameDecoder, Msg};
use crate::link::{LinkAddress, Port};
use crate::mission_protocol::items::{
    CMD_DO_SET_ACTUATOR, CMD_DO_SET_SERVO, CMD_DO_SPRAYER, CMD_NAV_LAND, CMD_NAV_RTL,
    CMD_NAV_TAKEOFF, CMD_NAV_WAYPOINT, MissionItem, MissionKind,
};
use crate::mission_protocol::stored::{Storage, Stored, stored_item};
use crate::modes::{Firmware, mode_code, mode_name};
use crate::terrain::{TerrainCache, TerrainSource};
use crate::vehicle_state::SprayerOutput;
use crate::wpnav::ScurveLimits;

pub use config::{SimConfig, SimGround, SimSnapshot};
use wire::{header, run_tcp, run_udp, spawn_core};

/// MAV_CMD_DO_CHANGE_SPEED.
const CMD_DO_CHANGE_SPEED: u16 = 178;
/// Metres per degree of latitude (WGS84, mid latitudes).
const M_PER_DEG_LAT: f64 = 111_132.954;
/// Metres per degree of longitude at the equator.
const M_PER_DEG_LON_EQ: f64 = 111_412.84;
/// Longest step of the flight model, simulated seconds.
const MAX_SUBSTEP_S: f64 = 0.05;
/// Messages streamed by default, by message id.
const STREAMED: &[u32] = &[
    1,   // SYS_STATUS
    24,  // GPS_RAW_INT
    33,  // GLOBAL_POSITION_INT
    36,  // SERVO_OUTPUT_RAW
    42,  // MISSION_CURRENT
    74,  // VFR_HUD
    147, // BATTERY_STATUS
    242, // HOME_POSITION
];
/// Mode numbers the simulator flies (ArduPilot Copter numbering).
const MODE_STABILIZE: u32 = 0;
const MODE_AUTO: u32 = 3;
const MODE_GUIDED: u32 = 4;
const MODE_LOITER: u32 = 5;
const MODE_RTL: u32 = 6;
const MODE_LAND: u32 = 9;
const MODE_BRAKE: u32 = 17;

/// The simulator's modes (Copter numbers) as PX4 names them.
const PX4_NAMES: &[(u32, &str)] = &[
    (MODE_STABILIZE, "STABILIZED"),
    (MODE_AUTO, "MISSION"),
    (MODE_GUIDED, "OFFBOARD"),
    (MODE_LOITER, "POSCTL"),
    (MODE_RTL, "RTL"),
    (MODE_LAND, "LAND"),
    (MODE_BRAKE, "HOLD"),
];

/// A running simulated drone; its tasks stop when it is dropped or [`stopped`](Self::stop).
#[derive(Debug)]
pub struct SimDrone {
    tasks: Vec<JoinHandle<()>>,
    snapshot: Arc<Mutex<SimSnapshot>>,
    local_addr: Option<SocketAddr>,
}

impl SimDrone {
    /// Starts a drone talking through an in-process [`Port`] (what a [`crate::Vehicle`] takes).
    pub fn in_process(config: SimConfig) -> (Self, Port) {
        let (port, mut peer) = Port::pair();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Msg>();
        let header = header(&config);
        let bridge_in = tokio::spawn(async move {
            while let Some(m) = peer.outgoing.recv().await {
                // The port's GCS side is telemetry's Link/Vehicle: 255/190.
                if in_tx.send(((255, 190), m)).is_err() {
                    break;
                }
            }
        });
        let inbox = peer.inbox.clone();
        let bridge_out = tokio::spawn(async move {
            let mut h = header;
            while let Some(m) = out_rx.recv().await {
                let _ = inbox.send(Arc::new(Frame::encode(h, m)));
                h.sequence = h.sequence.wrapping_add(1);
            }
        });
        let (core, snapshot) = spawn_core(config, in_rx, out_tx);
        (
            Self {
                tasks: vec![core, bridge_in, bridge_out],
                snapshot,
                local_addr: None,
            },
            port,
        )
    }

    /// Starts a drone listening on `udpin:HOST:PORT` (answers whoever sent last) or
    /// `tcpin:HOST:PORT` (one connection at a time; a new one is accepted when it closes).
    /// Port 0 picks a free port: see [`Self::local_addr`].
    ///
    /// # Errors
    /// [`Error::BadAddress`] for any other scheme, [`Error::Io`] if the socket cannot be bound.
    pub async fn listen(address: &LinkAddress, config: SimConfig) -> Result<Self> {
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Msg>();
        let header = header(&config);
        let (transport, local_addr) = match address {
            LinkAddress::UdpIn(a) => {
                let sock = UdpSocket::bind(a.as_str())
                    .await
                    .map_err(|e| Error::io(format!("bind udp {a}"), e))?;
                let local = sock
                    .local_addr()
                    .map_err(|e| Error::io(format!("bind udp {a}"), e))?;
                (tokio::spawn(run_udp(sock, header, in_tx, out_rx)), local)
            }
            LinkAddress::TcpIn(a) => {
                let listener = TcpListener::bind(a.as_str())
                    .await
                    .map_err(|e| Error::io(format!("bind tcp {a}"), e))?;
                let local = listener
                    .local_addr()
                    .map_err(|e| Error::io(format!("bind tcp {a}"), e))?;
                (
                    tokio::spawn(run_tcp(listener, header, in_tx, out_rx)),
                    local,
                )
            }
            other => {
                return Err(Error::BadAddress {
                    address: other.to_string(),
                    reason: "the simulator listens: use udpin:HOST:PORT or tcpin:HOST:PORT".into(),
                });
            }
        };
        let (core, snapshot) = spawn_core(config, in_rx, out_tx);
        Ok(Self {
            tasks: vec![core, transport],
            snapshot,
            local_addr: Some(local_addr),
        })
    }

    /// The bound socket address (`None` in-process).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The simulator's ground truth now.
    pub fn snapshot(&self) -> SimSnapshot {
        self.snapshot.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops the simulator's tasks and waits for them to end.
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for SimDrone {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Local metric offsets (north, east) in metres from `a` to `b` (lat, lon degrees).
fn ne_between(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let kx = M_PER_DEG_LON_EQ * a.0.to_radians().cos();
    ((b.0 - a.0) * M_PER_DEG_LAT, (b.1 - a.1) * kx)
}

/// `a` moved by (north, east) metres.
fn offset(a: (f64, f64), north: f64, east: f64) -> (f64, f64) {
    let kx = M_PER_DEG_LON_EQ * a.0.to_radians().cos();
    (a.0 + north / M_PER_DEG_LAT, a.1 + east / kx)
}

/// Index of a list in `Sim::lists`.
fn list_index(t: MavMissionType) -> Option<usize> {
    match t {
        MavMissionType::MAV_MISSION_TYPE_MISSION => Some(0),
        MavMissionType::MAV_MISSION_TYPE_FENCE => Some(1),
        MavMissionType::MAV_MISSION_TYPE_RALLY => Some(2),
        _ => None,
    }
}

fn kind_of(index: usize) -> MissionKind {
    match index {
        0 => MissionKind::Mission,
        1 => MissionKind::Fence,
        _ => MissionKind::Rally,
    }
}

/// A received message with its sender (system, component).
type Incoming = ((u8, u8), Msg);

/// An upload in progress (vehicle side).
#[derive(Debug)]
struct Upload {
    list: usize,
    items: Vec<MissionItem>,
    count: u16,
    /// Simulator steps since the last request (a quiet GCS is asked again).
    quiet_steps: u32,
    retries: u32,
}

/// What RTL (mode or NAV_RETURN_TO_LAUNCH) is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RtlPhase {
    Climb,
    Return,
    Descend,
}

/// The vehicle model and its protocol state.
struct Sim {
    cfg: SimConfig,
    out: mpsc::UnboundedSender<Msg>,
    /// The last sender (system, component): where replies are addressed.
    gcs: (u8, u8),
    t: f64,
    pos: (f64, f64),
    alt: f64,
    ground_speed: f64,
    climb: f64,
    heading_deg: f64,
    armed: bool,
    landed: bool,
    mode: u32,
    lists: [Vec<MissionItem>; 3],
    upload: Option<Upload>,
    current: u16,
    /// The mission is being flown (AUTO, armed, not finished).
    mission_active: bool,
    rtl: Option<RtlPhase>,
    /// Phase of a NAV_RETURN_TO_LAUNCH item being flown in AUTO.
    nav_rtl: Option<RtlPhase>,
    rtl_target: (f64, f64),
    speed: f64,
    pump_commanded: bool,
    /// The pump was last switched by DO_SPRAYER on ArduPilot: AC_Sprayer drives it.
    via_sprayer: bool,
    sprayer: sprayer::AcSprayer,
    pump_on: bool,
    /// The PWM a DO_SET_SERVO on the pump's output last commanded it on at (a variable-rate
    /// level); `None` for the configured on value.
    pump_level: Option<u16>,
    /// The pump was last switched by PX4's DO_SET_ACTUATOR (its off level is the output's
    /// minimum).
    pump_by_actuator: bool,
    servos: [u16; 16],
    consumed_mah: f64,
    intervals: HashMap<u32, Option<f64>>,
    last_sent: HashMap<u32, f64>,
    /// Parameters set by the ground station (the rest read their defaults).
    params: HashMap<String, f64>,
    /// Terrain received over the terrain protocol (with a ground model).
    terrain: Option<TerrainCache>,
    /// Simulated time of the last terrain report and request.
    terrain_t: f64,
}

impl Sim {
    fn new(cfg: SimConfig, out: mpsc::UnboundedSender<Msg>) -> Self {
        let preset: HashMap<String, f64> = cfg.params.iter().cloned().collect();
        let cfg_terrain = cfg
            .ground
            .as_ref()
            .map(|g| TerrainCache::new(g.terrain_spacing_m));
        let mut servos = [0u16; 16];
        for s in servos.iter_mut().take(4) {
            *s = 1000;
        }
        let pump_idx = usize::from(cfg.sprayer.servo.clamp(1, 16)) - 1;
        servos[pump_idx] = cfg.pump_pwm.1;
        Self {
            pos: (cfg.home.0, cfg.home.1),
            rtl_target: (cfg.home.0, cfg.home.1),
            speed: cfg.cruise_speed_m_s,
            cfg,
            out,
            gcs: (255, 190),
            t: 0.0,
            alt: 0.0,
            ground_speed: 0.0,
            climb: 0.0,
            heading_deg: 0.0,
            armed: false,
            landed: true,
            mode: MODE_STABILIZE,
            lists: [Vec::new(), Vec::new(), Vec::new()],
            upload: None,
            current: 0,
            mission_active: false,
            rtl: None,
            nav_rtl: None,
            pump_commanded: false,
            via_sprayer: false,
            sprayer: sprayer::AcSprayer::default(),
            pump_on: false,
            pump_level: None,
            pump_by_actuator: false,
            servos,
            consumed_mah: 0.0,
            intervals: HashMap::new(),
            last_sent: HashMap::new(),
            params: preset,
            terrain: cfg_terrain,
            terrain_t: f64::NEG_INFINITY,
        }
    }

    fn snapshot(&self) -> SimSnapshot {
        SimSnapshot {
            sim_time_s: self.t,
            lat: self.pos.0,
            lon: self.pos.1,
            rel_alt_m: self.alt,
            ground_speed_m_s: self.ground_speed,
            armed: self.armed,
            landed: self.landed,
            mode: mode_name(self.cfg.firmware, self.wire_mode()),
            pump_on: self.pump_on,
            battery_pct: self.battery_pct(),
            current_seq: self.current,
            list_lengths: [
                self.lists[0].len(),
                self.lists[1].len(),
                self.lists[2].len(),
            ],
            fence_active: self.fence_active(),
            agl_m: self.cfg.ground.as_ref().and_then(|g| {
                let ground = g.source.height_amsl(self.pos.0, self.pos.1)?;
                Some(self.alt + self.cfg.home.2 - ground)
            }),
            terrain_blocks: self.terrain.as_ref().map_or((0, 0), |t| t.statistics()),
            terrain_spacing_m: self.cfg.ground.as_ref().map(|g| g.terrain_spacing_m),
        }
    }

    fn send(&self, m: Msg) {
        let _ = self.out.send(m);
    }

    fn text(&self, severity: MavSeverity, text: &str) {
        tracing::info!(message = "Simulator status text.", text);
        self.send(Msg::STATUSTEXT(apm::STATUSTEXT_DATA {
            severity,
            text: text.into(),
            ..Default::default()
        }));
    }

    fn heartbeat(&self) {
        let mut base_mode = MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
            | MavModeFlag::MAV_MODE_FLAG_STABILIZE_ENABLED;
        if self.armed {
            base_mode |= MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED;
        }
        self.send(Msg::HEARTBEAT(apm::HEARTBEAT_DATA {
            custom_mode: self.wire_mode(),
            mavtype: MavType::MAV_TYPE_QUADROTOR,
            autopilot: match self.cfg.firmware {
                Firmware::ArduPilot => MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
                Firmware::Px4 => MavAutopilot::MAV_AUTOPILOT_PX4,
            },
            base_mode,
            system_status: if self.armed {
                MavState::MAV_STATE_ACTIVE
            } else {
                MavState::MAV_STATE_STANDBY
            },
            mavlink_version: 3,
        }));
    }

    fn battery_pct(&self) -> f64 {
        (100.0 * (1.0 - self.consumed_mah / self.cfg.battery_mah)).clamp(0.0, 100.0)
    }

    fn current_a(&self) -> f64 {
        if self.armed {
            self.cfg.armed_current_a
        } else {
            0.5
        }
    }

    fn cell_mv(&self) -> u16 {
        (3500.0 + 700.0 * self.battery_pct() / 100.0).round() as u16
    }

    // ---- incoming messages -------------------------------------------------------------

    fn for_us(&self, system: u8) -> bool {
        system == 0 || system == self.cfg.system_id
    }

    #[allow(deprecated)] // MISSION_REQUEST / MISSION_SET_CURRENT: still sent by GCSs.
    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::MISSION_COUNT(c) if self.for_us(c.target_system) => {
                self.start_upload(c.mission_type, c.count)
            }
            Msg::MISSION_ITEM_INT(i) if self.for_us(i.target_system) => self.upload_item(&i),
            Msg::MISSION_REQUEST_LIST(r) if self.for_us(r.target_system) => {
                let Some(l) = list_index(r.mission_type) else {
                    return self
                        .mission_ack(r.mission_type, MavMissionResult::MAV_MISSION_UNSUPPORTED);
                };
                self.send(Msg::MISSION_COUNT(apm::MISSION_COUNT_DATA {
                    count: self.lists[l].len() as u16,
                    target_system: self.gcs.0,
                    target_component: self.gcs.1,
                    mission_type: r.mission_type,
                    ..Default::default()
                }));
            }
            Msg::MISSION_REQUEST_INT(r) if self.for_us(r.target_system) => {
                self.send_item(r.mission_type, r.seq)
            }
            Msg::MISSION_REQUEST(r) if self.for_us(r.target_system) => {
                self.send_item(r.mission_type, r.seq)
            }
            Msg::MISSION_CLEAR_ALL(c) if self.for_us(c.target_system) => {
                match list_index(c.mission_type) {
                    Some(l) => {
                        self.lists[l].clear();
                        if l == 0 {
                            self.current = 0;
                            self.mission_active = false;
                        }
                        self.mission_ack(c.mission_type, MavMissionResult::MAV_MISSION_ACCEPTED);
                    }
                    None => {
                        self.mission_ack(c.mission_type, MavMissionResult::MAV_MISSION_UNSUPPORTED)
                    }
                }
            }
            Msg::PARAM_REQUEST_READ(r) if self.for_us(r.target_system) => {
                let name = r.param_id.to_str().unwrap_or("").to_string();
                self.param_request(&name, None);
            }
            Msg::PARAM_SET(r) if self.for_us(r.target_system) => {
                let name = r.param_id.to_str().unwrap_or("").to_string();
                self.param_request(&name, Some(r.param_value));
            }
            Msg::MISSION_SET_CURRENT(s) if self.for_us(s.target_system) => {
                self.set_current(s.seq);
            }
            Msg::SET_MODE(m) if self.for_us(m.target_system) => {
                if let Some(mode) = self.mode_from_wire(m.custom_mode) {
                    let _ = self.set_mode(mode);
                }
            }
            Msg::COMMAND_LONG(c) if self.for_us(c.target_system) => {
                let p = [
                    c.param1, c.param2, c.param3, c.param4, c.param5, c.param6, c.param7,
                ];
                let result = self.command(c.command, p);
                self.ack(c.command, result);
            }
            Msg::COMMAND_INT(c) if self.for_us(c.target_system) => {
                let p = [
                    c.param1, c.param2, c.param3, c.param4, c.x as f32, c.y as f32, c.z,
                ];
                let result = self.command(c.command, p);
                self.ack(c.command, result);
            }
            Msg::TERRAIN_DATA(d) => {
                if let Some(t) = self.terrain.as_mut() {
                    t.apply(&d);
                }
            }
            Msg::TERRAIN_CHECK(c) => {
                let (lat, lon) = (f64::from(c.lat) * 1e-7, f64::from(c.lon) * 1e-7);
                if let Some(t) = self.terrain.as_mut() {
                    t.want(lat, lon);
                }
                self.terrain_report(c.lat, c.lon);
            }
            _ => {}
        }
    }

    // ---- terrain (ArduPilot AP_Terrain, TerrainGCS.cpp) ---------------------------------
}

mod commands;
mod config;
mod flight;
mod mission;
mod params;
mod sprayer;
mod streams;
mod terrain;
#[cfg(test)]
mod tests;
mod wire;
