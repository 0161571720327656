//! Alert rules, channels, the alerts they open and resolve, and every delivery attempt.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, StorageError, Tx, on_exec};

/// What a rule watches. The meaning of a rule's `minutes` and thresholds for each kind is
/// documented on the variant (and in ARCHITECTURE.md).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// No KPI interval from the bridge for longer than N minutes.
    ParlorOffline,
    /// Platform state `stopped` (halted inside a milking session) for longer than N minutes.
    ParlorStopped,
    /// The rolling cows/h below the threshold for N minutes while the platform runs.
    LowThroughput,
    /// Platform state `fault`, or any alarm bit active, for N minutes (1 = at once).
    PlatformFault,
    /// A milking's conductivity above `threshold` × the median of the same cow's previous
    /// milkings (per bail when the cow is not identified); open for N minutes after it.
    HighConductivity,
    /// The mean milk-line temperature of running intervals outside
    /// [`threshold_low`, `threshold`] °C for N minutes.
    MilkTemperature,
    /// No batch from a bridge of the farm for longer than N minutes.
    BridgeOffline,
    /// A flight whose record shows a link loss, within N minutes of its end.
    FlightLinkLost,
    /// A flight whose record shows a failsafe (battery, radio, GCS, other, an uncommanded
    /// return/land), within N minutes of its end.
    FlightFailsafe,
    /// A sortie ended aborted or failed, within N minutes of its end.
    SortieAborted,
    /// A spray record whose newest version has been unsigned for N minutes (7 days = 10080).
    RecordUnsigned,
    /// A parlor that reported before sent no interval for a whole Asia/Tokyo day, judged N
    /// minutes after the day ended (for late uploads).
    DayDataMissing,
}

impl RuleKind {
    /// Every kind, in the order the pages list them.
    pub const ALL: [RuleKind; 12] = [
        RuleKind::ParlorOffline,
        RuleKind::ParlorStopped,
        RuleKind::LowThroughput,
        RuleKind::PlatformFault,
        RuleKind::HighConductivity,
        RuleKind::MilkTemperature,
        RuleKind::BridgeOffline,
        RuleKind::FlightLinkLost,
        RuleKind::FlightFailsafe,
        RuleKind::SortieAborted,
        RuleKind::RecordUnsigned,
        RuleKind::DayDataMissing,
    ];

    /// The name stored in `alert_rules.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::ParlorOffline => "parlor_offline",
            RuleKind::ParlorStopped => "parlor_stopped",
            RuleKind::LowThroughput => "low_throughput",
            RuleKind::PlatformFault => "platform_fault",
            RuleKind::HighConductivity => "high_conductivity",
            RuleKind::MilkTemperature => "milk_temperature",
            RuleKind::BridgeOffline => "bridge_offline",
            RuleKind::FlightLinkLost => "flight_link_lost",
            RuleKind::FlightFailsafe => "flight_failsafe",
            RuleKind::SortieAborted => "sortie_aborted",
            RuleKind::RecordUnsigned => "record_unsigned",
            RuleKind::DayDataMissing => "day_data_missing",
        }
    }

    /// Parses a stored kind; `None` for a kind this server does not know.
    pub fn parse(s: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the kind reports a past event (a flight) rather than a state that clears: its
    /// alert closes quietly when its window passes, without a "cleared" message.
    pub fn is_event(self) -> bool {
        matches!(
            self,
            RuleKind::FlightLinkLost | RuleKind::FlightFailsafe | RuleKind::SortieAborted
        )
    }
}

/// One enabled rule of a farm.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// What it watches.
    pub kind: RuleKind,
    /// One parlor, or `None` for every parlor of the farm.
    pub parlor_id: Option<i64>,
    /// How long the condition must last before it opens an alert.
    pub minutes: i64,
    /// The kind's upper bound or factor (cows/h floor, conductivity factor, highest °C).
    pub threshold: Option<f64>,
    /// The kind's lower bound (lowest milk-line °C).
    pub threshold_low: Option<f64>,
    /// Critical: its messages pass quiet hours.
    pub critical: bool,
}

