//! The pure evaluator: rules plus the parlor facts the server stores in, open conditions out.
//!
//! No I/O and no clock: the service passes `now`, so every case is a plain unit test.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

// The rows the evaluator reads and writes are storage types, re-exported here under the
// names the alert code uses.
pub use crate::storage::{IntervalFact, OpenCondition, Rule, RuleKind};

/// What the server knows about one parlor: its recent intervals, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ParlorFacts {
    /// The parlor.
    pub parlor_id: i64,
    /// Its farm.
    pub farm_id: i64,
    /// Its name, for the message.
    pub name: String,
    /// Intervals ending within the longest rule window (plus the latest one), newest first.
    pub recent: Vec<IntervalFact>,
}

/// The conditions open at `now`, keyed by (rule, condition key).
///
/// A parlor that never reported opens nothing (there is nothing to be offline from); a rule
/// only sees parlors of its own farm.
pub fn evaluate(
    rules: &[Rule],
    parlors: &[ParlorFacts],
    now: DateTime<Utc>,
) -> BTreeMap<(i64, String), OpenCondition> {
    let mut open = BTreeMap::new();
    for rule in rules {
        let window = Duration::minutes(rule.minutes);
        for p in parlors.iter().filter(|p| {
            p.farm_id == rule.farm_id && rule.parlor_id.is_none_or(|id| id == p.parlor_id)
        }) {
            let Some(latest) = p.recent.first() else {
                continue;
            };
            let since = match rule.kind {
                RuleKind::ParlorOffline => (now - latest.end_t > window).then_some(latest.end_t),
                RuleKind::ParlorStopped => {
                    held_since(&p.recent, |i| i.state == "stopped").filter(|s| now - *s > window)
                }
                RuleKind::LowThroughput => {
                    let floor = rule.threshold.unwrap_or(0.0);
                    held_since(&p.recent, |i| {
                        i.state == "running" && i.cows_per_hour_rolling < floor
                    })
                    .filter(|s| now - *s >= window)
                }
            };
            if let Some(since) = since {
                let key = format!("parlor:{}", p.parlor_id);
                open.insert(
                    (rule.id, key.clone()),
                    OpenCondition {
                        rule_id: rule.id,
                        farm_id: rule.farm_id,
                        condition_key: key,
                        parlor_id: p.parlor_id,
                        parlor_name: p.name.clone(),
                        kind: rule.kind,
                        since,
                    },
                );
            }
        }
    }
    open
}

/// How far apart two intervals may be and still count as one run (clock jitter of the bridge);
/// a longer gap means the parlor was not seen, and breaks the run.
const GAP_TOLERANCE: Duration = Duration::seconds(60);

