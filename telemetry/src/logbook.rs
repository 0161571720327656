//! The items of a flight logbook (MLIT 飛行日誌) that a recorded flight can tell: takeoff and
//! landing (time and place), flight time, the vehicle's warnings, and failsafes.
//!
//! A `.tlog` holds what the vehicle sent, so a mode change counts as *commanded* only when the
//! vehicle acknowledged a mode or return/land command (COMMAND_ACK accepted) shortly before it.

use mavlink::dialects::ardupilotmega::{MavCmd, MavResult};
use serde::{Deserialize, Serialize};

use crate::frame::Msg;
use crate::record::TlogRecord;
use crate::vehicle_state::{SprayerOutput, VehicleState};

/// Height above home from which the vehicle counts as airborne, metres.
const AIRBORNE_M: f64 = 0.5;
/// A mode change this long after an accepted mode command counts as commanded, microseconds.
const COMMANDED_WITHIN_US: u64 = 3_000_000;
/// Silence from the vehicle this long while armed counts as a link loss, microseconds.
const LINK_LOSS_US: u64 = 5_000_000;
/// Modes a vehicle enters on its own when a failsafe triggers (ArduPilot Copter and PX4 names).
const FAILSAFE_MODES: &[&str] = &["RTL", "SMART_RTL", "AUTO_RTL", "LAND", "BRAKE", "PRECLAND"];

/// A time and place of the flight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// Microseconds since the Unix epoch.
    pub time_us: u64,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// Why a failsafe is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailsafeKind {
    /// The battery failsafe (a STATUSTEXT naming it).
    Battery,
    /// The radio (RC) failsafe.
    Radio,
    /// The ground station link failsafe.
    Gcs,
    /// Another failsafe the vehicle announced (EKF, fence, …).
    Other,
    /// The vehicle switched to a return/land/brake mode that no acknowledged command asked for.
    UncommandedMode,
    /// Nothing was heard from the vehicle for a while during the flight.
    LinkLoss,
}

/// A failsafe or anomaly of the flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    /// When, microseconds since the Unix epoch.
    pub time_us: u64,
    /// `EMERGENCY` … `WARNING` for a status text, else empty.
    pub severity: String,
    /// What happened, as the vehicle said it or as derived.
    pub text: String,
    /// The failsafe behind it, when it is one.
    pub failsafe: Option<FailsafeKind>,
}

/// What a recorded flight contributes to its logbook entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogbookDraft {
    /// First takeoff.
    pub takeoff: Option<Fix>,
    /// Last landing (none when the log ends in the air).
    pub landing: Option<Fix>,
    /// From takeoff to landing, seconds.
    pub flight_s: Option<f64>,
    /// Takeoffs in the log.
    pub takeoffs: usize,
    /// Modes in the order flown.
    pub modes: Vec<String>,
    /// Status texts of severity WARNING or worse, in time order.
    pub anomalies: Vec<LogEvent>,
    /// Failsafes, in time order.
    pub failsafes: Vec<LogEvent>,
}

fn failsafe_in_text(text: &str) -> Option<FailsafeKind> {
    let t = text.to_ascii_lowercase();
    if !t.contains("failsafe") && !t.contains("fail-safe") {
        return None;
    }
    Some(if t.contains("batt") {
        FailsafeKind::Battery
    } else if t.contains("radio") || t.contains("rc ") || t.starts_with("rc") {
        FailsafeKind::Radio
    } else if t.contains("gcs") {
        FailsafeKind::Gcs
    } else {
        FailsafeKind::Other
    })
}

