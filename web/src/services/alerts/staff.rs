//! The staff alert: a district's data missing for an Asia/Tokyo day, for city staff only.
//!
//! **The condition.** A farm *reported* on a day when [`Missing::judge`] (the staff home's
//! definition) finds nothing missing in what arrived from it that day: with parlors, at least
//! one parlor interval ended that day; without, at least one flight or spray record version
//! was stored. A farm *normally reports* on day D when it reported on at least
//! [`NORMAL_DAYS`] of the [`HISTORY_DAYS`] days before D. District X is *missing* day D
//! when a farm of X that normally reports on D did not report on D. Day D is judged once the
//! rule's hour of day D + 1 has passed (Asia/Tokyo), on the alert service's own loop. Every
//! day since the newest one judged is judged (at most [`CATCH_UP_DAYS`] back), each in one
//! transaction with the record that it was, so a day the server was down over is not skipped.
//!
//! One alert per (district, day), ever (`UNIQUE (district_id, day)`); it clears, with one
//! "cleared" message, when every such farm's data for the day has arrived late. An alert of a
//! district the rule no longer watches (or of a rule switched off) clears quietly.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::ack_link::{self, Scope};
use super::settings::{self, ChannelInput};
use super::webpush::{self, SubscriptionInput};
use crate::error::AppError;
use crate::i18n::staff_alerts::StaffAlertMsg;
use crate::i18n::{JST, Lang, Msg};
use crate::services::today::Missing;
use crate::storage::{
    Db, FarmActivity, NewChannel, NewPushSubscription, PushWhich, StaffAlertRow, StaffRule,
    StorageError,
};

/// The days before a judged day that say whether a farm normally reports.
pub const HISTORY_DAYS: i64 = 7;
/// Of those, on how many it must have reported.
pub const NORMAL_DAYS: usize = 4;
/// How many days back the judge catches up after a pause (the server down, the loop late).
pub const CATCH_UP_DAYS: i64 = 14;

/// The page the messages link to.
pub const PAGE: &str = "/staff/alerts";

/// Whether a farm reported in a window (the staff home's [`Missing`] finds nothing missing).
pub fn reported(a: &FarmActivity) -> bool {
    Missing::judge(1, a.parlors, a.flights + a.records, a.parlor_reports) == Missing::Nothing
}

/// The newest day judged at `now` when days count as missing from `after_hour` of the next day.
pub fn judged_day(now: DateTime<Utc>, after_hour: i64) -> NaiveDate {
    let local = now.with_timezone(&JST) - Duration::hours(after_hour);
    local.date_naive() - Duration::days(1)
}

/// `[start, end)` of an Asia/Tokyo day as UTC instants.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = JST
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .single()
        .map_or_else(Utc::now, |d| d.with_timezone(&Utc));
    (start, start + Duration::days(1))
}

/// The farms of `district` that normally report on `day` and did not: their names.
/// `by_day` holds every farm's activity for `day` and the [`HISTORY_DAYS`] days before it.
pub fn silent_farms(
    by_day: &BTreeMap<NaiveDate, Vec<FarmActivity>>,
    day: NaiveDate,
    district: i64,
) -> Vec<String> {
    let Some(today) = by_day.get(&day) else {
        return Vec::new();
    };
    let reported_on = |farm: i64, d: NaiveDate| {
        by_day
            .get(&d)
            .and_then(|rows| rows.iter().find(|a| a.farm_id == farm))
            .is_some_and(reported)
    };
    today
        .iter()
        .filter(|a| a.district_id == district && !reported(a))
        .filter(|a| {
            let days = (1..=HISTORY_DAYS)
                .filter(|k| reported_on(a.farm_id, day - Duration::days(*k)))
                .count();
            days >= NORMAL_DAYS
        })
        .map(|a| a.name.clone())
        .collect()
}

/// One staff alert change to announce; queued in the staff outbox as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffNotice {
    /// `opened` or `resolved`.
    pub event: String,
    /// The alert.
    pub alert_id: i64,
    /// The district.
    pub district_id: i64,
    /// Its Japanese name.
    pub district_ja: String,
    /// Its English name.
    pub district_en: String,
    /// The Asia/Tokyo day, `YYYY-MM-DD`.
    pub day: String,
    /// The silent farms' names.
    pub detail: String,
}

