//! The domain layer: what the server does, apart from how a request reaches it. A service
//! takes what it needs (a [`crate::storage::Db`] or [`crate::storage::Tx`], a clock, its own
//! configuration), never `AppState` or an HTTP type; one service call that writes is one
//! transaction.

pub mod accounts;
pub mod alerts;
pub mod credentials;
pub mod fields;
pub mod flights;
pub mod gonogo;
pub mod ingest;
pub mod opendata;
pub mod parlors;
pub mod planner;
pub mod plans;
pub mod plausible;
pub mod preflight;
pub mod records;
pub mod reports;
pub mod terrain;
pub mod tiles;
pub mod today;
pub mod vehicles;
pub mod weather;
