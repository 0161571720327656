//! Staff alerts (migration 0022): the city's "a district's data missing for a day" rule, its
//! channels, the alerts, their outbox and delivery attempts. No row here has a farm and no
//! query here takes one: farm routes never reach these tables.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{
    Db, DeliveryRow, NewChannel, NewPushSubscription, OutboxOutcome, PushTarget, PushWhich,
    StorageError, Tx, WEBPUSH, on_exec,
};

/// The city-wide rule as stored (the default before its first save: off, 06:00, no district).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRule {
    /// Whether it is evaluated.
    pub enabled: bool,
    /// The Asia/Tokyo hour of the next day after which a day without data counts as missing.
    pub after_hour: i64,
    /// The districts it watches.
    pub districts: Vec<i64>,
}

/// The hour a day counts as missing after, before the rule is first saved.
pub const STAFF_DEFAULT_HOUR: i64 = 6;

impl Default for StaffRule {
    fn default() -> Self {
        StaffRule {
            enabled: false,
            after_hour: STAFF_DEFAULT_HOUR,
            districts: Vec::new(),
        }
    }
}

/// What one farm sent in one window (an Asia/Tokyo day).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FarmActivity {
    /// The farm.
    pub farm_id: i64,
    /// Its district.
    pub district_id: i64,
    /// Its name.
    pub name: String,
    /// Parlors it has (now).
    pub parlors: i64,
    /// Flights stored in the window.
    pub flights: i64,
    /// Spray record versions saved in the window.
    pub records: i64,
    /// Parlor intervals that ended in the window.
    pub parlor_reports: i64,
}

/// A staff alert.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StaffAlertRow {
    /// Row id.
    pub id: i64,
    /// The district.
    pub district_id: i64,
    /// The Asia/Tokyo day, `YYYY-MM-DD`.
    pub day: String,
    /// The silent farms' names when it opened.
    pub detail: String,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When the data arrived late (or the rule stopped watching).
    pub resolved_at: Option<DateTime<Utc>>,
    /// When a staff member acknowledged it.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<i64>,
}

/// A staff channel as the page lists it (without its secret).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StaffChannelRow {
    /// Row id.
    pub id: i64,
    /// `email` or `webhook`.
    pub kind: String,
    /// The address or URL.
    pub target: String,
    /// Whether messages go there.
    pub enabled: bool,
    /// Quiet hours start, Asia/Tokyo minutes after midnight.
    pub quiet_from: Option<i64>,
    /// Quiet hours end (exclusive), Asia/Tokyo minutes after midnight.
    pub quiet_to: Option<i64>,
    /// A second line: gets an alert only when unacknowledged this many minutes after it opened.
    pub escalate_after_min: Option<i64>,
}

/// A claimed staff message with its channel and its alert's state.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StaffOutboxRow {
    /// Row id.
    pub id: i64,
    /// The alert.
    pub alert_id: i64,
    /// `opened` or `resolved`.
    pub event: String,
    /// The notice as the service made it (JSON).
    pub notice_json: String,
    /// The channel.
    pub channel_id: i64,
    /// `email`, `webhook` or `webpush`.
    pub kind: String,
    /// The address or URL.
    pub target: String,
    /// The webhook's HMAC key.
    pub secret: Option<String>,
    /// Whether the channel is still enabled.
    pub enabled: bool,
    /// The channel's quiet hours start, Asia/Tokyo minutes after midnight.
    pub quiet_from: Option<i64>,
    /// The channel's quiet hours end (exclusive).
    pub quiet_to: Option<i64>,
    /// The channel is a second line, this many minutes after the opening.
    pub escalate_after_min: Option<i64>,
    /// Whether somebody acknowledged the alert.
    pub acknowledged: bool,
    /// Whether the alert has cleared.
    pub resolved: bool,
    /// Whether this channel was sent the alert's opening.
    pub opened_sent: bool,
}

