//! Kinds judged on a parlor's KPI intervals: offline, stopped, low throughput, fault or
//! alarm, milk temperature, and a day without data.

use chrono::{DateTime, Duration, Utc};

use super::{IntervalFact, ParlorFacts, Rule, RuleKind};
use crate::storage::jst_day_start;

/// How far apart two intervals may be and still count as one run (clock jitter of the bridge);
/// a longer gap means the parlor was not seen, and breaks the run.
const GAP_TOLERANCE: Duration = Duration::seconds(60);

/// The Asia/Tokyo day a [`RuleKind::DayDataMissing`] rule with `grace_minutes` judges at
/// `now`: the newest whole day that ended at least `grace_minutes` ago, as `[start, end)`.
pub fn judged_day(now: DateTime<Utc>, grace_minutes: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = jst_day_start(now - Duration::minutes(grace_minutes));
    (jst_day_start(end - Duration::hours(12)), end)
}

/// Since when the rule's condition holds for the parlor, and what was seen; `None` when it
/// does not hold (or not yet for long enough).
pub(super) fn held(
    rule: &Rule,
    p: &ParlorFacts,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, String)> {
    if rule.kind == RuleKind::DayDataMissing {
        let (start, _) = judged_day(now, rule.minutes);
        let missing = p.first_seen.is_some_and(|f| f < start)
            && p.day_intervals.get(&start).copied() == Some(0);
        let date = start.with_timezone(&crate::i18n::JST).format("%Y-%m-%d");
        return missing.then(|| (start, date.to_string()));
    }
    let latest = p.recent.first()?;
    match rule.kind {
        RuleKind::ParlorOffline => {
            (now - latest.end_t > window).then(|| (latest.end_t, String::new()))
        }
        RuleKind::ParlorStopped => held_since(&p.recent, |i| i.state == "stopped")
            .filter(|s| now - *s > window)
            .map(|s| (s, String::new())),
        RuleKind::LowThroughput => {
            let floor = rule.threshold.unwrap_or(0.0);
            held_since(&p.recent, |i| {
                i.state == "running" && i.cows_per_hour_rolling < floor
            })
            .filter(|s| now - *s >= window)
            .map(|s| (s, format!("{:.0}/h", latest.cows_per_hour_rolling)))
        }
        RuleKind::PlatformFault => {
            held_since(&p.recent, |i| i.state == "fault" || !i.alarms.is_empty())
                .filter(|s| now - *s >= window)
                .map(|s| {
                    let mut names = latest.alarms.clone();
                    if latest.state == "fault" && !names.iter().any(|n| n == "platform_fault") {
                        names.insert(0, "platform_fault".to_owned());
                    }
                    (s, names.join(","))
                })
        }
        RuleKind::MilkTemperature => {
            let out = |c: f64| {
                rule.threshold_low.is_some_and(|lo| c < lo)
                    || rule.threshold.is_some_and(|hi| c > hi)
            };
            held_since(&p.recent, |i| {
                i.state == "running" && i.milk_temp_c.is_some_and(out)
            })
            .filter(|s| now - *s >= window)
            .map(|s| {
                let c = latest.milk_temp_c.unwrap_or(f64::NAN);
                (s, format!("{c:.1}°C"))
            })
        }
        _ => None,
    }
}

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
