//! Pure transform: decoded polls of one parlor → milking events, KPI intervals, sessions and gaps.
//!
//! Counting rules (see MAP_A.md "Counting"): integer counters are differenced modulo 2^bits;
//! a drop of half the range or more, or a detected controller restart, means a reset and the new
//! value is the delta; a float total that went down was reset. A milking is recorded when a bail's
//! `(milking_seq, last_*)` changes, keyed by `(parlor, bail, epoch, seq, content)` so that neither
//! a reconnect, nor a restart of the bridge from its saved [`TrackerState`], repeats one.
//!
//! The tracker also follows the platform's state and alarms: a [`PlatformStatus`] whenever the
//! state, the set of active alarms or whether the parlor answers changes, and one
//! [`AlarmEvent`] per alarm raised or cleared. Like the records, these edges are remembered in
//! the [`TrackerState`], so a restart of the bridge neither repeats nor skips one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::register_map::{CounterSample, Value};
use crate::wire::{
    AlarmEvent, KpiInterval, MilkingEvent, OfflineGap, PlatformStatus, SessionSummary,
};

/// The completed-milking fields of one bail, decoded from one read of its block.
#[derive(Debug, Clone, PartialEq)]
pub struct BailReading {
    /// Bail number.
    pub bail: u16,
    /// `milking_seq` raw value.
    pub seq: u64,
    /// Width of `milking_seq` in bits.
    pub seq_bits: u32,
    /// `last_cow_id` (0 = not identified).
    pub last_cow_id: u64,
    /// `last_yield`, kg.
    pub last_yield_kg: f64,
    /// `last_duration`, s.
    pub last_duration_s: Option<f64>,
    /// `last_conductivity`, mS/cm.
    pub last_conductivity: Option<f64>,
    /// Cow on the bail now, if the map has it.
    pub cow_id: Option<u64>,
    /// Canonical bail state, if the map has it.
    pub state: Option<String>,
}

impl BailReading {
    fn content(&self) -> u64 {
        // FNV-1a over the rounded values: the same registers always give the same hash.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in [
            self.last_cow_id,
            (self.last_yield_kg * 1000.0).round() as i64 as u64,
            self.last_duration_s
                .map_or(u64::MAX, |d| d.round() as i64 as u64),
            self.last_conductivity
                .map_or(u64::MAX, |c| (c * 1000.0).round() as i64 as u64),
        ] {
            for b in v.to_le_bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }

    fn holds_nothing(&self) -> bool {
        self.last_cow_id == 0
            && self.last_yield_kg == 0.0
            && self.last_duration_s.is_none_or(|d| d == 0.0)
    }
}

/// One poll cycle of one parlor: whatever was read successfully, decoded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// When the cycle finished (bridge clock).
    pub t: DateTime<Utc>,
    /// Platform values read this cycle, by quantity.
    pub platform: BTreeMap<String, Value>,
    /// Bails read this cycle.
    pub bails: Vec<BailReading>,
    /// Occupied bails counted from bail bits or states, when read this cycle.
    pub occupied_bits: Option<u32>,
    /// Number of bails of the platform.
    pub bail_count: u16,
}

/// Settings of the transform.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerConfig {
    /// Parlor name.
    pub parlor: String,
    /// Farm name.
    pub farm: String,
    /// Unit id.
    pub unit: u8,
    /// KPI interval length, ms.
    pub interval_ms: i64,
    /// Rolling cows/h window, ms.
    pub rolling_ms: i64,
    /// No successful poll for this long is a gap, ms.
    pub offline_after_ms: i64,
    /// Conductivity above this is an alert, mS/cm.
    pub high_conductivity_ms_cm: f64,
}

/// What one bail remembers: the last record seen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BailMemory {
    /// Epoch of the bail's sequence (bumped on resets).
    pub epoch: u32,
    /// Last `milking_seq` seen.
    pub seq: u64,
    /// Hash of the last `last_*` fields seen.
    pub content: u64,
    /// A controller restart was seen and this bail has not been read since.
    pub reset_pending: bool,
}

/// Saved counter reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum CounterMemory {
    /// Integer counter raw value and width.
    Int {
        /// Raw value.
        raw: u64,
        /// Width in bits.
        bits: u32,
    },
    /// Float total.
    Float(f64),
}

/// The open KPI interval being accumulated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenInterval {
    /// Interval index (`start_ms / interval_ms`).
    pub idx: i64,
    /// Start of what the interval covers when later than its aligned start (first poll, or after a gap).
    pub from_ms: Option<i64>,
    /// Online milliseconds.
    pub online_ms: i64,
    /// Sums of counter deltas, by quantity.
    pub sums: BTreeMap<String, f64>,
    /// Milking events.
    pub milkings: u64,
    /// Washes started.
    pub washes: u64,
    /// High-conductivity alerts.
    pub alerts: u64,
    /// Sum and count of rotation-time samples.
    pub rotation: (f64, u64),
    /// Sum and count of occupancy samples.
    pub occupancy: (f64, u64),
    /// Sum and count of milk-line temperature samples, °C (absent in state saved before it).
    #[serde(default)]
    pub milk_temp: (f64, u64),
}

/// The open milking session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenSession {
    /// Start, ms.
    pub start_ms: i64,
    /// Cows so far.
    pub cows: f64,
    /// Kg so far.
    pub kg: f64,
}

