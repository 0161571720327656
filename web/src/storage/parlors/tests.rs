use super::*;
use crate::storage::testdb::both_backends;
use crate::storage::{Db, StorageError};
use parlor_bridge::wire::{BailSnapshot, KpiInterval, MilkingEvent, OfflineGap, WIRE_VERSION};
use parlor_bridge::wire::{IngestBatch, Record};

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap()
}

fn milking(bail: u16, seq: u64, at: i64, kg: f64) -> Record {
    Record::Milking(MilkingEvent {
        key: format!("p1/{bail}/0/{seq}"),
        parlor: "p1".into(),
        farm: "f".into(),
        unit: 1,
        bail,
        epoch: 0,
        seq,
        t: t(at),
        controller_t: Some(at),
        cow_id: 1_234_567_890_123,
        yield_kg: kg,
        duration_s: Some(400.0),
        conductivity_ms_cm: Some(5.1),
        high_conductivity: false,
        missed_before: 0,
    })
}

fn interval(start: i64, cows: f64, kg: f64) -> Record {
    Record::Interval(KpiInterval {
        key: format!("p1/{}", start * 1000),
        parlor: "p1".into(),
        farm: "f".into(),
        unit: 1,
        start: t(start),
        end: t(start + 60),
        online_s: 60.0,
        cows,
        kg,
        cows_per_hour: cows * 60.0,
        kg_per_hour: kg * 60.0,
        cows_per_hour_rolling: cows * 60.0,
        milkings: cows as u64,
        rotation_s: Some(600.0),
        occupancy: Some(0.8),
        idle_bails: 0.0,
        kickoffs: 1.0,
        reattaches: 1.0,
        stops: 0.0,
        washes: 0,
        high_conductivity_alerts: 0,
        state: "running".into(),
        milk_temp_c: None,
        alarms: Vec::new(),
    })
}

fn batch(key: &str, records: Vec<Record>) -> IngestBatch {
    IngestBatch {
        version: WIRE_VERSION,
        bridge_id: "b1".into(),
        batch_key: key.into(),
        records,
    }
}

#[test]
fn jst_days_start_at_15_utc() {
    // 2026-11-25 14:59:59 UTC is still 11-25 23:59:59 JST; one second later is 11-26.
    let before = Utc.with_ymd_and_hms(2026, 11, 25, 14, 59, 59).unwrap();
    let after = Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap();
    assert_eq!(
        jst_day_start(before),
        Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
    );
    assert_eq!(jst_day_start(after), after);
    assert_eq!(
        hour_start(before),
        Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
    );
}

