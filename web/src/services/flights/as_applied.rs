//! As applied on a prescription: the area a flight sprayed in each zone of its plan's
//! prescription, and the amount that area received. Where the vehicle reports its pump
//! output (SERVO_OUTPUT_RAW of the pump's channel), the amount is what the pump gave, read
//! back by the plan's own pump calibration ([`mission_planner::PumpCalibration`], the one the
//! planner turned rates into PWM by), and each zone's applied rate is its litres over its
//! sprayed area; elsewhere it is the zone's commanded rate over that area, and the page says
//! so. The flight's litres, its 農薬使用記録's total and average per 10 a, its page's table and
//! map and its as-applied GeoJSON and ISOXML exports all come from here.

use geo::{Contains, MultiPolygon, Point, Polygon};
use mission_planner::PumpCalibration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use telemetry::TrackPoint;

use crate::storage::RxZoneRow;

/// Where a flight's applied amounts come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliedSource {
    /// Each zone's commanded rate over its sprayed area: the vehicle reported no pump output,
    /// or the plan has no pump calibration (only on/off is known).
    #[default]
    Commanded,
    /// The pump output the vehicle reported, read back by the plan's pump calibration.
    PumpOutput,
}

/// How a plan's pump turns a reported output into a flow: its calibration and swath.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PumpReadback {
    /// The calibration the planner commanded the pump by.
    pub calibration: PumpCalibration,
    /// The swath width the plan was made with, m.
    pub swath_m: f64,
}

impl PumpReadback {
    /// The readback of a stored plan's form (`config_json`) with the pump's full flow, as the
    /// plan form offers for prescriptions: a servo-driven pump (`ardupilot-servo`,
    /// `px4-servo`) by the planner's servo levels; PX4's actuator (`px4`) by the range of the
    /// output the flight's own log says drives the pump (`output`, see
    /// [`telemetry::PumpOutput::in_records`]). `None` for ArduPilot's DO_SPRAYER (AC_Sprayer
    /// follows ground speed, the mission sets no level), for an actuator flight whose log
    /// names no pump output, and without a full flow.
    pub fn of_plan_config(
        config: &Value,
        output: Option<telemetry::PumpOutput>,
    ) -> Option<PumpReadback> {
        let full = config["pump_full_flow_l_min"]
            .as_str()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .or_else(|| config["pump_full_flow_l_min"].as_f64())
            .filter(|f| f.is_finite() && *f > 0.0)?;
        let swath_m = config["swath_width"].as_f64().filter(|w| *w > 0.0)?;
        let calibration = match config["autopilot"].as_str() {
            Some("ardupilot-servo" | "px4-servo") => {
                PumpCalibration::servo(full, mission_planner::SERVO_PWM_FULL)
            }
            Some("px4") => {
                let o = output?;
                PumpCalibration::output_range(full, o.pwm_min, o.pwm_max)?
            }
            _ => return None,
        };
        Some(PumpReadback {
            calibration,
            swath_m,
        })
    }
}

/// Samples further apart than this are a gap in the record (a lost link), not a stretch of
/// known flow: its pump output is not counted.
const MAX_SAMPLE_GAP_S: f64 = 5.0;

/// One stretch of the flown track with the pump on at a reported output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AppliedSegment {
    /// The track point it starts at (its index in the track).
    pub from_index: usize,
    /// Start (longitude, latitude).
    pub from: (f64, f64),
    /// End (longitude, latitude).
    pub to: (f64, f64),
    /// What the pump gave along it, litres (kg).
    pub amount: f64,
    /// The rate it laid, litres (kg) per m² (flow over ground speed × swath); `None` when
    /// the vehicle stood still.
    pub per_m2: Option<f64>,
}

