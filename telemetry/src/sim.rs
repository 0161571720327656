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

/// How the simulated drone is built and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// MAVLink system id (ArduPilot's default is 1).
    pub system_id: u8,
    /// MAVLink component id (1 = autopilot).
    pub component_id: u8,
    /// Home: where the drone stands at start (lat, lon degrees, altitude AMSL metres).
    pub home: (f64, f64, f64),
    /// Simulated seconds per real second (clamped to 0.01–10 000).
    pub time_scale: f64,
    /// Real time between simulation steps.
    pub tick: Duration,
    /// Horizontal speed in AUTO and RTL until a DO_CHANGE_SPEED item says otherwise, m/s.
    pub cruise_speed_m_s: f64,
    /// Climb rate, m/s.
    pub climb_rate_m_s: f64,
    /// Descent rate when landing, m/s.
    pub land_speed_m_s: f64,
    /// RTL climbs to at least this altitude above home before returning, metres.
    pub rtl_alt_m: f64,
    /// The pump runs only above this ground speed (ArduPilot SPRAY_SPEED_MIN), m/s.
    pub spray_min_speed_m_s: f64,
    /// Servo output of the pump and its on threshold.
    pub sprayer: SprayerOutput,
    /// PWM the pump output shows when on / off, µs.
    pub pump_pwm: (u16, u16),
    /// Default rate of every telemetry stream, per simulated second.
    pub stream_hz: f64,
    /// Real-time period of the HEARTBEAT.
    pub heartbeat_period: Duration,
    /// Battery capacity, mAh.
    pub battery_mah: f64,
    /// Current drawn while armed, A.
    pub armed_current_a: f64,
    /// Series cells of the battery.
    pub battery_cells: u8,
    /// A pre-arm check that fails: arming is refused with `PreArm: <text>`.
    pub prearm_failure: Option<String>,
    /// Which autopilot it acts as: ArduPilot (home at mission seq 0, Copter mode numbers) or
    /// PX4 (the mission starts at seq 0, PX4's main/sub mode encoding).
    pub firmware: Firmware,
    /// The ground under the simulator and its terrain following (`None`: flat ground at
    /// home's altitude, no terrain protocol).
    pub ground: Option<SimGround>,
}

/// The simulator's ground model, and how it asks for terrain like ArduPilot with
/// `TERRAIN_ENABLE = 1`: a TERRAIN_REPORT and, for any grid block it lacks, a TERRAIN_REQUEST
/// each simulated second; terrain-frame mission items are flown at their height above the
/// terrain it was sent (not its own ground), so wrong answers show as a wrong height.
#[derive(Clone)]
pub struct SimGround {
    /// True ground height AMSL (what the vehicle would hit).
    pub source: Arc<dyn TerrainSource>,
    /// ArduPilot's `TERRAIN_SPACING`, metres (its default is 100; spray fields want 5–10).
    pub terrain_spacing_m: u16,
}

impl std::fmt::Debug for SimGround {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimGround")
            .field("terrain_spacing_m", &self.terrain_spacing_m)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SimGround {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.source, &other.source)
            && self.terrain_spacing_m == other.terrain_spacing_m
    }
}

impl SimConfig {
    /// A 6S spray quad at `home`: 5 m/s, 16 Ah, 4 Hz streams, real time (scale 1).
    pub fn new(home: (f64, f64, f64)) -> Self {
        Self {
            system_id: 1,
            component_id: 1,
            home,
            time_scale: 1.0,
            tick: Duration::from_millis(20),
            cruise_speed_m_s: 5.0,
            climb_rate_m_s: 2.5,
            land_speed_m_s: 1.5,
            rtl_alt_m: 10.0,
            spray_min_speed_m_s: 1.0,
            sprayer: SprayerOutput::default(),
            pump_pwm: (1900, 1000),
            stream_hz: 4.0,
            heartbeat_period: Duration::from_secs(1),
            battery_mah: 16_000.0,
            armed_current_a: 40.0,
            battery_cells: 6,
            prearm_failure: None,
            firmware: Firmware::ArduPilot,
            ground: None,
        }
    }

    fn dt_s(&self) -> f64 {
        self.tick.as_secs_f64() * self.time_scale.clamp(0.01, 10_000.0)
    }
}

/// The simulator's ground truth at one moment (for tests and displays).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SimSnapshot {
    /// Simulated seconds since start.
    pub sim_time_s: f64,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Altitude above home, metres.
    pub rel_alt_m: f64,
    /// Ground speed, m/s.
    pub ground_speed_m_s: f64,
    /// Motors armed.
    pub armed: bool,
    /// On the ground.
    pub landed: bool,
    /// Flight mode name.
    pub mode: String,
    /// Pump output on.
    pub pump_on: bool,
    /// Battery remaining, percent.
    pub battery_pct: f64,
    /// Current mission item.
    pub current_seq: u16,
    /// Items held in the mission, fence and rally lists.
    pub list_lengths: [usize; 3],
    /// The fence would act on a breach (its parameters say so).
    pub fence_active: bool,
    /// Height above the ground model, metres (`None` without one).
    pub agl_m: Option<f64>,
    /// Terrain 4 × 4 blocks (pending, loaded), as the vehicle's TERRAIN_REPORT says.
    pub terrain_blocks: (u16, u16),
    /// The terrain grid the vehicle keeps (TERRAIN_SPACING), metres; `None` without a ground.
    pub terrain_spacing_m: Option<u16>,
}

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

fn header(config: &SimConfig) -> MavHeader {
    MavHeader {
        system_id: u32::from(config.system_id),
        component_id: config.component_id,
        sequence: 0,
    }
}