/// A staff member's subscribed browser, as the page lists it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StaffPushRow {
    /// Row id.
    pub id: i64,
    /// Who subscribed it.
    pub username: String,
    /// The push service's URL (a capability: the page shows only its origin).
    pub endpoint: String,
    /// When it was made (or last renewed).
    pub created_at: DateTime<Utc>,
}

impl Db {
    /// The city-wide staff rule, or its default before the first save.
    ///
    /// # Errors
    /// The database failed.
    pub async fn staff_alert_rule(&self) -> Result<StaffRule, StorageError> {
        let row = on_exec!(self.on(), e => sqlx::query_as::<_, (bool, i64)>(
            "SELECT enabled, after_hour FROM staff_alert_rule WHERE id = 1")
            .fetch_optional(e).await?);
        let districts = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT district_id FROM staff_alert_districts ORDER BY district_id")
            .fetch_all(e).await?);
        let mut rule = StaffRule {
            districts,
            ..StaffRule::default()
        };
        if let Some((enabled, after_hour)) = row {
            rule.enabled = enabled;
            rule.after_hour = after_hour;
        }
        Ok(rule)
    }

    /// The newest Asia/Tokyo day the staff rule judged (`YYYY-MM-DD`), `None` before its first
    /// judgment and after it is switched on again.
    ///
    /// # Errors
    /// The database failed.
    pub async fn staff_judged_through(&self) -> Result<Option<String>, StorageError> {
        Ok(
            on_exec!(self.on(), e => sqlx::query_scalar::<_, Option<String>>(
            "SELECT judged_through FROM staff_alert_rule WHERE id = 1")
            .fetch_optional(e).await?)
            .flatten(),
        )
    }

    /// What every farm sent in `[start, end)` (an interval counts by its end, in `(start, end]`).
    ///
    /// # Errors
    /// The database failed.
    pub async fn farm_activity(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<FarmActivity>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, FarmActivity>(
            "SELECT f.id AS farm_id, f.district_id, f.name, \
               (SELECT COUNT(*) FROM parlors p WHERE p.farm_id = f.id) AS parlors, \
               (SELECT COUNT(*) FROM flights fl WHERE fl.farm_id = f.id \
                 AND fl.created_at >= $1 AND fl.created_at < $2) AS flights, \
               (SELECT COUNT(*) FROM spray_records r WHERE r.farm_id = f.id \
                 AND r.created_at >= $1 AND r.created_at < $2) AS records, \
               (SELECT COUNT(*) FROM parlor_intervals i JOIN parlors p ON p.id = i.parlor_id \
                 WHERE p.farm_id = f.id AND i.end_t > $1 AND i.end_t <= $2) AS parlor_reports \
             FROM farms f ORDER BY f.id")
            .bind(start).bind(end).fetch_all(e).await?))
    }

    /// Every unresolved staff alert, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn open_staff_alerts(&self) -> Result<Vec<StaffAlertRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, StaffAlertRow>(
            "SELECT id, district_id, day, detail, opened_at, resolved_at, acknowledged_at, \
             acknowledged_by FROM staff_alerts WHERE resolved_at IS NULL ORDER BY id")
            .fetch_all(e).await?))
    }

    /// The newest `limit` staff alerts, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn staff_alerts(&self, limit: i64) -> Result<Vec<StaffAlertRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, StaffAlertRow>(
            "SELECT id, district_id, day, detail, opened_at, resolved_at, acknowledged_at, \
             acknowledged_by FROM staff_alerts ORDER BY id DESC LIMIT $1")
            .bind(limit).fetch_all(e).await?))
    }

    /// Every staff channel, enabled or not.
    ///
    /// # Errors
    /// The database failed.
    pub async fn staff_alert_channels(&self) -> Result<Vec<StaffChannelRow>, StorageError> {
        Ok(
            on_exec!(self.on(), e => sqlx::query_as::<_, StaffChannelRow>(
            "SELECT id, kind, target, enabled, quiet_from, quiet_to, escalate_after_min \
             FROM staff_alert_channels ORDER BY id")
            .fetch_all(e).await?),
        )
    }

    /// Every delivery attempt of a staff alert, in the order they were made.
    ///
    /// # Errors
    /// The database failed.
    pub async fn staff_alert_deliveries(
        &self,
        alert_id: i64,
    ) -> Result<Vec<DeliveryRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, DeliveryRow>(
            "SELECT alert_id, event, channel, target, attempt, status, error, at \
             FROM staff_alert_deliveries WHERE alert_id = $1 ORDER BY id")
            .bind(alert_id).fetch_all(e).await?))
    }

    /// Claims up to `limit` unfinished staff messages due at `now` that nobody holds, for
    /// `lease` (as [`Db::claim_due_alert_messages`]: of two servers one gets each row).
    ///
    /// # Errors
    /// The database failed.
    pub async fn claim_due_staff_messages(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<StaffOutboxRow>, StorageError> {
        let ids = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM staff_alert_outbox WHERE done_at IS NULL AND due_at <= $1 \
               AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY due_at, id LIMIT $2")
            .bind(now).bind(limit).fetch_all(e).await?);
        let mut out = Vec::new();
        for id in ids {
            let claimed = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "UPDATE staff_alert_outbox SET claimed_until = $2 WHERE id = $1 \
                   AND done_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $3) \
                 RETURNING id")
                .bind(id).bind(now + lease).bind(now).fetch_optional(e).await?);
            if claimed.is_none() {
                continue;
            }
            let row = on_exec!(self.on(), e => sqlx::query_as::<_, StaffOutboxRow>(
                "SELECT o.id, o.alert_id, o.event, o.notice_json, o.channel_id, c.kind, c.target, \
                   c.secret, c.enabled, c.quiet_from, c.quiet_to, c.escalate_after_min, \
                   (a.acknowledged_at IS NOT NULL) AS acknowledged, \
                   (a.resolved_at IS NOT NULL) AS resolved, \
                   EXISTS (SELECT 1 FROM staff_alert_outbox s WHERE s.alert_id = o.alert_id \
                     AND s.channel_id = o.channel_id AND s.event = 'opened' \
                     AND s.outcome = 'sent') AS opened_sent \
                 FROM staff_alert_outbox o JOIN staff_alert_channels c ON c.id = o.channel_id \
                 JOIN staff_alerts a ON a.id = o.alert_id \
                 WHERE o.id = $1")
                .bind(id).fetch_optional(e).await?);
            out.extend(row);
        }
        Ok(out)
    }

    /// Marks a claimed staff message finished.
    ///
    /// # Errors
    /// The database failed.
    pub async fn finish_staff_message(
        &self,
        id: i64,
        outcome: OutboxOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alert_outbox SET done_at = $2, outcome = $3, claimed_until = NULL \
             WHERE id = $1 AND done_at IS NULL")
            .bind(id).bind(at).bind(outcome.as_str()).execute(e).await
            .map(|r| r.rows_affected())?);
        Ok(())
    }

    /// Moves an unfinished staff message's due time (quiet hours, a push service's
    /// `Retry-After`) and lets go of its claim.
    ///
    /// # Errors
    /// The database failed.
    pub async fn postpone_staff_message(
        &self,
        id: i64,
        due: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alert_outbox SET due_at = $2, claimed_until = NULL \
             WHERE id = $1 AND done_at IS NULL")
            .bind(id).bind(due).execute(e).await.map(|r| r.rows_affected())?);
        Ok(())
    }

    /// One staff alert.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such alert.
    pub async fn staff_alert(&self, id: i64) -> Result<StaffAlertRow, StorageError> {
        on_exec!(self.on(), e => sqlx::query_as::<_, StaffAlertRow>(
            "SELECT id, district_id, day, detail, opened_at, resolved_at, acknowledged_at, \
             acknowledged_by FROM staff_alerts WHERE id = $1")
            .bind(id).fetch_optional(e).await?)
        .ok_or(StorageError::NotFound {
            what: "staff alert",
        })
    }

    /// Unfinished staff messages (queued or claimed).
    ///
    /// # Errors
    /// The database failed.
    pub async fn pending_staff_messages(&self) -> Result<i64, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM staff_alert_outbox WHERE done_at IS NULL")
            .fetch_one(e).await?))
    }

    /// Stores one attempt to deliver a staff message (`error` `None`: it was sent).
    ///
    /// # Errors
    /// The database failed.
    pub async fn record_staff_delivery(
        &self,
        row: &StaffOutboxRow,
        attempt: u32,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        on_exec!(self.on(), e => sqlx::query(
            "INSERT INTO staff_alert_deliveries \
             (alert_id, event, channel_id, channel, target, attempt, status, error, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(row.alert_id).bind(&row.event).bind(row.channel_id).bind(&row.kind)
            .bind(&row.target)
            .bind(i64::from(attempt)).bind(if error.is_none() { "sent" } else { "failed" })
            .bind(error).bind(at).execute(e).await.map(|r| r.rows_affected())?);
        Ok(())
    }

    /// How many attempts are stored for one staff message (its alert, event and channel id),
    /// so one taken up again (a crashed server's claim) continues its count; an old attempt no
    /// channel could be told for (migration 0024) counts for none.
    ///
    /// # Errors
    /// The database failed.
    pub async fn staff_delivery_attempts(&self, row: &StaffOutboxRow) -> Result<u32, StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM staff_alert_deliveries WHERE alert_id = $1 AND event = $2 \
               AND channel_id = $3")
            .bind(row.alert_id).bind(&row.event).bind(row.channel_id)
            .fetch_one(e).await?);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

