//! Which output of a PX4 vehicle drives the spray pump, and over what PWM range, as its own
//! parameters say: what turns the pump output PX4 reports back into the actuator value the
//! mission commanded.
//!
//! PX4 (1.13 and later) drives an output from `MAV_CMD_DO_SET_ACTUATOR` param1 when the
//! output's function is "Peripheral via Actuator Set 1", 301 (`PWM_MAIN_FUNCn`;
//! `src/lib/mixer_module/output_functions.yaml`, `functions/FunctionActuatorSet.hpp`), and maps
//! the value −1…1 linearly onto the output's `PWM_MAIN_MINn…PWM_MAIN_MAXn`, defaults 1000 and
//! 2000 µs (`src/drivers/pwm_out/module.yaml`; `MixingOutput::output_limit_calc_single` in
//! `src/lib/mixer_module/mixer_module.cpp`). The same outputs, 1-based, are what PX4's
//! `SERVO_OUTPUT_RAW` port 0 reports (`src/modules/mavlink/streams/SERVO_OUTPUT_RAW.hpp`
//! copies `actuator_outputs` instance 0 into servo1…servo16). Outputs on a second driver
//! (`PWM_AUX_*`, reported as port 1) are not read.

use std::collections::HashMap;

use crate::command::Vehicle;
use crate::error::{Error, Result};
use crate::frame::Msg;
use crate::modes::Firmware;
use crate::params::decode_param;
use crate::record::TlogRecord;
use crate::vehicle_state::SprayerOutput;

/// PX4's output function "Peripheral via Actuator Set 1": the output DO_SET_ACTUATOR param1
/// drives (`output_functions.yaml`, `Peripheral_via_Actuator_Set`, start 301).
pub const PX4_ACTUATOR_SET_1: f64 = 301.0;

/// PX4's default `PWM_MAIN_MINn`, µs (`src/drivers/pwm_out/module.yaml`).
pub const PX4_PWM_MIN_DEFAULT: u16 = 1000;

/// PX4's default `PWM_MAIN_MAXn`, µs (`src/drivers/pwm_out/module.yaml`).
pub const PX4_PWM_MAX_DEFAULT: u16 = 2000;

/// The outputs a PX4 `SERVO_OUTPUT_RAW` port 0 reports (servo1…servo16).
const OUTPUTS: u8 = 16;

/// The output that drives a PX4 vehicle's pump and its PWM range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PumpOutput {
    /// The output, 1-based (`PWM_MAIN_FUNCn` = 301; servo n of SERVO_OUTPUT_RAW port 0).
    pub servo: u8,
    /// The output's PWM at actuator value −1 (the pump off), µs.
    pub pwm_min: u16,
    /// The output's PWM at actuator value 1 (full flow), µs.
    pub pwm_max: u16,
}

/// What a PX4 vehicle's parameters say about its pump output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpOutputSetup {
    /// An output drives the pump from the mission's actuator value.
    Found(PumpOutput),
    /// The vehicle has output functions, but none is "Peripheral via Actuator Set 1": the
    /// mission's DO_SET_ACTUATOR would move nothing.
    NoneAssigned,
    /// The vehicle has no `PWM_MAIN_FUNCn` (PX4 before 1.13, or no PWM driver): unknown.
    Unknown,
}

impl PumpOutput {
    /// The PWM of actuator value 0, the pump's no-flow level, µs.
    pub fn pwm_centre(&self) -> f64 {
        (f64::from(self.pwm_min) + f64::from(self.pwm_max)) / 2.0
    }

    /// The sprayer output the link reads the pump state by: on from halfway between off
    /// (the range's minimum) and the no-flow level, so every commanded flow counts as on.
    pub fn sprayer(&self) -> SprayerOutput {
        SprayerOutput {
            servo: self.servo,
            on_at_or_above_pwm: ((f64::from(self.pwm_min) + self.pwm_centre()) / 2.0).round()
                as u16,
        }
    }

    /// Reads the pump output from parameters by name: the first `PWM_MAIN_FUNCn` that is 301,
    /// with its `PWM_MAIN_MINn` and `PWM_MAIN_MAXn` (PX4's defaults where they are missing).
    pub fn from_params(get: impl Fn(&str) -> Option<f64>) -> PumpOutputSetup {
        let mut any = false;
        for n in 1..=OUTPUTS {
            let Some(function) = get(&format!("PWM_MAIN_FUNC{n}")) else {
                continue;
            };
            any = true;
            if function != PX4_ACTUATOR_SET_1 {
                continue;
            }
            let pwm = |name: String, default: u16| {
                get(&name)
                    .filter(|v| v.is_finite() && (0.0..=f64::from(u16::MAX)).contains(v))
                    .map_or(default, |v| v.round() as u16)
            };
            return PumpOutputSetup::Found(PumpOutput {
                servo: n,
                pwm_min: pwm(format!("PWM_MAIN_MIN{n}"), PX4_PWM_MIN_DEFAULT),
                pwm_max: pwm(format!("PWM_MAIN_MAX{n}"), PX4_PWM_MAX_DEFAULT),
            });
        }
        if any {
            PumpOutputSetup::NoneAssigned
        } else {
            PumpOutputSetup::Unknown
        }
    }