/// One KPI interval as the evaluator needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalFact {
    /// Interval start.
    pub start_t: DateTime<Utc>,
    /// Interval end (when the bridge last saw the parlor, for the latest one).
    pub end_t: DateTime<Utc>,
    /// Platform state at the end (`off`, `running`, `stopped`, `washing`, `fault`).
    pub state: String,
    /// Cows per hour over the bridge's rolling window.
    pub cows_per_hour_rolling: f64,
    /// Mean milk-line temperature, °C, when the map has one.
    pub milk_temp_c: Option<f64>,
    /// Alarms active at the end, by name.
    pub alarms: Vec<String>,
}

/// A condition that holds now: the rule, the thing it holds for, and since when.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCondition {
    /// The rule that sees it.
    pub rule_id: i64,
    /// The farm.
    pub farm_id: i64,
    /// What it holds for (`parlor:<id>`, `cow:<parlor>:<cow>`, `bail:<parlor>:<bail>`,
    /// `bridge:<token>`, `flight:<id>`, `record:<flight>`): one rule may watch several.
    pub condition_key: String,
    /// The parlor, when it is about one.
    pub parlor_id: Option<i64>,
    /// What people call the thing: the parlor's, bridge's or field's name.
    pub subject: String,
    /// What was seen, for the message (an alarm's name, a cow, a temperature); may be empty.
    pub detail: String,
    /// What the rule watches.
    pub kind: RuleKind,
    /// Since when the condition has held, as far as the facts show.
    pub since: DateTime<Utc>,
    /// The rule is critical (its messages pass quiet hours).
    pub critical: bool,
}

/// A place a farm's alerts are delivered to.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AlertChannel {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// `webhook` or `email`.
    pub kind: String,
    /// The webhook URL or the e-mail address.
    pub target: String,
    /// The webhook's HMAC key (never shown again once set).
    pub secret: Option<String>,
    /// Quiet hours start, Asia/Tokyo minutes after midnight.
    pub quiet_from: Option<i64>,
    /// Quiet hours end (exclusive), Asia/Tokyo minutes after midnight.
    pub quiet_to: Option<i64>,
    /// A second line: gets an alert only when unacknowledged this many minutes after it opened.
    pub escalate_after_min: Option<i64>,
}

/// A channel to add.
#[derive(Debug, Clone, Default)]
pub struct NewChannel<'a> {
    /// `webhook` or `email`.
    pub kind: &'a str,
    /// The webhook URL or the e-mail address.
    pub target: &'a str,
    /// The webhook's HMAC key.
    pub secret: Option<&'a str>,
    /// Quiet hours as (from, to), Asia/Tokyo minutes after midnight.
    pub quiet: Option<(i64, i64)>,
    /// Escalation delay in minutes, for a second line.
    pub escalate_after_min: Option<i64>,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlertRow {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// The rule that opened it.
    pub rule_id: i64,
    /// What the rule saw (`parlor:<id>`).
    pub condition_key: String,
    /// The parlor, when the condition is about one.
    pub parlor_id: Option<i64>,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it cleared.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When somebody acknowledged it.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<i64>,
    /// What the rule saw when it opened.
    pub detail: String,
}

/// One stored delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DeliveryRow {
    /// The alert.
    pub alert_id: i64,
    /// `opened` or `resolved`.
    pub event: String,
    /// `webhook` or `email`.
    pub channel: String,
    /// Where it went.
    pub target: String,
    /// 1 for the first try.
    pub attempt: i64,
    /// `sent` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was tried.
    pub at: DateTime<Utc>,
}

