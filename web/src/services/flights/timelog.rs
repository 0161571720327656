//! A flight's as-applied time log in ISO 11783-10's binary form (`TLG00001.XML` header and
//! `TLG00001.BIN` records), which farm management software reads as the machine's own log:
//! every position the vehicle reported with its work state, the target rate at that point and,
//! where the vehicle reported its pump output, the rate it laid.
//!
//! The format as ISO 11783-10:2015 annex D and its schema (`ISO11783_TimeLog_V4-3.xsd`)
//! define it: the header is a `TIM` with an empty `A` (start: in each record) and `D` 4, a
//! `PTN` whose empty `A` (north), `B` (east) and `D` (status) say each record carries them,
//! and one `DLV` per logged value (`A` the DDI in hex, `B` empty, `C` the device element).
//! Each binary record, little-endian: time of day in ms (u32) and days since 1980-01-01 (u16),
//! north and east in 10⁻⁷ degrees (i32), the position status (u8; 1 = GNSS fix), the count of
//! values that follow (u8), and each value as its DLV's index (u8) and the value (i32).

use geo::{Contains, MultiPolygon, Point};
use serde_json::Value;

use crate::services::flights::as_applied::{applied_segments, zone_shape};
use crate::services::flights::isoxml::{DDI_ACTUAL_WORK_STATE, DeviceRef, rate_to_ddi};
use crate::storage::RxZoneRow;

/// One logged position of the flight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogPoint {
    /// UTC, microseconds since the Unix epoch.
    pub time_us: u64,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// The pump was on.
    pub working: bool,
    /// The target rate here, in the DDI's unit (mm³/m² or mg/m²); 0 off the zones.
    pub setpoint: i64,
    /// The rate the pump laid here, in the same unit; `None` where it is not known.
    pub actual: Option<i64>,
}

/// The time log of a flight's `.tlog` against its plan (blocking work): every position the
/// vehicle reported, with the pump's state on the plan's pump output, the target rate of the
/// prescription zone there while the pump ran, and the rate the pump laid where its output was
/// reported and the plan's pump calibration reads it back (`config`: the plan's form). The
/// flag says whether the actual rates are known.
///
/// # Errors
/// A sentence for a log without frames or positions, or a stored plan that does not read.
pub fn points_of(
    tlog: &[u8],
    plan_file: &str,
    config: &Value,
    unit: &str,
    zones: &[RxZoneRow],
) -> Result<(Vec<LogPoint>, bool), String> {
    let (records, _) = telemetry::parse_tlog(tlog);
    let plan = telemetry::Plan::from_json(plan_file, std::path::Path::new("plan"))
        .map_err(|e| format!("stored plan unreadable: {e}"))?;
    let (sprayer, pump) = super::record::pump_of(&records, &plan, config);
    let track = telemetry::track_from_records(&records, Some(&plan), sprayer);
    if track.is_empty() {
        return Err("tlog: the log holds no position of the vehicle".to_owned());
    }
    let segments = pump.and_then(|p| applied_segments(&track, &p));
    let mut laid: Vec<Option<f64>> = vec![None; track.len()];
    for s in segments.iter().flatten() {
        laid[s.from_index] = s.per_m2;
    }
    let shapes: Vec<MultiPolygon> = zones.iter().map(|z| zone_shape(&z.geojson)).collect();
    let points = track
        .iter()
        .zip(&laid)
        .map(|(p, laid)| {
            let here = Point::new(p.lon, p.lat);
            let setpoint = if p.spraying {
                zones
                    .iter()
                    .zip(&shapes)
                    .find(|(_, s)| s.contains(&here))
                    .map_or(0, |(z, _)| rate_to_ddi(z.rate, unit))
            } else {
                0
            };
            LogPoint {
                time_us: p.time_us,
                lat: p.lat,
                lon: p.lon,
                working: p.spraying,
                setpoint,
                actual: segments
                    .as_ref()
                    .map(|_| laid.map_or(0, |r| (r * 1e6).round() as i64)),
            }
        })
        .collect();
    Ok((points, segments.is_some()))
}

/// The DDIs the log carries, in the order of its DLVs: work state, set point, and the actual
/// rate when it was measured.
fn ddis(setpoint_ddi: u16, actual_ddi: Option<u16>) -> Vec<u16> {
    let mut v = vec![DDI_ACTUAL_WORK_STATE, setpoint_ddi];
    v.extend(actual_ddi);
    v
}