/// The message of a notice, Japanese first: (subject, text with the page's link and, for an
/// opening, the signed acknowledge link).
pub fn message(n: &StaffNotice, public_url: &str, ack_url: Option<&str>) -> (String, String) {
    let (ja, en) = (Lang::Ja, Lang::En);
    let first = if n.event == "resolved" {
        format!(
            "【{}】{} {} {} / {}: {} {}",
            Msg::AlertResolved.text(ja),
            n.district_ja,
            n.day,
            StaffAlertMsg::Arrived.text(ja),
            StaffAlertMsg::Arrived.text(en),
            n.district_en,
            n.day
        )
    } else {
        format!(
            "【{}】{} {} / {}: {} {}",
            StaffAlertMsg::Missing.text(ja),
            n.district_ja,
            n.day,
            StaffAlertMsg::Missing.text(en),
            n.district_en,
            n.day
        )
    };
    let mut text = first.clone();
    if !n.detail.is_empty() {
        text.push_str(&format!(
            "\n{} / {}: {}",
            StaffAlertMsg::SilentFarms.text(ja),
            StaffAlertMsg::SilentFarms.text(en),
            n.detail
        ));
    }
    text.push_str(&format!("\n{}{PAGE}", public_url.trim_end_matches('/')));
    if let Some(ack) = ack_url {
        let (aja, aen) = (Msg::AlertAck.text(ja), Msg::AlertAck.text(en));
        text.push_str(&format!("\n{aja} / {aen}: {ack}"));
    }
    (first, text)
}

/// Every farm's activity for `day`, read once per evaluation.
async fn activity(
    db: &Db,
    cache: &mut BTreeMap<NaiveDate, Vec<FarmActivity>>,
    day: NaiveDate,
) -> Result<(), StorageError> {
    for k in 0..=HISTORY_DAYS {
        let d = day - Duration::days(k);
        if let std::collections::btree_map::Entry::Vacant(e) = cache.entry(d) {
            let (start, end) = day_bounds(d);
            e.insert(db.farm_activity(start, end).await?);
        }
    }
    Ok(())
}

/// The days to judge, oldest first, when `newest` is the newest day due ([`judged_day`]):
/// every day after `judged_through` up to `newest`, at most [`CATCH_UP_DAYS`] of them, and
/// `newest` always (judging it again opens nothing twice); only `newest` before the first
/// judgment.
pub fn days_to_judge(newest: NaiveDate, judged_through: Option<NaiveDate>) -> Vec<NaiveDate> {
    let oldest = newest - Duration::days(CATCH_UP_DAYS - 1);
    let first = judged_through.map_or(newest, |d| (d + Duration::days(1)).clamp(oldest, newest));
    first.iter_days().take_while(|d| *d <= newest).collect()
}

/// Evaluates the staff rule at `now`: judges every day not judged yet (see
/// [`days_to_judge`]), opening the day's alert of every watched district that is missing it,
/// each day with its queued messages and its record of being judged one transaction; then
/// clears the open alerts whose data arrived, each clearing one transaction. Returns what
/// was announced.
///
/// # Errors
/// The database failed; changes committed before the failure stay.
pub async fn evaluate(db: &Db, now: DateTime<Utc>) -> Result<Vec<StaffNotice>, StorageError> {
    let rule = db.staff_alert_rule().await?;
    let open = db.open_staff_alerts().await?;
    if !rule.enabled && open.is_empty() {
        return Ok(Vec::new());
    }
    let names: BTreeMap<i64, (String, String)> = db
        .districts()
        .await?
        .into_iter()
        .map(|d| (d.id, (d.name_ja, d.name_en)))
        .collect();
    let notice = |event: &str, alert_id: i64, district_id: i64, day: &str, detail: &str| {
        let (ja, en) = names.get(&district_id).cloned().unwrap_or_default();
        StaffNotice {
            event: event.into(),
            alert_id,
            district_id,
            district_ja: ja,
            district_en: en,
            day: day.into(),
            detail: detail.into(),
        }
    };
    let mut cache = BTreeMap::new();
    let mut notices = Vec::new();
    if rule.enabled {
        let newest = judged_day(now, rule.after_hour);
        let judged_through = db
            .staff_judged_through()
            .await?
            .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
        for day in days_to_judge(newest, judged_through) {
            activity(db, &mut cache, day).await?;
            let key = day.format("%Y-%m-%d").to_string();
            let silent: Vec<(i64, String)> = rule
                .districts
                .iter()
                .map(|&d| (d, silent_farms(&cache, day, d)))
                .filter(|(_, farms)| !farms.is_empty())
                .map(|(d, farms)| (d, farms.join("、")))
                .collect();
            let judged = judged_through.is_some_and(|d| d >= day);
            if silent.is_empty() && judged {
                continue;
            }
            let mut tx = db.begin().await?;
            let mut opened = Vec::new();
            for (district, detail) in silent {
                let Some(id) = tx.open_staff_alert(district, &key, &detail, now).await? else {
                    continue;
                };
                let n = notice("opened", id, district, &key, &detail);
                let json = serde_json::to_string(&n).unwrap_or_default();
                tx.enqueue_staff_message(id, "opened", &json, now).await?;
                opened.push(n);
            }
            tx.mark_staff_day_judged(&key).await?;
            tx.commit().await?;
            notices.extend(opened);
        }
    }
    for a in open {
        let watched = rule.enabled && rule.districts.contains(&a.district_id);
        let day = NaiveDate::parse_from_str(&a.day, "%Y-%m-%d").ok();
        if watched && let Some(day) = day {
            activity(db, &mut cache, day).await?;
            if !silent_farms(&cache, day, a.district_id).is_empty() {
                continue;
            }
        }
        let mut tx = db.begin().await?;
        let resolved = tx.resolve_staff_alert(a.id, now).await?;
        if resolved && watched {
            let n = notice("resolved", a.id, a.district_id, &a.day, &a.detail);
            let json = serde_json::to_string(&n).unwrap_or_default();
            tx.enqueue_staff_message(a.id, "resolved", &json, now)
                .await?;
            notices.push(n);
        }
        tx.commit().await?;
    }
    Ok(notices)
}

