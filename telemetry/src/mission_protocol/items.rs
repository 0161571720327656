//! Mission items as the wire carries them (MISSION_ITEM_INT), the three mission lists, and the
//! read-back comparison that knows what autopilots store lossily.

use mavlink::dialects::ardupilotmega::{self as apm, MavCmd, MavFrame, MavMissionType};
use num_traits::{FromPrimitive, ToPrimitive};

use super::stored::{Storage, Stored, stored_item};
use crate::error::{Error, Result};

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

/// Bitwise float equality, with every NaN equal to every NaN.
fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Compares an uploaded list with its read-back, item by item, against exactly what the
/// autopilot is coded to keep of each item ([`stored_item`]): nothing looser.
///
/// # Errors
/// [`Error::VerifyMismatch`] naming the first item and field that differ, or the item the
/// autopilot would refuse (or that no rule covers).
pub fn verify_readback(
    kind: MissionKind,
    storage: Storage,
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
    for (i, (s, g)) in sent.iter().zip(got).enumerate() {
        let seq = i as u16;
        let mismatch = |detail: String| {
            Err(Error::VerifyMismatch {
                mission_type: name,
                seq,
                detail,
            })
        };
        let want = match stored_item(storage, kind, seq, s) {
            Ok(Stored::Item(w)) => w,
            Ok(Stored::CommandOnly(command)) => {
                if g.command != command {
                    return mismatch(format!(
                        "command {command} expected, {} read back",
                        g.command
                    ));
                }
                continue;
            }
            Err(refusal) => {
                return mismatch(format!(
                    "{storage:?} does not store command {} in frame {} as sent ({refusal:?})",
                    s.command, s.frame
                ));
            }
        };
        if want.command != g.command {
            return mismatch(format!(
                "command {} uploaded, {} read back",
                want.command, g.command
            ));
        }
        if want.frame != g.frame {
            return mismatch(format!(
                "frame {} expected, {} read back",
                want.frame, g.frame
            ));
        }
        for p in 0..4 {
            if !same_f32(want.params[p], g.params[p]) {
                return mismatch(format!(
                    "param{} {} uploaded, {} expected back, {} read back",
                    p + 1,
                    s.params[p],
                    want.params[p],
                    g.params[p]
                ));
            }
        }
        if want.x != g.x {
            return mismatch(format!("x {} expected, {} read back", want.x, g.x));
        }
        if want.y != g.y {
            return mismatch(format!("y {} expected, {} read back", want.y, g.y));
        }
        if !same_f32(want.z, g.z) {
            return mismatch(format!(
                "z {} uploaded, {} expected back, {} read back",
                s.z, want.z, g.z
            ));
        }
        if kind == MissionKind::Mission && want.autocontinue != g.autocontinue {
            return mismatch(format!(
                "autocontinue {} expected, {} read back",
                want.autocontinue, g.autocontinue
            ));
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

    /// What the table says the vehicle gives back (home stands in for ArduPilot's seq 0).
    fn readback(fw: Storage, kind: MissionKind, sent: &[MissionItem]) -> Vec<MissionItem> {
        sent.iter()
            .enumerate()
            .map(|(i, s)| match stored_item(fw, kind, i as u16, s).unwrap() {
                Stored::Item(it) => it,
                Stored::CommandOnly(c) => MissionItem {
                    command: c,
                    ..wp(36.5, 139.5)
                },
            })
            .collect()
    }

    fn land() -> MissionItem {
        let mut i = MissionItem::nav(CMD_NAV_LAND, 36.0, 140.0, 0.0);
        i.params = [0.0, 0.0, 0.0, f32::NAN];
        i
    }

    #[test]
    fn the_tables_readback_verifies_on_both_autopilots() {
        let items = [wp(36.0, 140.0), sprayer(true), wp(36.001, 140.0), land()];
        for fw in [Storage::ArduPilot, Storage::Px4] {
            let sent: Vec<MissionItem> = items
                .iter()
                .filter(|i| fw == Storage::ArduPilot || i.command != CMD_DO_SPRAYER)
                .copied()
                .collect();
            let got = readback(fw, MissionKind::Mission, &sent);
            verify_readback(MissionKind::Mission, fw, &sent, &got).unwrap();
        }
    }

    #[test]
    fn ardupilots_land_with_param4_one_verifies_and_nothing_else_does() {
        // The field failure: "param4 NaN uploaded, 1 read back" at the final NAV_LAND.
        let sent = vec![wp(36.0, 140.0), land()];
        let mut got = readback(Storage::ArduPilot, MissionKind::Mission, &sent);
        assert_eq!(got[1].params[3], 1.0);
        verify_readback(MissionKind::Mission, Storage::ArduPilot, &sent, &got).unwrap();
        got[1].params[3] = f32::NAN;
        let err =
            verify_readback(MissionKind::Mission, Storage::ArduPilot, &sent, &got).unwrap_err();
        assert!(matches!(err, Error::VerifyMismatch { seq: 1, .. }), "{err}");
    }

    #[test]
    fn the_rules_are_exact_not_tolerant() {
        let sent = vec![wp(36.0, 140.0), wp(36.0, 140.001), sprayer(true)];
        let good = readback(Storage::ArduPilot, MissionKind::Mission, &sent);
        // A centimetre off in altitude, a waypoint keeping a param ArduPilot drops, a DO item
        // in the frame it was sent in: each is a different vehicle state, and each fails.
        let mut z = good.clone();
        z[1].z += 0.01;
        let mut kept = good.clone();
        kept[1].params[1] = 2.0;
        let mut frame = good.clone();
        frame[2].frame = 2;
        for bad in [z, kept, frame] {
            let err =
                verify_readback(MissionKind::Mission, Storage::ArduPilot, &sent, &bad).unwrap_err();
            assert!(matches!(err, Error::VerifyMismatch { .. }), "{err}");
        }
        // PX4 keeps DO_SPRAYER not at all: the upload cannot be verified, so it is refused.
        let px4 = verify_readback(MissionKind::Mission, Storage::Px4, &sent[2..], &good[2..])
            .unwrap_err();
        assert!(px4.to_string().contains("216"), "{px4}");
    }

    #[test]
    fn ardupilot_fence_points_come_back_in_frame_zero_with_their_position() {
        let mut v = MissionItem::nav(5001, 36.0, 140.0, 0.0);
        v.frame = 3;
        v.params[0] = 4.0;
        let got = readback(Storage::ArduPilot, MissionKind::Fence, &[v]);
        assert_eq!(got[0].frame, 0);
        verify_readback(MissionKind::Fence, Storage::ArduPilot, &[v], &got).unwrap();
        let mut count = got.clone();
        count[0].params[0] = 3.0;
        assert!(verify_readback(MissionKind::Fence, Storage::ArduPilot, &[v], &count).is_err());
        let mut moved = got;
        moved[0].y += 1;
        assert!(verify_readback(MissionKind::Fence, Storage::ArduPilot, &[v], &moved).is_err());
    }

    #[test]
    fn a_moved_waypoint_fails() {
        let sent = vec![wp(36.0, 140.0), wp(36.0, 140.001)];
        let mut got = readback(Storage::ArduPilot, MissionKind::Mission, &sent);
        got[1].x += 100;
        let err =
            verify_readback(MissionKind::Mission, Storage::ArduPilot, &sent, &got).unwrap_err();
        assert!(matches!(err, Error::VerifyMismatch { seq: 1, .. }));
        assert!(
            verify_readback(MissionKind::Mission, Storage::ArduPilot, &sent, &got[..1]).is_err()
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
