use super::*;
use crate::storage::NewFlight;
use crate::storage::testdb::both_backends;
use chrono::DateTime;

async fn flight(db: &Db, farm_id: i64) -> i64 {
    db.create_flight(&NewFlight {
        farm_id,
        field_id: None,
        plan_id: None,
        status: "completed",
        sprayed_area_m2: Some(1000.0),
        litres: Some(0.8),
        summary_json: "{}",
        samples: &[],
        tlog: None,
    })
    .await
    .unwrap()
}

both_backends!(records_are_versions_frozen_by_signing, |db| {
    let d = db.districts().await.unwrap();
    let farm = db.create_farm(d[0].id, "f", "crop", "").await.unwrap();
    let f1 = flight(db, farm.id).await;
    let f2 = flight(db, farm.id).await;
    let mut r = RecordFields {
        sprayed_on: "2026-06-10".into(),
        place: "北の田".into(),
        area_m2: Some(1000.0),
        litres: Some(0.8),
        ..RecordFields::default()
    };
    assert!(db.create_spray_record(f1, farm.id, &r).await.unwrap());
    // A second draft for the same flight is ignored.
    assert!(!db.create_spray_record(f1, farm.id, &r).await.unwrap());
    let r2 = RecordFields {
        sprayed_on: "2026-08-01".into(),
        ..r.clone()
    };
    assert!(db.create_spray_record(f2, farm.id, &r2).await.unwrap());

    r.pesticide_name = "スタークル粒剤".into();
    r.pesticide_reg_no = "20887".into();
    db.update_spray_record(f1, 1, &r).await.unwrap();
    db.sign_spray_record(f1, 1, "農家").await.unwrap();
    // Signed: neither an edit nor a second signature goes through.
    let mut late = r.clone();
    late.litres = Some(9.0);
    assert!(matches!(
        db.update_spray_record(f1, 1, &late).await,
        Err(StorageError::Conflict { .. })
    ));
    assert!(db.sign_spray_record(f1, 1, "x").await.is_err());
    // An unsigned record cannot be amended; a signed one can, and keeps the original.
    assert!(db.amend_spray_record(f2).await.is_err());
    assert_eq!(db.amend_spray_record(f1).await.unwrap(), 2);
    db.update_spray_record(f1, 2, &late).await.unwrap();
    let v = db.spray_record_versions(f1).await.unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].fields, r);
    assert_eq!(v[0].signed_by.as_deref(), Some("農家"));
    assert_eq!(v[1].fields.litres, Some(9.0));
    assert!(v[1].signed_at.is_none());
    // The superseded version stays frozen even though it was the signed one.
    assert!(db.update_spray_record(f1, 1, &late).await.is_err());

    // Lists hold the newest version per flight, filtered by date.
    let all = db.spray_records_of_farm(farm.id, None, None).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|x| (x.flight_id, x.version))
            .collect::<Vec<_>>(),
        [(f1, 2), (f2, 1)]
    );
    let june = db
        .spray_records_of_farm(farm.id, Some("2026-06-01"), Some("2026-06-30"))
        .await
        .unwrap();
    assert_eq!(june.len(), 1);
    assert_eq!(june[0].flight_id, f1);

    let p = db
        .create_pesticide(farm.id, "スタークル粒剤", "20887", Some(1000.0), Some(0.8))
        .await
        .unwrap();
    assert!(
        db.create_pesticide(farm.id, "スタークル粒剤", "", None, None)
            .await
            .is_err()
    );
    assert!(
        db.create_pesticide(farm.id, "x", "", Some(-1.0), None)
            .await
            .is_err()
    );
    let cat = db.pesticides(farm.id).await.unwrap();
    assert_eq!(cat.len(), 1);
    assert_eq!((cat[0].id, cat[0].dilution), (p, Some(1000.0)));
});

both_backends!(logbooks_are_versions_frozen_by_signing, |db| {
    let d = db.districts().await.unwrap();
    let farm = db.create_farm(d[0].id, "f", "crop", "").await.unwrap();
    let f1 = flight(db, farm.id).await;
    let t0 = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
    let mut l = LogbookFields {
        flown_on: "2026-06-10".into(),
        takeoff_at: Some(t0),
        takeoff_lat: Some(36.97),
        takeoff_lon: Some(139.98),
        landing_at: Some(t0 + chrono::Duration::seconds(300)),
        flight_s: Some(300.0),
        events_json: "{\"failsafes\":[]}".into(),
        ..LogbookFields::default()
    };
    assert!(db.create_logbook(f1, farm.id, &l).await.unwrap());
    l.pilot = "山田".into();
    l.notes = "異常なし".into();
    db.update_logbook(f1, 1, &l).await.unwrap();
    db.sign_logbook(f1, 1, "山田").await.unwrap();
    assert!(db.update_logbook(f1, 1, &l).await.is_err());
    assert_eq!(db.amend_logbook(f1).await.unwrap(), 2);
    let v = db.logbook_versions(f1).await.unwrap();
    assert_eq!(v[0].fields, l);
    assert_eq!(v[1].fields, l);
    assert!(v[1].signed_at.is_none());
    let list = db
        .logbooks_of_farm(farm.id, Some("2026-06-10"), Some("2026-06-10"))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].version, 2);
    assert!(
        db.logbooks_of_farm(farm.id, Some("2026-06-11"), None)
            .await
            .unwrap()
            .is_empty()
    );
});