/// Everything the transform remembers; saved with the records it produced so a restart resumes exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackerState {
    /// Per bail.
    pub bails: BTreeMap<u16, BailMemory>,
    /// Per counter quantity.
    pub counters: BTreeMap<String, CounterMemory>,
    /// Estimated controller boot time (`clock - heartbeat`, mod 2^heartbeat bits).
    pub boot: Option<(u64, u32)>,
    /// Last heartbeat when there is no clock.
    pub heartbeat: Option<(u64, u32)>,
    /// Last successful poll, ms.
    pub last_ok_ms: Option<i64>,
    /// A restart was seen while offline (for the gap record).
    pub restarted_in_gap: bool,
    /// Open interval.
    pub open: Option<OpenInterval>,
    /// Open session.
    pub session: Option<OpenSession>,
    /// Last canonical platform state.
    pub state: Option<String>,
    /// Last `high_conductivity` alarm bit.
    pub alarm_high_cond: bool,
    /// Rolling window of (t_ms, cows) deltas.
    pub rolling: VecDeque<(i64, f64)>,
    /// Alarms active at the last sample that showed them (see [`AlarmEvent::alarm`]).
    #[serde(default)]
    pub alarms: BTreeSet<String>,
    /// The parlor was marked offline ([`ParlorTracker::mark_offline`]) and has not answered since.
    #[serde(default)]
    pub offline: bool,
}

/// What one sample produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Milkings completed.
    pub events: Vec<MilkingEvent>,
    /// Intervals closed.
    pub intervals: Vec<KpiInterval>,
    /// Gaps ended.
    pub gaps: Vec<OfflineGap>,
    /// Sessions ended.
    pub sessions: Vec<SessionSummary>,
    /// A controller restart was detected.
    pub restart_detected: bool,
    /// The state of every bail, when one is due (latest wins; the bridge sets it, not the tracker).
    pub bails: Option<crate::wire::BailSnapshot>,
    /// The platform's state, when it changed (state, active alarms, online).
    pub status: Option<PlatformStatus>,
    /// Alarms raised or cleared.
    pub alarms: Vec<AlarmEvent>,
}

impl Output {
    /// True when nothing was produced.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.intervals.is_empty()
            && self.gaps.is_empty()
            && self.sessions.is_empty()
            && self.bails.is_none()
            && self.status.is_none()
            && self.alarms.is_empty()
    }
}

/// The alarm name of a map's summary bit (`alarm_active`) when it has no `alarm_bits`.
const ALARM_ACTIVE: &str = "alarm_active";
/// The alarm name of a platform in the `fault` state.
const PLATFORM_FAULT: &str = "platform_fault";

const COUNTERS: [&str; 8] = [
    "cows_milked_total",
    "milk_total",
    "kickoffs_total",
    "reattach_total",
    "platform_stops_total",
    "idle_bails_total",
    "go_around_total",
    "rotation_count",
];

/// The difference of two counter readings; `restart` says the controller restarted in between.
///
/// Integers: modulo 2^bits; a drop of at least half the range (or any drop across a restart)
/// is a reset, and the new value is the delta. Floats: a drop is a reset. Never negative.
pub fn counter_delta(prev: CounterMemory, now: CounterSample, restart: bool) -> f64 {
    match (prev, now) {
        (
            CounterMemory::Int { raw: p, bits: pb },
            CounterSample::Int {
                raw: n,
                bits,
                per_count,
            },
        ) if pb == bits => {
            let m = if bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let d = n.wrapping_sub(p) & m;
            let half = if bits >= 64 {
                1u64 << 63
            } else {
                1u64 << (bits - 1)
            };
            let count = if restart {
                if n < p { n } else { n - p }
            } else if d >= half {
                n
            } else {
                d
            };
            count as f64 * per_count
        }
        (_, CounterSample::Int { .. }) => 0.0,
        (CounterMemory::Float(p), CounterSample::Float(n)) => {
            if !n.is_finite() {
                0.0
            } else if n < p {
                n.max(0.0)
            } else {
                n - p
            }
        }
        (_, CounterSample::Float(_)) => 0.0,
    }
}

