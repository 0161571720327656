//! Vehicle state: a pure transform of received messages into what the pilot needs to see.

use mavlink::MavHeader;
use mavlink::dialects::ardupilotmega::{self as apm, MavModeFlag};

use crate::frame::Msg;
use crate::modes::{Firmware, mode_name};

/// Which servo output drives the spray pump, and from what PWM it counts as on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SprayerOutput {
    /// Servo channel, 1-based (SERVO_OUTPUT_RAW servo1 … servo16).
    pub servo: u8,
    /// The pump counts as on when the output PWM is at least this (µs).
    pub on_at_or_above_pwm: u16,
}

impl Default for SprayerOutput {
    /// ArduPilot's usual pump output (SERVO9, function 22 SprayerPump), on from 1150 µs.
    /// AC_Sprayer drives the pump in proportion to ground speed (SPRAY_PUMP_RATE, 10 % per
    /// m/s by default) between SERVO9_MIN and SERVO9_MAX (1100–1900), and only above
    /// SPRAY_SPEED_MIN (1 m/s): on is at least 10 %, 1180 µs; off is exactly SERVO9_MIN.
    /// Seen on ArduCopter SITL: 1116–1440 µs on the legs, 1100 off; a 1300 µs threshold
    /// missed a quarter of the sprayed length.
    fn default() -> Self {
        Self {
            servo: 9,
            on_at_or_above_pwm: 1150,
        }
    }
}

/// GPS fix quality, from GPS_RAW_INT.fix_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub enum GpsFix {
    /// No GPS or no fix.
    #[default]
    None,
    /// 2D fix.
    Fix2d,
    /// 3D fix.
    Fix3d,
    /// DGPS/SBAS-aided 3D fix.
    Dgps,
    /// RTK float.
    RtkFloat,
    /// RTK fixed.
    RtkFixed,
}

impl GpsFix {
    fn from_mav(fix: apm::GpsFixType) -> Self {
        match fix as u32 {
            2 => Self::Fix2d,
            3 => Self::Fix3d,
            4 => Self::Dgps,
            5 => Self::RtkFloat,
            6 => Self::RtkFixed,
            _ => Self::None,
        }
    }

    /// True for a 3D fix or better.
    pub fn is_3d(self) -> bool {
        self >= Self::Fix3d
    }
}

/// One STATUSTEXT from the vehicle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusText {
    /// MAV_SEVERITY name without prefix ("CRITICAL", "INFO", …).
    pub severity: String,
    /// Numeric severity (0 = emergency … 7 = debug).
    pub level: u8,
    /// The text.
    pub text: String,
}

/// Everything known about the vehicle, updated by [`VehicleState::apply`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VehicleState {
    /// Autopilot system id (set by the first autopilot heartbeat if not given).
    pub system: Option<u8>,
    /// Autopilot component id.
    pub component: Option<u8>,
    /// Autopilot family.
    pub firmware: Option<Firmware>,
    /// HEARTBEAT.type as a MAV_TYPE name.
    pub vehicle_type: Option<String>,
    /// Heartbeats seen from the vehicle.
    pub heartbeats: u64,
    /// HEARTBEAT.custom_mode.
    pub custom_mode: u32,
    /// Mode name for the firmware.
    pub mode: String,
    /// Motors armed.
    pub armed: bool,
    /// Latitude, degrees.
    pub lat: Option<f64>,
    /// Longitude, degrees.
    pub lon: Option<f64>,
    /// Altitude above mean sea level, metres.
    pub alt_msl_m: Option<f64>,
    /// Altitude above home, metres.
    pub rel_alt_m: Option<f64>,
    /// Heading, degrees 0–360.
    pub heading_deg: Option<f64>,
    /// Ground speed, m/s.
    pub ground_speed_m_s: Option<f64>,
    /// Battery voltage, volts.
    pub battery_v: Option<f64>,
    /// Battery current, amperes.
    pub battery_a: Option<f64>,
    /// Battery remaining, percent.
    pub battery_pct: Option<f64>,
    /// GPS fix.
    pub gps_fix: GpsFix,
    /// Satellites visible.
    pub satellites: Option<u8>,
    /// Current mission item (MISSION_CURRENT.seq).
    pub current_item: Option<u16>,
    /// Mission item count the vehicle reports (MISSION_CURRENT.total), if any.
    pub mission_total: Option<u16>,
    /// Highest item known reached: MISSION_ITEM_REACHED, or implied when MISSION_CURRENT moves
    /// past an item (ArduPilot coalesces ITEM_REACHED messages).
    pub reached_up_to: Option<u16>,
    /// Highest MISSION_CURRENT seen while armed (ArduPilot sets the current item back to 1
    /// once a completed mission has landed, so the last value alone cannot say it ended).
    pub highest_current_armed: Option<u16>,
    /// Pump on/off from SERVO_OUTPUT_RAW; `None` until an output report was seen.
    pub sprayer_on: Option<bool>,
    /// The pump output's last reported PWM (µs, SERVO_OUTPUT_RAW); `None` until one was seen.
    pub pump_pwm: Option<u16>,
    /// The vehicle's clock at its last position (GLOBAL_POSITION_INT.time_boot_ms).
    pub position_time_boot_ms: Option<u32>,
    /// The servo output that drives the pump.
    pub sprayer_output: SprayerOutput,
    /// Last status texts (newest last, at most 64).
    pub status_texts: Vec<StatusText>,
    /// Home position (lat, lon, alt MSL) from HOME_POSITION.
    pub home: Option<(f64, f64, f64)>,
}

