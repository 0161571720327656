//! Storage tests of the alert tables on both backends.

use chrono::Duration;

use super::super::testdb::both_backends;
use super::*;

async fn farm_and_rule(db: &Db) -> (i64, i64) {
    let district = db.districts().await.unwrap()[0].id;
    let farm = db.create_farm(district, "牧場", "dairy", "").await.unwrap();
    let rule = db
        .create_alert_rule(farm.id, RuleKind::ParlorOffline, None, 5, None)
        .await
        .unwrap();
    (farm.id, rule)
}

fn cond(farm_id: i64, rule_id: i64) -> OpenCondition {
    OpenCondition {
        rule_id,
        farm_id,
        condition_key: "parlor:1".into(),
        parlor_id: None,
        subject: "P".into(),
        detail: String::new(),
        critical: false,
        kind: RuleKind::ParlorOffline,
        since: Utc::now(),
    }
}

both_backends!(one_open_alert_per_condition, |db| {
    let (farm, rule) = farm_and_rule(db).await;
    let mut c = cond(farm, rule);
    c.parlor_id = Some(sqlx_parlor(db, farm).await);
    let now = Utc::now();
    let mut tx = db.begin().await.unwrap();
    let first = tx.open_alert(&c, now).await.unwrap();
    assert!(first.is_some());
    assert_eq!(tx.open_alert(&c, now).await.unwrap(), None);
    tx.commit().await.unwrap();
    let id = first.unwrap();
    let mut tx = db.begin().await.unwrap();
    assert!(
        tx.resolve_alert(id, now + Duration::minutes(1))
            .await
            .unwrap()
    );
    assert!(
        !tx.resolve_alert(id, now + Duration::minutes(2))
            .await
            .unwrap()
    );
    // Once resolved, the same condition may open a new alert.
    let again = tx.open_alert(&c, now + Duration::minutes(3)).await.unwrap();
    assert!(again.is_some_and(|a| a != id));
    tx.commit().await.unwrap();
    assert_eq!(db.alerts_of_farm(farm).await.unwrap().len(), 2);
    assert_eq!(db.open_alerts().await.unwrap().len(), 1);
});

both_backends!(rules_refuse_nonsense_and_alerts_stay_in_their_farm, |db| {
    let (farm, _) = farm_and_rule(db).await;
    let err = db
        .create_alert_rule(farm, RuleKind::LowThroughput, None, 0, Some(100.0))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Conflict { .. }), "{err}");
    let err = db
        .create_alert_channel(farm, "webhook", "http://x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Conflict { .. }), "{err}");
    assert_eq!(db.enabled_alert_rules().await.unwrap().len(), 1);
    assert!(matches!(
        db.acknowledge_alert(farm + 1000, 1, 1, Utc::now()).await,
        Err(StorageError::NotFound { .. })
    ));
});

/// A parlor of the farm, made the way the ingest makes one.
async fn sqlx_parlor(db: &Db, farm: i64) -> i64 {
    on_exec!(db.on(), e => sqlx::query_scalar::<_, i64>(
        "INSERT INTO parlors (farm_id, name, created_at) VALUES ($1, 'P', $2) RETURNING id")
        .bind(farm).bind(Utc::now()).fetch_one(e).await.unwrap())
}
