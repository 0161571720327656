//! Route: the order of headland rings and cells (a [`SwathOrder`] strategy), the boustrophedon
//! snake inside each cell, and transits that stay inside the field.

pub(crate) mod nearest;
pub(crate) mod transit;

use geo::Coord;
use transit::Router;

/// What the drone does on one segment of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// Spraying, at spray speed, inside the sprayable area.
    Spray,
    /// Spray off: turns, transits between cells, to and from the refill point, inside the field.
    Transit,
    /// Spray off: the straight hop between the field and a refill point outside it.
    Ferry,
    /// The straight run-up on a spray leg's own line just before it, flown at spray speed, so
    /// the drone starts the leg on line and at speed. ArduPilot's sprayer turns its pump on
    /// over it (it answers `DO_SPRAYER` only at its next 3 Hz update, see
    /// [`PlanConfig::sprayer_lead`](crate::PlanConfig)); every other pump is off on it.
    LeadIn,
}

impl SegmentKind {
    /// True for segments flown at spray speed and height: spray legs and their run-ups.
    pub fn at_spray_speed(self) -> bool {
        matches!(self, SegmentKind::Spray | SegmentKind::LeadIn)
    }
}

/// A flight path in local metres: points joined by segments of a kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Track {
    /// The points, in flight order.
    pub points: Vec<Coord>,
    /// `kinds[i]` is the kind of the segment from `points[i]` to `points[i + 1]`.
    pub kinds: Vec<SegmentKind>,
    /// `rates[i]` is the application rate commanded on segment `i`, per hectare (L/ha, or
    /// kg/ha for granules): above 0 on spray segments with the pump on, 0 elsewhere (a spray
    /// segment at 0 is flown at spray speed with the pump off, over a no-spray gap).
    pub rates: Vec<f64>,
}

impl Track {
    /// A track that starts at `p`.
    pub fn starting_at(p: Coord) -> Self {
        Self {
            points: vec![p],
            kinds: vec![],
            rates: vec![],
        }
    }

    /// The last point.
    pub fn end(&self) -> Coord {
        *self.points.last().expect("a track has a start")
    }

    /// Adds a segment to `to` with rate 0 (dropped when shorter than a millimetre).
    pub fn go(&mut self, to: Coord, kind: SegmentKind) {
        self.go_at(to, kind, 0.0);
    }

    /// Adds a segment to `to` flown at `rate_per_ha` (dropped when shorter than a millimetre).
    pub fn go_at(&mut self, to: Coord, kind: SegmentKind, rate_per_ha: f64) {
        let e = self.end();
        if (e.x - to.x).hypot(e.y - to.y) < 1e-3 {
            return;
        }
        self.points.push(to);
        self.kinds.push(kind);
        self.rates.push(rate_per_ha);
    }

    /// Segments as (from, to, kind, rate per hectare).
    pub fn rated_segments(&self) -> impl Iterator<Item = (Coord, Coord, SegmentKind, f64)> + '_ {
        self.segments()
            .zip(&self.rates)
            .map(|((a, b, k), &r)| (a, b, k, r))
    }

    /// Length flown with the pump on (spray segments at a rate above 0), metres.
    pub fn sprayed_length(&self) -> f64 {
        self.rated_segments()
            .filter(|s| s.2 == SegmentKind::Spray && s.3 > 0.0)
            .map(|(a, b, _, _)| (a.x - b.x).hypot(a.y - b.y))
            .sum()
    }

    /// Segments as (from, to, kind).
    pub fn segments(&self) -> impl Iterator<Item = (Coord, Coord, SegmentKind)> + '_ {
        self.points
            .windows(2)
            .zip(&self.kinds)
            .map(|(w, &k)| (w[0], w[1], k))
    }

    /// Total length in metres.
    pub fn length(&self) -> f64 {
        self.segments()
            .map(|(a, b, _)| (a.x - b.x).hypot(a.y - b.y))
            .sum()
    }

    /// Length of the segments of one kind, metres.
    pub fn length_of(&self, kind: SegmentKind) -> f64 {
        self.segments()
            .filter(|s| s.2 == kind)
            .map(|(a, b, _)| (a.x - b.x).hypot(a.y - b.y))
            .sum()
    }
}

/// Something to fly with the spray on: a closed headland ring or a boustrophedon cell.
#[derive(Debug, Clone)]
pub(crate) enum Element {
    /// A closed ring (first point == last point).
    Ring(Vec<Coord>),
    /// Legs on consecutive sweep lines, each as (start, end) along the sweep direction.
    Cell(Vec<(Coord, Coord)>),
}

/// Where an element is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A ring entered at this vertex.
    RingAt(usize),
    /// A cell entered from its first leg (or last, if `from_last`), at the leg's start (or end, if `at_end`).
    Cell { from_last: bool, at_end: bool },
}

impl Element {
    /// Every way in, with the entry point and the exit point.
    pub fn entries(&self) -> Vec<(Entry, Coord, Coord)> {
        match self {
            Element::Ring(r) => (0..r.len().saturating_sub(1))
                .map(|i| (Entry::RingAt(i), r[i], r[i]))
                .collect(),
            Element::Cell(legs) => {
                let mut out = Vec::with_capacity(4);
                for from_last in [false, true] {
                    for at_end in [false, true] {
                        let e = Entry::Cell { from_last, at_end };
                        let seq = self.cell_points(e);
                        out.push((e, seq[0], *seq.last().expect("cells have legs")));
                    }
                    if legs.len() == 1 {
                        break;
                    }
                }
                out
            }
        }
    }

