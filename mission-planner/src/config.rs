//! The planner's settings: one struct with checked unit types, no bool flags.

use crate::error::PlanError;
use crate::prescription::VariableRate;
use crate::units::{ApplicationRate, Litres, Metres, MetresPerSecond, Seconds, SwathWidth};
use geo::Coord;

/// Everything [`plan`](crate::plan) needs besides the field.
///
/// Build it with [`PlanConfig::new`] (which fills in the defaults documented on each field) and
/// then set what differs.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// Effective spray width of one pass.
    pub swath_width: SwathWidth,
    /// Headland passes flown along the sprayable boundary before/after the interior (default 1).
    pub headland_passes: u32,
    /// Strip along the field boundary that is not sprayed (default 0.5 m).
    pub edge_margin: Metres,
    /// Clearance kept around exclusion zones, for spraying and flying (default 2 m; transits keep half).
    pub exclusion_clearance: Metres,
    /// No-spray buffer around sensitive zones (default 5 m).
    pub drift_buffer: Metres,
    /// Application rate of the mixed liquid (default 0.8 L/10a = 8 L/ha).
    pub rate: ApplicationRate,
    /// Tank volume (default 10 L).
    pub tank: Litres,
    /// Flight time of one battery (default 10 min).
    pub endurance: Seconds,
    /// Fraction of the endurance kept in reserve at landing (default 0.2).
    pub battery_reserve: f64,
    /// Ground speed while spraying (default 5 m/s).
    pub spray_speed: MetresPerSecond,
    /// Ground speed on transits, turns and returns (default 7 m/s).
    pub transit_speed: MetresPerSecond,
    /// Vertical speed for take-off and landing (default 2 m/s).
    pub climb_speed: MetresPerSecond,
    /// Spray height above ground (default 2 m).
    pub height: Metres,
    /// Time lost by one stop-and-turn at a waypoint (default 3 s).
    pub turn_time: Seconds,
    /// Overlap flown again when a sortie resumes an interrupted spray leg (default 1 m).
    pub resume_overlap: Metres,
    /// Distance every leg keeps from the geofence (the field boundary, its holes and the
    /// exclusion zones), default 2 m: ArduPilot's `FENCE_MARGIN` default, the distance at which
    /// the autopilot reports a margin breach and its avoidance stops short of the fence. Set it
    /// to the vehicle's `FENCE_MARGIN` when that differs.
    pub fence_margin: Metres,
    /// Fence vertices the vehicle stores (default 70: ArduPilot keeps about 84 fence items on
    /// common boards and refused 90 points with `MAV_MISSION_NO_SPACE`); a larger fence is
    /// fitted with [`fit_fence`](crate::fit_fence) and [`Plan::fence_fit`](crate::Plan::fence_fit)
    /// says how. `None` keeps the full fence.
    pub fence_points: Option<usize>,
    /// Refill / take-off point (WGS84, x = lon, y = lat); default: the field corner nearest the
    /// south-west corner of its bounding box. A point outside the field (a farm road beside the
    /// paddy) gets a launch corridor in the fence, see [`Fence`](crate::Fence).
    pub refill: Option<Coord>,
    /// Fixed swath heading in degrees clockwise from north; default: the best heading by estimated flight time.
    pub heading_deg: Option<f64>,
    /// Fields larger than this are rejected as probable input mistakes (default 500 ha).
    pub max_field_ha: f64,
    /// A prescription map and what its gaps get: spray legs are cut at zone borders into
    /// pieces at the zone's rate. `None` (default) sprays [`rate`](Self::rate) everywhere.
    pub prescription: Option<VariableRate>,
    /// Pump and nozzle lag (default 0.5 s): each rate change is commanded
    /// `spray_speed × rate_lag` metres before its zone border, so the new dose lands at it.
    pub rate_lag: Seconds,
    /// Run-up time before each spray leg (default 0.7 s; 0: none): every spray run starts with
    /// a straight of `spray_speed × sprayer_lead` metres on its own line (shorter where the
    /// field ends, see [`SegmentKind::LeadIn`](crate::SegmentKind)). ArduPilot's sprayer turns
    /// its pump on at the start of it: AC_Sprayer answers `DO_SPRAYER` only in its 3 Hz
    /// `update()`, and only once the ground speed has been above `SPRAY_SPEED_MIN` for more
    /// than 100 ms (`AC_SPRAYER_DEFAULT_TURN_ON_DELAY`), that is at the second update after
    /// the command, 1/3 to 2/3 s later (`libraries/AC_Sprayer/AC_Sprayer.cpp` `update()`,
    /// scheduled at 3 Hz in `ArduCopter/Copter.cpp`). 0.7 s covers the latest of those, so the
    /// pump runs where the leg begins; it may start up to `spray_speed × 0.37 s` before it.
    /// Other autopilots switch at the leg's start, and fly the run-up with the pump off.
    pub sprayer_lead: Seconds,
    /// The pump's flow at full command, litres per minute (`None`, default: unknown). Needed
    /// with a prescription: the mission commands each rate as a fraction of it (see
    /// [`to_qgc_plan`](crate::to_qgc_plan)'s module docs); without one, the pump is only
    /// switched on and off.
    pub pump_full_flow_l_min: Option<f64>,
    /// When planning must stop (`None`, default: never): [`plan`](crate::plan) checks it
    /// between its stages and gives up with [`PlanError::Deadline`], so a server that stopped
    /// waiting also gets its thread back.
    pub deadline: Option<std::time::Instant>,
}

