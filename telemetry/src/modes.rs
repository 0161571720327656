//! Flight modes of ArduPilot Copter and PX4 and how each is encoded in `custom_mode`.

use mavlink::dialects::ardupilotmega::MavAutopilot;

/// The autopilot family, which decides how modes and spray commands are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Firmware {
    /// ArduPilot (Copter): `custom_mode` is the mode number; seq 0 of a mission is home.
    ArduPilot,
    /// PX4 (and MAVSDK-based vehicles): `custom_mode` packs main and sub mode.
    Px4,
}

impl Firmware {
    /// The family an autopilot heartbeat announces (anything not ArduPilot speaks PX4's encoding).
    pub fn from_autopilot(autopilot: MavAutopilot) -> Self {
        if autopilot == MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA {
            Self::ArduPilot
        } else {
            Self::Px4
        }
    }
}

/// ArduPilot Copter mode numbers and names.
const COPTER_MODES: &[(u32, &str)] = &[
    (0, "STABILIZE"),
    (1, "ACRO"),
    (2, "ALT_HOLD"),
    (3, "AUTO"),
    (4, "GUIDED"),
    (5, "LOITER"),
    (6, "RTL"),
    (7, "CIRCLE"),
    (9, "LAND"),
    (11, "DRIFT"),
    (13, "SPORT"),
    (14, "FLIP"),
    (15, "AUTOTUNE"),
    (16, "POSHOLD"),
    (17, "BRAKE"),
    (18, "THROW"),
    (19, "AVOID_ADSB"),
    (20, "GUIDED_NOGPS"),
    (21, "SMART_RTL"),
    (22, "FLOWHOLD"),
    (23, "FOLLOW"),
    (24, "ZIGZAG"),
    (25, "SYSTEMID"),
    (26, "AUTOROTATE"),
    (27, "AUTO_RTL"),
];

/// PX4 main modes.
const PX4_MAIN: &[(u8, &str)] = &[
    (1, "MANUAL"),
    (2, "ALTCTL"),
    (3, "POSCTL"),
    (4, "AUTO"),
    (5, "ACRO"),
    (6, "OFFBOARD"),
    (7, "STABILIZED"),
    (8, "RATTITUDE"),
];

/// PX4 AUTO sub modes, named as QGroundControl shows them.
const PX4_AUTO_SUB: &[(u8, &str)] = &[
    (1, "READY"),
    (2, "TAKEOFF"),
    (3, "HOLD"),
    (4, "MISSION"),
    (5, "RTL"),
    (6, "LAND"),
    (8, "FOLLOW_TARGET"),
    (9, "PRECLAND"),
];

/// The name of a `custom_mode` value for a firmware, e.g. "AUTO" or "MISSION".
pub fn mode_name(firmware: Firmware, custom_mode: u32) -> String {
    match firmware {
        Firmware::ArduPilot => COPTER_MODES
            .iter()
            .find(|(n, _)| *n == custom_mode)
            .map_or_else(|| format!("MODE_{custom_mode}"), |(_, s)| (*s).to_string()),
        Firmware::Px4 => {
            let main = ((custom_mode >> 16) & 0xff) as u8;
            let sub = ((custom_mode >> 24) & 0xff) as u8;
            if main == 4 {
                PX4_AUTO_SUB
                    .iter()
                    .find(|(n, _)| *n == sub)
                    .map_or_else(|| format!("AUTO_{sub}"), |(_, s)| (*s).to_string())
            } else {
                PX4_MAIN
                    .iter()
                    .find(|(n, _)| *n == main)
                    .map_or_else(|| format!("MODE_{main}_{sub}"), |(_, s)| (*s).to_string())
            }
        }
    }
}

/// The encoding of a named mode: the `custom_mode` word and, for PX4, main and sub mode
/// (the params 2 and 3 of MAV_CMD_DO_SET_MODE).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeCode {
    /// The value HEARTBEAT.custom_mode shows once the mode is active.
    pub custom_mode: u32,
    /// MAV_CMD_DO_SET_MODE param2.
    pub param2: f32,
    /// MAV_CMD_DO_SET_MODE param3.
    pub param3: f32,
}

/// Looks a mode up by name (case-insensitive); `None` if the firmware has no such mode.
pub fn mode_code(firmware: Firmware, name: &str) -> Option<ModeCode> {
    let name = name.to_ascii_uppercase();
    match firmware {
        Firmware::ArduPilot => {
            COPTER_MODES
                .iter()
                .find(|(_, s)| *s == name)
                .map(|(n, _)| ModeCode {
                    custom_mode: *n,
                    param2: *n as f32,
                    param3: 0.0,
                })
        }
        Firmware::Px4 => {
            let (main, sub) = if let Some((sub, _)) = PX4_AUTO_SUB.iter().find(|(_, s)| *s == name)
            {
                (4u8, *sub)
            } else {
                let (main, _) = PX4_MAIN.iter().find(|(_, s)| *s == name)?;
                (*main, 0u8)
            };
            Some(ModeCode {
                custom_mode: (u32::from(sub) << 24) | (u32::from(main) << 16),
                param2: f32::from(main),
                param3: f32::from(sub),
            })
        }
    }
}

/// The mode that runs the uploaded mission.
pub fn mission_mode(firmware: Firmware) -> &'static str {
    match firmware {
        Firmware::ArduPilot => "AUTO",
        Firmware::Px4 => "MISSION",
    }
}

/// The mode that stops and holds position (pause).
pub fn pause_mode(firmware: Firmware) -> &'static str {
    match firmware {
        Firmware::ArduPilot => "BRAKE",
        Firmware::Px4 => "HOLD",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for fw in [Firmware::ArduPilot, Firmware::Px4] {
            for name in ["RTL", "LAND", mission_mode(fw), pause_mode(fw)] {
                let code = mode_code(fw, name).unwrap();
                assert_eq!(mode_name(fw, code.custom_mode), name);
            }
        }
        assert_eq!(
            mode_code(Firmware::Px4, "mission").unwrap().custom_mode,
            0x0404_0000
        );
        assert_eq!(
            mode_code(Firmware::ArduPilot, "brake").unwrap().custom_mode,
            17
        );
        assert!(mode_code(Firmware::ArduPilot, "HOLD").is_none());
    }
}
