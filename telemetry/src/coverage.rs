//! As-applied coverage: from the flown track, the pump state and the swath width, the sprayed
//! area, compared with the plan's spray legs (covered %, gaps and overlaps in m² and as GeoJSON).
//!
//! Works in a local metric frame (equirectangular around the first plan point), which is
//! accurate to well under 0.1 % over a field.

use geo::algorithm::buffer::{BufferStyle, LineCap, LineJoin};
use geo::{Area, BooleanOps, Buffer, Coord, LineString, MultiPolygon, Polygon};

use crate::error::{Error, Result};
use crate::plan::SprayLeg;

/// One track sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TrackPoint {
    /// Time, microseconds since the Unix epoch.
    pub time_us: u64,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Pump on at this sample.
    pub spraying: bool,
    /// The pump output's PWM the vehicle last reported (µs, SERVO_OUTPUT_RAW of the pump's
    /// channel); `None` when it reports none, and only on/off is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_pwm: Option<u16>,
    /// Ground speed, m/s (GLOBAL_POSITION_INT's velocity, else VFR_HUD); `None` before one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ground_speed_mps: Option<f64>,
    /// The vehicle's own clock at this position, ms since its boot (GLOBAL_POSITION_INT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vehicle_ms: Option<u32>,
}

/// The comparison of sprayed area with the plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Coverage {
    /// Area the plan meant to spray, m².
    pub target_m2: f64,
    /// Area actually sprayed (union of the swaths), m².
    pub sprayed_m2: f64,
    /// Planned area that was sprayed, m².
    pub covered_m2: f64,
    /// Planned area sprayed, percent of `target_m2`.
    pub covered_pct: f64,
    /// Planned area left unsprayed, m².
    pub gaps_m2: f64,
    /// Area sprayed twice or more, m².
    pub overlaps_m2: f64,
    /// Sprayed area outside the plan, m².
    pub off_target_m2: f64,
    /// GeoJSON FeatureCollection with the sprayed, gap and overlap areas (WGS84).
    #[serde(skip)]
    pub geojson: serde_json::Value,
    /// The sprayed area in the local frame below, for [`Coverage::sprayed_in`].
    #[serde(skip)]
    sprayed: MultiPolygon,
    #[serde(skip)]
    local: Local,
}

impl Coverage {
    /// The sprayed area inside `zone` (WGS84, x = longitude, y = latitude): its size in m²
    /// and its GeoJSON geometry (WGS84), for as-applied amounts by prescription zone.
    pub fn sprayed_in(&self, zone: &MultiPolygon) -> (f64, serde_json::Value) {
        let local_zone = self.to_local(zone);
        let inside = self.sprayed.intersection(&local_zone);
        (inside.unsigned_area(), to_geojson(&inside, &self.local))
    }

    /// The sprayed area outside every one of `zones` (WGS84, as for [`Coverage::sprayed_in`]):
    /// its size in m² and its GeoJSON geometry (WGS84).
    pub fn sprayed_outside(&self, zones: &[MultiPolygon]) -> (f64, serde_json::Value) {
        let mut outside = self.sprayed.clone();
        for z in zones {
            outside = outside.difference(&self.to_local(z));
        }
        (outside.unsigned_area(), to_geojson(&outside, &self.local))
    }

    fn to_local(&self, zone: &MultiPolygon) -> MultiPolygon {
        MultiPolygon::new(
            zone.0
                .iter()
                .map(|p| {
                    let ring = |r: &LineString| {
                        LineString::from(
                            r.0.iter()
                                .map(|c| self.local.fwd(c.y, c.x))
                                .collect::<Vec<Coord>>(),
                        )
                    };
                    Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
                })
                .collect(),
        )
    }
}

/// Local metric projection around a reference point.
#[derive(Debug, Clone, Copy)]
struct Local {
    lat0: f64,
    lon0: f64,
    kx: f64,
    ky: f64,
}

impl Local {
    fn new(lat0: f64, lon0: f64) -> Self {
        let ky = 111_132.954 - 559.822 * (2.0 * lat0.to_radians()).cos();
        let kx = 111_412.84 * lat0.to_radians().cos();
        Self { lat0, lon0, kx, ky }
    }
    fn fwd(&self, lat: f64, lon: f64) -> Coord {
        Coord {
            x: (lon - self.lon0) * self.kx,
            y: (lat - self.lat0) * self.ky,
        }
    }
    fn inv(&self, c: Coord) -> (f64, f64) {
        (c.y / self.ky + self.lat0, c.x / self.kx + self.lon0)
    }
}

fn strip(line: &[Coord], width_m: f64) -> MultiPolygon {
    let ls = LineString::from(line.to_vec());
    ls.buffer_with_style(
        BufferStyle::new(width_m / 2.0)
            .line_cap(LineCap::Butt)
            .line_join(LineJoin::Round(0.2)),
    )
}

