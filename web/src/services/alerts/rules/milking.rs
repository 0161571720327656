//! Mastitis suspicion: a milking's conductivity above the same cow's recent level.
//!
//! "Recent level" is the median conductivity of her previous milkings on the parlor (up to
//! [`CONDUCTIVITY_HISTORY`](crate::storage::CONDUCTIVITY_HISTORY), at least [`MIN_HISTORY`]),
//! the same bail's when the parlor did not identify the cow. A milking above the rule's
//! factor (`threshold`, default [`DEFAULT_CONDUCTIVITY_FACTOR`]) times that level opens an
//! alert that holds until her next milking is back at her level, or quietly expires `minutes`
//! after the raised milking.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{Found, MilkingFact, ParlorFacts, Rule};

/// Earlier milkings needed before a cow has a level to be above.
pub const MIN_HISTORY: usize = 3;
/// The factor over her median when the rule sets none (20 % above her own level).
pub const DEFAULT_CONDUCTIVITY_FACTOR: f64 = 1.2;

/// The median of `v` (`None` when empty).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// The raised cows and bails of a parlor, and the keys that are raised but past the window.
pub(super) fn conductivity(
    rule: &Rule,
    p: &ParlorFacts,
    now: DateTime<Utc>,
) -> (Vec<Found>, Vec<String>) {
    let factor = rule.threshold.unwrap_or(DEFAULT_CONDUCTIVITY_FACTOR);
    let window = Duration::minutes(rule.minutes);
    let mut groups: BTreeMap<String, Vec<&MilkingFact>> = BTreeMap::new();
    for m in &p.milkings {
        let key = if m.cow_id == 0 {
            format!("bail:{}:{}", p.parlor_id, m.bail)
        } else {
            format!("cow:{}:{}", p.parlor_id, m.cow_id)
        };
        groups.entry(key).or_default().push(m);
    }
    let (mut found, mut expired) = (Vec::new(), Vec::new());
    for (key, mut ms) in groups {
        ms.sort_by_key(|m| std::cmp::Reverse(m.t));
        let Some((latest, before)) = ms.split_first() else {
            continue;
        };
        let history: Vec<f64> = before
            .iter()
            .take(crate::storage::CONDUCTIVITY_HISTORY as usize)
            .map(|m| m.conductivity)
            .collect();
        if history.len() < MIN_HISTORY {
            continue;
        }
        let Some(level) = median(&history) else {
            continue;
        };
        if latest.conductivity <= factor * level {
            continue;
        }
        if now - latest.t > window {
            expired.push(key);
            continue;
        }
        let who = if latest.cow_id == 0 {
            format!("B{}", latest.bail)
        } else {
            format!("#{}", latest.cow_id)
        };
        found.push(Found {
            key,
            since: latest.t,
            subject: p.name.clone(),
            detail: format!("{who} {:.1}/{level:.1} mS/cm", latest.conductivity),
            parlor_id: Some(p.parlor_id),
        });
    }
    (found, expired)
}

#[cfg(test)]
mod tests {
    use super::super::{Facts, RuleKind, evaluate};
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap() + Duration::minutes(min)
    }

    fn m(min: i64, bail: i64, cow: i64, c: f64) -> MilkingFact {
        MilkingFact {
            t: t(min),
            bail,
            cow_id: cow,
            conductivity: c,
        }
    }

    fn rule(factor: Option<f64>) -> Rule {
        Rule {
            id: 1,
            farm_id: 10,
            kind: RuleKind::HighConductivity,
            parlor_id: None,
            minutes: 600,
            threshold: factor,
            threshold_low: None,
            critical: false,
        }
    }

    fn facts(milkings: Vec<MilkingFact>) -> Facts {
        Facts {
            parlors: vec![ParlorFacts {
                parlor_id: 7,
                farm_id: 10,
                name: "P7".into(),
                milkings,
                ..ParlorFacts::default()
            }],
            farms: vec![],
        }
    }

    /// Cow 42 milked every 12 h at `level`, then once at `last`; other cows at other bails.
    fn history(level: f64, last: f64) -> Vec<MilkingFact> {
        let mut v: Vec<MilkingFact> = (0..5)
            .map(|i| m(i * 720, (i % 3) + 1, 42, level + 0.1 * (i % 2) as f64))
            .collect();
        v.push(m(5 * 720, 2, 42, last));
        // A cow whose own level is high all along: never above her level.
        v.extend((0..6).map(|i| m(i * 720 + 5, 9, 77, 8.0)));
        v
    }

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn a_cow_above_her_own_level_opens_and_a_cow_high_all_along_does_not() {
        let e = evaluate(&[rule(None)], &facts(history(5.0, 7.0)), t(5 * 720 + 1));
        let keys: Vec<_> = e.open.keys().map(|(_, k)| k.as_str()).collect();
        assert_eq!(keys, ["cow:7:42"], "{e:?}");
        let c = e.open.values().next().unwrap();
        assert_eq!(c.since, t(5 * 720));
        assert_eq!(c.detail, "#42 7.0/5.0 mS/cm");
        // 5.9 is below 1.2 × 5.0: nothing.
        let e = evaluate(&[rule(None)], &facts(history(5.0, 5.9)), t(5 * 720 + 1));
        assert!(e.open.is_empty(), "{e:?}");
        // A looser factor lets 7.0 pass.
        let e = evaluate(
            &[rule(Some(1.5))],
            &facts(history(5.0, 7.0)),
            t(5 * 720 + 1),
        );
        assert!(e.open.is_empty(), "{e:?}");
    }

    #[test]
    fn a_raised_milking_past_the_window_expires_instead_of_clearing() {
        let e = evaluate(&[rule(None)], &facts(history(5.0, 7.0)), t(5 * 720 + 601));
        assert!(e.open.is_empty());
        assert_eq!(
            e.expired.into_iter().collect::<Vec<_>>(),
            [(1, "cow:7:42".to_owned())]
        );
    }

    #[test]
    fn the_next_milking_back_at_her_level_clears() {
        let mut v = history(5.0, 7.0);
        v.push(m(6 * 720, 1, 42, 5.1));
        let e = evaluate(&[rule(None)], &facts(v), t(6 * 720 + 1));
        assert!(e.open.is_empty() && e.expired.is_empty(), "{e:?}");
    }

    #[test]
    fn unidentified_cows_are_judged_per_bail_and_need_a_history() {
        let mut v: Vec<MilkingFact> = (0..4).map(|i| m(i * 10, 3, 0, 5.0)).collect();
        v.push(m(40, 3, 0, 9.0));
        let e = evaluate(&[rule(None)], &facts(v.clone()), t(41));
        let c = e.open.values().next().expect("bail 3 raised");
        assert_eq!(c.condition_key, "bail:7:3");
        assert_eq!(c.detail, "B3 9.0/5.0 mS/cm");
        // Two earlier milkings are not a level yet.
        let e = evaluate(&[rule(None)], &facts(v[2..].to_vec()), t(41));
        assert!(e.open.is_empty(), "{e:?}");
    }
}
