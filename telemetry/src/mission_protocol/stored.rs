//! What an autopilot keeps of each item it accepts, and so what a read-back must return.
//!
//! Autopilots do not store MISSION_ITEM_INT as sent: ArduPilot packs each mission command into
//! 15 bytes and rebuilds the message from them; PX4 converts it into its own `mission_item_s`.
//! These functions apply the same conversions, field by field, so that verification after an
//! upload compares against exactly what the vehicle is coded to give back, and the simulator
//! stores items by the same rules (one table, two users). Each rule names its source.
//!
//! Sources (read from the public repositories):
//! - ArduPilot `libraries/AP_Mission/AP_Mission.cpp`: `sanity_check_params`,
//!   `mavlink_int_to_mission_cmd` (upload), `mission_cmd_to_mavlink_int` (read-back),
//!   `stored_in_location`; `libraries/AP_Mission/AP_Mission.h` for the field types
//!   (`Change_Speed_Command { uint8_t speed_type; float target_ms; float throttle_pct; }`,
//!   `Set_Servo_Command { uint8_t channel; uint16_t pwm; }`, `uint16_t p1`, `int32_t alt` in cm).
//! - ArduPilot `libraries/GCS_MAVLink/MissionItemProtocol.cpp`: the reply starts zeroed
//!   (`mavlink_mission_item_int_t ret_packet{}`), so fields a getter does not set read back 0.
//! - ArduPilot `libraries/GCS_MAVLink/MissionItemProtocol_Fence.cpp`
//!   (`convert_MISSION_ITEM_INT_to_AC_PolyFenceItem`, `get_item_as_mission_item`) and
//!   `MissionItemProtocol_Rally.cpp` (`convert_MISSION_ITEM_INT_to_RallyLocation`, `get_item`;
//!   `RallyLocation.alt` is an `int16_t` in metres).
//! - PX4 `src/modules/mavlink/mavlink_mission.cpp`: `parse_mavlink_mission_item` and
//!   `format_mavlink_mission_item`; `matrix::wrap_2pi`, `math::radians`/`degrees` in f32.

use mavlink::dialects::ardupilotmega::{MavAutopilot, MavMissionResult};

use super::items::{MissionItem, MissionKind};
use crate::modes::Firmware;

/// Whose mission-storage rules a vehicle follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Storage {
    /// ArduPilot (Copter): AP_Mission's packed commands, AC_PolyFence, AP_Rally.
    ArduPilot,
    /// PX4: `mission_item_s` in dataman.
    Px4,
    /// Any other implementation of the mission protocol (a MAVSDK-based vehicle's
    /// MissionRawServer, say): items are kept and given back as sent.
    Verbatim,
}

impl Storage {
    /// The rules of the autopilot a HEARTBEAT announces.
    pub fn from_autopilot(autopilot: MavAutopilot) -> Self {
        match autopilot {
            MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA => Self::ArduPilot,
            MavAutopilot::MAV_AUTOPILOT_PX4 => Self::Px4,
            _ => Self::Verbatim,
        }
    }

    /// The rules of a firmware family's own autopilot.
    pub fn of(firmware: Firmware) -> Self {
        match firmware {
            Firmware::ArduPilot => Self::ArduPilot,
            Firmware::Px4 => Self::Px4,
        }
    }
}

/// MAV_FRAME_GLOBAL.
const FRAME_GLOBAL: u8 = 0;
/// MAV_FRAME_MISSION.
const FRAME_MISSION: u8 = 2;
/// MAV_FRAME_GLOBAL_RELATIVE_ALT.
const FRAME_GLOBAL_RELATIVE_ALT: u8 = 3;
/// MAV_FRAME_GLOBAL_INT.
const FRAME_GLOBAL_INT: u8 = 5;
/// MAV_FRAME_GLOBAL_RELATIVE_ALT_INT.
const FRAME_GLOBAL_RELATIVE_ALT_INT: u8 = 6;
/// MAV_FRAME_GLOBAL_TERRAIN_ALT.
const FRAME_GLOBAL_TERRAIN_ALT: u8 = 10;
/// MAV_FRAME_GLOBAL_TERRAIN_ALT_INT.
const FRAME_GLOBAL_TERRAIN_ALT_INT: u8 = 11;
/// ArduPilot's `LOCATION_ALT_MAX_M` (AP_Common/Location.h): |alt| must stay below it.
const AP_LOCATION_ALT_MAX_M: f32 = 83_000.0;