both_backends!(ingest_is_idempotent, |db| {
    let d = db.districts().await.unwrap();
    let farm = db.create_farm(d[0].id, "f", "dairy", "").await.unwrap();
    let tok = db
        .create_bridge_token(farm.id, "b1", "hash1")
        .await
        .unwrap();
    assert_eq!(
        db.bridge_token("hash1").await.unwrap(),
        Some((tok, farm.id))
    );
    assert_eq!(db.bridge_token("nope").await.unwrap(), None);

    let base = 1_764_000_000; // some instant
    let b1 = batch(
        "k1",
        vec![
            milking(1, 1, base, 12.5),
            milking(2, 1, base + 10, 13.0),
            interval(base, 2.0, 25.5),
            Record::Gap(OfflineGap {
                key: "p1/gap1".into(),
                parlor: "p1".into(),
                farm: "f".into(),
                start: t(base + 60),
                end: t(base + 120),
                controller_restarted: true,
            }),
        ],
    );
    let out = db.ingest_batch(tok, farm.id, &b1).await.unwrap();
    assert_eq!(
        out,
        IngestOutcome {
            accepted: 4,
            duplicates: 0,
            milkings: 2,
            replay: false
        }
    );
    // The same batch again is a replay and changes nothing.
    let again = db.ingest_batch(tok, farm.id, &b1).await.unwrap();
    assert_eq!(
        again,
        IngestOutcome {
            accepted: 0,
            duplicates: 4,
            milkings: 0,
            replay: true
        }
    );
    // A new batch overlapping one record stores only the new one.
    let b2 = batch(
        "k2",
        vec![
            milking(2, 1, base + 10, 13.0),
            milking(1, 2, base + 600, 11.0),
        ],
    );
    let out2 = db.ingest_batch(tok, farm.id, &b2).await.unwrap();
    assert_eq!(
        out2,
        IngestOutcome {
            accepted: 1,
            duplicates: 1,
            milkings: 1,
            replay: false
        }
    );

    let parlors = db.parlors_of_farm(farm.id).await.unwrap();
    assert_eq!(parlors.len(), 1);
    let p = parlors[0].id;
    let m = db.milkings(p, t(base - 1), t(base + 10_000)).await.unwrap();
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].cow(), 1_234_567_890_123);
    let total: f64 = m.iter().map(|r| r.yield_kg).sum();
    assert!((total - 36.5).abs() < 1e-9);

    let last = db.latest_interval(p).await.unwrap().expect("an interval");
    assert_eq!(last.state, "running");
    assert!((last.cows_per_hour() - 120.0).abs() < 1e-9);
    let gaps = db.parlor_gaps(p, t(base), t(base + 1000)).await.unwrap();
    assert_eq!(gaps, vec![(t(base + 60), t(base + 120), true)]);
    assert_eq!(db.parlor(p).await.unwrap().name, "p1");
    assert!(matches!(
        db.parlor(p + 1000).await,
        Err(StorageError::NotFound { .. })
    ));

    // Roll-ups equal sums computed from the raw records.
    let days = db
        .parlor_rollups(p, "day", t(0), t(base * 2))
        .await
        .unwrap();
    let hours = db
        .parlor_rollups(p, "hour", t(0), t(base * 2))
        .await
        .unwrap();
    for rows in [&days, &hours] {
        assert_eq!(rows.iter().map(|r| r.milkings).sum::<i64>(), 3);
        assert!((rows.iter().map(|r| r.cows).sum::<f64>() - 2.0).abs() < 1e-9);
        assert!((rows.iter().map(|r| r.milk_kg).sum::<f64>() - 25.5).abs() < 1e-9);
        assert!((rows.iter().map(|r| r.online_s).sum::<f64>() - 60.0).abs() < 1e-9);
    }
});

fn snapshot(at: i64, states: &[&str]) -> Record {
    Record::Bails(BailSnapshot {
        key: format!("p1/{}", at * 1000),
        parlor: "p1".into(),
        farm: "f".into(),
        unit: 1,
        t: t(at),
        entrance_bail: Some(3),
        bails: states
            .iter()
            .enumerate()
            .map(|(i, s)| BailState {
                bail: i as u16 + 1,
                state: (*s).into(),
                cow_id: if *s == "empty" { 0 } else { 100 + i as u64 },
                current_yield_kg: (*s == "milking").then_some(4.5),
                alarm: *s == "kicked_off",
            })
            .collect(),
    })
}

/// Every kind of keyed record of parlor `p1` at `base`, with `kg` as the milk figure.
fn keyed_records(base: i64, kg: f64) -> Vec<Record> {
    vec![
        milking(1, 1, base, kg),
        milking(2, 1, base + 10, kg),
        interval(base, 2.0, kg),
        Record::Gap(OfflineGap {
            key: format!("p1/{}", (base + 60) * 1000),
            parlor: "p1".into(),
            farm: "f".into(),
            start: t(base + 60),
            end: t(base + 120),
            controller_restarted: false,
        }),
        Record::Session(parlor_bridge::wire::SessionSummary {
            key: format!("p1/{}", base * 1000),
            parlor: "p1".into(),
            farm: "f".into(),
            start: t(base),
            end: t(base + 60),
            cows: 2.0,
            kg,
            cows_per_hour: 120.0,
            kg_per_hour: kg * 60.0,
        }),
    ]
}

