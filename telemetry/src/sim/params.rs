//! The simulator's parameters: the table each personality answers PARAM_REQUEST_READ and
//! PARAM_SET from, and what a set value changes.

use super::*;

/// The three parameter names of each output `n`.
macro_rules! outputs {
    ($($n:literal),*) => {
        [$((
            concat!("PWM_MAIN_FUNC", $n),
            concat!("PWM_MAIN_MIN", $n),
            concat!("PWM_MAIN_MAX", $n),
        )),*]
    };
}

/// `(PWM_MAIN_FUNCn, PWM_MAIN_MINn, PWM_MAIN_MAXn)` of PX4's sixteen simulated outputs.
const PX4_OUTPUTS: [(&str, &str, &str); 16] =
    outputs!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);

impl Sim {
    /// The parameters this personality has, with their types and current values. ArduPilot:
    /// Copter defaults (FENCE_TYPE 7 = altitude, circle and polygon; FENCE_ACTION 1 = RTL;
    /// FENCE_ENABLE 0; RTL_ALT in cm; FENCE_TOTAL / RALLY_TOTAL count what is stored). PX4:
    /// GF_ACTION 2 (hold), RTL_RETURN_ALT in metres.
    pub(super) fn param_table(&self) -> Vec<(&'static str, MavParamType, f64)> {
        use MavParamType::{MAV_PARAM_TYPE_INT8 as I8, MAV_PARAM_TYPE_INT16 as I16};
        use MavParamType::{MAV_PARAM_TYPE_INT32 as I32, MAV_PARAM_TYPE_REAL32 as R32};
        let get = |name: &str, default: f64| self.params.get(name).copied().unwrap_or(default);
        match self.cfg.firmware {
            Firmware::ArduPilot => vec![
                ("FENCE_ENABLE", I8, get("FENCE_ENABLE", 0.0)),
                ("FENCE_TYPE", I8, get("FENCE_TYPE", 7.0)),
                ("FENCE_ACTION", I8, get("FENCE_ACTION", 1.0)),
                ("FENCE_MARGIN", R32, get("FENCE_MARGIN", 2.0)),
                // AC_Fence.cpp `TOTAL`, an AP_Int8 (AC_PolyFence_loader.h `AP_Int8 &_total`):
                // ArduPilot can never count more than 127 fence items.
                ("FENCE_TOTAL", I8, self.fence_total()),
                ("RALLY_TOTAL", I8, self.lists[2].len() as f64),
                (
                    "RTL_ALT",
                    I32,
                    get("RTL_ALT", (self.cfg.rtl_alt_m * 100.0).round()),
                ),
                ("SPRAY_ENABLE", I8, get("SPRAY_ENABLE", 1.0)),
                // AC_Sprayer.h: `AP_Float _speed_min` in cm/s (AC_Sprayer.cpp `SPEED_MIN`).
                // SPRAY_ENABLE carries AP_PARAM_FLAG_ENABLE, which leaves the other SPRAY_* out of
                // the parameter list while it is 0, but ArduCopter SITL still answers a read
                // of SPRAY_SPEED_MIN by name then (seen on 4.8.0-dev): so does this table.
                (
                    "SPRAY_SPEED_MIN",
                    R32,
                    get(
                        "SPRAY_SPEED_MIN",
                        (self.cfg.spray_min_speed_m_s * 100.0).round(),
                    ),
                ),
                (
                    "SERVO9_FUNCTION",
                    I16,
                    if self.cfg.sprayer.servo == 9 {
                        22.0
                    } else {
                        0.0
                    },
                ),
                // AP_Terrain.cpp: TERRAIN_ENABLE (AP_Int8, default 1) and TERRAIN_SPACING
                // (AP_Int16, metres, default 100). This vehicle follows terrain only when it
                // has a ground to stand on.
                (
                    "TERRAIN_ENABLE",
                    I8,
                    get(
                        "TERRAIN_ENABLE",
                        f64::from(u8::from(self.cfg.ground.is_some())),
                    ),
                ),
                (
                    "TERRAIN_SPACING",
                    I16,
                    self.cfg
                        .ground
                        .as_ref()
                        .map_or(100.0, |g| f64::from(g.terrain_spacing_m)),
                ),
            ],
            Firmware::Px4 => {
                let mut t = vec![
                    ("GF_ACTION", I32, get("GF_ACTION", 2.0)),
                    (
                        "RTL_RETURN_ALT",
                        R32,
                        get("RTL_RETURN_ALT", self.cfg.rtl_alt_m),
                    ),
                ];
                // The outputs as PX4's PWM driver has them (pwm_out module.yaml: FUNCn, MINn
                // and MAXn, INT32): a quad's motors on 1–4 (functions 101–104), the pump on
                // its output as "Peripheral via Actuator Set 1" (301).
                for (i, &(func, min, max)) in PX4_OUTPUTS.iter().enumerate() {
                    let n = i + 1;
                    let function = if n == usize::from(self.cfg.sprayer.servo) {
                        crate::PX4_ACTUATOR_SET_1
                    } else if n <= 4 {
                        100.0 + n as f64
                    } else {
                        0.0
                    };
                    t.push((func, I32, get(func, function)));
                    t.push((min, I32, get(min, 1000.0)));
                    t.push((max, I32, get(max, 2000.0)));
                }
                t
            }
        }
    }

