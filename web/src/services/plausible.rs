//! Physical bounds on what a parlor bridge reports, checked at ingest before storage: a
//! negative yield, a milking in the year 9999 or an interval ending before it starts is a
//! broken controller map or a forged request, never a fact to sum into a farm's reports.
//! The bounds are generous: a value that is odd but possible (a 60 kg milking, a gap of a
//! week) passes.
//!
//! Rates and totals of intervals and sessions (cows per hour, kg) are only required to be
//! finite and not negative, not held to a platform's top speed: the bridge derives them over
//! spans as short as one poll (a counter that catches up after a slow poll, a gap of two
//! seconds) and from simulators running faster than real time, where a true figure far
//! exceeds what a rotary does in an hour. A refused batch stops its bridge's queue, so a bound
//! that real traffic can cross would do more harm than the value it keeps out.

use chrono::{DateTime, Duration, TimeZone, Utc};
use parlor_bridge::wire::{IngestBatch, Record};

use crate::error::AppError;
use crate::i18n::{Lang, Msg};

/// Most milk one cow gives at one milking, kg. Record cows give about 100 kg a *day* over two
/// or three milkings; a single milking at the bound is already far beyond any real one.
pub const MAX_YIELD_KG: f64 = 100.0;
/// Longest cups-on time of one milking, s: real ones take 4 to 10 minutes; an hour is not a milking.
pub const MAX_MILKING_S: f64 = 3_600.0;
/// Highest milk conductivity, mS/cm: normal milk reads 4 to 6, mastitic milk rarely above 15.
pub const MAX_CONDUCTIVITY_MS_CM: f64 = 50.0;
/// The coldest milk line a reading may report, °C (a frozen line in a Tochigi winter).
pub const MIN_MILK_TEMP_C: f64 = -20.0;
/// The hottest milk line a reading may report, °C (a hot wash stays below boiling).
pub const MAX_MILK_TEMP_C: f64 = 100.0;
/// Longest span of one interval, gap or session: a month. An offline interval spans its gap,
/// and a bridge left unplugged for weeks is plausible; a gap of years is not a parlor's history.
pub const MAX_SPAN: Duration = Duration::days(31);
/// How far ahead of the server's clock a record may be: clocks drift, a day is not drift.
pub const MAX_AHEAD: Duration = Duration::days(1);

/// Earliest instant a record may carry: no bridge existed before 2000.
fn earliest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// Refuses `batch` with a 422 naming the first record and field outside the bounds above,
/// `now` being the server's clock.
///
/// # Errors
/// [`AppError::BadInput`] with the record, field, reason in `lang` and the accepted range.
pub fn check_batch(lang: Lang, batch: &IngestBatch, now: DateTime<Utc>) -> Result<(), AppError> {
    for (i, rec) in batch.records.iter().enumerate() {
        check_record(rec, now).map_err(|(field, range)| {
            AppError::BadInput(format!(
                "records[{i}].{field}: {} {range}",
                Msg::ImpossibleValue.text(lang)
            ))
        })?;
    }
    Ok(())
}

