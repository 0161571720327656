//! The alert delivery outbox: messages queued with the alert change that causes them, claimed
//! for a lease by the server that sends them, and marked done once sent, failed or skipped.

use chrono::{DateTime, Duration, Utc};

use super::{AlertChannel, Db, StorageError, Tx, on_exec};

/// A queued message, claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// The alert.
    pub alert_id: i64,
    /// `opened` or `resolved`.
    pub event: String,
    /// The notice as the service made it (JSON).
    pub notice_json: String,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// The channel to send it on.
    pub channel: AlertChannel,
    /// Whether that channel is still enabled.
    pub channel_enabled: bool,
    /// Whether somebody acknowledged the alert.
    pub alert_acknowledged: bool,
    /// Whether the alert has cleared.
    pub alert_resolved: bool,
    /// Whether this channel was sent the alert's opening.
    pub opened_sent_here: bool,
}

/// How a queued message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxOutcome {
    /// Delivered.
    Sent,
    /// Every attempt failed.
    Failed,
    /// Not sent: the channel was disabled, or the message is no longer wanted.
    Skipped,
}

impl OutboxOutcome {
    /// The name stored in `alert_outbox.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxOutcome::Sent => "sent",
            OutboxOutcome::Failed => "failed",
            OutboxOutcome::Skipped => "skipped",
        }
    }
}

/// A claimed row as stored, with its channel and its alert's state.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    farm_id: i64,
    alert_id: i64,
    event: String,
    notice_json: String,
    due_at: DateTime<Utc>,
    channel_id: i64,
    kind: String,
    target: String,
    secret: Option<String>,
    quiet_from: Option<i64>,
    quiet_to: Option<i64>,
    escalate_after_min: Option<i64>,
    enabled: bool,
    acknowledged: bool,
    resolved: bool,
    opened_sent: bool,
}

impl Tx {
    /// Queues one message per enabled channel of the farm for an alert change, due at `now`,
    /// or for an opening on a second-line channel `escalate_after_min` later; returns how many
    /// were queued (none for a message already queued on a channel).
    ///
    /// # Errors
    /// The database failed.
    pub async fn enqueue_alert_message(
        &mut self,
        farm_id: i64,
        alert_id: i64,
        event: &str,
        notice_json: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        let channels = on_exec!(self.on(), e => sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT id, escalate_after_min FROM alert_channels \
             WHERE farm_id = $1 AND enabled ORDER BY id")
            .bind(farm_id).fetch_all(e).await?);
        let mut n = 0;
        for (channel_id, escalate) in channels {
            let due = match escalate {
                Some(m) if event == "opened" => now + Duration::minutes(m),
                _ => now,
            };
            n += on_exec!(self.on(), e => sqlx::query(
                "INSERT INTO alert_outbox \
                 (farm_id, alert_id, event, channel_id, notice_json, due_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (alert_id, event, channel_id) DO NOTHING")
                .bind(farm_id).bind(alert_id).bind(event).bind(channel_id).bind(notice_json)
                .bind(due).bind(Utc::now()).execute(e).await?.rows_affected());
        }
        Ok(n)
    }
}

impl Db {
    /// Claims up to `limit` unfinished messages due at `now` that nobody holds, for `lease`:
    /// until it runs out no other claim takes them (a server that crashed mid-send loses its
    /// claim then, and the message is sent again: at least once).
    ///
    /// # Errors
    /// The database failed.
    pub async fn claim_due_alert_messages(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let ids = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM alert_outbox WHERE done_at IS NULL AND due_at <= $1 \
               AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY due_at, id LIMIT $2")
            .bind(now).bind(limit).fetch_all(e).await?);
        let mut out = Vec::new();
        for id in ids {
            // The conditional update is the claim: of two servers, one gets the row.
            let claimed = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "UPDATE alert_outbox SET claimed_until = $2 WHERE id = $1 AND done_at IS NULL \
                   AND (claimed_until IS NULL OR claimed_until <= $3) RETURNING id")
                .bind(id).bind(now + lease).bind(now).fetch_optional(e).await?);
            if claimed.is_none() {
                continue;
            }
            let row = on_exec!(self.on(), e => sqlx::query_as::<_, ClaimedRow>(
                "SELECT o.id, o.farm_id, o.alert_id, o.event, o.notice_json, o.due_at, \
                   c.id AS channel_id, c.kind, c.target, c.secret, c.quiet_from, c.quiet_to, \
                   c.escalate_after_min, c.enabled, \
                   (a.acknowledged_at IS NOT NULL) AS acknowledged, \
                   (a.resolved_at IS NOT NULL) AS resolved, \
                   EXISTS (SELECT 1 FROM alert_outbox s WHERE s.alert_id = o.alert_id \
                     AND s.channel_id = o.channel_id AND s.event = 'opened' \
                     AND s.outcome = 'sent') AS opened_sent \
                 FROM alert_outbox o \
                 JOIN alert_channels c ON c.id = o.channel_id AND c.farm_id = o.farm_id \
                 JOIN alerts a ON a.id = o.alert_id AND a.farm_id = o.farm_id \
                 WHERE o.id = $1")
                .bind(id).fetch_optional(e).await?);
            if let Some(r) = row {
                out.push(OutboxRow {
                    id: r.id,
                    farm_id: r.farm_id,
                    alert_id: r.alert_id,
                    event: r.event,
                    notice_json: r.notice_json,
                    due_at: r.due_at,
                    channel: AlertChannel {
                        id: r.channel_id,
                        farm_id: r.farm_id,
                        kind: r.kind,
                        target: r.target,
                        secret: r.secret,
                        quiet_from: r.quiet_from,
                        quiet_to: r.quiet_to,
                        escalate_after_min: r.escalate_after_min,
                    },
                    channel_enabled: r.enabled,
                    alert_acknowledged: r.acknowledged,
                    alert_resolved: r.resolved,
                    opened_sent_here: r.opened_sent,
                });
            }
        }
        Ok(out)
    }

    /// Marks a claimed message finished.
    ///
    /// # Errors
    /// The database failed.
    pub async fn finish_alert_message(
        &self,
        id: i64,
        outcome: OutboxOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE alert_outbox SET done_at = $2, outcome = $3, claimed_until = NULL \
             WHERE id = $1 AND done_at IS NULL")
            .bind(id).bind(at).bind(outcome.as_str()).execute(e).await
            .map(|r| r.rows_affected())?);
        Ok(())
    }

    /// Moves an unfinished message's due time (held for quiet hours) and lets go of its claim.
    ///
    /// # Errors
    /// The database failed.
    pub async fn postpone_alert_message(
        &self,
        id: i64,
        due: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE alert_outbox SET due_at = $2, claimed_until = NULL \
             WHERE id = $1 AND done_at IS NULL")
            .bind(id).bind(due).execute(e).await.map(|r| r.rows_affected())?);
        Ok(())
    }

    /// Unfinished messages of a farm (queued, held or claimed).
    ///
    /// # Errors
    /// The database failed.
    pub async fn pending_alert_messages(&self, farm_id: i64) -> Result<i64, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM alert_outbox WHERE farm_id = $1 AND done_at IS NULL")
            .bind(farm_id).fetch_one(e).await?))
    }
}