fn union_all(polys: &[MultiPolygon]) -> MultiPolygon {
    let mut acc = MultiPolygon::new(vec![]);
    for p in polys {
        acc = acc.union(p);
    }
    acc
}

/// Samples closer in time than this are dense enough that the pump changed state somewhere
/// between them, not at either end; sparser ones keep the pump state of the segment's end.
const DENSE_SAMPLE_US: u64 = 1_000_000;

/// Dense samples also lie closer than this, metres (a spray drone's 5 Hz reports are 1–1.5 m
/// apart); a vehicle that reports at its waypoints, however quickly, keeps the end's pump state.
const DENSE_SAMPLE_M: f64 = 3.0;

/// Where along the segment from `a` to `b` the pump changed state: its middle when both samples
/// carry times under [`DENSE_SAMPLE_US`] apart and lie within [`DENSE_SAMPLE_M`], else `None`
/// (the end's state holds throughout).
fn switch_point(a: &TrackPoint, b: &TrackPoint, ca: Coord, cb: Coord) -> Option<Coord> {
    let dense = a.time_us > 0
        && b.time_us > a.time_us
        && b.time_us - a.time_us <= DENSE_SAMPLE_US
        && (cb.x - ca.x).hypot(cb.y - ca.y) <= DENSE_SAMPLE_M;
    dense.then(|| Coord {
        x: (ca.x + cb.x) / 2.0,
        y: (ca.y + cb.y) / 2.0,
    })
}

/// Appends `c` to the run, dropping it when closer than 0.5 m to the run's last point and
/// cutting the run where the heading turns more than 60°.
fn extend_run(runs: &mut Vec<Vec<Coord>>, cur: &mut Vec<Coord>, c: Coord) {
    let Some(&last) = cur.last() else {
        cur.push(c);
        return;
    };
    if (c.x - last.x).hypot(c.y - last.y) < 0.5 {
        return;
    }
    if cur.len() >= 2 {
        let a = cur[cur.len() - 2];
        let h1 = (last.y - a.y).atan2(last.x - a.x);
        let h2 = (c.y - last.y).atan2(c.x - last.x);
        let mut d = (h2 - h1).abs();
        if d > std::f64::consts::PI {
            d = 2.0 * std::f64::consts::PI - d;
        }
        if d > 60f64.to_radians() {
            runs.push(std::mem::take(cur));
            cur.push(last);
        }
    }
    cur.push(c);
}

/// Splits the spraying part of a track into runs (straight-ish polylines), dropping samples
/// closer than 0.5 m to the previous one and cutting a run where the heading turns > 60°.
///
/// Where the pump switches between two samples, a dense track (timed samples under a second
/// and 3 m apart, as SERVO_OUTPUT_RAW at 5 Hz gives) counts the switch at the segment's middle, so a run
/// gains or loses half a sample interval at each end rather than a whole one; a sparse track
/// (a vehicle that reports only at waypoints) keeps the pump state of the segment's end.
fn spray_runs(track: &[TrackPoint], local: &Local) -> Vec<Vec<Coord>> {
    let mut runs: Vec<Vec<Coord>> = Vec::new();
    let mut cur: Vec<Coord> = Vec::new();
    let mut prev: Option<(&TrackPoint, Coord)> = None;
    for p in track {
        let c = local.fwd(p.lat, p.lon);
        if let Some((pp, pc)) = prev {
            match (pp.spraying, p.spraying) {
                (_, true) => {
                    if cur.is_empty() {
                        let from = if pp.spraying {
                            pc
                        } else {
                            switch_point(pp, p, pc, c).unwrap_or(pc)
                        };
                        cur.push(from);
                    }
                    extend_run(&mut runs, &mut cur, c);
                }
                (true, false) => {
                    if let Some(m) = switch_point(pp, p, pc, c) {
                        extend_run(&mut runs, &mut cur, m);
                    }
                    if cur.len() >= 2 {
                        runs.push(std::mem::take(&mut cur));
                    } else {
                        cur.clear();
                    }
                }
                (false, false) => cur.clear(),
            }
        }
        prev = Some((p, c));
    }
    if cur.len() >= 2 {
        runs.push(cur);
    }
    runs
}

fn to_geojson(mp: &MultiPolygon, local: &Local) -> serde_json::Value {
    let ring = |ls: &LineString| -> Vec<[f64; 2]> {
        ls.coords()
            .map(|c| {
                let (lat, lon) = local.inv(*c);
                [lon, lat]
            })
            .collect()
    };
    let polys: Vec<Vec<Vec<[f64; 2]>>> =
        mp.0.iter()
            .map(|p: &Polygon| {
                std::iter::once(ring(p.exterior()))
                    .chain(p.interiors().iter().map(ring))
                    .collect()
            })
            .collect();
    serde_json::json!({ "type": "MultiPolygon", "coordinates": polys })
}

