//! Mission files: QGroundControl `.plan`, Mission Planner `QGC WPL 110`, KML and GeoJSON.
//!
//! All writers are pure (`&Plan` in, `String` out) and are the only place besides import that
//! converts back to WGS84.

mod geojson;
mod kml;
mod qgc_plan;
mod wpl;

pub use self::geojson::to_geojson;
pub use self::kml::to_kml;
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
            Autopilot::ArduPilot => 3,
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
        }
    }

    fn action(command: u16, p1234: [Option<f64>; 4], p7: Option<f64>) -> Self {
        Self {
            command,
            frame: FRAME_MISSION,
            params: [p1234[0], p1234[1], p1234[2], p1234[3], None, None, p7],
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

fn spray_item(a: Autopilot, on: bool) -> Item {
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
            [Some(if on { 1.0 } else { -1.0 }), None, None, None],
            Some(0.0),
        ),
        Autopilot::Px4Servo {
            servo,
            pwm_on,
            pwm_off,
        } => Item::action(
            cmd::DO_SET_SERVO,
            [
                Some(f64::from(servo)),
                Some(f64::from(if on { pwm_on } else { pwm_off })),
                Some(0.0),
                Some(0.0),
            ],
            Some(0.0),
        ),
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
    let mut spraying = false;
    let n = s.track.kinds.len();
    for (i, (_, b, kind)) in s.track.segments().enumerate() {
        let spray = kind == SegmentKind::Spray;
        if spray && !spraying {
            items.push(speed_item(plan.spray_speed));
            items.push(spray_item(autopilot, true));
        } else if !spray && spraying {
            items.push(spray_item(autopilot, false));
            items.push(speed_item(plan.transit_speed));
        }
        spraying = spray;
        if i + 1 == n {
            if spraying {
                items.push(spray_item(autopilot, false));
            }
            items.push(Item::nav(cmd::NAV_LAND, wgs(b), 0.0));
        } else {
            let (frame, a) = alt(i + 1);
            items.push(Item::nav_in(cmd::NAV_WAYPOINT, wgs(b), a, frame));
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
