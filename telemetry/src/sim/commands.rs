//! COMMAND_LONG / COMMAND_INT, flight modes, arming and disarming.

use super::*;

impl Sim {
    /// The mode as HEARTBEAT.custom_mode carries it for this firmware.
    pub(super) fn wire_mode(&self) -> u32 {
        match self.cfg.firmware {
            Firmware::ArduPilot => self.mode,
            Firmware::Px4 => PX4_NAMES
                .iter()
                .find(|(m, _)| *m == self.mode)
                .and_then(|(_, name)| mode_code(Firmware::Px4, name))
                .map_or(0, |c| c.custom_mode),
        }
    }

    /// The simulator's mode for a custom_mode word of this firmware, if it has one.
    pub(super) fn mode_from_wire(&self, wire: u32) -> Option<u32> {
        match self.cfg.firmware {
            Firmware::ArduPilot => Some(wire),
            Firmware::Px4 => {
                let name = mode_name(Firmware::Px4, wire);
                PX4_NAMES.iter().find(|(_, n)| *n == name).map(|(m, _)| *m)
            }
        }
    }

    /// The first mission item that is flown: 1 on ArduPilot (seq 0 is home), 0 on PX4.
    pub(super) fn first_seq(&self) -> u16 {
        u16::from(self.cfg.firmware == Firmware::ArduPilot)
    }

    /// Sets the current mission item; a flying AUTO mission continues from it.
    pub(super) fn set_current(&mut self, seq: u16) -> bool {
        if usize::from(seq) >= self.lists[0].len() {
            return false;
        }
        self.current = seq.max(self.first_seq());
        if self.mode == MODE_AUTO && self.mission_active {
            self.run_do_items();
        }
        self.send_mission_current();
        true
    }

