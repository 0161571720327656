//! The altitude pass: spray height above the ground along every leg, within the vehicle's
//! climb and descent limits, in the altitude frame the autopilot is given.

use super::dem::Dem;
use crate::error::PlanError;
use crate::export::Autopilot;
use crate::plan::Plan;
use crate::route::{SegmentKind, Track};
use crate::units::{Metres, MetresPerSecond};
use geo::Coord;

/// The frame mission altitudes are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltitudeFrame {
    /// Above the home (take-off) position: `MAV_FRAME_GLOBAL_RELATIVE_ALT` (3). Home's ground
    /// is taken from the model at the refill point: arm there.
    RelativeHome,
    /// Above mean sea level: `MAV_FRAME_GLOBAL` (0). The vehicle's altitude source (GPS MSL)
    /// and the model's datum (GSI: orthometric heights) agree to about a metre in Japan.
    Amsl,
    /// Above the terrain under the vehicle: `MAV_FRAME_GLOBAL_TERRAIN_ALT` (10). ArduPilot
    /// flies these with its own terrain data (`TERRAIN_ENABLE`, served by the ground station
    /// over the terrain protocol) and interpolates the height above terrain between
    /// waypoints (ArduPilot `libraries/AP_Mission/AP_Mission.cpp`, `mavlink_int_to_mission_cmd`:
    /// frame 10/11 set `terrain_alt`). PX4 does not take terrain-frame mission items
    /// (`src/modules/mavlink/mavlink_mission.cpp`, `parse_mavlink_mission_item`: frames other
    /// than global, relative and mission are refused with `MAV_MISSION_UNSUPPORTED_FRAME`), so
    /// a PX4 mission falls back to [`AltitudeFrame::Amsl`].
    Terrain,
}

impl AltitudeFrame {
    /// The MAVLink `MAV_FRAME` of positioned items.
    pub fn mav_frame(self) -> u8 {
        match self {
            AltitudeFrame::RelativeHome => 3,
            AltitudeFrame::Amsl => 0,
            AltitudeFrame::Terrain => 10,
        }
    }

    /// Whether `autopilot` flies mission items in this frame.
    pub fn supported_by(self, autopilot: Autopilot) -> bool {
        self != AltitudeFrame::Terrain || autopilot == Autopilot::ArduPilot
    }

    /// The frame actually written for `autopilot`: terrain falls back to AMSL where unsupported.
    pub fn for_autopilot(self, autopilot: Autopilot) -> AltitudeFrame {
        if self.supported_by(autopilot) {
            self
        } else {
            AltitudeFrame::Amsl
        }
    }
}

/// Settings of the altitude pass.
#[derive(Debug, Clone)]
pub struct TerrainConfig {
    /// The frame altitudes are written in (default relative to home).
    pub frame: AltitudeFrame,
    /// How far the flown height may depart from the wanted height before a point is
    /// inserted along a leg (default 0.5 m).
    pub tolerance: Metres,
    /// Fastest climb the vehicle flies along a leg (default 2.5 m/s: ArduPilot's
    /// `WPNAV_SPEED_UP` default, `libraries/AC_WPNav/AC_WPNav.h` `WPNAV_WP_SPEED_UP` 250 cm/s).
    /// With the leg's speed it gives the steepest climb angle.
    pub climb_rate: MetresPerSecond,
    /// Fastest descent along a leg (default 1.5 m/s: ArduPilot's `WPNAV_SPEED_DN` default,
    /// `WPNAV_WP_SPEED_DOWN` 150 cm/s).
    pub descent_rate: MetresPerSecond,
    /// Highest point above ground allowed (default 150 m: Japan's Civil Aeronautics Act,
    /// art. 132-85, airspace 150 m or more above ground or water needs permission).
    pub agl_limit: Metres,
}

impl Default for TerrainConfig {
    fn default() -> Self {
        Self {
            frame: AltitudeFrame::RelativeHome,
            tolerance: Metres::new(0.5).expect("valid default"),
            climb_rate: MetresPerSecond::new(2.5).expect("valid default"),
            descent_rate: MetresPerSecond::new(1.5).expect("valid default"),
            agl_limit: Metres::new(150.0).expect("valid default"),
        }
    }
}

