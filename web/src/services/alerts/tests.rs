//! The service against real peers on loopback: an axum webhook receiver that checks the
//! signature, and `aiosmtpd` (PyPI, in `.venv-peers`) writing a Maildir that we read back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::Mutex;

use super::deliver::{RetryPolicy, SIGNATURE_HEADER, SmtpConfig, signature};
use super::rules::RuleKind;
use super::service::{AlertConfig, run_once};
use crate::storage::testdb::both_backends;
use crate::storage::{Db, on_exec};

pub(super) const SECRET: &str = "farm-secret-つくば";

/// What the webhook receiver saw.
#[derive(Default)]
pub(super) struct Hook {
    /// Requests in all, refused ones included.
    pub(super) hits: AtomicUsize,
    /// Requests with a wrong signature.
    pub(super) bad_signatures: AtomicUsize,
    /// Accepted bodies.
    pub(super) accepted: Mutex<Vec<serde_json::Value>>,
}

/// Answers 503 to the very first request (to exercise the retry), then checks the signature
/// and accepts.
async fn receive(
    State(hook): State<Arc<Hook>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if hook.hits.fetch_add(1, Ordering::SeqCst) == 0 {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let want = signature(SECRET.as_bytes(), &body).unwrap();
    let got = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if got != Some(want.as_str()) {
        hook.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    hook.accepted
        .lock()
        .await
        .push(serde_json::from_slice(&body).unwrap());
    StatusCode::NO_CONTENT
}

pub(super) async fn webhook_receiver() -> (String, Arc<Hook>) {
    let hook = Arc::new(Hook::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), hook)
}

/// The peers' Python (`AGRIOPS_PEER_PYTHON`, else the workspace's `.venv-peers`), as the e2e
/// tests find it; `None` (the test is skipped, loudly) when absent, unless
/// `AGRIOPS_REQUIRE_SHARED=1`, which makes its absence a failure.
pub(super) fn python() -> Option<PathBuf> {
    let p = std::env::var_os("AGRIOPS_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-peers/bin/python"));
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("AGRIOPS_REQUIRE_SHARED").as_deref() != Ok("1"),
        "{} missing: run scripts/setup-peers.sh (it installs aiosmtpd, http-ece, cryptography)",
        p.display()
    );
    eprintln!("SKIP: no peer Python with the alert peers; run scripts/setup-peers.sh");
    None
}

