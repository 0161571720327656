//! The staff alert against a real SMTP peer: a district with one farm silent for a day raises
//! exactly one alert, mailed once; the day's data arriving late clears it once; farms see none
//! of it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::service::run_once;
use super::staff::{self, HISTORY_DAYS, StaffRuleInput, day_bounds, judged_day, silent_farms};
use super::tests::{SECRET, SmtpPeer, farm_with_parlor, webhook_receiver};
use super::tests_outbox::cfg;
use super::tests_push::{PushPeer, accepted};
use super::webpush;
use crate::i18n::Lang;
use crate::storage::testdb::both_backends;
use crate::storage::{Db, FarmActivity, on_exec};

/// The silent day of the tests.
pub(super) fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 10).unwrap()
}

/// 07:00 in Tokyo on the day after `d`.
pub(super) fn next_morning(d: NaiveDate) -> DateTime<Utc> {
    day_bounds(d).1 + Duration::hours(7)
}

/// One minute-long interval of `parlor` ending at `end`.
pub(super) async fn report(db: &Db, parlor: i64, end: DateTime<Utc>) {
    let start = end - Duration::minutes(1);
    on_exec!(db.on(), e => sqlx::query(
        "INSERT INTO parlor_intervals (parlor_id, dedupe_key, start_t, end_t, online_s, cows, \
         milk_kg, cows_per_hour_rolling, milkings, rotation_s, occupancy, idle_bails, kickoffs, \
         reattaches, stops, washes, alerts, state) \
         VALUES ($1, $2, $3, $4, 60, 5, 100, 300, 5, NULL, NULL, 0, 0, 0, 0, 0, 0, 'running')")
        .bind(parlor).bind(format!("s{}", end.timestamp())).bind(start).bind(end)
        .execute(e).await.map(|r| r.rows_affected()).unwrap());
}

/// A report at 10:00 Tokyo on each of the `HISTORY_DAYS` days before `d`.
async fn normal_week(db: &Db, parlor: i64, d: NaiveDate) {
    for k in 1..=HISTORY_DAYS {
        report(
            db,
            parlor,
            day_bounds(d - Duration::days(k)).0 + Duration::hours(10),
        )
        .await;
    }
}

fn farm(id: i64, district: i64, parlor_reports: i64) -> FarmActivity {
    FarmActivity {
        farm_id: id,
        district_id: district,
        name: format!("farm{id}"),
        parlors: 1,
        flights: 0,
        records: 0,
        parlor_reports,
    }
}

#[test]
fn a_farm_is_silent_only_when_it_normally_reports() {
    let d = day();
    let mut by_day = BTreeMap::new();
    // Farm 1 reported on all 7 days before; farm 2 on 3 of them; farm 3 reported today.
    for k in 1..=HISTORY_DAYS {
        let f2 = i64::from(k <= 3);
        by_day.insert(
            d - Duration::days(k),
            vec![farm(1, 1, 5), farm(2, 1, f2), farm(3, 1, 5)],
        );
    }
    by_day.insert(d, vec![farm(1, 1, 0), farm(2, 1, 0), farm(3, 1, 2)]);
    assert_eq!(silent_farms(&by_day, d, 1), vec!["farm1".to_owned()]);
    assert!(silent_farms(&by_day, d, 2).is_empty());
    // 4 of 7 is normal.
    for k in 1..=4 {
        by_day.get_mut(&(d - Duration::days(k))).unwrap()[1].parlor_reports = 1;
    }
    assert_eq!(silent_farms(&by_day, d, 1).len(), 2);
}

#[test]
fn the_judged_day_is_yesterday_once_the_hour_has_passed() {
    let d = day();
    let (start, _) = day_bounds(d + Duration::days(1));
    assert_eq!(judged_day(start + Duration::hours(6), 6), d);
    assert_eq!(
        judged_day(start + Duration::hours(6) - Duration::seconds(1), 6),
        d - Duration::days(1)
    );
    assert_eq!(judged_day(start, 0), d);
    // Midnight in Tokyo is 15:00 UTC the day before.
    assert_eq!(start, Utc.with_ymd_and_hms(2026, 11, 10, 15, 0, 0).unwrap());
}

