//! Kinds judged on a farm's other facts: a bridge gone silent, a flight's link loss, failsafe
//! or abort, and a spray record left unsigned.

use chrono::{DateTime, Duration, Utc};
use telemetry::FailsafeKind;

use super::{FarmFacts, Found, Rule, RuleKind};

/// The snake-case name of a failsafe kind, as the logbook stores it.
fn failsafe_name(k: FailsafeKind) -> &'static str {
    match k {
        FailsafeKind::Battery => "battery",
        FailsafeKind::Radio => "radio",
        FailsafeKind::Gcs => "gcs",
        FailsafeKind::Other => "other",
        FailsafeKind::UncommandedMode => "uncommanded_mode",
        FailsafeKind::LinkLoss => "link_loss",
    }
}

/// The conditions of one farm-wide rule.
pub(super) fn found(
    rule: &Rule,
    f: &FarmFacts,
    window: Duration,
    now: DateTime<Utc>,
) -> Vec<Found> {
    let mut out = Vec::new();
    match rule.kind {
        RuleKind::BridgeOffline => {
            for b in &f.bridges {
                if now - b.last_seen > window {
                    out.push(Found {
                        key: format!("bridge:{}", b.token_id),
                        since: b.last_seen,
                        subject: b.name.clone(),
                        detail: String::new(),
                        parlor_id: None,
                    });
                }
            }
        }
        RuleKind::FlightLinkLost | RuleKind::FlightFailsafe | RuleKind::SortieAborted => {
            for fl in f.flights.iter().filter(|fl| now - fl.ended_at <= window) {
                let detail = match rule.kind {
                    RuleKind::FlightLinkLost => fl
                        .failsafes
                        .contains(&FailsafeKind::LinkLoss)
                        .then(String::new),
                    RuleKind::FlightFailsafe => {
                        let mut names: Vec<&str> = fl
                            .failsafes
                            .iter()
                            .filter(|k| **k != FailsafeKind::LinkLoss)
                            .map(|k| failsafe_name(*k))
                            .collect();
                        names.dedup();
                        (!names.is_empty()).then(|| names.join(","))
                    }
                    _ => matches!(fl.status.as_str(), "aborted" | "failed")
                        .then(|| fl.status.clone()),
                };
                if let Some(detail) = detail {
                    out.push(Found {
                        key: format!("flight:{}", fl.flight_id),
                        since: fl.ended_at,
                        subject: flight_name(&fl.field, fl.flight_id),
                        detail,
                        parlor_id: None,
                    });
                }
            }
        }
        RuleKind::RecordUnsigned => {
            for r in f.unsigned.iter().filter(|r| now - r.created_at >= window) {
                out.push(Found {
                    key: format!("record:{}", r.flight_id),
                    since: r.created_at,
                    subject: flight_name(&r.place, r.flight_id),
                    detail: format!("{}d", (now - r.created_at).num_days()),
                    parlor_id: None,
                });
            }
        }
        _ => {}
    }
    out
}

/// A flight as people name it: its field (or place), else its number.
fn flight_name(place: &str, flight_id: i64) -> String {
    if place.is_empty() {
        format!("#{flight_id}")
    } else {
        place.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BridgeFact, Facts, FlightEventFact, UnsignedRecordFact, evaluate};
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap() + Duration::minutes(min)
    }

    fn rule(kind: RuleKind, minutes: i64) -> Rule {
        Rule {
            id: 1,
            farm_id: 10,
            kind,
            parlor_id: None,
            minutes,
            threshold: None,
            threshold_low: None,
            critical: false,
        }
    }

    fn flight(id: i64, status: &str, end: i64, failsafes: Vec<FailsafeKind>) -> FlightEventFact {
        FlightEventFact {
            flight_id: id,
            field: format!("田{id}"),
            status: status.into(),
            ended_at: t(end),
            failsafes,
        }
    }

    fn farm(farm_id: i64) -> FarmFacts {
        FarmFacts {
            farm_id,
            bridges: vec![BridgeFact {
                token_id: 3,
                name: "牛舎".into(),
                last_seen: t(0),
            }],
            flights: vec![
                flight(1, "completed", 0, vec![]),
                flight(2, "completed", 0, vec![FailsafeKind::LinkLoss]),
                flight(
                    3,
                    "aborted",
                    0,
                    vec![FailsafeKind::Battery, FailsafeKind::Radio],
                ),
                flight(4, "failed", -100, vec![FailsafeKind::LinkLoss]),
            ],
            unsigned: vec![UnsignedRecordFact {
                flight_id: 5,
                place: String::new(),
                created_at: t(0),
            }],
        }
    }

    fn open(r: Rule, now: i64) -> Vec<(String, String, String)> {
        let facts = Facts {
            parlors: vec![],
            farms: vec![farm(10), farm(11)],
        };
        evaluate(&[r], &facts, t(now))
            .open
            .into_values()
            .map(|c| (c.condition_key, c.subject, c.detail))
            .collect()
    }

    #[test]
    fn a_bridge_opens_after_its_minutes_of_silence() {
        assert!(open(rule(RuleKind::BridgeOffline, 10), 10).is_empty());
        assert_eq!(
            open(rule(RuleKind::BridgeOffline, 10), 11),
            [("bridge:3".into(), "牛舎".into(), String::new())]
        );
    }

    #[test]
    fn flight_kinds_see_their_own_events_within_the_window() {
        let keys = |r, now| -> Vec<String> { open(r, now).into_iter().map(|c| c.0).collect() };
        assert_eq!(keys(rule(RuleKind::FlightLinkLost, 60), 1), ["flight:2"]);
        // Flight 4 ended 100 min before: outside a 60-minute window, inside a 200-minute one.
        assert_eq!(
            keys(rule(RuleKind::FlightLinkLost, 200), 1),
            ["flight:2", "flight:4"]
        );
        assert_eq!(
            open(rule(RuleKind::FlightFailsafe, 60), 1),
            [("flight:3".into(), "田3".into(), "battery,radio".into())]
        );
        assert_eq!(
            keys(rule(RuleKind::SortieAborted, 200), 1),
            ["flight:3", "flight:4"]
        );
        assert!(keys(rule(RuleKind::SortieAborted, 60), 61).is_empty());
    }

    #[test]
    fn a_record_opens_when_unsigned_for_its_minutes() {
        let week = 7 * 24 * 60;
        assert!(open(rule(RuleKind::RecordUnsigned, week), week - 1).is_empty());
        assert_eq!(
            open(rule(RuleKind::RecordUnsigned, week), week),
            [("record:5".into(), "#5".into(), "7d".into())]
        );
    }
}
