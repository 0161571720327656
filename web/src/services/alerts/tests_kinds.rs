//! The newer kinds through the whole service against the real peers: a platform alarm and a
//! cow's conductivity from ingested records, and a flight's link loss from its logbook.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use parlor_bridge::wire::{IngestBatch, KpiInterval, MilkingEvent, Record, WIRE_VERSION};

use super::deliver::{RetryPolicy, SmtpConfig};
use super::rules::RuleKind;
use super::service::{AlertConfig, run_once};
use super::tests::{SECRET, SmtpPeer, webhook_receiver};
use crate::storage::testdb::both_backends;
use crate::storage::{Db, on_exec};

fn interval(t0: DateTime<Utc>, m: i64, alarms: &[&str]) -> Record {
    Record::Interval(KpiInterval {
        key: format!("p1/{m}"),
        parlor: "第1パーラー".into(),
        farm: "f".into(),
        unit: 1,
        start: t0 + chrono::Duration::minutes(m),
        end: t0 + chrono::Duration::minutes(m + 1),
        online_s: 60.0,
        cows: 5.0,
        kg: 60.0,
        cows_per_hour: 300.0,
        kg_per_hour: 3600.0,
        cows_per_hour_rolling: 300.0,
        milkings: 5,
        rotation_s: None,
        occupancy: None,
        idle_bails: 0.0,
        kickoffs: 0.0,
        reattaches: 0.0,
        stops: 0.0,
        washes: 0,
        high_conductivity_alerts: 0,
        state: "running".into(),
        milk_temp_c: Some(35.0),
        alarms: alarms.iter().map(|a| (*a).to_owned()).collect(),
    })
}

fn milking(t0: DateTime<Utc>, seq: u64, m: i64, c: f64) -> Record {
    Record::Milking(MilkingEvent {
        key: format!("p1/3/0/{seq}"),
        parlor: "第1パーラー".into(),
        farm: "f".into(),
        unit: 1,
        bail: 3,
        epoch: 0,
        seq,
        t: t0 + chrono::Duration::minutes(m),
        controller_t: None,
        cow_id: 42,
        yield_kg: 12.0,
        duration_s: Some(400.0),
        conductivity_ms_cm: Some(c),
        high_conductivity: c > 6.5,
        missed_before: 0,
    })
}

async fn ingest(db: &Db, tok: i64, farm: i64, key: &str, records: Vec<Record>) {
    let b = IngestBatch {
        version: WIRE_VERSION,
        bridge_id: "b".into(),
        batch_key: key.into(),
        records,
    };
    db.ingest_batch(tok, farm, &b).await.unwrap();
}