/// The rule as the staff page's form sends it, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaffRuleInput {
    /// The on/off box.
    pub enabled: bool,
    /// The hour field as typed.
    pub after_hour: String,
    /// The district boxes ticked, as sent.
    pub districts: Vec<String>,
}

/// Validates and stores the staff rule (one transaction).
///
/// # Errors
/// [`AppError::BadInput`] naming the field in `lang`, or the database failed.
pub async fn save_rule(
    db: &Db,
    lang: Lang,
    input: &StaffRuleInput,
    user_id: i64,
) -> Result<StaffRule, AppError> {
    let bad = |label: StaffAlertMsg, why: StaffAlertMsg| {
        AppError::BadInput(format!("{}: {}", label.text(lang), why.text(lang)))
    };
    let after_hour = input
        .after_hour
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|h| (0..=23).contains(h))
        .ok_or_else(|| bad(StaffAlertMsg::AfterHour, StaffAlertMsg::BadHour))?;
    let known: Vec<i64> = db.districts().await?.into_iter().map(|d| d.id).collect();
    let mut districts = Vec::new();
    for d in &input.districts {
        let id = d
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| known.contains(id))
            .ok_or_else(|| bad(StaffAlertMsg::Districts, StaffAlertMsg::BadDistrict))?;
        if !districts.contains(&id) {
            districts.push(id);
        }
    }
    districts.sort_unstable();
    let rule = StaffRule {
        enabled: input.enabled,
        after_hour,
        districts,
    };
    let mut tx = db.begin().await?;
    tx.save_staff_alert_rule(&rule, user_id, Utc::now()).await?;
    tx.commit().await?;
    Ok(rule)
}

/// Validates (as a farm's channel: a real address, a webhook URL with its 16+ character
/// secret) and adds a staff channel without quiet hours or escalation, in one transaction.
///
/// # Errors
/// [`AppError::BadInput`] naming the field in `lang`, or the database failed.
pub async fn add_channel(
    db: &Db,
    lang: Lang,
    kind: &str,
    target: &str,
    secret: &str,
    user_id: i64,
) -> Result<i64, AppError> {
    let input = ChannelInput {
        kind: kind.to_owned(),
        target: target.to_owned(),
        secret: Some(secret.to_owned()),
        quiet: None,
        escalate_after_min: None,
    };
    add_channel_with(db, lang, &input, user_id).await
}

