//! The periodic service: gather facts, evaluate, open and resolve alerts (one transaction
//! each), and deliver one message per change to every channel of the farm.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::deliver::{self, DeliveryError, RetryPolicy, SmtpConfig, WebhookBody};
use super::rules::{self, ParlorFacts, RuleKind};
use crate::i18n::{Lang, Msg};
use crate::storage::{AlertChannel, Db, NewDelivery, StorageError};

/// How the alert service runs.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Time between evaluations.
    pub every: Duration,
    /// The server's address as people reach it (`https://agri.example.jp`), for the links.
    pub public_url: String,
    /// The SMTP relay for e-mail channels; e-mail attempts fail (and are stored) without one.
    pub smtp: Option<SmtpConfig>,
    /// Retries of each delivery.
    pub retry: RetryPolicy,
}

/// One change to announce: an alert opened or resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// `opened` or `resolved`.
    pub event: &'static str,
    /// The alert.
    pub alert_id: i64,
    /// The farm.
    pub farm_id: i64,
    /// The parlor.
    pub parlor_id: i64,
    /// The parlor's name.
    pub parlor_name: String,
    /// What the rule watches.
    pub kind: RuleKind,
    /// Whole minutes the condition had held when it was seen.
    pub minutes: i64,
}

/// Evaluates every enabled rule at `now` and stores the changes; returns what to announce.
///
/// Each opened and each resolved alert is its own transaction. A condition already open is
/// left alone (the partial unique index makes a racing second server open nothing either).
///
/// # Errors
/// The database failed; changes committed before the failure stay.
pub async fn evaluate_once(db: &Db, now: DateTime<Utc>) -> Result<Vec<Notice>, StorageError> {
    let rules = db.enabled_alert_rules().await?;
    let longest = rules.iter().map(|r| r.minutes).max().unwrap_or(0);
    // One interval more than the longest window, so a run that began just before it is seen.
    let since = now - chrono::Duration::minutes(longest + 1);
    let mut facts = Vec::new();
    let mut farms: Vec<i64> = rules.iter().map(|r| r.farm_id).collect();
    farms.sort_unstable();
    farms.dedup();
    for farm in farms {
        for p in db.parlors_of_farm(farm).await? {
            facts.push(ParlorFacts {
                recent: db.recent_interval_facts(p.id, since).await?,
                parlor_id: p.id,
                farm_id: p.farm_id,
                name: p.name,
            });
        }
    }
    let open_now = rules::evaluate(&rules, &facts, now);
    let names: HashMap<i64, &str> = facts
        .iter()
        .map(|f| (f.parlor_id, f.name.as_str()))
        .collect();
    let kinds: HashMap<i64, RuleKind> = rules.iter().map(|r| (r.id, r.kind)).collect();
    let stored: BTreeMap<(i64, String), _> = db
        .open_alerts()
        .await?
        .into_iter()
        .map(|a| ((a.rule_id, a.condition_key.clone()), a))
        .collect();

    let mut notices = Vec::new();
    for (key, cond) in &open_now {
        if stored.contains_key(key) {
            continue;
        }
        let mut tx = db.begin().await?;
        let id = tx.open_alert(cond, now).await?;
        tx.commit().await?;
        if let Some(alert_id) = id {
            notices.push(Notice {
                event: "opened",
                alert_id,
                farm_id: cond.farm_id,
                parlor_id: cond.parlor_id,
                parlor_name: cond.parlor_name.clone(),
                kind: cond.kind,
                minutes: (now - cond.since).num_minutes(),
            });
        }
    }
    for (key, alert) in &stored {
        if open_now.contains_key(key) {
            continue;
        }
        let mut tx = db.begin().await?;
        let resolved = tx.resolve_alert(alert.id, now).await?;
        tx.commit().await?;
        // A rule disabled since is resolved quietly: nobody asked to hear about it any more.
        if let (true, Some(kind), Some(parlor_id)) =
            (resolved, kinds.get(&alert.rule_id), alert.parlor_id)
        {
            notices.push(Notice {
                event: "resolved",
                alert_id: alert.id,
                farm_id: alert.farm_id,
                parlor_id,
                parlor_name: names.get(&parlor_id).copied().unwrap_or("").to_owned(),
                kind: *kind,
                minutes: (now - alert.opened_at).num_minutes(),
            });
        }
    }
    Ok(notices)
}

