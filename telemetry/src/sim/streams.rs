//! The telemetry streams and their rates (MAV_CMD_SET_MESSAGE_INTERVAL).

use super::*;

impl Sim {
    pub(super) fn default_interval(&self, id: u32) -> f64 {
        let base = 1.0 / self.cfg.stream_hz.max(0.01);
        if id == 242 { base * 4.0 } else { base }
    }

    pub(super) fn streams(&mut self) {
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
    pub(super) fn send_stream(&self, id: u32) {
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
