//! The pipeline: field → sprayable area → headland → swaths → cells → route → sorties → report.

use crate::config::PlanConfig;
use crate::coverage;
use crate::decompose::decompose;
use crate::error::PlanError;
use crate::export::{emitted_paths, pump_flow_l_min};
use crate::fence::{self, Fence, FenceFit};
use crate::field::Field;
use crate::headland;
use crate::prescription::{LocalRates, rate_track};
use crate::projection::LocalFrame;
use crate::region::Region;
use crate::route::nearest::NearestNeighbour;
use crate::route::transit::Router;
use crate::route::{Element, SegmentKind, SwathOrder, Track, build_track};
use crate::sortie::{self, Base, Sortie, SortieError, SortieModel};
use crate::sprayable::{self, Margins};
use crate::swath::best_angle::{best_swaths, swaths_at};
use crate::swath::objective::FlightTime;
use geo::{Area, BooleanOps, Coord, MultiPolygon, Orient, Polygon, orient::Direction};
use serde::Serialize;
use std::time::Instant;

/// The figures of a plan; `--json` prints one per field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    /// The field's id.
    pub field_id: String,
    /// The field's land type, if known.
    pub land_type: Option<String>,
    /// Field area, hectares.
    pub area_ha: f64,
    /// Sprayable area a spray disc can reach (field − margin − zones − buffers, opened by half a swath), ha.
    pub sprayable_ha: f64,
    /// Area inside the margins that no spray disc can reach without spraying outside (slivers, sharp corners), ha.
    pub unreachable_ha: f64,
    /// Sprayable area in parts of the field joined to the planned part only through necks
    /// narrower than twice the fence margin: not flown by this plan (plan them with a refill
    /// point inside them), ha. Included in `unreachable_ha`.
    pub cut_off_ha: f64,
    /// A refill point inside each cut-off part, `[lat, lon]`: plan again with it as the refill
    /// point to spray that part.
    pub cut_off_refills: Vec<[f64; 2]>,
    /// Interior spray legs.
    pub n_swaths: usize,
    /// Boustrophedon cells.
    pub n_cells: usize,
    /// Headland rings flown (all passes, outer boundary and holes).
    pub n_headland_rings: usize,
    /// Swath heading, degrees clockwise from north (0–180).
    pub heading_deg: f64,
    /// Length flown with the spray on, metres.
    pub spray_length_m: f64,
    /// Total horizontal path of all sorties, metres.
    pub path_length_m: f64,
    /// Coverage route alone (no refill trips), metres.
    pub route_length_m: f64,
    /// Stop-and-turns (heading changes above 20°).
    pub turns: usize,
    /// Total flight time of all sorties, seconds.
    pub flight_time_s: f64,
    /// Liquid the label asks for: rate × sprayable area, litres (with a prescription: the sum
    /// of [`zones`](Self::zones)' amounts; kilograms for granules).
    pub litres: f64,
    /// Liquid the pump delivers at the set rate along the spray path (includes overlaps), litres.
    pub litres_pumped: f64,
    /// Number of sorties.
    pub sorties: usize,
    /// Sprayed ∩ sprayable / sprayable.
    pub coverage: f64,
    /// Sprayed ∩ (field − margin − zones − buffers) / the same, before the opening.
    pub coverage_raw: f64,
    /// Length of the emitted mission path (every sortie, every segment kind, as the mission file
    /// has it) outside the allowed region: closer than the fence margin to the geofence or
    /// beyond it, metres. [`plan`] refuses a plan where this is not 0.
    pub outside_m: f64,
    /// Length of the emitted mission path outside the field polygon itself (the hop through the
    /// launch corridor to a refill point outside the field), metres.
    pub outside_field_m: f64,
    /// Vertices of the fence the mission files carry (after fitting `fence_points`).
    pub fence_points: usize,
    /// Vertices of the full fence built from the field, before any fitting.
    pub fence_points_full: usize,
    /// How far the fitted fence may lie beyond the real boundary or zones, metres (0 when the
    /// full fence fits; see [`FenceFit::max_shift_m`](crate::FenceFit::max_shift_m)).
    pub fence_shift_m: f64,
    /// Exclusion zones left out of the uploaded fence to fit the vehicle (the mission still
    /// keeps the margin from them).
    pub fence_exclusions_dropped: usize,
    /// Path length inside exclusion zones, metres.
    pub exclusion_m: f64,
    /// Length of ferry hops between the field and a refill point outside it, metres.
    pub ferry_m: f64,
    /// Time `plan` took, milliseconds.
    pub plan_ms: f64,
    /// How `plan_ms` divides into the planning stages.
    pub stage_ms: StageMs,
    /// The prescription's unit (`L/10a`, `L/ha`, `kg/10a`); `None` without a prescription.
    pub rate_unit: Option<String>,
    /// Per prescription zone (the gap last), its sprayable area and amounts; empty without a
    /// prescription.
    pub zones: Vec<ZoneReport>,
}