impl VehicleState {
    /// True once the mission whose last item is `last` has ended as the autopilot reports it:
    /// the last item reached, or the vehicle disarmed after flying it as the current item
    /// (ArduCopter sends no ITEM_REACHED for a final LAND and then resets the current item).
    pub fn mission_finished(&self, last: u16) -> bool {
        self.reached_up_to >= Some(last)
            || (!self.armed && self.highest_current_armed >= Some(last))
    }

    /// A state for the vehicle at `system`/`component` (or the first autopilot heard, if `None`).
    pub fn new(system: Option<u8>, component: Option<u8>, sprayer_output: SprayerOutput) -> Self {
        Self {
            system,
            component,
            sprayer_output,
            ..Self::default()
        }
    }

    /// True if a message from this sender concerns our vehicle.
    fn is_ours(&self, header: &MavHeader) -> bool {
        let sys_ok = self.system.is_none_or(|s| u32::from(s) == header.system_id);
        let comp_ok = self.component.is_none_or(|c| c == header.component_id);
        sys_ok && comp_ok
    }

    /// Folds one message into the state; returns true if it was from our vehicle.
    pub fn apply(&mut self, header: &MavHeader, msg: &Msg) -> bool {
        if let Msg::HEARTBEAT(hb) = msg {
            let is_autopilot = hb.autopilot != apm::MavAutopilot::MAV_AUTOPILOT_INVALID
                && hb.mavtype != apm::MavType::MAV_TYPE_GCS;
            if self.system.is_none() && is_autopilot {
                self.system = u8::try_from(header.system_id).ok();
                self.component = Some(header.component_id);
            }
            if !self.is_ours(header) || !is_autopilot {
                return false;
            }
            let fw = Firmware::from_autopilot(hb.autopilot);
            self.firmware = Some(fw);
            self.vehicle_type = Some(
                format!("{:?}", hb.mavtype)
                    .trim_start_matches("MAV_TYPE_")
                    .to_string(),
            );
            self.heartbeats += 1;
            self.custom_mode = hb.custom_mode;
            self.mode = mode_name(fw, hb.custom_mode);
            self.armed = hb
                .base_mode
                .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED);
            return true;
        }
        if self.system.is_none() || !self.is_ours(header) {
            return false;
        }
        match msg {
            Msg::GLOBAL_POSITION_INT(p) => {
                self.lat = Some(f64::from(p.lat) / 1e7);
                self.lon = Some(f64::from(p.lon) / 1e7);
                self.alt_msl_m = Some(f64::from(p.alt) / 1000.0);
                self.rel_alt_m = Some(f64::from(p.relative_alt) / 1000.0);
                if p.hdg != u16::MAX {
                    self.heading_deg = Some(f64::from(p.hdg) / 100.0);
                }
                let (vx, vy) = (f64::from(p.vx) / 100.0, f64::from(p.vy) / 100.0);
                self.ground_speed_m_s = Some(vx.hypot(vy));
                self.position_time_boot_ms = Some(p.time_boot_ms);
            }
            Msg::VFR_HUD(v) => {
                self.ground_speed_m_s = Some(f64::from(v.groundspeed));
                self.heading_deg = Some(f64::from(v.heading));
            }
            Msg::SYS_STATUS(s) => {
                if s.voltage_battery != u16::MAX {
                    self.battery_v = Some(f64::from(s.voltage_battery) / 1000.0);
                }
                if s.current_battery >= 0 {
                    self.battery_a = Some(f64::from(s.current_battery) / 100.0);
                }
                if s.battery_remaining >= 0 {
                    self.battery_pct = Some(f64::from(s.battery_remaining));
                }
            }
            Msg::BATTERY_STATUS(b) => {
                if b.battery_remaining >= 0 {
                    self.battery_pct = Some(f64::from(b.battery_remaining));
                }
                if b.current_battery >= 0 {
                    self.battery_a = Some(f64::from(b.current_battery) / 100.0);
                }
                let cells: Vec<f64> = b
                    .voltages
                    .iter()
                    .filter(|v| **v != u16::MAX)
                    .map(|v| f64::from(*v) / 1000.0)
                    .collect();
                if self.battery_v.is_none() && !cells.is_empty() {
                    self.battery_v = Some(cells.iter().sum());
                }
            }
            Msg::GPS_RAW_INT(g) => {
                self.gps_fix = GpsFix::from_mav(g.fix_type);
                if g.satellites_visible != u8::MAX {
                    self.satellites = Some(g.satellites_visible);
                }
            }
            Msg::MISSION_CURRENT(c) => {
                if let Some(prev) = self.current_item
                    && c.seq > prev
                {
                    let implied = c.seq - 1;
                    self.reached_up_to =
                        Some(self.reached_up_to.map_or(implied, |r| r.max(implied)));
                }
                self.current_item = Some(c.seq);
                if self.armed {
                    self.highest_current_armed =
                        Some(self.highest_current_armed.map_or(c.seq, |h| h.max(c.seq)));
                }
                if c.total != 0 && c.total != u16::MAX {
                    self.mission_total = Some(c.total);
                }
            }
            Msg::MISSION_ITEM_REACHED(r) => {
                self.reached_up_to = Some(self.reached_up_to.map_or(r.seq, |x| x.max(r.seq)));
            }
            Msg::SERVO_OUTPUT_RAW(s) => {
                if s.port == 0 {
                    let pwm = match self.sprayer_output.servo {
                        1 => s.servo1_raw,
                        2 => s.servo2_raw,
                        3 => s.servo3_raw,
                        4 => s.servo4_raw,
                        5 => s.servo5_raw,
                        6 => s.servo6_raw,
                        7 => s.servo7_raw,
                        8 => s.servo8_raw,
                        9 => s.servo9_raw,
                        10 => s.servo10_raw,
                        11 => s.servo11_raw,
                        12 => s.servo12_raw,
                        13 => s.servo13_raw,
                        14 => s.servo14_raw,
                        15 => s.servo15_raw,
                        16 => s.servo16_raw,
                        _ => 0,
                    };
                    if pwm != 0 {
                        self.pump_pwm = Some(pwm);
                        self.sprayer_on = Some(pwm >= self.sprayer_output.on_at_or_above_pwm);
                    }
                }
            }
            Msg::STATUSTEXT(t) => {
                let text = String::from_utf8_lossy(&t.text[..])
                    .trim_end_matches('\0')
                    .to_string();
                let severity = format!("{:?}", t.severity)
                    .trim_start_matches("MAV_SEVERITY_")
                    .to_string();
                crate::events::status_text(&severity, &text);
                self.status_texts.push(StatusText {
                    severity,
                    level: t.severity as u8,
                    text,
                });
                if self.status_texts.len() > 64 {
                    self.status_texts.remove(0);
                }
            }
            Msg::HOME_POSITION(h) => {
                self.home = Some((
                    f64::from(h.latitude) / 1e7,
                    f64::from(h.longitude) / 1e7,
                    f64::from(h.altitude) / 1000.0,
                ));
            }
            _ => return true,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(sys: u32) -> MavHeader {
        MavHeader {
            system_id: sys,
            component_id: 1,
            sequence: 0,
        }
    }

    fn heartbeat(armed: bool, custom_mode: u32) -> Msg {
        let mut base = MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED;
        if armed {
            base |= MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED;
        }
        Msg::HEARTBEAT(apm::HEARTBEAT_DATA {
            custom_mode,
            mavtype: apm::MavType::MAV_TYPE_QUADROTOR,
            autopilot: apm::MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
            base_mode: base,
            system_status: apm::MavState::MAV_STATE_ACTIVE,
            mavlink_version: 3,
        })
    }

    #[test]
    fn heartbeat_sets_identity_mode_and_arming() {
        let mut s = VehicleState::default();
        assert!(s.apply(&hdr(1), &heartbeat(true, 3)));
        assert_eq!(s.system, Some(1));
        assert_eq!(s.mode, "AUTO");
        assert!(s.armed);
        assert_eq!(s.firmware, Some(Firmware::ArduPilot));
        // Another system's messages are ignored.
        assert!(!s.apply(&hdr(2), &heartbeat(false, 6)));
        assert!(s.armed);
    }

    #[test]
    fn mission_current_implies_reached_items() {
        let mut s = VehicleState::default();
        s.apply(&hdr(1), &heartbeat(true, 3));
        let cur = |seq| {
            Msg::MISSION_CURRENT(apm::MISSION_CURRENT_DATA {
                seq,
                ..Default::default()
            })
        };
        s.apply(&hdr(1), &cur(1));
        assert_eq!(s.reached_up_to, None);
        s.apply(&hdr(1), &cur(4)); // ITEM_REACHED for 1..3 were coalesced away
        assert_eq!(s.reached_up_to, Some(3));
        s.apply(
            &hdr(1),
            &Msg::MISSION_ITEM_REACHED(apm::MISSION_ITEM_REACHED_DATA { seq: 2 }),
        );
        assert_eq!(s.reached_up_to, Some(3));
    }

    #[test]
    fn an_ardupilot_mission_ends_landed_and_disarmed_at_the_last_item() {
        // ArduCopter: no ITEM_REACHED for the final LAND (item 5), then the current item goes
        // back to 1 and the vehicle disarms.
        let mut s = VehicleState::default();
        let cur = |seq| {
            Msg::MISSION_CURRENT(apm::MISSION_CURRENT_DATA {
                seq,
                ..Default::default()
            })
        };
        s.apply(&hdr(1), &heartbeat(true, 3));
        for seq in 1..=5 {
            s.apply(&hdr(1), &cur(seq));
        }
        assert!(!s.mission_finished(5), "still armed, descending");
        s.apply(&hdr(1), &cur(1));
        s.apply(&hdr(1), &heartbeat(false, 3));
        assert!(s.mission_finished(5));
        // A vehicle that disarms before the last item has not finished.
        let mut early = VehicleState::default();
        early.apply(&hdr(1), &heartbeat(true, 3));
        early.apply(&hdr(1), &cur(3));
        early.apply(&hdr(1), &heartbeat(false, 3));
        assert!(!early.mission_finished(5));
    }

    #[test]
    fn sprayer_follows_the_pump_servo() {
        let mut s = VehicleState::default();
        s.apply(&hdr(1), &heartbeat(true, 3));
        let servo = |pwm| {
            Msg::SERVO_OUTPUT_RAW(apm::SERVO_OUTPUT_RAW_DATA {
                servo9_raw: pwm,
                ..Default::default()
            })
        };
        s.apply(&hdr(1), &servo(1900));
        assert_eq!(s.sprayer_on, Some(true));
        s.apply(&hdr(1), &servo(1000));
        assert_eq!(s.sprayer_on, Some(false));
    }

    #[test]
    fn gps_fix_and_battery() {
        let mut s = VehicleState::default();
        s.apply(&hdr(1), &heartbeat(false, 0));
        s.apply(
            &hdr(1),
            &Msg::GPS_RAW_INT(apm::GPS_RAW_INT_DATA {
                fix_type: apm::GpsFixType::GPS_FIX_TYPE_RTK_FIXED,
                satellites_visible: 21,
                ..Default::default()
            }),
        );
        assert_eq!(s.gps_fix, GpsFix::RtkFixed);
        assert!(s.gps_fix.is_3d());
        s.apply(
            &hdr(1),
            &Msg::SYS_STATUS(apm::SYS_STATUS_DATA {
                voltage_battery: 50400,
                current_battery: 1234,
                battery_remaining: 77,
                ..Default::default()
            }),
        );
        assert_eq!(s.battery_v, Some(50.4));
        assert_eq!(s.battery_pct, Some(77.0));
    }
}