/// A real SMTP server (`aiosmtpd`, Maildir handler) on a free loopback port; killed on drop.
pub(super) struct SmtpPeer {
    python: PathBuf,
    child: std::process::Child,
    pub(super) port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpPeer {
    pub(super) async fn start() -> Option<SmtpPeer> {
        let python = python()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .spawn()
            .expect("start aiosmtpd");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(SmtpPeer {
                    python,
                    child,
                    port,
                    maildir,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not listen on {port}");
    }

    /// (To, decoded Subject, decoded body) of every mail received, in no particular order.
    pub(super) fn mails(&self) -> Vec<(String, String, String)> {
        let script = r#"
import json, mailbox, sys, email.policy
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
out = []
for key in box.keys():
    m = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
    out.append((m["To"], str(m["Subject"]), m.get_content()))
print(json.dumps(out))
"#;
        let out = std::process::Command::new(&self.python)
            .args(["-c", script])
            .arg(self.maildir.path().join("mail"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A farm with one parlor; returns (farm, parlor).
pub(super) async fn farm_with_parlor(db: &Db) -> (i64, i64) {
    let district = db.districts().await.unwrap()[0].id;
    // Several farms in one test: each its own name.
    static FARMS: AtomicUsize = AtomicUsize::new(0);
    let n = FARMS.fetch_add(1, Ordering::SeqCst);
    let name = if n == 0 {
        "那須牧場".to_owned()
    } else {
        format!("那須牧場{n}")
    };
    let farm = db.create_farm(district, &name, "dairy", "").await.unwrap();
    let parlor = on_exec!(db.on(), e => sqlx::query_scalar::<_, i64>(
        "INSERT INTO parlors (farm_id, name, created_at) VALUES ($1, '第1パーラー', $2) RETURNING id")
        .bind(farm.id).bind(Utc::now()).fetch_one(e).await.unwrap());
    (farm.id, parlor)
}

/// Minute-long KPI intervals `[from, to)` minutes after `t0` in `state`.
pub(super) async fn intervals(
    db: &Db,
    parlor: i64,
    t0: DateTime<Utc>,
    from: i64,
    to: i64,
    state: &str,
) {
    for m in from..to {
        let start = t0 + chrono::Duration::minutes(m);
        let end = start + chrono::Duration::minutes(1);
        let cph = if state == "running" { 300.0 } else { 0.0 };
        on_exec!(db.on(), e => sqlx::query(
            "INSERT INTO parlor_intervals (parlor_id, dedupe_key, start_t, end_t, online_s, cows, \
             milk_kg, cows_per_hour_rolling, milkings, rotation_s, occupancy, idle_bails, kickoffs, \
             reattaches, stops, washes, alerts, state) \
             VALUES ($1, $2, $3, $4, 60, 5, 100, $5, 5, NULL, NULL, 0, 0, 0, 0, 0, 0, $6)")
            .bind(parlor).bind(format!("k{m}")).bind(start).bind(end).bind(cph).bind(state)
            .execute(e).await.map(|r| r.rows_affected()).unwrap());
    }
}

async fn stopped_parlor_alerts_once_and_clears_once(db: &Db) {
    let (farm, parlor) = farm_with_parlor(db).await;
    let (hook_url, hook) = webhook_receiver().await;
    let Some(smtp) = SmtpPeer::start().await else {
        return;
    };
    db.create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    db.create_alert_channel(farm, "webhook", &hook_url, Some(SECRET))
        .await
        .unwrap();
    db.create_alert_channel(farm, "email", "operator@nasu.example.jp", None)
        .await
        .unwrap();
    let cfg = AlertConfig {
        every: Duration::from_secs(60),
        public_url: "http://agri.test/".into(),
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: smtp.port,
            from: "alerts@agriops.test".into(),
        }),
        retry: RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        },
    };
    let client = reqwest::Client::new();
    let t0 = Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1);
    let at = |m: i64| t0 + chrono::Duration::minutes(m);
    intervals(db, parlor, t0, 0, 20, "running").await;
    intervals(db, parlor, t0, 20, 24, "stopped").await;

    // Stopped 4 minutes (< 5): nothing yet.
    assert_eq!(run_once(db, &cfg, &client, at(24)).await.unwrap(), 0);
    intervals(db, parlor, t0, 24, 27, "stopped").await;
    assert_eq!(run_once(db, &cfg, &client, at(27)).await.unwrap(), 1);
    // Still stopped: a second evaluation sends nothing.
    intervals(db, parlor, t0, 27, 28, "stopped").await;
    assert_eq!(run_once(db, &cfg, &client, at(28)).await.unwrap(), 0);

    let accepted = hook.accepted.lock().await.clone();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0]["event"], "opened");
    assert_eq!(accepted[0]["parlor_id"], parlor);
    assert_eq!(
        accepted[0]["url"],
        format!("http://agri.test/parlors/{parlor}")
    );
    assert_eq!(hook.bad_signatures.load(Ordering::SeqCst), 0);
    // The opening carries a signed acknowledge link for this alert.
    let ack = accepted[0]["ack_url"].as_str().expect("ack_url").to_owned();
    let token = ack
        .strip_prefix("http://agri.test/alerts/ack/")
        .expect("under the public URL");
    let key = db.server_key(super::ack_link::KEY_NAME).await.unwrap();
    let alert_id = accepted[0]["alert_id"].as_i64().unwrap();
    assert_eq!(
        super::ack_link::verify(&key, token, Utc::now()),
        Some(alert_id)
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].2.contains(&ack), "{}", mails[0].2);
    assert_eq!(mails[0].0, "operator@nasu.example.jp");
    assert_eq!(
        mails[0].1,
        "【停止中】第1パーラー 7分 / 第1パーラー rotary stopped 7 min"
    );
    assert!(
        mails[0]
            .2
            .contains(&format!("http://agri.test/parlors/{parlor}")),
        "{}",
        mails[0].2
    );
    // Lock-screen length: the first line stays short.
    assert!(mails[0].1.chars().count() <= 60);

