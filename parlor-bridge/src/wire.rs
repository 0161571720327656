//! Versioned payloads the bridge sends to the server's ingest API (`web` deserializes the same types).
//!
//! Version 2 added [`Record::Bails`]; a batch without one is still sent as version 1, so
//! servers that predate it keep taking milkings. A new optional field is a compatible change;
//! anything else bumps [`WIRE_VERSION`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The payload version this crate writes.
pub const WIRE_VERSION: u32 = 2;

/// One completed milking, recorded once when the bail's `milking_seq` changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MilkingEvent {
    /// Dedupe key, unique per milking: `parlor/bail/epoch/seq/content-hash`.
    pub key: String,
    /// Parlor (device) name from the bridge config.
    pub parlor: String,
    /// Farm the parlor belongs to.
    pub farm: String,
    /// Unit id of the parlor (the simulator's parlor number).
    pub unit: u8,
    /// Bail number as the controller counts them (usually 1-based).
    pub bail: u16,
    /// Counter epoch of this bail: +1 each time its `milking_seq` was reset by a controller restart.
    pub epoch: u32,
    /// The controller's `milking_seq` for this milking.
    pub seq: u64,
    /// When the bridge saw the milking completed (bridge clock, UTC).
    pub t: DateTime<Utc>,
    /// The controller's clock at that poll, UTC seconds, when the map has one.
    pub controller_t: Option<i64>,
    /// Cow number (herd/management id; 0 = not identified).
    pub cow_id: u64,
    /// Yield of the milking, kg.
    pub yield_kg: f64,
    /// Cups-on time, seconds.
    pub duration_s: Option<f64>,
    /// Milk conductivity, mS/cm.
    pub conductivity_ms_cm: Option<f64>,
    /// Conductivity above the alert threshold.
    pub high_conductivity: bool,
    /// Milkings on this bail the bridge could not see between the previous record and this one.
    pub missed_before: u64,
}

/// Throughput and platform KPIs of one parlor over one interval in which it was (at least partly) online.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiInterval {
    /// Dedupe key: `parlor/interval_start_ms`.
    pub key: String,
    /// Parlor name.
    pub parlor: String,
    /// Farm.
    pub farm: String,
    /// Unit id of the parlor (the simulator's parlor number).
    pub unit: u8,
    /// Start of the interval (inclusive).
    pub start: DateTime<Utc>,
    /// End of the interval (exclusive).
    pub end: DateTime<Utc>,
    /// Seconds of the interval the parlor answered.
    pub online_s: f64,
    /// Completed milkings counted from `cows_milked_total` (wraps and resets handled).
    pub cows: f64,
    /// Milk from `milk_total`, kg.
    pub kg: f64,
    /// Cows per hour over the interval.
    pub cows_per_hour: f64,
    /// Kilograms per hour over the interval.
    pub kg_per_hour: f64,
    /// Cows per hour over the rolling window ending at the interval's end.
    pub cows_per_hour_rolling: f64,
    /// Milking events recorded in the interval (per-bail records).
    pub milkings: u64,
    /// Mean rotation time while rotating, s/rev.
    pub rotation_s: Option<f64>,
    /// Mean share of bails occupied (0..1).
    pub occupancy: Option<f64>,
    /// Empty bails that passed the entrance while cows waited.
    pub idle_bails: f64,
    /// Cluster kick-offs.
    pub kickoffs: f64,
    /// Re-attachments after a kick-off.
    pub reattaches: f64,
    /// Platform stops.
    pub stops: f64,
    /// Wash cycles started.
    pub washes: u64,
    /// High-conductivity alerts (milkings above the threshold, else alarm rising edges).
    pub high_conductivity_alerts: u64,
    /// Platform state at the interval's end; `offline` for the span of a gap, whose
    /// `cows`/`kg` are what the totals advanced across it (times within it unknown).
    pub state: String,
    /// Mean milk-line temperature over the interval's polls, °C (maps with a `milk_temp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milk_temp_c: Option<f64>,
    /// Alarms active at the interval's end, by name (as in [`PlatformStatus::alarms`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
}