/// A district whose one normally reporting farm is silent on `d` beside a farm that
/// reported, watched by the rule from 06:00; returns (silent farm, its parlor, the other
/// parlor, a staff user).
pub(super) async fn silent_district(db: &Db, username: &str, d: NaiveDate) -> (i64, i64, i64, i64) {
    // The silent farm, in the first district, and a farm of the same district that reports.
    let (silent_farm, silent) = farm_with_parlor(db).await;
    let (_, busy) = farm_with_parlor(db).await;
    normal_week(db, silent, d).await;
    normal_week(db, busy, d).await;
    report(db, busy, day_bounds(d).0 + Duration::hours(9)).await;
    let district = db.districts().await.unwrap()[0].id;
    let staff_user = on_exec!(db.on(), e => sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, display_name, password_hash, role, farm_id, created_at) \
         VALUES ($2, '係', 'x', 'staff', NULL, $1) RETURNING id")
        .bind(Utc::now()).bind(username).fetch_one(e).await.unwrap());
    staff::save_rule(
        db,
        Lang::Ja,
        &StaffRuleInput {
            enabled: true,
            after_hour: "6".into(),
            districts: vec![district.to_string()],
        },
        staff_user,
    )
    .await
    .unwrap();
    (silent_farm, silent, busy, staff_user)
}

async fn one_silent_farm_raises_one_mailed_alert_and_late_data_clears_it(db: &Db) {
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let (hook_url, hook) = webhook_receiver().await;
    let d = day();
    let (silent_farm, silent, busy, staff_user) = silent_district(db, "shokuin", d).await;
    let district = db.districts().await.unwrap()[0].id;
    staff::add_channel(
        db,
        Lang::Ja,
        "email",
        "kakari@city.nasushiobara.example.jp",
        "",
        staff_user,
    )
    .await
    .unwrap();
    // The receiver's key is shorter than the form accepts: stored directly.
    let mut tx = db.begin().await.unwrap();
    tx.insert_staff_alert_channel("webhook", &hook_url, Some(SECRET), staff_user, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let client = reqwest::Client::new();
    let cfg = cfg(smtp.port);
    // Before 06:00 the day is not judged yet.
    let early = next_morning(d) - Duration::hours(2);
    assert_eq!(run_once(db, &cfg, &client, early).await.unwrap(), 0);
    // After it: exactly one alert, however often the service runs.
    let now = next_morning(d);
    assert_eq!(run_once(db, &cfg, &client, now).await.unwrap(), 1);
    assert_eq!(
        run_once(db, &cfg, &client, now + Duration::minutes(1))
            .await
            .unwrap(),
        0
    );
    let alerts = db.staff_alerts(10).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].district_id, district);
    assert_eq!(alerts[0].day, "2026-11-10");
    assert!(alerts[0].detail.contains("那須牧場"), "{:?}", alerts[0]);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "kakari@city.nasushiobara.example.jp");
    assert!(
        mails[0].1.starts_with("【データ未着】黒磯 2026-11-10"),
        "{}",
        mails[0].1
    );
    assert!(
        mails[0].2.contains("http://agri.test/staff/alerts"),
        "{}",
        mails[0].2
    );
    let hooks = hook.accepted.lock().await.clone();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["scope"], "staff");
    assert_eq!(hooks[0]["event"], "opened");
    assert_eq!(hook.bad_signatures.load(Ordering::SeqCst), 0);
    assert_eq!(db.pending_staff_messages().await.unwrap(), 0);
    // The farm's own alerts know nothing of it.
    assert!(db.alerts_of_farm(silent_farm).await.unwrap().is_empty());
    // The day's data arrives late (the bridge's outbox catching up): one cleared message.
    report(db, silent, day_bounds(d).0 + Duration::hours(11)).await;
    let later = now + Duration::hours(2);
    assert_eq!(run_once(db, &cfg, &client, later).await.unwrap(), 1);
    assert_eq!(run_once(db, &cfg, &client, later).await.unwrap(), 0);
    let a = &db.staff_alerts(10).await.unwrap()[0];
    assert!(a.resolved_at.is_some());
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(
        mails
            .iter()
            .any(|m| m.1.starts_with("【復旧】黒磯 2026-11-10")),
        "{mails:?}"
    );
    assert_eq!(hook.accepted.lock().await.len(), 2);
    // The next days: the farm reports again, nothing opens; the cleared day never reopens.
    report(
        db,
        silent,
        day_bounds(d + Duration::days(1)).0 + Duration::hours(10),
    )
    .await;
    report(
        db,
        busy,
        day_bounds(d + Duration::days(1)).0 + Duration::hours(10),
    )
    .await;
    let tomorrow = next_morning(d + Duration::days(1));
    assert_eq!(run_once(db, &cfg, &client, tomorrow).await.unwrap(), 0);
    assert_eq!(db.staff_alerts(10).await.unwrap().len(), 1);
    let deliveries = db.staff_alert_deliveries(a.id).await.unwrap();
    // Mail opened and cleared; the webhook refused its first call once (503) and was retried.
    assert_eq!(deliveries.len(), 5, "{deliveries:?}");
    assert_eq!(
        deliveries.iter().filter(|t| t.status == "failed").count(),
        1
    );
    assert_eq!(
        deliveries.iter().filter(|t| t.channel == "email").count(),
        2
    );
}