    // The first webhook attempt met a 503 and was retried; both attempts are stored.
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].clone();
    assert!(alert.resolved_at.is_none());
    let tries = db.alert_deliveries(farm, alert.id).await.unwrap();
    let hooks: Vec<_> = tries
        .iter()
        .filter(|d| d.channel == "webhook")
        .map(|d| (d.attempt, d.status.as_str()))
        .collect();
    assert_eq!(hooks, [(1, "failed"), (2, "sent")]);
    assert!(
        tries[0].error.as_deref().unwrap_or("").contains("503"),
        "{tries:?}"
    );

    // Running again: one resolved message on each channel, then silence.
    intervals(db, parlor, t0, 28, 30, "running").await;
    assert_eq!(run_once(db, &cfg, &client, at(30)).await.unwrap(), 1);
    assert_eq!(run_once(db, &cfg, &client, at(30)).await.unwrap(), 0);
    let accepted = hook.accepted.lock().await.clone();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[1]["event"], "resolved");
    assert!(
        accepted[1].get("ack_url").is_none(),
        "nothing to acknowledge once cleared"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    // Both mails left within the same second: find the new one by its subject.
    let resolved: Vec<_> = mails
        .iter()
        .filter(|m| m.1.starts_with("【復旧】"))
        .collect();
    assert_eq!(resolved.len(), 1, "{mails:?}");
    assert_eq!(
        resolved[0].1,
        "【復旧】第1パーラー 停止中 / cleared: 第1パーラー rotary stopped"
    );
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].clone();
    assert_eq!(alert.resolved_at, Some(at(30)));
    assert!(db.open_alerts().await.unwrap().is_empty());
}

both_backends!(stopped_parlor_end_to_end, |db| {
    stopped_parlor_alerts_once_and_clears_once(db).await;
});

async fn undeliverable_mail_is_retried_boundedly_and_stored(db: &Db) {
    let (farm, parlor) = farm_with_parlor(db).await;
    db.create_alert_rule(farm, RuleKind::ParlorOffline, Some(parlor), 3, None)
        .await
        .unwrap();
    db.create_alert_channel(farm, "email", "operator@nasu.example.jp", None)
        .await
        .unwrap();
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = AlertConfig {
        every: Duration::from_secs(60),
        public_url: "http://agri.test".into(),
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: dead,
            from: "alerts@agriops.test".into(),
        }),
        retry: RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(40),
        },
    };
    let t0 = Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1);
    intervals(db, parlor, t0, 0, 10, "running").await;
    let client = reqwest::Client::new();
    let n = run_once(db, &cfg, &client, t0 + chrono::Duration::minutes(14))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let alert = db.alerts_of_farm(farm).await.unwrap()[0].clone();
    let tries = db.alert_deliveries(farm, alert.id).await.unwrap();
    let got: Vec<_> = tries
        .iter()
        .map(|d| (d.attempt, d.status.as_str()))
        .collect();
    assert_eq!(got, [(1, "failed"), (2, "failed"), (3, "failed")]);
    assert!(
        tries
            .iter()
            .all(|d| d.error.as_deref().is_some_and(|e| e.starts_with("smtp")))
    );
}

both_backends!(undeliverable_mail, |db| {
    undeliverable_mail_is_retried_boundedly_and_stored(db).await;
});
