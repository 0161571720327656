//! A farm's alert rules and channels as the settings page and the TOML file see them: every
//! row, enabled or not, and the writes of one settings change (always inside a `Tx`).

use chrono::Utc;

use super::{Db, NewChannel, RuleKind, StorageError, Tx, on_exec};

/// A rule of a farm, enabled or not.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RuleRow {
    /// Row id.
    pub id: i64,
    /// The stored kind.
    pub kind: String,
    /// One parlor, or every parlor.
    pub parlor_id: Option<i64>,
    /// The kind's window.
    pub minutes: i64,
    /// The kind's upper bound or factor.
    pub threshold: Option<f64>,
    /// The kind's lower bound.
    pub threshold_low: Option<f64>,
    /// `warning` or `critical`.
    pub severity: String,
    /// Whether it is judged.
    pub enabled: bool,
}

/// A channel of a farm, enabled or not (without its secret).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ChannelRow {
    /// Row id.
    pub id: i64,
    /// `webhook`, `email` or `webpush`.
    pub kind: String,
    /// The URL or address (a push channel: its push service's origin).
    pub target: String,
    /// Whether a webhook secret is set.
    pub has_secret: bool,
    /// Quiet hours start (Tokyo minutes after midnight).
    pub quiet_from: Option<i64>,
    /// Quiet hours end.
    pub quiet_to: Option<i64>,
    /// Escalation delay, for a second line.
    pub escalate_after_min: Option<i64>,
    /// Whether it is sent to.
    pub enabled: bool,
}

/// A rule to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRule {
    /// What it watches.
    pub kind: RuleKind,
    /// One parlor of the farm, or every parlor.
    pub parlor_id: Option<i64>,
    /// The kind's window.
    pub minutes: i64,
    /// The kind's upper bound or factor.
    pub threshold: Option<f64>,
    /// The kind's lower bound.
    pub threshold_low: Option<f64>,
    /// Its messages pass quiet hours.
    pub critical: bool,
    /// Judged from now on.
    pub enabled: bool,
}

impl Db {
    /// Every rule of a farm, in the order they were added.
    ///
    /// # Errors
    /// The database failed.
    pub async fn alert_rule_rows(&self, farm_id: i64) -> Result<Vec<RuleRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, RuleRow>(
            "SELECT id, kind, parlor_id, minutes, threshold, threshold_low, severity, enabled \
             FROM alert_rules WHERE farm_id = $1 ORDER BY id")
            .bind(farm_id).fetch_all(e).await?))
    }

    /// Every channel of a farm, in the order they were added.
    ///
    /// # Errors
    /// The database failed.
    pub async fn alert_channel_rows(&self, farm_id: i64) -> Result<Vec<ChannelRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, ChannelRow>(
            "SELECT id, kind, target, (secret IS NOT NULL) AS has_secret, quiet_from, quiet_to, \
             escalate_after_min, enabled FROM alert_channels WHERE farm_id = $1 ORDER BY id")
            .bind(farm_id).fetch_all(e).await?))
    }
}

impl Tx {
    /// Adds a rule to a farm; its parlor must be the farm's.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for another farm's parlor; [`StorageError::Conflict`] when a
    /// check refuses the row.
    pub async fn insert_alert_rule(
        &mut self,
        farm_id: i64,
        r: &NewRule,
    ) -> Result<i64, StorageError> {
        if let Some(p) = r.parlor_id {
            let ours = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "SELECT id FROM parlors WHERE id = $1 AND farm_id = $2")
                .bind(p).bind(farm_id).fetch_optional(e).await?);
            if ours.is_none() {
                return Err(StorageError::NotFound { what: "parlor" });
            }
        }
        on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO alert_rules (farm_id, kind, parlor_id, minutes, threshold, threshold_low, \
             severity, enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
            .bind(farm_id).bind(r.kind.as_str()).bind(r.parlor_id).bind(r.minutes)
            .bind(r.threshold).bind(r.threshold_low)
            .bind(if r.critical { "critical" } else { "warning" }).bind(r.enabled)
            .bind(Utc::now()).fetch_one(e).await)
        .map_err(|err| StorageError::conflict("alert rule", err))
    }

    /// Adds a channel to a farm.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when a check refuses the row.
    pub async fn insert_alert_channel(
        &mut self,
        farm_id: i64,
        c: &NewChannel<'_>,
        enabled: bool,
    ) -> Result<i64, StorageError> {
        on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO alert_channels (farm_id, kind, target, secret, quiet_from, quiet_to, \
             escalate_after_min, enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING id")
            .bind(farm_id).bind(c.kind).bind(c.target).bind(c.secret)
            .bind(c.quiet.map(|q| q.0)).bind(c.quiet.map(|q| q.1)).bind(c.escalate_after_min)
            .bind(enabled).bind(Utc::now()).fetch_one(e).await)
        .map_err(|err| StorageError::conflict("alert channel", err))
    }

    /// Enables or disables a rule (`table` = `alert_rules`) or channel (`alert_channels`) of
    /// a farm.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when the farm has no such row.
    pub async fn set_alert_setting_enabled(
        &mut self,
        channel: bool,
        farm_id: i64,
        id: i64,
        enabled: bool,
    ) -> Result<(), StorageError> {
        // A browser's channel goes back on only while its subscription exists.
        let sql = if channel {
            "UPDATE alert_channels SET enabled = $3 WHERE farm_id = $1 AND id = $2 \
             AND (kind <> 'webpush' OR NOT $3 OR EXISTS (SELECT 1 FROM push_subscriptions p \
               WHERE p.channel_id = alert_channels.id AND p.farm_id = alert_channels.farm_id))"
        } else {
            "UPDATE alert_rules SET enabled = $3 WHERE farm_id = $1 AND id = $2"
        };
        let n = on_exec!(self.on(), e => sqlx::query(sql)
            .bind(farm_id).bind(id).bind(enabled).execute(e).await?.rows_affected());
        if n == 0 {
            return Err(StorageError::NotFound {
                what: if channel {
                    "alert channel"
                } else {
                    "alert rule"
                },
            });
        }
        Ok(())
    }

    /// Disables every rule and channel of a farm (an import replaces them; the old rows stay
    /// for the alerts and attempts that name them). Browsers' push channels are people's own
    /// subscriptions, not the file's, and stay as they are.
    ///
    /// # Errors
    /// The database failed.
    pub async fn disable_alert_settings(&mut self, farm_id: i64) -> Result<(), StorageError> {
        for sql in [
            "UPDATE alert_rules SET enabled = FALSE WHERE farm_id = $1",
            "UPDATE alert_channels SET enabled = FALSE WHERE farm_id = $1 AND kind <> 'webpush'",
        ] {
            on_exec!(self.on(), e => sqlx::query(sql).bind(farm_id).execute(e).await
                .map(|r| r.rows_affected())?);
        }
        Ok(())
    }
}
