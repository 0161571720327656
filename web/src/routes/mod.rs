//! HTTP routes, one module per resource; each exposes `router()` and [`crate::app::app`] merges them.

pub mod admin;
pub mod health;
pub mod home;
pub mod ingest;
pub mod parlors;
pub mod session;
