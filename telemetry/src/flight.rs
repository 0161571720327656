//! Pure pieces of a flight: pre-flight checks, the track and summary of a recorded flight.

use geo::{Contains, Coord, LineString, Point, Polygon};

use crate::coverage::TrackPoint;
use crate::error::{Error, Result};
use crate::frame::Msg;
use crate::plan::Plan;
use crate::record::TlogRecord;
use crate::vehicle_state::{SprayerOutput, VehicleState};

/// Thresholds of the pre-flight checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreflightLimits {
    /// Minimum battery remaining, percent.
    pub min_battery_pct: f64,
    /// Require a 3D GPS fix or better.
    pub require_3d_fix: bool,
}

impl Default for PreflightLimits {
    /// 40 % battery, 3D fix.
    fn default() -> Self {
        Self {
            min_battery_pct: 40.0,
            require_3d_fix: true,
        }
    }
}

fn polygon(vertices: &[(f64, f64)]) -> Polygon {
    Polygon::new(
        LineString::from(
            vertices
                .iter()
                .map(|&(lat, lon)| Coord { x: lon, y: lat })
                .collect::<Vec<_>>(),
        ),
        vec![],
    )
}

/// A vehicle this close to an inclusion fence's edge counts as inside: GPS error, and a refill
/// point that the planner puts on the field's own corner (the fence is the field boundary).
const FENCE_EDGE_TOLERANCE_M: f64 = 2.0;