impl Tx {
    /// Stores the city-wide rule and the districts it watches, replacing the old ones; a rule
    /// switched on again forgets its judged days (it judges only the newest one first).
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an hour outside 0–23 or an unknown district.
    pub async fn save_staff_alert_rule(
        &mut self,
        rule: &StaffRule,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        on_exec!(self.on(), e => sqlx::query(
            "INSERT INTO staff_alert_rule (id, enabled, after_hour, updated_by, updated_at) \
             VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET enabled = $1, \
             after_hour = $2, updated_by = $3, updated_at = $4, \
             judged_through = CASE WHEN staff_alert_rule.enabled \
               THEN staff_alert_rule.judged_through END")
            .bind(rule.enabled).bind(rule.after_hour).bind(user_id).bind(now)
            .execute(e).await.map(|r| r.rows_affected()))
        .map_err(|err| StorageError::conflict("staff alert rule", err))?;
        on_exec!(self.on(), e => sqlx::query("DELETE FROM staff_alert_districts")
            .execute(e).await.map(|r| r.rows_affected())?);
        for d in &rule.districts {
            on_exec!(self.on(), e => sqlx::query(
                "INSERT INTO staff_alert_districts (district_id) VALUES ($1) \
                 ON CONFLICT (district_id) DO NOTHING")
                .bind(d).execute(e).await.map(|r| r.rows_affected()))
            .map_err(|err| StorageError::conflict("staff alert district", err))?;
        }
        Ok(())
    }

