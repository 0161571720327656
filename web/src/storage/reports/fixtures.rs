//! Raw parlor records and flights for report tests, with the sums the reports must show
//! computed here from what is sent (not from the roll-ups).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use parlor_bridge::wire::{
    IngestBatch, KpiInterval, MilkingEvent, OfflineGap, Record, SessionSummary, WIRE_VERSION,
};

use crate::services::reports::YearMonth;
use crate::storage::{Db, FarmMonth, FlightFact, NewFlight, SampleRow};

/// 2025-05-30 12:00 UTC: 72 hours from here cross into June in Tokyo (05-31 15:00 UTC).
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 30, 12, 0, 0).unwrap()
}

/// Sums per Tokyo month of what was sent, in the shape the reports read.
pub(crate) type Expected = BTreeMap<YearMonth, FarmMonth>;

/// `hours` hours of one parlor's records (intervals, milkings, gaps, sessions) from `start`,
/// varied by `seed`, and their sums per month.
pub(crate) fn dairy(
    farm: &str,
    seed: u64,
    start: DateTime<Utc>,
    hours: i64,
) -> (Vec<Record>, Expected) {
    let parlor = format!("{farm}-rotary");
    let mut recs = Vec::new();
    let mut exp = Expected::new();
    for h in 0..hours {
        let at = start + Duration::hours(h) + Duration::minutes(5);
        let cows = ((h as u64 * 7 + seed) % 11 + 1) as f64;
        let kg = cows * 12.25 + seed as f64;
        let online = 3000.0 + (seed % 5) as f64 * 60.0;
        let alerts = ((h as u64 + seed) % 3) as i64;
        recs.push(Record::Interval(KpiInterval {
            key: format!("{parlor}/i/{h}"),
            parlor: parlor.clone(),
            farm: farm.into(),
            unit: 1,
            start: at,
            end: at + Duration::seconds(online as i64),
            online_s: online,
            cows,
            kg,
            cows_per_hour: 0.0,
            kg_per_hour: 0.0,
            cows_per_hour_rolling: 0.0,
            milkings: cows as u64,
            rotation_s: None,
            occupancy: None,
            idle_bails: 0.0,
            kickoffs: 1.0,
            reattaches: 0.0,
            stops: 0.0,
            washes: 0,
            high_conductivity_alerts: alerts as u64,
            state: "running".into(),
            milk_temp_c: None,
            alarms: Vec::new(),
        }));
        let e = exp.entry(YearMonth::of(at)).or_default();
        e.cows += cows;
        e.milk_kg += kg;
        e.online_s += online;
        e.alerts += alerts;
        for b in 0..2u16 {
            let t = at + Duration::minutes(10 + i64::from(b));
            recs.push(Record::Milking(MilkingEvent {
                key: format!("{parlor}/m/{h}/{b}"),
                parlor: parlor.clone(),
                farm: farm.into(),
                unit: 1,
                bail: b + 1,
                epoch: 0,
                seq: h as u64,
                t,
                controller_t: None,
                cow_id: 1000 + h as u64,
                yield_kg: 11.0,
                duration_s: None,
                conductivity_ms_cm: None,
                high_conductivity: false,
                missed_before: 0,
            }));
            exp.entry(YearMonth::of(t)).or_default().milkings += 1;
        }
        if (h as u64 + seed).is_multiple_of(10) {
            let gs = start + Duration::hours(h) + Duration::minutes(58);
            recs.push(Record::Gap(OfflineGap {
                key: format!("{parlor}/g/{h}"),
                parlor: parlor.clone(),
                farm: farm.into(),
                start: gs,
                end: gs + Duration::seconds(90),
                controller_restarted: false,
            }));
            exp.entry(YearMonth::of(gs)).or_default().offline_s += 90.0;
        }
        if h % 24 == 3 {
            recs.push(Record::Session(SessionSummary {
                key: format!("{parlor}/s/{h}"),
                parlor: parlor.clone(),
                farm: farm.into(),
                start: at,
                end: at + Duration::hours(2),
                cows: 10.0,
                kg: 100.0,
                cows_per_hour: 5.0,
                kg_per_hour: 50.0,
            }));
        }
    }
    (recs, exp)
}

/// Sends `recs` for `farm_id` through the real ingest in batches of 40, replaying one batch
/// and re-sending one overlapping record, as a flaky bridge would.
pub(crate) async fn ingest(db: &Db, farm_id: i64, recs: &[Record]) {
    let tok = db
        .create_bridge_token(farm_id, "b", &format!("tok-{farm_id}"))
        .await
        .unwrap();
    let mut prev: Option<IngestBatch> = None;
    for (i, chunk) in recs.chunks(40).enumerate() {
        let mut records = chunk.to_vec();
        if let Some(p) = &prev {
            records.push(p.records[0].clone());
        }
        let b = IngestBatch {
            version: WIRE_VERSION,
            bridge_id: "b".into(),
            batch_key: format!("k{i}"),
            records,
        };
        db.ingest_batch(tok, farm_id, &b).await.unwrap();
        db.ingest_batch(tok, farm_id, &b).await.unwrap();
        prev = Some(b);
    }
}

/// Stores `n` flights of `farm_id` from `start` (one every 5 hours) with their facts, and
/// adds them to `exp`; `pesticide` names every flight's pesticide when given.
pub(crate) async fn flights(
    db: &Db,
    farm_id: i64,
    n: i64,
    start: DateTime<Utc>,
    pesticide: Option<(&str, &str)>,
    exp: &mut Expected,
) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let at = start + Duration::hours(5 * i);
        let area = 1000.0 + 137.5 * i as f64 + farm_id as f64;
        let litres = area * 0.0008;
        let samples = [SampleRow {
            t: at,
            lat: 36.97,
            lon: 139.98,
            alt_m: 2.0,
            spray: true,
            battery_pct: None,
        }];
        let id = db
            .create_flight(&NewFlight {
                farm_id,
                field_id: None,
                plan_id: None,
                status: "completed",
                sprayed_area_m2: Some(area),
                litres: Some(litres),
                summary_json: "{}",
                samples: &samples,
                tlog: None,
            })
            .await
            .unwrap();
        db.upsert_flight_fact(&FlightFact {
            flight_id: id,
            farm_id,
            flown_at: at,
            area_m2: area,
            litres,
            pesticide_name: pesticide.map(|p| p.0.to_owned()),
            pesticide_reg_no: pesticide.map(|p| p.1.to_owned()),
        })
        .await
        .unwrap();
        let e = exp.entry(YearMonth::of(at)).or_default();
        e.flights += 1;
        e.area_m2 += area;
        e.litres += litres;
        ids.push(id);
    }
    ids
}

/// True when `a` and `b` agree to 1e-6 (relative).
pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}