/// Metres from `here` (lat, lon) to the nearest edge of the ring `vertices` (lat, lon), in a
/// flat frame around `here` (exact enough over a field).
fn metres_to_ring(here: (f64, f64), vertices: &[(f64, f64)]) -> f64 {
    let ky = 111_132.954;
    let kx = 111_412.84 * here.0.to_radians().cos();
    let xy = |q: &(f64, f64)| ((q.1 - here.1) * kx, (q.0 - here.0) * ky);
    let n = vertices.len();
    (0..n)
        .map(|i| {
            let (ax, ay) = xy(&vertices[i]);
            let (bx, by) = xy(&vertices[(i + 1) % n]);
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 {
                (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            (ax + t * dx).hypot(ay + t * dy)
        })
        .fold(f64::INFINITY, f64::min)
}

fn metres_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    let ky = 111_132.954;
    let kx = 111_412.84 * a.0.to_radians().cos();
    ((b.0 - a.0) * ky).hypot((b.1 - a.1) * kx)
}

/// Checks GPS fix, battery and that the vehicle is inside the plan's fence.
///
/// # Errors
/// [`Error::PreflightFailed`] naming the first failed check.
pub fn preflight_checks(state: &VehicleState, plan: &Plan, limits: &PreflightLimits) -> Result<()> {
    let fail = |check: &'static str, detail: String| Err(Error::PreflightFailed { check, detail });
    if limits.require_3d_fix && !state.gps_fix.is_3d() {
        return fail(
            "gps",
            format!(
                "need a 3D fix or better, have {:?} ({} satellites)",
                state.gps_fix,
                state.satellites.unwrap_or(0)
            ),
        );
    }
    match state.battery_pct {
        None => return fail("battery", "the vehicle has not reported its battery".into()),
        Some(p) if p < limits.min_battery_pct => {
            return fail(
                "battery",
                format!(
                    "{p:.0} % remaining, need at least {:.0} %",
                    limits.min_battery_pct
                ),
            );
        }
        Some(_) => {}
    }
    let has_fence = !plan.fence_polygons.is_empty() || !plan.fence_circles.is_empty();
    if has_fence {
        let (Some(lat), Some(lon)) = (state.lat, state.lon) else {
            return fail("fence", "the vehicle has not reported its position".into());
        };
        let here = Point::new(lon, lat);
        let inclusions: Vec<bool> = plan
            .fence_polygons
            .iter()
            .filter(|p| p.inclusion)
            .map(|p| {
                polygon(&p.vertices).contains(&here)
                    || metres_to_ring((lat, lon), &p.vertices) <= FENCE_EDGE_TOLERANCE_M
            })
            .chain(
                plan.fence_circles
                    .iter()
                    .filter(|c| c.inclusion)
                    .map(|c| metres_between(c.center, (lat, lon)) <= c.radius_m),
            )
            .collect();
        if !inclusions.is_empty() && !inclusions.iter().any(|x| *x) {
            return fail(
                "fence",
                format!("the vehicle at {lat:.7}, {lon:.7} is outside every inclusion fence"),
            );
        }
        let in_exclusion = plan
            .fence_polygons
            .iter()
            .filter(|p| !p.inclusion)
            .any(|p| polygon(&p.vertices).contains(&here))
            || plan
                .fence_circles
                .iter()
                .filter(|c| !c.inclusion)
                .any(|c| metres_between(c.center, (lat, lon)) <= c.radius_m);
        if in_exclusion {
            return fail(
                "fence",
                format!("the vehicle at {lat:.7}, {lon:.7} is inside an exclusion fence"),
            );
        }
    }
    Ok(())
}

/// The flown track of the vehicle in `records`: one point per GLOBAL_POSITION_INT.
///
/// The pump state comes from SERVO_OUTPUT_RAW when the vehicle reports it; otherwise, given the
/// plan, from the spray commands of the plan up to the current mission item.
pub fn track_from_records(
    records: &[TlogRecord],
    plan: Option<&Plan>,
    sprayer: SprayerOutput,
) -> Vec<TrackPoint> {
    let mut state = VehicleState::new(None, None, sprayer);
    let commanded = plan.map(Plan::spray_state_after);
    let offset = plan.map_or(0, |p| p.vehicle_seq(0));
    let mut out = Vec::new();
    for r in records {
        if !state.apply(&r.frame.header, &r.frame.msg) {
            continue;
        }
        if let Msg::GLOBAL_POSITION_INT(_) = r.frame.msg
            && let (Some(lat), Some(lon)) = (state.lat, state.lon)
        {
            let spraying = match (state.sprayer_on, &commanded, state.current_item) {
                (Some(on), _, _) => on,
                (None, Some(cmd), Some(cur)) => {
                    // Flying towards item `cur`: the pump is as the items before it left it.
                    let idx = usize::from(cur).checked_sub(offset + 1);
                    idx.and_then(|i| cmd.get(i).copied()).unwrap_or(false)
                }
                _ => false,
            };
            out.push(TrackPoint {
                time_us: r.time_us,
                lat,
                lon,
                spraying,
                pump_pwm: state.pump_pwm,
                ground_speed_mps: state.ground_speed_m_s,
                vehicle_ms: state.position_time_boot_ms,
            });
        }
    }
    out
}

/// Metres left to fly: from `pos` to the item `current`, then along the remaining NAV items.
pub fn distance_to_go(
    items: &[crate::mission_protocol::items::MissionItem],
    current: u16,
    pos: (f64, f64),
) -> f64 {
    let mut total = 0.0;
    let mut from = pos;
    for it in items.iter().skip(usize::from(current)) {
        if it.is_nav_with_position() && (it.x != 0 || it.y != 0) {
            let to = (it.lat(), it.lon());
            total += metres_between(from, to);
            from = to;
        }
    }
    total
}

/// What a recorded flight amounted to.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FlightSummary {
    /// Frames in the record.
    pub frames: usize,
    /// From the first to the last frame, seconds.
    pub duration_s: f64,
    /// Vehicle system id.
    pub system: Option<u8>,
    /// Length of the flown track, metres.
    pub distance_m: f64,
    /// Highest altitude above home, metres.
    pub max_rel_alt_m: Option<f64>,
    /// Battery at the start and at the end, percent.
    pub battery_pct: (Option<f64>, Option<f64>),
    /// Lowest battery voltage seen.
    pub min_battery_v: Option<f64>,
    /// Highest mission item reached.
    pub reached_up_to: Option<u16>,
    /// Seconds armed.
    pub armed_s: f64,
    /// Seconds with the pump on.
    pub spraying_s: f64,
    /// Modes in the order flown.
    pub modes: Vec<String>,
    /// Status texts of severity WARNING or worse.
    pub warnings: Vec<String>,
}