/// Ground and flown altitude at one track point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointAlt {
    /// Ground height above mean sea level, metres.
    pub ground_amsl: f64,
    /// Wanted altitude above mean sea level, metres (ground + spray height, raised where the
    /// ground is steeper than the vehicle climbs or descends).
    pub alt_amsl: f64,
}

/// What the altitude pass found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TerrainReport {
    /// Points inserted along legs.
    pub inserted_points: usize,
    /// Lowest and highest ground under the path, metres AMSL.
    pub ground_min_m: f64,
    /// Highest ground under the path, metres AMSL.
    pub ground_max_m: f64,
    /// Ground at the refill (home) point, metres AMSL.
    pub home_ground_m: f64,
    /// Highest flown point above ground, metres (refused past [`TerrainConfig::agl_limit`]).
    pub max_agl_m: f64,
    /// Lowest flown point above ground along legs, metres.
    pub min_agl_m: f64,
    /// Path length flown higher than spray height + tolerance because the ground is steeper
    /// than the vehicle may climb or descend at that leg's speed, metres.
    pub raised_m: f64,
    /// Of it, length with the spray on: spray there lands from higher than planned; the
    /// go/no-go should warn.
    pub raised_spray_m: f64,
    /// The most the path is raised above spray height, metres.
    pub max_raise_m: f64,
    /// Steepest ground slope under the path, degrees.
    pub steepest_ground_deg: f64,
}

/// The altitude profile of a planned mission.
#[derive(Debug, Clone, PartialEq)]
pub struct TerrainProfile {
    /// The frame the mission files write.
    pub frame: AltitudeFrame,
    /// Ground at the refill (home) point, metres AMSL.
    pub home_ground_m: f64,
    /// Per sortie, per track point (aligned with `Sortie::track.points`).
    pub sorties: Vec<Vec<PointAlt>>,
    /// The figures.
    pub report: TerrainReport,
}

impl TerrainProfile {
    /// The altitude item `point` of sortie `sortie` carries in `frame`.
    pub fn alt_in(&self, frame: AltitudeFrame, sortie: usize, point: usize) -> f64 {
        let p = self.sorties[sortie][point];
        match frame {
            AltitudeFrame::RelativeHome => p.alt_amsl - self.home_ground_m,
            AltitudeFrame::Amsl => p.alt_amsl,
            AltitudeFrame::Terrain => p.alt_amsl - p.ground_amsl,
        }
    }
}

/// One sample along a track.
struct Sample {
    p: Coord,
    /// Distance from the previous sample, metres.
    ds: f64,
    /// Kind of the segment this sample ends (the first sample: of the first segment).
    kind: SegmentKind,
    /// Application rate of that segment, per hectare.
    rate: f64,
    ground: f64,
    /// Index of the track point this sample is, if it is one.
    vertex: Option<usize>,
}

