//! How a simulated drone is built (its configuration and ground) and what it reports of
//! itself to tests.

use super::*;

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
    /// ArduPilot's waypoint S-curve limits (`WPNAV_ACCEL`, `WPNAV_JERK`, snap), which cap the
    /// speed on short legs ([`crate::wpnav`]); the speed member is ignored (the mission's
    /// speed applies). `None` flies every leg at the asked speed.
    pub wpnav: Option<ScurveLimits>,
    /// Parameters as the pilot left them before the flight (name, value), over the
    /// personality's defaults.
    pub params: Vec<(String, f64)>,
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
            wpnav: Some(ScurveLimits::arducopter_defaults(5.0)),
            params: Vec::new(),
        }
    }

    pub(super) fn dt_s(&self) -> f64 {
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
