//! Draining a delivery outbox: claim the due messages, send each on its channel with bounded
//! retry (every attempt stored and counted per message, across claims; a refusal that
//! retrying cannot change ends it early, a push service's "gone" removes the subscription,
//! and its `Retry-After` reschedules the message), and mark it done.
//!
//! One loop serves both outboxes: [`Outbox`] is what it needs of one (claim, compose, record
//! an attempt, reschedule, drop a gone subscription, finish), implemented by [`FarmOutbox`]
//! (the farms' `alert_outbox`) and [`StaffOutbox`] (the city staff's `staff_alert_outbox`),
//! each reading and writing only its own tables. Quiet hours and escalation are decided per
//! claimed message by the same [`quiet::decide`] for both.

mod farm;
mod staff;

use std::future::Future;

use chrono::{DateTime, Utc};

pub use farm::FarmOutbox;
pub use staff::StaffOutbox;

use super::ack_link;
use super::deliver::{self, DeliveryError};
use super::notice::AlertConfig;
use super::quiet::{self, Decision, Gated};
use super::webpush::{self, vapid};
use crate::storage::{Db, OutboxOutcome, PushTarget, StorageError, WEBPUSH};

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

/// The channel a claimed message goes to, as the loop needs it.
#[derive(Debug, Clone, Copy)]
pub struct Channel<'a> {
    /// `email`, `webhook` or `webpush`.
    pub kind: &'a str,
    /// The address, URL or (for a browser) its push service's label.
    pub target: &'a str,
    /// The webhook's HMAC key.
    pub secret: Option<&'a str>,
    /// Whether the channel is still enabled.
    pub enabled: bool,
}

/// What one message says on every kind of channel.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The mail's subject: the lock-screen first line.
    pub subject: String,
    /// The mail's text (first line, the page's link, for an opening the acknowledge link).
    pub text: String,
    /// The webhook's JSON body.
    pub webhook_body: Vec<u8>,
    /// The Web Push payload's plaintext (JSON).
    pub push_payload: Vec<u8>,
    /// The Web Push `Urgency`.
    pub urgency: &'static str,
    /// The message passes quiet hours.
    pub critical: bool,
}

/// The keys a round signs with, loaded once per round.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    /// The acknowledge links' HMAC key (`ack_link::KEY_NAME`).
    pub ack: &'a [u8],
    /// The VAPID key, loaded when a Web Push message is among the claimed.
    vapid: Option<&'a vapid::VapidKey>,
}

/// One outbox the delivery loop drains. Every method touches only this outbox's own tables:
/// a farm's store never reads or writes a staff row, nor the staff store a farm's.
pub trait Outbox: Sync {
    /// A claimed message with its channel and its alert's state.
    type Row: Gated + Send + Sync;

    /// Whose alerts these are, for the log (`farm`, `staff`).
    const SCOPE: &'static str;

    /// The alert a row announces.
    fn alert_id(&self, row: &Self::Row) -> i64;

    /// The database the outbox lives in (for the round's keys).
    fn db(&self) -> &Db;

    /// Claims up to `limit` unfinished messages due at `now` that nobody holds, for `lease`
    /// (of two servers one gets each; a crashed server's claim runs out).
    fn claim(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StorageError>> + Send;

    /// The channel a row goes to.
    fn channel<'r>(&self, row: &'r Self::Row) -> Channel<'r>;

    /// What the row's message says, with the signed acknowledge link for an opening; `None`
    /// when its stored notice no longer reads (the message is skipped).
    fn compose(
        &self,
        row: &Self::Row,
        cfg: &AlertConfig,
        keys: Keys<'_>,
        now: DateTime<Utc>,
    ) -> Option<Composed>;

    /// The browser subscription behind a `webpush` row's channel; `None` once it is gone.
    fn push_target(
        &self,
        row: &Self::Row,
    ) -> impl Future<Output = Result<Option<PushTarget>, StorageError>> + Send;

    /// How many attempts are stored for the row's message (its alert, event and channel), so
    /// a message taken up again continues its count.
    fn attempts(&self, row: &Self::Row) -> impl Future<Output = Result<u32, StorageError>> + Send;