/// Where a plan's time went, milliseconds per stage (they add up to about `plan_ms`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageMs {
    /// Projection, sprayable area, reachable parts, refill point, fence polygons and router.
    pub sprayable: f64,
    /// Headland rings and the swath heading search.
    pub heading: f64,
    /// Decomposition into cells and the route through them.
    pub route: f64,
    /// Prescription rates along the route and the sortie split.
    pub sorties: f64,
    /// The coverage check (swath footprints against the sprayable area) and the report.
    pub coverage: f64,
    /// The exact fence check on the emitted positions, and fitting the fence to the budget.
    pub fence: f64,
}

/// One prescription zone in a [`PlanReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneReport {
    /// The zone's name (`gap` for the field outside every zone).
    pub name: String,
    /// Target rate in the prescription's unit.
    pub rate: f64,
    /// The zone's part of the sprayable area, hectares.
    pub sprayable_ha: f64,
    /// What the prescription asks for there: rate × sprayable area, litres (kg for granules).
    pub litres: f64,
    /// What the pump delivers at the zone's rate along the spray path (overlaps included;
    /// each piece counted for the zone whose border its rate change led), litres (kg).
    pub litres_pumped: f64,
}

impl PlanReport {
    /// The per-zone table of a plan with a prescription (empty without one): name, rate,
    /// sprayable area, asked and pumped amounts, and the totals.
    pub fn zone_table(&self) -> String {
        use std::fmt::Write;
        let Some(unit) = &self.rate_unit else {
            return String::new();
        };
        let amount = if unit.starts_with("kg") { "kg" } else { "L" };
        let mut out = format!(
            "{:<24} {:>10} {:>9} {:>10} {:>10}\n",
            "zone",
            format!("rate {unit}"),
            "spray ha",
            format!("asked {amount}"),
            format!("pumped {amount}")
        );
        for z in &self.zones {
            let _ = writeln!(
                out,
                "{:<24} {:>10.3} {:>9.4} {:>10.2} {:>10.2}",
                z.name, z.rate, z.sprayable_ha, z.litres, z.litres_pumped
            );
        }
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:>9.4} {:>10.2} {:>10.2}",
            "total",
            "",
            self.zones.iter().map(|z| z.sprayable_ha).sum::<f64>(),
            self.litres,
            self.litres_pumped
        );
        out
    }
}

impl PlanReport {
    /// The header line of the one-line-per-field table that [`PlanReport::table_row`] fills.
    pub fn table_header() -> String {
        format!(
            "{:<28} {:>8} {:>8} {:>6} {:>9} {:>8} {:>7} {:>3} {:>8} {:>5} {:>7}",
            "field",
            "area ha",
            "spray ha",
            "swaths",
            "path m",
            "time s",
            "litres",
            "sor",
            "coverage",
            "out m",
            "plan ms"
        )
    }

    /// This report as one line of the table headed by [`PlanReport::table_header`].
    pub fn table_row(&self) -> String {
        format!(
            "{:<28} {:>8.3} {:>8.3} {:>6} {:>9.0} {:>8.0} {:>7.1} {:>3} {:>8.4} {:>5.1} {:>7.2}",
            self.field_id,
            self.area_ha,
            self.sprayable_ha,
            self.n_swaths,
            self.path_length_m,
            self.flight_time_s,
            self.litres,
            self.sorties,
            self.coverage,
            self.outside_m,
            self.plan_ms
        )
    }
}