/// Validates (as a farm's channel, by [`settings::validate_channel`]: also quiet hours as
/// `HH:MM-HH:MM` and an escalation delay of 1–10080 minutes) and adds a staff channel, in
/// one transaction.
///
/// # Errors
/// [`AppError::BadInput`] naming the field in `lang`, or the database failed.
pub async fn add_channel_with(
    db: &Db,
    lang: Lang,
    input: &ChannelInput,
    user_id: i64,
) -> Result<i64, AppError> {
    let v = settings::validate_channel(lang, input)?;
    let c = NewChannel {
        kind: v.kind,
        target: &v.target,
        secret: v.secret.as_deref(),
        quiet: v.quiet,
        escalate_after_min: v.escalate_after_min,
    };
    let mut tx = db.begin().await?;
    let id = tx
        .insert_staff_alert_channel_with(&c, user_id, Utc::now())
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Validates (by the farm channels' [`settings::validate_timing`]) and sets a staff
/// channel's quiet hours (`HH:MM-HH:MM`, empty for none) and escalation delay (`None` for a
/// first line), in one transaction. Every kind of channel takes them, a browser's too.
///
/// # Errors
/// [`AppError::BadInput`] naming the field in `lang`; no such channel; the database failed.
pub async fn set_channel_timing(
    db: &Db,
    lang: Lang,
    id: i64,
    quiet: &str,
    escalate_after_min: Option<i64>,
) -> Result<(), AppError> {
    let (quiet, escalate) = settings::validate_timing(lang, Some(quiet), escalate_after_min)?;
    let mut tx = db.begin().await?;
    tx.set_staff_channel_timing(id, quiet, escalate).await?;
    tx.commit().await?;
    Ok(())
}

/// Switches a staff channel on or off, in one transaction.
///
/// # Errors
/// No such channel, or the database failed.
pub async fn set_channel_enabled(db: &Db, id: i64, enabled: bool) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.set_staff_channel_enabled(id, enabled).await?;
    tx.commit().await?;
    Ok(())
}

/// Acknowledges a staff alert for a staff member, in one transaction.
///
/// # Errors
/// No such alert, or the database failed.
pub async fn acknowledge(db: &Db, id: i64, user_id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.acknowledge_staff_alert(id, user_id, Utc::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// The staff alert a signed link's token acknowledges, if the token is a staff link's
/// (a farm alert's link never is), untampered and unexpired, and the alert exists.
///
/// # Errors
/// The database failed.
pub async fn linked_alert(
    db: &Db,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<StaffAlertRow>, StorageError> {
    let key = db.server_key(ack_link::KEY_NAME).await?;
    let Some(id) = ack_link::scoped_verify(&key, Scope::Staff, token, now) else {
        return Ok(None);
    };
    match db.staff_alert(id).await {
        Ok(a) => Ok(Some(a)),
        Err(StorageError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Acknowledges the staff alert a signed link names (no user: the link is the authority),
/// in one transaction; `None` when the token is no staff link of an existing alert, else
/// whether this acknowledged it (`false`: it was already).
///
/// # Errors
/// The database failed.
pub async fn acknowledge_by_link(
    db: &Db,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<bool>, StorageError> {
    let Some(a) = linked_alert(db, token, now).await? else {
        return Ok(None);
    };
    let mut tx = db.begin().await?;
    let done = tx.acknowledge_staff_alert_by_link(a.id, now).await?;
    tx.commit().await?;
    Ok(Some(done))
}

/// The subscription as stored: validated as a farm's is, labelled by its push service.
fn new_sub(v: &webpush::ValidSubscription) -> NewPushSubscription<'_> {
    NewPushSubscription {
        endpoint: &v.endpoint,
        p256dh: &v.p256dh,
        auth: &v.auth,
        label: &v.origin,
    }
}

/// Validates (as a farm's: `webpush::validate`) and stores a staff member's browser
/// subscription as a staff channel, in one transaction; returns the channel.
///
/// # Errors
/// Bad input in `lang`, or the database failed.
pub async fn subscribe(
    db: &Db,
    lang: Lang,
    user_id: i64,
    s: &SubscriptionInput,
) -> Result<i64, AppError> {
    let v = webpush::validate(lang, s)?;
    let mut tx = db.begin().await?;
    let ch = tx
        .upsert_staff_push_subscription(user_id, &new_sub(&v))
        .await?;
    tx.commit().await?;
    Ok(ch)
}

/// Replaces a staff member's ended subscription `old` by the browser's new one, in one
/// transaction; returns the channel, which stays the same.
///
/// # Errors
/// Bad input in `lang`; not this user's subscription; the database failed.
pub async fn replace_subscription(
    db: &Db,
    lang: Lang,
    user_id: i64,
    old: &str,
    s: &SubscriptionInput,
) -> Result<i64, AppError> {
    let v = webpush::validate(lang, s)?;
    let mut tx = db.begin().await?;
    let ch = tx
        .replace_staff_push_subscription(user_id, old.trim(), &new_sub(&v))
        .await?;
    tx.commit().await?;
    Ok(ch)
}

/// Removes a staff subscription (the browser's unsubscribe or the page's button), in one
/// transaction.
///
/// # Errors
/// No such subscription, or the database failed.
pub async fn unsubscribe(db: &Db, which: PushWhich<'_>) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.remove_staff_push_subscription(which).await?;
    tx.commit().await?;
    Ok(())
}