    /// Records that the staff rule judged `day` (`YYYY-MM-DD`); an older day leaves the record.
    ///
    /// # Errors
    /// The database failed.
    pub async fn mark_staff_day_judged(&mut self, day: &str) -> Result<(), StorageError> {
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alert_rule SET judged_through = $1 \
             WHERE id = 1 AND (judged_through IS NULL OR judged_through < $1)")
            .bind(day).execute(e).await.map(|r| r.rows_affected())?);
        Ok(())
    }

    /// Adds an enabled staff channel without quiet hours or escalation and returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown kind or a webhook without its secret.
    pub async fn insert_staff_alert_channel(
        &mut self,
        kind: &str,
        target: &str,
        secret: Option<&str>,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let c = NewChannel {
            kind,
            target,
            secret,
            ..NewChannel::default()
        };
        self.insert_staff_alert_channel_with(&c, user_id, now).await
    }

    /// Adds an enabled staff channel with its quiet hours and escalation; returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown kind, a webhook without its secret, or
    /// quiet hours or an escalation delay out of range.
    pub async fn insert_staff_alert_channel_with(
        &mut self,
        c: &NewChannel<'_>,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO staff_alert_channels \
             (kind, target, secret, quiet_from, quiet_to, escalate_after_min, created_by, \
              created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(c.kind).bind(c.target).bind(c.secret).bind(c.quiet.map(|q| q.0))
            .bind(c.quiet.map(|q| q.1)).bind(c.escalate_after_min).bind(user_id).bind(now)
            .fetch_one(e).await)
        .map_err(|err| StorageError::conflict("staff alert channel", err))
    }

    /// Sets a staff channel's quiet hours and escalation (`None`: none).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such channel; [`StorageError::Conflict`]
    /// for values out of range.
    pub async fn set_staff_channel_timing(
        &mut self,
        id: i64,
        quiet: Option<(i64, i64)>,
        escalate_after_min: Option<i64>,
    ) -> Result<(), StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alert_channels SET quiet_from = $2, quiet_to = $3, \
             escalate_after_min = $4 WHERE id = $1")
            .bind(id).bind(quiet.map(|q| q.0)).bind(quiet.map(|q| q.1))
            .bind(escalate_after_min).execute(e).await.map(|r| r.rows_affected()))
        .map_err(|err| StorageError::conflict("staff alert channel", err))?;
        if n == 0 {
            return Err(StorageError::NotFound {
                what: "staff alert channel",
            });
        }
        Ok(())
    }

    /// Switches a staff channel on or off.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such channel.
    pub async fn set_staff_channel_enabled(
        &mut self,
        id: i64,
        enabled: bool,
    ) -> Result<(), StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alert_channels SET enabled = $2 WHERE id = $1")
            .bind(id).bind(enabled).execute(e).await?.rows_affected());
        if n == 0 {
            return Err(StorageError::NotFound {
                what: "staff alert channel",
            });
        }
        Ok(())
    }

    /// Marks a staff alert acknowledged by a user (the first one counts).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such alert.
    pub async fn acknowledge_staff_alert(
        &mut self,
        id: i64,
        user_id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let found = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "UPDATE staff_alerts SET acknowledged_at = COALESCE(acknowledged_at, $2), \
             acknowledged_by = COALESCE(acknowledged_by, $3) WHERE id = $1 RETURNING id")
            .bind(id).bind(at).bind(user_id).fetch_optional(e).await?);
        found.map(|_| ()).ok_or(StorageError::NotFound {
            what: "staff alert",
        })
    }

    /// Marks a staff alert acknowledged through its signed link (no user); `false` when it
    /// was acknowledged already.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such staff alert.
    pub async fn acknowledge_staff_alert_by_link(
        &mut self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alerts SET acknowledged_at = $2 \
             WHERE id = $1 AND acknowledged_at IS NULL")
            .bind(id).bind(at).execute(e).await?.rows_affected());
        if n == 0 {
            let exists = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "SELECT id FROM staff_alerts WHERE id = $1")
                .bind(id).fetch_optional(e).await?);
            if exists.is_none() {
                return Err(StorageError::NotFound {
                    what: "staff alert",
                });
            }
        }
        Ok(n == 1)
    }

    /// Opens the alert of a district's day; `None` when that day already had one (open or
    /// cleared: `UNIQUE (district_id, day)`).
    ///
    /// # Errors
    /// The database failed.
    pub async fn open_staff_alert(
        &mut self,
        district_id: i64,
        day: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO staff_alerts (district_id, day, detail, opened_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (district_id, day) DO NOTHING RETURNING id")
            .bind(district_id).bind(day).bind(detail).bind(at).fetch_optional(e).await?))
    }

    /// Resolves an open staff alert; `false` when it was resolved already.
    ///
    /// # Errors
    /// The database failed.
    pub async fn resolve_staff_alert(
        &mut self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alerts SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL")
            .bind(id).bind(at).execute(e).await?.rows_affected());
        Ok(n == 1)
    }

    /// Queues one message per enabled staff channel for a staff alert change, due at `now`,
    /// or for an opening on a second-line channel `escalate_after_min` later; returns how
    /// many were queued.
    ///
    /// # Errors
    /// The database failed.
    pub async fn enqueue_staff_message(
        &mut self,
        alert_id: i64,
        event: &str,
        notice_json: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        let channels = on_exec!(self.on(), e => sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT id, escalate_after_min FROM staff_alert_channels WHERE enabled ORDER BY id")
            .fetch_all(e).await?);
        let mut n = 0;
        for (channel_id, escalate) in channels {
            let due = match escalate {
                Some(m) if event == "opened" => now + Duration::minutes(m),
                _ => now,
            };
            n += on_exec!(self.on(), e => sqlx::query(
                "INSERT INTO staff_alert_outbox \
                 (alert_id, event, channel_id, notice_json, due_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (alert_id, event, channel_id) DO NOTHING")
                .bind(alert_id).bind(event).bind(channel_id).bind(notice_json).bind(due)
                .bind(now).execute(e).await?.rows_affected());
        }
        Ok(n)
    }
}

