//! What passes between the server and a launched flight's task: the [`LaunchRequest`] that
//! starts it, the pilot's [`Command`]s, the [`Live`] snapshot it publishes, and its timing.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::storage::{PlanRow, VehicleRow};

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
    /// Why the flight was refused, where the page words it in the user's language.
    pub problem: Option<Problem>,
    /// The terrain served to the vehicle, for a plan in the vehicle's terrain frame.
    pub terrain: Option<TerrainServed>,
}

/// A refusal of the flight task that the live page words in the user's language (the
/// English `error` beside it is for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The plan flies in the vehicle's terrain frame and its terrain following is off.
    VehicleTerrainOff,
    /// The plan flies in the vehicle's terrain frame and the farm holds no elevation model
    /// under it any more to serve.
    TerrainNotServed,
    /// The plan drives the pump by PX4's actuator value and no output of the vehicle has the
    /// function that carries it (PWM_MAIN_FUNCn = 301): the pump would never run.
    NoPumpOutput,
}

/// What the server has sent the vehicle of the farm's elevation model so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TerrainServed {
    /// The vehicle's terrain grid (TERRAIN_SPACING), metres, once read.
    pub spacing_m: Option<f64>,
    /// TERRAIN_REQUESTs answered.
    pub requests: u64,
    /// TERRAIN_DATA blocks sent.
    pub blocks_sent: u64,
    /// Requested blocks the model had no complete data for.
    pub blocks_missing: u64,
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
    /// The farm flying: its elevation models are served to a terrain-following vehicle.
    pub farm_id: i64,
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