/// The track's stretches with the pump on at a reported output, with what the pump gave on
/// each; `None` when no spraying sample has a reported pump output (only on/off is known).
///
/// A stretch lasts as long as the vehicle's own clock says (GLOBAL_POSITION_INT's boot time,
/// so a record made faster than real time, as the simulator's are, reckons the same), else
/// the record's time between the samples. Its rate is the flow over the mean reported
/// ground speed × the swath.
pub fn applied_segments(track: &[TrackPoint], pump: &PumpReadback) -> Option<Vec<AppliedSegment>> {
    use geo::{Distance, Haversine};
    if !track.iter().any(|p| p.spraying && p.pump_pwm.is_some()) {
        return None;
    }
    let mut out = Vec::new();
    for (i, w) in track.windows(2).enumerate() {
        let (a, b) = (&w[0], &w[1]);
        let Some(pwm) = a.pump_pwm.filter(|_| a.spraying) else {
            continue;
        };
        let seconds = match (a.vehicle_ms, b.vehicle_ms) {
            (Some(ta), Some(tb)) if tb >= ta => f64::from(tb - ta) / 1e3,
            _ => b.time_us.saturating_sub(a.time_us) as f64 / 1e6,
        };
        if !(seconds > 0.0 && seconds <= MAX_SAMPLE_GAP_S) {
            continue;
        }
        let speed = match (a.ground_speed_mps, b.ground_speed_mps) {
            (Some(va), Some(vb)) => (va + vb) / 2.0,
            _ => Haversine.distance(Point::new(a.lon, a.lat), Point::new(b.lon, b.lat)) / seconds,
        };
        let flow = pump.calibration.flow_for_pwm(pwm);
        let per_m2 = mission_planner::rate_for_flow(flow, pump.swath_m, speed)
            .map(|per_ha| per_ha / 10_000.0);
        out.push(AppliedSegment {
            from_index: i,
            from: (a.lon, a.lat),
            to: (b.lon, b.lat),
            amount: flow * seconds / 60.0,
            per_m2,
        });
    }
    Some(out)
}

/// One zone as flown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneApplied {
    /// The zone's number on the plan page.
    pub position: i64,
    /// The zone's name (`gap` for the field outside every zone).
    pub name: String,
    /// The zone's rate, in [`AsApplied::unit`].
    pub rate: f64,
    /// True for the field outside every prescribed zone.
    pub is_gap: bool,
    /// The zone's sprayable area, m².
    pub sprayable_m2: f64,
    /// The part of the zone the flight sprayed, m².
    pub applied_m2: f64,
    /// What that area received, litres (kg for granules): the pump's output over it where
    /// the vehicle reports it ([`AsApplied::source`]), else the zone's rate over it.
    pub amount: f64,
    /// What the prescription asks for over the whole zone, litres (kg).
    pub prescribed: f64,
    /// The rate the sprayed area received, area-weighted (`amount / applied_m2`), in
    /// [`AsApplied::unit`]; `None` without a reported pump output or sprayed area.
    #[serde(default)]
    pub applied_rate: Option<f64>,
}

impl ZoneApplied {
    /// Applied minus target rate, in [`AsApplied::unit`], where the applied rate is known.
    pub fn difference(&self) -> Option<f64> {
        self.applied_rate.map(|a| a - self.rate)
    }
}

/// A prescription flight's amounts by zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsApplied {
    /// `L/10a`, `L/ha` or `kg/10a`.
    pub unit: String,
    /// Every zone, in the plan's order.
    pub zones: Vec<ZoneApplied>,
    /// Sum of the zones' amounts and [`AsApplied::outside_amount`], litres (kg).
    pub total: f64,
    /// Sprayed area in no zone (outside the prescription, with no gap rate), m².
    pub outside_m2: f64,
    /// What the pump gave outside every zone, litres (kg); 0 unless measured.
    #[serde(default)]
    pub outside_amount: f64,
    /// Where the amounts come from.
    #[serde(default)]
    pub source: AppliedSource,
}

impl AsApplied {
    /// The average dose over the sprayed area, in litres (kg) per 10 a: over the zones, and
    /// outside them too when the pump's output was measured; `None` when nothing was sprayed.
    pub fn per_10a(&self) -> Option<f64> {
        let mut area: f64 = self.zones.iter().map(|z| z.applied_m2).sum();
        if self.source == AppliedSource::PumpOutput {
            area += self.outside_m2;
        }
        (area > 0.0).then(|| self.total / (area / 1000.0))
    }
}

/// A rate of `per_m2` litres (kg) per m² in `unit` (the inverse of [`per_m2`]).
pub fn from_per_m2(per_m2: f64, unit: &str) -> f64 {
    match unit {
        "L/ha" => per_m2 * 10_000.0,
        _ => per_m2 * 1000.0,
    }
}

