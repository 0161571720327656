use super::fixtures::{Expected, close, dairy, flights, ingest, t0};
use super::*;
use crate::services::reports::{Period, YearMonth};
use crate::storage::testdb::both_backends;
use chrono::TimeZone;

fn assert_month(got: &FarmMonth, want: &FarmMonth) {
    assert_eq!(got.flights, want.flights, "{got:?} vs {want:?}");
    assert_eq!(got.milkings, want.milkings, "{got:?} vs {want:?}");
    assert_eq!(got.alerts, want.alerts, "{got:?} vs {want:?}");
    for (a, b) in [
        (got.area_m2, want.area_m2),
        (got.litres, want.litres),
        (got.cows, want.cows),
        (got.milk_kg, want.milk_kg),
        (got.online_s, want.online_s),
        (got.offline_s, want.offline_s),
    ] {
        assert!(close(a, b), "{got:?} vs {want:?}");
    }
}

both_backends!(report_months_equal_sums_of_what_was_sent, |db| {
    let d = db.districts().await.unwrap();
    let mut expected: Vec<(i64, Expected)> = Vec::new();
    for (i, name) in ["kita", "minami"].iter().enumerate() {
        let farm = db.create_farm(d[i].id, name, "mixed", "").await.unwrap();
        let (recs, mut exp) = dairy(name, i as u64 + 3, t0(), 72);
        ingest(db, farm.id, &recs).await;
        flights(db, farm.id, 9, t0(), None, &mut exp).await;
        expected.push((farm.id, exp));
    }
    let (from, to) = Period::Year(2025).range();
    let got = db.farm_months(from, to).await.unwrap();
    let n_expected: usize = expected.iter().map(|(_, e)| e.len()).sum();
    assert_eq!(got.len(), n_expected, "{got:?}");
    for (farm, exp) in &expected {
        for (ym, want) in exp {
            let row = got
                .iter()
                .find(|m| m.farm_id == *farm && m.month_start == ym.start())
                .unwrap_or_else(|| panic!("no row for farm {farm} {ym:?}"));
            assert_month(row, want);
        }
        // Both months of the fixture have data (it crosses 1 June in Tokyo).
        assert_eq!(exp.len(), 2);
    }

    // A rebuild from the raw records gives the same roll-ups as incremental ingest.
    let parlors = db.all_parlors().await.unwrap();
    let mut before = Vec::new();
    for p in &parlors {
        for g in ["hour", "day"] {
            before.push(
                db.parlor_rollups(p.id, g, DateTime::UNIX_EPOCH, to)
                    .await
                    .unwrap(),
            );
        }
    }
    let months_before: Vec<_> = {
        let mut v = Vec::new();
        for p in &parlors {
            v.push(db.parlor_month_rollups(p.id).await.unwrap());
        }
        v
    };
    let spray_before = db.pesticide_months(from, to).await.unwrap();
    let stats = db.rebuild_rollups().await.unwrap();
    assert_eq!(stats.facts_added, 0);
    assert!(stats.parlor_rows > 0 && stats.month_rows == 4 && stats.spray_rows == 4);
    let mut i = 0;
    for p in &parlors {
        for g in ["hour", "day"] {
            let after = db
                .parlor_rollups(p.id, g, DateTime::UNIX_EPOCH, to)
                .await
                .unwrap();
            assert_eq!(after.len(), before[i].len(), "{g} rows of parlor {}", p.id);
            for (a, b) in after.iter().zip(&before[i]) {
                assert_eq!(
                    (a.bucket_start, a.milkings, a.alerts),
                    (b.bucket_start, b.milkings, b.alerts)
                );
                assert!(close(a.cows, b.cows) && close(a.milk_kg, b.milk_kg));
                assert!(close(a.online_s, b.online_s) && close(a.kickoffs, b.kickoffs));
            }
            i += 1;
        }
    }
    for (p, b) in parlors.iter().zip(&months_before) {
        let a = db.parlor_month_rollups(p.id).await.unwrap();
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(b) {
            assert_eq!(
                (a.month_start, a.milkings, a.alerts),
                (b.month_start, b.milkings, b.alerts)
            );
            assert!(close(a.cows, b.cows) && close(a.offline_s, b.offline_s));
            assert!(close(a.online_s, b.online_s) && close(a.milk_kg, b.milk_kg));
        }
    }
    let spray_after = db.pesticide_months(from, to).await.unwrap();
    assert_eq!(spray_after.len(), spray_before.len());
    for (a, b) in spray_after.iter().zip(&spray_before) {
        assert_eq!(
            (a.farm_id, a.month_start, a.flights),
            (b.farm_id, b.month_start, b.flights)
        );
        assert!(close(a.litres, b.litres) && close(a.area_m2, b.area_m2));
    }
    let again = db.farm_months(from, to).await.unwrap();
    for (a, b) in again.iter().zip(&got) {
        assert_month(a, b);
    }
});

