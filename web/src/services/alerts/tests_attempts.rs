//! A message's attempts are counted per channel, not per channel kind and target: several
//! browsers on one push service share a kind and a target (the service's label), and each is
//! still tried up to `--alert-attempts` times, on a farm's channels and on the staff's alike.

use chrono::{DateTime, Duration, SubsecRound, Utc};

use super::rules::RuleKind;
use super::service::run_once;
use super::staff::{self, judged_day};
use super::tests::{farm_with_parlor, intervals};
use super::tests_outbox::cfg;
use super::tests_push::{PushPeer, accepted};
use super::tests_staff::silent_district;
use super::webpush;
use crate::i18n::Lang;
use crate::storage::testdb::both_backends;
use crate::storage::{Db, DeliveryRow, NewUser, Role};

/// How many browsers share the push service: more than `--alert-attempts` (3).
const BROWSERS: usize = 4;

/// The (attempt, status) of each delivery attempt, in order, per browser: every browser's
/// first push met the service's 429 and its second was sent.
fn assert_each_browser_tried_twice(tries: &[DeliveryRow], port: u16) {
    assert_eq!(tries.len(), 2 * BROWSERS, "{tries:?}");
    let label = format!("http://127.0.0.1:{port}");
    assert!(
        tries
            .iter()
            .all(|t| t.channel == "webpush" && t.target == label)
    );
    let firsts = tries
        .iter()
        .filter(|t| (t.attempt, t.status.as_str()) == (1, "failed"));
    let seconds = tries
        .iter()
        .filter(|t| (t.attempt, t.status.as_str()) == (2, "sent"));
    assert_eq!(
        (firsts.count(), seconds.count()),
        (BROWSERS, BROWSERS),
        "{tries:?}"
    );
}

/// The browsers' names the peer accepted a push for, sorted.
fn accepted_names(report: &[serde_json::Value]) -> Vec<String> {
    accepted(report);
    let mut names: Vec<String> = report
        .iter()
        .filter(|r| r["status"] == 201)
        .map(|r| {
            r["path"]
                .as_str()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

fn browser_names() -> Vec<String> {
    (1..=BROWSERS).map(|i| format!("phone{i}")).collect()
}

async fn every_browser_of_a_farm_on_one_push_service_gets_its_own_tries(db: &Db) {
    let (farm, parlor) = farm_with_parlor(db).await;
    let user = db
        .create_user(&NewUser {
            username: "four-phones",
            display_name: "four-phones",
            password_hash: "x",
            role: Role::Dairy,
            farm_id: Some(farm),
            lang: "ja",
        })
        .await
        .unwrap()
        .id;
    let key = webpush::server_key(db).await.unwrap().public_b64();
    let Some(peer) = PushPeer::start(&key) else {
        return;
    };
    db.create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    for name in browser_names() {
        let sub = peer.subscription(&format!("/push/later/{name}"));
        webpush::subscribe(db, Lang::Ja, farm, user, &sub)
            .await
            .unwrap();
    }
    let c = cfg(1);
    let client = reqwest::Client::new();
    let t0: DateTime<Utc> = Utc::now().trunc_subsecs(0) - Duration::hours(1);
    let at = |s: i64| t0 + Duration::minutes(27) + Duration::seconds(s);
    intervals(db, parlor, t0, 0, 20, "running").await;
    intervals(db, parlor, t0, 20, 27, "stopped").await;
    // Every browser's first push meets a 429 with Retry-After: 30 and is rescheduled; then
    // four attempts are stored under one kind and target, more than the three allowed.
    run_once(db, &c, &client, at(0)).await.unwrap();
    assert_eq!(peer.report().await.len(), BROWSERS);
    run_once(db, &c, &client, at(30)).await.unwrap();
    let report = peer.report().await;
    assert_eq!(
        report.len(),
        2 * BROWSERS,
        "each browser tried again: {report:?}"
    );
    assert_eq!(
        accepted_names(&report),
        browser_names(),
        "every browser got it"
    );
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].clone();
    let tries = db.alert_deliveries(farm, alert.id).await.unwrap();
    assert_each_browser_tried_twice(&tries, peer.port);
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 0);
}

both_backends!(farm_browsers_on_one_push_service, |db| {
    every_browser_of_a_farm_on_one_push_service_gets_its_own_tries(db).await;
});

async fn every_staff_browser_on_one_push_service_gets_its_own_tries(db: &Db) {
    let key = webpush::server_key(db).await.unwrap().public_b64();
    let Some(peer) = PushPeer::start(&key) else {
        return;
    };
    // The peer checks the VAPID token's expiry against the clock: judged now, for real.
    let now = Utc::now().trunc_subsecs(0);
    let d = judged_day(now, 6);
    let (_, _, _, user) = silent_district(db, "four-kakari", d).await;
    for name in browser_names() {
        let sub = peer.subscription(&format!("/push/later/{name}"));
        staff::subscribe(db, Lang::Ja, user, &sub).await.unwrap();
    }
    let c = cfg(3);
    let client = reqwest::Client::new();
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    assert_eq!(peer.report().await.len(), BROWSERS);
    run_once(db, &c, &client, now + Duration::seconds(30))
        .await
        .unwrap();
    let report = peer.report().await;
    assert_eq!(
        report.len(),
        2 * BROWSERS,
        "each browser tried again: {report:?}"
    );
    assert_eq!(
        accepted_names(&report),
        browser_names(),
        "every browser got it"
    );
    let a = &db.staff_alerts(5).await.unwrap()[0];
    let tries = db.staff_alert_deliveries(a.id).await.unwrap();
    assert_each_browser_tried_twice(&tries, peer.port);
    assert_eq!(db.pending_staff_messages().await.unwrap(), 0);
}

both_backends!(staff_browsers_on_one_push_service, |db| {
    every_staff_browser_on_one_push_service_gets_its_own_tries(db).await;
});
