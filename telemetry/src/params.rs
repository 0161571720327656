//! The MAVLink parameter protocol for the few parameters a spray flight depends on (the fence,
//! the return altitude): read one by name, set one and read the vehicle's echo back.
//!
//! Integer parameters travel in PARAM_VALUE's float field two ways: ArduPilot casts the value
//! to float ("C cast"; `GCS_MAVLINK::handle_param_set`, AP_Param), PX4 copies the integer's
//! bytes into it ("bytewise", MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE). Both are decoded
//! here by the autopilot family.

use mavlink::dialects::ardupilotmega::{self as apm, MavParamType};

use crate::command::Vehicle;
use crate::error::{Error, Result};
use crate::frame::Msg;
use crate::link::recv_until;
use crate::modes::Firmware;

/// A parameter as the vehicle reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamValue {
    /// The value, decoded.
    pub value: f64,
    /// Its MAVLink type.
    pub kind: MavParamType,
}

/// True for the integer parameter types.
fn is_integer(kind: MavParamType) -> bool {
    !matches!(
        kind,
        MavParamType::MAV_PARAM_TYPE_REAL32 | MavParamType::MAV_PARAM_TYPE_REAL64
    )
}

/// Decodes PARAM_VALUE.param_value by the firmware's encoding.
pub fn decode_param(firmware: Firmware, raw: f32, kind: MavParamType) -> f64 {
    if firmware == Firmware::Px4 && is_integer(kind) {
        let bits = raw.to_bits();
        return match kind {
            MavParamType::MAV_PARAM_TYPE_UINT8 => f64::from(bits as u8),
            MavParamType::MAV_PARAM_TYPE_INT8 => f64::from(bits as u8 as i8),
            MavParamType::MAV_PARAM_TYPE_UINT16 => f64::from(bits as u16),
            MavParamType::MAV_PARAM_TYPE_INT16 => f64::from(bits as u16 as i16),
            MavParamType::MAV_PARAM_TYPE_UINT32 => f64::from(bits),
            _ => f64::from(bits as i32),
        };
    }
    f64::from(raw)
}

/// Encodes a value for PARAM_SET by the firmware's encoding.
pub fn encode_param(firmware: Firmware, value: f64, kind: MavParamType) -> f32 {
    if firmware == Firmware::Px4 && is_integer(kind) {
        return f32::from_bits(value.round() as i32 as u32);
    }
    value as f32
}

/// The name as PARAM_VALUE carries it (up to 16 bytes, NUL-padded).
fn name_of(id: &[u8]) -> &str {
    let end = id.iter().position(|&b| b == 0).unwrap_or(id.len());
    std::str::from_utf8(&id[..end]).unwrap_or("")
}

impl Vehicle {
    /// Reads parameter `name` (PARAM_REQUEST_READ by name, answered by PARAM_VALUE).
    ///
    /// # Errors
    /// [`Error::ParamUnknown`] when the vehicle never answers for that name (ArduPilot stays
    /// silent about names it does not have), [`Error::LinkClosed`].
    pub async fn param(&self, name: &str) -> Result<ParamValue> {
        let target = self.target();
        self.param_exchange(name, || {
            Msg::PARAM_REQUEST_READ(apm::PARAM_REQUEST_READ_DATA {
                param_index: -1,
                target_system: target.system,
                target_component: target.component,
                param_id: name.into(),
            })
        })
        .await
    }

    /// Sets parameter `name` to `value` and returns what the vehicle echoes (it may clamp or
    /// refuse: the echo is the truth). The type is the one the vehicle reports for it.
    ///
    /// # Errors
    /// As [`Self::param`].
    pub async fn set_param(&self, name: &str, value: f64) -> Result<ParamValue> {
        let current = self.param(name).await?;
        let target = self.target();
        let raw = encode_param(target.firmware, value, current.kind);
        self.param_exchange(name, || {
            Msg::PARAM_SET(apm::PARAM_SET_DATA {
                param_value: raw,
                target_system: target.system,
                target_component: target.component,
                param_id: name.into(),
                param_type: current.kind,
            })
        })
        .await
    }

