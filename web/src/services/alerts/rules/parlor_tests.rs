//! The parlor kinds over KPI intervals and days.

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
            milk_temp_c: None,
            alarms: vec![],
        })
        .collect()
}

fn parlor(id: i64, farm: i64, recent: Vec<IntervalFact>) -> ParlorFacts {
    ParlorFacts {
        parlor_id: id,
        farm_id: farm,
        name: format!("P{id}"),
        recent,
        ..ParlorFacts::default()
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
        threshold_low: None,
        critical: false,
    }
}

fn facts(parlors: Vec<ParlorFacts>) -> Facts {
    Facts {
        parlors,
        farms: vec![],
    }
}

fn check(r: Rule, p: ParlorFacts, now: i64, expect_since: Option<i64>) {
    let open = evaluate(&[r], &facts(vec![p]), t(now)).open;
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
    let open = evaluate(
        &[rule(RuleKind::ParlorOffline, 1, None)],
        &facts(vec![a, b]),
        t(60),
    )
    .open;
    let keys: Vec<_> = open.keys().map(|(_, k)| k.as_str()).collect();
    assert_eq!(keys, ["parlor:7", "parlor:8"]);
}

#[test]
fn kinds_round_trip_through_their_stored_names() {
    for k in RuleKind::ALL {
        assert_eq!(RuleKind::parse(k.as_str()), Some(k));
    }
    assert_eq!(RuleKind::parse("nonsense"), None);
}

/// Intervals like [`intervals`], each with a milk temperature and alarms.
fn with(mut v: Vec<IntervalFact>, temp: Option<f64>, alarms: &[&str]) -> Vec<IntervalFact> {
    for i in &mut v {
        i.milk_temp_c = temp;
        i.alarms = alarms.iter().map(|a| (*a).to_owned()).collect();
    }
    v
}

#[test]
fn a_fault_or_an_alarm_opens_with_its_names() {
    let mut recent = with(intervals(20, 25, "running", 300.0), None, &["vacuum_low"]);
    recent.extend(intervals(0, 20, "running", 300.0));
    let r = rule(RuleKind::PlatformFault, 1, None);
    let open = evaluate(
        std::slice::from_ref(&r),
        &facts(vec![parlor(7, 10, recent)]),
        t(25),
    )
    .open;
    let c = open.values().next().expect("alarm open");
    assert_eq!((c.since, c.detail.as_str()), (t(20), "vacuum_low"));
    // The platform's own fault state counts, and is named.
    let recent = intervals(0, 3, "fault", 0.0);
    let open = evaluate(
        std::slice::from_ref(&r),
        &facts(vec![parlor(7, 10, recent)]),
        t(3),
    )
    .open;
    assert_eq!(open.values().next().unwrap().detail, "platform_fault");
    // Alarms cleared in the latest interval: nothing.
    let mut recent = intervals(25, 26, "running", 300.0);
    recent.extend(with(intervals(20, 25, "running", 300.0), None, &["x"]));
    check(r, parlor(7, 10, recent), 26, None);
}

#[test]
fn milk_temperature_outside_the_range_while_running() {
    let mut r = rule(RuleKind::MilkTemperature, 5, Some(38.0));
    r.threshold_low = Some(30.0);
    let hot = with(intervals(0, 10, "running", 300.0), Some(39.5), &[]);
    check(r.clone(), parlor(7, 10, hot.clone()), 4, None);
    check(r.clone(), parlor(7, 10, hot), 5, Some(0));
    let cold = with(intervals(0, 10, "running", 300.0), Some(25.0), &[]);
    check(r.clone(), parlor(7, 10, cold), 10, Some(0));
    let fine = with(intervals(0, 10, "running", 300.0), Some(35.0), &[]);
    check(r.clone(), parlor(7, 10, fine), 10, None);
    // A hot wash is not milk out of range.
    let wash = with(intervals(0, 10, "washing", 0.0), Some(80.0), &[]);
    check(r.clone(), parlor(7, 10, wash), 10, None);
    let p = parlor(
        7,
        10,
        with(intervals(0, 10, "running", 300.0), Some(39.5), &[]),
    );
    let open = evaluate(&[r], &facts(vec![p]), t(10)).open;
    assert_eq!(open.values().next().unwrap().detail, "39.5°C");
}

#[test]
fn a_day_without_intervals_is_missing_once_its_grace_has_passed() {
    // 2026-05-10 00:30 JST = 2026-05-09 15:30 UTC.
    let now = DateTime::parse_from_rfc3339("2026-05-10T00:30:00+09:00")
        .unwrap()
        .to_utc();
    let day = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    // Within 60 minutes of midnight, the day judged is the one before.
    assert_eq!(
        judged_day(now, 60),
        (
            day("2026-05-08T00:00:00+09:00"),
            day("2026-05-09T00:00:00+09:00")
        )
    );
    let (start, _) = judged_day(now, 10);
    assert_eq!(start, day("2026-05-09T00:00:00+09:00"));
    let p = |first: Option<&str>, n: i64| ParlorFacts {
        parlor_id: 7,
        farm_id: 10,
        name: "P7".into(),
        first_seen: first.map(day),
        day_intervals: [(start, n)].into(),
        ..ParlorFacts::default()
    };
    let r = rule(RuleKind::DayDataMissing, 10, None);
    let open = |p| evaluate(std::slice::from_ref(&r), &facts(vec![p]), now).open;
    let o = open(p(Some("2026-05-01T00:00:00+09:00"), 0));
    let c = o.values().next().expect("missing");
    assert_eq!((c.since, c.detail.as_str()), (start, "2026-05-09"));
    assert!(open(p(Some("2026-05-01T00:00:00+09:00"), 3)).is_empty());
    // A parlor that first reported during that day, or never, is not missing it.
    assert!(open(p(Some("2026-05-09T12:00:00+09:00"), 0)).is_empty());
    assert!(open(p(None, 0)).is_empty());
}

#[test]
fn links_go_to_the_page_of_what_the_alert_is_about() {
    assert_eq!(
        link_path(RuleKind::ParlorStopped, "parlor:7", Some(7)),
        "/parlors/7"
    );
    assert_eq!(
        link_path(RuleKind::HighConductivity, "cow:7:42", Some(7)),
        "/parlors/7"
    );
    assert_eq!(
        link_path(RuleKind::FlightFailsafe, "flight:9", None),
        "/flights/9"
    );
    assert_eq!(
        link_path(RuleKind::RecordUnsigned, "record:9", None),
        "/flights/9/record"
    );
    assert_eq!(
        link_path(RuleKind::BridgeOffline, "bridge:3", None),
        "/parlors"
    );
}