fn spawn_core(
    config: SimConfig,
    mut input: mpsc::UnboundedReceiver<Incoming>,
    out: mpsc::UnboundedSender<Msg>,
) -> (JoinHandle<()>, Arc<Mutex<SimSnapshot>>) {
    let mut sim = Sim::new(config, out);
    let snapshot = Arc::new(Mutex::new(sim.snapshot()));
    let shared = snapshot.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(sim.cfg.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat = tokio::time::interval(sim.cfg.heartbeat_period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = false;
        loop {
            tokio::select! {
                m = input.recv() => match m {
                    Some((from, m)) => {
                        let first = !heard;
                        heard = true;
                        sim.gcs = from;
                        sim.handle(m);
                        if first {
                            // A udpin peer is known only from its first message: say hello now.
                            sim.heartbeat();
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => sim.step(),
                _ = heartbeat.tick() => sim.heartbeat(),
            }
            if let Ok(mut s) = shared.lock() {
                *s = sim.snapshot();
            }
            if sim.out.is_closed() {
                break;
            }
        }
    });
    (task, snapshot)
}

/// Decodes `bytes` and hands every whole frame to the simulator; false once it has stopped.
fn forward_frames(
    decoder: &mut FrameDecoder,
    bytes: &[u8],
    input: &mpsc::UnboundedSender<Incoming>,
) -> bool {
    decoder.push(bytes);
    while let Some(f) = decoder.next_frame() {
        if input
            .send(((f.system_id(), f.header.component_id), f.msg))
            .is_err()
        {
            return false;
        }
    }
    true
}

/// Encodes `m` under `header` and advances its sequence number.
fn encode_next(header: &mut MavHeader, m: Msg) -> Frame {
    let frame = Frame::encode(*header, m);
    header.sequence = header.sequence.wrapping_add(1);
    frame
}

/// UDP transport: decode what arrives, answer the last sender.
async fn run_udp(
    sock: UdpSocket,
    mut header: MavHeader,
    input: mpsc::UnboundedSender<Incoming>,
    mut out: mpsc::UnboundedReceiver<Msg>,
) {
    let mut buf = vec![0u8; 65_536];
    let mut decoder = FrameDecoder::new();
    let mut peer: Option<SocketAddr> = None;
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                peer = Some(from);
                if !forward_frames(&mut decoder, &buf[..n], &input) {
                    return;
                }
            }
            m = out.recv() => {
                let Some(m) = m else { return };
                if let Some(p) = peer {
                    let frame = encode_next(&mut header, m);
                    if let Err(error) = sock.send_to(&frame.raw, p).await {
                        crate::events::link_read_failed(&error);
                    }
                }
            }
        }
    }
}