    /// The cell's points in flight order for an entry: leg start, leg end, next leg start, ….
    fn cell_points(&self, e: Entry) -> Vec<Coord> {
        let (Element::Cell(legs), Entry::Cell { from_last, at_end }) = (self, e) else {
            return vec![];
        };
        let mut out = Vec::with_capacity(legs.len() * 2);
        let mut flip = at_end;
        let order: Box<dyn Iterator<Item = &(Coord, Coord)>> = if from_last {
            Box::new(legs.iter().rev())
        } else {
            Box::new(legs.iter())
        };
        for &(a, b) in order {
            if flip {
                out.extend([b, a]);
            } else {
                out.extend([a, b]);
            }
            flip = !flip;
        }
        out
    }
}

/// A strategy that orders the elements of a field.
pub(crate) trait SwathOrder {
    /// The visiting order, starting from `start`: element index and entry, each element once.
    fn order(&self, start: Coord, elements: &[Element]) -> Vec<(usize, Entry)>;
}

/// Flies `elements` in `order` from `start`: spray along rings and legs, routed transits between.
///
/// A ring entered at vertex `k` whose first edge is at least twice `ring_run_up` long is
/// entered `ring_run_up` metres along that edge instead, and closed there: the run-up before
/// it (see [`crate::lead_in`]) then lies on the ring's own edge, inside the field, where a
/// run-up behind the vertex would point out of the field and be cut short.
pub(crate) fn build_track(
    start: Coord,
    elements: &[Element],
    order: &[(usize, Entry)],
    router: &Router,
    ring_run_up: f64,
) -> Result<Track, (Coord, Coord)> {
    let mut t = Track::starting_at(start);
    let transit = |t: &mut Track, to: Coord| -> Result<(), (Coord, Coord)> {
        let from = t.end();
        let path = router.route(from, to).ok_or((from, to))?;
        for p in path.into_iter().skip(1) {
            t.go(p, SegmentKind::Transit);
        }
        Ok(())
    };
    for &(i, entry) in order {
        match (&elements[i], entry) {
            (Element::Ring(r), Entry::RingAt(k)) => {
                let n = r.len() - 1;
                let (a, b) = (r[k], r[(k + 1) % n]);
                let edge = (b.x - a.x).hypot(b.y - a.y);
                if ring_run_up > 0.0 && edge >= 2.0 * ring_run_up {
                    let f = ring_run_up / edge;
                    let m = Coord {
                        x: a.x + f * (b.x - a.x),
                        y: a.y + f * (b.y - a.y),
                    };
                    transit(&mut t, m)?;
                    for j in 1..=n {
                        t.go(r[(k + j) % n], SegmentKind::Spray);
                    }
                    t.go(m, SegmentKind::Spray);
                } else {
                    transit(&mut t, a)?;
                    for j in 1..=n {
                        t.go(r[(k + j) % n], SegmentKind::Spray);
                    }
                }
            }
            (cell @ Element::Cell(_), e @ Entry::Cell { .. }) => {
                for pair in cell.cell_points(e).chunks_exact(2) {
                    transit(&mut t, pair[0])?;
                    t.go(pair[1], SegmentKind::Spray);
                }
            }
            _ => unreachable!("entries are produced by Element::entries"),
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_is_entered_along_its_first_edge_so_its_run_up_lies_on_it() {
        use crate::region::Region;
        use geo::{MultiPolygon, polygon};
        let c = |x, y| Coord { x, y };
        let ring = Element::Ring(vec![
            c(10.0, 10.0),
            c(90.0, 10.0),
            c(90.0, 90.0),
            c(10.0, 90.0),
            c(10.0, 10.0),
        ]);
        let router = Router::new(Region::new(&MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)],
        ])));
        let order = [(0, Entry::RingAt(0))];
        let t = build_track(
            c(5.0, 5.0),
            std::slice::from_ref(&ring),
            &order,
            &router,
            3.5,
        )
        .unwrap();
        // In at 3.5 m along the first edge, round, and closed there: the same spray length.
        assert_eq!(t.points[1], c(13.5, 10.0));
        assert_eq!(t.end(), c(13.5, 10.0));
        assert!((t.length_of(SegmentKind::Spray) - 320.0).abs() < 1e-9);
        let plain = build_track(c(5.0, 5.0), &[ring], &order, &router, 0.0).unwrap();
        assert_eq!(plain.points[1], c(10.0, 10.0));
        assert!((plain.length_of(SegmentKind::Spray) - 320.0).abs() < 1e-9);
    }

    #[test]
    fn cell_snakes_alternate_direction() {
        let c = |x, y| Coord { x, y };
        let cell = Element::Cell(vec![
            (c(0.0, 0.0), c(10.0, 0.0)),
            (c(0.0, 5.0), c(10.0, 5.0)),
            (c(0.0, 10.0), c(10.0, 10.0)),
        ]);
        let pts = cell.cell_points(Entry::Cell {
            from_last: true,
            at_end: true,
        });
        assert_eq!(
            pts,
            vec![
                c(10.0, 10.0),
                c(0.0, 10.0),
                c(0.0, 5.0),
                c(10.0, 5.0),
                c(10.0, 0.0),
                c(0.0, 0.0)
            ]
        );
        assert_eq!(cell.entries().len(), 4);
    }
}
