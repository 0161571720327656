//! A prescription in local metres: clipped to the field, zones made disjoint, gaps filled, and
//! the cutting of a spray leg into pieces of one commanded rate.

use super::{GapPolicy, Prescription, PrescriptionError, RateUnit, ReadOptions, check_rate};
use crate::projection::LocalFrame;
use crate::region::Region;
use crate::route::{SegmentKind, Track};
use geo::{Area, BooleanOps, BoundingRect, Coord, MultiPolygon, Polygon, Rect};

/// One zone in local metres, inside the field and disjoint from the others.
#[derive(Debug, Clone)]
pub struct LocalZone {
    /// The zone's name (a gap zone is named `gap`).
    pub name: String,
    /// Target rate in the prescription's unit (0 = no spray).
    pub rate: f64,
    /// Target rate per hectare (L/ha or kg/ha).
    pub rate_per_ha: f64,
    /// The zone's part of the field, local metres.
    pub area: MultiPolygon,
    /// True for the zone that holds the field's area outside every prescribed zone.
    pub is_gap: bool,
    region: Region,
    bbox: Option<Rect>,
}

/// A prescription prepared for planning: zones that tile the field exactly.
#[derive(Debug, Clone)]
pub struct LocalRates {
    /// The prescription's unit.
    pub unit: RateUnit,
    /// The zones, prescribed ones first (in file order) and the gap last, if any area is left.
    pub zones: Vec<LocalZone>,
    gap_per_ha: f64,
}

/// One piece of a cut spray leg: it ends at `to` and is flown at one commanded rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatePiece {
    /// Where the piece ends, local metres (it starts where the previous one ended).
    pub to: Coord,
    /// Commanded rate per hectare.
    pub rate_per_ha: f64,
    /// The zone whose rate it is (an index into [`LocalRates::zones`]).
    pub zone: usize,
}

/// Area below which a clipped zone piece is dropped as a numerical sliver, m².
const MIN_PIECE_M2: f64 = 1e-4;

fn clean(mp: MultiPolygon) -> MultiPolygon {
    MultiPolygon(
        mp.0.into_iter()
            .filter(|p| p.unsigned_area() > MIN_PIECE_M2)
            .collect(),
    )
}

impl LocalRates {
    /// The prescription in `frame`, clipped to `field` (local metres); where zones overlap, the
    /// earlier wins; the rest of the field becomes a gap zone at the policy's rate (0 for no
    /// spray).
    ///
    /// # Errors
    /// [`PrescriptionError::NoOverlap`] when no zone reaches into the field,
    /// [`PrescriptionError::BadRate`] for a default rate out of range.
    pub fn new(
        rx: &Prescription,
        gap: GapPolicy,
        frame: &LocalFrame,
        field: &Polygon,
    ) -> Result<Self, PrescriptionError> {
        let per_ha = rx.unit.per_ha();
        let gap_rate = match gap {
            GapPolicy::Default(r) => check_rate("gap", r, &ReadOptions::new(None, rx.unit))?,
            GapPolicy::NoSpray => 0.0,
        };
        let mut left = MultiPolygon(vec![field.clone()]);
        let mut zones = Vec::new();
        for z in &rx.zones {
            if left.0.is_empty() {
                break;
            }
            let local = MultiPolygon(z.area.0.iter().map(|p| frame.polygon_to_local(p)).collect());
            let part = clean(left.intersection(&local));
            if part.0.is_empty() {
                continue;
            }
            left = clean(left.difference(&part));
            zones.push(LocalZone::new(
                z.name.clone(),
                z.rate,
                z.rate * per_ha,
                part,
                false,
            ));
        }
        if zones.is_empty() {
            return Err(PrescriptionError::NoOverlap);
        }
        if !left.0.is_empty() {
            zones.push(LocalZone::new(
                "gap".into(),
                gap_rate,
                gap_rate * per_ha,
                left,
                true,
            ));
        }
        Ok(Self {
            unit: rx.unit,
            zones,
            gap_per_ha: gap_rate * per_ha,
        })
    }

    /// The zone holding `p` (the first, on a shared border), if any.
    pub fn zone_at(&self, p: Coord) -> Option<usize> {
        self.zones.iter().position(|z| {
            z.bbox.is_some_and(|b| {
                p.x >= b.min().x - 1e-6
                    && p.x <= b.max().x + 1e-6
                    && p.y >= b.min().y - 1e-6
                    && p.y <= b.max().y + 1e-6
            }) && z.region.contains(p)
        })
    }

    /// The target rate per hectare at `p` (the gap's outside every zone).
    pub fn rate_at(&self, p: Coord) -> f64 {
        self.zone_at(p)
            .map_or(self.gap_per_ha, |i| self.zones[i].rate_per_ha)
    }

