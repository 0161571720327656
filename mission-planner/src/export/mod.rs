//! Mission files: QGroundControl `.plan`, Mission Planner `QGC WPL 110`, KML and GeoJSON.
//!
//! All writers are pure (`&Plan` in, `String` out) and are the only place besides import that
//! converts back to WGS84.
//!
//! # Variable rate: how each autopilot is told the rate
//!
//! A plan with a prescription changes the pump's command at the lead point before every zone
//! border (a waypoint on the straight leg, then the command). The dose per area is
//! `flow / (speed × width)`; spray legs are flown at one speed, so the command is a fraction
//! `f` of the pump's full flow ([`PlanConfig::pump_full_flow_l_min`](crate::PlanConfig)):
//! `f = rate × width × spray_speed / full flow`.
//!
//! - **PX4** (`Px4Actuator`): `MAV_CMD_DO_SET_ACTUATOR` param1 = `f` (pump on, 0 < f ≤ 1) or −1
//!   (off). The mission runs it as a vehicle command (`src/modules/navigator/mission_block.cpp`)
//!   and the output function "Peripheral via Actuator Set 1" drives the pump with it, −1…1 over
//!   the output's PWM range (`src/lib/mixer_module/functions/FunctionActuatorSet.hpp`,
//!   `docs/en/payloads/generic_actuator_control.md`). Calibrate the output so that 0 is the
//!   pump's no-flow threshold and 1 its full flow.
//! - **ArduPilot**: `DO_SPRAYER` only switches AC_Sprayer on or off, and AC_Sprayer sets the
//!   pump to `SPRAY_PUMP_RATE` % per m/s of ground speed (floored at `SPRAY_PUMP_MIN`,
//!   `libraries/AC_Sprayer/AC_Sprayer.cpp` `update()`): litres per area stay constant whatever
//!   the speed, so neither speed changes nor `DO_SPRAYER` can change the dose. `DO_SET_SERVO` on
//!   the sprayer's own output is refused ("Channel %d is already in use":
//!   `libraries/AP_ServoRelayEvents/AP_ServoRelayEvents.cpp` accepts only channels whose
//!   `SERVOn_FUNCTION` is 0, 1 or an RC pass-through), and AC_Sprayer would overwrite it every
//!   loop anyway. What really changes the dose is a direct pump PWM per segment:
//!   [`Autopilot::ArduPilotServo`] drives a pump on an output with `SERVOn_FUNCTION = 0`
//!   (with `SPRAY_ENABLE = 0`), by `DO_SET_SERVO` items the mission library runs in order
//!   (`libraries/AP_Mission/AP_Mission_Commands.cpp` `start_command_do_servorelayevents`). The
//!   pump is then not speed-compensated: legs are flown at the set spray speed.
//! - Servo outputs (`Px4Servo`, `ArduPilotServo`): PWM = 1500 + f × (`pwm_on` − 1500), off =
//!   `pwm_off`. Every pump-on level stays at or above 1500 µs and off at or below 1100 µs, the
//!   thresholds the vehicle link reads pump state by: calibrate the pump's controller so its
//!   flow starts at 1500 µs and is full at `pwm_on`.
//! - Plain [`Autopilot::ArduPilot`] with a prescription can only switch the pump off over
//!   zones at rate 0: every other zone gets the rate `SPRAY_PUMP_RATE` gives.

mod geojson;
mod kml;
mod pump;
mod qgc_plan;
mod wpl;

pub use self::geojson::to_geojson;
pub use self::kml::to_kml;
pub use self::pump::{
    PWM_LEVEL_ZERO, PWM_OFF_AT_OR_BELOW, PumpCalibration, SERVO_PWM_FULL, SERVO_PWM_OFF,
    pump_flow_l_min, rate_for_flow,
};
pub use self::qgc_plan::to_qgc_plan;
pub use self::wpl::to_waypoints;

use crate::plan::Plan;
use crate::route::SegmentKind;
use geo::Coord;

/// Which autopilot the mission is for, and how it switches the sprayer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autopilot {
    /// ArduPilot Copter: `MAV_CMD_DO_SPRAYER` (216), param1 = 1 on / 0 off.
    ArduPilot,
    /// ArduPilot Copter with the pump on a plain output (`SERVOn_FUNCTION = 0`): `DO_SET_SERVO`
    /// (183) with a PWM per rate, for variable-rate plans (see the module docs).
    ArduPilotServo {
        /// Servo output number.
        servo: u8,
        /// PWM at the pump's full flow (above 1500).
        pwm_on: u16,
        /// PWM with the pump off (≤ 1100).
        pwm_off: u16,
    },
    /// PX4: `MAV_CMD_DO_SET_ACTUATOR` (187), actuator 1 = pump, param1 = 1 on / -1 off.
    Px4Actuator,
    /// PX4: `MAV_CMD_DO_SET_SERVO` (183) on a servo output with on/off PWM values.
    Px4Servo {
        /// Servo output number.
        servo: u8,
        /// PWM with the pump on (≥ 1500).
        pwm_on: u16,
        /// PWM with the pump off (≤ 1100).
        pwm_off: u16,
    },
}