both_backends!(dedupe_keys_are_per_farm_parlor, |db| {
    let d = db.districts().await.unwrap();
    let a = db.create_farm(d[0].id, "a", "dairy", "").await.unwrap();
    let b = db.create_farm(d[0].id, "b", "dairy", "").await.unwrap();
    let tok_a = db.create_bridge_token(a.id, "a", "hash-a").await.unwrap();
    let tok_b = db.create_bridge_token(b.id, "b", "hash-b").await.unwrap();
    let base = 1_764_000_000;
    // Farm B's token sends farm A's keys first (same parlor name, same instants) …
    let out = db
        .ingest_batch(tok_b, b.id, &batch("k", keyed_records(base, 99.0)))
        .await
        .unwrap();
    assert_eq!((out.accepted, out.duplicates), (5, 0));
    // … and farm A's own records under those keys are still all stored.
    let out = db
        .ingest_batch(tok_a, a.id, &batch("k", keyed_records(base, 12.5)))
        .await
        .unwrap();
    assert_eq!((out.accepted, out.duplicates, out.replay), (5, 0, false));
    // A re-send within one farm is still a duplicate.
    let out = db
        .ingest_batch(tok_a, a.id, &batch("k2", keyed_records(base, 12.5)))
        .await
        .unwrap();
    assert_eq!((out.accepted, out.duplicates), (0, 5));

    let (from, to) = (t(base - 3600), t(base + 3600));
    for (farm, kg) in [(a.id, 12.5), (b.id, 99.0)] {
        let parlors = db.parlors_of_farm(farm).await.unwrap();
        assert_eq!(parlors.len(), 1, "one parlor p1 per farm");
        assert_eq!(parlors[0].name, "p1");
        let p = parlors[0].id;
        let m = db.milkings(p, from, to).await.unwrap();
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|m| m.yield_kg == kg), "{m:?}");
        let i = db.latest_interval(p).await.unwrap().expect("interval");
        assert_eq!(i.milk_kg, kg);
        assert_eq!(db.parlor_gaps(p, from, to).await.unwrap().len(), 1);
        let sessions = db.parlor_sessions(p, from, to).await.unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].3, kg);
    }
});

