//! The kinematic flight model: AUTO, RTL and landing, the mission's DO items, and the
//! servo outputs that follow from them.

use super::*;

impl Sim {
    pub(super) fn begin_mission(&mut self, first: Option<u16>) {
        let n = self.lists[0].len() as u16;
        let mut start = first.unwrap_or(self.current).max(self.first_seq());
        if start >= n {
            start = self.first_seq();
        }
        self.current = start;
        self.mission_active = true;
        self.run_do_items();
        self.send_mission_current();
    }

    /// Executes DO items from `current` on until a NAV item (the next target) or the end.
    pub(super) fn run_do_items(&mut self) {
        while let Some(it) = self.lists[0].get(usize::from(self.current)).copied() {
            if it.is_nav() {
                return;
            }
            self.do_item(&it);
            self.current += 1;
        }
        // Past the last item: the mission is complete; hold where we are.
        self.current = self.lists[0].len().saturating_sub(1) as u16;
        if self.mission_active {
            self.mission_active = false;
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Mission complete");
        }
    }

    pub(super) fn do_item(&mut self, it: &MissionItem) {
        if it.command == CMD_DO_CHANGE_SPEED && it.params[1] > 0.0 {
            self.speed = f64::from(it.params[1]);
            return;
        }
        let pump_servo = f32::from(self.cfg.sprayer.servo);
        let applies = match it.command {
            CMD_DO_SPRAYER | CMD_DO_SET_ACTUATOR => true,
            CMD_DO_SET_SERVO => it.params[0] == pump_servo,
            _ => false,
        };
        if it.command == CMD_DO_SET_SERVO && !applies {
            let ch = it.params[0] as usize;
            if (1..=16).contains(&ch) {
                self.servos[ch - 1] = it.params[1].clamp(0.0, 65535.0) as u16;
            }
            return;
        }
        if applies && let Some(on) = it.spray_command() {
            self.pump_commanded = on;
            self.pump_by_actuator =
                it.command == CMD_DO_SET_ACTUATOR && self.cfg.firmware == Firmware::Px4;
            self.pump_level = match it.command {
                CMD_DO_SET_SERVO if on => Some(it.params[1].clamp(0.0, 65535.0).round() as u16),
                _ if on && self.pump_by_actuator => Some(self.px4_output_pwm(it.params[0])),
                _ => None,
            };
            self.via_sprayer =
                it.command == CMD_DO_SPRAYER && self.cfg.firmware == Firmware::ArduPilot;
            if self.via_sprayer {
                self.sprayer.run(on && self.sprayer_enabled());
            } else {
                self.sprayer.run(false);
            }
            self.update_outputs();
        }
    }

    pub(super) fn nav_reached(&mut self) {
        // Report where the item was reached with the outputs as they were on the way.
        self.send_stream(36);
        self.send_stream(33);
        self.send(Msg::MISSION_ITEM_REACHED(apm::MISSION_ITEM_REACHED_DATA {
            seq: self.current,
        }));
        self.text(
            MavSeverity::MAV_SEVERITY_INFO,
            &format!("Reached command #{}", self.current),
        );
        if usize::from(self.current) + 1 >= self.lists[0].len() {
            self.mission_active = false;
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Mission complete");
            return;
        }
        self.current += 1;
        self.run_do_items();
        self.send_mission_current();
    }

    /// Picks the RTL destination (the nearest of home and the rally points); the first phase.
    pub(super) fn begin_rtl(&mut self) -> RtlPhase {
        let home = (self.cfg.home.0, self.cfg.home.1);
        let here = self.pos;
        let dist = |p: (f64, f64)| {
            let (n, e) = ne_between(here, p);
            n.hypot(e)
        };
        self.rtl_target = self.lists[2]
            .iter()
            .map(|r| (r.lat(), r.lon()))
            .chain(std::iter::once(home))
            .min_by(|a, b| dist(*a).total_cmp(&dist(*b)))
            .unwrap_or(home);
        if self.landed {
            RtlPhase::Descend
        } else {
            RtlPhase::Climb
        }
    }

    // ---- flight model ------------------------------------------------------------------

