//! ArduPilot's sprayer (AC_Sprayer) as the simulator runs it: `DO_SPRAYER` only sets it
//! running, and the pump follows at its next updates, by ground speed.
//!
//! From `libraries/AC_Sprayer/AC_Sprayer.cpp` (`run()`, `update()`) and its 3 Hz slot in
//! `ArduCopter/Copter.cpp` (`SCHED_TASK_CLASS(AC_Sprayer, &copter.sprayer, update, 3, 90, 54)`):
//! - `run(false)` stops the pump at once; `run(true)` only sets `running`;
//! - every update while running: with the ground speed at or above `SPRAY_SPEED_MIN`, the first
//!   update notes the time and a later one more than `AC_SPRAYER_DEFAULT_TURN_ON_DELAY` (100 ms)
//!   after it turns the pump on; below it, a pump that is on stays on until an update more than
//!   `AC_SPRAYER_DEFAULT_SHUT_OFF_DELAY` (1 000 ms) after the speed first fell.
//!
//! So the pump starts 1/3 to 2/3 s after `DO_SPRAYER 1` at speed. The planner's run-up
//! (`PlanConfig::sprayer_lead`) is sized by this, and the ArduPilot SITL flights check it.

/// Update period of AC_Sprayer's scheduler slot, seconds (3 Hz).
pub const UPDATE_PERIOD_S: f64 = 1.0 / 3.0;
/// `AC_SPRAYER_DEFAULT_TURN_ON_DELAY`, seconds.
pub const TURN_ON_DELAY_S: f64 = 0.1;
/// `AC_SPRAYER_DEFAULT_SHUT_OFF_DELAY`, seconds.
pub const SHUT_OFF_DELAY_S: f64 = 1.0;

/// AC_Sprayer's flags and timers.
#[derive(Debug, Clone, Default)]
pub(super) struct AcSprayer {
    /// `_flags.running`: switched on by `DO_SPRAYER 1`.
    pub running: bool,
    /// `_flags.spraying`: the pump output is on.
    pub spraying: bool,
    speed_over_min_since: Option<f64>,
    speed_under_min_since: Option<f64>,
    /// Simulated time of the next scheduler update.
    next_update: f64,
}

impl AcSprayer {
    /// `run(activate)`: stopping takes effect at once, starting at the coming updates.
    pub fn run(&mut self, activate: bool) {
        self.running = activate;
        if !activate {
            self.spraying = false;
        }
    }

    /// Runs every update due by simulated time `t`, at `ground_speed` against `speed_min`
    /// (m/s); `enabled` is SPRAY_ENABLE. True when the pump output changed.
    pub fn advance(&mut self, t: f64, ground_speed: f64, speed_min: f64, enabled: bool) -> bool {
        let before = self.spraying;
        while self.next_update <= t {
            let now = self.next_update;
            self.next_update += UPDATE_PERIOD_S;
            self.update(now, ground_speed, speed_min, enabled);
        }
        before != self.spraying
    }

    fn update(&mut self, now: f64, ground_speed: f64, speed_min: f64, enabled: bool) {
        if !enabled || !self.running {
            self.run(false);
            return;
        }
        if ground_speed >= speed_min {
            if !self.spraying {
                match self.speed_over_min_since {
                    None => self.speed_over_min_since = Some(now),
                    Some(since) if now - since > TURN_ON_DELAY_S => {
                        self.spraying = true;
                        self.speed_over_min_since = None;
                    }
                    Some(_) => {}
                }
            }
            self.speed_under_min_since = None;
        } else {
            if self.spraying {
                match self.speed_under_min_since {
                    None => self.speed_under_min_since = Some(now),
                    Some(since) if now - since > SHUT_OFF_DELAY_S => {
                        self.spraying = false;
                        self.speed_under_min_since = None;
                    }
                    Some(_) => {}
                }
            }
            self.speed_over_min_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time from `run(true)` at `t0` to the pump turning on at a steady 3 m/s.
    fn turn_on_after(t0: f64) -> f64 {
        let mut s = AcSprayer::default();
        s.advance(t0, 3.0, 1.0, true);
        s.run(true);
        let mut t = t0;
        while !s.spraying {
            t += 0.001;
            s.advance(t, 3.0, 1.0, true);
        }
        t - t0
    }

    #[test]
    fn the_pump_starts_at_the_second_update_after_the_command() {
        for k in 0..100 {
            let t0 = 10.0 + f64::from(k) * 0.0037;
            let lag = turn_on_after(t0);
            assert!(
                lag > UPDATE_PERIOD_S - 0.002 && lag <= 2.0 * UPDATE_PERIOD_S + 0.002,
                "{lag} after {t0}"
            );
        }
    }

    #[test]
    fn stopping_is_at_once_and_slowing_down_keeps_the_pump_on_a_second() {
        let mut s = AcSprayer::default();
        s.run(true);
        s.advance(2.0, 3.0, 1.0, true);
        assert!(s.spraying);
        // Below SPRAY_SPEED_MIN from the update at 2.33 s: still on at 2.9 s, off after the
        // update at 3.67 s (more than 1 s later).
        s.advance(2.9, 0.5, 1.0, true);
        assert!(s.spraying);
        s.advance(3.7, 0.5, 1.0, true);
        assert!(!s.spraying);
        // Back to speed and on; DO_SPRAYER 0 stops it with no update at all.
        s.advance(5.0, 3.0, 1.0, true);
        assert!(s.spraying);
        s.run(false);
        assert!(!s.spraying);
        // SPRAY_ENABLE 0: never on.
        let mut off = AcSprayer::default();
        off.run(true);
        off.advance(5.0, 3.0, 1.0, false);
        assert!(!off.spraying && !off.running);
    }
}
