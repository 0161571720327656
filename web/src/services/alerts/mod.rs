//! Alerts: per-farm rules over the parlor, flight and record facts, opened and resolved once
//! each, delivered by a signed webhook, by e-mail and by Web Push, with retry.
//!
//! [`rules::evaluate`] is pure (rules + facts + now → open conditions); [`service`] gathers the
//! facts and stores each change with its queued messages; [`outbox`] sends those through the
//! sinks in [`deliver`] and [`webpush`]. [`staff`] is the city staff's own alert (a
//! district's data missing for a day), in tables without a farm, delivered by the same
//! [`outbox`] loop through its own store, with the same [`quiet`] hours and escalation and
//! its own scope of [`ack_link`].

pub mod ack_link;
pub mod deliver;
pub mod notice;
pub mod outbox;
pub mod quiet;
pub mod rules;
pub mod service;
pub mod settings;
pub mod staff;
pub mod webpush;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_attempts;
#[cfg(test)]
mod tests_kinds;
#[cfg(test)]
mod tests_outbox;
#[cfg(test)]
mod tests_push;
#[cfg(test)]
mod tests_quiet;
#[cfg(test)]
mod tests_staff;
#[cfg(test)]
mod tests_staff_catch_up;
#[cfg(test)]
mod tests_staff_parity;
#[cfg(test)]
mod tests_upgrade_0024;
