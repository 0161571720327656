//! Flights: the [`manager::FlightManager`] (one task per launched flight, run in `flight`,
//! talked to through [`control`]) and [`record`], the one place a flown `.tlog` becomes a flight, its report facts and its record drafts.

pub mod as_applied;
pub mod control;
mod flight;
pub mod isoxml;
pub mod manager;
pub mod record;
pub mod timelog;
