//! The delivery outbox: an alert's messages commit with it, survive a crash before they are
//! sent, are sent once even by two servers, and a crashed server's claim runs out.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

use super::deliver::{RetryPolicy, SmtpConfig};
use super::outbox::drain;
use super::rules::RuleKind;
use super::service::{AlertConfig, evaluate_once, run_once};
use super::tests::{SECRET, SmtpPeer, farm_with_parlor, intervals, webhook_receiver};
use crate::storage::testdb::both_backends;
use crate::storage::{Db, fault};

pub(super) fn cfg(smtp_port: u16) -> AlertConfig {
    AlertConfig {
        every: Duration::from_secs(60),
        public_url: "http://agri.test".into(),
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: smtp_port,
            from: "alerts@agriops.test".into(),
        }),
        retry: RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        },
    }
}

/// A farm whose parlor has been stopped for 7 minutes at the returned instant, with a
/// stopped-parlor rule, a webhook and a mail channel.
async fn stopped_farm(db: &Db, hook_url: &str) -> (i64, i64, DateTime<Utc>) {
    let (farm, parlor) = farm_with_parlor(db).await;
    db.create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    db.create_alert_channel(farm, "webhook", hook_url, Some(SECRET))
        .await
        .unwrap();
    db.create_alert_channel(farm, "email", "operator@nasu.example.jp", None)
        .await
        .unwrap();
    let t0 = Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1);
    intervals(db, parlor, t0, 0, 20, "running").await;
    intervals(db, parlor, t0, 20, 27, "stopped").await;
    (farm, parlor, t0 + chrono::Duration::minutes(27))
}

async fn an_alert_opened_before_a_crash_is_sent_after_restart(db: &Db) {
    let (hook_url, hook) = webhook_receiver().await;
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let (farm, parlor, now) = stopped_farm(db, &hook_url).await;
    // The evaluation commits the alert and its two messages; the server dies before sending.
    assert_eq!(evaluate_once(db, now).await.unwrap().len(), 1);
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].clone();
    assert!(
        db.alert_deliveries(farm, alert.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 2);
    // After the restart nothing is left in memory: the next round finds the alert open
    // (no new notice) and sends what the outbox holds, once.
    let client = reqwest::Client::new();
    let later = now + chrono::Duration::minutes(1);
    intervals(
        db,
        parlor,
        now - chrono::Duration::minutes(27),
        27,
        28,
        "stopped",
    )
    .await;
    assert_eq!(
        run_once(db, &cfg(smtp.port), &client, later).await.unwrap(),
        0
    );
    assert_eq!(
        run_once(db, &cfg(smtp.port), &client, later).await.unwrap(),
        0
    );
    let accepted = hook.accepted.lock().await.clone();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0]["event"], "opened");
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 0);
    // It clears: one resolved message per channel, however often the service runs.
    intervals(
        db,
        parlor,
        now - chrono::Duration::minutes(27),
        28,
        30,
        "running",
    )
    .await;
    let end = now + chrono::Duration::minutes(3);
    assert_eq!(
        run_once(db, &cfg(smtp.port), &client, end).await.unwrap(),
        1
    );
    assert_eq!(
        run_once(db, &cfg(smtp.port), &client, end).await.unwrap(),
        0
    );
    assert_eq!(hook.accepted.lock().await.len(), 2);
    assert_eq!(smtp.mails().len(), 2);
    assert_eq!(hook.bad_signatures.load(Ordering::SeqCst), 0);
}

both_backends!(crash_before_sending, |db| {
    an_alert_opened_before_a_crash_is_sent_after_restart(db).await;
});

async fn claims_hold_against_a_second_server_and_run_out_after_a_crash(db: &Db) {
    let (hook_url, hook) = webhook_receiver().await;
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let (farm, _, now) = stopped_farm(db, &hook_url).await;
    evaluate_once(db, now).await.unwrap();
    // A server claims both messages and is killed before it sends them.
    let lease = chrono::Duration::minutes(2);
    assert_eq!(
        db.claim_due_alert_messages(now, lease, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let client = reqwest::Client::new();
    let c = cfg(smtp.port);
    // While the claim holds, nobody sends them.
    let soon = now + chrono::Duration::seconds(30);
    assert_eq!(drain(db, &c, &client, soon).await.unwrap(), 0);
    assert_eq!(hook.hits.load(Ordering::SeqCst), 0);
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 2);
    // The claim runs out: two servers drain at once, and each message goes out once.
    let after = now + lease + chrono::Duration::seconds(1);
    let (a, b) = tokio::join!(drain(db, &c, &client, after), drain(db, &c, &client, after));
    assert_eq!(a.unwrap() + b.unwrap(), 2);
    assert_eq!(hook.accepted.lock().await.len(), 1);
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 0);
}

both_backends!(claims_and_leases, |db| {
    claims_hold_against_a_second_server_and_run_out_after_a_crash(db).await;
});

both_backends!(an_alert_and_its_messages_commit_together, |db| {
    let (farm, _, now) = stopped_farm(db, "http://127.0.0.1:9/hook").await;
    let r = fault::armed("alerts.after_open", evaluate_once(db, now)).await;
    assert!(r.is_err());
    // Nothing of it stayed: no alert without its messages.
    assert!(db.alerts_of_farm(farm).await.unwrap().is_empty());
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 0);
    assert_eq!(evaluate_once(db, now).await.unwrap().len(), 1);
    assert_eq!(db.alerts_of_farm(farm).await.unwrap().len(), 1);
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 2);
});

/// Waits until `done()` holds, at most `limit`; returns how long it took.
async fn within(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let start = std::time::Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn the_running_service_delivers_within_one_interval(db: &Db) {
    let (hook_url, hook) = webhook_receiver().await;
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let (farm, parlor) = farm_with_parlor(db).await;
    db.create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    db.create_alert_channel(farm, "webhook", &hook_url, Some(SECRET))
        .await
        .unwrap();
    db.create_alert_channel(farm, "email", "operator@nasu.example.jp", None)
        .await
        .unwrap();
    let t0 = Utc::now().trunc_subsecs(0) - chrono::Duration::minutes(30);
    intervals(db, parlor, t0, 0, 20, "running").await;
    let mut c = cfg(smtp.port);
    c.every = Duration::from_secs(1);
    let service = super::service::spawn(db.clone(), c);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(hook.accepted.lock().await.is_empty());
    // The parlor has been stopped for 7 minutes as of now: the stated time is one interval
    // (here 1 s) plus the delivery, with the receiver's first 503 and its retry included.
    intervals(db, parlor, t0, 20, 30, "stopped").await;
    let limit = Duration::from_secs(3);
    let took = within(limit, async || {
        hook.accepted.lock().await.len() == 1 && smtp.mails().len() == 1
    })
    .await;
    eprintln!("opened: webhook and mail within {took:?}");
    intervals(db, parlor, t0, 30, 31, "running").await;
    let took = within(limit, async || {
        hook.accepted.lock().await.len() == 2 && smtp.mails().len() == 2
    })
    .await;
    eprintln!("resolved: webhook and mail within {took:?}");
    service.abort();
    assert_eq!(hook.accepted.lock().await[1]["event"], "resolved");
}

both_backends!(delivered_within_one_interval, |db| {
    the_running_service_delivers_within_one_interval(db).await;
});