/// What the vehicle gives back for one uploaded item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored {
    /// Exactly this item.
    Item(MissionItem),
    /// Something the upload does not decide (ArduPilot's mission seq 0 is the vehicle's home):
    /// only the command number is kept.
    CommandOnly(u16),
}

/// What a vehicle following `storage` stores for `item`, uploaded at `seq` of list `kind`.
///
/// # Errors
/// The MAV_MISSION_RESULT the autopilot answers when it refuses the item (a NaN or infinite
/// param it does not allow, a frame or command it does not take, a position out of range), or
/// [`MavMissionResult::MAV_MISSION_UNSUPPORTED`] for a command this table has no rule for.
pub fn stored_item(
    storage: Storage,
    kind: MissionKind,
    seq: u16,
    item: &MissionItem,
) -> Result<Stored, MavMissionResult> {
    match (storage, kind) {
        (Storage::Verbatim, _) => Ok(Stored::Item(*item)),
        (Storage::ArduPilot, MissionKind::Mission) => {
            let stored = ardupilot_mission(item)?;
            if seq == 0 {
                // AP_Mission::write_home_to_storage overwrites command 0 with the home position
                // (as a NAV_WAYPOINT) whenever home is set.
                return Ok(Stored::CommandOnly(stored.command));
            }
            Ok(Stored::Item(stored))
        }
        (Storage::ArduPilot, MissionKind::Fence) => ardupilot_fence(item).map(Stored::Item),
        (Storage::ArduPilot, MissionKind::Rally) => ardupilot_rally(item).map(Stored::Item),
        (Storage::Px4, _) => px4_item(kind, item).map(Stored::Item),
    }
}

/// C's float → unsigned integer conversion for the in-range values the table meets
/// (truncation toward zero); out of range is undefined in C, here it saturates.
fn trunc_u16(v: f32) -> f32 {
    f32::from(v as u16)
}

/// As [`trunc_u16`], to `uint8_t`.
fn trunc_u8(v: f32) -> f32 {
    f32::from(v as u8)
}

/// ArduPilot's `sanity_check_params`: NaN only where the command allows it (param4 of
/// NAV_WAYPOINT, NAV_LAND, NAV_TAKEOFF, NAV_VTOL_TAKEOFF; param3–4 of NAV_VTOL_LAND), never ±inf.
fn ardupilot_sanity(item: &MissionItem) -> Result<(), MavMissionResult> {
    let nan_ok: [bool; 4] = match item.command {
        16 | 21 | 22 | 84 => [false, false, false, true],
        85 => [false, false, true, true],
        _ => [false; 4],
    };
    let codes = [
        MavMissionResult::MAV_MISSION_INVALID_PARAM1,
        MavMissionResult::MAV_MISSION_INVALID_PARAM2,
        MavMissionResult::MAV_MISSION_INVALID_PARAM3,
        MavMissionResult::MAV_MISSION_INVALID_PARAM4,
    ];
    for (i, p) in item.params.iter().enumerate() {
        if p.is_infinite() || (p.is_nan() && !nan_ok[i]) {
            return Err(codes[i]);
        }
    }
    Ok(())
}

/// ArduPilot's `check_lat` / `check_lng` on degrees × 10⁷.
fn ardupilot_latlon_ok(item: &MissionItem) -> Result<(), MavMissionResult> {
    if item.x.unsigned_abs() > 900_000_000 {
        return Err(MavMissionResult::MAV_MISSION_INVALID_PARAM5_X);
    }
    if item.y.unsigned_abs() > 1_800_000_000 {
        return Err(MavMissionResult::MAV_MISSION_INVALID_PARAM6_Y);
    }
    Ok(())
}

/// ArduPilot's `stored_in_location`: commands whose position is kept.
fn ardupilot_has_location(command: u16) -> bool {
    matches!(
        command,
        16 | 17 | 18 | 19 | 21 | 22 | 30 | 31 | 82 | 84 | 85 | 92 | 94 | 179 | 189 | 191 | 201
    )
}