/// Sets every track point's altitude to the plan's spray height above the ground of `dem`,
/// inserts points along legs where the flown height would otherwise depart from it by more
/// than `config.tolerance`, and raises the path where the ground is steeper than the vehicle
/// climbs or descends at the leg's speed (reported, never flown into).
///
/// # Errors
/// [`PlanError::TerrainMissing`] where the model has no ground under the path (or the refill
/// point); [`PlanError::AboveLegalHeight`] when a flown point would be higher above ground
/// than `config.agl_limit`; [`PlanError::PathOutsideFence`] if an inserted point, once rounded,
/// would leave the allowed region.
pub fn apply_terrain(plan: &Plan, dem: &Dem, config: &TerrainConfig) -> Result<Plan, PlanError> {
    let h = plan.height_m;
    let tol = config.tolerance.get().max(0.05);
    let ground_at = |c: Coord| {
        let g = plan.frame.to_wgs84(c);
        dem.height_amsl(g.y, g.x)
            .ok_or_else(|| PlanError::TerrainMissing {
                field_id: plan.field_id.clone(),
                lat: g.y,
                lon: g.x,
            })
    };
    let home_ground = ground_at(plan.refill)?;
    let step = (dem.cell_size_m() / 4.0).clamp(0.25, 1.0);
    let speed = |k: SegmentKind| {
        if k.at_spray_speed() {
            plan.spray_speed
        } else {
            plan.transit_speed
        }
    };
    let up = config.climb_rate.get();
    let dn = config.descent_rate.get();
    let mut out = plan.clone();
    let mut report = TerrainReport {
        home_ground_m: home_ground,
        ground_min_m: f64::INFINITY,
        ground_max_m: f64::NEG_INFINITY,
        min_agl_m: f64::INFINITY,
        ..TerrainReport::default()
    };
    let mut alts = Vec::new();
    for (si, sortie) in plan.sorties.iter().enumerate() {
        let t = &sortie.track;
        // Samples along the track, every `step` metres, and at every track point.
        let mut s: Vec<Sample> = Vec::new();
        s.push(Sample {
            p: t.points[0],
            ds: 0.0,
            kind: t.kinds.first().copied().unwrap_or(SegmentKind::Transit),
            rate: t.rates.first().copied().unwrap_or(0.0),
            ground: ground_at(t.points[0])?,
            vertex: Some(0),
        });
        for (i, (a, b, kind)) in t.segments().enumerate() {
            let rate = t.rates.get(i).copied().unwrap_or(0.0);
            let len = (b.x - a.x).hypot(b.y - a.y);
            let n = ((len / step).ceil() as usize).max(1);
            for k in 1..=n {
                let f = k as f64 / n as f64;
                let p = Coord {
                    x: a.x + (b.x - a.x) * f,
                    y: a.y + (b.y - a.y) * f,
                };
                s.push(Sample {
                    p: if k == n { b } else { p },
                    ds: len / n as f64,
                    kind,
                    rate,
                    ground: ground_at(p)?,
                    vertex: (k == n).then_some(i + 1),
                });
            }
        }
        // The lowest path at least `h` above ground that climbs and descends no steeper than
        // the vehicle can at each leg's speed: a forward pass bounds descents, a backward pass
        // climbs early enough before rising ground.
        let mut z: Vec<f64> = s.iter().map(|x| x.ground + h).collect();
        for k in 1..s.len() {
            let lim = z[k - 1] - dn / speed(s[k].kind) * s[k].ds;
            z[k] = z[k].max(lim);
        }
        for k in (0..s.len() - 1).rev() {
            let lim = z[k + 1] - up / speed(s[k + 1].kind) * s[k + 1].ds;
            z[k] = z[k].max(lim);
        }
        // What the autopilot interpolates between items: altitude, or height above terrain.
        let v: Vec<f64> = match config.frame {
            AltitudeFrame::Terrain => z.iter().zip(&s).map(|(z, x)| z - x.ground).collect(),
            _ => z.clone(),
        };
        let mut keep = vec![false; s.len()];
        // A landing item is flown to at the previous item's altitude before it descends
        // (Copter `ModeAuto::land_start`), so the last sample before it is always kept: that
        // level hop is at most one sample step long.
        if s.len() >= 3 {
            keep[s.len() - 2] = true;
        }
        let vertices: Vec<usize> = (0..s.len()).filter(|&k| s[k].vertex.is_some()).collect();
        for w in vertices.windows(2) {
            keep[w[0]] = true;
            keep[w[1]] = true;
            simplify(&v, &s, w[0], w[1], tol, &mut keep);
        }
        // The flown profile, checked sample by sample.
        let kept: Vec<usize> = (0..s.len()).filter(|&k| keep[k]).collect();
        for w in kept.windows(2) {
            let (a, b) = (w[0], w[1]);
            let span: f64 = s[a + 1..=b].iter().map(|x| x.ds).sum();
            let mut d = 0.0;
            for (k, x) in s.iter().enumerate().take(b + 1).skip(a) {
                if k > a {
                    d += x.ds;
                }
                let f = if span > 0.0 { d / span } else { 0.0 };
                let flown_v = v[a] + (v[b] - v[a]) * f;
                let flown = match config.frame {
                    AltitudeFrame::Terrain => flown_v + x.ground,
                    _ => flown_v,
                };
                let agl = flown - x.ground;
                if agl > report.max_agl_m {
                    report.max_agl_m = agl;
                }
                report.min_agl_m = report.min_agl_m.min(agl);
                if agl > config.agl_limit.get() {
                    let g = plan.frame.to_wgs84(x.p);
                    return Err(PlanError::AboveLegalHeight {
                        field_id: plan.field_id.clone(),
                        agl_m: agl,
                        limit_m: config.agl_limit.get(),
                        lat: g.y,
                        lon: g.x,
                    });
                }
            }
        }
        for (k, x) in s.iter().enumerate() {
            report.ground_min_m = report.ground_min_m.min(x.ground);
            report.ground_max_m = report.ground_max_m.max(x.ground);
            let raise = z[k] - x.ground - h;
            report.max_raise_m = report.max_raise_m.max(raise);
            if k > 0 {
                if raise > tol {
                    report.raised_m += x.ds;
                    if x.kind == SegmentKind::Spray {
                        report.raised_spray_m += x.ds;
                    }
                }
                if x.ds > 0.0 {
                    let slope = ((x.ground - s[k - 1].ground) / x.ds)
                        .atan()
                        .to_degrees()
                        .abs();
                    report.steepest_ground_deg = report.steepest_ground_deg.max(slope);
                }
            }
        }
        // The new track: the kept samples, each inserted one on its segment.
        let mut track = Track {
            points: Vec::with_capacity(kept.len()),
            kinds: Vec::with_capacity(kept.len()),
            rates: Vec::with_capacity(kept.len()),
        };
        let mut pa = Vec::with_capacity(kept.len());
        for (n, &k) in kept.iter().enumerate() {
            track.points.push(s[k].p);
            if n > 0 {
                track.kinds.push(s[k].kind);
                track.rates.push(s[k].rate);
            }
            if s[k].vertex.is_none() {
                report.inserted_points += 1;
            }
            pa.push(PointAlt {
                ground_amsl: s[k].ground,
                alt_amsl: z[k],
            });
        }
        out.sorties[si].track = track;
        alts.push(pa);
    }
    if !report.ground_min_m.is_finite() {
        report.ground_min_m = home_ground;
        report.ground_max_m = home_ground;
        report.min_agl_m = h;
    }
    out.terrain = Some(TerrainProfile {
        frame: config.frame,
        home_ground_m: home_ground,
        sorties: alts,
        report,
    });
    if report_outside(&out) {
        return Err(PlanError::PathOutsideFence {
            field_id: plan.field_id.clone(),
            outside_m: out.length_outside(&out.allowed),
            margin_m: plan.fence.margin_m,
        });
    }
    Ok(out)
}