/// A delivery attempt to store.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    /// The farm.
    pub farm_id: i64,
    /// The alert.
    pub alert_id: i64,
    /// `opened` or `resolved`.
    pub event: &'a str,
    /// The channel it was made on: what its message's attempts are counted by.
    pub channel_id: i64,
    /// `webhook`, `email` or `webpush`.
    pub channel: &'a str,
    /// Where it went.
    pub target: &'a str,
    /// 1 for the first try.
    pub attempt: u32,
    /// The failure, or `None` when it was sent.
    pub error: Option<&'a str>,
    /// When it was tried.
    pub at: DateTime<Utc>,
}

/// A rule as stored, before its kind is checked.
type RuleTuple = (
    i64,
    i64,
    String,
    Option<i64>,
    i64,
    Option<f64>,
    Option<f64>,
    String,
);

impl Db {
    /// Adds an enabled rule to a farm and returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when a check refuses it (minutes outside 1–1440, a threshold
    /// ≤ 0, an unknown farm or parlor); otherwise the database failed.
    pub async fn create_alert_rule(
        &self,
        farm_id: i64,
        kind: RuleKind,
        parlor_id: Option<i64>,
        minutes: i64,
        threshold: Option<f64>,
    ) -> Result<i64, StorageError> {
        self.create_alert_rule_range(farm_id, kind, parlor_id, minutes, None, threshold)
            .await
    }

    /// Adds an enabled rule with a lower and an upper bound (a temperature range).
    ///
    /// # Errors
    /// As [`Db::create_alert_rule`]; also when the lower bound is not below the upper one.
    pub async fn create_alert_rule_range(
        &self,
        farm_id: i64,
        kind: RuleKind,
        parlor_id: Option<i64>,
        minutes: i64,
        threshold_low: Option<f64>,
        threshold: Option<f64>,
    ) -> Result<i64, StorageError> {
        on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO alert_rules \
             (farm_id, kind, parlor_id, minutes, threshold, threshold_low, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(farm_id).bind(kind.as_str()).bind(parlor_id).bind(minutes).bind(threshold)
            .bind(threshold_low).bind(Utc::now()).fetch_one(e).await)
        .map_err(|err| StorageError::conflict("alert rule", err))
    }

    /// Adds a delivery channel to a farm and returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown kind or a webhook without its secret.
    pub async fn create_alert_channel(
        &self,
        farm_id: i64,
        kind: &str,
        target: &str,
        secret: Option<&str>,
    ) -> Result<i64, StorageError> {
        on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO alert_channels (farm_id, kind, target, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(farm_id).bind(kind).bind(target).bind(secret).bind(Utc::now())
            .fetch_one(e).await)
        .map_err(|err| StorageError::conflict("alert channel", err))
    }

