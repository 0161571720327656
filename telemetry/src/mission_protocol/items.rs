//! Mission items as the wire carries them (MISSION_ITEM_INT), the three mission lists, and the
//! read-back comparison that knows what autopilots store lossily.

use mavlink::dialects::ardupilotmega::{self as apm, MavCmd, MavFrame, MavMissionType};
use num_traits::{FromPrimitive, ToPrimitive};

use crate::error::{Error, Result};
use crate::modes::Firmware;

/// MAV_CMD_NAV_WAYPOINT.
pub const CMD_NAV_WAYPOINT: u16 = 16;
/// MAV_CMD_NAV_RETURN_TO_LAUNCH.
pub const CMD_NAV_RTL: u16 = 20;
/// MAV_CMD_NAV_LAND.
pub const CMD_NAV_LAND: u16 = 21;
/// MAV_CMD_NAV_TAKEOFF.
pub const CMD_NAV_TAKEOFF: u16 = 22;
/// MAV_CMD_DO_SET_SERVO.
pub const CMD_DO_SET_SERVO: u16 = 183;
/// MAV_CMD_DO_SET_ACTUATOR.
pub const CMD_DO_SET_ACTUATOR: u16 = 187;
/// MAV_CMD_DO_SPRAYER.
pub const CMD_DO_SPRAYER: u16 = 216;

/// Which of the three lists a transfer concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissionKind {
    /// The flight plan.
    Mission,
    /// Geofence vertices and circles.
    Fence,
    /// Rally (safe landing) points.
    Rally,
}

impl MissionKind {
    /// The MAV_MISSION_TYPE value.
    pub fn mav(self) -> MavMissionType {
        match self {
            Self::Mission => MavMissionType::MAV_MISSION_TYPE_MISSION,
            Self::Fence => MavMissionType::MAV_MISSION_TYPE_FENCE,
            Self::Rally => MavMissionType::MAV_MISSION_TYPE_RALLY,
        }
    }

    /// "mission", "fence" or "rally".
    pub fn name(self) -> &'static str {
        match self {
            Self::Mission => "mission",
            Self::Fence => "fence",
            Self::Rally => "rally",
        }
    }
}

/// One mission item in MISSION_ITEM_INT terms (x/y are degrees × 10⁷ in global frames).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MissionItem {
    /// MAV_CMD number.
    pub command: u16,
    /// MAV_FRAME number.
    pub frame: u8,
    /// param1 … param4.
    pub params: [f32; 4],
    /// param5: latitude × 10⁷ (global frames) or a plain integer.
    pub x: i32,
    /// param6: longitude × 10⁷ (global frames) or a plain integer.
    pub y: i32,
    /// param7: altitude (metres) or a plain value.
    pub z: f32,
    /// Continue to the next item when done.
    pub autocontinue: bool,
}

impl MissionItem {
    /// A NAV item at a position (frame 3, altitude relative to home).
    pub fn nav(command: u16, lat: f64, lon: f64, rel_alt: f32) -> Self {
        Self {
            command,
            frame: 3,
            params: [0.0; 4],
            x: deg_to_e7(lat),
            y: deg_to_e7(lon),
            z: rel_alt,
            autocontinue: true,
        }
    }

    /// Latitude in degrees (meaningful for global frames).
    pub fn lat(&self) -> f64 {
        f64::from(self.x) / 1e7
    }

    /// Longitude in degrees (meaningful for global frames).
    pub fn lon(&self) -> f64 {
        f64::from(self.y) / 1e7
    }

    /// True for NAV commands that carry a position the vehicle flies to.
    pub fn is_nav_with_position(&self) -> bool {
        matches!(self.command, 16 | 17 | 18 | 19 | 21 | 22 | 31 | 82)
    }

    /// True for NAV commands (MAV_CMD below 80 per MAVLink's numbering of NAV items).
    pub fn is_nav(&self) -> bool {
        self.command < 80 || self.command == 82 || self.command == 84 || self.command == 85
    }

    /// The spray state this item commands, if it is a spray control item.
    pub fn spray_command(&self) -> Option<bool> {
        match self.command {
            CMD_DO_SPRAYER => Some(self.params[0] >= 0.5),
            CMD_DO_SET_ACTUATOR => Some(self.params[0] > 0.0),
            CMD_DO_SET_SERVO if self.params[1] >= 1500.0 => Some(true),
            CMD_DO_SET_SERVO if self.params[1] <= 1100.0 => Some(false),
            _ => None,
        }
    }

