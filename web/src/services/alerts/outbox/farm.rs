//! The farms' outbox (`alert_outbox`, `alert_deliveries`, `push_subscriptions`): every query
//! names the row's farm.

use chrono::{DateTime, Utc};

use super::{Channel, Composed, Keys, Outbox};
use crate::i18n::Lang;
use crate::i18n::push::PushMsg;
use crate::services::alerts::ack_link;
use crate::services::alerts::deliver::WebhookBody;
use crate::services::alerts::notice::{AlertConfig, Notice, alert_url, message};
use crate::services::alerts::webpush::{self, send::Payload};
use crate::storage::{Db, NewDelivery, OutboxOutcome, OutboxRow, PushTarget, StorageError};

/// The farms' alert outbox.
#[derive(Clone, Copy)]
pub struct FarmOutbox<'a> {
    db: &'a Db,
}

impl<'a> FarmOutbox<'a> {
    /// The farms' outbox in `db`.
    pub fn new(db: &'a Db) -> Self {
        FarmOutbox { db }
    }
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

impl Outbox for FarmOutbox<'_> {
    type Row = OutboxRow;

    const SCOPE: &'static str = "farm";

    fn alert_id(&self, row: &OutboxRow) -> i64 {
        row.alert_id
    }

    fn db(&self) -> &Db {
        self.db
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        self.db.claim_due_alert_messages(now, lease, limit).await
    }

    fn channel<'r>(&self, row: &'r OutboxRow) -> Channel<'r> {
        Channel {
            kind: &row.channel.kind,
            target: &row.channel.target,
            secret: row.channel.secret.as_deref(),
            enabled: row.channel_enabled,
        }
    }

    fn compose(
        &self,
        row: &OutboxRow,
        cfg: &AlertConfig,
        keys: Keys<'_>,
        now: DateTime<Utc>,
    ) -> Option<Composed> {
        let n: Notice = serde_json::from_str(&row.notice_json).ok()?;
        let ack = (n.event == "opened")
            .then(|| ack_link::url(&cfg.public_url, &ack_link::token(keys.ack, n.alert_id, now)));
        let (subject, text) = message(&n, &cfg.public_url, ack.as_deref());
        let url = alert_url(&cfg.public_url, &n);
        let webhook_body = serde_json::to_vec(&WebhookBody {
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
        Some(Composed {
            push_payload: push_payload(&n, &subject, &url, ack.as_deref()),
            urgency: webpush::send::urgency(n.critical, &n.event),
            critical: n.critical,
            subject,
            text,
            webhook_body,
        })
    }

    async fn push_target(&self, row: &OutboxRow) -> Result<Option<PushTarget>, StorageError> {
        self.db.push_target(row.farm_id, row.channel.id).await
    }

    async fn attempts(&self, row: &OutboxRow) -> Result<u32, StorageError> {
        self.db
            .delivery_attempts(row.farm_id, row.alert_id, &row.event, row.channel.id)
            .await
    }

    async fn record_attempt(
        &self,
        row: &OutboxRow,
        attempt: u32,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.db
            .record_delivery(&NewDelivery {
                farm_id: row.farm_id,
                alert_id: row.alert_id,
                event: &row.event,
                channel_id: row.channel.id,
                channel: &row.channel.kind,
                target: &row.channel.target,
                attempt,
                error,
                at,
            })
            .await
    }

    async fn reschedule(&self, row: &OutboxRow, due: DateTime<Utc>) -> Result<(), StorageError> {
        self.db.postpone_alert_message(row.id, due).await
    }

    async fn drop_gone_subscription(&self, row: &OutboxRow) -> Result<(), StorageError> {
        self.db
            .drop_gone_push_subscription(row.farm_id, row.channel.id)
            .await
            .map(drop)
    }

    async fn finish(
        &self,
        row: &OutboxRow,
        outcome: OutboxOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.db.finish_alert_message(row.id, outcome, at).await
    }
}
