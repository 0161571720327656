//! CSV export of stored records, in the shapes `check_truth.py` reads.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::BridgeError;
use crate::wire::{KpiInterval, MilkingEvent};

/// Parses a `--since` value: RFC 3339, UNIX seconds, or an age like `90s`, `15m`, `2h`, `3d` (before `now`).
///
/// # Errors
/// [`BridgeError::Time`] when the text is none of these.
pub fn parse_since(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, BridgeError> {
    let s = input.trim();
    let bad = || BridgeError::Time {
        input: input.to_string(),
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return DateTime::from_timestamp_millis((secs * 1000.0) as i64).ok_or_else(bad);
    }
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?,
    );
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(bad()),
    };
    Ok(now - chrono::Duration::milliseconds((secs * 1000.0) as i64))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Writes one row per milking: `t,parlor,bail,cow_id,yield_kg` (+ farm, parlor name, duration, conductivity, key).
///
/// `parlor` is the unit id (the simulator's parlor number); `parlor_name` is the configured name.
///
/// # Errors
/// The writer's I/O error.
pub fn write_milkings_csv(w: &mut dyn Write, rows: &[MilkingEvent]) -> std::io::Result<()> {
    writeln!(
        w,
        "t,parlor,bail,cow_id,yield_kg,duration_s,conductivity_ms_cm,parlor_name,farm,key"
    )?;
    for m in rows {
        writeln!(
            w,
            "{},{},{},{},{:.3},{},{},{},{},{}",
            ts(m.t),
            m.unit,
            m.bail,
            m.cow_id,
            m.yield_kg,
            m.duration_s.map(|d| format!("{d:.0}")).unwrap_or_default(),
            m.conductivity_ms_cm
                .map(|c| format!("{c:.2}"))
                .unwrap_or_default(),
            csv_field(&m.parlor),
            csv_field(&m.farm),
            csv_field(&m.key)
        )?;
    }
    Ok(())
}

/// Writes one row per KPI interval: `interval_start,interval_end,parlor,cows,kg,cows_per_hour` (+ more KPIs).
///
/// `parlor` is the unit id, as in the milking export; `parlor_name` is the configured name.
///
/// The span of an offline gap is a row with `state` = `offline`: its `cows`/`kg` are what the
/// totals advanced across the gap (times within it unknown), never zeros.
///
/// # Errors
/// The writer's I/O error.
pub fn write_intervals_csv(w: &mut dyn Write, rows: &[KpiInterval]) -> std::io::Result<()> {
    writeln!(
        w,
        "interval_start,interval_end,parlor,cows,kg,cows_per_hour,parlor_name,kg_per_hour,online_s,milkings,rotation_s,occupancy,idle_bails,kickoffs,reattaches,stops,washes,high_conductivity_alerts,state"
    )?;
    for i in rows {
        writeln!(
            w,
            "{},{},{},{:.0},{:.3},{:.2},{},{:.2},{:.1},{},{},{},{:.0},{:.0},{:.0},{:.0},{},{},{}",
            ts(i.start),
            ts(i.end),
            i.unit,
            i.cows,
            i.kg,
            i.cows_per_hour,
            csv_field(&i.parlor),
            i.kg_per_hour,
            i.online_s,
            i.milkings,
            i.rotation_s.map(|r| format!("{r:.1}")).unwrap_or_default(),
            i.occupancy.map(|o| format!("{o:.3}")).unwrap_or_default(),
            i.idle_bails,
            i.kickoffs,
            i.reattaches,
            i.stops,
            i.washes,
            i.high_conductivity_alerts,
            i.state
        )?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        assert_eq!(
            parse_since("2h", now).unwrap().timestamp(),
            1_000_000 - 7200
        );
        assert_eq!(
            parse_since("1700000000", now).unwrap().timestamp(),
            1_700_000_000
        );
        assert_eq!(
            parse_since("2026-11-25T06:00:00Z", now)
                .unwrap()
                .timestamp(),
            1_795_586_400
        );
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("5 parsecs", now).is_err());
    }
}
