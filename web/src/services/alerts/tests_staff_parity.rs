//! The staff alert at parity with a farm's, through the whole service against the real peers:
//! quiet hours hold a staff message until they end, a second line hears of an alert nobody
//! acknowledged in time (and not of one acknowledged through its signed link), and a push
//! service's `Retry-After` reschedules a staff message.

use chrono::{DateTime, Duration, SubsecRound, Utc};

use super::service::run_once;
use super::settings::ChannelInput;
use super::staff::{self, day_bounds, judged_day};
use super::tests::{SECRET, SmtpPeer, webhook_receiver};
use super::tests_outbox::cfg;
use super::tests_push::{PushPeer, accepted};
use super::tests_staff::{day, next_morning, report, silent_district};
use super::webpush;
use crate::i18n::Lang;
use crate::storage::testdb::both_backends;
use crate::storage::{Db, on_exec};

/// A staff mail channel with the given quiet hours and escalation.
fn mail(target: &str, quiet: Option<&str>, escalate_after_min: Option<i64>) -> ChannelInput {
    ChannelInput {
        kind: "email".into(),
        target: target.into(),
        secret: None,
        quiet: quiet.map(str::to_owned),
        escalate_after_min,
    }
}

/// The unfinished staff messages nobody holds, by when they are due.
async fn due_staff_messages(db: &Db) -> Vec<DateTime<Utc>> {
    on_exec!(db.on(), e => sqlx::query_scalar::<_, DateTime<Utc>>(
        "SELECT due_at FROM staff_alert_outbox WHERE done_at IS NULL AND claimed_until IS NULL \
         ORDER BY due_at")
        .fetch_all(e).await.unwrap())
}

/// The staff acknowledge link's token in a message's text.
fn staff_token(text: &str) -> String {
    let (_, rest) = text
        .split_once("/staff/alerts/ack/")
        .unwrap_or_else(|| panic!("no staff acknowledge link in {text:?}"));
    rest.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn quiet_hours_hold_a_staff_message_until_they_end(db: &Db) {
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let d = day();
    let (_, _, _, user) = silent_district(db, "yakan", d).await;
    // Quiet 06:30–08:00 Tokyo; the day is judged at 07:00.
    let quiet = mail(
        "yakan@city.nasushiobara.example.jp",
        Some("06:30-08:00"),
        None,
    );
    staff::add_channel_with(db, Lang::Ja, &quiet, user)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let c = cfg(smtp.port);
    let now = next_morning(d);
    let eight = day_bounds(d).1 + Duration::hours(8);
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    assert!(smtp.mails().is_empty(), "held in quiet hours");
    assert_eq!(due_staff_messages(db).await, [eight], "held until they end");
    run_once(db, &c, &client, eight - Duration::seconds(1))
        .await
        .unwrap();
    assert!(smtp.mails().is_empty());
    run_once(db, &c, &client, eight).await.unwrap();
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.starts_with("【データ未着】黒磯"), "{mails:?}");
    // The text carries the staff alert's own acknowledge link.
    let a = &db.staff_alerts(5).await.unwrap()[0];
    let token = staff_token(&mails[0].2);
    assert!(token.starts_with(&format!("{}.", a.id)), "{token}");
    assert_eq!(db.pending_staff_messages().await.unwrap(), 0);
    let tries = db.staff_alert_deliveries(a.id).await.unwrap();
    assert_eq!(tries.len(), 1, "{tries:?}");
    assert_eq!(tries[0].status, "sent");
}

both_backends!(staff_quiet_hours, |db| {
    quiet_hours_hold_a_staff_message_until_they_end(db).await;
});

/// A silent district with a first-line webhook and a second-line mail after 10 minutes:
/// (when its day is judged, the silent farm's parlor).
async fn two_lines(db: &Db, hook_url: &str, name: &str) -> (DateTime<Utc>, i64) {
    let d = day();
    let (_, parlor, _, user) = silent_district(db, name, d).await;
    // The receiver's key is shorter than the form accepts: stored directly.
    let mut tx = db.begin().await.unwrap();
    tx.insert_staff_alert_channel("webhook", hook_url, Some(SECRET), user, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let boss = mail("kacho@city.nasushiobara.example.jp", None, Some(10));
    staff::add_channel_with(db, Lang::Ja, &boss, user)
        .await
        .unwrap();
    (next_morning(d), parlor)
}

async fn an_unacknowledged_staff_alert_escalates_to_the_second_line(db: &Db) {
    let (hook_url, hook) = webhook_receiver().await;
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let client = reqwest::Client::new();
    let c = cfg(smtp.port);
    let (now, parlor) = two_lines(db, &hook_url, "ichiji").await;
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    let hooks = hook.accepted.lock().await.clone();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["scope"], "staff");
    assert!(
        hooks[0]["ack_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://agri.test/staff/alerts/ack/")),
        "{}",
        hooks[0]
    );
    assert!(smtp.mails().is_empty());
    run_once(db, &c, &client, now + Duration::minutes(9))
        .await
        .unwrap();
    assert!(smtp.mails().is_empty(), "not before its 10 minutes");
    run_once(db, &c, &client, now + Duration::minutes(10))
        .await
        .unwrap();
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "kacho@city.nasushiobara.example.jp");
    staff_token(&mails[0].2);
    // It heard of the opening, so it hears of the clearing too.
    report(db, parlor, day_bounds(day()).0 + Duration::hours(11)).await;
    assert_eq!(
        run_once(db, &c, &client, now + Duration::minutes(20))
            .await
            .unwrap(),
        1
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(
        mails.iter().any(|m| m.1.starts_with("【復旧】")),
        "{mails:?}"
    );
    assert_eq!(hook.accepted.lock().await.len(), 2);
    assert_eq!(db.pending_staff_messages().await.unwrap(), 0);
}