fn memory_of(s: CounterSample) -> CounterMemory {
    match s {
        CounterSample::Int { raw, bits, .. } => CounterMemory::Int { raw, bits },
        CounterSample::Float(v) => CounterMemory::Float(v),
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The canonical platform state from an enum, or from running/wash bits when the map has no enum.
pub fn platform_state(platform: &BTreeMap<String, Value>) -> Option<String> {
    if let Some(Value::Label(l)) = platform.get("platform_state") {
        return Some(l.clone());
    }
    let bit = |q: &str| match platform.get(q) {
        Some(Value::Bit(b)) => Some(*b),
        Some(v) => v.as_f64().map(|x| x != 0.0),
        None => None,
    };
    match (bit("platform_running"), bit("wash_active")) {
        (Some(true), _) => Some("running".into()),
        (_, Some(true)) => Some("washing".into()),
        (Some(false), _) => Some(
            if platform
                .get("rotation_time")
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
                > 0.0
            {
                "running"
            } else {
                "stopped"
            }
            .into(),
        ),
        _ => None,
    }
}

/// Pure state machine for one parlor.
#[derive(Debug, Clone)]
pub struct ParlorTracker {
    cfg: TrackerConfig,
    state: TrackerState,
}

impl ParlorTracker {
    /// A tracker resuming from `state` (use `TrackerState::default()` the first time).
    pub fn new(cfg: TrackerConfig, state: TrackerState) -> ParlorTracker {
        ParlorTracker { cfg, state }
    }

    /// The state to save together with the records of the last [`ParlorTracker::observe`].
    pub fn state(&self) -> &TrackerState {
        &self.state
    }

    /// The settings.
    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// Cows per hour over the rolling window ending at the last sample.
    pub fn rolling_cows_per_hour(&self) -> f64 {
        let cows: f64 = self.state.rolling.iter().map(|(_, c)| c).sum();
        cows * 3_600_000.0 / self.cfg.rolling_ms as f64
    }

    fn detect_restart(&mut self, s: &Sample) -> bool {
        let hb = match s.platform.get("heartbeat") {
            Some(Value::Counter(CounterSample::Int { raw, bits, .. })) => Some((*raw, *bits)),
            _ => None,
        };
        let clock = s.platform.get("controller_clock").and_then(Value::as_f64);
        let mut restart = false;
        match (hb, clock) {
            (Some((h, bits)), Some(c)) => {
                let m = if bits >= 64 {
                    u64::MAX
                } else {
                    (1u64 << bits) - 1
                };
                let boot = (c as u64).wrapping_sub(h) & m;
                if let Some((old, ob)) = self.state.boot
                    && ob == bits
                {
                    let d = boot.wrapping_sub(old) & m;
                    let dist = d.min(m - d + 1);
                    restart = dist > 3;
                }
                self.state.boot = Some((boot, bits));
            }
            (Some((h, bits)), None) => {
                if let Some((old, ob)) = self.state.heartbeat
                    && ob == bits
                {
                    let half = 1u64 << (bits.min(63) - 1);
                    let m = if bits >= 64 {
                        u64::MAX
                    } else {
                        (1u64 << bits) - 1
                    };
                    restart = (h.wrapping_sub(old) & m) >= half;
                }
                self.state.heartbeat = Some((h, bits));
            }
            _ => {}
        }
        // Without a heartbeat, a total that went down by more than half its range also tells.
        if !restart
            && hb.is_none()
            && let (
                Some(Value::Counter(CounterSample::Int { raw, bits, .. })),
                Some(CounterMemory::Int { raw: p, bits: pb }),
            ) = (
                s.platform.get("cows_milked_total"),
                self.state.counters.get("cows_milked_total"),
            )
            && bits == pb
        {
            let m = if *bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            restart = (raw.wrapping_sub(*p) & m) >= (1u64 << (bits.min(&63) - 1));
        }
        restart
    }

    fn close_interval(&mut self, out: &mut Output) {
        let Some(open) = self.state.open.take() else {
            return;
        };
        let iv = self.cfg.interval_ms;
        let end = (open.idx + 1) * iv;
        let start = open
            .from_ms
            .unwrap_or(open.idx * iv)
            .clamp(open.idx * iv, end - 1);
        let sum = |q: &str| open.sums.get(q).copied().unwrap_or(0.0);
        let hours = (end - start) as f64 / 3_600_000.0;
        let cows = sum("cows_milked_total");
        let kg = sum("milk_total");
        out.intervals.push(KpiInterval {
            key: format!("{}/{}", self.cfg.parlor, open.idx * iv),
            parlor: self.cfg.parlor.clone(),
            farm: self.cfg.farm.clone(),
            unit: self.cfg.unit,
            start: at(start),
            end: at(end),
            online_s: open.online_ms as f64 / 1000.0,
            cows,
            kg,
            cows_per_hour: cows / hours,
            kg_per_hour: kg / hours,
            cows_per_hour_rolling: self.rolling_cows_per_hour(),
            milkings: open.milkings,
            rotation_s: (open.rotation.1 > 0).then(|| open.rotation.0 / open.rotation.1 as f64),
            occupancy: (open.occupancy.1 > 0).then(|| open.occupancy.0 / open.occupancy.1 as f64),
            idle_bails: sum("idle_bails_total"),
            kickoffs: sum("kickoffs_total"),
            reattaches: sum("reattach_total"),
            stops: sum("platform_stops_total"),
            washes: open.washes,
            high_conductivity_alerts: open.alerts,
            state: self.state.state.clone().unwrap_or_else(|| "unknown".into()),
            milk_temp_c: (open.milk_temp.1 > 0).then(|| open.milk_temp.0 / open.milk_temp.1 as f64),
            alarms: self.state.alarms.iter().cloned().collect(),
        });
    }

    /// Feeds one successful poll cycle; returns the records it completes.
    #[allow(clippy::too_many_lines)]
    pub fn observe(&mut self, s: &Sample) -> Output {
        let mut out = Output::default();
        let now = ms(s.t);
        let status_before = self.status_view();
        let restart = self.detect_restart(s);
        out.restart_detected = restart;

        // Gap bookkeeping.
        let prev_ok = self.state.last_ok_ms;
        let mut online_add = 0;
        let mut gap: Option<OfflineGap> = None;
        if let Some(p) = prev_ok {
            let dt = now - p;
            if dt > self.cfg.offline_after_ms {
                gap = Some(OfflineGap {
                    key: format!("{}/{p}", self.cfg.parlor),
                    parlor: self.cfg.parlor.clone(),
                    farm: self.cfg.farm.clone(),
                    start: at(p),
                    end: s.t,
                    controller_restarted: restart,
                });
            } else if dt > 0 {
                online_add = dt;
            }
        }
        self.state.last_ok_ms = Some(now.max(prev_ok.unwrap_or(now)));

        // Interval rollover (deltas of this sample belong to the interval it falls in).
        let idx = now.div_euclid(self.cfg.interval_ms);
        if self.state.open.as_ref().is_some_and(|o| o.idx < idx) {
            self.close_interval(&mut out);
        }
        if self.state.open.as_ref().is_none_or(|o| o.idx != idx) {
            // A fresh start or the end of a gap: the interval covers only what follows.
            let from_ms = (prev_ok.is_none() || gap.is_some()).then_some(now);
            self.state.open = Some(OpenInterval {
                idx,
                from_ms,
                ..OpenInterval::default()
            });
        }

        // Counters.
        let mut deltas: BTreeMap<&str, f64> = BTreeMap::new();
        for q in COUNTERS {
            if let Some(Value::Counter(c)) = s.platform.get(q) {
                if let Some(prev) = self.state.counters.get(q) {
                    deltas.insert(q, counter_delta(*prev, *c, restart));
                }
                self.state.counters.insert(q.to_string(), memory_of(*c));
            }
        }

        // Platform state, sessions and washes.
        let state = platform_state(&s.platform);
        let mut washes = 0;
        if let Some(st) = &state {
            let in_session = |x: &str| x == "running" || x == "stopped" || x == "fault";
            let prev = self.state.state.clone();
            if st == "washing" && prev.as_deref().is_some_and(|p| p != "washing") {
                washes += 1;
            }
            match (&mut self.state.session, in_session(st)) {
                (None, true) => {
                    self.state.session = Some(OpenSession {
                        start_ms: now,
                        ..OpenSession::default()
                    })
                }
                (Some(sess), false) => {
                    let hours = ((now - sess.start_ms) as f64 / 3_600_000.0).max(1e-9);
                    out.sessions.push(SessionSummary {
                        key: format!("{}/{}", self.cfg.parlor, sess.start_ms),
                        parlor: self.cfg.parlor.clone(),
                        farm: self.cfg.farm.clone(),
                        start: at(sess.start_ms),
                        end: s.t,
                        cows: sess.cows,
                        kg: sess.kg,
                        cows_per_hour: sess.cows / hours,
                        kg_per_hour: sess.kg / hours,
                    });
                    self.state.session = None;
                }
                _ => {}
            }
            self.state.state = Some(st.clone());
        }
        if let Some(sess) = &mut self.state.session {
            sess.cows += deltas.get("cows_milked_total").copied().unwrap_or(0.0);
            sess.kg += deltas.get("milk_total").copied().unwrap_or(0.0);
        }
        let cows_now = deltas.get("cows_milked_total").copied().unwrap_or(0.0);
        self.state.rolling.push_back((now, cows_now));
        while self
            .state
            .rolling
            .front()
            .is_some_and(|(t, _)| *t <= now - self.cfg.rolling_ms)
        {
            self.state.rolling.pop_front();
        }

        // Alarms.
        let alarm_hc = matches!(s.platform.get("alarm_bits"), Some(Value::Flags(_, names)) if names.iter().any(|n| n == "high_conductivity"));
        let hc_edge = alarm_hc && !self.state.alarm_high_cond;
        self.state.alarm_high_cond = alarm_hc;

        // Bails → milking events.
        if restart {
            for m in self.state.bails.values_mut() {
                m.reset_pending = true;
            }
        }
        let mut alerts = 0u64;
        let mut any_conductivity = false;
        for b in &s.bails {
            let content = b.content();
            let Some(mem) = self.state.bails.get_mut(&b.bail) else {
                // First contact: the bail's last record predates the bridge; take it as the baseline.
                self.state.bails.insert(
                    b.bail,
                    BailMemory {
                        epoch: 0,
                        seq: b.seq,
                        content,
                        reset_pending: false,
                    },
                );
                continue;
            };
            if b.seq == mem.seq && content == mem.content {
                mem.reset_pending = false;
                continue;
            }
            if b.holds_nothing() {
                // Counters were reset and no milking completed since.
                mem.epoch += 1;
                mem.seq = b.seq;
                mem.content = content;
                mem.reset_pending = false;
                continue;
            }
            let bits = b.seq_bits.min(64);
            let m = if bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let diff = b.seq.wrapping_sub(mem.seq) & m;
            let half = 1u64 << (bits.max(1) - 1);
            let reset = mem.reset_pending || diff >= half || diff == 0;
            let missed = if reset {
                mem.epoch += 1;
                b.seq.saturating_sub(1)
            } else {
                diff - 1
            };
            mem.seq = b.seq;
            mem.content = content;
            mem.reset_pending = false;
            let high = b
                .last_conductivity
                .is_some_and(|c| c > self.cfg.high_conductivity_ms_cm);
            if b.last_conductivity.is_some() {
                any_conductivity = true;
            }
            alerts += u64::from(high);
            out.events.push(MilkingEvent {
                key: format!(
                    "{}/{}/{}/{}/{content:016x}",
                    self.cfg.parlor, b.bail, mem.epoch, b.seq
                ),
                parlor: self.cfg.parlor.clone(),
                farm: self.cfg.farm.clone(),
                unit: self.cfg.unit,
                bail: b.bail,
                epoch: mem.epoch,
                seq: b.seq,
                t: s.t,
                controller_t: s
                    .platform
                    .get("controller_clock")
                    .and_then(Value::as_f64)
                    .map(|c| c as i64),
                cow_id: b.last_cow_id,
                yield_kg: (b.last_yield_kg * 1000.0).round() / 1000.0,
                duration_s: b.last_duration_s,
                conductivity_ms_cm: b.last_conductivity,
                high_conductivity: high,
                missed_before: missed,
            });
        }
        if !any_conductivity && hc_edge {
            alerts += 1;
        }

        // Accumulate into the open interval.
        let open = self.state.open.get_or_insert_with(|| OpenInterval {
            idx,
            ..OpenInterval::default()
        });
        open.online_ms += online_add;
        if gap.is_none() {
            for (q, d) in &deltas {
                *open.sums.entry((*q).to_string()).or_insert(0.0) += d;
            }
        }
        open.milkings += out.events.len() as u64;
        open.washes += washes;
        open.alerts += alerts;
        if let Some(r) = s.platform.get("rotation_time").and_then(Value::as_f64)
            && r > 0.0
        {
            open.rotation.0 += r;
            open.rotation.1 += 1;
        }
        let occupied = s
            .platform
            .get("occupied_bails")
            .and_then(Value::as_f64)
            .or(s.occupied_bits.map(f64::from));
        if let Some(o) = occupied
            && s.bail_count > 0
        {
            open.occupancy.0 += o / f64::from(s.bail_count);
            open.occupancy.1 += 1;
        }
        if let Some(c) = s.platform.get("milk_temp").and_then(Value::as_f64) {
            open.milk_temp.0 += c;
            open.milk_temp.1 += 1;
        }
        if let Some(g) = gap {
            // What the totals advanced across the gap happened in the gap, at unknown times:
            // an `offline` interval spanning it carries that, beside the gap record.
            let d = |q: &str| deltas.get(q).copied().unwrap_or(0.0);
            let hours = ((ms(g.end) - ms(g.start)) as f64 / 3_600_000.0).max(1e-9);
            out.intervals.push(KpiInterval {
                key: format!("{}/gap/{}", self.cfg.parlor, ms(g.start)),
                parlor: self.cfg.parlor.clone(),
                farm: self.cfg.farm.clone(),
                unit: self.cfg.unit,
                start: g.start,
                end: g.end,
                online_s: 0.0,
                cows: d("cows_milked_total"),
                kg: d("milk_total"),
                cows_per_hour: d("cows_milked_total") / hours,
                kg_per_hour: d("milk_total") / hours,
                cows_per_hour_rolling: self.rolling_cows_per_hour(),
                milkings: 0,
                rotation_s: None,
                occupancy: None,
                idle_bails: d("idle_bails_total"),
                kickoffs: d("kickoffs_total"),
                reattaches: d("reattach_total"),
                stops: d("platform_stops_total"),
                washes: 0,
                high_conductivity_alerts: 0,
                state: "offline".into(),
                milk_temp_c: None,
                alarms: Vec::new(),
            });
            out.gaps.push(g);
        }
        self.follow_alarms(s, &mut out);
        self.state.offline = false;
        if self.status_view() != status_before {
            out.status = Some(self.status(s.t));
        }
        out
    }

    /// What a [`PlatformStatus`] shows, to tell whether it changed.
    fn status_view(&self) -> (Option<String>, BTreeSet<String>, bool) {
        (
            self.state.state.clone(),
            self.state.alarms.clone(),
            self.state.offline,
        )
    }

    fn status(&self, t: DateTime<Utc>) -> PlatformStatus {
        PlatformStatus {
            key: format!("{}/state/{}", self.cfg.parlor, ms(t)),
            parlor: self.cfg.parlor.clone(),
            farm: self.cfg.farm.clone(),
            unit: self.cfg.unit,
            t,
            online: !self.state.offline,
            state: self.state.state.clone().unwrap_or_else(|| "unknown".into()),
            alarms: self.state.alarms.iter().cloned().collect(),
        }
    }

    /// Updates the active alarms from what this sample shows (a poll that did not read the
    /// alarm registers or the state keeps what was known) and emits one event per edge.
    fn follow_alarms(&mut self, s: &Sample, out: &mut Output) {
        let mut now = self.state.alarms.clone();
        let flags = match (s.platform.get("alarm_bits"), s.platform.get("alarm_active")) {
            (Some(Value::Flags(_, names)), _) => Some(names.iter().cloned().collect()),
            (None, Some(v)) => {
                let on = match v {
                    Value::Bit(b) => *b,
                    other => other.as_f64().is_some_and(|x| x != 0.0),
                };
                Some(if on {
                    BTreeSet::from([ALARM_ACTIVE.to_string()])
                } else {
                    BTreeSet::new()
                })
            }
            _ => None,
        };
        if let Some(flags) = flags {
            now.retain(|a| a == PLATFORM_FAULT);
            now.extend(flags);
        }
        if let Some(state) = platform_state(&s.platform) {
            if state == "fault" {
                now.insert(PLATFORM_FAULT.to_string());
            } else {
                now.remove(PLATFORM_FAULT);
            }
        }
        let before = std::mem::replace(&mut self.state.alarms, now);
        let edge = |alarm: &str, active: bool| AlarmEvent {
            key: format!(
                "{}/alarm/{alarm}/{}/{}",
                self.cfg.parlor,
                ms(s.t),
                if active { "on" } else { "off" }
            ),
            parlor: self.cfg.parlor.clone(),
            farm: self.cfg.farm.clone(),
            unit: self.cfg.unit,
            t: s.t,
            alarm: alarm.to_string(),
            active,
        };
        for a in self.state.alarms.difference(&before) {
            out.alarms.push(edge(a, true));
        }
        for a in before.difference(&self.state.alarms) {
            out.alarms.push(edge(a, false));
        }
    }

    /// The parlor stopped answering at `t`: a [`PlatformStatus`] with `online = false` the
    /// first time (the next successful [`ParlorTracker::observe`] brings it back online).
    pub fn mark_offline(&mut self, t: DateTime<Utc>) -> Output {
        let mut out = Output::default();
        if !self.state.offline {
            self.state.offline = true;
            out.status = Some(self.status(t));
        }
        out
    }

    /// Closes the open interval (at shutdown or on export), returning it if it had data.
    pub fn flush(&mut self) -> Option<KpiInterval> {
        let mut out = Output::default();
        self.close_interval(&mut out);
        out.intervals.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TrackerConfig {
        TrackerConfig {
            parlor: "p".into(),
            farm: "f".into(),
            unit: 1,
            interval_ms: 60_000,
            rolling_ms: 900_000,
            offline_after_ms: 5_000,
            high_conductivity_ms_cm: 6.5,
        }
    }

    fn int(raw: u64, bits: u32) -> Value {
        Value::Counter(CounterSample::Int {
            raw,
            bits,
            per_count: 1.0,
        })
    }

    fn bail(bail: u16, seq: u64, cow: u64, y: f64) -> BailReading {
        BailReading {
            bail,
            seq,
            seq_bits: 16,
            last_cow_id: cow,
            last_yield_kg: y,
            last_duration_s: Some(if y > 0.0 { 300.0 } else { 0.0 }),
            last_conductivity: Some(5.0),
            cow_id: None,
            state: None,
        }
    }

    fn sample(t_s: i64, clock: u64, hb: u64, cows: u64, bails: Vec<BailReading>) -> Sample {
        let mut platform = BTreeMap::new();
        platform.insert("controller_clock".into(), Value::Number(clock as f64));
        platform.insert("heartbeat".into(), int(hb, 16));
        platform.insert("cows_milked_total".into(), int(cows, 32));
        Sample {
            t: at(t_s * 1000),
            platform,
            bails,
            occupied_bits: None,
            bail_count: 2,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any increment below half the range is counted exactly, across the wrap; never negative.
        #[test]
        fn counter_increments_survive_the_wrap(start in 0u64..u64::from(u32::MAX), inc in 0u64..(1u64 << 31), wide in proptest::bool::ANY) {
            let bits = if wide { 32 } else { 16 };
            let m = (1u64 << bits) - 1;
            let (start, inc) = (start & m, inc & (m >> 1));
            let prev = CounterMemory::Int { raw: start, bits };
            let now = CounterSample::Int { raw: (start + inc) & m, bits, per_count: 0.01 };
            let d = counter_delta(prev, now, false);
            proptest::prop_assert!((d - inc as f64 * 0.01).abs() < 1e-6);
        }

        /// A reset to 0 (then counting up to `new`) counts `new`: always when the restart was
        /// detected, and from the counter alone while the old value was below half the range
        /// (above it a reset looks like a wrap, which is why restarts are detected from the
        /// heartbeat and clock).
        #[test]
        fn counter_resets_count_the_new_value(prev in 1000u64..u64::from(u32::MAX), new in 0u64..1000, restart in proptest::bool::ANY) {
            proptest::prop_assume!(restart || prev < (1u64 << 31));
            let d = counter_delta(CounterMemory::Int { raw: prev, bits: 32 }, CounterSample::Int { raw: new, bits: 32, per_count: 1.0 }, restart);
            proptest::prop_assert_eq!(d, new as f64);
        }
    }

    #[test]
    fn counter_wrap_and_reset_never_jump_or_go_negative() {
        let p = CounterMemory::Int {
            raw: u64::from(u32::MAX) - 1,
            bits: 32,
        };
        let wrap = CounterSample::Int {
            raw: 3,
            bits: 32,
            per_count: 0.01,
        };
        assert!((counter_delta(p, wrap, false) - 0.05).abs() < 1e-12);
        let p = CounterMemory::Int {
            raw: 1000,
            bits: 32,
        };
        let reset = CounterSample::Int {
            raw: 7,
            bits: 32,
            per_count: 1.0,
        };
        assert_eq!(counter_delta(p, reset, false), 7.0);
        let p16 = CounterMemory::Int {
            raw: 65534,
            bits: 16,
        };
        assert_eq!(
            counter_delta(
                p16,
                CounterSample::Int {
                    raw: 2,
                    bits: 16,
                    per_count: 1.0
                },
                false
            ),
            4.0
        );
        assert_eq!(
            counter_delta(
                p16,
                CounterSample::Int {
                    raw: 2,
                    bits: 16,
                    per_count: 1.0
                },
                true
            ),
            2.0
        );
        // Retentive counter across a restart: plain difference.
        assert_eq!(
            counter_delta(
                CounterMemory::Int { raw: 5, bits: 16 },
                CounterSample::Int {
                    raw: 9,
                    bits: 16,
                    per_count: 1.0
                },
                true
            ),
            4.0
        );
        assert_eq!(
            counter_delta(
                CounterMemory::Float(5.0e6),
                CounterSample::Float(12.5),
                false
            ),
            12.5
        );
        assert_eq!(
            counter_delta(
                CounterMemory::Float(10.0),
                CounterSample::Float(f64::NAN),
                false
            ),
            0.0
        );
    }

    #[test]
    fn one_event_per_seq_change_across_wrap_and_restart() {
        let mut t = ParlorTracker::new(cfg(), TrackerState::default());
        // Baseline: no events for what happened before the bridge.
        let o = t.observe(&sample(
            0,
            10_000,
            5000,
            100,
            vec![bail(1, 65534, 11, 10.0), bail(2, 0, 0, 0.0)],
        ));
        assert!(o.events.is_empty());
        // Wrap of milking_seq 65535 → 0 is a milking, not a reset.
        let o = t.observe(&sample(
            1,
            10_001,
            5001,
            101,
            vec![bail(1, 65535, 12, 11.0), bail(2, 1, 21, 9.0)],
        ));
        assert_eq!(o.events.len(), 2);
        let o = t.observe(&sample(
            2,
            10_002,
            5002,
            102,
            vec![bail(1, 0, 13, 12.0), bail(2, 1, 21, 9.0)],
        ));
        assert_eq!(o.events.len(), 1);
        assert_eq!(
            (
                o.events[0].seq,
                o.events[0].cow_id,
                o.events[0].missed_before
            ),
            (0, 13, 0)
        );
        // Reconnect: the same registers again are not a new milking.
        assert!(
            t.observe(&sample(3, 10_003, 5003, 102, vec![bail(1, 0, 13, 12.0)]))
                .events
                .is_empty()
        );
        // Controller restart: heartbeat restarts, seqs and last_* zeroed, counters reset.
        let o = t.observe(&sample(
            4,
            10_004,
            0,
            0,
            vec![bail(1, 0, 0, 0.0), bail(2, 0, 0, 0.0)],
        ));
        assert!(o.restart_detected);
        assert!(o.events.is_empty());
        // After the restart seq 1 is a new milking in a new epoch; its key differs from the old seq 1.
        let o = t.observe(&sample(5, 10_005, 1, 1, vec![bail(2, 1, 22, 8.0)]));
        assert_eq!(o.events.len(), 1);
        assert_eq!(o.events[0].epoch, 1);
        assert_eq!(o.events[0].cow_id, 22);
    }

    #[test]
    fn restart_seen_only_in_the_bail_data_still_counts_once() {
        let mut t = ParlorTracker::new(cfg(), TrackerState::default());
        t.observe(&sample(0, 100, 50, 5, vec![bail(1, 7, 1, 10.0)]));
        // Platform read was before the restart, the bail read after it with a new milking.
        let o = t.observe(&sample(1, 101, 51, 6, vec![bail(1, 1, 2, 11.0)]));
        assert_eq!(o.events.len(), 1);
        // Next cycle sees the restart in the heartbeat; the bail is unchanged: nothing new.
        let o = t.observe(&sample(2, 102, 1, 1, vec![bail(1, 1, 2, 11.0)]));
        assert!(o.restart_detected);
        assert!(o.events.is_empty());
    }

    #[test]
    fn resuming_from_saved_state_neither_repeats_nor_skips() {
        let mut a = ParlorTracker::new(cfg(), TrackerState::default());
        a.observe(&sample(0, 100, 50, 5, vec![bail(1, 3, 1, 10.0)]));
        let o = a.observe(&sample(1, 101, 51, 6, vec![bail(1, 4, 2, 11.0)]));
        assert_eq!(o.events.len(), 1);
        let saved = serde_json::to_string(a.state()).unwrap();
        let mut b = ParlorTracker::new(cfg(), serde_json::from_str(&saved).unwrap());
        assert!(
            b.observe(&sample(2, 102, 52, 6, vec![bail(1, 4, 2, 11.0)]))
                .events
                .is_empty()
        );
        let o = b.observe(&sample(3, 103, 53, 7, vec![bail(1, 5, 3, 12.0)]));
        assert_eq!(o.events.len(), 1);
        assert_eq!(o.events[0].missed_before, 0);
    }

    #[test]
    fn intervals_count_cows_and_offline_spans_are_gaps() {
        let mut t = ParlorTracker::new(cfg(), TrackerState::default());
        t.observe(&sample(0, 100, 50, u64::from(u32::MAX) - 1, vec![]));
        t.observe(&sample(3, 103, 53, 2, vec![]));
        // 40 s without answers, then back: a gap, and the catch-up delta is counted.
        let o = t.observe(&sample(70, 170, 120, 5, vec![]));
        assert_eq!(o.gaps.len(), 1);
        assert_eq!(o.intervals.len(), 2);
        assert_eq!(o.intervals[1].state, "offline");
        assert_eq!(
            o.intervals[1].cows, 3.0,
            "the catch-up belongs to the gap's span"
        );
        // The first interval covers from the first poll (t = 0 s is its aligned start too).
        assert_eq!(o.intervals[0].cows, 4.0);
        assert!((o.intervals[0].online_s - 3.0).abs() < 1e-9);
        t.observe(&sample(71, 171, 121, 7, vec![]));
        let last = t.flush().unwrap();
        assert_eq!(last.cows, 2.0);
        assert_eq!(
            last.start.timestamp(),
            70,
            "after a gap the interval starts at the reconnect"
        );
    }

    fn with_alarms(mut s: Sample, state: Option<&str>, alarms: Option<&[&str]>) -> Sample {
        if let Some(st) = state {
            s.platform
                .insert("platform_state".into(), Value::Label(st.into()));
        }
        if let Some(a) = alarms {
            s.platform.insert(
                "alarm_bits".into(),
                Value::Flags(0, a.iter().map(|x| (*x).to_string()).collect()),
            );
        }
        s
    }

    fn edges(o: &Output) -> Vec<(String, bool)> {
        o.alarms
            .iter()
            .map(|a| (a.alarm.clone(), a.active))
            .collect()
    }

    #[test]
    fn an_interval_carries_its_mean_milk_temperature_and_the_alarms_at_its_end() {
        let mut t = ParlorTracker::new(cfg(), TrackerState::default());
        for (i, temp) in [34.0, 36.0, 35.0].into_iter().enumerate() {
            let mut s = with_alarms(
                sample(i as i64 * 10, 10_000 + i as u64 * 10, i as u64, 5, vec![]),
                Some("running"),
                Some(if i == 2 { &["vacuum_low"] } else { &[] }),
            );
            s.platform.insert("milk_temp".into(), Value::Number(temp));
            t.observe(&s);
        }
        // A poll without the temperature does not count as 0 °C.
        t.observe(&with_alarms(
            sample(40, 10_040, 4, 5, vec![]),
            Some("running"),
            None,
        ));
        let o = t.observe(&sample(61, 10_061, 5, 5, vec![]));
        let iv = &o.intervals[0];
        assert_eq!(iv.milk_temp_c, Some(35.0));
        assert_eq!(iv.alarms, ["vacuum_low"]);
        // A map without a temperature leaves it out of the JSON.
        let json = serde_json::to_value(&o.intervals[0]).unwrap();
        assert_eq!(json["milk_temp_c"], 35.0);
        let mut t = ParlorTracker::new(cfg(), TrackerState::default());
        t.observe(&sample(0, 10_000, 0, 5, vec![]));
        let o = t.observe(&sample(61, 10_061, 1, 5, vec![]));
        let json = serde_json::to_value(&o.intervals[0]).unwrap();
        assert!(
            json.get("milk_temp_c").is_none() && json.get("alarms").is_none(),
            "{json}"
        );
    }

    #[test]
    fn state_and_alarm_edges_are_emitted_once_and_survive_a_restart() {
        let mut t = ParlorTracker::new(cfg(), TrackerState::default());
        let o = t.observe(&with_alarms(
            sample(0, 10_000, 0, 5, vec![]),
            Some("running"),
            Some(&[]),
        ));
        let st = o
            .status
            .expect("the first sight of the platform is a state");
        assert_eq!(
            (st.online, st.state.as_str(), st.alarms.len()),
            (true, "running", 0)
        );
        assert!(o.alarms.is_empty());
        // Nothing changed: no state, no alarm.
        let o = t.observe(&with_alarms(
            sample(1, 10_001, 1, 5, vec![]),
            Some("running"),
            Some(&[]),
        ));
        assert!(o.status.is_none() && o.alarms.is_empty(), "{o:?}");
        let o = t.observe(&with_alarms(
            sample(2, 10_002, 2, 5, vec![]),
            Some("fault"),
            Some(&["vacuum_low"]),
        ));
        assert_eq!(
            edges(&o),
            [("platform_fault".into(), true), ("vacuum_low".into(), true)]
        );
        assert_eq!(o.status.unwrap().alarms, ["platform_fault", "vacuum_low"]);
        assert!(
            o.alarms
                .iter()
                .all(|a| a.key.starts_with("p/alarm/") && a.key.ends_with("/on"))
        );
        // A poll that read neither state nor alarms keeps them.
        let o = t.observe(&sample(3, 10_003, 3, 5, vec![]));
        assert!(o.status.is_none() && o.alarms.is_empty(), "{o:?}");
        // The bridge restarts from the saved state: the alarm is not raised again.
        let saved: TrackerState =
            serde_json::from_str(&serde_json::to_string(t.state()).unwrap()).unwrap();
        let mut t = ParlorTracker::new(cfg(), saved);
        let o = t.observe(&with_alarms(
            sample(4, 10_004, 4, 5, vec![]),
            Some("fault"),
            Some(&["vacuum_low"]),
        ));
        assert!(o.status.is_none() && o.alarms.is_empty(), "{o:?}");
        // Offline once, then back with the fault cleared.
        let o = t.mark_offline(at(6_000));
        let st = o.status.unwrap();
        assert!(!st.online && st.state == "fault", "{st:?}");
        assert!(t.mark_offline(at(7_000)).is_empty());
        let o = t.observe(&with_alarms(
            sample(9, 10_009, 9, 5, vec![]),
            Some("stopped"),
            Some(&[]),
        ));
        assert_eq!(
            edges(&o),
            [
                ("platform_fault".into(), false),
                ("vacuum_low".into(), false)
            ]
        );
        let st = o.status.unwrap();
        assert!(
            st.online && st.state == "stopped" && st.alarms.is_empty(),
            "{st:?}"
        );
        // A state saved before alarms were followed still loads.
        let old = r#"{"bails":{},"counters":{},"boot":null,"heartbeat":null,"last_ok_ms":null,"restarted_in_gap":false,"open":null,"session":null,"state":"running","alarm_high_cond":false,"rolling":[]}"#;
        let s: TrackerState = serde_json::from_str(old).unwrap();
        assert!(s.alarms.is_empty() && !s.offline);
    }

    #[test]
    fn a_summary_alarm_bit_is_an_alarm_when_the_map_has_no_alarm_bits() {
        let mut t = ParlorTracker::new(cfg(), TrackerState::default());
        let mut s = sample(0, 10_000, 0, 5, vec![]);
        s.platform.insert("alarm_active".into(), Value::Bit(true));
        let o = t.observe(&s);
        assert_eq!(edges(&o), [("alarm_active".into(), true)]);
        let mut s = sample(1, 10_001, 1, 5, vec![]);
        s.platform.insert("alarm_active".into(), Value::Bit(false));
        assert_eq!(edges(&t.observe(&s)), [("alarm_active".into(), false)]);
    }
}