/// Summarises a recorded flight.
pub fn summarize(
    records: &[TlogRecord],
    plan: Option<&Plan>,
    sprayer: SprayerOutput,
) -> FlightSummary {
    let mut s = FlightSummary {
        frames: records.len(),
        ..FlightSummary::default()
    };
    if let (Some(a), Some(b)) = (records.first(), records.last()) {
        s.duration_s = b.time_us.saturating_sub(a.time_us) as f64 / 1e6;
    }
    let mut state = VehicleState::new(None, None, sprayer);
    let mut last_t: Option<u64> = None;
    let mut n_texts = 0;
    for r in records {
        let was_armed = state.armed;
        if !state.apply(&r.frame.header, &r.frame.msg) {
            continue;
        }
        if let Some(t) = last_t
            && was_armed
        {
            s.armed_s += r.time_us.saturating_sub(t) as f64 / 1e6;
        }
        last_t = Some(r.time_us);
        if s.modes.last() != Some(&state.mode) && !state.mode.is_empty() {
            s.modes.push(state.mode.clone());
        }
        if s.battery_pct.0.is_none() {
            s.battery_pct.0 = state.battery_pct;
        }
        if let Some(v) = state.battery_v {
            s.min_battery_v = Some(s.min_battery_v.map_or(v, |m: f64| m.min(v)));
        }
        if let Some(a) = state.rel_alt_m {
            s.max_rel_alt_m = Some(s.max_rel_alt_m.map_or(a, |m: f64| m.max(a)));
        }
        if state.status_texts.len() != n_texts || state.status_texts.len() == 64 {
            if let Some(t) = state.status_texts.last()
                && t.level <= 4
                && matches!(r.frame.msg, Msg::STATUSTEXT(_))
            {
                s.warnings.push(format!("{}: {}", t.severity, t.text));
            }
            n_texts = state.status_texts.len();
        }
    }
    s.system = state.system;
    s.battery_pct.1 = state.battery_pct;
    s.reached_up_to = state.reached_up_to;
    let track = track_from_records(records, plan, sprayer);
    for w in track.windows(2) {
        s.distance_m += metres_between((w[0].lat, w[0].lon), (w[1].lat, w[1].lon));
        if w[1].spraying {
            s.spraying_s += w[1].time_us.saturating_sub(w[0].time_us) as f64 / 1e6;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vehicle_state::GpsFix;
    use std::path::Path;

    fn plan() -> Plan {
        Plan::from_json(
            include_str!("../tests/fixtures/two_sorties.plan"),
            Path::new("p"),
        )
        .unwrap()
    }

    fn ready_state(plan: &Plan) -> VehicleState {
        let home = plan.home.unwrap();
        VehicleState {
            system: Some(1),
            gps_fix: GpsFix::Fix3d,
            battery_pct: Some(90.0),
            lat: Some(home.0),
            lon: Some(home.1),
            ..VehicleState::default()
        }
    }

    #[test]
    fn distance_to_go_sums_the_remaining_legs() {
        use crate::mission_protocol::items::MissionItem;
        let items = [
            MissionItem::nav(16, 36.0, 140.0, 5.0),
            MissionItem::nav(16, 36.001, 140.0, 5.0),
            MissionItem::nav(16, 36.002, 140.0, 5.0),
        ];
        let d = distance_to_go(&items, 1, (36.0, 140.0));
        assert!((d - 222.27).abs() < 1.0, "{d}");
        assert_eq!(distance_to_go(&items, 3, (36.0, 140.0)), 0.0);
    }

    #[test]
    fn a_ready_vehicle_passes() {
        let p = plan();
        preflight_checks(&ready_state(&p), &p, &PreflightLimits::default()).unwrap();
    }

    #[test]
    fn a_vehicle_on_the_fence_edge_counts_as_inside() {
        let p = plan();
        let fence = p
            .fence_polygons
            .iter()
            .find(|f| f.inclusion)
            .expect("an inclusion fence");
        let (lat, lon) = fence.vertices[0];
        let on_corner = VehicleState {
            lat: Some(lat),
            lon: Some(lon),
            ..ready_state(&p)
        };
        preflight_checks(&on_corner, &p, &PreflightLimits::default()).unwrap();
        // 1 m and 10 m south of the southernmost vertex: inside the tolerance, then outside.
        let south = fence
            .vertices
            .iter()
            .copied()
            .fold((f64::INFINITY, 0.0), |m, v| if v.0 < m.0 { v } else { m });
        let at = |metres: f64| VehicleState {
            lat: Some(south.0 - metres / 111_132.954),
            lon: Some(south.1),
            ..ready_state(&p)
        };
        preflight_checks(&at(1.0), &p, &PreflightLimits::default()).unwrap();
        assert!(preflight_checks(&at(10.0), &p, &PreflightLimits::default()).is_err());
    }

    #[test]
    fn each_check_fails_with_its_name() {
        let p = plan();
        let lim = PreflightLimits::default();
        let check = |s: VehicleState| match preflight_checks(&s, &p, &lim) {
            Err(Error::PreflightFailed { check, .. }) => check,
            other => panic!("expected a failed check, got {other:?}"),
        };
        assert_eq!(
            check(VehicleState {
                gps_fix: GpsFix::Fix2d,
                ..ready_state(&p)
            }),
            "gps"
        );
        assert_eq!(
            check(VehicleState {
                battery_pct: Some(12.0),
                ..ready_state(&p)
            }),
            "battery"
        );
        assert_eq!(
            check(VehicleState {
                battery_pct: None,
                ..ready_state(&p)
            }),
            "battery"
        );
        assert_eq!(
            check(VehicleState {
                lat: Some(36.0),
                ..ready_state(&p)
            }),
            "fence"
        );
    }
}