/// Litres (kg) per m² of a rate in `unit`.
pub fn per_m2(rate: f64, unit: &str) -> f64 {
    match unit {
        "L/ha" => rate / 10_000.0,
        // L/10a and kg/10a: 10 a = 1 000 m².
        _ => rate / 1000.0,
    }
}

/// A zone's stored GeoJSON geometry (a WGS84 Polygon or MultiPolygon) as geo polygons; empty
/// where the text is not one.
pub fn zone_shape(text: &str) -> MultiPolygon {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let ring = |r: &Value| -> Vec<(f64, f64)> {
        r.as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c.get(0)?.as_f64()?, c.get(1)?.as_f64()?)))
            .collect()
    };
    let polygon = |p: &Value| {
        let rings = p.as_array()?;
        let exterior = ring(rings.first()?);
        let holes = rings[1..].iter().map(|r| ring(r).into()).collect();
        Some(Polygon::new(exterior.into(), holes))
    };
    let polygons = match v["type"].as_str() {
        Some("Polygon") => polygon(&v["coordinates"]).into_iter().collect(),
        _ => v["coordinates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(polygon)
            .collect(),
    };
    MultiPolygon(polygons)
}

/// The amounts of a flight whose sprayed area is `coverage`, by the zones of its plan's
/// prescription (rates in `unit`), and the as-applied GeoJSON: one feature per zone, its
/// sprayed part, with the zone's name, target rate, applied rate, unit, area and amount, and
/// the collection's `total`, `unit` and `source`. With `measured` (from
/// [`applied_segments`]) each zone gets what the pump gave along the track inside it (by the
/// middle of each stretch; zones are disjoint); without, its rate over its sprayed area.
pub fn as_applied(
    coverage: &telemetry::Coverage,
    unit: &str,
    zones: &[RxZoneRow],
    measured: Option<&[AppliedSegment]>,
) -> (AsApplied, Value) {
    let shapes: Vec<MultiPolygon> = zones.iter().map(|z| zone_shape(&z.geojson)).collect();
    // What the pump gave in each zone, and outside all of them.
    let mut pumped = vec![0.0; zones.len()];
    let mut outside_amount = 0.0;
    for s in measured.unwrap_or_default() {
        let mid = Point::new((s.from.0 + s.to.0) / 2.0, (s.from.1 + s.to.1) / 2.0);
        match shapes.iter().position(|z| z.contains(&mid)) {
            Some(i) => pumped[i] += s.amount,
            None => outside_amount += s.amount,
        }
    }
    let source = if measured.is_some() {
        AppliedSource::PumpOutput
    } else {
        AppliedSource::Commanded
    };
    let mut out = Vec::with_capacity(zones.len());
    let mut features = Vec::with_capacity(zones.len());
    for (i, z) in zones.iter().enumerate() {
        let (applied_m2, geometry) = coverage.sprayed_in(&shapes[i]);
        let (amount, applied_rate) = match source {
            AppliedSource::PumpOutput => (
                pumped[i],
                (applied_m2 > 0.0).then(|| from_per_m2(pumped[i] / applied_m2, unit)),
            ),
            AppliedSource::Commanded => (applied_m2 * per_m2(z.rate, unit), None),
        };
        features.push(json!({
            "type": "Feature",
            "geometry": geometry,
            "properties": {
                "zone": z.name, "position": z.position, "gap": z.is_gap,
                "rate": z.rate, "unit": unit,
                "applied_rate": applied_rate.map(|r| (r * 1000.0).round() / 1000.0),
                "applied_m2": (applied_m2 * 10.0).round() / 10.0,
                "amount": amount,
            },
        }));
        out.push(ZoneApplied {
            position: z.position,
            name: z.name.clone(),
            rate: z.rate,
            is_gap: z.is_gap,
            sprayable_m2: z.sprayable_ha * 10_000.0,
            applied_m2,
            amount,
            prescribed: z.amount,
            applied_rate,
        });
    }
    let (outside_m2, outside_geometry) = coverage.sprayed_outside(&shapes);
    if outside_m2 > 0.0 {
        features.push(json!({
            "type": "Feature",
            "geometry": outside_geometry,
            "properties": {
                "outside": true, "unit": unit,
                "applied_rate": (source == AppliedSource::PumpOutput && outside_m2 > 0.0)
                    .then(|| from_per_m2(outside_amount / outside_m2, unit)),
                "applied_m2": (outside_m2 * 10.0).round() / 10.0,
                "amount": outside_amount,
            },
        }));
    }
    let total = out.iter().map(|z| z.amount).sum::<f64>() + outside_amount;
    let applied = AsApplied {
        unit: unit.to_owned(),
        total,
        outside_m2,
        outside_amount,
        source,
        zones: out,
    };
    let geojson = json!({
        "type": "FeatureCollection",
        "features": features,
        "unit": unit,
        "total": total,
        "outside_amount": outside_amount,
        "source": source,
    });
    (applied, geojson)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_per_square_metre_follow_the_unit() {
        assert_eq!(per_m2(8.0, "L/10a"), 0.008);
        assert_eq!(per_m2(80.0, "L/ha"), 0.008);
        assert_eq!(per_m2(3.0, "kg/10a"), 0.003);
    }

    const LAT: f64 = 36.97;
    const LON: f64 = 139.98;

    /// Metres east and north of the test origin as (lon, lat).
    fn at(x: f64, y: f64) -> (f64, f64) {
        (
            LON + x / (111_412.84 * LAT.to_radians().cos()),
            LAT + y / (111_132.954 - 559.822 * (2.0 * LAT.to_radians()).cos()),
        )
    }

    fn rect(x0: f64, x1: f64) -> String {
        let c: Vec<[f64; 2]> = [
            (x0, -10.0),
            (x1, -10.0),
            (x1, 10.0),
            (x0, 10.0),
            (x0, -10.0),
        ]
        .iter()
        .map(|&(x, y)| {
            let (lon, lat) = at(x, y);
            [lon, lat]
        })
        .collect();
        json!({"type": "Polygon", "coordinates": [c]}).to_string()
    }

    fn zone(position: i64, name: &str, rate: f64, x0: f64, x1: f64) -> RxZoneRow {
        RxZoneRow {
            plan_id: 1,
            position,
            name: name.to_owned(),
            rate,
            is_gap: false,
            sprayable_ha: (x1 - x0) * 10.0 / 10_000.0,
            amount: (x1 - x0) * 10.0 * rate / 1000.0,
            amount_pumped: 0.0,
            geojson: rect(x0, x1),
        }
    }

    /// West 0–50 m at 0.8 L/10a, east 50–100 m at 1.6 L/10a.
    fn zones() -> Vec<RxZoneRow> {
        vec![
            zone(1, "西", 0.8, 0.0, 50.0),
            zone(2, "東", 1.6, 50.0, 100.0),
        ]
    }

    fn pump() -> PumpReadback {
        PumpReadback {
            calibration: PumpCalibration::servo(2.4, mission_planner::SERVO_PWM_FULL),
            swath_m: 5.0,
        }
    }

    /// One pass along y = 0 from x = −5 to 105 m at `speed`, a sample every metre, the pump
    /// at the PWM the planner commands for each zone's rate at 2 m/s (with `pwm`), on/off only
    /// without.
    fn pass(speed: f64, pwm: bool) -> Vec<TrackPoint> {
        let cal = pump().calibration;
        (0..=110)
            .map(|i| {
                let x = f64::from(i) - 5.0;
                let (lon, lat) = at(x, 0.0);
                let rate_10a = if x < 50.0 { 0.8 } else { 1.6 };
                let ms = (f64::from(i) / speed * 1000.0).round() as u32;
                TrackPoint {
                    time_us: 1_000_000_000 + u64::from(ms) * 1000,
                    lat,
                    lon,
                    spraying: (0.0..100.0).contains(&x),
                    pump_pwm: pwm
                        .then(|| cal.pwm_for_rate(rate_10a * 10.0, 5.0, 2.0).round() as u16),
                    ground_speed_mps: Some(speed),
                    vehicle_ms: Some(ms),
                }
            })
            .collect()
    }

    fn flown(track: &[TrackPoint]) -> (AsApplied, Value) {
        let (a, b) = (at(-5.0, 0.0), at(105.0, 0.0));
        let legs = [telemetry::SprayLeg {
            from: (a.1, a.0),
            to: (b.1, b.0),
        }];
        let cov = telemetry::coverage(track, &legs, 5.0).unwrap();
        let measured = applied_segments(track, &pump());
        as_applied(&cov, "L/10a", &zones(), measured.as_deref())
    }

    #[test]
    fn the_pump_output_comes_back_as_each_zones_rate() {
        let (a, gj) = flown(&pass(2.0, true));
        assert_eq!(a.source, AppliedSource::PumpOutput);
        for (z, target) in a.zones.iter().zip([0.8, 1.6]) {
            let applied = z.applied_rate.expect("measured");
            // 250 m² each (50 m × 5 m); the track's first and last metre are half-swaths.
            assert!((applied - target).abs() < 0.02 * target, "{z:?}");
            assert!(z.difference().unwrap().abs() < 0.02 * target);
        }
        // 0.2 L + 0.4 L.
        assert!((a.total - 0.6).abs() < 0.01, "{a:?}");
        assert!((a.per_10a().unwrap() - 1.2).abs() < 0.03, "{a:?}");
        assert_eq!(gj["source"], "pump_output");
        assert!((gj["total"].as_f64().unwrap() - a.total).abs() < 1e-12);
    }

    #[test]
    fn a_pump_flying_slower_lays_more() {
        // The servo pump is not speed-compensated: at half the planned speed, twice the dose.
        let (a, _) = flown(&pass(1.0, true));
        for (z, target) in a.zones.iter().zip([0.8, 1.6]) {
            let applied = z.applied_rate.unwrap();
            assert!((applied - 2.0 * target).abs() < 0.04 * target, "{z:?}");
        }
    }

    #[test]
    fn without_a_pump_output_the_rates_are_the_commanded_ones_and_say_so() {
        let track = pass(2.0, false);
        assert!(applied_segments(&track, &pump()).is_none());
        let (a, gj) = flown(&track);
        assert_eq!(a.source, AppliedSource::Commanded);
        assert!(a.zones.iter().all(|z| z.applied_rate.is_none()));
        for z in &a.zones {
            assert!((z.amount - z.applied_m2 * z.rate / 1000.0).abs() < 1e-9);
        }
        assert_eq!(gj["source"], "commanded");
    }

    #[test]
    fn geojson_and_isoxml_give_the_same_zone_rates_and_total() {
        use crate::services::flights::isoxml::{
            DDI_ACTUAL_VOLUME_PER_AREA, DDI_SETPOINT_VOLUME_PER_AREA, SprayedPart, TaskInput,
            read_back, task_data,
        };
        let (a, gj) = flown(&pass(2.0, true));
        let features = gj["features"].as_array().unwrap();
        let part = |f: &Value| SprayedPart {
            shape: zone_shape(&f["geometry"].to_string()),
            area_m2: f["properties"]["applied_m2"].as_f64().unwrap(),
        };
        let parts: Vec<SprayedPart> = features
            .iter()
            .filter(|f| f["properties"]["outside"] != true)
            .map(part)
            .collect();
        let outside = features
            .iter()
            .find(|f| f["properties"]["outside"] == true)
            .map(part);
        let boundary = zone_shape(&rect(0.0, 100.0));
        let xml = task_data(&TaskInput {
            flight_id: 7,
            field_name: "北の田 <1>",
            boundary: &boundary,
            field_area_m2: 2000.0,
            product: "スミチオン乳剤",
            applied: &a,
            parts: &parts,
            outside: outside.as_ref(),
            span: (None, None),
            time_log: false,
        })
        .unwrap();
        let (elements, read) = read_back(&xml);
        for e in [
            "ISO11783_TaskData",
            "PDT",
            "PFD",
            "PLN",
            "LSG",
            "PNT",
            "TSK",
            "TZN",
            "PDV",
        ] {
            assert!(elements.iter().any(|x| x == e), "{e} missing:\n{xml}");
        }
        assert!(xml.contains("北の田 &lt;1&gt;"), "{xml}");
        let zones: Vec<_> = read.iter().filter(|z| z.name != "outside").collect();
        assert_eq!(zones.len(), a.zones.len());
        let mut total = 0.0;
        for (r, z) in zones.iter().zip(&a.zones) {
            let set = from_per_m2(r.per_m2(DDI_SETPOINT_VOLUME_PER_AREA).unwrap(), "L/10a");
            let act = from_per_m2(r.per_m2(DDI_ACTUAL_VOLUME_PER_AREA).unwrap(), "L/10a");
            assert!((set - z.rate).abs() < 1e-3, "{r:?}");
            assert!((act - z.applied_rate.unwrap()).abs() < 1e-3, "{r:?}");
            assert!((r.area_m2 - z.applied_m2).abs() <= 0.5, "{r:?}");
            total += r.per_m2(DDI_ACTUAL_VOLUME_PER_AREA).unwrap() * r.area_m2;
        }
        for r in read.iter().filter(|z| z.name == "outside") {
            total += r.per_m2(DDI_ACTUAL_VOLUME_PER_AREA).unwrap() * r.area_m2;
        }
        // The planner's own ISOXML prescription reader takes the file too, each zone at its
        // set-point rate (the sprayed part outside the zones has none and is left out).
        let back = mission_planner::read_taskdata(
            &xml,
            &|_| None,
            &mission_planner::ReadOptions::new(None, mission_planner::RateUnit::LitresPer10a),
        )
        .expect("the planner reads the task data");
        let rates: Vec<f64> = back.zones.iter().map(|z| z.rate).collect();
        assert_eq!(rates, vec![0.8, 1.6], "{back:?}");
        let geojson_total = gj["total"].as_f64().unwrap();
        assert!(
            (total - geojson_total).abs() < 0.005,
            "{total} vs {geojson_total}"
        );
        assert!((total - a.total).abs() < 0.005);
    }

    #[test]
    fn a_servo_pump_or_a_known_px4_output_with_its_flow_is_read_back() {
        let servo = json!({"autopilot": "ardupilot-servo", "pump_full_flow_l_min": "2.4", "swath_width": 5.0});
        let r = PumpReadback::of_plan_config(&servo, None).unwrap();
        assert_eq!(r.calibration.full_flow_l_min, 2.4);
        assert_eq!(r.calibration.pwm_on, mission_planner::SERVO_PWM_FULL);
        // PX4's actuator: read over the range of the output the log names.
        let px4 = json!({"autopilot": "px4", "pump_full_flow_l_min": "2.4", "swath_width": 5.0});
        let output = telemetry::PumpOutput {
            servo: 6,
            pwm_min: 1100,
            pwm_max: 1900,
        };
        let r = PumpReadback::of_plan_config(&px4, Some(output)).unwrap();
        assert_eq!(r.calibration.pwm_zero, 1500.0);
        assert_eq!(r.calibration.flow_for_pwm(1700), 1.2);
        for other in [
            json!({"autopilot": "px4", "pump_full_flow_l_min": "2.4", "swath_width": 5.0}),
            json!({"autopilot": "ardupilot", "pump_full_flow_l_min": "2.4", "swath_width": 5.0}),
            json!({"autopilot": "ardupilot-servo", "pump_full_flow_l_min": "", "swath_width": 5.0}),
            json!({"autopilot": "ardupilot-servo", "pump_full_flow_l_min": "x", "swath_width": 5.0}),
            json!({"autopilot": "ardupilot-servo", "pump_full_flow_l_min": "-1", "swath_width": 5.0}),
            Value::Null,
        ] {
            assert_eq!(PumpReadback::of_plan_config(&other, None), None, "{other}");
        }
        // DO_SPRAYER sets no level, whatever the log says.
        let ardupilot =
            json!({"autopilot": "ardupilot", "pump_full_flow_l_min": "2.4", "swath_width": 5.0});
        assert_eq!(PumpReadback::of_plan_config(&ardupilot, Some(output)), None);
    }

    #[test]
    fn zone_shapes_read_polygons_and_multipolygons() {
        let p = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#;
        let m = r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[2,2],[3,2],[3,3],[2,2]]]]}"#;
        assert_eq!(zone_shape(p).0.len(), 1);
        assert_eq!(zone_shape(m).0.len(), 2);
        assert!(zone_shape("not json").0.is_empty());
    }
}
