//! Draining the delivery outbox: claim the due messages, send each on its channel with
//! bounded retry (every attempt stored), and mark it done.

use chrono::{DateTime, Utc};

use super::ack_link;
use super::deliver::{self, DeliveryError, WebhookBody};
use super::notice::{AlertConfig, Notice, alert_url, message};
use super::quiet::{self, Decision};
use crate::storage::{AlertChannel, Db, NewDelivery, OutboxOutcome, OutboxRow, StorageError};

/// The most messages one drain claims.
const BATCH: i64 = 200;

/// How long a claim holds: longer than every retry of one message takes (each attempt is
/// bounded by a 10 s timeout), so a live server never loses a message it is still sending.
fn lease(cfg: &AlertConfig) -> chrono::Duration {
    let p = cfg.retry;
    let waits: std::time::Duration = (1..p.attempts.max(1)).map(|n| p.backoff(n)).sum();
    let tries = std::time::Duration::from_secs(15) * p.attempts.max(1);
    chrono::Duration::from_std(waits + tries)
        .unwrap_or(chrono::Duration::hours(1))
        .max(chrono::Duration::minutes(1))
}

/// Sends every due message of the outbox; returns how many were finished.
///
/// # Errors
/// The database failed (a failed delivery is stored, not returned).
pub async fn drain(
    db: &Db,
    cfg: &AlertConfig,
    client: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let rows = db.claim_due_alert_messages(now, lease(cfg), BATCH).await?;
    let n = rows.len();
    if n == 0 {
        return Ok(0);
    }
    let key = db.server_key(ack_link::KEY_NAME).await?;
    let tasks = rows
        .into_iter()
        .map(|row| send_row(db, cfg, client, row, &key, now));
    for r in futures::future::join_all(tasks).await {
        r?;
    }
    Ok(n)
}

/// Sends one claimed message, retrying with backoff, and marks it finished; holds it in the
/// channel's quiet hours, and drops a second line's message nobody needs any more.
async fn send_row(
    db: &Db,
    cfg: &AlertConfig,
    client: &reqwest::Client,
    row: OutboxRow,
    key: &[u8],
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let notice: Option<Notice> = serde_json::from_str(&row.notice_json).ok();
    let Some(n) = notice.filter(|_| row.channel_enabled) else {
        return db
            .finish_alert_message(row.id, OutboxOutcome::Skipped, Utc::now())
            .await;
    };
    match quiet::decide(&row, n.critical, now) {
        Decision::Send => {}
        Decision::Hold(until) => return db.postpone_alert_message(row.id, until).await,
        Decision::Skip => {
            return db
                .finish_alert_message(row.id, OutboxOutcome::Skipped, Utc::now())
                .await;
        }
    }
    let ch = &row.channel;
    let ack = (n.event == "opened")
        .then(|| ack_link::url(&cfg.public_url, &ack_link::token(key, n.alert_id, now)));
    let (subject, text) = message(&n, &cfg.public_url, ack.as_deref());
    let url = alert_url(&cfg.public_url, &n);
    let body = serde_json::to_vec(&WebhookBody {
        event: &n.event,
        alert_id: n.alert_id,
        farm_id: n.farm_id,
        parlor_id: n.parlor_id,
        subject: &n.subject,
        detail: &n.detail,
        kind: n.kind.as_str(),
        text: &text,
        url: &url,
        ack_url: ack.as_deref(),
    })
    .unwrap_or_default();
    let policy = cfg.retry;
    let mut outcome = OutboxOutcome::Failed;
    for attempt in 1..=policy.attempts.max(1) {
        let result = send(cfg, client, ch, &subject, &text, &body).await;
        let error = result.as_ref().err().map(ToString::to_string);
        db.record_delivery(&NewDelivery {
            farm_id: row.farm_id,
            alert_id: row.alert_id,
            event: &row.event,
            channel: &ch.kind,
            target: &ch.target,
            attempt,
            error: error.as_deref(),
            at: Utc::now(),
        })
        .await?;
        match result {
            Ok(()) => {
                outcome = OutboxOutcome::Sent;
                break;
            }
            Err(error) => {
                tracing::warn!(
                    message = "Alert delivery failed.",
                    %error,
                    alert = row.alert_id,
                    channel = %ch.kind,
                    attempt
                );
                if attempt < policy.attempts {
                    tokio::time::sleep(policy.backoff(attempt)).await;
                }
            }
        }
    }
    db.finish_alert_message(row.id, outcome, Utc::now()).await
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