    /// The leg `a → b` cut where the target rate changes, each change moved `lead` metres
    /// earlier along the leg (the pump and nozzle lag at spray speed), so the new dose lands at
    /// the border; a change less than `lead` after the start is commanded at the start.
    /// Pieces tile the leg: the first starts at `a`, the last ends at `b`.
    pub fn cut(&self, a: Coord, b: Coord, lead: f64) -> Vec<RatePiece> {
        let len = (b.x - a.x).hypot(b.y - a.y);
        let at = |t: f64| Coord {
            x: a.x + t * (b.x - a.x),
            y: a.y + t * (b.y - a.y),
        };
        let piece = |t: f64| {
            let m = at(t);
            match self.zone_at(m) {
                Some(i) => (self.zones[i].rate_per_ha, i),
                None => (self.gap_per_ha, self.zones.len() - 1),
            }
        };
        if len < 1e-9 {
            let (rate_per_ha, zone) = piece(0.0);
            return vec![RatePiece {
                to: b,
                rate_per_ha,
                zone,
            }];
        }
        let seg = Rect::new(a, b);
        let mut ts = vec![0.0, 1.0];
        for z in &self.zones {
            if z.bbox.is_none_or(|r| !overlaps(r, seg)) {
                continue;
            }
            for ring in z.region.rings() {
                for i in 0..ring.len() {
                    if let Some(t) = crossing(a, b, ring[i], ring[(i + 1) % ring.len()]) {
                        ts.push(t);
                    }
                }
            }
        }
        ts.sort_by(f64::total_cmp);
        ts.dedup_by(|x, y| (*x - *y) * len < 1e-6);
        if let Some(last) = ts.last_mut() {
            *last = 1.0;
        }
        // Intervals of one rate, each as (end t, rate, zone).
        let mut runs: Vec<(f64, f64, usize)> = Vec::new();
        for w in ts.windows(2) {
            let (rate, zone) = piece((w[0] + w[1]) / 2.0);
            match runs.last_mut() {
                Some(r) if r.1 == rate => r.0 = w[1],
                _ => runs.push((w[1], rate, zone)),
            }
        }
        // Each change (the end of every run but the last) moves `lead` earlier.
        let shift = lead / len;
        let mut out = Vec::with_capacity(runs.len());
        let mut prev = 0.0f64;
        let n = runs.len();
        for (k, &(t_end, rate, zone)) in runs.iter().enumerate() {
            let end = if k + 1 == n {
                1.0
            } else {
                (t_end - shift).clamp(prev, 1.0)
            };
            if (end - prev) * len < 1e-3 && k + 1 < n {
                continue;
            }
            out.push(RatePiece {
                to: if k + 1 == n { b } else { at(end) },
                rate_per_ha: rate,
                zone,
            });
            prev = end;
        }
        // A last piece under a millimetre would be dropped from a track: the one before ends at b.
        if out.len() >= 2 {
            let before = out[out.len() - 2].to;
            if (before.x - b.x).hypot(before.y - b.y) < 1e-3 {
                out.pop();
                if let Some(last) = out.last_mut() {
                    last.to = b;
                }
            }
        }
        out
    }
}

impl LocalZone {
    fn new(name: String, rate: f64, rate_per_ha: f64, area: MultiPolygon, is_gap: bool) -> Self {
        Self {
            name,
            rate,
            rate_per_ha,
            region: Region::new(&area),
            bbox: area.bounding_rect(),
            area,
            is_gap,
        }
    }
}

fn overlaps(r: Rect, s: Rect) -> bool {
    r.min().x <= s.max().x + 1e-6
        && s.min().x <= r.max().x + 1e-6
        && r.min().y <= s.max().y + 1e-6
        && s.min().y <= r.max().y + 1e-6
}

/// Where `a → b` crosses `p → q`, as the fraction along `a → b` (strictly inside).
fn crossing(a: Coord, b: Coord, p: Coord, q: Coord) -> Option<f64> {
    let r = b - a;
    let s = q - p;
    let den = r.x * s.y - r.y * s.x;
    if den.abs() < 1e-12 {
        return None;
    }
    let ap = p - a;
    let t = (ap.x * s.y - ap.y * s.x) / den;
    let u = (ap.x * r.y - ap.y * r.x) / den;
    (t > 0.0 && t < 1.0 && (-1e-12..=1.0 + 1e-12).contains(&u)).then_some(t)
}

/// The route with every spray segment at its commanded rate: cut into pieces by `rates` (each
/// change `lead` metres early), or at the `uniform` rate per hectare without a prescription.
pub(crate) fn rate_track(
    route: &Track,
    rates: Option<&LocalRates>,
    uniform: f64,
    lead: f64,
) -> Track {
    let mut t = Track::starting_at(route.points[0]);
    for (a, b, kind) in route.segments() {
        match (kind, rates) {
            (SegmentKind::Spray, Some(r)) => {
                for p in r.cut(a, b, lead) {
                    t.go_at(p.to, kind, p.rate_per_ha);
                }
            }
            (SegmentKind::Spray, None) => t.go_at(b, kind, uniform),
            _ => t.go(b, kind),
        }
    }
    t
}