    /// Makes a rule of a farm critical (its messages pass quiet hours) or not.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when the farm has no such rule.
    pub async fn set_alert_rule_critical(
        &self,
        farm_id: i64,
        rule_id: i64,
        critical: bool,
    ) -> Result<(), StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query(
            "UPDATE alert_rules SET severity = $3 WHERE farm_id = $1 AND id = $2")
            .bind(farm_id).bind(rule_id).bind(if critical { "critical" } else { "warning" })
            .execute(e).await?.rows_affected());
        if n == 0 {
            return Err(StorageError::NotFound { what: "alert rule" });
        }
        Ok(())
    }

    /// Adds a channel with its quiet hours and escalation and returns its id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when a check refuses it (minutes outside the day, an unknown
    /// kind, a webhook without its secret).
    pub async fn create_alert_channel_with(
        &self,
        farm_id: i64,
        c: &NewChannel<'_>,
    ) -> Result<i64, StorageError> {
        on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO alert_channels \
             (farm_id, kind, target, secret, quiet_from, quiet_to, escalate_after_min, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(farm_id).bind(c.kind).bind(c.target).bind(c.secret)
            .bind(c.quiet.map(|q| q.0)).bind(c.quiet.map(|q| q.1)).bind(c.escalate_after_min)
            .bind(Utc::now()).fetch_one(e).await)
        .map_err(|err| StorageError::conflict("alert channel", err))
    }

    /// Every enabled rule of every farm; rows of a kind this server does not know are skipped.
    ///
    /// # Errors
    /// The database failed.
    pub async fn enabled_alert_rules(&self) -> Result<Vec<Rule>, StorageError> {
        let rows = on_exec!(self.on(), e => sqlx::query_as::<_, RuleTuple>(
            "SELECT id, farm_id, kind, parlor_id, minutes, threshold, threshold_low, severity \
             FROM alert_rules \
             WHERE enabled ORDER BY id")
            .fetch_all(e).await?);
        Ok(rows
            .into_iter()
            .filter_map(
                |(id, farm_id, kind, parlor_id, minutes, threshold, threshold_low, severity)| {
                    Some(Rule {
                        id,
                        farm_id,
                        kind: RuleKind::parse(&kind)?,
                        parlor_id,
                        minutes,
                        threshold,
                        threshold_low,
                        critical: severity == "critical",
                    })
                },
            )
            .collect())
    }

    /// The enabled delivery channels of a farm.
    ///
    /// # Errors
    /// The database failed.
    pub async fn alert_channels(&self, farm_id: i64) -> Result<Vec<AlertChannel>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, AlertChannel>(
            "SELECT id, farm_id, kind, target, secret, quiet_from, quiet_to, escalate_after_min \
             FROM alert_channels \
             WHERE farm_id = $1 AND enabled ORDER BY id")
            .bind(farm_id).fetch_all(e).await?))
    }

    /// The intervals of a parlor ending at or after `since`, newest first; when there are none,
    /// the latest interval alone (so a silent parlor still has its last word).
    ///
    /// # Errors
    /// The database failed.
    pub async fn recent_interval_facts(
        &self,
        parlor_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<IntervalFact>, StorageError> {
        type Row = (
            DateTime<Utc>,
            DateTime<Utc>,
            String,
            f64,
            Option<f64>,
            String,
        );
        let rows = on_exec!(self.on(), e => sqlx::query_as::<_, Row>(
            "SELECT start_t, end_t, state, cows_per_hour_rolling, milk_temp_c, alarms \
             FROM parlor_intervals WHERE parlor_id = $1 AND end_t >= $2 ORDER BY start_t DESC")
            .bind(parlor_id).bind(since).fetch_all(e).await?);
        let rows = if rows.is_empty() {
            on_exec!(self.on(), e => sqlx::query_as::<_, Row>(
                "SELECT start_t, end_t, state, cows_per_hour_rolling, milk_temp_c, alarms \
                 FROM parlor_intervals WHERE parlor_id = $1 ORDER BY start_t DESC LIMIT 1")
                .bind(parlor_id).fetch_all(e).await?)
        } else {
            rows
        };
        Ok(rows
            .into_iter()
            .map(
                |(start_t, end_t, state, cows_per_hour_rolling, milk_temp_c, alarms)| {
                    IntervalFact {
                        start_t,
                        end_t,
                        state,
                        cows_per_hour_rolling,
                        milk_temp_c,
                        alarms: serde_json::from_str(&alarms).unwrap_or_default(),
                    }
                },
            )
            .collect())
    }

    /// Every open (unresolved) alert, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn open_alerts(&self) -> Result<Vec<AlertRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, AlertRow>(
            "SELECT id, farm_id, rule_id, condition_key, parlor_id, opened_at, resolved_at, \
             acknowledged_at, acknowledged_by, detail FROM alerts WHERE resolved_at IS NULL ORDER BY id")
            .fetch_all(e).await?))
    }

    /// The alerts of a farm, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn alerts_of_farm(&self, farm_id: i64) -> Result<Vec<AlertRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, AlertRow>(
            "SELECT id, farm_id, rule_id, condition_key, parlor_id, opened_at, resolved_at, \
             acknowledged_at, acknowledged_by, detail FROM alerts WHERE farm_id = $1 ORDER BY id DESC")
            .bind(farm_id).fetch_all(e).await?))
    }

    /// Every delivery attempt of an alert of a farm, in the order they were made.
    ///
    /// # Errors
    /// The database failed.
    pub async fn alert_deliveries(
        &self,
        farm_id: i64,
        alert_id: i64,
    ) -> Result<Vec<DeliveryRow>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, DeliveryRow>(
            "SELECT alert_id, event, channel, target, attempt, status, error, at \
             FROM alert_deliveries WHERE farm_id = $1 AND alert_id = $2 ORDER BY id")
            .bind(farm_id).bind(alert_id).fetch_all(e).await?))
    }

    /// Stores one delivery attempt.
    ///
    /// # Errors
    /// The database failed.
    pub async fn record_delivery(&self, d: &NewDelivery<'_>) -> Result<(), StorageError> {
        on_exec!(self.on(), e => sqlx::query(
            "INSERT INTO alert_deliveries \
             (farm_id, alert_id, event, channel_id, channel, target, attempt, status, error, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(d.farm_id).bind(d.alert_id).bind(d.event).bind(d.channel_id).bind(d.channel)
            .bind(d.target)
            .bind(i64::from(d.attempt))
            .bind(if d.error.is_none() { "sent" } else { "failed" })
            .bind(d.error).bind(d.at).execute(e).await.map(|r| r.rows_affected())?);
        Ok(())
    }

    /// How many attempts are stored for one message: an alert's event on one channel (by its
    /// id: browsers on one push service share a kind and target, not a count), so a message
    /// taken up again continues its count. An old attempt no channel could be told for
    /// (migration 0024) counts for none.
    ///
    /// # Errors
    /// The database failed.
    pub async fn delivery_attempts(
        &self,
        farm_id: i64,
        alert_id: i64,
        event: &str,
        channel_id: i64,
    ) -> Result<u32, StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM alert_deliveries WHERE farm_id = $1 AND alert_id = $2 \
               AND event = $3 AND channel_id = $4")
            .bind(farm_id).bind(alert_id).bind(event).bind(channel_id)
            .fetch_one(e).await?);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Marks an open or resolved alert of a farm acknowledged by a user (the first one counts).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when the farm has no such alert.
    pub async fn acknowledge_alert(
        &self,
        farm_id: i64,
        alert_id: i64,
        user_id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let found = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, $3), \
             acknowledged_by = COALESCE(acknowledged_by, $4) \
             WHERE farm_id = $1 AND id = $2 RETURNING id")
            .bind(farm_id).bind(alert_id).bind(at).bind(user_id).fetch_optional(e).await?);
        found
            .map(|_| ())
            .ok_or(StorageError::NotFound { what: "alert" })
    }
}

impl Tx {
    /// Opens an alert for a condition unless one is already open for it; the new id, or `None`
    /// when it was open already (the partial unique index `alerts_one_open` decides).
    ///
    /// # Errors
    /// The database failed.
    pub async fn open_alert(
        &mut self,
        cond: &OpenCondition,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO alerts (farm_id, rule_id, condition_key, parlor_id, opened_at, detail) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (rule_id, condition_key) WHERE resolved_at IS NULL DO NOTHING \
             RETURNING id")
            .bind(cond.farm_id).bind(cond.rule_id).bind(&cond.condition_key)
            .bind(cond.parlor_id).bind(at).bind(&cond.detail).fetch_optional(e).await?))
    }

    /// Resolves an open alert; `false` when it was resolved already.
    ///
    /// # Errors
    /// The database failed.
    pub async fn resolve_alert(
        &mut self,
        alert_id: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let n = on_exec!(self.on(), e => sqlx::query(
            "UPDATE alerts SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL")
            .bind(alert_id).bind(at).execute(e).await?.rows_affected());
        Ok(n == 1)
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