both_backends!(staff_escalation, |db| {
    an_unacknowledged_staff_alert_escalates_to_the_second_line(db).await;
});

async fn a_staff_alert_acknowledged_by_its_link_does_not_escalate(db: &Db) {
    let (hook_url, hook) = webhook_receiver().await;
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    let client = reqwest::Client::new();
    let c = cfg(smtp.port);
    let (now, parlor) = two_lines(db, &hook_url, "kakunin").await;
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    let hooks = hook.accepted.lock().await.clone();
    let token = staff_token(hooks[0]["text"].as_str().unwrap());
    // Tampered, it acknowledges nothing.
    let flip = if token.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{flip}", &token[..token.len() - 1]);
    let at = now + Duration::minutes(3);
    assert_eq!(
        staff::acknowledge_by_link(db, &tampered, at).await.unwrap(),
        None
    );
    assert!(
        db.staff_alerts(5).await.unwrap()[0]
            .acknowledged_at
            .is_none()
    );
    // The link from the message acknowledges it, once.
    assert_eq!(
        staff::acknowledge_by_link(db, &token, at).await.unwrap(),
        Some(true)
    );
    assert_eq!(
        staff::acknowledge_by_link(db, &token, at + Duration::minutes(1))
            .await
            .unwrap(),
        Some(false)
    );
    let a = db.staff_alerts(5).await.unwrap()[0].clone();
    assert_eq!(a.acknowledged_at, Some(at));
    assert_eq!(a.acknowledged_by, None, "a link has no user");
    run_once(db, &c, &client, now + Duration::minutes(11))
        .await
        .unwrap();
    assert!(smtp.mails().is_empty(), "no escalation after an ack");
    assert_eq!(db.pending_staff_messages().await.unwrap(), 0);
    // Its clearing reaches the first line only: the second never heard of the opening.
    report(db, parlor, day_bounds(day()).0 + Duration::hours(11)).await;
    run_once(db, &c, &client, now + Duration::minutes(20))
        .await
        .unwrap();
    assert!(smtp.mails().is_empty());
    assert_eq!(hook.accepted.lock().await.len(), 2);
    let tries = db.staff_alert_deliveries(a.id).await.unwrap();
    assert!(tries.iter().all(|t| t.channel == "webhook"), "{tries:?}");
}

both_backends!(staff_ack_link_stops_escalation, |db| {
    a_staff_alert_acknowledged_by_its_link_does_not_escalate(db).await;
});

async fn a_push_service_s_retry_after_reschedules_a_staff_message(db: &Db) {
    let key = webpush::server_key(db).await.unwrap().public_b64();
    let Some(peer) = PushPeer::start(&key) else {
        return;
    };
    // The peer checks the VAPID token's expiry against the clock: judged now, for real.
    let now = Utc::now().trunc_subsecs(0);
    let d = judged_day(now, 6);
    let (_, _, _, user) = silent_district(db, "later-kakari", d).await;
    staff::subscribe(db, Lang::Ja, user, &peer.subscription("/push/later/phone"))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let c = cfg(3);
    let started = std::time::Instant::now();
    assert_eq!(run_once(db, &c, &client, now).await.unwrap(), 1);
    // 429 with Retry-After: 30 — not retried in this round, and the round did not wait.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let report = peer.report().await;
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0]["status"], 429);
    assert_eq!(
        due_staff_messages(db).await,
        [now + Duration::seconds(30)],
        "due when the service said, its claim freed"
    );
    run_once(db, &c, &client, now + Duration::seconds(29))
        .await
        .unwrap();
    assert_eq!(peer.report().await.len(), 1);
    run_once(db, &c, &client, now + Duration::seconds(30))
        .await
        .unwrap();
    let report = peer.report().await;
    assert_eq!(report.len(), 2, "{report:?}");
    let got = accepted(&report);
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .ack_url
            .as_deref()
            .is_some_and(|u| u.contains("/staff/alerts/ack/"))
    );
    let a = &db.staff_alerts(5).await.unwrap()[0];
    let tries = db.staff_alert_deliveries(a.id).await.unwrap();
    let pushes: Vec<_> = tries
        .iter()
        .map(|t| (t.channel.as_str(), t.attempt, t.status.as_str()))
        .collect();
    assert_eq!(pushes, [("webpush", 1, "failed"), ("webpush", 2, "sent")]);
    assert!(
        tries[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("retry after 30 s"),
        "{tries:?}"
    );
    assert_eq!(db.pending_staff_messages().await.unwrap(), 0);
}

both_backends!(staff_push_retry_after, |db| {
    a_push_service_s_retry_after_reschedules_a_staff_message(db).await;
});