impl Autopilot {
    /// QGroundControl's `firmwareType` (MAV_AUTOPILOT): 3 ArduPilot, 12 PX4.
    pub fn firmware_type(self) -> u8 {
        match self {
            Autopilot::ArduPilot | Autopilot::ArduPilotServo { .. } => 3,
            _ => 12,
        }
    }
}

/// MAVLink command ids used in the mission.
pub(crate) mod cmd {
    pub const NAV_WAYPOINT: u16 = 16;
    pub const NAV_LAND: u16 = 21;
    pub const NAV_TAKEOFF: u16 = 22;
    pub const DO_CHANGE_SPEED: u16 = 178;
    pub const DO_SET_SERVO: u16 = 183;
    pub const DO_SET_ACTUATOR: u16 = 187;
    pub const DO_SPRAYER: u16 = 216;
}

/// `MAV_FRAME_GLOBAL_RELATIVE_ALT`.
pub(crate) const FRAME_REL_ALT: u8 = 3;
/// `MAV_FRAME_MISSION` (DO commands).
pub(crate) const FRAME_MISSION: u8 = 2;

/// One mission item, autopilot-neutral; `None` params are NaN (JSON `null`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub command: u16,
    pub frame: u8,
    pub params: [Option<f64>; 7],
    /// This NAV item ends a run-up ([`SegmentKind::LeadIn`]): the leg to it is not a spray
    /// leg, whatever the pump does on it.
    pub run_up_end: bool,
}

impl Item {
    fn nav(command: u16, p: Coord, alt: f64) -> Self {
        Self::nav_in(command, p, alt, FRAME_REL_ALT)
    }

    fn nav_in(command: u16, p: Coord, alt: f64, frame: u8) -> Self {
        let (lat, lon) = (round8(p.y), round8(p.x));
        let yaw = None;
        Self {
            command,
            frame,
            params: [
                Some(0.0),
                Some(0.0),
                Some(0.0),
                yaw,
                Some(lat),
                Some(lon),
                Some(alt),
            ],
            run_up_end: false,
        }
    }

    fn action(command: u16, p1234: [Option<f64>; 4], p7: Option<f64>) -> Self {
        Self {
            command,
            frame: FRAME_MISSION,
            params: [p1234[0], p1234[1], p1234[2], p1234[3], None, None, p7],
            run_up_end: false,
        }
    }

    /// True for items that carry a position.
    pub fn is_nav(&self) -> bool {
        matches!(
            self.command,
            cmd::NAV_WAYPOINT | cmd::NAV_LAND | cmd::NAV_TAKEOFF
        )
    }
}

/// Rounds degrees to 1e-8 (about 1 mm) so output files are stable.
pub(crate) fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}

/// What a pump command says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pump {
    Off,
    /// On, without a pump calibration: the autopilot's own on value.
    On,
    /// On at this fraction of the pump's full flow (0 < f ≤ 1).
    Level(f64),
}

fn servo_item(servo: u8, pwm: f64) -> Item {
    Item::action(
        cmd::DO_SET_SERVO,
        [
            Some(f64::from(servo)),
            Some(pwm.round()),
            Some(0.0),
            Some(0.0),
        ],
        Some(0.0),
    )
}

fn pump_item(a: Autopilot, pump: Pump) -> Item {
    let on = pump != Pump::Off;
    match a {
        Autopilot::ArduPilot => Item::action(
            cmd::DO_SPRAYER,
            [
                Some(if on { 1.0 } else { 0.0 }),
                Some(0.0),
                Some(0.0),
                Some(0.0),
            ],
            Some(0.0),
        ),
        Autopilot::Px4Actuator => Item::action(
            cmd::DO_SET_ACTUATOR,
            [
                Some(match pump {
                    Pump::Off => -1.0,
                    Pump::On => 1.0,
                    Pump::Level(f) => (f * 1e4).round() / 1e4,
                }),
                None,
                None,
                None,
            ],
            Some(0.0),
        ),
        Autopilot::Px4Servo {
            servo,
            pwm_on,
            pwm_off,
        }
        | Autopilot::ArduPilotServo {
            servo,
            pwm_on,
            pwm_off,
        } => servo_item(
            servo,
            match pump {
                Pump::Off => f64::from(pwm_off),
                Pump::On => f64::from(pwm_on),
                Pump::Level(f) => PumpCalibration::servo(0.0, pwm_on).pwm_for_fraction(f),
            },
        ),
    }
}