    /// The speed of the leg to `target`: what the mission asks, and on ArduPilot no more than
    /// its S-curve reaches on the chain of legs it belongs to ([`crate::wpnav::chain_top_speed`]:
    /// each leg is planned from rest to rest, so a chain of short legs is flown slowly whatever
    /// speed is asked). Legs start at the previous NAV item, as `AC_WPNav` takes the previous
    /// destination as the next origin; a take-off or landing ends the chain. PX4's trajectory
    /// is not modelled: it flies as asked.
    pub(super) fn leg_speed(&self, target: (f64, f64)) -> f64 {
        let Some(mut limits) = self.cfg.wpnav else {
            return self.speed;
        };
        if self.cfg.firmware != Firmware::ArduPilot {
            return self.speed;
        }
        let list = &self.lists[0];
        let here = usize::from(self.current).min(list.len());
        let waypoint = |it: &MissionItem| {
            (it.command == CMD_NAV_WAYPOINT && it.is_nav_with_position())
                .then(|| (it.lat(), it.lon()))
        };
        let dist = |a: (f64, f64), b: (f64, f64)| {
            let (n, e) = ne_between(a, b);
            n.hypot(e)
        };
        let mut before = list[..here].iter().rev().filter(|it| it.is_nav());
        let Some(from) = before.next().and_then(waypoint) else {
            return self.speed;
        };
        let length = dist(from, target);
        if length < 0.01 {
            return self.speed;
        }
        let prev = before.next().and_then(waypoint).map(|p| dist(p, from));
        let next = list
            .get(here + 1..)
            .and_then(|rest| rest.iter().find(|it| it.is_nav()))
            .and_then(waypoint)
            .map(|p| dist(target, p));
        limits.speed_m_s = self.speed;
        crate::wpnav::chain_top_speed(length, prev, next, &limits).clamp(0.05, self.speed.max(0.05))
    }

    /// Moves horizontally toward `to` at `speed`; true when there.
    pub(super) fn move_to(&mut self, to: (f64, f64), speed: f64, dt: f64) -> bool {
        let (n, e) = ne_between(self.pos, to);
        let d = n.hypot(e);
        let step = speed * dt;
        if d < 1e-3 {
            self.pos = to;
            self.ground_speed = 0.0;
            return true;
        }
        self.heading_deg = e.atan2(n).to_degrees().rem_euclid(360.0);
        if d <= step {
            self.pos = to;
            self.ground_speed = d / dt;
            true
        } else {
            self.pos = offset(self.pos, n / d * step, e / d * step);
            self.ground_speed = speed;
            false
        }
    }

    /// Climbs or descends toward `alt`; true when there.
    pub(super) fn climb_to(&mut self, alt: f64, dt: f64) -> bool {
        let diff = alt - self.alt;
        let rate = if diff > 0.0 {
            self.cfg.climb_rate_m_s
        } else {
            self.cfg.land_speed_m_s
        };
        let step = rate * dt;
        if diff.abs() <= step {
            self.alt = alt;
            self.climb = diff / dt;
            true
        } else {
            self.alt += step * diff.signum();
            self.climb = rate * diff.signum();
            false
        }
    }

    /// Descends to the ground; on touchdown disarms. True when landed.
    pub(super) fn descend_and_land(&mut self, dt: f64) -> bool {
        self.ground_speed = 0.0;
        if self.climb_to(0.0, dt) {
            self.landed = true;
            self.climb = 0.0;
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Land complete");
            self.do_disarm();
            return true;
        }
        false
    }

    pub(super) fn substep(&mut self, dt: f64) {
        self.consumed_mah += self.current_a() * dt / 3.6;
        self.t += dt;
        if !self.armed {
            self.ground_speed = 0.0;
            self.climb = 0.0;
            return;
        }
        if self.mode == MODE_RTL {
            if let Some(phase) = self.rtl {
                self.rtl = self.rtl_step(phase, dt);
            }
            return;
        }
        match self.mode {
            MODE_AUTO if self.mission_active => self.auto_step(dt),
            MODE_LAND => {
                self.descend_and_land(dt);
            }
            _ => {
                // GUIDED without a target, LOITER, BRAKE, STABILIZE: hold position.
                self.ground_speed = 0.0;
                self.climb = 0.0;
            }
        }
    }

    /// One step of RTL; the next phase, or `None` once landed (and disarmed).
    pub(super) fn rtl_step(&mut self, phase: RtlPhase, dt: f64) -> Option<RtlPhase> {
        match phase {
            RtlPhase::Climb => {
                self.ground_speed = 0.0;
                let target = self.alt.max(self.cfg.rtl_alt_m);
                if self.climb_to(target, dt) {
                    return Some(RtlPhase::Return);
                }
                Some(RtlPhase::Climb)
            }
            RtlPhase::Return => {
                self.climb = 0.0;
                let speed = self.speed;
                if self.move_to(self.rtl_target, speed, dt) {
                    return Some(RtlPhase::Descend);
                }
                Some(RtlPhase::Return)
            }
            RtlPhase::Descend => {
                if self.descend_and_land(dt) {
                    None
                } else {
                    Some(RtlPhase::Descend)
                }
            }
        }
    }

    /// After a landing item: the mission waits at the next item (the next sortie's takeoff).
    /// At the end, ArduPilot's current item goes back to the first (seen on ArduCopter SITL:
    /// MISSION_CURRENT reads 1 once the completed mission has landed).
    pub(super) fn after_landing_in_mission(&mut self) {
        if usize::from(self.current) + 1 < self.lists[0].len() {
            self.current += 1;
        } else {
            self.text(MavSeverity::MAV_SEVERITY_INFO, "Mission complete");
            if self.cfg.firmware == Firmware::ArduPilot {
                self.current = self.first_seq();
            }
        }
        self.mission_active = false;
        self.send_mission_current();
    }

