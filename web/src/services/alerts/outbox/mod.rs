//! Draining the delivery outbox: claim the due messages, send each on its channel with
//! bounded retry (every attempt stored and counted per message, across claims; a refusal
//! that retrying cannot change ends it early, a push service's "gone" removes the
//! subscription, and its `Retry-After` reschedules the message), and mark it done.

use chrono::{DateTime, Utc};

use super::ack_link;
use super::deliver::{self, DeliveryError, WebhookBody};
use super::notice::{AlertConfig, Notice, alert_url, message};
use super::quiet::{self, Decision};
use super::webpush::{self, send::Payload, vapid};
use crate::i18n::Lang;
use crate::i18n::push::PushMsg;
use crate::storage::{
    AlertChannel, Db, NewDelivery, OutboxOutcome, OutboxRow, PushTarget, StorageError, WEBPUSH,
};

/// The most messages one drain claims.
const BATCH: i64 = 200;

/// How long a claim holds: longer than every retry of one message takes (each attempt is
/// bounded by a 10 s timeout, 15 s allowed), so a live server never loses a message it is
/// still sending, and no longer, so a crashed server's messages go out soon after a restart.
pub(super) fn lease(cfg: &AlertConfig) -> chrono::Duration {
    let p = cfg.retry;
    let waits: std::time::Duration = (1..p.attempts.max(1)).map(|n| p.backoff(n)).sum();
    let tries = std::time::Duration::from_secs(15) * p.attempts.max(1);
    chrono::Duration::from_std(waits + tries).unwrap_or(chrono::Duration::hours(1))
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
    let vapid = if rows.iter().any(|r| r.channel.kind == WEBPUSH) {
        Some(webpush::server_key(db).await?)
    } else {
        None
    };
    let keys = Keys {
        ack: &key,
        vapid: vapid.as_ref(),
    };
    let tasks = rows
        .into_iter()
        .map(|row| send_row(db, cfg, client, row, keys, now));
    for r in futures::future::join_all(tasks).await {
        r?;
    }
    Ok(n)
}

/// The server's keys a round signs with.
#[derive(Clone, Copy)]
struct Keys<'a> {
    /// The acknowledge links' HMAC key.
    ack: &'a [u8],
    /// The VAPID key, loaded when a Web Push message is among the claimed.
    vapid: Option<&'a vapid::VapidKey>,
}

/// What one message is on its channel.
struct Outgoing<'a> {
    subject: &'a str,
    text: &'a str,
    body: &'a [u8],
    /// The subscription and the encrypted message's plaintext, on a `webpush` channel.
    push: Option<(PushTarget, Vec<u8>, &'static str)>,
}

/// The Web Push payload of a notice: the lock-screen line as the title, Japanese first.
fn push_payload(n: &Notice, first: &str, url: &str, ack: Option<&str>) -> Vec<u8> {
    let both = |m: PushMsg| format!("{} / {}", m.text(Lang::Ja), m.text(Lang::En));
    serde_json::to_vec(&Payload {
        title: first.to_owned(),
        body: both(PushMsg::Tap),
        url: url.to_owned(),
        ack_url: ack.map(str::to_owned),
        ack_title: ack.map(|_| both(PushMsg::Ack)),
        tag: format!("alert-{}", n.alert_id),
        event: n.event.clone(),
    })
    .unwrap_or_default()
}

/// Sends one claimed message, retrying with backoff, and marks it finished; holds it in the
/// channel's quiet hours, and drops a second line's message nobody needs any more.
async fn send_row(
    db: &Db,
    cfg: &AlertConfig,
    client: &reqwest::Client,
    row: OutboxRow,
    keys: Keys<'_>,
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
    // A browser that unsubscribed (or whose push service said it is gone) has no target.
    let target = if ch.kind == WEBPUSH {
        match db.push_target(row.farm_id, ch.id).await? {
            Some(t) => Some(t),
            None => {
                return db
                    .finish_alert_message(row.id, OutboxOutcome::Skipped, Utc::now())
                    .await;
            }
        }
    } else {
        None
    };
    let ack = (n.event == "opened")
        .then(|| ack_link::url(&cfg.public_url, &ack_link::token(keys.ack, n.alert_id, now)));
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
    let out = Outgoing {
        subject: &subject,
        text: &text,
        body: &body,
        push: target.map(|t| {
            let payload = push_payload(&n, &subject, &url, ack.as_deref());
            (t, payload, webpush::send::urgency(n.critical, &n.event))
        }),
    };
    let policy = cfg.retry;
    let attempts = policy.attempts.max(1);
    // A message taken up again (rescheduled, or a crashed server's) continues its count.
    let before = db
        .delivery_attempts(row.farm_id, row.alert_id, &row.event, &ch.kind, &ch.target)
        .await?;
    let mut outcome = OutboxOutcome::Failed;
    let mut attempt = before;
    while attempt < attempts {
        attempt += 1;
        let result = send(cfg, client, ch, &out, keys, now).await;
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
                if let DeliveryError::PushGone(_) = error {
                    db.drop_gone_push_subscription(row.farm_id, ch.id).await?;
                }
                if error.is_permanent() {
                    break;
                }
                if let DeliveryError::PushLater { after, .. } = &error
                    && attempt < attempts
                {
                    // The service said when: come back then, and free the claim meanwhile.
                    let due = now + chrono::Duration::from_std(*after).unwrap_or_default();
                    return db.postpone_alert_message(row.id, due).await;
                }
                if attempt < attempts {
                    tokio::time::sleep(policy.backoff(attempt - before)).await;
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
    out: &Outgoing<'_>,
    keys: Keys<'_>,
    now: DateTime<Utc>,
) -> Result<(), DeliveryError> {
    if let Some((target, payload, urgency)) = &out.push {
        let key = keys
            .vapid
            .ok_or_else(|| DeliveryError::PushRefused("no VAPID key".into()))?;
        let contact = vapid::contact(&cfg.public_url, cfg.smtp.as_ref().map(|s| s.from.as_str()));
        let push = webpush::send::Push {
            target,
            key,
            contact: &contact,
            urgency,
            payload,
            now,
        };
        return webpush::send::post(client, &push).await;
    }
    match ch.kind.as_str() {
        "webhook" => {
            let secret = ch.secret.as_deref().unwrap_or("");
            deliver::post_webhook(client, &ch.target, secret, out.body).await
        }
        _ => {
            let smtp = cfg.smtp.as_ref().ok_or(DeliveryError::NoSmtp)?;
            deliver::send_mail(smtp, &ch.target, out.subject, out.text).await
        }
    }
}