impl PlanConfig {
    /// [`PlanError::Deadline`] naming `stage` when the [`deadline`](Self::deadline) has passed.
    ///
    /// # Errors
    /// As said.
    pub(crate) fn on_time(&self, field_id: &str, stage: &'static str) -> Result<(), PlanError> {
        match self.deadline {
            Some(d) if std::time::Instant::now() >= d => Err(PlanError::Deadline {
                field_id: field_id.to_owned(),
                stage,
            }),
            _ => Ok(()),
        }
    }

    /// A configuration with the given swath width and the defaults documented on each field.
    pub fn new(swath_width: SwathWidth) -> Self {
        let m = |v| Metres::new(v).expect("valid default");
        let mps = |v| MetresPerSecond::new(v).expect("valid default");
        let s = |v| Seconds::new(v).expect("valid default");
        Self {
            swath_width,
            headland_passes: 1,
            edge_margin: m(0.5),
            exclusion_clearance: m(2.0),
            drift_buffer: m(5.0),
            rate: ApplicationRate::from_l_per_10a(0.8).expect("valid default"),
            tank: Litres::new(10.0).expect("valid default"),
            endurance: s(600.0),
            battery_reserve: 0.2,
            spray_speed: mps(5.0),
            transit_speed: mps(7.0),
            climb_speed: mps(2.0),
            height: m(2.0),
            turn_time: s(3.0),
            resume_overlap: m(1.0),
            fence_margin: m(2.0),
            fence_points: Some(70),
            refill: None,
            heading_deg: None,
            max_field_ha: 500.0,
            prescription: None,
            rate_lag: s(0.5),
            sprayer_lead: s(0.7),
            pump_full_flow_l_min: None,
            deadline: None,
        }
    }

    /// Checks the values that are not already checked by their unit types.
    ///
    /// # Errors
    /// [`PlanError::InvalidValue`] naming the first bad value.
    pub fn check(&self) -> Result<(), PlanError> {
        let bad = |quantity, value: f64, expected: &str| {
            Err(PlanError::InvalidValue {
                quantity,
                value,
                expected: expected.into(),
            })
        };
        if !(0.0..=0.9).contains(&self.battery_reserve) {
            return bad(
                "battery reserve",
                self.battery_reserve,
                "a fraction in [0, 0.9]",
            );
        }
        if self.headland_passes > 20 {
            return bad(
                "headland passes",
                f64::from(self.headland_passes),
                "0 to 20",
            );
        }
        if self.endurance.get() < 30.0 {
            return bad("endurance (s)", self.endurance.get(), "at least 30 s");
        }
        if self.drift_buffer.get() > 100.0 {
            return bad("drift buffer (m)", self.drift_buffer.get(), "at most 100 m");
        }
        if self.fence_margin.get() > 20.0 {
            return bad("fence margin (m)", self.fence_margin.get(), "at most 20 m");
        }
        if let Some(n) = self.fence_points
            && n < 3
        {
            return bad("fence points", n as f64, "at least 3");
        }
        if let Some(h) = self.heading_deg
            && !h.is_finite()
        {
            return bad("heading (deg)", h, "a finite angle");
        }
        if let Some(r) = self.refill
            && (!(-180.0..=180.0).contains(&r.x) || !(-90.0..=90.0).contains(&r.y))
        {
            return bad(
                "refill longitude",
                r.x,
                "a WGS84 position (lon in ±180, lat in ±90)",
            );
        }
        if let Some(f) = self.pump_full_flow_l_min
            && !(f.is_finite() && (0.05..=200.0).contains(&f))
        {
            return bad("pump full flow (L/min)", f, "0.05 to 200 L/min");
        }
        if self.prescription.is_some() && self.pump_full_flow_l_min.is_none() {
            return bad(
                "pump full flow (L/min)",
                f64::NAN,
                "the pump's full flow, to command the prescription's rates",
            );
        }
        if self.sprayer_lead.get() > 5.0 {
            return bad("sprayer lead (s)", self.sprayer_lead.get(), "at most 5 s");
        }
        if self.rate_lag.get() > 5.0 {
            return bad("rate lag (s)", self.rate_lag.get(), "at most 5 s");
        }
        if !(self.max_field_ha.is_finite() && self.max_field_ha > 0.0) {
            return bad(
                "maximum field area (ha)",
                self.max_field_ha,
                "a positive number",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Field, plan};
    use std::time::{Duration, Instant};

    fn paddy() -> Field {
        let ring = vec![
            (139.98, 36.97),
            (139.981_34, 36.97),
            (139.981_34, 36.970_54),
            (139.98, 36.970_54),
        ];
        Field::new("paddy", &geo::Polygon::new(ring.into(), vec![])).unwrap()
    }

    #[test]
    fn planning_stops_at_its_deadline_and_runs_to_the_end_before_it() {
        let mut cfg = PlanConfig::new(SwathWidth::new(5.0).unwrap());
        cfg.deadline = Some(Instant::now());
        match plan(&paddy(), &cfg) {
            Err(PlanError::Deadline { field_id, stage }) => {
                assert_eq!((field_id.as_str(), stage), ("paddy", "sprayable area"));
            }
            other => panic!("{other:?}"),
        }
        cfg.deadline = Some(Instant::now() + Duration::from_secs(600));
        assert!(plan(&paddy(), &cfg).is_ok());
    }
}
