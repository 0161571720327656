//! Web Push against a real push service on loopback: `scripts/push_peer.py` (Python, in
//! `.venv-peers`: http-ece and cryptography) holds the browser's half of the subscription,
//! checks the VAPID signature against the server's key and decrypts every message as a
//! browser would. An alert reaches it once (after a 503 and a retry), its resolution follows,
//! and a push service's 410 removes the subscription.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, SubsecRound, Utc};

use super::rules::RuleKind;
use super::service::run_once;
use super::tests::{farm_with_parlor, intervals, python};
use super::tests_outbox::cfg;
use super::webpush::send::Payload;
use super::webpush::{self, SubscriptionInput};
use crate::i18n::Lang;
use crate::storage::testdb::both_backends;
use crate::storage::{Db, NewUser, Role, on_exec};

/// The push service peer; killed on drop.
pub(super) struct PushPeer {
    child: Child,
    pub(super) port: u16,
    p256dh: String,
    auth: String,
}

impl PushPeer {
    /// Starts the peer for subscriptions made under `server_key`; `None` when the peers'
    /// Python is absent (skipped, or a failure under `AGRIOPS_REQUIRE_SHARED=1`).
    pub(super) fn start(server_key: &str) -> Option<PushPeer> {
        let python = python()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/push_peer.py");
        // The peer's own decryption is first held to RFC 8291's worked example.
        let selftest = Command::new(&python)
            .arg(&script)
            .arg("--selftest")
            .output()
            .expect("run the push peer's self-test");
        assert!(
            selftest.status.success(),
            "push peer self-test: {} {}",
            String::from_utf8_lossy(&selftest.stdout),
            String::from_utf8_lossy(&selftest.stderr)
        );
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--server-key", server_key])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the push peer");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("peer stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the peer's first line");
        let hello: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("push peer said {line:?}: {e}"));
        Some(PushPeer {
            child,
            port: u16::try_from(hello["port"].as_u64().unwrap()).unwrap(),
            p256dh: hello["p256dh"].as_str().unwrap().to_owned(),
            auth: hello["auth"].as_str().unwrap().to_owned(),
        })
    }

    pub(super) fn subscription(&self, path: &str) -> SubscriptionInput {
        SubscriptionInput {
            endpoint: format!("http://127.0.0.1:{}{path}", self.port),
            p256dh: self.p256dh.clone(),
            auth: self.auth.clone(),
        }
    }

    /// Every push the peer saw, in order.
    pub(super) async fn report(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("http://127.0.0.1:{}/report", self.port))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for PushPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn operator(db: &Db, farm: i64, name: &str) -> i64 {
    db.create_user(&NewUser {
        username: name,
        display_name: name,
        password_hash: "x",
        role: Role::Dairy,
        farm_id: Some(farm),
        lang: "ja",
    })
    .await
    .unwrap()
    .id
}

/// The decrypted payloads of the accepted pushes, with no check failed on any push.
pub(super) fn accepted(report: &[serde_json::Value]) -> Vec<Payload> {
    for r in report {
        assert_eq!(r["errors"], serde_json::json!([]), "{r}");
    }
    report
        .iter()
        .filter(|r| r["status"] == 201)
        .map(|r| serde_json::from_str(r["plaintext"].as_str().unwrap()).unwrap())
        .collect()
}