/// A planned field: geometry in local metres, the sorties, and the report.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The field's id.
    pub field_id: String,
    /// The local frame all geometry below is in.
    pub frame: LocalFrame,
    /// The field boundary, local metres.
    pub field: Polygon,
    /// Exclusion zones, local metres.
    pub exclusions: Vec<Polygon>,
    /// Sensitive zones, local metres.
    pub sensitive: Vec<Polygon>,
    /// The sprayable area coverage is measured against, local metres.
    pub sprayable: MultiPolygon,
    /// The geofence the mission files carry, local metres: built from the field (and the launch
    /// corridor), fitted into [`PlanConfig::fence_points`].
    pub fence: Fence,
    /// How the fence was fitted into the point budget (`None`: it fitted as built, or no
    /// budget was set); tell the pilot before upload.
    pub fence_fit: Option<FenceFit>,
    /// Where every leg lies: the fence's inside minus its margin, local metres.
    pub allowed: MultiPolygon,
    /// The refill / take-off / landing point, local metres.
    pub refill: Coord,
    /// Spray height above ground, metres.
    pub height_m: f64,
    /// Spray speed, m/s.
    pub spray_speed: f64,
    /// Transit speed, m/s.
    pub transit_speed: f64,
    /// Swath width, metres.
    pub swath_width_m: f64,
    /// The pump's flow at full command, L/min, if known: the mission then commands each
    /// segment's rate as a fraction of it.
    pub pump_full_flow_l_min: Option<f64>,
    /// The sorties in flight order.
    pub sorties: Vec<Sortie>,
    /// The prescription in local metres (zones clipped to the field), if the plan has one.
    pub prescription: Option<LocalRates>,
    /// Altitudes over the ground of an elevation model, once
    /// [`apply_terrain`](crate::apply_terrain) has run; `None`: every item at
    /// [`Plan::height_m`] relative to home.
    pub terrain: Option<crate::terrain::TerrainProfile>,
    /// The figures.
    pub report: PlanReport,
}

impl Plan {
    /// The horizontal path each sortie's mission flies, local metres: the positions of its
    /// positioned items exactly as the mission files write them (degrees rounded to 1e-8), in
    /// item order; take-off and landing are vertical at their item's position.
    pub fn emitted_paths(&self) -> Vec<Vec<Coord>> {
        emitted_paths(self)
    }

    /// Length of [`Plan::emitted_paths`] (every sortie, every segment kind) outside `region`
    /// (its boundary counts as inside), metres: with [`Plan::allowed`] this is the report's
    /// `outside_m`.
    pub fn length_outside(&self, region: &MultiPolygon) -> f64 {
        coverage::path_length_outside(&self.emitted_paths(), &Region::new(region))
    }
}

/// Per zone: its sprayable area, the amount asked (rate × area) and the amount pumped along
/// the sorties' spray segments. A piece counts for the zone `lead` metres past its midpoint
/// (clamped to the piece's end): the zone whose border its rate change led.
fn zone_reports(
    rates: &LocalRates,
    sprayable: &MultiPolygon,
    sorties: &[Sortie],
    width: f64,
    lead: f64,
) -> Vec<ZoneReport> {
    let mut pumped = vec![0.0; rates.zones.len()];
    for s in sorties {
        for (a, b, kind, rate) in s.track.rated_segments() {
            if kind != SegmentKind::Spray || rate <= 0.0 {
                continue;
            }
            let len = (b.x - a.x).hypot(b.y - a.y);
            let t = (0.5 + lead / len.max(1e-9)).min(1.0);
            let p = Coord {
                x: a.x + t * (b.x - a.x),
                y: a.y + t * (b.y - a.y),
            };
            let z = rates
                .zone_at(p)
                .filter(|&i| rates.zones[i].rate_per_ha == rate)
                .or_else(|| rates.zones.iter().position(|z| z.rate_per_ha == rate));
            if let Some(i) = z {
                pumped[i] += rate / 10_000.0 * width * len;
            }
        }
    }
    rates
        .zones
        .iter()
        .zip(pumped)
        .map(|(z, litres_pumped)| {
            let m2 = z.area.intersection(sprayable).unsigned_area();
            ZoneReport {
                name: z.name.clone(),
                rate: z.rate,
                sprayable_ha: m2 / 10_000.0,
                litres: z.rate_per_ha / 10_000.0 * m2,
                litres_pumped,
            }
        })
        .collect()
}