/// The field and accepted range of the first impossible value of `rec`.
type Refusal = (&'static str, String);

fn within(field: &'static str, v: f64, max: f64) -> Result<(), Refusal> {
    if v.is_finite() && (0.0..=max).contains(&v) {
        Ok(())
    } else {
        Err((field, format!("0..={max}")))
    }
}

fn when(field: &'static str, t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
    let (lo, hi) = (earliest(), now + MAX_AHEAD);
    if (lo..=hi).contains(&t) {
        Ok(())
    } else {
        Err((field, format!("{}..={}", lo.to_rfc3339(), hi.to_rfc3339())))
    }
}

fn span(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
    when("start", start, now)?;
    when("end", end, now)?;
    if end < start {
        return Err(("end", "start..".to_owned()));
    }
    if end - start > MAX_SPAN {
        return Err(("end", format!("start..=start+{}d", MAX_SPAN.num_days())));
    }
    Ok(())
}

fn check_record(rec: &Record, now: DateTime<Utc>) -> Result<(), Refusal> {
    match rec {
        Record::Milking(m) => {
            when("t", m.t, now)?;
            within("yield_kg", m.yield_kg, MAX_YIELD_KG)?;
            if let Some(d) = m.duration_s {
                within("duration_s", d, MAX_MILKING_S)?;
            }
            if let Some(c) = m.conductivity_ms_cm {
                within("conductivity_ms_cm", c, MAX_CONDUCTIVITY_MS_CM)?;
            }
        }
        Record::Interval(r) => {
            span(r.start, r.end, now)?;
            let secs = (r.end - r.start).num_milliseconds() as f64 / 1000.0;
            // A second of slack: polls are stamped to the millisecond on both ends.
            within("online_s", r.online_s, secs + 1.0)?;
            for (field, v) in [
                ("cows", r.cows),
                ("kg", r.kg),
                ("cows_per_hour", r.cows_per_hour),
                ("kg_per_hour", r.kg_per_hour),
                ("cows_per_hour_rolling", r.cows_per_hour_rolling),
            ] {
                within(field, v, f64::MAX)?;
            }
            if let Some(rot) = r.rotation_s {
                // Positive: a platform that turns in no time is not turning.
                if !(rot.is_finite() && rot > 0.0 && rot <= MAX_SPAN.num_seconds() as f64) {
                    return Err(("rotation_s", format!("0<..={}", MAX_SPAN.num_seconds())));
                }
            }
            if let Some(o) = r.occupancy {
                within("occupancy", o, 1.0)?;
            }
            if let Some(c) = r.milk_temp_c
                && !(c.is_finite() && (MIN_MILK_TEMP_C..=MAX_MILK_TEMP_C).contains(&c))
            {
                return Err((
                    "milk_temp_c",
                    format!("{MIN_MILK_TEMP_C}..={MAX_MILK_TEMP_C}"),
                ));
            }
            for (field, v) in [
                ("idle_bails", r.idle_bails),
                ("kickoffs", r.kickoffs),
                ("reattaches", r.reattaches),
                ("stops", r.stops),
            ] {
                within(field, v, f64::MAX)?;
            }
        }
        Record::Gap(g) => span(g.start, g.end, now)?,
        Record::Session(s) => {
            span(s.start, s.end, now)?;
            for (field, v) in [
                ("cows", s.cows),
                ("kg", s.kg),
                ("cows_per_hour", s.cows_per_hour),
                ("kg_per_hour", s.kg_per_hour),
            ] {
                within(field, v, f64::MAX)?;
            }
        }
        Record::Bails(b) => {
            when("t", b.t, now)?;
            for bail in &b.bails {
                if let Some(y) = bail.current_yield_kg {
                    within("bails.current_yield_kg", y, MAX_YIELD_KG)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use parlor_bridge::wire::{KpiInterval, MilkingEvent, OfflineGap, SessionSummary};

    use super::*;

    pub(crate) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn t(h: i64) -> DateTime<Utc> {
        now() - Duration::hours(h)
    }

    pub(crate) fn milking(yield_kg: f64) -> MilkingEvent {
        MilkingEvent {
            key: "east/3/0/1".into(),
            parlor: "east".into(),
            farm: "f".into(),
            unit: 1,
            bail: 3,
            epoch: 0,
            seq: 1,
            t: t(2),
            controller_t: None,
            cow_id: 42,
            yield_kg,
            duration_s: Some(390.0),
            conductivity_ms_cm: Some(5.0),
            high_conductivity: false,
            missed_before: 0,
        }
    }

    pub(crate) fn interval(start: DateTime<Utc>, end: DateTime<Utc>) -> KpiInterval {
        KpiInterval {
            key: "east/1".into(),
            parlor: "east".into(),
            farm: "f".into(),
            unit: 1,
            start,
            end,
            online_s: (end - start).num_seconds() as f64,
            cows: 300.0,
            kg: 3_600.0,
            cows_per_hour: 300.0,
            kg_per_hour: 3_600.0,
            cows_per_hour_rolling: 290.0,
            milkings: 300,
            rotation_s: Some(480.0),
            occupancy: Some(0.9),
            idle_bails: 2.0,
            kickoffs: 1.0,
            reattaches: 1.0,
            stops: 0.0,
            washes: 0,
            high_conductivity_alerts: 0,
            state: "running".into(),
            milk_temp_c: None,
            alarms: Vec::new(),
        }
    }

    pub(crate) fn gap(start: DateTime<Utc>, end: DateTime<Utc>) -> OfflineGap {
        OfflineGap {
            key: "east/g".into(),
            parlor: "east".into(),
            farm: "f".into(),
            start,
            end,
            controller_restarted: false,
        }
    }

    pub(crate) fn session(start: DateTime<Utc>, end: DateTime<Utc>) -> SessionSummary {
        SessionSummary {
            key: "east/s".into(),
            parlor: "east".into(),
            farm: "f".into(),
            start,
            end,
            cows: 600.0,
            kg: 7_000.0,
            cows_per_hour: 300.0,
            kg_per_hour: 3_500.0,
        }
    }

    fn refused(rec: Record) -> Option<&'static str> {
        check_record(&rec, now()).err().map(|(field, _)| field)
    }

    #[test]
    fn plausible_records_pass_even_when_odd() {
        for rec in [
            Record::Milking(milking(12.5)),
            Record::Milking(milking(0.0)),
            Record::Milking(milking(60.0)),
            Record::Interval(interval(t(1), t(0))),
            Record::Interval(interval(t(1), t(1))),
            Record::Gap(gap(t(24 * 7), t(0))),
            Record::Session(session(t(2), t(0))),
        ] {
            assert_eq!(refused(rec.clone()), None, "{rec:?}");
        }
        // A clock a few hours fast is drift, not a forgery.
        let mut m = milking(10.0);
        m.t = now() + Duration::hours(3);
        assert_eq!(refused(Record::Milking(m)), None);
    }

    #[test]
    fn fast_rates_over_short_spans_pass() {
        // Three cows counted in a ten-second interval: 1 080 an hour, a true figure.
        let mut r = interval(now() - Duration::seconds(10), now());
        r.cows = 3.0;
        r.cows_per_hour = 1_080.0;
        assert_eq!(refused(Record::Interval(r)), None);
    }

    #[test]
    fn impossible_milkings_are_refused() {
        for y in [-0.1, 1e300, 100.5, f64::INFINITY] {
            assert_eq!(
                refused(Record::Milking(milking(y))),
                Some("yield_kg"),
                "{y}"
            );
        }
        let mut m = milking(10.0);
        m.t = Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(refused(Record::Milking(m.clone())), Some("t"));
        m.t = Utc.with_ymd_and_hms(1999, 12, 31, 0, 0, 0).unwrap();
        assert_eq!(refused(Record::Milking(m)), Some("t"));
        let mut m = milking(10.0);
        m.duration_s = Some(-5.0);
        assert_eq!(refused(Record::Milking(m)), Some("duration_s"));
        let mut m = milking(10.0);
        m.conductivity_ms_cm = Some(1e9);
        assert_eq!(refused(Record::Milking(m)), Some("conductivity_ms_cm"));
    }

    #[test]
    fn impossible_spans_are_refused() {
        let year1 = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap();
        let year9999 = Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(refused(Record::Gap(gap(year1, year9999))), Some("start"));
        assert_eq!(refused(Record::Gap(gap(t(24 * 40), t(0)))), Some("end"));
        assert_eq!(refused(Record::Gap(gap(t(0), t(1)))), Some("end"));
        assert_eq!(refused(Record::Interval(interval(t(0), t(1)))), Some("end"));
        assert_eq!(refused(Record::Session(session(t(0), t(1)))), Some("end"));
    }

    #[test]
    fn impossible_rates_are_refused() {
        let mut r = interval(t(1), t(0));
        r.cows_per_hour = -5.0;
        assert_eq!(refused(Record::Interval(r)), Some("cows_per_hour"));
        let mut r = interval(t(1), t(0));
        r.online_s = 7_200.0;
        assert_eq!(refused(Record::Interval(r)), Some("online_s"));
        let mut r = interval(t(1), t(0));
        r.occupancy = Some(1.5);
        assert_eq!(refused(Record::Interval(r)), Some("occupancy"));
        let mut r = interval(t(1), t(0));
        r.rotation_s = Some(0.0);
        assert_eq!(refused(Record::Interval(r)), Some("rotation_s"));
        let mut r = interval(t(1), t(0));
        r.kg = -1.0;
        assert_eq!(refused(Record::Interval(r)), Some("kg"));
        let mut r = interval(t(1), t(0));
        r.milk_temp_c = Some(f64::NAN);
        assert_eq!(refused(Record::Interval(r)), Some("milk_temp_c"));
        let mut r = interval(t(1), t(0));
        r.milk_temp_c = Some(1e9);
        assert_eq!(refused(Record::Interval(r)), Some("milk_temp_c"));
        let mut s = session(t(2), t(0));
        s.cows = -1.0;
        assert_eq!(refused(Record::Session(s)), Some("cows"));
        let mut s = session(t(2), t(0));
        s.kg_per_hour = -3.0;
        assert_eq!(refused(Record::Session(s)), Some("kg_per_hour"));
    }
}