async fn an_alert_is_pushed_once_decrypted_by_the_peer_and_its_end_follows(db: &Db) {
    let (farm, parlor) = farm_with_parlor(db).await;
    let user = operator(db, farm, "push-op").await;
    let key = webpush::server_key(db).await.unwrap().public_b64();
    let Some(peer) = PushPeer::start(&key) else {
        return;
    };
    db.create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    webpush::subscribe(
        db,
        Lang::Ja,
        farm,
        user,
        &peer.subscription("/push/busy/phone"),
    )
    .await
    .unwrap();
    let c = cfg(1);
    let client = reqwest::Client::new();
    let t0: DateTime<Utc> = Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1);
    let at = |m: i64| t0 + chrono::Duration::minutes(m);
    intervals(db, parlor, t0, 0, 20, "running").await;
    intervals(db, parlor, t0, 20, 27, "stopped").await;
    assert_eq!(run_once(db, &c, &client, at(27)).await.unwrap(), 1);
    intervals(db, parlor, t0, 27, 28, "stopped").await;
    assert_eq!(run_once(db, &c, &client, at(28)).await.unwrap(), 0);

    // The first push met a 503 and was sent again; the peer decrypted the second.
    let report = peer.report().await;
    assert_eq!(report.len(), 2, "{report:?}");
    assert_eq!(report[0]["status"], 503);
    let got = accepted(&report);
    assert_eq!(got.len(), 1, "once");
    let p = &got[0];
    assert_eq!(
        p.title,
        "【停止中】第1パーラー 7分 / 第1パーラー rotary stopped 7 min"
    );
    assert_eq!(p.body, "タップして開く / Tap to open");
    assert_eq!(p.url, format!("http://agri.test/parlors/{parlor}"));
    assert_eq!(p.event, "opened");
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].clone();
    assert_eq!(p.tag, format!("alert-{}", alert.id));
    let ack = p
        .ack_url
        .as_deref()
        .expect("an opening carries the ack link");
    let token = ack.strip_prefix("http://agri.test/alerts/ack/").unwrap();
    let ack_key = db.server_key(super::ack_link::KEY_NAME).await.unwrap();
    assert_eq!(
        super::ack_link::verify(&ack_key, token, Utc::now()),
        Some(alert.id)
    );
    assert_eq!(report[1]["urgency"], "normal");
    assert_eq!(report[1]["ttl"], webpush::send::TTL_S.to_string());
    // Both attempts are stored, as for the other channels, under the service's origin.
    let tries = db.alert_deliveries(farm, alert.id).await.unwrap();
    let pushes: Vec<_> = tries
        .iter()
        .map(|d| (d.channel.as_str(), d.attempt, d.status.as_str()))
        .collect();
    assert_eq!(pushes, [("webpush", 1, "failed"), ("webpush", 2, "sent")]);
    assert!(
        tries[0].error.as_deref().unwrap_or("").contains("503"),
        "{tries:?}"
    );
    assert_eq!(tries[0].target, format!("http://127.0.0.1:{}", peer.port));

    // Running again: one "cleared" push, then silence.
    intervals(db, parlor, t0, 28, 30, "running").await;
    assert_eq!(run_once(db, &c, &client, at(30)).await.unwrap(), 1);
    assert_eq!(run_once(db, &c, &client, at(31)).await.unwrap(), 0);
    let got = accepted(&peer.report().await);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].event, "resolved");
    assert_eq!(
        got[1].title,
        "【復旧】第1パーラー 停止中 / cleared: 第1パーラー rotary stopped"
    );
    assert_eq!(
        got[1].tag, got[0].tag,
        "replaces the opening's notification"
    );
    assert!(got[1].ack_url.is_none());
}

both_backends!(push_end_to_end, |db| {
    an_alert_is_pushed_once_decrypted_by_the_peer_and_its_end_follows(db).await;
});