/// When the newest unbroken run of intervals matching `pred` began (its oldest start), if the
/// latest interval matches at all. A gap longer than [`GAP_TOLERANCE`] breaks the run.
fn held_since(
    recent: &[IntervalFact],
    pred: impl Fn(&IntervalFact) -> bool,
) -> Option<DateTime<Utc>> {
    let mut since = None;
    let mut next_start: Option<DateTime<Utc>> = None;
    for i in recent {
        if !pred(i) || next_start.is_some_and(|n| i.end_t + GAP_TOLERANCE < n) {
            break;
        }
        since = Some(i.start_t);
        next_start = Some(i.start_t);
    }
    since
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap() + Duration::minutes(min)
    }

    /// Minute-long intervals from `from` to `to` (exclusive), newest first.
    fn intervals(from: i64, to: i64, state: &str, cph: f64) -> Vec<IntervalFact> {
        (from..to)
            .rev()
            .map(|m| IntervalFact {
                start_t: t(m),
                end_t: t(m + 1),
                state: state.to_owned(),
                cows_per_hour_rolling: cph,
            })
            .collect()
    }

    fn parlor(id: i64, farm: i64, recent: Vec<IntervalFact>) -> ParlorFacts {
        ParlorFacts {
            parlor_id: id,
            farm_id: farm,
            name: format!("P{id}"),
            recent,
        }
    }

    fn rule(kind: RuleKind, minutes: i64, threshold: Option<f64>) -> Rule {
        Rule {
            id: 1,
            farm_id: 10,
            kind,
            parlor_id: None,
            minutes,
            threshold,
        }
    }

    fn check(r: Rule, p: ParlorFacts, now: i64, expect_since: Option<i64>) {
        let open = evaluate(&[r], &[p], t(now));
        assert_eq!(
            open.values().next().map(|c| c.since),
            expect_since.map(t),
            "{open:?}"
        );
    }

    #[test]
    fn offline_opens_only_after_its_minutes() {
        let p = parlor(7, 10, intervals(0, 10, "running", 300.0));
        check(rule(RuleKind::ParlorOffline, 5, None), p.clone(), 15, None);
        check(rule(RuleKind::ParlorOffline, 5, None), p, 16, Some(10));
    }

    #[test]
    fn a_parlor_that_never_reported_is_not_offline() {
        check(
            rule(RuleKind::ParlorOffline, 1, None),
            parlor(7, 10, vec![]),
            100,
            None,
        );
    }

    #[test]
    fn stopped_counts_from_the_start_of_the_stopped_run() {
        let mut recent = intervals(20, 30, "stopped", 0.0);
        recent.extend(intervals(0, 20, "running", 300.0));
        let p = parlor(7, 10, recent);
        check(rule(RuleKind::ParlorStopped, 10, None), p.clone(), 30, None);
        check(rule(RuleKind::ParlorStopped, 10, None), p, 31, Some(20));
    }

    #[test]
    fn off_after_a_session_is_not_stopped() {
        let p = parlor(7, 10, intervals(0, 60, "off", 0.0));
        check(rule(RuleKind::ParlorStopped, 5, None), p, 60, None);
    }

    #[test]
    fn running_again_clears_stopped() {
        let mut recent = intervals(40, 41, "running", 200.0);
        recent.extend(intervals(0, 40, "stopped", 0.0));
        check(
            rule(RuleKind::ParlorStopped, 5, None),
            parlor(7, 10, recent),
            41,
            None,
        );
    }

    #[test]
    fn low_throughput_needs_the_whole_window_below_the_floor() {
        let mut recent = intervals(10, 20, "running", 150.0);
        recent.extend(intervals(0, 10, "running", 300.0));
        let p = parlor(7, 10, recent);
        let r = rule(RuleKind::LowThroughput, 10, Some(200.0));
        check(r.clone(), p.clone(), 19, None);
        check(r.clone(), p.clone(), 20, Some(10));
        // Above the floor: nothing.
        check(rule(RuleKind::LowThroughput, 10, Some(100.0)), p, 20, None);
    }

    #[test]
    fn low_throughput_is_not_judged_while_the_platform_is_stopped() {
        let p = parlor(7, 10, intervals(0, 30, "stopped", 0.0));
        check(rule(RuleKind::LowThroughput, 5, Some(200.0)), p, 30, None);
    }

    #[test]
    fn a_gap_in_the_intervals_breaks_a_run() {
        let mut recent = intervals(25, 30, "stopped", 0.0);
        recent.extend(intervals(0, 20, "stopped", 0.0));
        check(
            rule(RuleKind::ParlorStopped, 5, None),
            parlor(7, 10, recent),
            31,
            Some(25),
        );
    }

    #[test]
    fn rules_see_only_their_farm_and_their_parlor() {
        let other_farm = parlor(8, 11, intervals(0, 10, "running", 300.0));
        check(rule(RuleKind::ParlorOffline, 1, None), other_farm, 60, None);
        let mut one = rule(RuleKind::ParlorOffline, 1, None);
        one.parlor_id = Some(9);
        check(
            one,
            parlor(7, 10, intervals(0, 10, "running", 300.0)),
            60,
            None,
        );
    }

    #[test]
    fn one_rule_over_every_parlor_opens_one_condition_per_parlor() {
        let a = parlor(7, 10, intervals(0, 10, "running", 300.0));
        let b = parlor(8, 10, intervals(0, 10, "running", 300.0));
        let open = evaluate(&[rule(RuleKind::ParlorOffline, 1, None)], &[a, b], t(60));
        let keys: Vec<_> = open.keys().map(|(_, k)| k.as_str()).collect();
        assert_eq!(keys, ["parlor:7", "parlor:8"]);
    }

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for k in [
            RuleKind::ParlorOffline,
            RuleKind::ParlorStopped,
            RuleKind::LowThroughput,
        ] {
            assert_eq!(RuleKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(RuleKind::parse("nonsense"), None);
    }
}
