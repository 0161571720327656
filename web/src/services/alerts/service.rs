//! The periodic service: gather facts, evaluate, open and resolve alerts (one transaction
//! each), and deliver one message per change to every channel of the farm.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use super::notice::{AlertConfig, Notice, kind_msg, message};
use super::rules::{self, Facts, FarmFacts, ParlorFacts, RuleKind};
use crate::storage::{AlertRow, Db, StorageError, Tx};

/// Gathers what the rules read, for the farms that have rules, at `now`.
async fn gather(db: &Db, rules: &[rules::Rule], now: DateTime<Utc>) -> Result<Facts, StorageError> {
    let longest = |pred: fn(RuleKind) -> bool| {
        rules
            .iter()
            .filter(|r| pred(r.kind))
            .map(|r| r.minutes)
            .max()
    };
    let interval_window = longest(|k| {
        rules::is_parlor_kind(k)
            && !matches!(k, RuleKind::HighConductivity | RuleKind::DayDataMissing)
    });
    let milking_window = longest(|k| k == RuleKind::HighConductivity);
    let flight_window = longest(RuleKind::is_event);
    let mut days: Vec<i64> = rules
        .iter()
        .filter(|r| r.kind == RuleKind::DayDataMissing)
        .map(|r| r.minutes)
        .collect();
    days.sort_unstable();
    days.dedup();
    let mut farms: Vec<i64> = rules.iter().map(|r| r.farm_id).collect();
    farms.sort_unstable();
    farms.dedup();
    let mut facts = Facts::default();
    for farm in farms {
        for p in db.parlors_of_farm(farm).await? {
            let mut f = ParlorFacts {
                parlor_id: p.id,
                farm_id: p.farm_id,
                name: p.name,
                ..ParlorFacts::default()
            };
            if let Some(w) = interval_window {
                // One interval more than the longest window, so a run that began just before
                // it is seen.
                let since = now - chrono::Duration::minutes(w + 1);
                f.recent = db.recent_interval_facts(p.id, since).await?;
            }
            if let Some(w) = milking_window {
                // The cow's history reaches back further than the window she is judged in.
                let since = now - chrono::Duration::minutes(w) - MILKING_HISTORY;
                f.milkings = db.recent_milking_facts(p.id, since).await?;
            }
            for grace in &days {
                let (start, end) = rules::judged_day(now, *grace);
                let (first, n) = db.parlor_day_fact(p.id, start, end).await?;
                f.first_seen = first;
                f.day_intervals.insert(start, n);
            }
            facts.parlors.push(f);
        }
        let kinds: Vec<RuleKind> = rules
            .iter()
            .filter(|r| r.farm_id == farm)
            .map(|r| r.kind)
            .collect();
        let mut f = FarmFacts {
            farm_id: farm,
            ..FarmFacts::default()
        };
        if kinds.contains(&RuleKind::BridgeOffline) {
            f.bridges = db.bridge_facts(farm).await?;
        }
        if let Some(w) = flight_window {
            f.flights = db
                .flight_event_facts(farm, now - chrono::Duration::minutes(w))
                .await?;
        }
        if kinds.contains(&RuleKind::RecordUnsigned) {
            f.unsigned = db.unsigned_record_facts(farm).await?;
        }
        facts.farms.push(f);
    }
    Ok(facts)
}

/// How far back a cow's earlier milkings are read for her level (beyond the rule's window).
const MILKING_HISTORY: chrono::Duration = chrono::Duration::days(14);