async fn a_push_service_s_retry_after_reschedules_the_message(db: &Db) {
    let (farm, parlor) = farm_with_parlor(db).await;
    let user = operator(db, farm, "push-later").await;
    let key = webpush::server_key(db).await.unwrap().public_b64();
    let Some(peer) = PushPeer::start(&key) else {
        return;
    };
    db.create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    webpush::subscribe(
        db,
        Lang::Ja,
        farm,
        user,
        &peer.subscription("/push/later/phone"),
    )
    .await
    .unwrap();
    let c = cfg(3);
    let client = reqwest::Client::new();
    let t0: DateTime<Utc> = Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1);
    let at = |s: i64| t0 + chrono::Duration::minutes(27) + chrono::Duration::seconds(s);
    intervals(db, parlor, t0, 0, 20, "running").await;
    intervals(db, parlor, t0, 20, 27, "stopped").await;
    let started = std::time::Instant::now();
    run_once(db, &c, &client, at(0)).await.unwrap();
    // 429 with Retry-After: 30 — not retried in this round, and the round did not wait.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let report = peer.report().await;
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0]["status"], 429);
    let due = on_exec!(db.on(), e => sqlx::query_scalar::<_, DateTime<Utc>>(
        "SELECT due_at FROM alert_outbox WHERE farm_id = $1 AND done_at IS NULL \
           AND claimed_until IS NULL")
        .bind(farm).fetch_all(e).await.unwrap());
    assert_eq!(due, [at(30)], "due when the service said, its claim freed");
    // Before then nothing is sent; at then, once.
    run_once(db, &c, &client, at(29)).await.unwrap();
    assert_eq!(peer.report().await.len(), 1);
    run_once(db, &c, &client, at(30)).await.unwrap();
    let report = peer.report().await;
    assert_eq!(report.len(), 2, "{report:?}");
    assert_eq!(accepted(&report).len(), 1);
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].clone();
    let tries = db.alert_deliveries(farm, alert.id).await.unwrap();
    let pushes: Vec<_> = tries
        .iter()
        .map(|d| (d.channel.as_str(), d.attempt, d.status.as_str()))
        .collect();
    assert_eq!(pushes, [("webpush", 1, "failed"), ("webpush", 2, "sent")]);
    assert!(
        tries[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("retry after 30 s")
    );
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 0);
}

both_backends!(push_retry_after, |db| {
    a_push_service_s_retry_after_reschedules_the_message(db).await;
});

async fn a_gone_subscription_is_removed_and_not_tried_again(db: &Db) {
    let (farm, parlor) = farm_with_parlor(db).await;
    let user = operator(db, farm, "push-gone").await;
    let key = webpush::server_key(db).await.unwrap().public_b64();
    let Some(peer) = PushPeer::start(&key) else {
        return;
    };
    db.create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    let channel = webpush::subscribe(
        db,
        Lang::Ja,
        farm,
        user,
        &peer.subscription("/push/gone/old"),
    )
    .await
    .unwrap();
    let c = cfg(1);
    let client = reqwest::Client::new();
    let t0 = Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1);
    let at = |m: i64| t0 + chrono::Duration::minutes(m);
    intervals(db, parlor, t0, 0, 20, "running").await;
    intervals(db, parlor, t0, 20, 27, "stopped").await;
    assert_eq!(run_once(db, &c, &client, at(27)).await.unwrap(), 1);
    let report = peer.report().await;
    assert_eq!(report.len(), 1, "410 is not retried: {report:?}");
    assert_eq!(report[0]["status"], 410);
    assert_eq!(
        report[0]["errors"],
        serde_json::json!([]),
        "a well-formed push"
    );
    assert!(db.push_subscriptions(farm).await.unwrap().is_empty());
    assert!(db.push_target(farm, channel).await.unwrap().is_none());
    assert!(
        db.alert_channels(farm).await.unwrap().is_empty(),
        "switched off"
    );
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].clone();
    let tries = db.alert_deliveries(farm, alert.id).await.unwrap();
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].status, "failed");
    let error = tries[0].error.as_deref().unwrap_or("");
    assert!(
        error.contains("410") && error.contains("subscription removed"),
        "{error}"
    );
    // The resolution has nowhere to go: nothing more reaches the push service.
    intervals(db, parlor, t0, 27, 30, "running").await;
    run_once(db, &c, &client, at(30)).await.unwrap();
    assert_eq!(peer.report().await.len(), 1);
    assert_eq!(db.pending_alert_messages(farm).await.unwrap(), 0);
}

both_backends!(push_gone, |db| {
    a_gone_subscription_is_removed_and_not_tried_again(db).await;
});