/// The lock-screen text of a notice, Japanese first: (first line, whole text with the link).
pub fn message(n: &Notice, public_url: &str) -> (String, String) {
    let kind = match n.kind {
        RuleKind::ParlorOffline => Msg::AlertParlorOffline,
        RuleKind::ParlorStopped => Msg::AlertParlorStopped,
        RuleKind::LowThroughput => Msg::AlertLowThroughput,
    };
    let (ja, en) = (kind.text(Lang::Ja), kind.text(Lang::En));
    let (mja, men) = (
        Msg::AlertMinutes.text(Lang::Ja),
        Msg::AlertMinutes.text(Lang::En),
    );
    let name = &n.parlor_name;
    let m = n.minutes;
    let first = if n.event == "resolved" {
        let (rja, ren) = (
            Msg::AlertResolved.text(Lang::Ja),
            Msg::AlertResolved.text(Lang::En),
        );
        format!("【{rja}】{name} {ja} / {ren}: {name} {en}")
    } else {
        format!("【{ja}】{name} {m}{mja} / {name} {en} {m}{men}")
    };
    let url = parlor_url(public_url, n.parlor_id);
    let text = format!("{first}\n{url}");
    (first, text)
}

/// The parlor page's address.
fn parlor_url(public_url: &str, parlor_id: i64) -> String {
    format!("{}/parlors/{parlor_id}", public_url.trim_end_matches('/'))
}

/// Delivers one notice to every enabled channel of its farm, retrying each with backoff and
/// storing every attempt.
///
/// # Errors
/// The database failed (a failed delivery is stored, not returned).
pub async fn deliver(
    db: &Db,
    cfg: &AlertConfig,
    client: &reqwest::Client,
    n: &Notice,
) -> Result<(), StorageError> {
    let channels = db.alert_channels(n.farm_id).await?;
    let (subject, text) = message(n, &cfg.public_url);
    let url = parlor_url(&cfg.public_url, n.parlor_id);
    let body = serde_json::to_vec(&WebhookBody {
        event: n.event,
        alert_id: n.alert_id,
        farm_id: n.farm_id,
        parlor_id: n.parlor_id,
        parlor: &n.parlor_name,
        kind: n.kind.as_str(),
        text: &text,
        url: &url,
    })
    .unwrap_or_default();
    let tasks = channels.iter().map(|ch| async {
        let policy = cfg.retry;
        for attempt in 1..=policy.attempts.max(1) {
            let result = send(cfg, client, ch, &subject, &text, &body).await;
            let error = result.as_ref().err().map(ToString::to_string);
            db.record_delivery(&NewDelivery {
                farm_id: n.farm_id,
                alert_id: n.alert_id,
                event: n.event,
                channel: &ch.kind,
                target: &ch.target,
                attempt,
                error: error.as_deref(),
                at: Utc::now(),
            })
            .await?;
            match result {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(
                        message = "Alert delivery failed.",
                        %error,
                        alert = n.alert_id,
                        channel = %ch.kind,
                        attempt
                    );
                    if attempt < policy.attempts {
                        tokio::time::sleep(policy.backoff(attempt)).await;
                    }
                }
            }
        }
        Ok::<(), StorageError>(())
    });
    for r in futures::future::join_all(tasks).await {
        r?;
    }
    Ok(())
}

/// One attempt on one channel.
async fn send(
    cfg: &AlertConfig,
    client: &reqwest::Client,
    ch: &AlertChannel,
    subject: &str,
    text: &str,
    body: &[u8],
) -> Result<(), DeliveryError> {
    match ch.kind.as_str() {
        "webhook" => {
            let secret = ch.secret.as_deref().unwrap_or("");
            deliver::post_webhook(client, &ch.target, secret, body).await
        }
        _ => {
            let smtp = cfg.smtp.as_ref().ok_or(DeliveryError::NoSmtp)?;
            deliver::send_mail(smtp, &ch.target, subject, text).await
        }
    }
}

/// Evaluates once and delivers what changed; returns the number of notices.
///
/// # Errors
/// The database failed.
pub async fn run_once(
    db: &Db,
    cfg: &AlertConfig,
    client: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let notices = evaluate_once(db, now).await?;
    for n in &notices {
        deliver(db, cfg, client, n).await?;
    }
    Ok(notices.len())
}

/// Starts the service as a tokio task that evaluates every `cfg.every` until the runtime ends.
pub fn spawn(db: Db, cfg: AlertConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut tick = tokio::time::interval(cfg.every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&db, &cfg, &client, Utc::now()).await {
                Ok(0) => {}
                Ok(notices) => tracing::info!(message = "Alerts changed.", notices),
                Err(error) => tracing::warn!(message = "Alert evaluation failed.", %error),
            }
        }
    })
}
