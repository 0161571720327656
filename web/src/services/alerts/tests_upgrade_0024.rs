//! Migration 0024 on a database with attempts stored before it: each attempt only one channel
//! could have made gets that channel, one several could have made (two browsers on one push
//! service) gets none and counts for none, and the alert pages still list every attempt.

use chrono::Utc;

use crate::storage::testdb::TestDb;
use crate::storage::{Db, OpenCondition, RuleKind, on_exec};

/// The version before the one under test.
const BEFORE: i64 = 23;

/// A delivery attempt as stored before 0024 (no channel column yet).
async fn old_attempt(db: &Db, farm: i64, alert: i64, event: &str, kind: &str, target: &str) {
    on_exec!(db.on(), e => sqlx::query(
        "INSERT INTO alert_deliveries \
         (farm_id, alert_id, event, channel, target, attempt, status, error, at) \
         VALUES ($1, $2, $3, $4, $5, 1, 'failed', 'old', $6)")
        .bind(farm).bind(alert).bind(event).bind(kind).bind(target).bind(Utc::now())
        .execute(e).await.map(|r| r.rows_affected()).unwrap());
}

/// A staff delivery attempt as stored before 0024.
async fn old_staff_attempt(db: &Db, alert: i64, kind: &str, target: &str) {
    on_exec!(db.on(), e => sqlx::query(
        "INSERT INTO staff_alert_deliveries \
         (alert_id, event, channel, target, attempt, status, error, at) \
         VALUES ($1, 'opened', $2, $3, 1, 'failed', 'old', $4)")
        .bind(alert).bind(kind).bind(target).bind(Utc::now())
        .execute(e).await.map(|r| r.rows_affected()).unwrap());
}

async fn channels_of(db: &Db, table: &str) -> Vec<Option<i64>> {
    let sql = format!("SELECT channel_id FROM {table} ORDER BY id");
    on_exec!(db.on(), e => sqlx::query_scalar::<_, Option<i64>>(sqlx::AssertSqlSafe(sql))
        .fetch_all(e).await.unwrap())
}

async fn old_attempts_get_their_channel_where_it_can_be_known(t: TestDb) {
    let db = &t.db;
    let now = Utc::now();
    let district = db.districts().await.unwrap()[0].id;
    let farm = db
        .create_farm(district, "upgrade-farm", "dairy", "")
        .await
        .unwrap()
        .id;
    let rule = db
        .create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    let label = "https://push.example.net";
    let mail = db
        .create_alert_channel(farm, "email", "op@nasu.example.jp", None)
        .await
        .unwrap();
    let phone1 = db
        .create_alert_channel(farm, "webpush", label, None)
        .await
        .unwrap();
    let phone2 = db
        .create_alert_channel(farm, "webpush", label, None)
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let cond = OpenCondition {
        rule_id: rule,
        farm_id: farm,
        condition_key: "parlor:1".into(),
        parlor_id: None,
        subject: "第1パーラー".into(),
        detail: String::new(),
        kind: RuleKind::ParlorStopped,
        since: now,
        critical: false,
    };
    let alert = tx.open_alert(&cond, now).await.unwrap().unwrap();
    assert_eq!(
        tx.enqueue_alert_message(farm, alert, "opened", "{}", now)
            .await
            .unwrap(),
        3
    );
    tx.commit().await.unwrap();
    old_attempt(db, farm, alert, "opened", "email", "op@nasu.example.jp").await;
    old_attempt(db, farm, alert, "opened", "webpush", label).await;
    old_attempt(db, farm, alert, "opened", "webpush", label).await;
    // An attempt with no queued message (as before the outbox): the farm's one mail channel.
    old_attempt(db, farm, alert, "resolved", "email", "op@nasu.example.jp").await;

    let staff = on_exec!(db.on(), e => sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, display_name, password_hash, role, farm_id, created_at) \
         VALUES ('upgrade-kakari', '係', 'x', 'staff', NULL, $1) RETURNING id")
        .bind(now).fetch_one(e).await.unwrap());
    let mut tx = db.begin().await.unwrap();
    let staff_mail = tx
        .insert_staff_alert_channel("email", "kakari@city.example.jp", None, staff, now)
        .await
        .unwrap();
    let staff_phone1 = tx
        .insert_staff_alert_channel("webpush", label, None, staff, now)
        .await
        .unwrap();
    tx.insert_staff_alert_channel("webpush", label, None, staff, now)
        .await
        .unwrap();
    let staff_alert = tx
        .open_staff_alert(district, "2026-11-10", "", now)
        .await
        .unwrap()
        .unwrap();
    tx.enqueue_staff_message(staff_alert, "opened", "{}", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    old_staff_attempt(db, staff_alert, "email", "kakari@city.example.jp").await;
    old_staff_attempt(db, staff_alert, "webpush", label).await;

    t.migrate().await;
    assert_eq!(
        channels_of(db, "alert_deliveries").await,
        [Some(mail), None, None, Some(mail)]
    );
    assert_eq!(
        channels_of(db, "staff_alert_deliveries").await,
        [Some(staff_mail), None]
    );
    // The mail's attempt continues its count; the browsers' shared ones count for neither.
    let count = |ch| db.delivery_attempts(farm, alert, "opened", ch);
    assert_eq!(count(mail).await.unwrap(), 1);
    assert_eq!(count(phone1).await.unwrap(), 0);
    assert_eq!(count(phone2).await.unwrap(), 0);
    let claimed = db
        .claim_due_staff_messages(now, chrono::Duration::minutes(5), 10)
        .await
        .unwrap();
    let by_channel = |ch: i64| claimed.iter().find(|r| r.channel_id == ch).unwrap();
    assert_eq!(
        db.staff_delivery_attempts(by_channel(staff_mail))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        db.staff_delivery_attempts(by_channel(staff_phone1))
            .await
            .unwrap(),
        0
    );
    // Every old attempt is still listed.
    assert_eq!(db.alert_deliveries(farm, alert).await.unwrap().len(), 4);
    assert_eq!(
        db.staff_alert_deliveries(staff_alert).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn upgrade_0024_sqlite() {
    old_attempts_get_their_channel_where_it_can_be_known(TestDb::sqlite_at(BEFORE).await).await;
}

#[tokio::test]
async fn upgrade_0024_postgres() {
    old_attempts_get_their_channel_where_it_can_be_known(TestDb::postgres_at(BEFORE).await).await;
}