impl Tx {
    /// Stores a staff member's browser subscription: a new `webpush` staff channel and its
    /// row, or, for an endpoint already stored, the row renewed (new keys, this user) and its
    /// channel switched on again. Returns the channel id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when a check refuses the row; the database failed.
    pub async fn upsert_staff_push_subscription(
        &mut self,
        user_id: i64,
        s: &NewPushSubscription<'_>,
    ) -> Result<i64, StorageError> {
        let now = Utc::now();
        let existing = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT channel_id FROM staff_push_subscriptions WHERE endpoint = $1")
            .bind(s.endpoint).fetch_optional(e).await?);
        if let Some(channel_id) = existing {
            on_exec!(self.on(), e => sqlx::query(
                "UPDATE staff_push_subscriptions SET p256dh = $2, auth = $3, user_id = $4, \
                 created_at = $5 WHERE endpoint = $1")
                .bind(s.endpoint).bind(s.p256dh).bind(s.auth).bind(user_id).bind(now)
                .execute(e).await.map(|r| r.rows_affected()))
            .map_err(|err| StorageError::conflict("staff push subscription", err))?;
            on_exec!(self.on(), e => sqlx::query(
                "UPDATE staff_alert_channels SET enabled = TRUE, target = $2 WHERE id = $1")
                .bind(channel_id).bind(s.label).execute(e).await.map(|r| r.rows_affected())?);
            return Ok(channel_id);
        }
        let channel_id = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO staff_alert_channels (kind, target, enabled, created_by, created_at) \
             VALUES ($1, $2, TRUE, $3, $4) RETURNING id")
            .bind(WEBPUSH).bind(s.label).bind(user_id).bind(now).fetch_one(e).await)
        .map_err(|err| StorageError::conflict("staff alert channel", err))?;
        on_exec!(self.on(), e => sqlx::query(
            "INSERT INTO staff_push_subscriptions \
             (user_id, channel_id, endpoint, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(user_id).bind(channel_id).bind(s.endpoint).bind(s.p256dh).bind(s.auth)
            .bind(now).execute(e).await.map(|r| r.rows_affected()))
        .map_err(|err| StorageError::conflict("staff push subscription", err))?;
        Ok(channel_id)
    }

    /// Replaces a staff member's own subscription by the browser's new one (its service
    /// worker's `pushsubscriptionchange`); the channel stays. Returns the channel id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when this user has no subscription with `old`;
    /// [`StorageError::Conflict`] when the new endpoint is stored already.
    pub async fn replace_staff_push_subscription(
        &mut self,
        user_id: i64,
        old: &str,
        s: &NewPushSubscription<'_>,
    ) -> Result<i64, StorageError> {
        let channel = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "UPDATE staff_push_subscriptions SET endpoint = $3, p256dh = $4, auth = $5, \
               created_at = $6 WHERE user_id = $1 AND endpoint = $2 RETURNING channel_id")
            .bind(user_id).bind(old).bind(s.endpoint).bind(s.p256dh).bind(s.auth)
            .bind(Utc::now()).fetch_optional(e).await)
        .map_err(|err| StorageError::conflict("staff push subscription", err))?
        .ok_or(StorageError::NotFound {
            what: "staff push subscription",
        })?;
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alert_channels SET enabled = TRUE, target = $2 WHERE id = $1")
            .bind(channel).bind(s.label).execute(e).await.map(|r| r.rows_affected())?);
        Ok(channel)
    }

    /// Removes a staff subscription (by endpoint, row or channel) and switches its channel
    /// off; the channel stays for the attempts that name it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such subscription.
    pub async fn remove_staff_push_subscription(
        &mut self,
        which: PushWhich<'_>,
    ) -> Result<(), StorageError> {
        let channel = match which {
            PushWhich::Endpoint(endpoint) => on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "DELETE FROM staff_push_subscriptions WHERE endpoint = $1 RETURNING channel_id")
                .bind(endpoint).fetch_optional(e).await?),
            PushWhich::Id(id) => on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "DELETE FROM staff_push_subscriptions WHERE id = $1 RETURNING channel_id")
                .bind(id).fetch_optional(e).await?),
            PushWhich::Channel(ch) => on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "DELETE FROM staff_push_subscriptions WHERE channel_id = $1 RETURNING channel_id")
                .bind(ch).fetch_optional(e).await?),
        };
        let channel = channel.ok_or(StorageError::NotFound {
            what: "staff push subscription",
        })?;
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE staff_alert_channels SET enabled = FALSE WHERE id = $1")
            .bind(channel).execute(e).await.map(|r| r.rows_affected())?);
        Ok(())
    }
}