/// Evaluates every enabled rule at `now` and stores the changes; returns what to announce.
///
/// Each opened and each resolved alert is its own transaction, with its queued messages. A condition already open is
/// left alone (the partial unique index makes a racing second server open nothing either).
///
/// # Errors
/// The database failed; changes committed before the failure stay.
pub async fn evaluate_once(db: &Db, now: DateTime<Utc>) -> Result<Vec<Notice>, StorageError> {
    let rules = db.enabled_alert_rules().await?;
    let facts = gather(db, &rules, now).await?;
    let eval = rules::evaluate(&rules, &facts, now);
    let names: HashMap<i64, &str> = facts
        .parlors
        .iter()
        .map(|f| (f.parlor_id, f.name.as_str()))
        .collect();
    let rules_by_id: HashMap<i64, &rules::Rule> = rules.iter().map(|r| (r.id, r)).collect();
    let stored: BTreeMap<(i64, String), _> = db
        .open_alerts()
        .await?
        .into_iter()
        .map(|a| ((a.rule_id, a.condition_key.clone()), a))
        .collect();

    let mut notices = Vec::new();
    for (key, cond) in &eval.open {
        if stored.contains_key(key) {
            continue;
        }
        // The alert and its messages commit together: a crash right after the commit still
        // leaves the messages to send.
        let mut tx = db.begin().await?;
        let Some(alert_id) = tx.open_alert(cond, now).await? else {
            tx.commit().await?;
            continue;
        };
        tx.checkpoint("alerts.after_open").await?;
        let n = Notice {
            event: "opened".into(),
            alert_id,
            farm_id: cond.farm_id,
            parlor_id: cond.parlor_id,
            condition_key: cond.condition_key.clone(),
            subject: cond.subject.clone(),
            detail: cond.detail.clone(),
            kind: cond.kind,
            minutes: (now - cond.since).num_minutes(),
            critical: cond.critical,
        };
        enqueue(&mut tx, &n, now).await?;
        tx.commit().await?;
        notices.push(n);
    }
    for (key, alert) in &stored {
        if eval.open.contains_key(key) {
            continue;
        }
        let mut tx = db.begin().await?;
        let resolved = tx.resolve_alert(alert.id, now).await?;
        // Resolved quietly: a rule disabled since (nobody asked to hear about it any more), a
        // past event whose window passed, or a raised reading that expired.
        let announce = rules_by_id
            .get(&alert.rule_id)
            .filter(|r| resolved && !r.kind.is_event() && !eval.expired.contains(key));
        let Some(rule) = announce else {
            tx.commit().await?;
            continue;
        };
        let n = Notice {
            event: "resolved".into(),
            alert_id: alert.id,
            farm_id: alert.farm_id,
            parlor_id: alert.parlor_id,
            condition_key: alert.condition_key.clone(),
            subject: resolved_subject(alert, &names, &facts),
            detail: alert.detail.clone(),
            kind: rule.kind,
            minutes: (now - alert.opened_at).num_minutes(),
            critical: rule.critical,
        };
        enqueue(&mut tx, &n, now).await?;
        tx.commit().await?;
        notices.push(n);
    }
    Ok(notices)
}

/// Queues a notice for every enabled channel of its farm, in the alert change's transaction.
async fn enqueue(tx: &mut Tx, n: &Notice, now: DateTime<Utc>) -> Result<(), StorageError> {
    let json = serde_json::to_string(n).unwrap_or_default();
    tx.enqueue_alert_message(n.farm_id, n.alert_id, &n.event, &json, now)
        .await?;
    Ok(())
}

/// The name of what a resolved alert was about, from the facts gathered now.
fn resolved_subject(alert: &AlertRow, names: &HashMap<i64, &str>, facts: &Facts) -> String {
    if let Some(p) = alert.parlor_id {
        return names.get(&p).copied().unwrap_or("").to_owned();
    }
    let id: i64 = alert
        .condition_key
        .rsplit(':')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let farm = facts.farms.iter().find(|f| f.farm_id == alert.farm_id);
    if alert.condition_key.starts_with("bridge:")
        && let Some(b) = farm.and_then(|f| f.bridges.iter().find(|b| b.token_id == id))
    {
        return b.name.clone();
    }
    format!("#{id}")
}

/// Evaluates the farm rules and the staff rule once, then sends what both outboxes hold due (this evaluation's messages and any
/// left by a crash or held until now); returns the number of new notices.
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
    let staff = super::staff::evaluate(db, now).await?;
    super::outbox::drain(db, cfg, client, now).await?;
    let staff_outbox = super::outbox::StaffOutbox::new(db);
    super::outbox::drain_outbox(&staff_outbox, cfg, client, now).await?;
    Ok(notices.len() + staff.len())
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