    /// Stores one attempt (`error` `None`: it was sent).
    fn record_attempt(
        &self,
        row: &Self::Row,
        attempt: u32,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Moves the unfinished row's due time to `due` and lets go of its claim.
    fn reschedule(
        &self,
        row: &Self::Row,
        due: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Forgets the subscription behind the row's channel (its push service said it is gone)
    /// and switches the channel off, in one transaction.
    fn drop_gone_subscription(
        &self,
        row: &Self::Row,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Marks the claimed row finished.
    fn finish(
        &self,
        row: &Self::Row,
        outcome: OutboxOutcome,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// Sends every due message of the farms' outbox; returns how many were finished.
///
/// # Errors
/// The database failed (a failed delivery is stored, not returned).
pub async fn drain(
    db: &Db,
    cfg: &AlertConfig,
    client: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    drain_outbox(&FarmOutbox::new(db), cfg, client, now).await
}

/// Sends every due message of `outbox`; returns how many were finished.
///
/// # Errors
/// The database failed (a failed delivery is stored, not returned).
pub async fn drain_outbox<O: Outbox>(
    outbox: &O,
    cfg: &AlertConfig,
    client: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let rows = outbox.claim(now, lease(cfg), BATCH).await?;
    let n = rows.len();
    if n == 0 {
        return Ok(0);
    }
    let db = outbox.db();
    let key = db.server_key(ack_link::KEY_NAME).await?;
    let vapid = if rows.iter().any(|r| outbox.channel(r).kind == WEBPUSH) {
        Some(webpush::server_key(db).await?)
    } else {
        None
    };
    let keys = Keys {
        ack: &key,
        vapid: vapid.as_ref(),
    };
    let tasks = rows
        .iter()
        .map(|row| send_row(outbox, cfg, client, row, keys, now));
    for r in futures::future::join_all(tasks).await {
        r?;
    }
    Ok(n)
}

/// Sends one claimed message, retrying with backoff, and marks it finished; holds it in the
/// channel's quiet hours, and drops a second line's message nobody needs any more.
async fn send_row<O: Outbox>(
    outbox: &O,
    cfg: &AlertConfig,
    client: &reqwest::Client,
    row: &O::Row,
    keys: Keys<'_>,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let ch = outbox.channel(row);
    let composed = outbox.compose(row, cfg, keys, now).filter(|_| ch.enabled);
    let Some(out) = composed else {
        return outbox.finish(row, OutboxOutcome::Skipped, Utc::now()).await;
    };
    match quiet::decide(row, out.critical, now) {
        Decision::Send => {}
        Decision::Hold(until) => return outbox.reschedule(row, until).await,
        Decision::Skip => {
            return outbox.finish(row, OutboxOutcome::Skipped, Utc::now()).await;
        }
    }
    // A browser that unsubscribed (or whose push service said it is gone) has no target.
    let target = if ch.kind == WEBPUSH {
        match outbox.push_target(row).await? {
            Some(t) => Some(t),
            None => return outbox.finish(row, OutboxOutcome::Skipped, Utc::now()).await,
        }
    } else {
        None
    };
    let policy = cfg.retry;
    let attempts = policy.attempts.max(1);
    // A message taken up again (rescheduled, or a crashed server's) continues its count.
    let before = outbox.attempts(row).await?;
    let mut outcome = OutboxOutcome::Failed;
    let mut attempt = before;
    while attempt < attempts {
        attempt += 1;
        let result = send(cfg, client, ch, &out, target.as_ref(), keys, now).await;
        let error = result.as_ref().err().map(ToString::to_string);
        outbox
            .record_attempt(row, attempt, error.as_deref(), Utc::now())
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
                    scope = O::SCOPE,
                    alert = outbox.alert_id(row),
                    channel = %ch.kind,
                    attempt
                );
                if let DeliveryError::PushGone(_) = error {
                    outbox.drop_gone_subscription(row).await?;
                }
                if error.is_permanent() {
                    break;
                }
                if let DeliveryError::PushLater { after, .. } = &error
                    && attempt < attempts
                {
                    // The service said when: come back then, and free the claim meanwhile.
                    let due = now + chrono::Duration::from_std(*after).unwrap_or_default();
                    return outbox.reschedule(row, due).await;
                }
                if attempt < attempts {
                    tokio::time::sleep(policy.backoff(attempt - before)).await;
                }
            }
        }
    }
    outbox.finish(row, outcome, Utc::now()).await
}

/// One attempt on one channel.
async fn send(
    cfg: &AlertConfig,
    client: &reqwest::Client,
    ch: Channel<'_>,
    out: &Composed,
    target: Option<&PushTarget>,
    keys: Keys<'_>,
    now: DateTime<Utc>,
) -> Result<(), DeliveryError> {
    if let Some(target) = target {
        let key = keys
            .vapid
            .ok_or_else(|| DeliveryError::PushRefused("no VAPID key".into()))?;
        let contact = vapid::contact(&cfg.public_url, cfg.smtp.as_ref().map(|s| s.from.as_str()));
        let push = webpush::send::Push {
            target,
            key,
            contact: &contact,
            urgency: out.urgency,
            payload: &out.push_payload,
            now,
        };
        return webpush::send::post(client, &push).await;
    }
    match ch.kind {
        "webhook" => {
            let secret = ch.secret.unwrap_or("");
            deliver::post_webhook(client, ch.target, secret, &out.webhook_body).await
        }
        _ => {
            let smtp = cfg.smtp.as_ref().ok_or(DeliveryError::NoSmtp)?;
            deliver::send_mail(smtp, ch.target, &out.subject, &out.text).await
        }
    }
}