/// Clearance the default refill point keeps from the edge of the flyable area, metres: on the
/// edge it would sit on the geofence, where an autopilot may refuse to arm.
pub const REFILL_CLEARANCE_M: f64 = 2.0;

/// The default refill point: just inside the field's corner nearest the south-west corner of its
/// bounding box, at [`REFILL_CLEARANCE_M`] inside the planning region (which keeps the fence
/// margin from the field edge) when the corner allows; the next nearest corner otherwise.
fn default_refill(field: &Polygon, transit: &Region) -> Option<Coord> {
    let (mut min_x, mut min_y) = (f64::MAX, f64::MAX);
    for c in field.exterior().coords() {
        min_x = min_x.min(c.x);
        min_y = min_y.min(c.y);
    }
    let ring: Vec<Coord> = field.exterior().coords().copied().collect();
    // The exterior is closed: the last point repeats the first.
    let n = ring.len().saturating_sub(1);
    let mut corners: Vec<usize> = (0..n).collect();
    corners.sort_by(|&a, &b| {
        (ring[a].x - min_x)
            .hypot(ring[a].y - min_y)
            .total_cmp(&(ring[b].x - min_x).hypot(ring[b].y - min_y))
    });
    corners
        .into_iter()
        .find_map(|i| inset_corner(ring[i], ring[(i + n - 1) % n], ring[(i + 1) % n], transit))
}

/// A point of `region` with [`REFILL_CLEARANCE_M`] from its edge on one of the axis directions
/// from `c`, within 30 m (for parts whose corners are not the field's).
fn inset_any(c: Coord, region: &Region) -> Option<Coord> {
    let axes = [
        Coord { x: 1.0, y: 0.0 },
        Coord { x: 0.0, y: 1.0 },
        Coord { x: -1.0, y: 0.0 },
        Coord { x: 0.0, y: -1.0 },
    ];
    axes.iter().find_map(|&dir| {
        (1..=60).map(|k| c + dir * (0.5 * f64::from(k))).find(|&p| {
            region.contains(p)
                && region
                    .nearest_boundary_point(p)
                    .is_some_and(|q| (q.x - p.x).hypot(q.y - p.y) >= REFILL_CLEARANCE_M)
        })
    })
}

/// A point along the bisector of the corner `c` (edges to `prev` and `next`) that lies inside
/// `region` with [`REFILL_CLEARANCE_M`] from its edge, or the clearest such point within 30 m.
fn inset_corner(c: Coord, prev: Coord, next: Coord, region: &Region) -> Option<Coord> {
    let unit = |v: Coord| {
        let l = v.x.hypot(v.y);
        (l > 1e-9).then(|| Coord {
            x: v.x / l,
            y: v.y / l,
        })
    };
    let u = unit(prev - c)?;
    let v = unit(next - c)?;
    let bisector = unit(u + v).unwrap_or(Coord { x: -u.y, y: u.x });
    let mut best: Option<(f64, Coord)> = None;
    for dir in [bisector, -bisector] {
        for step in 1..=60 {
            let p = c + dir * (0.5 * f64::from(step));
            if !region.contains(p) {
                continue;
            }
            let Some(q) = region.nearest_boundary_point(p) else {
                continue;
            };
            let clearance = (q.x - p.x).hypot(q.y - p.y);
            if clearance >= REFILL_CLEARANCE_M {
                return Some(p);
            }
            if best.is_none_or(|(b, _)| clearance > b) {
                best = Some((clearance, p));
            }
        }
    }
    best.filter(|&(clearance, _)| clearance > 0.1)
        .map(|(_, p)| p)
}

