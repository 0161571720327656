//! Quiet hours and escalation through the whole service, against the real peers.

use chrono::{DateTime, SubsecRound, Timelike, Utc};

use super::rules::RuleKind;
use super::service::run_once;
use super::tests::{SECRET, SmtpPeer, farm_with_parlor, intervals, webhook_receiver};
use super::tests_outbox::cfg;
use crate::i18n::JST;
use crate::storage::testdb::both_backends;
use crate::storage::{Db, NewChannel, NewUser, Role};

/// A farm whose parlor has been stopped 7 minutes at the returned instant, with a
/// stopped-parlor rule (returned) and the given channels.
async fn stopped(db: &Db, channels: &[NewChannel<'_>]) -> (i64, i64, DateTime<Utc>) {
    let (farm, parlor) = farm_with_parlor(db).await;
    let rule = db
        .create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    for c in channels {
        db.create_alert_channel_with(farm, c).await.unwrap();
    }
    let t0 = Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1);
    intervals(db, parlor, t0, 0, 20, "running").await;
    intervals(db, parlor, t0, 20, 27, "stopped").await;
    (farm, rule, t0 + chrono::Duration::minutes(27))
}

/// Tokyo minutes after midnight of `t`.
fn minute_of(t: DateTime<Utc>) -> i64 {
    let l = t.with_timezone(&JST);
    i64::from(l.hour() * 60 + l.minute())
}

async fn quiet_hours_hold_a_message_until_they_end_unless_critical(db: &Db) {
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let client = reqwest::Client::new();
    let c = cfg(smtp.port);
    // Quiet for the next 30 minutes of Tokyo time.
    let probe =
        Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1) + chrono::Duration::minutes(27);
    let m = minute_of(probe);
    let quiet = Some((m, (m + 30) % 1440));
    let mail = NewChannel {
        kind: "email",
        target: "night@nasu.example.jp",
        quiet,
        ..NewChannel::default()
    };
    let (farm, _, now) = stopped(db, std::slice::from_ref(&mail)).await;
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    assert!(smtp.mails().is_empty(), "held in quiet hours");
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 1);
    // Still quiet 29 minutes on; sent when they end.
    let start = now - chrono::Duration::seconds(i64::from(now.second()));
    run_once(db, &c, &client, start + chrono::Duration::minutes(29))
        .await
        .unwrap();
    assert!(smtp.mails().is_empty());
    run_once(db, &c, &client, start + chrono::Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 0);

    // A critical rule's alert passes the same quiet hours at once.
    let (farm, rule, now) = stopped(db, std::slice::from_ref(&mail)).await;
    db.set_alert_rule_critical(farm, rule, true).await.unwrap();
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    assert_eq!(smtp.mails().len(), 2);
}

both_backends!(quiet_hours, |db| {
    quiet_hours_hold_a_message_until_they_end_unless_critical(db).await;
});

async fn an_unacknowledged_alert_escalates_to_the_second_line(db: &Db) {
    let (hook_url, hook) = webhook_receiver().await;
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let client = reqwest::Client::new();
    let c = cfg(smtp.port);
    let channels = [
        NewChannel {
            kind: "webhook",
            target: &hook_url,
            secret: Some(SECRET),
            ..NewChannel::default()
        },
        NewChannel {
            kind: "email",
            target: "boss@nasu.example.jp",
            escalate_after_min: Some(10),
            ..NewChannel::default()
        },
    ];
    // Nobody acknowledges: the second line hears of it after 10 minutes, and of its end.
    let (farm, _, now) = stopped(db, &channels).await;
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    assert_eq!(hook.accepted.lock().await.len(), 1);
    assert!(smtp.mails().is_empty());
    run_once(db, &c, &client, now + chrono::Duration::minutes(9))
        .await
        .unwrap();
    assert!(smtp.mails().is_empty());
    run_once(db, &c, &client, now + chrono::Duration::minutes(10))
        .await
        .unwrap();
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "boss@nasu.example.jp");
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].id;
    let tries = db.alert_deliveries(farm, alert).await.unwrap();
    let got: Vec<_> = tries
        .iter()
        .map(|d| (d.channel.as_str(), d.status.as_str()))
        .collect();
    // The receiver's first answer is a 503: the webhook's first try failed, the second went.
    assert_eq!(
        got,
        [
            ("webhook", "failed"),
            ("webhook", "sent"),
            ("email", "sent")
        ]
    );

    // Acknowledged within the 10 minutes: the second line never hears of it, nor of its end.
    let (farm, _, now) = stopped(db, &channels).await;
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].id;
    let user = db
        .create_user(&NewUser {
            username: "operator",
            display_name: "operator",
            password_hash: "x",
            role: Role::Dairy,
            farm_id: Some(farm),
            lang: "ja",
        })
        .await
        .unwrap()
        .id;
    db.acknowledge_alert(farm, alert, user, now + chrono::Duration::minutes(3))
        .await
        .unwrap();
    run_once(db, &c, &client, now + chrono::Duration::minutes(11))
        .await
        .unwrap();
    assert_eq!(smtp.mails().len(), 1, "no escalation");
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 0);
    assert_eq!(hook.accepted.lock().await.len(), 2);
}

both_backends!(escalation, |db| {
    an_unacknowledged_alert_escalates_to_the_second_line(db).await;
});