/// The SQLite table rebuild keeps every stored record, its id and the indexes.
#[tokio::test]
async fn sqlite_upgrade_to_parlor_scoped_keys_keeps_rows() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteConnectOptions::new()
        .filename(dir.path().join("old.db"))
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    let migrator = sqlx::migrate!("migrations/sqlite");
    migrator.run_to(7, &pool).await.unwrap();
    let db = Db::Sqlite(pool.clone(), crate::storage::WriteQueue::default());
    let d = db.districts().await.unwrap();
    let a = db.create_farm(d[0].id, "a", "dairy", "").await.unwrap();
    let b = db.create_farm(d[0].id, "b", "dairy", "").await.unwrap();
    let tok_a = db.create_bridge_token(a.id, "a", "hash-a").await.unwrap();
    let tok_b = db.create_bridge_token(b.id, "b", "hash-b").await.unwrap();
    let base = 1_764_000_000;
    // Today's ingest writes interval columns version 7 lacks (0014): the interval goes in
    // with the columns of its day, the other records through the ingest.
    let mut recs = keyed_records(base, 12.5);
    let Record::Interval(iv) = recs.remove(2) else {
        unreachable!("keyed_records' third record is the interval")
    };
    let old = db
        .ingest_batch(tok_a, a.id, &batch("k", recs))
        .await
        .unwrap();
    assert_eq!(old.accepted, 4);
    sqlx::query(
        "INSERT INTO parlor_intervals (parlor_id, dedupe_key, start_t, end_t, online_s, cows, \
         milk_kg, cows_per_hour_rolling, milkings, idle_bails, kickoffs, reattaches, stops, \
         washes, alerts, state) SELECT id, $1, $2, $3, 60, 2, 12.5, 120, 2, 0, 0, 0, 0, 0, 0, \
         'running' FROM parlors WHERE farm_id = $4",
    )
    .bind(&iv.key)
    .bind(iv.start)
    .bind(iv.end)
    .bind(a.id)
    .execute(&pool)
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM milking_events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();

    migrator.run(&pool).await.unwrap();
    let after: Vec<i64> = sqlx::query_scalar("SELECT id FROM milking_events ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(after, ids);
    for (table, n) in [
        ("parlor_intervals", 1),
        ("parlor_gaps", 1),
        ("parlor_sessions", 1),
    ] {
        let got: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(got, n, "{table}");
    }
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name IN \
         ('milking_events_parlor_t', 'parlor_gaps_parlor', 'parlor_sessions_parlor') ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(indexes.len(), 3, "{indexes:?}");
    // Farm B's same keys are now stored beside A's, and new ids follow the old ones.
    let out = db
        .ingest_batch(tok_b, b.id, &batch("k", keyed_records(base, 99.0)))
        .await
        .unwrap();
    assert_eq!((out.accepted, out.duplicates), (5, 0));
    let max: i64 = sqlx::query_scalar("SELECT MAX(id) FROM milking_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(max, ids.last().unwrap() + 2);
    let fk: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(fk.is_empty(), "{fk:?}");
}

both_backends!(latest_bail_snapshot_wins, |db| {
    let d = db.districts().await.unwrap();
    let farm = db.create_farm(d[0].id, "b", "dairy", "").await.unwrap();
    let tok = db.create_bridge_token(farm.id, "b", "hb").await.unwrap();
    let base = 1_764_000_000;
    let out = db
        .ingest_batch(
            tok,
            farm.id,
            &batch(
                "s1",
                vec![snapshot(base + 10, &["milking", "empty", "kicked_off"])],
            ),
        )
        .await
        .unwrap();
    assert_eq!((out.accepted, out.duplicates), (1, 0));
    let p = db.parlors_of_farm(farm.id).await.unwrap()[0].clone();
    assert_eq!(p.bails, Some(3));
    let got = db.latest_bails(p.id).await.unwrap().expect("a snapshot");
    assert_eq!(got.t, t(base + 10));
    assert_eq!(got.entrance_bail, Some(3));
    assert_eq!(got.bails.len(), 3);
    assert_eq!(got.bails[0].current_yield_kg, Some(4.5));
    assert!(got.bails[2].alarm);
    // An older snapshot arriving late (a retried batch from before) is ignored.
    let late = db
        .ingest_batch(
            tok,
            farm.id,
            &batch("s0", vec![snapshot(base, &["empty", "empty", "empty"])]),
        )
        .await
        .unwrap();
    assert_eq!((late.accepted, late.duplicates), (0, 1));
    assert_eq!(
        db.latest_bails(p.id).await.unwrap().unwrap().t,
        t(base + 10)
    );
    // A newer one replaces it, and snapshots never touch the roll-ups.
    db.ingest_batch(
        tok,
        farm.id,
        &batch("s2", vec![snapshot(base + 20, &["done", "prep", "empty"])]),
    )
    .await
    .unwrap();
    let now = db.latest_bails(p.id).await.unwrap().unwrap();
    assert_eq!(now.t, t(base + 20));
    assert_eq!(now.bails[1].state, "prep");
    assert!(
        db.parlor_rollups(p.id, "hour", t(0), t(base * 2))
            .await
            .unwrap()
            .is_empty()
    );
    // A parlor that never sent one has none.
    assert!(db.latest_bails(p.id + 1000).await.unwrap().is_none());
});

both_backends!(revoked_token_stops_working, |db| {
    let d = db.districts().await.unwrap();
    let farm = db.create_farm(d[1].id, "g", "dairy", "").await.unwrap();
    let tok = db.create_bridge_token(farm.id, "b", "h").await.unwrap();
    db.revoke_bridge_token(tok).await.unwrap();
    assert_eq!(db.bridge_token("h").await.unwrap(), None);
    assert!(matches!(
        db.revoke_bridge_token(tok).await,
        Err(StorageError::NotFound { .. })
    ));
});