/// The header file `TLG00001.XML`.
pub fn header_xml(setpoint_ddi: u16, actual_ddi: Option<u16>) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TIM A=\"\" D=\"4\">\n <PTN A=\"\" B=\"\" D=\"\"/>\n",
    );
    for ddi in ddis(setpoint_ddi, actual_ddi) {
        s.push_str(&format!(
            " <DLV A=\"{ddi:04X}\" B=\"\" C=\"{}\"/>\n",
            DeviceRef::ELEMENT_ID
        ));
    }
    s.push_str("</TIM>\n");
    s
}

/// Milliseconds since midnight and days since 1980-01-01, UTC.
fn iso_time(time_us: u64) -> (u32, u16) {
    const DAY_MS: u64 = 86_400_000;
    // 1980-01-01T00:00:00Z in ms since the Unix epoch.
    const EPOCH_1980_MS: u64 = 315_532_800_000;
    let ms = (time_us / 1000).saturating_sub(EPOCH_1980_MS);
    (
        (ms % DAY_MS) as u32,
        u16::try_from(ms / DAY_MS).unwrap_or(u16::MAX),
    )
}

/// The binary records `TLG00001.BIN` of `points`: every value in every record, so a reader
/// never has to carry a value over (the actual rate only when the header has its DLV).
pub fn binary(points: &[LogPoint], with_actual: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * 32);
    let deg =
        |d: f64| ((d * 1e7).round() as i64).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    let clamp = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    for p in points {
        let (ms, days) = iso_time(p.time_us);
        out.extend_from_slice(&ms.to_le_bytes());
        out.extend_from_slice(&days.to_le_bytes());
        out.extend_from_slice(&deg(p.lat).to_le_bytes());
        out.extend_from_slice(&deg(p.lon).to_le_bytes());
        out.push(1);
        let mut values = vec![(0u8, i32::from(p.working)), (1, clamp(p.setpoint))];
        if with_actual {
            values.push((2, clamp(p.actual.unwrap_or(0))));
        }
        out.push(values.len() as u8);
        for (i, v) in values {
            out.push(i);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_count_from_1980_in_utc() {
        // 1980-01-02T00:00:01.5Z.
        assert_eq!(
            iso_time((315_532_800_000 + 86_400_000 + 1500) * 1000),
            (1500, 1)
        );
        // 2026-06-01T03:00:00Z: 16 953 days after 1980-01-01.
        let t = chrono::DateTime::parse_from_rfc3339("2026-06-01T03:00:00Z").unwrap();
        let (ms, days) = iso_time(t.timestamp_micros() as u64);
        assert_eq!((ms, days), (3 * 3_600_000, 16_953));
    }

    #[test]
    fn a_record_is_laid_out_as_its_header_says() {
        let p = LogPoint {
            time_us: (315_532_800_000 + 2 * 86_400_000 + 7) * 1000,
            lat: 36.9,
            lon: -139.9,
            working: true,
            setpoint: 1600,
            actual: Some(1580),
        };
        let b = binary(&[p], true);
        // 4 + 2 + 4 + 4 + 1 + 1 + 3 × (1 + 4).
        assert_eq!(b.len(), 31);
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), 7);
        assert_eq!(u16::from_le_bytes(b[4..6].try_into().unwrap()), 2);
        assert_eq!(
            i32::from_le_bytes(b[6..10].try_into().unwrap()),
            369_000_000
        );
        assert_eq!(
            i32::from_le_bytes(b[10..14].try_into().unwrap()),
            -1_399_000_000
        );
        assert_eq!((b[14], b[15]), (1, 3));
        assert_eq!(b[16], 0);
        assert_eq!(i32::from_le_bytes(b[17..21].try_into().unwrap()), 1);
        assert_eq!(b[26], 2);
        assert_eq!(i32::from_le_bytes(b[27..31].try_into().unwrap()), 1580);
        // Without a measured rate the header has two DLVs and the record two values.
        assert_eq!(binary(&[p], false).len(), 26);
        let h = header_xml(0x0001, None);
        assert_eq!(h.matches("<DLV ").count(), 2);
        assert!(h.contains("<DLV A=\"008D\" B=\"\" C=\"DET1\"/>"), "{h}");
        assert!(header_xml(0x0001, Some(0x0002)).contains("A=\"0002\""));
    }
}
