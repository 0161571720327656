//! The pump calibration: how a rate becomes a pump command and how a pump output the vehicle
//! reports becomes a rate again. The exporters command by it and the as-applied view reads
//! the flown outputs back by it, so the two can never disagree.
//!
//! A rate `r` L/ha over a swath `w` m at `v` m/s needs a flow of `r / 10 000 × w × v × 60`
//! L/min, a fraction `f` of the pump's full flow; PX4's actuator is told `f`, a servo output
//! `1500 + f × (pwm_on − 1500)` µs (the module docs of [`crate::export`]).
//!
//! PX4 turns its actuator value `v` (−1…1) into its output's PWM linearly over the output's
//! range, `min + (v + 1) / 2 × (max − min)` (`MixingOutput::output_limit_calc_single`,
//! `src/lib/mixer_module/mixer_module.cpp`): a fraction `f` lands at
//! `(min + max) / 2 + f × (max − min) / 2`, which [`PumpCalibration::output_range`] reads back.

/// PWM of the lowest pump-on level: servo levels run from here to `pwm_on`, and every output
/// at or below [`PWM_OFF_AT_OR_BELOW`] is the pump off.
pub const PWM_LEVEL_ZERO: f64 = 1500.0;

/// An output at or below this PWM (µs) is the pump off (the link reads pump state by it).
pub const PWM_OFF_AT_OR_BELOW: u16 = 1100;

/// The servo pump's PWM at full flow the web and the command line plan with (µs).
pub const SERVO_PWM_FULL: u16 = 1900;

/// The servo pump's PWM with the pump off the web and the command line plan with (µs).
pub const SERVO_PWM_OFF: u16 = 1000;

/// How the pump's command maps to its flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PumpCalibration {
    /// The pump's full flow, L/min (kg/min for granules).
    pub full_flow_l_min: f64,
    /// PWM at no flow, where the pump-on levels start (µs; [`PWM_LEVEL_ZERO`] for servo pumps).
    pub pwm_zero: f64,
    /// PWM at full flow (above `pwm_zero`).
    pub pwm_on: u16,
}

impl PumpCalibration {
    /// A pump on a servo output, as the planner commands it: levels from [`PWM_LEVEL_ZERO`]
    /// to `pwm_on`.
    pub fn servo(full_flow_l_min: f64, pwm_on: u16) -> Self {
        Self {
            full_flow_l_min,
            pwm_zero: PWM_LEVEL_ZERO,
            pwm_on,
        }
    }

    /// A pump on a PX4 output driven by its actuator value (−1 off, 0 no flow, 1 full flow)
    /// over the output's PWM range `min…max` (PWM_MAIN_MINn, PWM_MAIN_MAXn); `None` for a
    /// range that is empty or upside down.
    pub fn output_range(full_flow_l_min: f64, pwm_min: u16, pwm_max: u16) -> Option<Self> {
        (pwm_max > pwm_min).then(|| Self {
            full_flow_l_min,
            pwm_zero: (f64::from(pwm_min) + f64::from(pwm_max)) / 2.0,
            pwm_on: pwm_max,
        })
    }

    /// The PWM (µs, unrounded) that commands `fraction` (0 < f ≤ 1) of the full flow.
    pub fn pwm_for_fraction(&self, fraction: f64) -> f64 {
        self.pwm_zero + fraction.clamp(0.0, 1.0) * (f64::from(self.pwm_on) - self.pwm_zero)
    }

    /// The fraction of full flow (0…1) a reported PWM gives: 0 at or below the off threshold
    /// and below `pwm_zero`, 1 at or above `pwm_on`.
    pub fn fraction_for_pwm(&self, pwm: u16) -> f64 {
        let span = f64::from(self.pwm_on) - self.pwm_zero;
        if pwm <= PWM_OFF_AT_OR_BELOW || span <= 0.0 {
            return 0.0;
        }
        ((f64::from(pwm) - self.pwm_zero) / span).clamp(0.0, 1.0)
    }

    /// The pump's flow at a fraction of full flow (PX4's actuator value), L/min.
    pub fn flow_for_fraction(&self, fraction: f64) -> f64 {
        fraction.clamp(0.0, 1.0) * self.full_flow_l_min
    }

