//! Alerts: per-farm rules over the parlor facts, opened and resolved once each, delivered by a
//! signed webhook and by e-mail with retry.
//!
//! [`rules::evaluate`] is pure (rules + facts + now → open conditions); [`service`] gathers the
//! facts, stores the changes and hands them to the sinks in [`deliver`].

pub mod deliver;
pub mod rules;
pub mod service;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kinds;