    /// The PWM PX4 puts out on the pump's output for actuator value `value` (−1…1): linear
    /// over the output's PWM_MAIN_MINn…MAXn, rounded (`MixingOutput::output_limit_calc_single`,
    /// `src/lib/mixer_module/mixer_module.cpp`); NaN leaves the output where it is
    /// (`FunctionActuatorSet.hpp`).
    pub(super) fn px4_output_pwm(&self, value: f32) -> u16 {
        let n = usize::from(self.cfg.sprayer.servo.clamp(1, 16));
        if value.is_nan() {
            return self.servos[n - 1];
        }
        let (_, min, max) = PX4_OUTPUTS[n - 1];
        let range = |name: &str, default: f64| self.params.get(name).copied().unwrap_or(default);
        let (lo, hi) = (range(min, 1000.0), range(max, 2000.0));
        let v = f64::from(value.clamp(-1.0, 1.0));
        (lo + (v + 1.0) / 2.0 * (hi - lo))
            .round()
            .clamp(0.0, f64::from(u16::MAX)) as u16
    }

    /// ArduPilot's sprayer is switched on (SPRAY_ENABLE 1); PX4 has no such switch.
    pub(super) fn sprayer_enabled(&self) -> bool {
        self.cfg.firmware != Firmware::ArduPilot
            || self.params.get("SPRAY_ENABLE").copied().unwrap_or(1.0) >= 1.0
    }

    /// ArduPilot's FENCE_TOTAL after a fence upload: the stored vertices and circles, plus 2
    /// once there are at least 3 (AC_PolyFence_loader::write_fence: `new_total =
    /// total_vertex_count + 2`; seen on ArduCopter SITL: 12 vertices gave 14).
    pub(super) fn fence_total(&self) -> f64 {
        let n = self.lists[1]
            .iter()
            .filter(|i| (5001..=5004).contains(&i.command))
            .count();
        if n >= 3 { (n + 2) as f64 } else { n as f64 }
    }

    /// Answers PARAM_REQUEST_READ / PARAM_SET for `name` (silence for names it lacks, as
    /// ArduPilot); a set value is stored unless the parameter is a count the vehicle keeps.
    pub(super) fn param_request(&mut self, name: &str, set: Option<f32>) {
        let table = self.param_table();
        let Some(index) = table.iter().position(|(n, _, _)| *n == name) else {
            return;
        };
        let kind = table[index].1;
        if let Some(raw) = set
            && !name.ends_with("_TOTAL")
        {
            let value = crate::params::decode_param(self.cfg.firmware, raw, kind);
            self.params.insert(name.to_string(), value);
            match name {
                "RTL_ALT" => self.cfg.rtl_alt_m = value / 100.0,
                "RTL_RETURN_ALT" => self.cfg.rtl_alt_m = value,
                "SPRAY_SPEED_MIN" => self.cfg.spray_min_speed_m_s = value / 100.0,
                // TerrainGCS.cpp drops cached blocks of another spacing and asks again.
                "TERRAIN_SPACING" => {
                    if let Some(g) = self.cfg.ground.as_mut() {
                        g.terrain_spacing_m = value.clamp(1.0, f64::from(u16::MAX)) as u16;
                        self.terrain = Some(TerrainCache::new(g.terrain_spacing_m));
                    }
                }
                _ => {}
            }
        }
        let value = self.param_table()[index].2;
        self.send(Msg::PARAM_VALUE(apm::PARAM_VALUE_DATA {
            param_value: crate::params::encode_param(self.cfg.firmware, value, kind),
            param_count: table.len() as u16,
            param_index: index as u16,
            param_id: name.into(),
            param_type: kind,
        }));
    }

    /// True when the fence is on and would act on a breach (ArduPilot FENCE_ENABLE 1 with a
    /// polygon in FENCE_TYPE and an action; PX4 GF_ACTION not 0).
    pub(super) fn fence_active(&self) -> bool {
        let get = |n: &str| {
            self.param_table()
                .into_iter()
                .find(|(name, _, _)| *name == n)
                .map_or(0.0, |(_, _, v)| v)
        };
        match self.cfg.firmware {
            Firmware::ArduPilot => {
                get("FENCE_ENABLE") >= 1.0
                    && (get("FENCE_TYPE") as i64) & 4 != 0
                    && get("FENCE_ACTION") >= 1.0
            }
            Firmware::Px4 => get("GF_ACTION") >= 1.0,
        }
    }
}