impl Db {
    /// Every staff subscription, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn staff_push_subscriptions(&self) -> Result<Vec<StaffPushRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, StaffPushRow>(
            "SELECT p.id, u.username, p.endpoint, p.created_at FROM staff_push_subscriptions p \
             JOIN users u ON u.id = p.user_id ORDER BY p.id")
            .fetch_all(e).await?))
    }

    /// The subscription behind a staff channel, if it still exists.
    ///
    /// # Errors
    /// The database failed.
    pub async fn staff_push_target(
        &self,
        channel_id: i64,
    ) -> Result<Option<PushTarget>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, PushTarget>(
            "SELECT id, endpoint, p256dh, auth FROM staff_push_subscriptions \
             WHERE channel_id = $1")
            .bind(channel_id).fetch_optional(e).await?))
    }

    /// Forgets the subscription behind a staff channel its push service says is gone, in
    /// one transaction; a second call finds nothing and does nothing.
    ///
    /// # Errors
    /// The database failed.
    pub async fn drop_gone_staff_push_subscription(
        &self,
        channel_id: i64,
    ) -> Result<bool, StorageError> {
        let mut tx = self.begin().await?;
        match tx
            .remove_staff_push_subscription(PushWhich::Channel(channel_id))
            .await
        {
            Ok(()) => {
                tx.commit().await?;
                Ok(true)
            }
            Err(StorageError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
