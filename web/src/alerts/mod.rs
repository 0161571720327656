//! Alerts: per-farm rules over the parlor facts, opened and resolved once each.
//!
//! [`rules::evaluate`] is pure (rules + facts + now → open conditions); the storage of rules,
//! alerts and delivery attempts is in `storage::alerts`.

pub mod rules;
