//! Cost functions for a swath pattern, kept apart from the search that minimises them.

use crate::swath::generate::Swaths;

/// A cost to minimise over swath headings; lower is better.
pub trait SwathObjective {
    /// The cost of `n_legs` legs of total length `leg_length_m` spaced `spacing_m`, split into `n_cells` cells.
    fn cost(&self, pattern: &PatternStats) -> f64;
}

/// The figures of a swath pattern that objectives look at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PatternStats {
    /// Number of spray legs.
    pub n_legs: usize,
    /// Total leg length, metres.
    pub leg_length_m: f64,
    /// Distance between neighbouring legs, metres.
    pub spacing_m: f64,
    /// Number of boustrophedon cells.
    pub n_cells: usize,
}

impl PatternStats {
    pub(crate) fn of(s: &Swaths, n_cells: usize) -> Self {
        let spacing_m = if s.line_v.len() > 1 {
            s.line_v[1] - s.line_v[0]
        } else {
            0.0
        };
        Self {
            n_legs: s.n_legs(),
            leg_length_m: s.leg_length(),
            spacing_m,
            n_cells,
        }
    }
}

/// Estimated flight time in seconds: legs at spray speed, one stop-and-turn plus a short
/// transit per leg, and a jump of about ten leg spacings between cells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlightTime {
    /// Spray speed, m/s.
    pub spray_speed: f64,
    /// Transit speed, m/s.
    pub transit_speed: f64,
    /// Time of one stop-and-turn, s.
    pub turn_time: f64,
}

impl SwathObjective for FlightTime {
    fn cost(&self, p: &PatternStats) -> f64 {
        let legs = p.leg_length_m / self.spray_speed;
        let turns = p.n_legs as f64 * (2.0 * self.turn_time + p.spacing_m / self.transit_speed);
        let jumps = p.n_cells.saturating_sub(1) as f64
            * (2.0 * self.turn_time + 10.0 * p.spacing_m / self.transit_speed);
        legs + turns + jumps
    }
}

/// The number of legs (Fields2Cover's `NSwath`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwathCount;

impl SwathObjective for SwathCount {
    fn cost(&self, p: &PatternStats) -> f64 {
        p.n_legs as f64
    }
}

/// The total leg length (Fields2Cover's `SwathLength`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwathLength;

impl SwathObjective for SwathLength {
    fn cost(&self, p: &PatternStats) -> f64 {
        p.leg_length_m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flight_time_prefers_fewer_longer_legs() {
        let ft = FlightTime {
            spray_speed: 5.0,
            transit_speed: 7.0,
            turn_time: 3.0,
        };
        let long = PatternStats {
            n_legs: 4,
            leg_length_m: 400.0,
            spacing_m: 5.0,
            n_cells: 1,
        };
        let short = PatternStats {
            n_legs: 20,
            leg_length_m: 400.0,
            spacing_m: 5.0,
            n_cells: 1,
        };
        assert!(ft.cost(&long) < ft.cost(&short));
        assert!(SwathCount.cost(&long) < SwathCount.cost(&short));
        assert_eq!(SwathLength.cost(&long), SwathLength.cost(&short));
    }
}
