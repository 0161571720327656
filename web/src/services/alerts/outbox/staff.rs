//! The city staff's outbox (`staff_alert_outbox`, `staff_alert_deliveries`,
//! `staff_push_subscriptions`): tables with no farm column, which no farm query reads.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Channel, Composed, Keys, Outbox};
use crate::i18n::Lang;
use crate::i18n::push::PushMsg;
use crate::services::alerts::ack_link::{self, Scope};
use crate::services::alerts::notice::AlertConfig;
use crate::services::alerts::staff::{PAGE, StaffNotice, message};
use crate::services::alerts::webpush::{self, send::Payload};
use crate::storage::{Db, OutboxOutcome, PushTarget, StaffOutboxRow, StorageError};

/// The staff alert's outbox.
#[derive(Clone, Copy)]
pub struct StaffOutbox<'a> {
    db: &'a Db,
}

impl<'a> StaffOutbox<'a> {
    /// The staff outbox in `db`.
    pub fn new(db: &'a Db) -> Self {
        StaffOutbox { db }
    }
}

/// The JSON body of a staff webhook call (signed like a farm's).
#[derive(Debug, Clone, Serialize)]
struct StaffWebhookBody<'a> {
    /// Always `staff`: what the receiver tells apart from a farm's call.
    scope: &'static str,
    event: &'a str,
    alert_id: i64,
    district_id: i64,
    day: &'a str,
    detail: &'a str,
    text: &'a str,
    url: &'a str,
    /// The signed link that acknowledges the staff alert (openings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_url: Option<&'a str>,
}

/// The Web Push payload of a staff notice: the first line as the title, the page as the
/// link, and for an opening the acknowledge action.
fn push_payload(n: &StaffNotice, first: &str, url: &str, ack: Option<&str>) -> Vec<u8> {
    let both = |m: PushMsg| format!("{} / {}", m.text(Lang::Ja), m.text(Lang::En));
    serde_json::to_vec(&Payload {
        title: first.to_owned(),
        body: both(PushMsg::Tap),
        url: url.to_owned(),
        ack_url: ack.map(str::to_owned),
        ack_title: ack.map(|_| both(PushMsg::Ack)),
        tag: format!("staff-alert-{}", n.alert_id),
        event: n.event.clone(),
    })
    .unwrap_or_default()
}

impl Outbox for StaffOutbox<'_> {
    type Row = StaffOutboxRow;

    const SCOPE: &'static str = "staff";

    fn alert_id(&self, row: &StaffOutboxRow) -> i64 {
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
    ) -> Result<Vec<StaffOutboxRow>, StorageError> {
        self.db.claim_due_staff_messages(now, lease, limit).await
    }

    fn channel<'r>(&self, row: &'r StaffOutboxRow) -> Channel<'r> {
        Channel {
            kind: &row.kind,
            target: &row.target,
            secret: row.secret.as_deref(),
            enabled: row.enabled,
        }
    }

    fn compose(
        &self,
        row: &StaffOutboxRow,
        cfg: &AlertConfig,
        keys: Keys<'_>,
        now: DateTime<Utc>,
    ) -> Option<Composed> {
        let n: StaffNotice = serde_json::from_str(&row.notice_json).ok()?;
        let ack = (n.event == "opened").then(|| {
            let token = ack_link::scoped_token(keys.ack, Scope::Staff, n.alert_id, now);
            ack_link::scoped_url(Scope::Staff, &cfg.public_url, &token)
        });
        let (subject, text) = message(&n, &cfg.public_url, ack.as_deref());
        let url = format!("{}{PAGE}", cfg.public_url.trim_end_matches('/'));
        let webhook_body = serde_json::to_vec(&StaffWebhookBody {
            scope: "staff",
            event: &n.event,
            alert_id: n.alert_id,
            district_id: n.district_id,
            day: &n.day,
            detail: &n.detail,
            text: &text,
            url: &url,
            ack_url: ack.as_deref(),
        })
        .unwrap_or_default();
        Some(Composed {
            push_payload: push_payload(&n, &subject, &url, ack.as_deref()),
            // The staff alert has no severity: never critical, so quiet hours always hold it.
            urgency: webpush::send::urgency(false, &n.event),
            critical: false,
            subject,
            text,
            webhook_body,
        })
    }

    async fn push_target(&self, row: &StaffOutboxRow) -> Result<Option<PushTarget>, StorageError> {
        self.db.staff_push_target(row.channel_id).await
    }

    async fn attempts(&self, row: &StaffOutboxRow) -> Result<u32, StorageError> {
        self.db.staff_delivery_attempts(row).await
    }

    async fn record_attempt(
        &self,
        row: &StaffOutboxRow,
        attempt: u32,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.db.record_staff_delivery(row, attempt, error, at).await
    }

    async fn reschedule(
        &self,
        row: &StaffOutboxRow,
        due: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.db.postpone_staff_message(row.id, due).await
    }

    async fn drop_gone_subscription(&self, row: &StaffOutboxRow) -> Result<(), StorageError> {
        self.db
            .drop_gone_staff_push_subscription(row.channel_id)
            .await
            .map(drop)
    }

    async fn finish(
        &self,
        row: &StaffOutboxRow,
        outcome: OutboxOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.db.finish_staff_message(row.id, outcome, at).await
    }
}