/// Computes as-applied coverage of `track` against the plan's spray `legs` for a swath of
/// `swath_m` metres.
///
/// # Errors
/// [`Error::Coverage`] if the swath is not positive or the plan has no spray legs.
pub fn coverage(track: &[TrackPoint], legs: &[SprayLeg], swath_m: f64) -> Result<Coverage> {
    if !(swath_m.is_finite() && swath_m > 0.0) {
        return Err(Error::Coverage {
            reason: format!("swath width must be > 0 m, got {swath_m}"),
        });
    }
    let first = legs.first().ok_or_else(|| Error::Coverage {
        reason: "the plan has no spray legs".into(),
    })?;
    let local = Local::new(first.from.0, first.from.1);
    let target_parts: Vec<MultiPolygon> = legs
        .iter()
        .map(|l| {
            strip(
                &[local.fwd(l.from.0, l.from.1), local.fwd(l.to.0, l.to.1)],
                swath_m,
            )
        })
        .collect();
    let target = union_all(&target_parts);
    let runs: Vec<MultiPolygon> = spray_runs(track, &local)
        .iter()
        .map(|r| strip(r, swath_m))
        .collect();
    let mut sprayed = MultiPolygon::new(vec![]);
    let mut overlaps = MultiPolygon::new(vec![]);
    for r in &runs {
        let ov = r.intersection(&sprayed);
        if ov.unsigned_area() > 1e-6 {
            overlaps = overlaps.union(&ov);
        }
        sprayed = sprayed.union(r);
    }
    let covered = sprayed.intersection(&target);
    let gaps = target.difference(&sprayed);
    let off = sprayed.difference(&target);
    let target_m2 = target.unsigned_area();
    let covered_m2 = covered.unsigned_area();
    let feature = |name: &str, g: &MultiPolygon| {
        serde_json::json!({
            "type": "Feature",
            "properties": { "kind": name, "area_m2": (g.unsigned_area() * 10.0).round() / 10.0 },
            "geometry": to_geojson(g, &local),
        })
    };
    let geojson = serde_json::json!({
        "type": "FeatureCollection",
        "features": [feature("planned", &target), feature("sprayed", &sprayed), feature("gap", &gaps), feature("overlap", &overlaps)],
    });
    Ok(Coverage {
        target_m2,
        sprayed_m2: sprayed.unsigned_area(),
        covered_m2,
        covered_pct: if target_m2 > 0.0 {
            100.0 * covered_m2 / target_m2
        } else {
            0.0
        },
        gaps_m2: gaps.unsigned_area(),
        overlaps_m2: overlaps.unsigned_area(),
        off_target_m2: off.unsigned_area(),
        geojson,
        sprayed,
        local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LAT: f64 = 36.87;
    const LON: f64 = 139.99;

    fn m_to_deg(dx: f64, dy: f64) -> (f64, f64) {
        let l = Local::new(LAT, LON);
        l.inv(Coord { x: dx, y: dy })
    }

    fn leg(x0: f64, y: f64, x1: f64) -> SprayLeg {
        SprayLeg {
            from: m_to_deg(x0, y),
            to: m_to_deg(x1, y),
        }
    }

    fn pt(x: f64, y: f64, on: bool) -> TrackPoint {
        let (lat, lon) = m_to_deg(x, y);
        TrackPoint {
            time_us: 0,
            lat,
            lon,
            spraying: on,
            pump_pwm: None,
            ground_speed_mps: None,
            vehicle_ms: None,
        }
    }

    /// Two 100 m legs 5 m apart, and a track that flies both exactly with the pump on.
    fn both_legs_flown() -> ([SprayLeg; 2], [TrackPoint; 4]) {
        (
            [leg(0.0, 0.0, 100.0), leg(100.0, 5.0, 0.0)],
            [
                pt(0.0, 0.0, false),
                pt(100.0, 0.0, true),
                pt(100.0, 5.0, false),
                pt(0.0, 5.0, true),
            ],
        )
    }

    #[test]
    fn flying_the_legs_exactly_covers_them() {
        let (legs, track) = both_legs_flown();
        let c = coverage(&track, &legs, 5.0).unwrap();
        assert!((c.target_m2 - 1000.0).abs() < 5.0, "{c:?}");
        assert!(c.covered_pct > 99.0, "{c:?}");
        assert!(
            c.gaps_m2 < 5.0 && c.overlaps_m2 < 5.0 && c.off_target_m2 < 5.0,
            "{c:?}"
        );
    }

    #[test]
    fn the_sprayed_area_splits_by_zone() {
        let (legs, track) = both_legs_flown();
        let c = coverage(&track, &legs, 5.0).unwrap();
        // A zone over x < 30 m and one over x ≥ 30 m, both wide enough in y, in degrees.
        let zone = |x0: f64, x1: f64| {
            let ring: Vec<(f64, f64)> = [(x0, -10.0), (x1, -10.0), (x1, 20.0), (x0, 20.0)]
                .iter()
                .map(|&(x, y)| {
                    let (lat, lon) = m_to_deg(x, y);
                    (lon, lat)
                })
                .collect();
            MultiPolygon::new(vec![Polygon::new(LineString::from(ring), vec![])])
        };
        let (west, g) = c.sprayed_in(&zone(-50.0, 30.0));
        let (east, _) = c.sprayed_in(&zone(30.0, 150.0));
        assert!(
            (west - 0.3 * c.sprayed_m2).abs() < 25.0,
            "{west} of {}",
            c.sprayed_m2
        );
        assert!((west + east - c.sprayed_m2).abs() < 1.0, "{west} + {east}");
        assert_eq!(g["type"], "MultiPolygon");
        let (none, _) = c.sprayed_in(&zone(500.0, 600.0));
        assert_eq!(none, 0.0);
    }

    #[test]
    fn a_skipped_leg_is_a_gap_and_a_repeated_one_an_overlap() {
        let legs = [leg(0.0, 0.0, 100.0), leg(100.0, 5.0, 0.0)];
        let track = [
            pt(0.0, 0.0, false),
            pt(100.0, 0.0, true),
            pt(0.0, 0.0, false),
            pt(100.0, 0.0, true),
        ];
        let c = coverage(&track, &legs, 5.0).unwrap();
        assert!((c.covered_pct - 50.0).abs() < 1.0, "{c:?}");
        assert!((c.gaps_m2 - 500.0).abs() < 5.0, "{c:?}");
        assert!((c.overlaps_m2 - 500.0).abs() < 5.0, "{c:?}");
        assert_eq!(c.geojson["features"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn pump_off_flight_sprays_nothing_and_bad_inputs_are_errors() {
        let legs = [leg(0.0, 0.0, 100.0)];
        let c = coverage(&[pt(0.0, 0.0, false), pt(100.0, 0.0, false)], &legs, 5.0).unwrap();
        assert_eq!(c.sprayed_m2, 0.0);
        assert!(coverage(&[], &legs, 0.0).is_err());
        assert!(coverage(&[], &[], 5.0).is_err());
    }

    /// A timed 5 Hz track (a report every metre) whose pump switches on at 10 m and off at
    /// 90 m, between reports: the run is counted from 10 to 90 m, not shifted by a report.
    #[test]
    fn a_dense_track_switches_the_pump_between_samples() {
        let legs = [leg(10.0, 0.0, 90.0)];
        let track: Vec<TrackPoint> = (0..100)
            .map(|i| {
                let x = i as f64 + 0.5;
                TrackPoint {
                    time_us: 1_000_000_000 + i * 200_000,
                    ..pt(x, 0.0, (10.0..90.0).contains(&x))
                }
            })
            .collect();
        let c = coverage(&track, &legs, 5.0).unwrap();
        assert!((c.sprayed_m2 - 400.0).abs() < 0.5, "{c:?}");
        assert!(c.off_target_m2 < 0.5 && c.gaps_m2 < 0.5, "{c:?}");
        // The same samples untimed keep the end's pump state: the run starts and ends half a
        // report early.
        let untimed: Vec<TrackPoint> = track
            .iter()
            .map(|p| TrackPoint { time_us: 0, ..*p })
            .collect();
        let c = coverage(&untimed, &legs, 5.0).unwrap();
        assert!((c.off_target_m2 - 2.5).abs() < 0.5, "{c:?}");
        assert!((c.gaps_m2 - 2.5).abs() < 0.5, "{c:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn covered_plus_gaps_is_the_target(
            ys in proptest::collection::vec(-20.0f64..20.0, 1..6),
            offs in proptest::collection::vec(-3.0f64..3.0, 1..6),
        ) {
            let legs: Vec<SprayLeg> = ys.iter().map(|y| leg(0.0, *y, 50.0)).collect();
            let track: Vec<TrackPoint> = ys.iter().zip(offs.iter().cycle())
                .flat_map(|(y, o)| [pt(0.0, y + o, false), pt(50.0, y + o, true)]).collect();
            let c = coverage(&track, &legs, 4.0).unwrap();
            prop_assert!((c.covered_m2 + c.gaps_m2 - c.target_m2).abs() < 0.01 * c.target_m2.max(1.0));
            prop_assert!(c.covered_pct <= 100.0 + 1e-6);
            prop_assert!(c.sprayed_m2 + 1e-6 >= c.covered_m2);
        }
    }
}