async fn new_kinds_alert_once_and_clear_once(db: &Db) {
    let (hook_url, hook) = webhook_receiver().await;
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let district = db.districts().await.unwrap()[0].id;
    let farm = db
        .create_farm(district, "那須牧場", "mixed", "")
        .await
        .unwrap()
        .id;
    let tok = db.create_bridge_token(farm, "牛舎", "h").await.unwrap();
    for kind in [
        RuleKind::PlatformFault,
        RuleKind::HighConductivity,
        RuleKind::FlightLinkLost,
    ] {
        let minutes = if kind == RuleKind::PlatformFault {
            1
        } else {
            720
        };
        db.create_alert_rule(farm, kind, None, minutes, None)
            .await
            .unwrap();
    }
    db.create_alert_channel(farm, "webhook", &hook_url, Some(SECRET))
        .await
        .unwrap();
    db.create_alert_channel(farm, "email", "operator@nasu.example.jp", None)
        .await
        .unwrap();
    let cfg = AlertConfig {
        every: Duration::from_secs(60),
        public_url: "http://agri.test".into(),
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: smtp.port,
            from: "alerts@agriops.test".into(),
        }),
        retry: RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        },
    };
    let client = reqwest::Client::new();
    let t0 = Utc::now().trunc_subsecs(0) - chrono::Duration::days(5);
    let at = |m: i64| t0 + chrono::Duration::minutes(m);
    // Cow 42 at her usual 5.0-5.2 mS/cm twice a day for four days, then 8.0.
    let mut recs: Vec<Record> = (0..8u64)
        .map(|i| milking(t0, i, i as i64 * 720, 5.0 + 0.1 * (i % 3) as f64))
        .collect();
    recs.push(milking(t0, 8, 8 * 720, 8.0));
    recs.extend((0..3).map(|m| interval(t0, 8 * 720 + m, &["vacuum_low"])));
    ingest(db, tok, farm, "k1", recs).await;
    // A flight that lost its link, ended a minute after the milking.
    let flight = on_exec!(db.on(), e => sqlx::query_scalar::<_, i64>(
        "INSERT INTO flights (farm_id, status, started_at, ended_at, created_at) \
         VALUES ($1, 'completed', $2, $2, $2) RETURNING id")
        .bind(farm).bind(at(8 * 720 + 1)).fetch_one(e).await.unwrap());
    on_exec!(db.on(), e => sqlx::query(
        "INSERT INTO flight_logbooks (flight_id, version, farm_id, flown_on, events_json, created_at) \
         VALUES ($1, 1, $2, '2026-05-01', $3, $4)")
        .bind(flight).bind(farm)
        .bind(r#"{"failsafes":[{"time_us":1,"severity":"","text":"no heartbeat","failsafe":"link_loss"}]}"#)
        .bind(at(8 * 720 + 1)).execute(e).await.map(|r| r.rows_affected()).unwrap());

    let now = at(8 * 720 + 3);
    assert_eq!(run_once(db, &cfg, &client, now).await.unwrap(), 3);
    assert_eq!(run_once(db, &cfg, &client, now).await.unwrap(), 0, "once");
    let accepted = hook.accepted.lock().await.clone();
    let mut got: Vec<(String, String, String)> = accepted
        .iter()
        .map(|b| {
            let s = |k: &str| b[k].as_str().unwrap_or("").to_owned();
            (s("kind"), s("detail"), s("url"))
        })
        .collect();
    got.sort();
    let parlor = db.parlors_of_farm(farm).await.unwrap()[0].id;
    assert_eq!(
        got,
        [
            (
                "flight_link_lost".to_owned(),
                String::new(),
                format!("http://agri.test/flights/{flight}")
            ),
            (
                "high_conductivity".to_owned(),
                "#42 8.0/5.1 mS/cm".to_owned(),
                format!("http://agri.test/parlors/{parlor}")
            ),
            (
                "platform_fault".to_owned(),
                "vacuum_low".to_owned(),
                format!("http://agri.test/parlors/{parlor}")
            ),
        ]
    );
    let mut subjects: Vec<String> = smtp.mails().into_iter().map(|m| m.1).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "【乳房炎疑い】第1パーラー #42 8.0/5.1 mS/cm / 第1パーラー high conductivity"
                .to_owned(),
            format!("【機体通信途絶】#{flight} / #{flight} link lost"),
            "【異常・警報】第1パーラー vacuum_low 3分 / 第1パーラー fault/alarm 3 min".to_owned(),
        ]
    );
    assert!(subjects.iter().all(|s| s.chars().count() <= 60));

    // The alarm clears and her next milking is back at her level: one "cleared" each. The
    // flight's window passes: its alert closes without a message.
    let recs = vec![
        interval(t0, 8 * 720 + 3, &[]),
        milking(t0, 9, 8 * 720 + 10, 5.1),
    ];
    ingest(db, tok, farm, "k2", recs).await;
    assert_eq!(
        run_once(db, &cfg, &client, at(8 * 720 + 11)).await.unwrap(),
        2
    );
    assert_eq!(
        run_once(db, &cfg, &client, at(8 * 720 + 1 + 721))
            .await
            .unwrap(),
        0
    );
    assert!(db.open_alerts().await.unwrap().is_empty());
    let accepted = hook.accepted.lock().await.clone();
    let mut resolved: Vec<&str> = accepted
        .iter()
        .filter(|b| b["event"] == "resolved")
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    resolved.sort_unstable();
    assert_eq!(resolved, ["high_conductivity", "platform_fault"]);
    assert_eq!(accepted.len(), 5);
    assert_eq!(smtp.mails().len(), 5);
}

both_backends!(new_kinds_end_to_end, |db| {
    new_kinds_alert_once_and_clear_once(db).await;
});