    /// The pump output as a recorded flight's own PARAM_VALUE messages say (the ground
    /// station that flew it read them: QGroundControl reads every parameter at connect, this
    /// link the pump's before a PX4 launch); the last value of each parameter wins. `None`
    /// for a log of another autopilot, or one without those parameters.
    pub fn in_records(records: &[TlogRecord]) -> Option<PumpOutput> {
        let px4 = records.iter().any(|r| {
            matches!(&r.frame.msg, Msg::HEARTBEAT(h)
                if Firmware::from_autopilot(h.autopilot) == Firmware::Px4)
        });
        if !px4 {
            return None;
        }
        let mut params = HashMap::new();
        for r in records {
            if let Msg::PARAM_VALUE(p) = &r.frame.msg {
                let end = p
                    .param_id
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(p.param_id.len());
                let Ok(name) = std::str::from_utf8(&p.param_id[..end]) else {
                    continue;
                };
                if name.starts_with("PWM_MAIN_") {
                    params.insert(
                        name.to_owned(),
                        decode_param(Firmware::Px4, p.param_value, p.param_type),
                    );
                }
            }
        }
        match Self::from_params(|n| params.get(n).copied()) {
            PumpOutputSetup::Found(o) => Some(o),
            _ => None,
        }
    }
}

impl Vehicle {
    /// Reads which output drives the pump of a PX4 vehicle ([`PumpOutput::from_params`]), by
    /// name, one parameter at a time; [`PumpOutputSetup::Unknown`] for ArduPilot.
    ///
    /// # Errors
    /// As [`Self::param`], except an unknown parameter, which is an answer.
    pub async fn px4_pump_output(&self) -> Result<PumpOutputSetup> {
        if self.target().firmware != Firmware::Px4 {
            return Ok(PumpOutputSetup::Unknown);
        }
        let mut known = HashMap::new();
        let mut any = false;
        for n in 1..=OUTPUTS {
            let name = format!("PWM_MAIN_FUNC{n}");
            match self.param(&name).await {
                Ok(v) => {
                    any = true;
                    known.insert(name, v.value);
                    if v.value == PX4_ACTUATOR_SET_1 {
                        for range in [format!("PWM_MAIN_MIN{n}"), format!("PWM_MAIN_MAX{n}")] {
                            match self.param(&range).await {
                                Ok(v) => {
                                    known.insert(range, v.value);
                                }
                                Err(Error::ParamUnknown { .. }) => {}
                                Err(e) => return Err(e),
                            }
                        }
                        break;
                    }
                }
                // A board with fewer outputs has no higher FUNCn; one without any has none.
                Err(Error::ParamUnknown { .. }) if any => break,
                Err(Error::ParamUnknown { .. }) if n == 1 => return Ok(PumpOutputSetup::Unknown),
                Err(Error::ParamUnknown { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(PumpOutput::from_params(|n| known.get(n).copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, f64)]) -> impl Fn(&str) -> Option<f64> + use<> {
        let m: HashMap<String, f64> = pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        move |n| m.get(n).copied()
    }

    #[test]
    fn the_first_actuator_set_output_is_the_pump() {
        let get = table(&[
            ("PWM_MAIN_FUNC1", 101.0),
            ("PWM_MAIN_FUNC2", 102.0),
            ("PWM_MAIN_FUNC5", 301.0),
            ("PWM_MAIN_MIN5", 1100.0),
            ("PWM_MAIN_MAX5", 1900.0),
            ("PWM_MAIN_FUNC6", 301.0),
        ]);
        let found = PumpOutput::from_params(get);
        assert_eq!(
            found,
            PumpOutputSetup::Found(PumpOutput {
                servo: 5,
                pwm_min: 1100,
                pwm_max: 1900
            })
        );
        let PumpOutputSetup::Found(o) = found else {
            unreachable!()
        };
        assert_eq!(o.pwm_centre(), 1500.0);
        // On from halfway between off and no flow.
        assert_eq!(o.sprayer().on_at_or_above_pwm, 1300);
        assert_eq!(o.sprayer().servo, 5);
    }

    #[test]
    fn defaults_none_and_unknown() {
        let get = table(&[("PWM_MAIN_FUNC3", 301.0)]);
        assert_eq!(
            PumpOutput::from_params(get),
            PumpOutputSetup::Found(PumpOutput {
                servo: 3,
                pwm_min: PX4_PWM_MIN_DEFAULT,
                pwm_max: PX4_PWM_MAX_DEFAULT
            })
        );
        let get = table(&[("PWM_MAIN_FUNC1", 101.0), ("PWM_MAIN_FUNC9", 0.0)]);
        assert_eq!(PumpOutput::from_params(get), PumpOutputSetup::NoneAssigned);
        assert_eq!(
            PumpOutput::from_params(table(&[])),
            PumpOutputSetup::Unknown
        );
        // A nonsense range falls back to the defaults rather than wrapping.
        let get = table(&[("PWM_MAIN_FUNC1", 301.0), ("PWM_MAIN_MIN1", -5.0)]);
        let PumpOutputSetup::Found(o) = PumpOutput::from_params(get) else {
            panic!("found")
        };
        assert_eq!(o.pwm_min, PX4_PWM_MIN_DEFAULT);
    }
}
