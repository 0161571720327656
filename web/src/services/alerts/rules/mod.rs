//! The pure evaluator: rules plus the facts the server stores in, open conditions out.
//!
//! No I/O and no clock: the service passes `now`, so every case is a plain unit test. Each
//! kind lives with its kin: [`parlor`] (intervals, days), [`milking`] (conductivity per cow),
//! [`farm`] (bridges, flights, records).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

// The rows the evaluator reads and writes are storage types, re-exported here under the
// names the alert code uses.
pub use crate::storage::{
    BridgeFact, FlightEventFact, IntervalFact, MilkingFact, OpenCondition, Rule, RuleKind,
    UnsignedRecordFact,
};

mod farm;
mod milking;
mod parlor;

pub use milking::{DEFAULT_CONDUCTIVITY_FACTOR, MIN_HISTORY, median};
pub use parlor::judged_day;

/// What the server knows about one parlor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParlorFacts {
    /// The parlor.
    pub parlor_id: i64,
    /// Its farm.
    pub farm_id: i64,
    /// Its name, for the message.
    pub name: String,
    /// Intervals ending within the longest rule window (plus the latest one), newest first.
    pub recent: Vec<IntervalFact>,
    /// Milkings with a conductivity, per cow or bail her newest ones, newest first.
    pub milkings: Vec<MilkingFact>,
    /// When its first interval started; `None` when it never reported.
    pub first_seen: Option<DateTime<Utc>>,
    /// Intervals counted per judged Asia/Tokyo day, by the day's start ([`judged_day`]).
    pub day_intervals: BTreeMap<DateTime<Utc>, i64>,
}

/// What the server knows about one farm beyond its parlors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FarmFacts {
    /// The farm.
    pub farm_id: i64,
    /// Its bridges and their last batches.
    pub bridges: Vec<BridgeFact>,
    /// Flights that ended within the longest flight rule's window.
    pub flights: Vec<FlightEventFact>,
    /// Spray records whose newest version is unsigned.
    pub unsigned: Vec<UnsignedRecordFact>,
}

/// Everything the rules read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Every parlor of every farm with a rule.
    pub parlors: Vec<ParlorFacts>,
    /// Every farm with a rule.
    pub farms: Vec<FarmFacts>,
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// The conditions open at `now`, keyed by (rule, condition key).
    pub open: BTreeMap<(i64, String), OpenCondition>,
    /// Conditions that still hold but whose window has passed (a raised conductivity with no
    /// milking of the cow since): their alerts close without a "cleared" message.
    pub expired: BTreeSet<(i64, String)>,
}

/// One condition a kind's evaluator found: key, since, detail, and the parlor it is about.
struct Found {
    key: String,
    since: DateTime<Utc>,
    subject: String,
    detail: String,
    parlor_id: Option<i64>,
}

/// The conditions open at `now`.
///
/// A parlor that never reported opens nothing (there is nothing to be offline from); a rule
/// only sees facts of its own farm.
pub fn evaluate(rules: &[Rule], facts: &Facts, now: DateTime<Utc>) -> Evaluation {
    let mut out = Evaluation::default();
    for rule in rules {
        let window = Duration::minutes(rule.minutes);
        let mut found = Vec::new();
        if is_parlor_kind(rule.kind) {
            for p in facts.parlors.iter().filter(|p| {
                p.farm_id == rule.farm_id && rule.parlor_id.is_none_or(|id| id == p.parlor_id)
            }) {
                if rule.kind == RuleKind::HighConductivity {
                    let (f, expired) = milking::conductivity(rule, p, now);
                    found.extend(f);
                    out.expired
                        .extend(expired.into_iter().map(|k| (rule.id, k)));
                } else if let Some((since, detail)) = parlor::held(rule, p, window, now) {
                    found.push(Found {
                        key: format!("parlor:{}", p.parlor_id),
                        since,
                        subject: p.name.clone(),
                        detail,
                        parlor_id: Some(p.parlor_id),
                    });
                }
            }
        } else {
            for f in facts.farms.iter().filter(|f| f.farm_id == rule.farm_id) {
                found.extend(farm::found(rule, f, window, now));
            }
        }
        for f in found {
            out.open.insert(
                (rule.id, f.key.clone()),
                OpenCondition {
                    rule_id: rule.id,
                    farm_id: rule.farm_id,
                    condition_key: f.key,
                    parlor_id: f.parlor_id,
                    subject: f.subject,
                    detail: f.detail,
                    kind: rule.kind,
                    since: f.since,
                    critical: rule.critical,
                },
            );
        }
    }
    out
}

/// Whether a kind is judged per parlor (else per farm).
pub fn is_parlor_kind(kind: RuleKind) -> bool {
    !matches!(
        kind,
        RuleKind::BridgeOffline
            | RuleKind::FlightLinkLost
            | RuleKind::FlightFailsafe
            | RuleKind::SortieAborted
            | RuleKind::RecordUnsigned
    )
}

/// The page an alert links to, as a path: the parlor, the flight, its record, or the
/// parlors list for a bridge.
pub fn link_path(kind: RuleKind, condition_key: &str, parlor_id: Option<i64>) -> String {
    let id = condition_key.rsplit(':').next().unwrap_or("");
    match kind {
        RuleKind::FlightLinkLost | RuleKind::FlightFailsafe | RuleKind::SortieAborted => {
            format!("/flights/{id}")
        }
        RuleKind::RecordUnsigned => format!("/flights/{id}/record"),
        _ => parlor_id.map_or_else(|| "/parlors".to_owned(), |p| format!("/parlors/{p}")),
    }
}

#[cfg(test)]
mod parlor_tests;