/// Derives the logbook items of one recorded flight from its frames, in time order.
pub fn logbook_draft(records: &[TlogRecord]) -> LogbookDraft {
    let mut out = LogbookDraft::default();
    let mut state = VehicleState::new(None, None, SprayerOutput::default());
    let mut airborne = false;
    let mut last_fix: Option<Fix> = None;
    let mut last_heard: Option<u64> = None;
    let mut last_mode_cmd: Option<u64> = None;
    for r in records {
        let t = r.time_us;
        // A commanded mode change is acknowledged before the heartbeat shows the new mode.
        if let Msg::COMMAND_ACK(a) = &r.frame.msg
            && a.result == MavResult::MAV_RESULT_ACCEPTED
            && matches!(
                a.command,
                MavCmd::MAV_CMD_DO_SET_MODE
                    | MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH
                    | MavCmd::MAV_CMD_NAV_LAND
            )
        {
            last_mode_cmd = Some(t);
        }
        let was_armed = state.armed;
        let old_mode = state.mode.clone();
        if !state.apply(&r.frame.header, &r.frame.msg) {
            continue;
        }
        if let Some(prev) = last_heard
            && was_armed
            && t.saturating_sub(prev) >= LINK_LOSS_US
        {
            out.failsafes.push(LogEvent {
                time_us: prev,
                severity: String::new(),
                text: format!(
                    "no telemetry for {:.0} s",
                    t.saturating_sub(prev) as f64 / 1e6
                ),
                failsafe: Some(FailsafeKind::LinkLoss),
            });
        }
        last_heard = Some(t);
        if !state.mode.is_empty() && out.modes.last() != Some(&state.mode) {
            out.modes.push(state.mode.clone());
        }
        if state.mode != old_mode
            && !old_mode.is_empty()
            && state.armed
            && FAILSAFE_MODES.contains(&state.mode.as_str())
            && last_mode_cmd.is_none_or(|c| t.saturating_sub(c) > COMMANDED_WITHIN_US)
        {
            out.failsafes.push(LogEvent {
                time_us: t,
                severity: String::new(),
                text: format!("{old_mode} → {}", state.mode),
                failsafe: Some(FailsafeKind::UncommandedMode),
            });
        }
        if let Msg::STATUSTEXT(_) = &r.frame.msg
            && let Some(st) = state.status_texts.last()
        {
            let failsafe = failsafe_in_text(&st.text);
            if st.level <= 4 || failsafe.is_some() {
                let ev = LogEvent {
                    time_us: t,
                    severity: st.severity.clone(),
                    text: st.text.clone(),
                    failsafe,
                };
                if failsafe.is_some() {
                    out.failsafes.push(ev.clone());
                }
                if st.level <= 4 {
                    out.anomalies.push(ev);
                }
            }
        }
        if let Msg::GLOBAL_POSITION_INT(_) = &r.frame.msg
            && let (Some(lat), Some(lon)) = (state.lat, state.lon)
        {
            let fix = Fix {
                time_us: t,
                lat,
                lon,
            };
            let up = state.armed && state.rel_alt_m.unwrap_or(0.0) > AIRBORNE_M;
            if up && !airborne {
                out.takeoffs += 1;
                if out.takeoff.is_none() {
                    // The place is where it stood; the time is when it left the ground.
                    out.takeoff = Some(Fix {
                        time_us: t,
                        ..last_fix.unwrap_or(fix)
                    });
                }
            }
            if !up && airborne {
                out.landing = Some(fix);
            }
            airborne = up;
            last_fix = Some(fix);
        }
        if airborne && !state.armed {
            // Disarmed in the air (a crash or a motor stop): the flight ends here.
            airborne = false;
            out.landing = last_fix;
        }
    }
    if airborne {
        out.landing = None;
    }
    out.flight_s = match (out.takeoff, out.landing) {
        (Some(a), Some(b)) if b.time_us >= a.time_us => {
            Some(b.time_us.saturating_sub(a.time_us) as f64 / 1e6)
        }
        _ => None,
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use mavlink::dialects::ardupilotmega as apm;
    use mavlink::{MavHeader, MavlinkVersion};

    fn rec(time_s: f64, msg: Msg) -> TlogRecord {
        TlogRecord {
            time_us: 1_764_000_000_000_000 + (time_s * 1e6) as u64,
            frame: Frame {
                raw: Vec::new(),
                version: MavlinkVersion::V2,
                header: MavHeader {
                    system_id: 1,
                    component_id: 1,
                    sequence: 0,
                },
                msg,
            },
        }
    }

    fn hb(t: f64, mode: u32, armed: bool) -> TlogRecord {
        let mut base_mode = apm::MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED;
        if armed {
            base_mode |= apm::MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED;
        }
        rec(
            t,
            Msg::HEARTBEAT(apm::HEARTBEAT_DATA {
                custom_mode: mode,
                mavtype: apm::MavType::MAV_TYPE_QUADROTOR,
                autopilot: apm::MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
                base_mode,
                system_status: apm::MavState::MAV_STATE_ACTIVE,
                mavlink_version: 3,
            }),
        )
    }

    fn pos(t: f64, lat: f64, lon: f64, alt_m: f64) -> TlogRecord {
        rec(
            t,
            Msg::GLOBAL_POSITION_INT(apm::GLOBAL_POSITION_INT_DATA {
                lat: (lat * 1e7) as i32,
                lon: (lon * 1e7) as i32,
                relative_alt: (alt_m * 1000.0) as i32,
                hdg: u16::MAX,
                ..Default::default()
            }),
        )
    }

    fn text(t: f64, severity: apm::MavSeverity, s: &str) -> TlogRecord {
        rec(
            t,
            Msg::STATUSTEXT(apm::STATUSTEXT_DATA {
                severity,
                text: s.into(),
                ..Default::default()
            }),
        )
    }

    fn ack(t: f64, command: MavCmd) -> TlogRecord {
        rec(
            t,
            Msg::COMMAND_ACK(apm::COMMAND_ACK_DATA {
                command,
                result: MavResult::MAV_RESULT_ACCEPTED,
                ..Default::default()
            }),
        )
    }

    /// GUIDED on the ground, AUTO up and across, then `end` at second 40, down, disarmed.
    fn flight(end: Vec<TlogRecord>) -> Vec<TlogRecord> {
        let mut v = vec![
            hb(0.0, 4, false),
            pos(0.5, 36.97, 139.98, 0.0),
            hb(1.0, 4, true),
            pos(1.5, 36.97, 139.98, 0.0),
            hb(2.0, 3, true),
            pos(3.0, 36.97001, 139.98, 2.0),
        ];
        v.extend(cruise(4.0, 38.0));
        v.extend(end);
        v
    }

    /// A position every two seconds from `from` to `to`, in the air.
    fn cruise(from: f64, to: f64) -> Vec<TlogRecord> {
        let mut v = Vec::new();
        let mut t = from;
        while t <= to {
            v.push(pos(t, 36.971, 139.981, 3.0));
            t += 2.0;
        }
        v
    }

    #[test]
    fn a_plain_flight_has_its_takeoff_landing_and_no_failsafe() {
        let mut end = cruise(40.0, 48.0);
        end.extend([pos(50.0, 36.9701, 139.9801, 0.2), hb(51.0, 3, false)]);
        let recs = flight(end);
        let d = logbook_draft(&recs);
        let t0 = recs[0].time_us;
        let takeoff = d.takeoff.unwrap();
        assert_eq!(takeoff.time_us - t0, 3_000_000);
        assert_eq!((takeoff.lat, takeoff.lon), (36.97, 139.98));
        let landing = d.landing.unwrap();
        assert_eq!(landing.time_us - t0, 50_000_000);
        assert!((landing.lat - 36.9701).abs() < 1e-7);
        assert_eq!(d.flight_s, Some(47.0));
        assert_eq!(d.takeoffs, 1);
        assert_eq!(d.modes, ["GUIDED", "AUTO"]);
        assert!(d.failsafes.is_empty() && d.anomalies.is_empty(), "{d:?}");
    }

    #[test]
    fn an_uncommanded_rtl_and_a_battery_text_are_failsafes() {
        let recs = flight(vec![
            text(
                39.0,
                apm::MavSeverity::MAV_SEVERITY_CRITICAL,
                "Battery Failsafe",
            ),
            text(39.5, apm::MavSeverity::MAV_SEVERITY_INFO, "Mission: 4 WP"),
            hb(40.0, 6, true),
            pos(42.0, 36.97, 139.98, 1.0),
            pos(44.0, 36.97, 139.98, 0.1),
            hb(45.0, 6, false),
        ]);
        let d = logbook_draft(&recs);
        assert_eq!(d.anomalies.len(), 1, "INFO texts are no anomaly: {d:?}");
        assert_eq!(d.anomalies[0].severity, "CRITICAL");
        let kinds: Vec<_> = d.failsafes.iter().map(|e| e.failsafe.unwrap()).collect();
        assert_eq!(
            kinds,
            [FailsafeKind::Battery, FailsafeKind::UncommandedMode]
        );
        assert_eq!(d.failsafes[1].text, "AUTO → RTL");
        assert!(d.landing.is_some());
    }

    #[test]
    fn a_commanded_rtl_is_no_failsafe_but_silence_is_a_link_loss() {
        let recs = flight(vec![
            ack(39.5, MavCmd::MAV_CMD_DO_SET_MODE),
            hb(40.0, 6, true),
            // Eight seconds without a frame, armed and flying.
            pos(48.0, 36.9705, 139.9805, 2.0),
            pos(50.0, 36.97, 139.98, 0.1),
            hb(51.0, 6, false),
        ]);
        let d = logbook_draft(&recs);
        assert_eq!(d.failsafes.len(), 1, "{d:?}");
        assert_eq!(d.failsafes[0].failsafe, Some(FailsafeKind::LinkLoss));
        assert_eq!(d.failsafes[0].time_us - recs[0].time_us, 40_000_000);
    }

    #[test]
    fn a_log_ending_in_the_air_has_no_landing() {
        let d = logbook_draft(&flight(vec![]));
        assert!(d.takeoff.is_some());
        assert_eq!((d.landing, d.flight_s), (None, None));
        assert_eq!(logbook_draft(&[]), LogbookDraft::default());
    }

    #[test]
    fn failsafe_texts_are_classified() {
        assert_eq!(
            failsafe_in_text("Radio Failsafe"),
            Some(FailsafeKind::Radio)
        );
        assert_eq!(failsafe_in_text("GCS Failsafe On"), Some(FailsafeKind::Gcs));
        assert_eq!(failsafe_in_text("EKF Failsafe"), Some(FailsafeKind::Other));
        assert_eq!(failsafe_in_text("PreArm: Battery below minimum"), None);
    }
}