/// ArduPilot Copter: `mavlink_int_to_mission_cmd` followed by `mission_cmd_to_mavlink_int`.
fn ardupilot_mission(item: &MissionItem) -> Result<MissionItem, MavMissionResult> {
    ardupilot_sanity(item)?;
    let p = item.params;
    // mission_cmd_to_mavlink_int starts from param1–4 = 0, frame 0, autocontinue 1; x, y, z
    // stay 0 from the zeroed reply unless a location is copied.
    let mut out = MissionItem {
        command: item.command,
        frame: FRAME_GLOBAL,
        params: [0.0; 4],
        x: 0,
        y: 0,
        z: 0.0,
        autocontinue: true,
    };
    match item.command {
        // NAV_WAYPOINT (Copter): `cmd.p1 = param1` (hold time, uint16); param2–4 are not kept.
        16 => out.params[0] = trunc_u16(p[0]),
        // NAV_RETURN_TO_LAUNCH: nothing kept.
        20 => {}
        // NAV_LAND: `cmd.p1 = param1`; `loiter_ccw = is_negative(param4)` unless NaN; read back
        // as `param4 = loiter_ccw ? -1 : 1`. A NaN (no yaw) therefore reads back as 1.
        21 => {
            out.params[0] = trunc_u16(p[0]);
            let ccw = !p[3].is_nan() && p[3] <= -f32::EPSILON;
            out.params[3] = if ccw { -1.0 } else { 1.0 };
        }
        // NAV_TAKEOFF: `cmd.p1 = param1` (minimum pitch, plane only).
        22 => out.params[0] = trunc_u16(p[0]),
        // CONDITION_DELAY: `content.delay.seconds = param1` (float).
        112 => out.params[0] = p[0],
        // DO_JUMP: `content.jump.target` (uint16), `num_times` (int16).
        177 => {
            out.params[0] = trunc_u16(p[0]);
            out.params[1] = f32::from(p[1] as i16);
        }
        // DO_CHANGE_SPEED: speed_type (uint8), target_ms (float), throttle_pct (float).
        178 => {
            out.params[0] = trunc_u8(p[0]);
            out.params[1] = p[1];
            out.params[2] = p[2];
        }
        // DO_SET_SERVO: channel (uint8), pwm (uint16).
        183 => {
            out.params[0] = trunc_u8(p[0]);
            out.params[1] = trunc_u16(p[1]);
        }
        // DO_FENCE_ENABLE: `cmd.p1 = param1`.
        207 => out.params[0] = trunc_u16(p[0]),
        // DO_SPRAYER: `cmd.p1 = param1` (0 off, 1 on).
        216 => out.params[0] = trunc_u16(p[0]),
        // Anything else: ArduPilot may take it, but this table has no rule, so nothing can be
        // verified exactly; refuse rather than guess.
        _ => return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED),
    }
    if ardupilot_has_location(item.command) {
        ardupilot_latlon_ok(item)?;
        if item.z.is_nan() || item.z.abs() >= AP_LOCATION_ALT_MAX_M {
            return Err(MavMissionResult::MAV_MISSION_INVALID_PARAM7);
        }
        // `location.alt = packet.z * 100.0f` into an int32 (cm, truncated).
        let alt_cm = (item.z * 100.0_f32) as i32;
        out.x = item.x;
        out.y = item.y;
        match item.frame {
            0 | FRAME_MISSION | FRAME_GLOBAL_INT => {
                out.frame = FRAME_GLOBAL;
                out.z = alt_cm as f32 / 100.0_f32;
            }
            FRAME_GLOBAL_RELATIVE_ALT | FRAME_GLOBAL_RELATIVE_ALT_INT => {
                out.frame = FRAME_GLOBAL_RELATIVE_ALT;
                out.z = alt_cm as f32 / 100.0_f32;
            }
            FRAME_GLOBAL_TERRAIN_ALT | FRAME_GLOBAL_TERRAIN_ALT_INT => {
                // Terrain altitudes read back in frame 10 as `alt * 0.01f` (SITL has terrain).
                out.frame = FRAME_GLOBAL_TERRAIN_ALT;
                out.z = alt_cm as f32 * 0.01_f32;
            }
            _ => return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME),
        }
    }
    Ok(out)
}

/// ArduPilot fence: the polygon/circle/return-point item keeps its type, `vertex_count`
/// (uint8) or `radius` (float) and lat/lng; the reply sets nothing else (frame 0, z 0,
/// autocontinue 0).
fn ardupilot_fence(item: &MissionItem) -> Result<MissionItem, MavMissionResult> {
    if !matches!(
        item.frame,
        FRAME_GLOBAL
            | FRAME_GLOBAL_INT
            | FRAME_GLOBAL_RELATIVE_ALT
            | FRAME_GLOBAL_RELATIVE_ALT_INT
            | FRAME_GLOBAL_TERRAIN_ALT
            | FRAME_GLOBAL_TERRAIN_ALT_INT
    ) {
        return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME);
    }
    let p1 = match item.command {
        5001 | 5002 => trunc_u8(item.params[0]),
        5000 => 0.0,
        5003 | 5004 => item.params[0],
        _ => return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED),
    };
    Ok(MissionItem {
        command: item.command,
        frame: FRAME_GLOBAL,
        params: [p1, 0.0, 0.0, 0.0],
        x: item.x,
        y: item.y,
        z: 0.0,
        autocontinue: false,
    })
}