    pub(super) fn set_mode(&mut self, mode: u32) -> MavResult {
        let supported = [
            MODE_STABILIZE,
            MODE_AUTO,
            MODE_GUIDED,
            MODE_LOITER,
            MODE_RTL,
            MODE_LAND,
            MODE_BRAKE,
        ];
        if !supported.contains(&mode) {
            return MavResult::MAV_RESULT_UNSUPPORTED;
        }
        if mode == MODE_AUTO && !self.has_mission() {
            self.text(
                MavSeverity::MAV_SEVERITY_WARNING,
                "Mode change to AUTO failed: no mission",
            );
            return MavResult::MAV_RESULT_DENIED;
        }
        if mode == self.mode {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        self.mode = mode;
        self.rtl = None;
        self.nav_rtl = None;
        self.mission_active = false;
        match mode {
            MODE_AUTO if self.armed => self.begin_mission(None),
            MODE_RTL => self.rtl = Some(self.begin_rtl()),
            _ => {}
        }
        self.heartbeat();
        MavResult::MAV_RESULT_ACCEPTED
    }

    pub(super) fn command(&mut self, command: MavCmd, p: [f32; 7]) -> MavResult {
        use MavCmd::*;
        match command {
            MAV_CMD_COMPONENT_ARM_DISARM => {
                if p[0] >= 0.5 {
                    self.arm(p[1] == 2989.0)
                } else {
                    self.disarm(p[1] == 21196.0)
                }
            }
            MAV_CMD_DO_SET_MODE => {
                if (p[0] as u32) & 1 == 0 {
                    return MavResult::MAV_RESULT_UNSUPPORTED;
                }
                // ArduPilot: param2 is the mode number; PX4: param2 main, param3 sub mode.
                let wire = match self.cfg.firmware {
                    Firmware::ArduPilot => p[1] as u32,
                    Firmware::Px4 => ((p[2] as u32) << 24) | ((p[1] as u32) << 16),
                };
                match self.mode_from_wire(wire) {
                    Some(mode) => self.set_mode(mode),
                    None => MavResult::MAV_RESULT_UNSUPPORTED,
                }
            }
            MAV_CMD_MISSION_START => {
                if !self.has_mission() {
                    return MavResult::MAV_RESULT_FAILED;
                }
                if !self.armed {
                    self.text(
                        MavSeverity::MAV_SEVERITY_WARNING,
                        "Mission start: arm first",
                    );
                    return MavResult::MAV_RESULT_FAILED;
                }
                // ArduCopter's handle_MAV_CMD_MISSION_START: "first-item/last item not
                // supported" — any non-zero param1/param2 is DENIED; it starts or resumes
                // from the current item.
                if self.cfg.firmware == Firmware::ArduPilot && (p[0] != 0.0 || p[1] != 0.0) {
                    return MavResult::MAV_RESULT_DENIED;
                }
                let first = (p[0] >= 1.0).then_some(p[0] as u16);
                if let Some(f) = first
                    && usize::from(f) >= self.lists[0].len()
                {
                    return MavResult::MAV_RESULT_DENIED;
                }
                self.mode = MODE_AUTO;
                self.rtl = None;
                self.nav_rtl = None;
                self.begin_mission(first);
                self.heartbeat();
                MavResult::MAV_RESULT_ACCEPTED
            }
            MAV_CMD_DO_SET_MISSION_CURRENT => {
                if self.set_current(p[0] as u16) {
                    MavResult::MAV_RESULT_ACCEPTED
                } else {
                    MavResult::MAV_RESULT_DENIED
                }
            }
            MAV_CMD_SET_MESSAGE_INTERVAL => {
                let id = p[0] as u32;
                let us = p[1];
                let interval = if us < 0.0 {
                    None
                } else if us == 0.0 {
                    Some(1.0 / self.cfg.stream_hz.max(0.01))
                } else {
                    Some(f64::from(us) / 1e6)
                };
                self.intervals.insert(id, interval);
                MavResult::MAV_RESULT_ACCEPTED
            }
            MAV_CMD_REQUEST_MESSAGE => {
                let id = p[0] as u32;
                if id == 0 {
                    self.heartbeat();
                    MavResult::MAV_RESULT_ACCEPTED
                } else if STREAMED.contains(&id) {
                    self.send_stream(id);
                    MavResult::MAV_RESULT_ACCEPTED
                } else {
                    MavResult::MAV_RESULT_UNSUPPORTED
                }
            }
            MAV_CMD_DO_SPRAYER | MAV_CMD_DO_SET_SERVO | MAV_CMD_DO_SET_ACTUATOR => {
                let item = MissionItem {
                    command: command.to_u16().unwrap_or(0),
                    frame: 2,
                    params: [p[0], p[1], p[2], p[3]],
                    x: 0,
                    y: 0,
                    z: 0.0,
                    autocontinue: true,
                };
                self.do_item(&item);
                MavResult::MAV_RESULT_ACCEPTED
            }
            MAV_CMD_DO_CHANGE_SPEED => {
                if p[1] > 0.0 {
                    self.speed = f64::from(p[1]);
                }
                MavResult::MAV_RESULT_ACCEPTED
            }
            _ => MavResult::MAV_RESULT_UNSUPPORTED,
        }
    }

    pub(super) fn arm(&mut self, force: bool) -> MavResult {
        if self.armed {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        if !force {
            let reason = if let Some(f) = &self.cfg.prearm_failure {
                Some(format!("PreArm: {f}"))
            } else if !self.has_mission() {
                Some("PreArm: No mission loaded".to_string())
            } else if matches!(self.mode, MODE_RTL | MODE_LAND | MODE_BRAKE) {
                Some("Arm: Mode not armable".to_string())
            } else if self.battery_pct() < 20.0 {
                Some("PreArm: Battery below minimum arming capacity".to_string())
            } else {
                None
            };
            if let Some(reason) = reason {
                self.text(MavSeverity::MAV_SEVERITY_CRITICAL, &reason);
                return MavResult::MAV_RESULT_FAILED;
            }
        }
        self.armed = true;
        self.text(MavSeverity::MAV_SEVERITY_INFO, "Arming motors");
        if self.mode == MODE_AUTO {
            self.begin_mission(None);
        }
        self.heartbeat();
        MavResult::MAV_RESULT_ACCEPTED
    }

    pub(super) fn disarm(&mut self, force: bool) -> MavResult {
        if !self.armed {
            return MavResult::MAV_RESULT_ACCEPTED;
        }
        if !self.landed && !force {
            self.text(
                MavSeverity::MAV_SEVERITY_CRITICAL,
                "Disarm: vehicle is flying",
            );
            return MavResult::MAV_RESULT_FAILED;
        }
        self.do_disarm();
        MavResult::MAV_RESULT_ACCEPTED
    }

    pub(super) fn do_disarm(&mut self) {
        self.armed = false;
        self.mission_active = false;
        self.ground_speed = 0.0;
        self.climb = 0.0;
        if !self.landed {
            // Forced disarm in the air: the model drops it where it is.
            self.alt = 0.0;
            self.landed = true;
        }
        self.text(MavSeverity::MAV_SEVERITY_INFO, "Disarming motors");
        self.update_outputs();
        self.heartbeat();
    }

    // ---- mission execution -------------------------------------------------------------
}