/// A span in which a parlor did not answer: recorded as a gap, never as zeros.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineGap {
    /// Dedupe key: `parlor/start_ms`.
    pub key: String,
    /// Parlor name.
    pub parlor: String,
    /// Farm.
    pub farm: String,
    /// Last successful poll before the gap.
    pub start: DateTime<Utc>,
    /// First successful poll after it.
    pub end: DateTime<Utc>,
    /// Whether the controller restarted during the gap (counters were reset).
    pub controller_restarted: bool,
}

/// One milking session (platform running or stopped between idle/wash periods).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Dedupe key: `parlor/session_start_ms`.
    pub key: String,
    /// Parlor name.
    pub parlor: String,
    /// Farm.
    pub farm: String,
    /// Session start (first poll seeing running/stopped).
    pub start: DateTime<Utc>,
    /// Session end (first poll seeing off/washing).
    pub end: DateTime<Utc>,
    /// Cows milked in the session.
    pub cows: f64,
    /// Milk in the session, kg.
    pub kg: f64,
    /// Cows per hour over the session.
    pub cows_per_hour: f64,
    /// Kilograms per hour over the session.
    pub kg_per_hour: f64,
}

/// One bail of a [`BailSnapshot`]: who is on it and what it is doing now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BailState {
    /// Bail number as the controller counts them.
    pub bail: u16,
    /// Canonical bail state (`empty`, `prep`, `milking`, `done`, `kicked_off`), `unknown` when the map has none.
    pub state: String,
    /// Cow on the bail now (0 = empty or not identified).
    pub cow_id: u64,
    /// Yield so far of the milking in progress, kg, when the map has it.
    pub current_yield_kg: Option<f64>,
    /// Something on this bail needs a person: a kick-off, or the last milking's conductivity was high.
    pub alarm: bool,
}

impl BailState {
    /// A cow is on the bail: its state is known and not `empty`.
    pub fn occupied(&self) -> bool {
        self.state != "empty" && !self.state.starts_with("unknown")
    }
}

/// The whole platform's bails at one poll: a latest-wins view, not history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BailSnapshot {
    /// Key: `parlor/t_ms`.
    pub key: String,
    /// Parlor name.
    pub parlor: String,
    /// Farm.
    pub farm: String,
    /// Unit id of the parlor.
    pub unit: u8,
    /// When the bails were read (bridge clock, UTC).
    pub t: DateTime<Utc>,
    /// Bail at the entrance now, when the map has it.
    pub entrance_bail: Option<u16>,
    /// Every bail read, in bail order.
    pub bails: Vec<BailState>,
}

impl BailSnapshot {
    /// Bails with a cow on them (a known state other than `empty`).
    pub fn occupied(&self) -> usize {
        self.bails.iter().filter(|b| b.occupied()).count()
    }
}

/// A parlor's platform state now: published retained on MQTT `…/state` whenever it changes
/// (platform state, active alarms, or whether the parlor answers). Latest wins; not sent to
/// the HTTP ingest (it is not a [`Record`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformStatus {
    /// Key: `parlor/state/t_ms`.
    pub key: String,
    /// Parlor name.
    pub parlor: String,
    /// Farm.
    pub farm: String,
    /// Unit id of the parlor.
    pub unit: u8,
    /// When the change was seen (bridge clock, UTC).
    pub t: DateTime<Utc>,
    /// The parlor answers Modbus polls.
    pub online: bool,
    /// Canonical platform state (`off`, `running`, `stopped`, `washing`, `fault`), `unknown`
    /// when the map has none; the last known state while offline.
    pub state: String,
    /// Alarms active now, by name (the map's `alarm_bits` names, `alarm_active`, `platform_fault`).
    pub alarms: Vec<String>,
}

/// An alarm raised or cleared on a parlor: published on MQTT `…/alarm`, once per edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmEvent {
    /// Dedupe key: `parlor/alarm/name/t_ms/on` (or `/off`).
    pub key: String,
    /// Parlor name.
    pub parlor: String,
    /// Farm.
    pub farm: String,
    /// Unit id of the parlor.
    pub unit: u8,
    /// When the edge was seen (bridge clock, UTC).
    pub t: DateTime<Utc>,
    /// The alarm: a name from the map's `alarm_bits`, `alarm_active` (a map with only a summary
    /// bit) or `platform_fault` (the platform state is `fault`).
    pub alarm: String,
    /// True when raised, false when cleared.
    pub active: bool,
}