/// ArduPilot rally: NAV_RALLY_POINT in a relative-altitude frame only; the altitude is kept
/// as whole metres (`int16_t alt = packet.z`, truncated) and read back in frame 3.
fn ardupilot_rally(item: &MissionItem) -> Result<MissionItem, MavMissionResult> {
    if item.command != 5100 {
        return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED);
    }
    if !matches!(
        item.frame,
        FRAME_GLOBAL_RELATIVE_ALT | FRAME_GLOBAL_RELATIVE_ALT_INT
    ) {
        return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME);
    }
    ardupilot_latlon_ok(item)?;
    if item.z.is_nan() || item.z < f32::from(i16::MIN) || item.z > f32::from(i16::MAX) {
        return Err(MavMissionResult::MAV_MISSION_INVALID_PARAM7);
    }
    Ok(MissionItem {
        command: 5100,
        frame: FRAME_GLOBAL_RELATIVE_ALT,
        params: [0.0; 4],
        x: item.x,
        y: item.y,
        z: f32::from(item.z as i16),
        autocontinue: false,
    })
}

/// PX4's `wrap_2pi(radians(deg))` then `degrees(...)`, in f32 as PX4 computes it
/// (matrix/helper_functions.hpp: `wrap(x, 0, 2π)` = `x - range * floor((x - low) / range)`
/// when out of range). NaN stays NaN.
fn px4_yaw_round_trip(deg: f32) -> f32 {
    let two_pi = 2.0 * std::f32::consts::PI;
    let rad = deg * (std::f32::consts::PI / 180.0_f32);
    let wrapped = if (0.0..two_pi).contains(&rad) {
        rad
    } else {
        let inv_range = 1.0_f32 / two_pi;
        rad - two_pi * (rad * inv_range).floor()
    };
    wrapped * (180.0_f32 / std::f32::consts::PI)
}