    /// Builds the MISSION_ITEM_INT message for sequence `seq`.
    ///
    /// # Errors
    /// [`Error::UnknownEnum`] if the command or frame number is not in the dialect.
    pub fn to_mav(
        &self,
        seq: u16,
        kind: MissionKind,
        target: (u8, u8),
    ) -> Result<apm::MISSION_ITEM_INT_DATA> {
        let command = MavCmd::from_u16(self.command).ok_or(Error::UnknownEnum {
            index: usize::from(seq),
            what: "command",
            value: u32::from(self.command),
        })?;
        let frame = MavFrame::from_u8(self.frame).ok_or(Error::UnknownEnum {
            index: usize::from(seq),
            what: "frame",
            value: u32::from(self.frame),
        })?;
        Ok(apm::MISSION_ITEM_INT_DATA {
            param1: self.params[0],
            param2: self.params[1],
            param3: self.params[2],
            param4: self.params[3],
            x: self.x,
            y: self.y,
            z: self.z,
            seq,
            command,
            target_system: target.0,
            target_component: target.1,
            frame,
            current: u8::from(seq == 0 && kind == MissionKind::Mission),
            autocontinue: u8::from(self.autocontinue),
            mission_type: kind.mav(),
        })
    }

    /// Reads an item from a MISSION_ITEM_INT.
    pub fn from_mav(m: &apm::MISSION_ITEM_INT_DATA) -> Self {
        Self {
            command: m.command.to_u16().unwrap_or(u16::MAX),
            frame: m.frame.to_u8().unwrap_or(u8::MAX),
            params: [m.param1, m.param2, m.param3, m.param4],
            x: m.x,
            y: m.y,
            z: m.z,
            autocontinue: m.autocontinue != 0,
        }
    }

    /// Reads an item from a legacy float MISSION_ITEM.
    #[allow(deprecated)] // Old autopilots still answer with MISSION_ITEM.
    pub fn from_mav_float(m: &apm::MISSION_ITEM_DATA) -> Self {
        let global = matches!(m.frame.to_u8().unwrap_or(0), 0 | 3 | 5 | 6 | 10 | 11);
        let conv = |v: f32| {
            if global {
                deg_to_e7(f64::from(v))
            } else {
                v as i32
            }
        };
        Self {
            command: m.command.to_u16().unwrap_or(u16::MAX),
            frame: m.frame.to_u8().unwrap_or(u8::MAX),
            params: [m.param1, m.param2, m.param3, m.param4],
            x: conv(m.x),
            y: conv(m.y),
            z: m.z,
            autocontinue: m.autocontinue != 0,
        }
    }
}

/// Degrees to degrees × 10⁷, rounded (NaN and non-finite become 0).
pub fn deg_to_e7(deg: f64) -> i32 {
    if deg.is_finite() {
        (deg * 1e7).round() as i32
    } else {
        0
    }
}

/// Param equality as stored: equal bits, both NaN, within f32 rounding, or (lossy) NaN vs 0.
fn param_eq(sent: f32, got: f32, lossy_zero: bool) -> bool {
    if sent.to_bits() == got.to_bits() || (sent.is_nan() && got.is_nan()) {
        return true;
    }
    if lossy_zero && got == 0.0 {
        return true;
    }
    if sent.is_nan() && got == 0.0 {
        return true;
    }
    (sent - got).abs() <= 1e-4_f32.max(sent.abs() * 1e-6)
}