    async fn param_exchange(&self, name: &str, msg: impl Fn() -> Msg) -> Result<ParamValue> {
        let target = self.target();
        let mut rx = self.port().subscribe();
        for _ in 0..self.command_attempts {
            self.port().send(msg())?;
            let deadline = tokio::time::Instant::now() + self.ack_timeout;
            let got = recv_until(&mut rx, deadline, |f| match &f.msg {
                Msg::PARAM_VALUE(v)
                    if f.system_id() == target.system && name_of(&v.param_id[..]) == name =>
                {
                    Some(ParamValue {
                        value: decode_param(target.firmware, v.param_value, v.param_type),
                        kind: v.param_type,
                    })
                }
                _ => None,
            })
            .await?;
            if let Some(v) = got {
                return Ok(v);
            }
        }
        Err(Error::ParamUnknown {
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn px4_integers_are_bytewise_ardupilot_casts() {
        let k = MavParamType::MAV_PARAM_TYPE_INT32;
        let raw = encode_param(Firmware::Px4, 2.0, k);
        assert_eq!(raw.to_bits(), 2);
        assert_eq!(decode_param(Firmware::Px4, raw, k), 2.0);
        assert_eq!(encode_param(Firmware::ArduPilot, 2.0, k), 2.0);
        assert_eq!(decode_param(Firmware::ArduPilot, 2.0, k), 2.0);
        let neg = encode_param(Firmware::Px4, -1.0, MavParamType::MAV_PARAM_TYPE_INT8);
        assert_eq!(
            decode_param(Firmware::Px4, neg, MavParamType::MAV_PARAM_TYPE_INT8),
            -1.0
        );
        let real = MavParamType::MAV_PARAM_TYPE_REAL32;
        assert_eq!(decode_param(Firmware::Px4, 1.5, real), 1.5);
        assert_eq!(name_of(b"FENCE_ENABLE\0\0\0\0"), "FENCE_ENABLE");
        assert_eq!(name_of(b"0123456789ABCDEF"), "0123456789ABCDEF");
    }
}

/// The vehicle's geofence settings as its parameters say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FenceSetup {
    /// The fence is switched on (ArduPilot FENCE_ENABLE; PX4 always, given an action).
    pub enabled: bool,
    /// Polygon fences are checked (ArduPilot FENCE_TYPE bit 2; PX4 always).
    pub polygon: bool,
    /// What a breach does (ArduPilot FENCE_ACTION, PX4 GF_ACTION); 0 = report only.
    pub action: f64,
}

impl FenceSetup {
    /// True when an uploaded polygon fence will act on a breach.
    pub fn active(&self) -> bool {
        self.enabled && self.polygon && self.action >= 1.0
    }
}

impl Vehicle {
    /// Reads the fence parameters (ArduPilot FENCE_ENABLE, FENCE_TYPE, FENCE_ACTION; PX4
    /// GF_ACTION).
    ///
    /// # Errors
    /// As [`Self::param`].
    pub async fn fence_setup(&self) -> Result<FenceSetup> {
        match self.target().firmware {
            Firmware::ArduPilot => {
                let enable = self.param("FENCE_ENABLE").await?.value;
                let kind = self.param("FENCE_TYPE").await?.value;
                let action = self.param("FENCE_ACTION").await?.value;
                Ok(FenceSetup {
                    enabled: enable >= 1.0,
                    polygon: (kind as i64) & 4 != 0,
                    action,
                })
            }
            Firmware::Px4 => {
                let action = self.param("GF_ACTION").await?.value;
                Ok(FenceSetup {
                    enabled: true,
                    polygon: true,
                    action,
                })
            }
        }
    }

    /// Turns the uploaded polygon fence on, keeping what is already right: ArduPilot adds the
    /// polygon bit to FENCE_TYPE, sets FENCE_ACTION to RTL (1) only when it is 0 (report only)
    /// and FENCE_ENABLE to 1; PX4 sets GF_ACTION to RTL (3) when it is 0. Only with the pilot's
    /// consent: callers ask first. Returns the setup read back afterwards.
    ///
    /// # Errors
    /// As [`Self::set_param`].
    pub async fn enable_fence(&self) -> Result<FenceSetup> {
        let before = self.fence_setup().await?;
        match self.target().firmware {
            Firmware::ArduPilot => {
                if !before.polygon {
                    let kind = self.param("FENCE_TYPE").await?.value as i64;
                    self.set_param("FENCE_TYPE", (kind | 4) as f64).await?;
                }
                if before.action < 1.0 {
                    self.set_param("FENCE_ACTION", 1.0).await?;
                }
                if !before.enabled {
                    self.set_param("FENCE_ENABLE", 1.0).await?;
                }
            }
            Firmware::Px4 => {
                if before.action < 1.0 {
                    self.set_param("GF_ACTION", 3.0).await?;
                }
            }
        }
        self.fence_setup().await
    }

    /// The ground speed above which ArduPilot's sprayer runs the pump, m/s: SPRAY_SPEED_MIN
    /// (cm/s, AC_Sprayer.cpp, default 100). The pump starts 0.1 s after the vehicle passes it
    /// (AC_SPRAYER_DEFAULT_TURN_ON_DELAY), so each spray leg that starts from a turn begins
    /// dry for as long as the vehicle takes to reach it. `None` for PX4 (no such sprayer) and
    /// for an ArduPilot whose sprayer is off (SPRAY_* exist only with SPRAY_ENABLE 1).
    ///
    /// # Errors
    /// [`Error::LinkClosed`].
    pub async fn spray_speed_min_mps(&self) -> Result<Option<f64>> {
        if self.target().firmware != Firmware::ArduPilot {
            return Ok(None);
        }
        match self.param("SPRAY_SPEED_MIN").await {
            Ok(p) => Ok(Some(p.value / 100.0)),
            Err(Error::ParamUnknown { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Checks that ArduPilot's sprayer can run the pump of a plan that switches it with
    /// DO_SPRAYER, and returns the speed it starts at (m/s); `None` when the plan does not use
    /// it or the vehicle is not ArduPilot. A plan without DO_CHANGE_SPEED flies at ArduCopter's
    /// WPNAV_SPEED default, 10 m/s.
    ///
    /// # Errors
    /// [`Error::PreflightFailed`] (`sprayer`) when the sprayer is off (SPRAY_ENABLE 0 hides the
    /// other SPRAY_* parameters) or starts only at or above the plan's spray speed: either way
    /// the pump would never run. [`Error::LinkClosed`].
    pub async fn check_sprayer(&self, plan: &crate::Plan) -> Result<Option<f64>> {
        if !plan.uses_sprayer() || self.target().firmware != Firmware::ArduPilot {
            return Ok(None);
        }
        let speed = plan.spray_speed_mps().unwrap_or(10.0);
        let Some(min) = self.spray_speed_min_mps().await? else {
            return Err(Error::PreflightFailed {
                check: "sprayer",
                detail: "the plan switches the pump with DO_SPRAYER, but the vehicle's sprayer \
                         is off (SPRAY_ENABLE 0: no SPRAY_* parameters), so the pump would never run"
                    .into(),
            });
        };
        if min >= speed {
            return Err(Error::PreflightFailed {
                check: "sprayer",
                detail: format!(
                    "the sprayer starts only above {min:.1} m/s (SPRAY_SPEED_MIN) and the plan \
                     sprays at {speed:.1} m/s, so the pump would not run"
                ),
            });
        }
        Ok(Some(min))
    }

    /// ArduPilot's terrain following as its parameters say: (TERRAIN_ENABLE, TERRAIN_SPACING
    /// in metres, AP_Terrain.cpp, default 1 and 100). `None` for PX4, which has no terrain
    /// database (it refuses terrain-frame items).
    ///
    /// # Errors
    /// As [`Self::param`].
    pub async fn terrain_setup(&self) -> Result<Option<(bool, f64)>> {
        if self.target().firmware != Firmware::ArduPilot {
            return Ok(None);
        }
        let enabled = self.param("TERRAIN_ENABLE").await?.value >= 1.0;
        let spacing = self.param("TERRAIN_SPACING").await?.value;
        Ok(Some((enabled, spacing)))
    }

    /// Sets TERRAIN_SPACING (with the pilot's consent) and returns it as read back, metres.
    /// ArduPilot takes it in flight: blocks of another spacing are dropped and asked for
    /// again (TerrainGCS.cpp), so the ground station must serve the new grid.
    ///
    /// # Errors
    /// As [`Self::set_param`].
    pub async fn set_terrain_spacing_m(&self, metres: u16) -> Result<f64> {
        Ok(self
            .set_param("TERRAIN_SPACING", f64::from(metres))
            .await?
            .value)
    }

    /// Sets SPRAY_SPEED_MIN (with the pilot's consent) and returns it as read back, m/s. The
    /// dose holds at lower speeds: AC_Sprayer scales the pump with ground speed (pump % =
    /// SPRAY_PUMP_RATE × m/s), unless SPRAY_PUMP_MIN holds it higher.
    ///
    /// # Errors
    /// As [`Self::set_param`].
    pub async fn set_spray_speed_min_mps(&self, mps: f64) -> Result<f64> {
        Ok(self
            .set_param("SPRAY_SPEED_MIN", (mps * 100.0).round())
            .await?
            .value
            / 100.0)
    }

    /// The altitude RTL climbs to, metres (ArduPilot RTL_ALT in cm; PX4 RTL_RETURN_ALT).
    ///
    /// # Errors
    /// As [`Self::param`].
    pub async fn rtl_altitude_m(&self) -> Result<f64> {
        Ok(match self.target().firmware {
            Firmware::ArduPilot => self.param("RTL_ALT").await?.value / 100.0,
            Firmware::Px4 => self.param("RTL_RETURN_ALT").await?.value,
        })
    }

    /// Sets the RTL altitude (with the pilot's consent) and returns it as read back, metres.
    ///
    /// # Errors
    /// As [`Self::set_param`].
    pub async fn set_rtl_altitude_m(&self, metres: f64) -> Result<f64> {
        Ok(match self.target().firmware {
            Firmware::ArduPilot => {
                self.set_param("RTL_ALT", (metres * 100.0).round())
                    .await?
                    .value
                    / 100.0
            }
            Firmware::Px4 => self.set_param("RTL_RETURN_ALT", metres).await?.value,
        })
    }
}