/// PX4: global-frame items keep position and a few named fields and read back in the `_INT`
/// frames (relative → 6, absolute → 5); MAV_FRAME_MISSION items keep param1–7 as sent.
fn px4_item(kind: MissionKind, item: &MissionItem) -> Result<MissionItem, MavMissionResult> {
    let p = item.params;
    let mut out = MissionItem {
        params: [0.0; 4],
        ..*item
    };
    match item.frame {
        FRAME_GLOBAL
        | FRAME_GLOBAL_RELATIVE_ALT
        | FRAME_GLOBAL_INT
        | FRAME_GLOBAL_RELATIVE_ALT_INT => {
            let relative = matches!(
                item.frame,
                FRAME_GLOBAL_RELATIVE_ALT | FRAME_GLOBAL_RELATIVE_ALT_INT
            );
            out.frame = if relative {
                FRAME_GLOBAL_RELATIVE_ALT_INT
            } else {
                FRAME_GLOBAL_INT
            };
            match item.command {
                // NAV_WAYPOINT: time_inside, acceptance_radius, yaw.
                16 => {
                    out.params[0] = p[0];
                    out.params[1] = p[1];
                    out.params[3] = px4_yaw_round_trip(p[3]);
                }
                // NAV_LAND: land_precision (param2), yaw; param1 (abort alt) is not kept.
                21 => {
                    out.params[1] = p[1];
                    out.params[3] = px4_yaw_round_trip(p[3]);
                }
                // NAV_TAKEOFF: yaw only.
                22 => out.params[3] = px4_yaw_round_trip(p[3]),
                // Fence polygon vertex: `vertex_count = (uint16_t)(param1 + 0.5f)`.
                5001 | 5002 => out.params[0] = f32::from((p[0] + 0.5) as u16),
                // Fence circle: circle_radius.
                5003 | 5004 => out.params[0] = p[0],
                // Fence return point and rally point: position only.
                5000 | 5100 => {}
                _ => return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED),
            }
            if kind != MissionKind::Mission && !(5000..=5100).contains(&item.command) {
                return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED);
            }
        }
        FRAME_MISSION => {
            // The commands PX4 takes without coordinates (DO_CHANGE_SPEED, RTL,
            // DO_SET_ACTUATOR, CONDITION_DELAY, DO_LAND_START, ...): params kept as sent.
            if !matches!(
                item.command,
                20 | 93 | 112 | 114 | 178 | 179 | 187 | 189 | 400
            ) {
                return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED);
            }
            out.params = p;
        }
        _ => return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav(command: u16, frame: u8, params: [f32; 4], z: f32) -> MissionItem {
        MissionItem {
            command,
            frame,
            params,
            x: 368_712_345,
            y: 1_399_876_543,
            z,
            autocontinue: true,
        }
    }

    fn do_item(command: u16, params: [f32; 4]) -> MissionItem {
        MissionItem {
            command,
            frame: FRAME_MISSION,
            params,
            x: 0,
            y: 0,
            z: 0.0,
            autocontinue: true,
        }
    }

    fn ap(kind: MissionKind, seq: u16, it: &MissionItem) -> Result<Stored, MavMissionResult> {
        stored_item(Storage::ArduPilot, kind, seq, it)
    }

    fn ap_item(it: &MissionItem) -> MissionItem {
        match ap(MissionKind::Mission, 1, it).unwrap() {
            Stored::Item(i) => i,
            Stored::CommandOnly(_) => panic!("not an item"),
        }
    }

    #[test]
    fn ardupilot_land_with_no_yaw_reads_back_param4_one() {
        // The field failure: NAV_LAND param4 NaN uploaded, 1 read back.
        let land = nav(21, 3, [0.0, 0.0, 0.0, f32::NAN], 0.0);
        let got = ap_item(&land);
        assert_eq!(got.params, [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(got.frame, 3);
        assert_eq!((got.x, got.y), (land.x, land.y));
        let ccw = nav(21, 3, [0.0, 0.0, 0.0, -30.0], 0.0);
        assert_eq!(ap_item(&ccw).params[3], -1.0);
    }

    #[test]
    fn ardupilot_waypoint_keeps_hold_time_and_position_to_the_centimetre() {
        let wp = nav(16, 3, [2.7, 2.0, 0.5, f32::NAN], 2.345);
        let got = ap_item(&wp);
        assert_eq!(got.params, [2.0, 0.0, 0.0, 0.0]);
        // 2.345 m × 100 = 234.49998 in f32, truncated to 234 cm.
        assert_eq!(got.z, 2.34);
        assert!(got.autocontinue);
        let abs = ap_item(&nav(16, 6, [0.0; 4], 50.0));
        assert_eq!(
            abs.frame, 3,
            "the _INT frames read back as the float frames"
        );
    }

    #[test]
    fn ardupilot_do_items_lose_frame_and_position() {
        let speed = do_item(178, [1.0, 4.5, -1.0, 0.0]);
        let got = ap_item(&speed);
        assert_eq!(got.frame, 0);
        assert_eq!(got.params, [1.0, 4.5, -1.0, 0.0]);
        assert_eq!((got.x, got.y, got.z), (0, 0, 0.0));
        let servo = ap_item(&do_item(183, [9.0, 1900.0, 0.0, 0.0]));
        assert_eq!(servo.params, [9.0, 1900.0, 0.0, 0.0]);
        let spray = ap_item(&do_item(216, [1.0, 0.0, 0.0, 0.0]));
        assert_eq!(spray.params, [1.0, 0.0, 0.0, 0.0]);
        let rtl = ap_item(&nav(20, 3, [0.0; 4], 15.0));
        assert_eq!((rtl.frame, rtl.x, rtl.z), (0, 0, 0.0));
        let takeoff = ap_item(&nav(22, 3, [0.0, 0.0, 0.0, f32::NAN], 3.0));
        assert_eq!(takeoff.params, [0.0; 4]);
        assert_eq!(takeoff.z, 3.0);
    }

    #[test]
    fn ardupilot_refuses_what_it_refuses() {
        let nan_p1 = nav(16, 3, [f32::NAN, 0.0, 0.0, 0.0], 5.0);
        assert_eq!(
            ap(MissionKind::Mission, 1, &nan_p1),
            Err(MavMissionResult::MAV_MISSION_INVALID_PARAM1)
        );
        let nan_speed = do_item(178, [1.0, 4.0, 0.0, f32::NAN]);
        assert_eq!(
            ap(MissionKind::Mission, 1, &nan_speed),
            Err(MavMissionResult::MAV_MISSION_INVALID_PARAM4)
        );
        let bad_frame = nav(16, 1, [0.0; 4], 5.0);
        assert_eq!(
            ap(MissionKind::Mission, 1, &bad_frame),
            Err(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME)
        );
        let nan_alt = nav(16, 3, [0.0; 4], f32::NAN);
        assert_eq!(
            ap(MissionKind::Mission, 1, &nan_alt),
            Err(MavMissionResult::MAV_MISSION_INVALID_PARAM7)
        );
        // ArduPilot's mission library has no DO_SET_ACTUATOR.
        assert_eq!(
            ap(MissionKind::Mission, 1, &do_item(187, [1.0, 0.0, 0.0, 0.0])),
            Err(MavMissionResult::MAV_MISSION_UNSUPPORTED)
        );
    }

    #[test]
    fn ardupilot_seq_zero_is_home() {
        let home = nav(16, 0, [0.0; 4], 120.0);
        assert_eq!(
            ap(MissionKind::Mission, 0, &home),
            Ok(Stored::CommandOnly(16))
        );
    }

    #[test]
    fn ardupilot_fence_and_rally() {
        let v = nav(5001, 0, [7.0, 0.0, 0.0, 0.0], 12.0);
        let Stored::Item(got) = ap(MissionKind::Fence, 0, &v).unwrap() else {
            panic!()
        };
        assert_eq!(got.params, [7.0, 0.0, 0.0, 0.0]);
        assert_eq!((got.frame, got.z, got.autocontinue), (0, 0.0, false));
        assert_eq!((got.x, got.y), (v.x, v.y));
        let circle = nav(5004, 3, [12.5, 0.0, 0.0, 0.0], 0.0);
        let Stored::Item(got) = ap(MissionKind::Fence, 0, &circle).unwrap() else {
            panic!()
        };
        assert_eq!(got.params[0], 12.5);
        let rally = nav(5100, 3, [0.0; 4], 15.7);
        let Stored::Item(got) = ap(MissionKind::Rally, 0, &rally).unwrap() else {
            panic!()
        };
        assert_eq!((got.z, got.frame, got.autocontinue), (15.0, 3, false));
        let abs_rally = nav(5100, 0, [0.0; 4], 15.0);
        assert_eq!(
            ap(MissionKind::Rally, 0, &abs_rally),
            Err(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME)
        );
        assert_eq!(
            ap(MissionKind::Fence, 0, &nav(16, 0, [0.0; 4], 0.0)),
            Err(MavMissionResult::MAV_MISSION_UNSUPPORTED)
        );
    }

    #[test]
    fn px4_global_items_read_back_in_int_frames_with_yaw_wrapped() {
        let wp = nav(16, 3, [1.0, 2.0, 0.5, -90.0], 5.0);
        let Stored::Item(got) = stored_item(Storage::Px4, MissionKind::Mission, 0, &wp).unwrap()
        else {
            panic!()
        };
        assert_eq!(got.frame, 6);
        assert_eq!(got.params[..3], [1.0, 2.0, 0.0]);
        assert!((got.params[3] - 270.0).abs() < 1e-3, "{}", got.params[3]);
        let nan_yaw = nav(22, 3, [15.0, 0.0, 0.0, f32::NAN], 3.0);
        let Stored::Item(got) =
            stored_item(Storage::Px4, MissionKind::Mission, 1, &nan_yaw).unwrap()
        else {
            panic!()
        };
        assert_eq!(got.params[0], 0.0, "PX4 keeps no takeoff pitch");
        assert!(got.params[3].is_nan());
        let act = do_item(187, [1.0, f32::NAN, f32::NAN, 0.0]);
        let Stored::Item(got) = stored_item(Storage::Px4, MissionKind::Mission, 2, &act).unwrap()
        else {
            panic!()
        };
        assert_eq!(got.frame, 2);
        assert!(got.params[1].is_nan());
        assert_eq!(
            stored_item(
                Storage::Px4,
                MissionKind::Mission,
                3,
                &do_item(216, [1.0, 0.0, 0.0, 0.0])
            ),
            Err(MavMissionResult::MAV_MISSION_UNSUPPORTED)
        );
    }

    #[test]
    fn px4_fence_vertex_count_rounds() {
        let v = nav(5001, 0, [6.6, 0.0, 0.0, 0.0], 0.0);
        let Stored::Item(got) = stored_item(Storage::Px4, MissionKind::Fence, 0, &v).unwrap()
        else {
            panic!()
        };
        assert_eq!((got.params[0], got.frame), (7.0, 5));
    }
}