both_backends!(staff_alert_once_and_cleared_once, |db| {
    one_silent_farm_raises_one_mailed_alert_and_late_data_clears_it(db).await;
});

async fn the_rule_refuses_bad_input_in_the_users_language(db: &Db) {
    let input = |hour: &str, districts: Vec<String>| StaffRuleInput {
        enabled: true,
        after_hour: hour.into(),
        districts,
    };
    let user = on_exec!(db.on(), e => sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, display_name, password_hash, role, farm_id, created_at) \
         VALUES ('kakari2', '係', 'x', 'staff', NULL, $1) RETURNING id")
        .bind(Utc::now()).fetch_one(e).await.unwrap());
    for (hour, ds, lang, want) in [
        ("24", vec![], Lang::Ja, "0 から 23"),
        ("six", vec![], Lang::En, "whole number from 0 to 23"),
        (
            "6",
            vec!["999".to_owned()],
            Lang::Ja,
            "選ばれた地区がありません",
        ),
        ("6", vec!["x".to_owned()], Lang::En, "does not exist"),
    ] {
        let e = staff::save_rule(db, lang, &input(hour, ds), user)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    assert_eq!(db.staff_alert_rule().await.unwrap(), Default::default());
    let e = staff::add_channel(
        db,
        Lang::En,
        "webhook",
        "http://hook.example/x",
        "short",
        user,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("16"), "{e}");
    let d = db.districts().await.unwrap();
    let saved = staff::save_rule(
        db,
        Lang::Ja,
        &input(
            "5",
            vec![
                d[1].id.to_string(),
                d[0].id.to_string(),
                d[1].id.to_string(),
            ],
        ),
        user,
    )
    .await
    .unwrap();
    assert_eq!(db.staff_alert_rule().await.unwrap(), saved);
    assert_eq!(saved.districts, vec![d[0].id, d[1].id]);
}

both_backends!(staff_rule_validation, |db| {
    the_rule_refuses_bad_input_in_the_users_language(db).await;
});