/// The pump command for a segment at `rate` L/ha (0: off).
fn pump_for(plan: &Plan, rate: f64) -> Pump {
    if rate <= 0.0 {
        return Pump::Off;
    }
    match plan.pump_full_flow_l_min {
        Some(full) => Pump::Level(
            PumpCalibration::servo(full, SERVO_PWM_FULL).fraction_for_flow(pump_flow_l_min(
                rate,
                plan.swath_width_m,
                plan.spray_speed,
            )),
        ),
        None => Pump::On,
    }
}

fn speed_item(speed: f64) -> Item {
    Item::action(
        cmd::DO_CHANGE_SPEED,
        [Some(1.0), Some(speed), Some(-1.0), Some(0.0)],
        Some(0.0),
    )
}

/// The mission items of one sortie: take-off at the refill point, waypoints with spray and speed
/// switches, landing at the refill point.
pub(crate) fn sortie_items(plan: &Plan, sortie_idx: usize, autopilot: Autopilot) -> Vec<Item> {
    let s = &plan.sorties[sortie_idx];
    let wgs = |c: Coord| plan.frame.to_wgs84(c);
    let h = plan.height_m;
    // With a terrain profile each waypoint carries its own altitude in the profile's frame
    // (terrain falls back to AMSL where the autopilot lacks it); take-off stays relative to
    // home, which is where it starts.
    let alt = |point: usize| match &plan.terrain {
        None => (FRAME_REL_ALT, h),
        Some(t) => {
            let f = t.frame.for_autopilot(autopilot);
            (f.mav_frame(), t.alt_in(f, sortie_idx, point))
        }
    };
    let takeoff_h = plan.terrain.as_ref().map_or(h, |t| {
        t.alt_in(crate::AltitudeFrame::RelativeHome, sortie_idx, 0)
    });
    let mut items = vec![
        Item::nav(cmd::NAV_TAKEOFF, wgs(s.track.points[0]), takeoff_h),
        speed_item(plan.transit_speed),
    ];
    let mut fast = false;
    let mut pump = Pump::Off;
    let segs: Vec<_> = s.track.rated_segments().collect();
    let n = segs.len();
    for (i, &(_, b, kind, rate)) in segs.iter().enumerate() {
        let want = match kind {
            SegmentKind::Spray => pump_for(plan, rate),
            // ArduPilot's sprayer starts late, so it is switched on at the run-up's start.
            SegmentKind::LeadIn if autopilot == Autopilot::ArduPilot => segs
                .get(i + 1)
                .filter(|next| next.2 == SegmentKind::Spray)
                .map_or(Pump::Off, |next| pump_for(plan, next.3)),
            _ => Pump::Off,
        };
        let at_spray_speed = kind.at_spray_speed();
        if at_spray_speed && !fast {
            items.push(speed_item(plan.spray_speed));
        }
        if want != pump {
            items.push(pump_item(autopilot, want));
        }
        if !at_spray_speed && fast {
            items.push(speed_item(plan.transit_speed));
        }
        fast = at_spray_speed;
        pump = want;
        if i + 1 == n {
            if pump != Pump::Off {
                items.push(pump_item(autopilot, Pump::Off));
            }
            items.push(Item::nav(cmd::NAV_LAND, wgs(b), 0.0));
        } else {
            let (frame, a) = alt(i + 1);
            items.push(Item {
                run_up_end: kind == SegmentKind::LeadIn,
                ..Item::nav_in(cmd::NAV_WAYPOINT, wgs(b), a, frame)
            });
        }
    }
    items
}

/// The path each sortie's mission flies, in local metres: the positions of its NAV items as
/// the mission files write them (degrees rounded by [`round8`]), in item order. Take-off and
/// landing are vertical at their item's position, so these polylines are the whole horizontal
/// path.
pub(crate) fn emitted_paths(plan: &Plan) -> Vec<Vec<Coord>> {
    (0..plan.sorties.len())
        .map(|s| {
            sortie_items(plan, s, Autopilot::ArduPilot)
                .iter()
                .filter(|it| it.is_nav())
                .filter_map(|it| match (it.params[4], it.params[5]) {
                    (Some(lat), Some(lon)) => Some(plan.frame.to_local(Coord { x: lon, y: lat })),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The selected sorties' indexes (all, or the 1-based `sortie`).
pub(crate) fn selected(plan: &Plan, sortie: Option<usize>) -> Vec<usize> {
    match sortie {
        None => (0..plan.sorties.len()).collect(),
        Some(n) if n >= 1 && n <= plan.sorties.len() => vec![n - 1],
        Some(_) => vec![],
    }
}