/// Compares an uploaded list with its read-back, item by item.
///
/// Lossy storage accepted for ArduPilot: seq 0 of a mission is rewritten with the current home
/// (only its command is compared); NAV_WAYPOINT param2–4 come back as 0; DO items (no position)
/// come back with frame 0 and may lose params they do not use.
///
/// # Errors
/// [`Error::VerifyMismatch`] naming the first item and field that differ.
pub fn verify_readback(
    kind: MissionKind,
    firmware: Firmware,
    sent: &[MissionItem],
    got: &[MissionItem],
) -> Result<()> {
    let name = kind.name();
    if sent.len() != got.len() {
        return Err(Error::VerifyMismatch {
            mission_type: name,
            seq: sent.len().min(got.len()) as u16,
            detail: format!("uploaded {} items, vehicle holds {}", sent.len(), got.len()),
        });
    }
    let ardupilot = firmware == Firmware::ArduPilot;
    for (i, (s, g)) in sent.iter().zip(got).enumerate() {
        let seq = i as u16;
        let mismatch = |detail: String| {
            Err(Error::VerifyMismatch {
                mission_type: name,
                seq,
                detail,
            })
        };
        if s.command != g.command {
            return mismatch(format!(
                "command {} uploaded, {} read back",
                s.command, g.command
            ));
        }
        if ardupilot && kind == MissionKind::Mission && i == 0 {
            continue; // home: ArduPilot replaces it with the current home position
        }
        let do_item = !s.is_nav_with_position() && kind == MissionKind::Mission;
        // ArduPilot keeps only positions for fence and rally points: any global frame, and
        // the unused params, may come back changed.
        let point_list = ardupilot && kind != MissionKind::Mission;
        let global = |f: u8| matches!(f, 0 | 3 | 5 | 6 | 10 | 11);
        let frame_ok = s.frame == g.frame
            || (ardupilot && do_item && g.frame == 0)
            || (point_list && global(s.frame) && global(g.frame));
        if !frame_ok {
            return mismatch(format!("frame {} uploaded, {} read back", s.frame, g.frame));
        }
        for p in 0..4 {
            let lossy = ardupilot
                && (do_item || point_list && p >= 1 || (s.command == CMD_NAV_WAYPOINT && p >= 1));
            if !param_eq(s.params[p], g.params[p], lossy) {
                return mismatch(format!(
                    "param{} {} uploaded, {} read back",
                    p + 1,
                    s.params[p],
                    g.params[p]
                ));
            }
        }
        let xy_lossy = ardupilot && do_item;
        if (s.x - g.x).abs() > 1 && !(xy_lossy && g.x == 0) {
            return mismatch(format!("x {} uploaded, {} read back", s.x, g.x));
        }
        if (s.y - g.y).abs() > 1 && !(xy_lossy && g.y == 0) {
            return mismatch(format!("y {} uploaded, {} read back", s.y, g.y));
        }
        if !param_eq(s.z, g.z, xy_lossy) && (s.z - g.z).abs() > 0.01 {
            return mismatch(format!("z {} uploaded, {} read back", s.z, g.z));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wp(lat: f64, lon: f64) -> MissionItem {
        let mut i = MissionItem::nav(CMD_NAV_WAYPOINT, lat, lon, 5.0);
        i.params = [0.0, 2.0, 0.0, f32::NAN];
        i
    }

    fn sprayer(on: bool) -> MissionItem {
        MissionItem {
            command: CMD_DO_SPRAYER,
            frame: 2,
            params: [f32::from(u8::from(on)), 0.0, 0.0, 0.0],
            x: 0,
            y: 0,
            z: 0.0,
            autocontinue: true,
        }
    }

    #[test]
    fn identical_lists_verify() {
        let items = vec![wp(36.0, 140.0), sprayer(true), wp(36.001, 140.0)];
        verify_readback(MissionKind::Mission, Firmware::Px4, &items, &items).unwrap();
    }

    #[test]
    fn ardupilot_lossy_storage_is_accepted_only_for_ardupilot() {
        let sent = vec![wp(36.0, 140.0), wp(36.0, 140.001), sprayer(true)];
        let mut got = sent.clone();
        got[1].params = [0.0, 0.0, 0.0, 0.0];
        got[2].frame = 0;
        verify_readback(MissionKind::Mission, Firmware::ArduPilot, &sent, &got).unwrap();
        let err = verify_readback(MissionKind::Mission, Firmware::Px4, &sent, &got).unwrap_err();
        assert!(matches!(err, Error::VerifyMismatch { seq: 1, .. }), "{err}");
    }

    #[test]
    fn ardupilot_fence_points_may_change_frame_but_not_position() {
        let mut v = MissionItem::nav(5001, 36.0, 140.0, 0.0);
        v.frame = 0;
        v.params[0] = 4.0;
        let mut got = v;
        got.frame = 3;
        verify_readback(MissionKind::Fence, Firmware::ArduPilot, &[v], &[got]).unwrap();
        got.params[0] = 3.0;
        assert!(verify_readback(MissionKind::Fence, Firmware::ArduPilot, &[v], &[got]).is_err());
        let mut moved = v;
        moved.y += 50;
        assert!(verify_readback(MissionKind::Fence, Firmware::ArduPilot, &[v], &[moved]).is_err());
    }

    #[test]
    fn a_moved_waypoint_fails() {
        let sent = vec![wp(36.0, 140.0), wp(36.0, 140.001)];
        let mut got = sent.clone();
        got[1].x += 100;
        let err =
            verify_readback(MissionKind::Mission, Firmware::ArduPilot, &sent, &got).unwrap_err();
        assert!(matches!(err, Error::VerifyMismatch { seq: 1, .. }));
        assert!(
            verify_readback(MissionKind::Mission, Firmware::ArduPilot, &sent, &got[..1]).is_err()
        );
    }

    #[test]
    fn item_round_trips_through_the_message() {
        let i = wp(36.87, 139.99);
        let m = i.to_mav(3, MissionKind::Mission, (1, 1)).unwrap();
        assert_eq!(m.seq, 3);
        let back = MissionItem::from_mav(&m);
        assert_eq!(back.x, i.x);
        assert_eq!(back.command, 16);
        let bad = MissionItem {
            command: 65000,
            ..i
        };
        assert!(matches!(
            bad.to_mav(0, MissionKind::Mission, (1, 1)),
            Err(Error::UnknownEnum { .. })
        ));
    }
}