    /// The fraction of full flow that gives `flow` L/min (clamped to 0…1).
    pub fn fraction_for_flow(&self, flow_l_min: f64) -> f64 {
        if self.full_flow_l_min > 0.0 {
            (flow_l_min / self.full_flow_l_min).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The pump's flow at a reported PWM, L/min.
    pub fn flow_for_pwm(&self, pwm: u16) -> f64 {
        self.flow_for_fraction(self.fraction_for_pwm(pwm))
    }

    /// The PWM (µs, unrounded) that commands `rate_per_ha` over `width` m at `speed` m/s.
    pub fn pwm_for_rate(&self, rate_per_ha: f64, width: f64, speed: f64) -> f64 {
        self.pwm_for_fraction(self.fraction_for_flow(pump_flow_l_min(rate_per_ha, width, speed)))
    }
}

/// The pump flow that lays `rate_per_ha` over a swath of `width` at `speed`, L/min.
pub fn pump_flow_l_min(rate_per_ha: f64, width: f64, speed: f64) -> f64 {
    rate_per_ha / 10_000.0 * width * speed * 60.0
}

/// The rate a flow of `flow_l_min` lays over a swath of `width` at `speed`, L/ha: the inverse
/// of [`pump_flow_l_min`]; `None` when the vehicle is not moving over a swath.
pub fn rate_for_flow(flow_l_min: f64, width: f64, speed: f64) -> Option<f64> {
    (width > 0.0 && speed > 0.0 && flow_l_min.is_finite())
        .then(|| flow_l_min / 60.0 / (width * speed) * 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cal(full: f64) -> PumpCalibration {
        PumpCalibration::servo(full, SERVO_PWM_FULL)
    }

    #[test]
    fn a_px4_output_reads_back_the_actuator_value() {
        // PX4's default output range 1000–2000 µs: −1 (off) → 1000, 0 → 1500, 1 → 2000.
        let c = PumpCalibration::output_range(2.4, 1000, 2000).unwrap();
        assert_eq!(c.flow_for_pwm(1000), 0.0);
        assert_eq!(c.flow_for_pwm(1500), 0.0);
        assert_eq!(c.flow_for_pwm(1750), 1.2);
        assert_eq!(c.flow_for_pwm(2000), 2.4);
        // An output range that is not centred on 1500 µs centres the levels on its own middle.
        let c = PumpCalibration::output_range(2.0, 1100, 1900).unwrap();
        assert_eq!(c.pwm_for_fraction(0.5), 1700.0);
        let c = PumpCalibration::output_range(2.0, 1200, 2000).unwrap();
        assert_eq!(c.pwm_for_fraction(0.0), 1600.0);
        assert_eq!(c.flow_for_pwm(1800), 1.0);
        assert_eq!(PumpCalibration::output_range(2.0, 2000, 1000), None);
        assert_eq!(PumpCalibration::output_range(2.0, 1500, 1500), None);
    }

    #[test]
    fn off_and_full_are_the_ends() {
        let c = cal(2.4);
        assert_eq!(c.flow_for_pwm(SERVO_PWM_OFF), 0.0);
        assert_eq!(c.flow_for_pwm(1100), 0.0);
        assert_eq!(c.flow_for_pwm(1500), 0.0);
        assert_eq!(c.flow_for_pwm(1900), 2.4);
        assert_eq!(c.flow_for_pwm(2000), 2.4);
        assert_eq!(c.flow_for_pwm(1700), 1.2);
        assert_eq!(rate_for_flow(1.0, 0.0, 3.0), None);
        assert_eq!(rate_for_flow(1.0, 5.0, 0.0), None);
    }

    proptest! {
        /// Rate → PWM (rounded to the µs the mission item carries) → rate is exact within
        /// half a µs of flow: full flow / (pwm_on − 1500) / 2 L/min.
        #[test]
        fn rate_to_pwm_and_back(
            full in 0.5f64..20.0,
            width in 1.0f64..12.0,
            speed in 1.0f64..8.0,
            frac in 0.01f64..1.0,
        ) {
            let c = cal(full);
            let flow = frac * full;
            let rate = flow / 60.0 / (width * speed) * 10_000.0;
            let pwm = c.pwm_for_rate(rate, width, speed).round() as u16;
            let back = rate_for_flow(c.flow_for_pwm(pwm), width, speed).unwrap();
            let half_us = full / f64::from(SERVO_PWM_FULL - 1500) / 2.0;
            let tol = rate_for_flow(half_us, width, speed).unwrap() + 1e-9;
            prop_assert!((back - rate).abs() <= tol, "{rate} → {pwm} → {back} (±{tol})");
        }

        /// More PWM never means less flow, and a faster pass at the same flow a lower rate.
        #[test]
        fn monotonic(full in 0.5f64..20.0, a in 900u16..2100, b in 900u16..2100) {
            let c = cal(full);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(c.flow_for_pwm(lo) <= c.flow_for_pwm(hi));
            let f = c.flow_for_pwm(hi);
            let slow = rate_for_flow(f, 5.0, 2.0).unwrap();
            let fast = rate_for_flow(f, 5.0, 4.0).unwrap();
            prop_assert!(fast <= slow);
        }

        /// The actuator fraction round trip is exact.
        #[test]
        fn fraction_round_trip(full in 0.5f64..20.0, frac in 0.0f64..1.0) {
            let c = cal(full);
            prop_assert!((c.fraction_for_flow(c.flow_for_fraction(frac)) - frac).abs() < 1e-12);
        }
    }
}