both_backends!(concurrent_flight_facts_of_one_farm_are_all_counted, |db| {
    let d = db.districts().await.unwrap();
    let farm = db.create_farm(d[0].id, "kumo", "crop", "").await.unwrap();
    let at = Utc.with_ymd_and_hms(2025, 8, 1, 3, 0, 0).unwrap();
    // Eight transactions that each count a flight of the same farm and month and stay
    // open a moment: none may miss another's flight in the month's roll-up.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            let farm_id = farm.id;
            tokio::spawn(async move {
                let mut tx = db.begin().await?;
                let flight_id = tx
                    .create_flight(&crate::storage::NewFlight {
                        farm_id,
                        field_id: None,
                        plan_id: None,
                        status: "completed",
                        sprayed_area_m2: Some(100.0),
                        litres: Some(1.0),
                        summary_json: "{}",
                        samples: &[],
                        tlog: None,
                    })
                    .await?;
                tx.upsert_flight_fact(&FlightFact {
                    flight_id,
                    farm_id,
                    flown_at: at,
                    area_m2: 100.0,
                    litres: 1.0,
                    pesticide_name: None,
                    pesticide_reg_no: None,
                })
                .await?;
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                tx.commit().await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let ym = YearMonth::of(at);
    let rows = db
        .pesticide_months(ym.start(), ym.next().start())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].flights, 8);
    assert!(close(rows[0].litres, 8.0));
});

both_backends!(flight_facts_are_idempotent_and_replaceable, |db| {
    let d = db.districts().await.unwrap();
    let farm = db.create_farm(d[0].id, "sora", "crop", "").await.unwrap();
    let mut exp = Expected::new();
    let start = Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap();
    let ids = flights(db, farm.id, 3, start, None, &mut exp).await;
    let (from, to) = Period::parse(Some("2025"), Some("7"), 2025)
        .unwrap()
        .range();
    let rows = db.pesticide_months(from, to).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].flights, rows[0].pesticide_name.as_deref()),
        (3, None)
    );
    let want = &exp[&YearMonth {
        year: 2025,
        month: 7,
    }];
    assert!(close(rows[0].litres, want.litres));

    // The records helper saves a pesticide for flight 0: its contribution moves.
    let f0 = db.flight(ids[0]).await.unwrap();
    let mut fact = FlightFact {
        flight_id: ids[0],
        farm_id: farm.id,
        flown_at: f0.started_at.unwrap(),
        area_m2: f0.sprayed_area_m2.unwrap(),
        litres: f0.litres.unwrap(),
        pesticide_name: Some("スタークル粒剤".into()),
        pesticide_reg_no: Some(" 第21406号 ".into()),
    };
    for _ in 0..2 {
        db.upsert_flight_fact(&fact).await.unwrap();
    }
    let rows = db.pesticide_months(from, to).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let named = rows.iter().find(|r| r.pesticide_name.is_some()).unwrap();
    assert_eq!(
        (named.flights, named.pesticide_reg_no.as_deref()),
        (1, Some("第21406号"))
    );
    assert!(close(named.litres, f0.litres.unwrap()));
    let total: f64 = rows.iter().map(|r| r.litres).sum();
    assert!(close(total, want.litres));
    // A corrected volume replaces the old one; moving back to "not recorded" empties the key.
    fact.litres = 5.0;
    db.upsert_flight_fact(&fact).await.unwrap();
    let named = db.pesticide_months(from, to).await.unwrap();
    assert!(close(
        named.iter().map(|r| r.litres).sum::<f64>(),
        want.litres - f0.litres.unwrap() + 5.0
    ));
    fact.pesticide_name = Some("  ".into());
    fact.pesticide_reg_no = None;
    db.upsert_flight_fact(&fact).await.unwrap();
    let rows = db.pesticide_months(from, to).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].flights, 3);
    let fm = db.farm_months(from, to).await.unwrap();
    assert_eq!((fm.len(), fm[0].flights), (1, 3));

    fact.litres = f64::NAN;
    assert!(matches!(
        db.upsert_flight_fact(&fact).await,
        Err(StorageError::Conflict { .. })
    ));
    fact.litres = 1.0;
    fact.flight_id = ids[2] + 100;
    assert!(matches!(
        db.upsert_flight_fact(&fact).await,
        Err(StorageError::Conflict { .. })
    ));

    // A flight without a fact (recorded before facts existed) gets one from a rebuild.
    let samples = [crate::storage::SampleRow {
        t: start,
        lat: 36.97,
        lon: 139.98,
        alt_m: 2.0,
        spray: true,
        battery_pct: None,
    }];
    db.create_flight(&crate::storage::NewFlight {
        farm_id: farm.id,
        field_id: None,
        plan_id: None,
        status: "completed",
        sprayed_area_m2: Some(800.0),
        litres: Some(0.64),
        summary_json: "{}",
        samples: &samples,
        tlog: None,
    })
    .await
    .unwrap();
    let stages = std::sync::Mutex::new(Vec::new());
    let stats = db
        .rebuild_rollups_reporting(|s| stages.lock().unwrap().push(s))
        .await
        .unwrap();
    assert_eq!(stats.facts_added, 1);
    let stages = stages.into_inner().unwrap();
    assert_eq!(stages.len(), 6, "{stages:?}");
    assert_eq!(stages.last(), Some(&"committing"));
    let fm = db.farm_months(from, to).await.unwrap();
    assert_eq!(fm[0].flights, 4);
    assert!(close(fm[0].area_m2, want.area_m2 + 800.0));
});