/// TCP transport: one connection at a time; output while nobody is connected is dropped.
async fn run_tcp(
    listener: TcpListener,
    mut header: MavHeader,
    input: mpsc::UnboundedSender<Incoming>,
    mut out: mpsc::UnboundedReceiver<Msg>,
) {
    let mut buf = vec![0u8; 8192];
    let mut conn: Option<(TcpStream, FrameDecoder)> = None;
    loop {
        match conn.as_mut() {
            None => {
                tokio::select! {
                    r = listener.accept() => {
                        if let Ok((stream, _)) = r {
                            let _ = stream.set_nodelay(true);
                            conn = Some((stream, FrameDecoder::new()));
                        }
                    }
                    m = out.recv() => if m.is_none() { return },
                }
            }
            Some((stream, decoder)) => {
                tokio::select! {
                    r = stream.read(&mut buf) => match r {
                        Ok(0) | Err(_) => conn = None,
                        Ok(n) => if !forward_frames(decoder, &buf[..n], &input) {
                            return;
                        },
                    },
                    m = out.recv() => {
                        let Some(m) = m else { return };
                        let frame = encode_next(&mut header, m);
                        if stream.write_all(&frame.raw).await.is_err() {
                            conn = None;
                        }
                    }
                }
            }
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
    pump_on: bool,
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
            pump_on: false,
            servos,
            consumed_mah: 0.0,
            intervals: HashMap::new(),
            last_sent: HashMap::new(),
            params: HashMap::new(),
            terrain: cfg_terrain,
            terrain_t: f64::NEG_INFINITY,
        }
    }

    /// The parameters this personality has, with their types and current values. ArduPilot:
    /// Copter defaults (FENCE_TYPE 7 = altitude, circle and polygon; FENCE_ACTION 1 = RTL;
    /// FENCE_ENABLE 0; RTL_ALT in cm; FENCE_TOTAL / RALLY_TOTAL count what is stored). PX4:
    /// GF_ACTION 2 (hold), RTL_RETURN_ALT in metres.
    fn param_table(&self) -> Vec<(&'static str, MavParamType, f64)> {
        use MavParamType::{MAV_PARAM_TYPE_INT8 as I8, MAV_PARAM_TYPE_INT16 as I16};
        use MavParamType::{MAV_PARAM_TYPE_INT32 as I32, MAV_PARAM_TYPE_REAL32 as R32};
        let get = |name: &str, default: f64| self.params.get(name).copied().unwrap_or(default);
        match self.cfg.firmware {
            Firmware::ArduPilot => vec![
                ("FENCE_ENABLE", I8, get("FENCE_ENABLE", 0.0)),
                ("FENCE_TYPE", I8, get("FENCE_TYPE", 7.0)),
                ("FENCE_ACTION", I8, get("FENCE_ACTION", 1.0)),
                ("FENCE_MARGIN", R32, get("FENCE_MARGIN", 2.0)),
                ("FENCE_TOTAL", I16, self.fence_total()),
                ("RALLY_TOTAL", I8, self.lists[2].len() as f64),
                (
                    "RTL_ALT",
                    I32,
                    get("RTL_ALT", (self.cfg.rtl_alt_m * 100.0).round()),
                ),
                ("SPRAY_ENABLE", I8, get("SPRAY_ENABLE", 1.0)),
                // AC_Sprayer.h: `AP_Float _speed_min` in cm/s (AC_Sprayer.cpp `SPEED_MIN`).
                // The other SPRAY_* exist only while SPRAY_ENABLE is 1 (AP_PARAM_FLAG_ENABLE on
                // ENABLE): see `param_table`'s filter below.
                (
                    "SPRAY_SPEED_MIN",
                    R32,
                    get(
                        "SPRAY_SPEED_MIN",
                        (self.cfg.spray_min_speed_m_s * 100.0).round(),
                    ),
                ),
                (
                    "SERVO9_FUNCTION",
                    I16,
                    if self.cfg.sprayer.servo == 9 {
                        22.0
                    } else {
                        0.0
                    },
                ),
                // AP_Terrain.cpp: TERRAIN_ENABLE (AP_Int8, default 1) and TERRAIN_SPACING
                // (AP_Int16, metres, default 100). This vehicle follows terrain only when it
                // has a ground to stand on.
                (
                    "TERRAIN_ENABLE",
                    I8,
                    get(
                        "TERRAIN_ENABLE",
                        f64::from(u8::from(self.cfg.ground.is_some())),
                    ),
                ),
                (
                    "TERRAIN_SPACING",
                    I16,
                    self.cfg
                        .ground
                        .as_ref()
                        .map_or(100.0, |g| f64::from(g.terrain_spacing_m)),
                ),
            ]
            .into_iter()
            .filter(|(name, _, _)| {
                !name.starts_with("SPRAY_") || *name == "SPRAY_ENABLE" || self.sprayer_enabled()
            })
            .collect(),
            Firmware::Px4 => vec![
                ("GF_ACTION", I32, get("GF_ACTION", 2.0)),
                (
                    "RTL_RETURN_ALT",
                    R32,
                    get("RTL_RETURN_ALT", self.cfg.rtl_alt_m),
                ),
            ],
        }
    }

    /// ArduPilot's sprayer is switched on (SPRAY_ENABLE 1); PX4 has no such switch.
    fn sprayer_enabled(&self) -> bool {
        self.cfg.firmware != Firmware::ArduPilot
            || self.params.get("SPRAY_ENABLE").copied().unwrap_or(1.0) >= 1.0
    }

    /// ArduPilot's FENCE_TOTAL after a fence upload: the stored vertices and circles, plus 2
    /// once there are at least 3 (AC_PolyFence_loader::write_fence: `new_total =
    /// total_vertex_count + 2`; seen on ArduCopter SITL: 12 vertices gave 14).
    fn fence_total(&self) -> f64 {
        let n = self.lists[1]
            .iter()
            .filter(|i| (5001..=5004).contains(&i.command))
            .count();
        if n >= 3 { (n + 2) as f64 } else { n as f64 }
    }

    /// Answers PARAM_REQUEST_READ / PARAM_SET for `name` (silence for names it lacks, as
    /// ArduPilot); a set value is stored unless the parameter is a count the vehicle keeps.
    fn param_request(&mut self, name: &str, set: Option<f32>) {
        let table = self.param_table();
        let Some(index) = table.iter().position(|(n, _, _)| *n == name) else {
            return;
        };
        let kind = table[index].1;
        if let Some(raw) = set
            && !name.ends_with("_TOTAL")
        {
            let value = crate::params::decode_param(self.cfg.firmware, raw, kind);
            self.params.insert(name.to_string(), value);
            match name {
                "RTL_ALT" => self.cfg.rtl_alt_m = value / 100.0,
                "RTL_RETURN_ALT" => self.cfg.rtl_alt_m = value,
                "SPRAY_SPEED_MIN" => self.cfg.spray_min_speed_m_s = value / 100.0,
                // TerrainGCS.cpp drops cached blocks of another spacing and asks again.
                "TERRAIN_SPACING" => {
                    if let Some(g) = self.cfg.ground.as_mut() {
                        g.terrain_spacing_m = value.clamp(1.0, f64::from(u16::MAX)) as u16;
                        self.terrain = Some(TerrainCache::new(g.terrain_spacing_m));
                    }
                }
                _ => {}
            }
        }
        let value = self.param_table()[index].2;
        self.send(Msg::PARAM_VALUE(apm::PARAM_VALUE_DATA {
            param_value: crate::params::encode_param(self.cfg.firmware, value, kind),
            param_count: table.len() as u16,
            param_index: index as u16,
            param_id: name.into(),
            param_type: kind,
        }));
    }

    /// True when the fence is on and would act on a breach (ArduPilot FENCE_ENABLE 1 with a
    /// polygon in FENCE_TYPE and an action; PX4 GF_ACTION not 0).
    fn fence_active(&self) -> bool {
        let get = |n: &str| {
            self.param_table()
                .into_iter()
                .find(|(name, _, _)| *name == n)
                .map_or(0.0, |(_, _, v)| v)
        };
        match self.cfg.firmware {
            Firmware::ArduPilot => {
                get("FENCE_ENABLE") >= 1.0
                    && (get("FENCE_TYPE") as i64) & 4 != 0
                    && get("FENCE_ACTION") >= 1.0
            }
            Firmware::Px4 => get("GF_ACTION") >= 1.0,
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

    /// `send_terrain_report`: the terrain at (lat, lon) and above it, with the cache figures.
    fn terrain_report(&self, lat: i32, lon: i32) {
        let Some(t) = self.terrain.as_ref() else {
            return;
        };
        let here = t.height_amsl(f64::from(lat) * 1e-7, f64::from(lon) * 1e-7);
        let home = t.height_amsl(self.cfg.home.0, self.cfg.home.1);
        let spacing = match (here, home) {
            (Some(_), Some(_)) => self.cfg.ground.as_ref().map_or(0, |g| g.terrain_spacing_m),
            _ => 0,
        };
        let terrain = here.unwrap_or(0.0);
        let current = self.alt + self.cfg.home.2 - terrain;
        let (pending, loaded) = t.statistics();
        self.send(Msg::TERRAIN_REPORT(apm::TERRAIN_REPORT_DATA {
            lat,
            lon,
            terrain_height: terrain as f32,
            current_height: if spacing == 0 { 0.0 } else { current as f32 },
            spacing,
            pending,
            loaded,
        }));
    }

    /// `send_request`, once a simulated second: a report for where it is, then a request for
    /// the blocks it lacks (its own first, then those of the mission's positions).
    fn terrain_tick(&mut self) {
        if self.terrain.is_none() || self.t - self.terrain_t < 1.0 {
            return;
        }
        self.terrain_t = self.t;
        let (lat, lon) = self.pos;
        self.terrain_report((lat * 1e7) as i32, (lon * 1e7) as i32);
        let items: Vec<(f64, f64)> = self.lists[0]
            .iter()
            .filter(|i| matches!(i.frame, 10 | 11) && (i.x != 0 || i.y != 0))
            .map(|i| (i.lat(), i.lon()))
            .collect();
        let Some(t) = self.terrain.as_mut() else {
            return;
        };
        let mut req = t.request(lat, lon);
        if req.is_none() {
            for (la, lo) in items {
                if let Some(r) = t.request(la, lo) {
                    req = Some(r);
                    break;
                }
            }
        }
        if let Some(r) = req {
            self.send(Msg::TERRAIN_REQUEST(r));
        }
    }

    /// The altitude above home a positioned item asks for here: frame 0 is AMSL, 10/11 above
    /// the terrain it holds for this position (`None` while that terrain has not arrived),
    /// the rest above home.
    fn item_target_alt(&self, it: &MissionItem) -> Option<f64> {
        let z = f64::from(it.z);
        match it.frame {
            0 | 5 => Some(z - self.cfg.home.2),
            10 | 11 => {
                let t = self.terrain.as_ref()?;
                let ground = t.height_amsl(self.pos.0, self.pos.1)?;
                Some(z + ground - self.cfg.home.2)
            }
            _ => Some(z),
        }
    }

    fn ack(&self, command: MavCmd, result: MavResult) {
        self.send(Msg::COMMAND_ACK(apm::COMMAND_ACK_DATA {
            command,
            result,
            target_system: self.gcs.0,
            target_component: self.gcs.1,
            ..Default::default()
        }));
    }

    fn mission_ack(&self, mission_type: MavMissionType, result: MavMissionResult) {
        self.send(Msg::MISSION_ACK(apm::MISSION_ACK_DATA {
            target_system: self.gcs.0,
            target_component: self.gcs.1,
            mavtype: result,
            mission_type,
            ..Default::default()
        }));
    }

    fn request(&self, mission_type: MavMissionType, seq: u16) {
        self.send(Msg::MISSION_REQUEST_INT(apm::MISSION_REQUEST_INT_DATA {
            seq,
            target_system: self.gcs.0,
            target_component: self.gcs.1,
            mission_type,
        }));
    }

    fn start_upload(&mut self, mission_type: MavMissionType, count: u16) {
        let Some(list) = list_index(mission_type) else {
            return self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_UNSUPPORTED);
        };
        if count == 0 {
            self.lists[list].clear();
            self.upload = None;
            return self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_ACCEPTED);
        }
        self.upload = Some(Upload {
            list,
            items: Vec::with_capacity(usize::from(count)),
            count,
            quiet_steps: 0,
            retries: 0,
        });
        self.request(mission_type, 0);
    }

    fn upload_item(&mut self, m: &apm::MISSION_ITEM_INT_DATA) {
        let Some(up) = self.upload.as_mut() else {
            return;
        };
        if list_index(m.mission_type) != Some(up.list) {
            return;
        }
        let expected = up.items.len() as u16;
        if m.seq != expected {
            // A duplicate or an item out of order: ask again for the one we need.
            let mt = m.mission_type;
            return self.request(mt, expected);
        }
        let item = MissionItem::from_mav(m);
        // The autopilot converts (or refuses) each item as it arrives, by the same table the
        // ground station verifies against.
        let kept = match stored_item(
            Storage::of(self.cfg.firmware),
            kind_of(up.list),
            m.seq,
            &item,
        ) {
            Ok(Stored::Item(kept)) => kept,
            Ok(Stored::CommandOnly(_)) => MissionItem {
                frame: 0,
                z: self.cfg.home.2 as f32,
                ..MissionItem::nav(CMD_NAV_WAYPOINT, self.cfg.home.0, self.cfg.home.1, 0.0)
            },
            Err(result) => {
                self.upload = None;
                return self.mission_ack(m.mission_type, result);
            }
        };
        up.items.push(kept);
        up.quiet_steps = 0;
        up.retries = 0;
        if up.items.len() < usize::from(up.count) {
            let next = up.items.len() as u16;
            return self.request(m.mission_type, next);
        }
        let Some(up) = self.upload.take() else {
            return;
        };
        let stored = up.items;
        let n = stored.len();
        self.lists[up.list] = stored;
        if up.list == 0 {
            self.current = self.current.min(n.saturating_sub(1) as u16);
            self.text(
                MavSeverity::MAV_SEVERITY_INFO,
                &format!("Mission: {} WP", n.saturating_sub(1)),
            );
        }
        self.mission_ack(m.mission_type, MavMissionResult::MAV_MISSION_ACCEPTED);
    }

    fn send_item(&self, mission_type: MavMissionType, seq: u16) {
        let Some(l) = list_index(mission_type) else {
            return self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_UNSUPPORTED);
        };
        match self.lists[l].get(usize::from(seq)) {
            Some(it) => match it.to_mav(seq, kind_of(l), self.gcs) {
                Ok(mut m) => {
                    m.current = u8::from(l == 0 && seq == self.current);
                    self.send(Msg::MISSION_ITEM_INT(m));
                }
                Err(_) => self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_ERROR),
            },
            None => self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_INVALID_SEQUENCE),
        }
    }

    fn has_mission(&self) -> bool {
        self.lists[0].len() >= 2
    }

    fn send_mission_current(&self) {
        self.send(Msg::MISSION_CURRENT(apm::MISSION_CURRENT_DATA {
            seq: self.current,
            total: self.lists[0].len().saturating_sub(1) as u16,
            ..Default::default()
        }));
    }

    /// The mode as HEARTBEAT.custom_mode carries it for this firmware.
    fn wire_mode(&self) -> u32 {
        match self.cfg.firmware {
            Firmware::ArduPilot => self.mode,
            Firmware::Px4 => PX4_NAMES
                .iter()
                .find(|(m, _)| *m == self.mode)
                .and_then(|(_, name)| mode_code(Firmware::Px4, name))
                .map_or(0, |c| c.custom_mode),
        }
    }

    /// The simulator's mode for a custom_mode word of this firmware, if it has one.
    fn mode_from_wire(&self, wire: u32) -> Option<u32> {
        match self.cfg.firmware {
            Firmware::ArduPilot => Some(wire),
            Firmware::Px4 => {
                let name = mode_name(Firmware::Px4, wire);
                PX4_NAMES.iter().find(|(_, n)| *n == name).map(|(m, _)| *m)
            }
        }
    }

    /// The first mission item that is flown: 1 on ArduPilot (seq 0 is home), 0 on PX4.
    fn first_seq(&self) -> u16 {
        u16::from(self.cfg.firmware == Firmware::ArduPilot)
    }

    /// Sets the current mission item; a flying AUTO mission continues from it.
    fn set_current(&mut self, seq: u16) -> bool {
        if usize::from(seq) >= self.lists[0].len() {
            return false;
        }
        self.current = seq.max(self.first_seq());
        if self.mode == MODE_AUTO && self.mission_active {
            self.run_do_items();
        }
        self.send_mission_current();
        true
    }

    fn set_mode(&mut self, mode: u32) -> MavResult {
        let supported = [
            MODE_STABILIZE,
            MODE_AUTO,
            MODE_GUIDED,
            MODE_LOITER,
            MODE_RTL,
            MODE_LAND,
            MODE_BRAKE,
        ];
        if !supported.contains(&mode) {
            return MavResult::MAV_RESULT_UNSUPPORTED;
        }
        if mode == MODE_AUTO && !self.has_mission() {
            self.text(
                MavSeverity::MAV_SEVERITY_WARNING,
                "Mode change to AUTO failed: no mission",
            );
            return MavResult::MAV_RESULT_DENIED;
        }
        if mode == self.mode {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        self.mode = mode;
        self.rtl = None;
        self.nav_rtl = None;
        self.mission_active = false;
        match mode {
            MODE_AUTO if self.armed => self.begin_mission(None),
            MODE_RTL => self.rtl = Some(self.begin_rtl()),
            _ => {}
        }
        self.heartbeat();
        MavResult::MAV_RESULT_ACCEPTED
    }

    fn command(&mut self, command: MavCmd, p: [f32; 7]) -> MavResult {
        use MavCmd::*;
        match command {
            MAV_CMD_COMPONENT_ARM_DISARM => {
                if p[0] >= 0.5 {
                    self.arm(p[1] == 2989.0)
                } else {
                    self.disarm(p[1] == 21196.0)
                }
            }
            MAV_CMD_DO_SET_MODE => {
                if (p[0] as u32) & 1 == 0 {
                    return MavResult::MAV_RESULT_UNSUPPORTED;
                }
                // ArduPilot: param2 is the mode number; PX4: param2 main, param3 sub mode.
                let wire = match self.cfg.firmware {
                    Firmware::ArduPilot => p[1] as u32,
                    Firmware::Px4 => ((p[2] as u32) << 24) | ((p[1] as u32) << 16),
                };
                match self.mode_from_wire(wire) {
                    Some(mode) => self.set_mode(mode),
                    None => MavResult::MAV_RESULT_UNSUPPORTED,
                }
            }
            MAV_CMD_MISSION_START => {
                if !self.has_mission() {
                    return MavResult::MAV_RESULT_FAILED;
                }
                if !self.armed {
                    self.text(
                        MavSeverity::MAV_SEVERITY_WARNING,
                        "Mission start: arm first",
                    );
                    return MavResult::MAV_RESULT_FAILED;
                }
                // ArduCopter's handle_MAV_CMD_MISSION_START: "first-item/last item not
                // supported" — any non-zero param1/param2 is DENIED; it starts or resumes
                // from the current item.
                if self.cfg.firmware == Firmware::ArduPilot && (p[0] != 0.0 || p[1] != 0.0) {
                    return MavResult::MAV_RESULT_DENIED;
                }
                let first = (p[0] >= 1.0).then_some(p[0] as u16);
                if let Some(f) = first
                    && usize::from(f) >= self.lists[0].len()
                {
                    return MavResult::MAV_RESULT_DENIED;
                }
                self.mode = MODE_AUTO;
                self.rtl = None;
                self.nav_rtl = None;
                self.begin_mission(first);
                self.heartbeat();
                MavResult::MAV_RESULT_ACCEPTED
            }
            MAV_CMD_DO_SET_MISSION_CURRENT => {
                if self.set_current(p[0] as u16) {
                    MavResult::MAV_RESULT_ACCEPTED
                } else {
                    MavResult::MAV_RESULT_DENIED
                }
            }
            MAV_CMD_SET_MESSAGE_INTERVAL => {
                let id = p[0] as u32;
                let us = p[1];
                let interval = if us < 0.0 {
                    None
                } else if us == 0.0 {
                    Some(1.0 / self.cfg.stream_hz.max(0.01))
                } else {
                    Some(f64::from(us) / 1e6)
                };
                self.intervals.insert(id, interval);
                MavResult::MAV_RESULT_ACCEPTED
            }
            MAV_CMD_REQUEST_MESSAGE => {
                let id = p[0] as u32;
                if id == 0 {
                    self.heartbeat();
                    MavResult::MAV_RESULT_ACCEPTED
                } else if STREAMED.contains(&id) {
                    self.send_stream(id);
                    MavResult::MAV_RESULT_ACCEPTED
                } else {
                    MavResult::MAV_RESULT_UNSUPPORTED
                }
            }
            MAV_CMD_DO_SPRAYER | MAV_CMD_DO_SET_SERVO | MAV_CMD_DO_SET_ACTUATOR => {
                let item = MissionItem {
                    command: command.to_u16().unwrap_or(0),
                    frame: 2,
                    params: [p[0], p[1], p[2], p[3]],
                    x: 0,
                    y: 0,
                    z: 0.0,
                    autocontinue: true,
                };
                self.do_item(&item);
                MavResult::MAV_RESULT_ACCEPTED
            }
            MAV_CMD_DO_CHANGE_SPEED => {
                if p[1] > 0.0 {
                    self.speed = f64::from(p[1]);
                }
                MavResult::MAV_RESULT_ACCEPTED
            }
            _ => MavResult::MAV_RESULT_UNSUPPORTED,
        }
    }

    fn arm(&mut self, force: bool) -> MavResult {
        if self.armed {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        if !force {
            let reason = if let Some(f) = &self.cfg.prearm_failure {
                Some(format!("PreArm: {f}"))
            } else if !self.has_mission() {
                Some("PreArm: No mission loaded".to_string())
            } else if matches!(self.mode, MODE_RTL | MODE_LAND | MODE_BRAKE) {
                Some("Arm: Mode not armable".to_string())
            } else if self.battery_pct() < 20.0 {
                Some("PreArm: Battery below minimum arming capacity".to_string())
            } else {
                None
            };
            if let Some(reason) = reason {
                self.text(MavSeverity::MAV_SEVERITY_CRITICAL, &reason);
                return MavResult::MAV_RESULT_FAILED;
            }
        }
        self.armed = true;
        self.text(MavSeverity::MAV_SEVERITY_INFO, "Arming motors");
        if self.mode == MODE_AUTO {
            self.begin_mission(None);
        }
        self.heartbeat();
        MavResult::MAV_RESULT_ACCEPTED
    }

    fn disarm(&mut self, force: bool) -> MavResult {
        if !self.armed {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        if !self.landed && !force {
            self.text(
                MavSeverity::MAV_SEVERITY_CRITICAL,
                "Disarm: vehicle is flying",
            );
            return MavResult::MAV_RESULT_FAILED;
        }
        self.do_disarm();
        MavResult::MAV_RESULT_ACCEPTED
    }

    fn do_disarm(&mut self) {
        self.armed = false;
        self.mission_active = false;
        self.ground_speed = 0.0;
        self.climb = 0.0;
        if !self.landed {
            // Forced disarm in the air: the model drops it where it is.
            self.alt = 0.0;
            self.landed = true;
        }
        self.text(MavSeverity::MAV_SEVERITY_INFO, "Disarming motors");
        self.update_outputs();
        self.heartbeat();
    }

    // ---- mission execution -------------------------------------------------------------

    fn begin_mission(&mut self, first: Option<u16>) {
        let n = self.lists[0].len() as u16;
        let mut start = first.unwrap_or(self.current).max(self.first_seq());
        if start >= n {
            start = self.first_seq();
        }
        self.current = start;
        self.mission_active = true;
        self.run_do_items();
        self.send_mission_current();
    }

    /// Executes DO items from `current` on until a NAV item (the next target) or the end.
    fn run_do_items(&mut self) {
        while let Some(it) = self.lists[0].get(usize::from(self.current)).copied() {
            if it.is_nav() {
                return;
            }
            self.do_item(&it);
            self.current += 1;
        }
        // Past the last item: the mission is complete; hold where we are.
        self.current = self.lists[0].len().saturating_sub(1) as u16;
        if self.mission_active {
            self.mission_active = false;
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Mission complete");
        }
    }

    fn do_item(&mut self, it: &MissionItem) {
        if it.command == CMD_DO_CHANGE_SPEED && it.params[1] > 0.0 {
            self.speed = f64::from(it.params[1]);
            return;
        }
        let pump_servo = f32::from(self.cfg.sprayer.servo);
        let applies = match it.command {
            CMD_DO_SPRAYER | CMD_DO_SET_ACTUATOR => true,
            CMD_DO_SET_SERVO => it.params[0] == pump_servo,
            _ => false,
        };
        if it.command == CMD_DO_SET_SERVO && !applies {
            let ch = it.params[0] as usize;
            if (1..=16).contains(&ch) {
                self.servos[ch - 1] = it.params[1].clamp(0.0, 65535.0) as u16;
            }
            return;
        }
        if applies && let Some(on) = it.spray_command() {
            self.pump_commanded = on;
            self.update_outputs();
        }
    }

    fn nav_reached(&mut self) {
        // Report where the item was reached with the outputs as they were on the way.
        self.send_stream(36);
        self.send_stream(33);
        self.send(Msg::MISSION_ITEM_REACHED(apm::MISSION_ITEM_REACHED_DATA {
            seq: self.current,
        }));
        self.text(
            MavSeverity::MAV_SEVERITY_INFO,
            &format!("Reached command #{}", self.current),
        );
        if usize::from(self.current) + 1 >= self.lists[0].len() {
            self.mission_active = false;
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Mission complete");
            return;
        }
        self.current += 1;
        self.run_do_items();
        self.send_mission_current();
    }

    /// Picks the RTL destination (the nearest of home and the rally points); the first phase.
    fn begin_rtl(&mut self) -> RtlPhase {
        let home = (self.cfg.home.0, self.cfg.home.1);
        let here = self.pos;
        let dist = |p: (f64, f64)| {
            let (n, e) = ne_between(here, p);
            n.hypot(e)
        };
        self.rtl_target = self.lists[2]
            .iter()
            .map(|r| (r.lat(), r.lon()))
            .chain(std::iter::once(home))
            .min_by(|a, b| dist(*a).total_cmp(&dist(*b)))
            .unwrap_or(home);
        if self.landed {
            RtlPhase::Descend
        } else {
            RtlPhase::Climb
        }
    }

    // ---- flight model ------------------------------------------------------------------

    /// Moves horizontally toward `to` at `speed`; true when there.
    fn move_to(&mut self, to: (f64, f64), speed: f64, dt: f64) -> bool {
        let (n, e) = ne_between(self.pos, to);
        let d = n.hypot(e);
        let step = speed * dt;
        if d < 1e-3 {
            self.pos = to;
            self.ground_speed = 0.0;
            return true;
        }
        self.heading_deg = e.atan2(n).to_degrees().rem_euclid(360.0);
        if d <= step {
            self.pos = to;
            self.ground_speed = d / dt;
            true
        } else {
            self.pos = offset(self.pos, n / d * step, e / d * step);
            self.ground_speed = speed;
            false
        }
    }

    /// Climbs or descends toward `alt`; true when there.
    fn climb_to(&mut self, alt: f64, dt: f64) -> bool {
        let diff = alt - self.alt;
        let rate = if diff > 0.0 {
            self.cfg.climb_rate_m_s
        } else {
            self.cfg.land_speed_m_s
        };
        let step = rate * dt;
        if diff.abs() <= step {
            self.alt = alt;
            self.climb = diff / dt;
            true
        } else {
            self.alt += step * diff.signum();
            self.climb = rate * diff.signum();
            false
        }
    }

    /// Descends to the ground; on touchdown disarms. True when landed.
    fn descend_and_land(&mut self, dt: f64) -> bool {
        self.ground_speed = 0.0;
        if self.climb_to(0.0, dt) {
            self.landed = true;
            self.climb = 0.0;
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Land complete");
            self.do_disarm();
            return true;
        }
        false
    }

    fn substep(&mut self, dt: f64) {
        self.consumed_mah += self.current_a() * dt / 3.6;
        self.t += dt;
        if !self.armed {
            self.ground_speed = 0.0;
            self.climb = 0.0;
            return;
        }
        if self.mode == MODE_RTL {
            if let Some(phase) = self.rtl {
                self.rtl = self.rtl_step(phase, dt);
            }
            return;
        }
        match self.mode {
            MODE_AUTO if self.mission_active => self.auto_step(dt),
            MODE_LAND => {
                self.descend_and_land(dt);
            }
            _ => {
                // GUIDED without a target, LOITER, BRAKE, STABILIZE: hold position.
                self.ground_speed = 0.0;
                self.climb = 0.0;
            }
        }
    }

    /// One step of RTL; the next phase, or `None` once landed (and disarmed).
    fn rtl_step(&mut self, phase: RtlPhase, dt: f64) -> Option<RtlPhase> {
        match phase {
            RtlPhase::Climb => {
                self.ground_speed = 0.0;
                let target = self.alt.max(self.cfg.rtl_alt_m);
                if self.climb_to(target, dt) {
                    return Some(RtlPhase::Return);
                }
                Some(RtlPhase::Climb)
            }
            RtlPhase::Return => {
                self.climb = 0.0;
                let speed = self.speed;
                if self.move_to(self.rtl_target, speed, dt) {
                    return Some(RtlPhase::Descend);
                }
                Some(RtlPhase::Return)
            }
            RtlPhase::Descend => {
                if self.descend_and_land(dt) {
                    None
                } else {
                    Some(RtlPhase::Descend)
                }
            }
        }
    }

    /// After a landing item: the mission waits at the next item (the next sortie's takeoff).
    /// At the end, ArduPilot's current item goes back to the first (seen on ArduCopter SITL:
    /// MISSION_CURRENT reads 1 once the completed mission has landed).
    fn after_landing_in_mission(&mut self) {
        if usize::from(self.current) + 1 < self.lists[0].len() {
            self.current += 1;
        } else {
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Mission complete");
            if self.cfg.firmware == Firmware::ArduPilot {
                self.current = self.first_seq();
            }
        }
        self.mission_active = false;
        self.send_mission_current();
    }

    fn auto_step(&mut self, dt: f64) {
        let Some(it) = self.lists[0].get(usize::from(self.current)).copied() else {
            self.mission_active = false;
            return;
        };
        let target = (it.lat(), it.lon());
        let has_pos = it.x != 0 || it.y != 0;
        match it.command {
            CMD_NAV_TAKEOFF => {
                self.landed = false;
                self.ground_speed = 0.0;
                let alt = self.item_target_alt(&it).unwrap_or(f64::from(it.z));
                if self.climb_to(alt, dt) {
                    self.nav_reached();
                }
            }
            CMD_NAV_LAND => {
                let there = !has_pos || {
                    self.climb = 0.0;
                    let speed = self.speed;
                    self.move_to(target, speed, dt)
                };
                if there && self.descend_and_land(dt) {
                    // ArduCopter reports no ITEM_REACHED for the mission's final LAND: the
                    // mission completes as the vehicle lands (ModeAuto's land verify, then
                    // AP_Mission::complete).
                    let final_land = usize::from(self.current) + 1 >= self.lists[0].len();
                    if !(final_land && self.cfg.firmware == Firmware::ArduPilot) {
                        self.send(Msg::MISSION_ITEM_REACHED(apm::MISSION_ITEM_REACHED_DATA {
                            seq: self.current,
                        }));
                    }
                    self.after_landing_in_mission();
                }
            }
            CMD_NAV_RTL => {
                let phase = match self.nav_rtl {
                    Some(p) => p,
                    None => self.begin_rtl(),
                };
                self.nav_rtl = self.rtl_step(phase, dt);
                if self.nav_rtl.is_none() {
                    self.send(Msg::MISSION_ITEM_REACHED(apm::MISSION_ITEM_REACHED_DATA {
                        seq: self.current,
                    }));
                    self.after_landing_in_mission();
                }
            }
            _ if has_pos => {
                self.landed = false;
                let Some(alt) = self.item_target_alt(&it) else {
                    // Terrain not yet received: hold here (ArduPilot will not start a
                    // terrain-relative leg without it).
                    self.ground_speed = 0.0;
                    self.climb = 0.0;
                    return;
                };
                let speed = self.speed;
                let h = self.move_to(target, speed, dt);
                let v = self.climb_to(alt, dt);
                if h && v {
                    self.nav_reached();
                }
            }
            _ => {
                // A NAV item the model does not fly (delay, loiter without position): done.
                self.nav_reached();
            }
        }
    }

    // ---- time, outputs and streams -----------------------------------------------------

    /// One tick: the flight model in small steps, the upload watchdog, the streams.
    fn step(&mut self) {
        let total = self.cfg.dt_s();
        let n = (total / MAX_SUBSTEP_S).ceil().max(1.0);
        let dt = total / n;
        for _ in 0..n as u32 {
            self.substep(dt);
            self.update_outputs();
        }
        self.upload_watchdog();
        if self.cfg.firmware == Firmware::ArduPilot {
            self.terrain_tick();
        }
        self.streams();
    }

    /// Asks a quiet GCS again for the item an upload waits for; gives up after 5 tries.
    fn upload_watchdog(&mut self) {
        let quiet_after = (0.5 / self.cfg.tick.as_secs_f64().max(1e-3)).ceil() as u32;
        let Some(up) = self.upload.as_mut() else {
            return;
        };
        up.quiet_steps += 1;
        if up.quiet_steps < quiet_after {
            return;
        }
        up.quiet_steps = 0;
        up.retries += 1;
        let mt = kind_of(up.list).mav();
        let next = up.items.len() as u16;
        if up.retries > 5 {
            self.upload = None;
            self.mission_ack(mt, MavMissionResult::MAV_MISSION_OPERATION_CANCELLED);
        } else {
            self.request(mt, next);
        }
    }

    /// Servo outputs from the motor and pump state; a pump change is reported at once.
    fn update_outputs(&mut self) {
        let on = self.armed
            && self.pump_commanded
            && self.sprayer_enabled()
            && self.ground_speed >= self.cfg.spray_min_speed_m_s;
        let motor = match (self.armed, self.landed) {
            (false, _) => 1000,
            (true, true) => 1100,
            (true, false) => 1500,
        };
        for s in self.servos.iter_mut().take(4) {
            *s = motor;
        }
        let pump_idx = usize::from(self.cfg.sprayer.servo.clamp(1, 16)) - 1;
        self.servos[pump_idx] = if on {
            self.cfg.pump_pwm.0
        } else {
            self.cfg.pump_pwm.1
        };
        if on != self.pump_on {
            self.pump_on = on;
            self.send_stream(36);
        }
    }

    fn default_interval(&self, id: u32) -> f64 {
        let base = 1.0 / self.cfg.stream_hz.max(0.01);
        if id == 242 { base * 4.0 } else { base }
    }

    fn streams(&mut self) {
        for &id in STREAMED {
            let interval = match self.intervals.get(&id) {
                Some(None) => continue,
                Some(Some(i)) => *i,
                None => self.default_interval(id),
            };
            let due = self
                .last_sent
                .get(&id)
                .is_none_or(|last| self.t - last >= interval - 1e-9);
            if due {
                self.last_sent.insert(id, self.t);
                self.send_stream(id);
            }
        }
    }

    /// Sends one telemetry message by id (only ids in `STREAMED`).
    fn send_stream(&self, id: u32) {
        let time_boot_ms = (self.t * 1000.0) as u32;
        let lat = (self.pos.0 * 1e7).round() as i32;
        let lon = (self.pos.1 * 1e7).round() as i32;
        let alt_msl_mm = ((self.cfg.home.2 + self.alt) * 1000.0).round() as i32;
        let hdg = self.heading_deg.to_radians();
        let msg = match id {
            1 => Msg::SYS_STATUS(apm::SYS_STATUS_DATA {
                load: 250,
                voltage_battery: self.cell_mv() * u16::from(self.cfg.battery_cells),
                current_battery: (self.current_a() * 100.0).round() as i16,
                battery_remaining: self.battery_pct().round() as i8,
                ..Default::default()
            }),
            24 => Msg::GPS_RAW_INT(apm::GPS_RAW_INT_DATA {
                time_usec: (self.t * 1e6) as u64,
                fix_type: apm::GpsFixType::GPS_FIX_TYPE_RTK_FIXED,
                lat,
                lon,
                alt: alt_msl_mm,
                eph: 70,
                epv: 120,
                vel: (self.ground_speed * 100.0).round() as u16,
                cog: (self.heading_deg * 100.0).round() as u16,
                satellites_visible: 24,
                ..Default::default()
            }),
            33 => Msg::GLOBAL_POSITION_INT(apm::GLOBAL_POSITION_INT_DATA {
                time_boot_ms,
                lat,
                lon,
                alt: alt_msl_mm,
                relative_alt: (self.alt * 1000.0).round() as i32,
                vx: (self.ground_speed * hdg.cos() * 100.0).round() as i16,
                vy: (self.ground_speed * hdg.sin() * 100.0).round() as i16,
                vz: (-self.climb * 100.0).round() as i16,
                hdg: (self.heading_deg * 100.0).round() as u16 % 36000,
            }),
            36 => {
                let s = &self.servos;
                Msg::SERVO_OUTPUT_RAW(apm::SERVO_OUTPUT_RAW_DATA {
                    time_usec: (self.t * 1e6) as u32,
                    servo1_raw: s[0],
                    servo2_raw: s[1],
                    servo3_raw: s[2],
                    servo4_raw: s[3],
                    servo5_raw: s[4],
                    servo6_raw: s[5],
                    servo7_raw: s[6],
                    servo8_raw: s[7],
                    port: 0,
                    servo9_raw: s[8],
                    servo10_raw: s[9],
                    servo11_raw: s[10],
                    servo12_raw: s[11],
                    servo13_raw: s[12],
                    servo14_raw: s[13],
                    servo15_raw: s[14],
                    servo16_raw: s[15],
                })
            }
            42 => {
                return self.send_mission_current();
            }
            74 => Msg::VFR_HUD(apm::VFR_HUD_DATA {
                airspeed: self.ground_speed as f32,
                groundspeed: self.ground_speed as f32,
                alt: (self.cfg.home.2 + self.alt) as f32,
                climb: self.climb as f32,
                heading: self.heading_deg.round() as i16 % 360,
                throttle: if self.armed && !self.landed { 50 } else { 0 },
            }),
            147 => {
                let mut voltages = [u16::MAX; 10];
                for v in voltages
                    .iter_mut()
                    .take(usize::from(self.cfg.battery_cells))
                {
                    *v = self.cell_mv();
                }
                Msg::BATTERY_STATUS(apm::BATTERY_STATUS_DATA {
                    current_consumed: self.consumed_mah.round() as i32,
                    energy_consumed: -1,
                    temperature: i16::MAX,
                    voltages,
                    current_battery: (self.current_a() * 100.0).round() as i16,
                    battery_remaining: self.battery_pct().round() as i8,
                    time_remaining: ((self.cfg.battery_mah - self.consumed_mah).max(0.0)
                        / 1000.0
                        / self.current_a()
                        * 3600.0) as i32,
                    ..Default::default()
                })
            }
            242 => Msg::HOME_POSITION(apm::HOME_POSITION_DATA {
                latitude: (self.cfg.home.0 * 1e7).round() as i32,
                longitude: (self.cfg.home.1 * 1e7).round() as i32,
                altitude: (self.cfg.home.2 * 1000.0).round() as i32,
                q: [1.0, 0.0, 0.0, 0.0],
                time_usec: (self.t * 1e6) as u64,
                ..Default::default()
            }),
            _ => return,
        };
        self.send(msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sim() -> (Sim, mpsc::UnboundedReceiver<Msg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Sim::new(SimConfig::new((36.87, 139.99, 300.0)), tx), rx)
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<Msg>) -> Vec<Msg> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    fn item_msg(seq: u16, it: MissionItem, kind: MissionKind) -> Msg {
        Msg::MISSION_ITEM_INT(it.to_mav(seq, kind, (1, 1)).unwrap())
    }

    fn count(n: u16, kind: MissionKind) -> Msg {
        Msg::MISSION_COUNT(apm::MISSION_COUNT_DATA {
            count: n,
            target_system: 1,
            target_component: 1,
            mission_type: kind.mav(),
            ..Default::default()
        })
    }

    #[test]
    fn upload_is_stored_like_ardupilot() {
        let (mut s, mut rx) = sim();
        let mut wp = MissionItem::nav(CMD_NAV_WAYPOINT, 36.871, 139.991, 3.0);
        wp.params = [0.0, 2.0, 1.0, f32::NAN];
        let spray = MissionItem {
            command: CMD_DO_SPRAYER,
            frame: 2,
            params: [1.0, 0.0, 0.0, 0.0],
            x: 0,
            y: 0,
            z: 0.0,
            autocontinue: true,
        };
        let items = [MissionItem::nav(CMD_NAV_WAYPOINT, 1.0, 2.0, 0.0), wp, spray];
        s.handle(count(3, MissionKind::Mission));
        // Out of order: the simulator asks again for the item it needs.
        s.handle(item_msg(1, items[1], MissionKind::Mission));
        for (k, it) in items.iter().enumerate() {
            s.handle(item_msg(k as u16, *it, MissionKind::Mission));
        }
        let out = drain(&mut rx);
        let requests: Vec<u16> = out
            .iter()
            .filter_map(|m| match m {
                Msg::MISSION_REQUEST_INT(r) => Some(r.seq),
                _ => None,
            })
            .collect();
        assert_eq!(requests, vec![0, 0, 1, 2]);
        assert!(out.iter().any(|m| matches!(m, Msg::MISSION_ACK(a)
            if a.mavtype == MavMissionResult::MAV_MISSION_ACCEPTED)));
        let stored = &s.lists[0];
        assert_eq!(
            (stored[0].lat(), stored[0].lon()),
            (36.87, 139.99),
            "seq 0 is home"
        );
        assert_eq!(stored[1].params, [0.0, 0.0, 0.0, 0.0]);
        assert_eq!(stored[1].x, wp.x);
        assert_eq!(stored[2].frame, 0);
        assert_eq!(stored[2].params[0], 1.0);
    }

    #[test]
    fn a_fence_list_refuses_mission_commands() {
        let (mut s, mut rx) = sim();
        s.handle(count(1, MissionKind::Fence));
        s.handle(item_msg(
            0,
            MissionItem::nav(CMD_NAV_WAYPOINT, 36.0, 140.0, 0.0),
            MissionKind::Fence,
        ));
        let out = drain(&mut rx);
        assert!(out.iter().any(|m| matches!(m, Msg::MISSION_ACK(a)
            if a.mavtype == MavMissionResult::MAV_MISSION_UNSUPPORTED)));
        assert!(s.lists[1].is_empty());
    }

    #[test]
    fn a_disabled_stream_is_not_sent_and_time_scales() {
        let (mut s, mut rx) = sim();
        s.cfg.time_scale = 10.0;
        assert_eq!(
            s.command(
                MavCmd::MAV_CMD_SET_MESSAGE_INTERVAL,
                [33.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
            ),
            MavResult::MAV_RESULT_ACCEPTED
        );
        for _ in 0..10 {
            s.step();
        }
        let out = drain(&mut rx);
        assert!(!out.iter().any(|m| matches!(m, Msg::GLOBAL_POSITION_INT(_))));
        assert!(out.iter().any(|m| matches!(m, Msg::GPS_RAW_INT(_))));
        // 10 ticks of 20 ms at ×10: 2 simulated seconds.
        assert!((s.t - 2.0).abs() < 1e-9, "{}", s.t);
    }

    #[test]
    fn modes_need_what_they_need() {
        let (mut s, _rx) = sim();
        assert_eq!(s.set_mode(MODE_AUTO), MavResult::MAV_RESULT_DENIED);
        assert_eq!(s.set_mode(MODE_GUIDED), MavResult::MAV_RESULT_ACCEPTED);
        assert_eq!(s.set_mode(2), MavResult::MAV_RESULT_UNSUPPORTED);
        assert_eq!(s.arm(false), MavResult::MAV_RESULT_FAILED);
        assert!(!s.armed);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn offset_and_distance_agree(
            lat in -60.0f64..60.0,
            lon in -179.0f64..179.0,
            n in -2000.0f64..2000.0,
            e in -2000.0f64..2000.0,
        ) {
            let b = offset((lat, lon), n, e);
            let (n2, e2) = ne_between((lat, lon), b);
            prop_assert!((n - n2).abs() < 1e-3 && (e - e2).abs() < 1e-3);
        }

        #[test]
        fn move_to_never_overshoots(n in -300.0f64..300.0, e in -300.0f64..300.0, dt in 0.01f64..0.5) {
            let (mut s, _rx) = sim();
            let to = offset(s.pos, n, e);
            let mut steps = 0;
            while !s.move_to(to, 5.0, dt) {
                let (rn, re) = ne_between(s.pos, to);
                prop_assert!(rn.hypot(re) <= n.hypot(e) + 1e-6);
                steps += 1;
                prop_assert!(steps < 100_000);
            }
            prop_assert_eq!(s.pos, to);
        }
    }
}