async fn a_staff_browser_gets_the_alert_by_web_push(db: &Db) {
    let key = webpush::server_key(db).await.unwrap().public_b64();
    let Some(peer) = PushPeer::start(&key) else {
        return;
    };
    // The peer checks the VAPID token's expiry against the clock: judged now, for real.
    let now = Utc::now();
    let d = judged_day(now, 6);
    let (_, silent, _, staff_user) = silent_district(db, "push-kakari", d).await;
    staff::subscribe(
        db,
        Lang::Ja,
        staff_user,
        &peer.subscription("/push/busy/phone"),
    )
    .await
    .unwrap();
    staff::subscribe(
        db,
        Lang::Ja,
        staff_user,
        &peer.subscription("/push/gone/old"),
    )
    .await
    .unwrap();
    // The same browser subscribing again is one channel.
    staff::subscribe(
        db,
        Lang::Ja,
        staff_user,
        &peer.subscription("/push/busy/phone"),
    )
    .await
    .unwrap();
    assert_eq!(db.staff_push_subscriptions().await.unwrap().len(), 2);
    let client = reqwest::Client::new();
    let c = cfg(1);
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    let got = accepted(&peer.report().await);
    assert_eq!(got.len(), 1, "once, after a 503 and a retry: {got:?}");
    let title = format!("【データ未着】黒磯 {}", d.format("%Y-%m-%d"));
    assert!(got[0].title.starts_with(&title), "{:?}", got[0]);
    assert_eq!(got[0].url, "http://agri.test/staff/alerts");
    assert_eq!(got[0].event, "opened");
    // The opening carries the staff alert's own signed link, the clearing none.
    let ack = got[0].ack_url.as_deref().unwrap_or_default();
    assert!(
        ack.starts_with("http://agri.test/staff/alerts/ack/"),
        "{:?}",
        got[0]
    );
    // The push service said the other is gone: its subscription is removed, its channel off.
    let subs = db.staff_push_subscriptions().await.unwrap();
    assert_eq!(subs.len(), 1);
    assert!(subs[0].endpoint.ends_with("/push/busy/phone"));
    let channels = db.staff_alert_channels().await.unwrap();
    assert_eq!(
        channels.iter().filter(|c| c.enabled).count(),
        1,
        "{channels:?}"
    );
    // Late data: one cleared push to the remaining browser.
    report(db, silent, day_bounds(d).0 + Duration::hours(11)).await;
    let later = now + Duration::minutes(1);
    assert_eq!(run_once(db, &c, &client, later).await.unwrap(), 1);
    assert_eq!(run_once(db, &c, &client, later).await.unwrap(), 0);
    let got = accepted(&peer.report().await);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].event, "resolved");
    assert_eq!(got[0].tag, got[1].tag);
    assert!(got[1].ack_url.is_none());
    // A bad subscription is refused in the user's language.
    let mut bad = peer.subscription("/push/ok/x");
    bad.auth = "short".into();
    let e = staff::subscribe(db, Lang::En, staff_user, &bad)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("auth"), "{e}");
}

both_backends!(staff_alert_by_web_push, |db| {
    a_staff_browser_gets_the_alert_by_web_push(db).await;
});

#[test]
fn a_crop_farm_reports_by_flights_or_records_and_a_dairy_farm_by_its_parlors() {
    let crop = |flights, records| FarmActivity {
        parlors: 0,
        flights,
        records,
        ..farm(1, 1, 0)
    };
    assert!(staff::reported(&crop(1, 0)));
    assert!(staff::reported(&crop(0, 2)));
    assert!(!staff::reported(&crop(0, 0)));
    // A farm with parlors that flew but whose parlors sent nothing has not reported.
    let mixed = FarmActivity {
        flights: 3,
        ..farm(2, 1, 0)
    };
    assert!(!staff::reported(&mixed));
    assert!(staff::reported(&farm(3, 1, 1)));
}

async fn a_district_no_longer_watched_clears_quietly(db: &Db) {
    let d = day();
    let (_, _, _, staff_user) = silent_district(db, "kakari3", d).await;
    let client = reqwest::Client::new();
    let c = cfg(1);
    assert_eq!(run_once(db, &c, &client, next_morning(d)).await.unwrap(), 1);
    let rule = StaffRuleInput {
        enabled: true,
        after_hour: "6".into(),
        districts: Vec::new(),
    };
    staff::save_rule(db, Lang::Ja, &rule, staff_user)
        .await
        .unwrap();
    let later = next_morning(d) + Duration::hours(1);
    assert_eq!(
        run_once(db, &c, &client, later).await.unwrap(),
        0,
        "quietly"
    );
    let a = &db.staff_alerts(5).await.unwrap()[0];
    assert!(a.resolved_at.is_some());
    assert!(db.open_staff_alerts().await.unwrap().is_empty());
    assert_eq!(db.pending_staff_messages().await.unwrap(), 0);
}

both_backends!(staff_alert_unwatched_clears_quietly, |db| {
    a_district_no_longer_watched_clears_quietly(db).await;
});