    pub(super) fn auto_step(&mut self, dt: f64) {
        let Some(it) = self.lists[0].get(usize::from(self.current)).copied() else {
            self.mission_active = false;
            return;
        };
        let target = (it.lat(), it.lon());
        let has_pos = it.x != 0 || it.y != 0;
        match it.command {
            CMD_NAV_TAKEOFF => {
                self.landed = false;
                self.ground_speed = 0.0;
                let alt = self.item_target_alt(&it).unwrap_or(f64::from(it.z));
                if self.climb_to(alt, dt) {
                    self.nav_reached();
                }
            }
            CMD_NAV_LAND => {
                let there = !has_pos || {
                    self.climb = 0.0;
                    let speed = self.speed;
                    self.move_to(target, speed, dt)
                };
                if there && self.descend_and_land(dt) {
                    // ArduCopter reports no ITEM_REACHED for the mission's final LAND: the
                    // mission completes as the vehicle lands (ModeAuto's land verify, then
                    // AP_Mission::complete).
                    let final_land = usize::from(self.current) + 1 >= self.lists[0].len();
                    if !(final_land && self.cfg.firmware == Firmware::ArduPilot) {
                        self.send(Msg::MISSION_ITEM_REACHED(apm::MISSION_ITEM_REACHED_DATA {
                            seq: self.current,
                        }));
                    }
                    self.after_landing_in_mission();
                }
            }
            CMD_NAV_RTL => {
                let phase = match self.nav_rtl {
                    Some(p) => p,
                    None => self.begin_rtl(),
                };
                self.nav_rtl = self.rtl_step(phase, dt);
                if self.nav_rtl.is_none() {
                    self.send(Msg::MISSION_ITEM_REACHED(apm::MISSION_ITEM_REACHED_DATA {
                        seq: self.current,
                    }));
                    self.after_landing_in_mission();
                }
            }
            _ if has_pos => {
                self.landed = false;
                let Some(alt) = self.item_target_alt(&it) else {
                    // Terrain not yet received: hold here (ArduPilot will not start a
                    // terrain-relative leg without it).
                    self.ground_speed = 0.0;
                    self.climb = 0.0;
                    return;
                };
                let speed = self.leg_speed(target);
                let h = self.move_to(target, speed, dt);
                let v = self.climb_to(alt, dt);
                if h && v {
                    self.nav_reached();
                }
            }
            _ => {
                // A NAV item the model does not fly (delay, loiter without position): done.
                self.nav_reached();
            }
        }
    }

    // ---- time, outputs and streams -----------------------------------------------------

    /// One tick: the flight model in small steps, the upload watchdog, the streams.
    pub(super) fn step(&mut self) {
        let total = self.cfg.dt_s();
        let n = (total / MAX_SUBSTEP_S).ceil().max(1.0);
        let dt = total / n;
        for _ in 0..n as u32 {
            self.substep(dt);
            self.update_outputs();
        }
        self.upload_watchdog();
        if self.cfg.firmware == Firmware::ArduPilot {
            self.terrain_tick();
        }
        self.streams();
    }

    /// Servo outputs from the motor and pump state; a pump change is reported at once.
    /// ArduPilot's sprayer (DO_SPRAYER) runs its own rules ([`sprayer`]); a pump on a plain
    /// output (DO_SET_SERVO, PX4's DO_SET_ACTUATOR) follows its command at once; PX4 maps the
    /// actuator value over the pump output's PWM range ([`Sim::px4_output_pwm`]).
    pub(super) fn update_outputs(&mut self) {
        let enabled = self.sprayer_enabled();
        self.sprayer.advance(
            self.t,
            self.ground_speed,
            self.cfg.spray_min_speed_m_s,
            enabled,
        );
        let on = self.armed
            && self.pump_commanded
            && if self.via_sprayer {
                self.sprayer.spraying
            } else {
                true
            };
        let motor = match (self.armed, self.landed) {
            (false, _) => 1000,
            (true, true) => 1100,
            (true, false) => 1500,
        };
        for s in self.servos.iter_mut().take(4) {
            *s = motor;
        }
        let pump_idx = usize::from(self.cfg.sprayer.servo.clamp(1, 16)) - 1;
        let pwm = if on {
            self.pump_level.unwrap_or(self.cfg.pump_pwm.0)
        } else if self.pump_by_actuator {
            // PX4: actuator value −1 is the output's minimum.
            self.px4_output_pwm(-1.0)
        } else {
            self.cfg.pump_pwm.1
        };
        let level_changed = self.servos[pump_idx] != pwm;
        self.servos[pump_idx] = pwm;
        if on != self.pump_on || (on && level_changed) {
            self.pump_on = on;
            self.send_stream(36);
        }
    }
}