fn report_outside(p: &Plan) -> bool {
    p.length_outside(&p.allowed) > 0.0
}

/// Douglas–Peucker on the profile `v` between kept samples `a` and `b` (by distance along the
/// path): marks the samples to keep so that linear interpolation stays within `tol`.
fn simplify(v: &[f64], s: &[Sample], a: usize, b: usize, tol: f64, keep: &mut [bool]) {
    let mut stack = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let span: f64 = s[a + 1..=b].iter().map(|x| x.ds).sum();
        let (mut worst, mut at, mut d) = (0.0, a, 0.0);
        for k in a + 1..b {
            d += s[k].ds;
            let f = if span > 0.0 { d / span } else { 0.0 };
            let e = (v[k] - (v[a] + (v[b] - v[a]) * f)).abs();
            if e > worst {
                worst = e;
                at = k;
            }
        }
        if worst > tol {
            keep[at] = true;
            stack.push((a, at));
            stack.push((at, b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terrain::dem::{DemCrs, DemLimits};
    use crate::terrain::{geotiff_tests, gml_tests, png_tests};
    use crate::{PlanConfig, SwathWidth, plan, read_fields, to_waypoints};
    use proptest::prelude::*;

    const LON0: f64 = 139.9;
    const LAT0: f64 = 36.9;
    /// Metres per degree at LAT0 (east, north), close enough for building test DEMs.
    const M_LAT: f64 = 111_000.0;

    fn m_lon() -> f64 {
        M_LAT * LAT0.to_radians().cos()
    }

    /// A 120 m × 60 m paddy with its south-west corner at (LON0, LAT0).
    fn paddy() -> Plan {
        let (e, n) = (LON0 + 120.0 / m_lon(), LAT0 + 60.0 / M_LAT);
        let gj = format!(
            r#"{{"type":"Feature","properties":{{"id":"p"}},"geometry":{{"type":"Polygon",
            "coordinates":[[[{LON0},{LAT0}],[{e},{LAT0}],[{e},{n}],[{LON0},{n}],[{LON0},{LAT0}]]]}}}}"#
        );
        let fields = read_fields(gj.as_bytes()).unwrap();
        let f = fields.fields[0].as_ref().unwrap();
        plan(f, &PlanConfig::new(SwathWidth::new(5.0).unwrap())).unwrap()
    }

    /// A geographic grid of 1e-5° (about 1 m) around the paddy, heights `f(east_m, north_m)`.
    fn grid_dem(f: &dyn Fn(f64, f64) -> f64) -> Dem {
        let cell = 1e-5;
        let (w0, n0) = (LON0 - 30.0 / m_lon(), LAT0 + 90.0 / M_LAT);
        let (w, h) = (
            ((180.0 / m_lon()) / cell) as usize,
            ((120.0 / M_LAT) / cell) as usize,
        );
        let z = (0..h)
            .flat_map(|r| {
                (0..w).map(move |c| {
                    let lon = w0 + (c as f64 + 0.5) * cell;
                    let lat = n0 - (r as f64 + 0.5) * cell;
                    (lon, lat)
                })
            })
            .map(|(lon, lat)| f((lon - LON0) * m_lon(), (lat - LAT0) * M_LAT) as f32)
            .collect();
        Dem::from_grid(
            DemCrs::Geographic,
            (w0 + cell / 2.0, n0 - cell / 2.0),
            (cell, cell),
            (w, h),
            z,
            &DemLimits::default(),
        )
        .unwrap()
    }

    /// One flown sample: where, height above the model's ground, whether spraying.
    struct Flown {
        agl: f64,
        spray: bool,
        /// Distance to the nearest ground step of more than 1 m within the sampled leg.
        leg: usize,
    }

    /// Flies a `QGC WPL 110` mission the way ArduPilot does over `dem` and samples the height
    /// above ground every 0.1 m: altitude interpolated between positioned items in their
    /// frame (terrain: the height above terrain is interpolated and added to the ground under
    /// the vehicle), the landing leg at the previous item's altitude.
    fn fly(wpl: &str, dem: &Dem, home_ground: f64) -> (Vec<Flown>, f64) {
        let mut pts: Vec<(f64, f64, u8, f64, bool)> = Vec::new();
        let mut spray = false;
        let mut land_leg = 0.0_f64;
        for line in wpl.lines().skip(2) {
            let c: Vec<f64> = line.split('\t').map(|x| x.parse().unwrap()).collect();
            let (frame, command) = (c[2] as u8, c[3] as u16);
            match command {
                216 => spray = c[4] == 1.0,
                16 | 22 => pts.push((c[8], c[9], frame, c[10], spray)),
                21 => {
                    let (la, lo, ..) = *pts.last().unwrap();
                    land_leg = land_leg.max(((c[8] - la) * M_LAT).hypot((c[9] - lo) * m_lon()));
                    pts.push((c[8], c[9], 255, 0.0, false));
                }
                _ => {}
            }
        }
        let g = |lat: f64, lon: f64| dem.height_amsl(lat, lon).unwrap();
        // Each item's value in the quantity the autopilot interpolates.
        let mut out = Vec::new();
        for (i, w) in pts.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            if b.2 == 255 {
                break;
            }
            let len = ((b.0 - a.0) * M_LAT).hypot((b.1 - a.1) * m_lon());
            let n = ((len / 0.1).ceil() as usize).max(1);
            for k in 0..=n {
                let f = k as f64 / n as f64;
                let (lat, lon) = (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f);
                let ground = g(lat, lon);
                // Take-off climbs in the relative frame; both ends of a leg share a frame
                // otherwise.
                let to_amsl = |p: (f64, f64, u8, f64, bool)| match p.2 {
                    3 => p.3 + home_ground,
                    0 => p.3,
                    _ => p.3 + g(p.0, p.1),
                };
                let amsl = if b.2 == 10 && a.2 == 10 {
                    ground + a.3 + (b.3 - a.3) * f
                } else {
                    to_amsl(a) + (to_amsl(b) - to_amsl(a)) * f
                };
                out.push(Flown {
                    agl: amsl - ground,
                    spray: b.4 && a.4,
                    leg: i,
                });
            }
        }
        (out, land_leg)
    }

    fn check_within(p: &Plan, dem: &Dem, tol: f64, slack: f64) {
        let t = p.terrain.as_ref().unwrap();
        let wpl = to_waypoints(p, crate::Autopilot::ArduPilot, None);
        let (flown, land_leg) = fly(&wpl, dem, t.home_ground_m);
        assert!(
            land_leg <= 1.0 + 1e-6,
            "level hop before landing {land_leg} m"
        );
        // The take-off leg (to the first waypoint) climbs from the take-off height: skip it.
        for f in flown.iter().filter(|f| f.leg > 0) {
            assert!(
                (f.agl - p.height_m).abs() <= tol + slack,
                "flown {:.3} m above ground (spray {}) on leg {}, want {} ± {tol}",
                f.agl,
                f.spray,
                f.leg,
                p.height_m
            );
        }
    }

    #[test]
    fn a_slope_is_followed_in_every_frame_and_format() {
        // 0.15 m/m rising east, plus 0.05 m/m north: gentler than the climb limits.
        let slope = |e: f64, n: f64| 200.0 + 0.15 * e + 0.05 * n;
        let base = paddy();
        let grid = grid_dem(&slope);
        // GeoTIFF of 2e-5° cells, GSI GML of 2e-5° cells, GSI PNG tiles at zoom 17.
        let cell = 2e-5;
        let (w0, n0) = (LON0 - 30.0 / m_lon(), LAT0 + 90.0 / M_LAT);
        let (w, h) = (
            ((180.0 / m_lon()) / cell) as usize,
            ((120.0 / M_LAT) / cell) as usize,
        );
        let z: Vec<f32> = (0..h)
            .flat_map(|r| (0..w).map(move |c| (r, c)))
            .map(|(r, c)| {
                let lon = w0 + (c as f64 + 0.5) * cell;
                let lat = n0 - (r as f64 + 0.5) * cell;
                slope((lon - LON0) * m_lon(), (lat - LAT0) * M_LAT) as f32
            })
            .collect();
        let tiff = geotiff_tests::geotiff(
            (w0, n0),
            cell,
            (w as u32, h as u32),
            &z,
            &geotiff_tests::geographic_keys(6668),
            None,
        );
        let gml = gml_tests::gsi_gml(
            (n0 - h as f64 * cell, w0, n0, w0 + w as f64 * cell),
            (w, h),
            (0, 0),
            &z.iter().map(|v| f64::from(*v)).collect::<Vec<_>>(),
        );
        let l = DemLimits::default();
        let mut dems = vec![
            ("grid", grid),
            ("geotiff", Dem::from_geotiff(&tiff, &l).unwrap()),
            ("gml", Dem::from_gsi_gml(gml.as_bytes(), &l).unwrap()),
        ];
        dems.push(("png", png_dem(&slope)));
        for (name, dem) in &dems {
            for frame in [
                AltitudeFrame::RelativeHome,
                AltitudeFrame::Amsl,
                AltitudeFrame::Terrain,
            ] {
                let cfg = TerrainConfig {
                    frame,
                    ..TerrainConfig::default()
                };
                let p = apply_terrain(&base, dem, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
                let r = &p.terrain.as_ref().unwrap().report;
                assert_eq!(r.raised_m, 0.0, "{name} {frame:?}");
                assert!(r.ground_max_m - r.ground_min_m > 15.0, "{name}: {r:?}");
                // PNG heights are whole centimetres, sampled in mercator: a little slack.
                check_within(&p, dem, 0.5, 0.05);
            }
        }
    }

    /// The GSI PNG tiles (zoom 17) that cover the paddy and its surroundings, merged.
    fn png_dem(f: &dyn Fn(f64, f64) -> f64) -> Dem {
        let z = 17u8;
        let n = f64::from(1u32 << z);
        let tile_of = |lat: f64, lon: f64| {
            let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
            let lr = lat.to_radians();
            let y = ((1.0 - (lr.tan() + 1.0 / lr.cos()).ln() / std::f64::consts::PI) / 2.0 * n)
                .floor() as u32;
            (x, y)
        };
        let (x0, y0) = tile_of(LAT0 + 90.0 / M_LAT, LON0 - 30.0 / m_lon());
        let (x1, y1) = tile_of(LAT0 - 30.0 / M_LAT, LON0 + 150.0 / m_lon());
        let l = DemLimits::default();
        let mut dem: Option<Dem> = None;
        for x in x0..=x1 {
            for y in y0..=y1 {
                let bytes = png_tests::gsi_png(|px, py| {
                    let (lat, lon) = png_tests::pixel_centre(z, x, y, px, py);
                    Some(f((lon - LON0) * m_lon(), (lat - LAT0) * M_LAT))
                });
                let t = Dem::from_gsi_png_tile(z, x, y, &bytes, &l).unwrap();
                dem = Some(match dem {
                    None => t,
                    Some(d) => d.merge(t, &l).unwrap(),
                });
            }
        }
        dem.unwrap()
    }

    #[test]
    fn a_terrace_step_is_climbed_before_it_not_into_it() {
        // A 10 m terrace step 30 m north of the paddy's south edge, over one metre.
        let terrace = |_e: f64, n: f64| if n < 30.0 { 120.0 } else { 130.0 };
        let base = paddy();
        let dem = grid_dem(&terrace);
        for frame in [
            AltitudeFrame::RelativeHome,
            AltitudeFrame::Amsl,
            AltitudeFrame::Terrain,
        ] {
            let cfg = TerrainConfig {
                frame,
                ..TerrainConfig::default()
            };
            let p = apply_terrain(&base, &dem, &cfg).unwrap();
            let t = p.terrain.as_ref().unwrap();
            let r = &t.report;
            assert!(r.inserted_points > 0);
            assert!(
                r.raised_spray_m > 0.0,
                "the step needs a climb before it: {r:?}"
            );
            assert!(r.max_raise_m > 5.0 && r.max_raise_m <= 10.0 + 1e-6, "{r:?}");
            let tol = cfg.tolerance.get();
            assert!(r.min_agl_m >= p.height_m - tol - 1e-6, "{r:?}");
            let wpl = to_waypoints(&p, crate::Autopilot::ArduPilot, None);
            let (flown, _) = fly(&wpl, &dem, t.home_ground_m);
            // Never lower than spray height (less the tolerance), never into the step.
            for f in flown.iter().filter(|f| f.leg > 0) {
                assert!(f.agl >= p.height_m - tol - 0.01, "{frame:?}: {:.2}", f.agl);
            }
            // No emitted leg climbs or descends steeper than the vehicle's limits.
            for (si, s) in p.sorties.iter().enumerate() {
                for (i, (a, b, kind)) in s.track.segments().enumerate() {
                    let len = (b.x - a.x).hypot(b.y - a.y);
                    let dz = t.sorties[si][i + 1].alt_amsl - t.sorties[si][i].alt_amsl;
                    let v = if kind.at_spray_speed() {
                        p.spray_speed
                    } else {
                        p.transit_speed
                    };
                    let lim = if dz > 0.0 { 2.5 } else { 1.5 } / v;
                    assert!(dz.abs() <= lim * len + 1e-6, "{dz} over {len} m ({kind:?})");
                }
            }
        }
    }

    #[test]
    fn missing_terrain_and_legal_height_are_refused() {
        let base = paddy();
        // Ground only south of the paddy's middle.
        let half = grid_dem(&|_e, n| if n < 30.0 { 100.0 } else { f64::NAN });
        let e = apply_terrain(&base, &half, &TerrainConfig::default()).unwrap_err();
        assert!(matches!(e, PlanError::TerrainMissing { .. }), "{e}");
        assert!(e.to_string().contains("標高データ"));
        // A 160 m cliff: climbing before it at 2.5 m/s over 5 m/s cannot keep under 150 m
        // above the foot of the cliff.
        let cliff = grid_dem(&|_e, n| if n < 30.0 { 100.0 } else { 260.0 });
        let e = apply_terrain(&base, &cliff, &TerrainConfig::default()).unwrap_err();
        assert!(matches!(e, PlanError::AboveLegalHeight { .. }), "{e}");
        assert!(e.to_string().contains("150"));
    }

    #[test]
    fn export_writes_the_frame_per_item() {
        let base = paddy();
        let dem = grid_dem(&|e, _n| 50.0 + 0.1 * e);
        let cfg = TerrainConfig {
            frame: AltitudeFrame::Terrain,
            ..TerrainConfig::default()
        };
        let p = apply_terrain(&base, &dem, &cfg).unwrap();
        let ap = crate::to_qgc_plan(&p, crate::Autopilot::ArduPilot, None);
        assert!(ap.contains("\"frame\": 10") && ap.contains("\"AltitudeMode\": 4"));
        // PX4 has no terrain frame in missions: AMSL instead.
        let px4 = to_waypoints(&p, crate::Autopilot::Px4Actuator, None);
        assert!(
            px4.lines()
                .any(|l| l.split('\t').nth(2) == Some("0") && l.split('\t').nth(3) == Some("16"))
        );
        assert!(!px4.lines().any(|l| l.split('\t').nth(2) == Some("10")));
        assert!(!AltitudeFrame::Terrain.supported_by(crate::Autopilot::Px4Actuator));
    }

    #[test]
    fn inserted_points_keep_their_segments_rate() {
        let mut base = paddy();
        // Alternate two rates over the spray segments, as a prescription would.
        for s in &mut base.sorties {
            for (i, (k, r)) in s
                .track
                .kinds
                .iter()
                .zip(s.track.rates.iter_mut())
                .enumerate()
            {
                *r = if *k == SegmentKind::Spray {
                    [60.0, 90.0][i % 2]
                } else {
                    0.0
                };
            }
        }
        let length_at = |p: &Plan, rate: f64| -> f64 {
            p.sorties
                .iter()
                .flat_map(|s| s.track.rated_segments().collect::<Vec<_>>())
                .filter(|(_, _, _, r)| *r == rate)
                .map(|(a, b, _, _)| (b.x - a.x).hypot(b.y - a.y))
                .sum()
        };
        let dem = grid_dem(&|_e, n| if n < 30.0 { 120.0 } else { 130.0 });
        let p = apply_terrain(&base, &dem, &TerrainConfig::default()).unwrap();
        assert!(p.terrain.as_ref().unwrap().report.inserted_points > 0);
        for s in &p.sorties {
            assert_eq!(s.track.rates.len(), s.track.kinds.len());
        }
        for rate in [0.0, 60.0, 90.0] {
            assert!(
                (length_at(&p, rate) - length_at(&base, rate)).abs() < 1e-6,
                "rate {rate}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]
        /// On rolling ground gentler than the climb limits, every flown point along every leg
        /// is within the tolerance of spray height above the ground.
        #[test]
        fn flown_height_stays_within_tolerance(
            amp in 0.0..3.0f64, wave in 15.0..60.0f64, gx in -0.15..0.15f64,
            tol in 0.2..1.5f64, frame in 0..3usize,
        ) {
            let ground = move |e: f64, n: f64| 80.0 + gx * e + amp * (e / wave).sin() * (n / wave).cos();
            let dem = grid_dem(&ground);
            let frame = [AltitudeFrame::RelativeHome, AltitudeFrame::Amsl, AltitudeFrame::Terrain][frame];
            let cfg = TerrainConfig { frame, tolerance: Metres::new(tol).unwrap(), ..TerrainConfig::default() };
            let p = apply_terrain(&paddy(), &dem, &cfg).unwrap();
            prop_assert_eq!(p.terrain.as_ref().unwrap().report.raised_m, 0.0);
            // Between the pass's samples (0.25 m apart) the ground may bend away from a
            // straight line by at most slope × step / 2.
            let slack = (gx.abs() + 2.0 * amp / wave) * 0.25 / 2.0 + 0.01;
            check_within(&p, &dem, tol, slack);
        }
    }
}