/// Plans one field: sprayable area, headland, swaths at the best heading, cells, route, sorties.
///
/// # Errors
/// [`PlanError::InvalidValue`] for a bad configuration, [`PlanError::TooLarge`] for a field
/// above `max_field_ha`, [`PlanError::NothingToSpray`] when margins and zones leave nothing,
/// [`PlanError::NoRoute`] when parts of the field are cut off from each other or from the
/// refill point by exclusion zones, and [`PlanError::SortieInfeasible`] when the tank or
/// battery cannot make progress.
pub fn plan(field: &Field, config: &PlanConfig) -> Result<Plan, PlanError> {
    let t0 = Instant::now();
    config.check()?;
    let frame = LocalFrame::centred_on(&field.boundary);
    let local = frame.polygon_to_local(&field.boundary);
    let area_m2 = local.unsigned_area();
    if area_m2 / 10_000.0 > config.max_field_ha {
        return Err(PlanError::TooLarge {
            feature: field.source.clone(),
            area_ha: area_m2 / 10_000.0,
            limit_ha: config.max_field_ha,
        });
    }
    let exclusions: Vec<Polygon> = field
        .exclusions
        .iter()
        .map(|p| frame.polygon_to_local(p))
        .collect();
    let sensitive: Vec<Polygon> = field
        .sensitive
        .iter()
        .map(|p| frame.polygon_to_local(p))
        .collect();
    let w = config.swath_width.get();
    let margins = Margins {
        edge: config.edge_margin.get(),
        clearance: config.exclusion_clearance.get(),
        drift: config.drift_buffer.get(),
        fence: config.fence_margin.get(),
    };
    let mut areas = sprayable::areas(&local, &exclusions, &sensitive, margins, w);
    let nothing = || PlanError::NothingToSpray {
        field_id: field.id.clone(),
    };
    if areas.centre.0.is_empty() {
        return Err(nothing());
    }
    // Parts of the field joined to the rest only through a neck narrower than twice the margin
    // cannot be reached without coming closer to the fence than the margin: the plan covers
    // the largest part of the planning region, and the others are not part of its sprayable
    // area (the report's unreachable area grows by them).
    // A configured refill point inside one part picks that part (fly the others from a refill
    // point of their own).
    let field_transit = areas.transit.orient(Direction::Default);
    let split = field_transit.0.len() > 1;
    let configured = config.refill.map(|r| frame.to_local(r));
    let holds = |p: &Polygon, c: Coord| Region::new(&MultiPolygon(vec![p.clone()])).contains(c);
    let main = configured
        .filter(|_| split)
        .and_then(|c| field_transit.0.iter().find(|p| holds(p, c)))
        .or_else(|| {
            field_transit
                .0
                .iter()
                .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
        })
        .cloned()
        .ok_or_else(nothing)?;
    let main = MultiPolygon(vec![main]);
    let mut cut_off_m2 = 0.0;
    let mut cut_off_refills = Vec::new();
    if split {
        let before = areas.reachable.unsigned_area();
        // A refill point for each other part that has something to spray, to plan it on its own.
        for part in field_transit.0.iter().filter(|p| **p != main.0[0]) {
            let part = MultiPolygon(vec![part.clone()]);
            if areas.centre.intersection(&part).unsigned_area() < 1.0 {
                continue;
            }
            let region = Region::new(&part);
            let at = default_refill(&local, &region).or_else(|| {
                part.0[0]
                    .exterior()
                    .coords()
                    .find_map(|&c| inset_any(c, &region))
            });
            if let Some(c) = at {
                let g = frame.to_wgs84(c);
                cut_off_refills.push([g.y, g.x]);
            }
        }
        areas.centre = areas.centre.intersection(&main);
        areas.reachable = sprayable::reachable(&areas.centre, &areas.raw, w);
        cut_off_m2 = (before - areas.reachable.unsigned_area()).max(0.0);
        if areas.centre.0.is_empty() {
            return Err(nothing());
        }
    }
    let main_region = Region::new(&main);
    let refill = match configured {
        Some(r) => r,
        None => default_refill(&local, &main_region).ok_or_else(nothing)?,
    };
    // A refill point outside the allowed region gets a launch corridor in the fence (see
    // `fence`): the straight hop to the nearest point of the planning region.
    let (inclusion, allowed, transit, gate) = if main_region.contains(refill) {
        (local.clone(), areas.allowed.clone(), main, refill)
    } else {
        let gate = main_region
            .nearest_boundary_point(refill)
            .ok_or_else(nothing)?;
        let inclusion = fence::with_corridor(&local, refill, gate, margins.fence);
        let allowed =
            fence::allowed_region(&inclusion, &exclusions, margins.fence, margins.zone_keep());
        let transit =
            fence::planning_region(&inclusion, &exclusions, margins.fence, margins.zone_keep())
                .orient(Direction::Default);
        let transit = MultiPolygon(
            transit
                .0
                .into_iter()
                .filter(|p| Region::new(&MultiPolygon(vec![p.clone()])).contains(gate))
                .collect(),
        );
        (inclusion, allowed, transit, gate)
    };
    let router = Router::new(Region::new(&transit));
    let plan_fence = fence::build(&inclusion, &exclusions, margins.fence);
    config.on_time(&field.id, "sprayable area")?;
    let mut lap = Instant::now();
    let mut stage_ms = StageMs {
        sprayable: (lap - t0).as_secs_f64() * 1000.0,
        ..StageMs::default()
    };
    let mut split_time = || {
        let now = Instant::now();
        let ms = (now - lap).as_secs_f64() * 1000.0;
        lap = now;
        ms
    };
    let hl = headland::split(&areas.centre, w, config.headland_passes);
    let swaths = if hl.interior.0.is_empty() {
        swaths_at(&hl.swath_clip, &hl.interior, w, 0.0)
    } else if let Some(h) = config.heading_deg {
        swaths_at(
            &hl.swath_clip,
            &hl.interior,
            w,
            (90.0 - h).to_radians().rem_euclid(std::f64::consts::PI),
        )
    } else {
        let objective = FlightTime {
            spray_speed: config.spray_speed.get(),
            transit_speed: config.transit_speed.get(),
            turn_time: config.turn_time.get(),
        };
        best_swaths(&hl.swath_clip, &hl.interior, w, &objective)
    };
    config.on_time(&field.id, "swath heading")?;
    stage_ms.heading = split_time();
    let cells = decompose(&swaths);
    let mut elements: Vec<Element> = hl
        .rings
        .iter()
        .map(|r| Element::Ring(r.0.clone()))
        .collect();
    for c in &cells {
        elements.push(Element::Cell(
            c.legs.iter().map(|&(l, p)| swaths.leg_xy(l, p)).collect(),
        ));
    }
    if elements.is_empty() {
        return Err(nothing());
    }
    let no_route = |(a, b): (Coord, Coord)| PlanError::NoRoute {
        field_id: field.id.clone(),
        from_x: a.x,
        from_y: a.y,
        to_x: b.x,
        to_y: b.y,
    };
    let order = NearestNeighbour.order(gate, &elements);
    let run_up = config.spray_speed.get() * config.sprayer_lead.get();
    let route = build_track(gate, &elements, &order, &router, run_up).map_err(no_route)?;
    config.on_time(&field.id, "route")?;
    stage_ms.route = split_time();
    let rates = config
        .prescription
        .as_ref()
        .map(|vr| LocalRates::new(&vr.map, vr.gap, &frame, &local))
        .transpose()
        .map_err(|e| PlanError::Prescription {
            field_id: field.id.clone(),
            source: e,
        })?;
    let lead = config.spray_speed.get() * config.rate_lag.get();
    let route = rate_track(&route, rates.as_ref(), config.rate.l_per_ha(), lead);
    if let Some(full) = config.pump_full_flow_l_min {
        let top = route.rates.iter().copied().fold(0.0, f64::max);
        let v = config.spray_speed.get();
        if pump_flow_l_min(top, w, v) > full * (1.0 + 1e-9) {
            return Err(PlanError::InvalidValue {
                quantity: "application rate (L/ha)",
                value: top,
                expected: format!(
                    "at most {:.2} L/ha: the pump's {full} L/min at {v} m/s over {w} m",
                    full / 60.0 / v / w * 10_000.0
                ),
            });
        }
    }
    let model = SortieModel {
        width: w,
        tank_l: config.tank.get(),
        limit_s: config.endurance.get() * (1.0 - config.battery_reserve),
        spray_speed: config.spray_speed.get(),
        transit_speed: config.transit_speed.get(),
        turn_time: config.turn_time.get(),
        climb_time: config.height.get() / config.climb_speed.get(),
        resume_overlap: config.resume_overlap.get(),
        lead_m: run_up,
    };
    let base = Base {
        refill,
        gate,
        router: &router,
    };
    let sorties = sortie::split(&route, &base, &model).map_err(|e| match e {
        SortieError::NoRoute(a, b) => no_route((a, b)),
        SortieError::NoProgress(reason) => PlanError::SortieInfeasible {
            field_id: field.id.clone(),
            reason,
        },
    })?;

    config.on_time(&field.id, "sorties")?;
    stage_ms.sorties = split_time();
    let tracks = || sorties.iter().map(|s| &s.track);
    let foot = coverage::footprint(&coverage::spray_lines(tracks()), w);
    let exclusion_m = if exclusions.is_empty() {
        0.0
    } else {
        coverage::length_inside(tracks(), &Region::new(&MultiPolygon(exclusions.clone())))
    };
    let sprayable_m2 = areas.reachable.unsigned_area();
    let turns = tracks()
        .map(|t| {
            t.points
                .windows(3)
                .filter(|w| sortie::is_turn(w[0], w[1], w[2]))
                .count()
        })
        .sum();
    let zones = rates
        .as_ref()
        .map(|r| zone_reports(r, &areas.reachable, &sorties, w, lead))
        .unwrap_or_default();
    let mut report = PlanReport {
        field_id: field.id.clone(),
        land_type: field.land_type.clone(),
        area_ha: area_m2 / 10_000.0,
        sprayable_ha: sprayable_m2 / 10_000.0,
        unreachable_ha: (areas.raw.unsigned_area() - sprayable_m2).max(0.0) / 10_000.0,
        cut_off_ha: cut_off_m2 / 10_000.0,
        cut_off_refills,
        n_swaths: swaths.n_legs(),
        n_cells: cells.len(),
        n_headland_rings: hl.rings.len(),
        heading_deg: (90.0 - swaths.angle.to_degrees()).rem_euclid(180.0),
        spray_length_m: tracks().map(Track::sprayed_length).sum(),
        path_length_m: tracks().map(Track::length).sum(),
        route_length_m: route.length(),
        turns,
        flight_time_s: sorties.iter().map(|s| s.flight_time_s).sum(),
        litres: if rates.is_some() {
            zones.iter().map(|z| z.litres).sum()
        } else {
            config.rate.l_per_m2() * sprayable_m2
        },
        litres_pumped: sorties.iter().map(|s| s.litres).sum(),
        sorties: sorties.len(),
        coverage: coverage::coverage(&foot, &areas.reachable),
        coverage_raw: coverage::coverage(&foot, &areas.raw),
        outside_m: 0.0,
        outside_field_m: 0.0,
        fence_points: plan_fence.points(),
        fence_points_full: plan_fence.points(),
        fence_shift_m: 0.0,
        fence_exclusions_dropped: 0,
        exclusion_m,
        ferry_m: tracks()
            .map(|t| t.length_of(SegmentKind::Ferry))
            .fold(0.0, |a, b| a + b),
        plan_ms: 0.0,
        stage_ms,
        rate_unit: rates.as_ref().map(|r| r.unit.label().to_string()),
        zones,
    };
    report.stage_ms.coverage = split_time();
    let mut plan = Plan {
        field_id: field.id.clone(),
        frame,
        field: local,
        exclusions,
        sensitive,
        sprayable: areas.reachable,
        fence: plan_fence,
        fence_fit: None,
        allowed,
        refill,
        height_m: config.height.get(),
        spray_speed: config.spray_speed.get(),
        transit_speed: config.transit_speed.get(),
        swath_width_m: w,
        pump_full_flow_l_min: config.pump_full_flow_l_min,
        sorties,
        prescription: rates,
        terrain: None,
        report,
    };
    // The exact check, on what the mission file holds: every sortie's positioned items as
    // written (rounded degrees), back in local metres.
    plan.report.outside_m = plan.length_outside(&plan.allowed);
    plan.report.outside_field_m = plan.length_outside(&MultiPolygon(vec![plan.field.clone()]));
    if plan.report.outside_m > 0.0 {
        return Err(PlanError::PathOutsideFence {
            field_id: field.id.clone(),
            outside_m: plan.report.outside_m,
            margin_m: margins.fence,
        });
    }
    // A fence that cannot be fitted stays whole: the vehicle then says how much it stores.
    if let Some(budget) = config.fence_points
        && let Ok(fit) = fence::fit_fence(&plan, budget)
        && fit.changed()
    {
        plan.fence = fit.fence.clone();
        plan.report.fence_points = fit.points_after;
        plan.report.fence_shift_m = fit.max_shift_m;
        plan.report.fence_exclusions_dropped = fit.dropped_exclusions.len();
        plan.fence_fit = Some(fit);
    }
    plan.report.stage_ms.fence = split_time();
    plan.report.plan_ms = t0.elapsed().as_secs_f64() * 1000.0;
    Ok(plan)
}