/// Any record the bridge forwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A milking.
    Milking(MilkingEvent),
    /// A KPI interval.
    Interval(KpiInterval),
    /// An offline span.
    Gap(OfflineGap),
    /// A milking session.
    Session(SessionSummary),
    /// The latest state of every bail (latest wins; servers before it refuse nothing else).
    Bails(BailSnapshot),
}

impl Record {
    /// The record's dedupe key (unique per kind).
    pub fn key(&self) -> &str {
        match self {
            Record::Milking(m) => &m.key,
            Record::Interval(i) => &i.key,
            Record::Gap(g) => &g.key,
            Record::Session(s) => &s.key,
            Record::Bails(b) => &b.key,
        }
    }

    /// The record kind as a short word (`milking`, `interval`, `gap`, `session`, `bails`).
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Milking(_) => "milking",
            Record::Interval(_) => "interval",
            Record::Gap(_) => "gap",
            Record::Session(_) => "session",
            Record::Bails(_) => "bails",
        }
    }
}

/// The lowest wire version that carries all of `records` (1 unless one is a [`Record::Bails`]).
pub fn version_for(records: &[Record]) -> u32 {
    if records.iter().any(|r| matches!(r, Record::Bails(_))) {
        2
    } else {
        1
    }
}

/// A batch POSTed to the ingest API; `batch_key` is also sent as the `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestBatch {
    /// Payload version ([`WIRE_VERSION`]).
    pub version: u32,
    /// Identifies the sending bridge.
    pub bridge_id: String,
    /// Idempotency key of the batch: the same key always carries the same records.
    pub batch_key: String,
    /// The records, oldest first.
    pub records: Vec<Record>,
}

/// What the ingest API answers to a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestAck {
    /// The batch acknowledged.
    pub batch_key: String,
    /// Records newly stored.
    pub accepted: u64,
    /// Records already present (a retry or an overlapping batch).
    pub duplicates: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bail_state() -> impl Strategy<Value = BailState> {
        (
            1u16..200,
            prop::sample::select(vec![
                "empty",
                "prep",
                "milking",
                "done",
                "kicked_off",
                "unknown",
            ]),
            any::<u64>(),
            // Yields come in register steps of 0.01 kg.
            prop::option::of((0u32..8000).prop_map(|c| f64::from(c) / 100.0)),
            any::<bool>(),
        )
            .prop_map(|(bail, state, cow_id, current_yield_kg, alarm)| BailState {
                bail,
                state: state.to_owned(),
                cow_id,
                current_yield_kg,
                alarm,
            })
    }

    proptest! {
        #[test]
        fn bail_snapshots_roundtrip(
            parlor in "[a-z0-9-]{1,12}",
            unit in any::<u8>(),
            t_ms in 0i64..4_000_000_000_000,
            entrance_bail in prop::option::of(1u16..200),
            bails in prop::collection::vec(bail_state(), 0..80),
        ) {
            let snap = BailSnapshot {
                key: format!("{parlor}/{t_ms}"),
                parlor,
                farm: "f".into(),
                unit,
                t: DateTime::from_timestamp_millis(t_ms).unwrap(),
                entrance_bail,
                bails,
            };
            let occupied = snap.bails.iter().filter(|b| !matches!(b.state.as_str(), "empty" | "unknown")).count();
            prop_assert_eq!(snap.occupied(), occupied);
            let rec = Record::Bails(snap);
            let json = serde_json::to_string(&rec).unwrap();
            prop_assert!(json.starts_with("{\"type\":\"bails\""), "{}", json);
            prop_assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), rec.clone());
            let batch = IngestBatch { version: WIRE_VERSION, bridge_id: "b".into(), batch_key: "k".into(), records: vec![rec] };
            let back: IngestBatch = serde_json::from_str(&serde_json::to_string(&batch).unwrap()).unwrap();
            prop_assert_eq!(back, batch);
        }
    }

    #[test]
    fn records_roundtrip_as_tagged_json() {
        let g = Record::Gap(OfflineGap {
            key: "p1/1000".into(),
            parlor: "p1".into(),
            farm: "f".into(),
            start: DateTime::from_timestamp(1, 0).unwrap(),
            end: DateTime::from_timestamp(5, 0).unwrap(),
            controller_restarted: false,
        });
        let json = serde_json::to_string(&g).unwrap();
        assert!(json.starts_with("{\"type\":\"gap\""), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), g);
    }
}
