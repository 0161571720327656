//! A farm's alert rules and channels as people edit them: validation (errors in the user's
//! language), one change per transaction, and the TOML file of `agriops alerts
//! import/export`.
//!
//! ```toml
//! [[rule]]
//! kind = "parlor_stopped"    # see ARCHITECTURE.md for every kind and its fields
//! minutes = 5
//! parlor = "第1パーラー"      # optional: one parlor by name, else every parlor
//! critical = true            # optional: passes quiet hours
//!
//! [[channel]]
//! kind = "email"             # or "webhook" (with secret = "…", 16+ characters)
//! target = "op@example.jp"
//! quiet = "22:00-06:00"      # optional, Asia/Tokyo
//! escalate_after_min = 10    # optional: a second line
//! ```

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::i18n::{Lang, Msg};
use crate::storage::{Db, NewChannel, NewRule, RuleKind, StorageError};
use crate::validate::{Lines, MAX_LINE, check_text};

/// A rule as the form or the file gives it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// The kind's stored name.
    pub kind: String,
    /// One parlor by name; empty or absent: every parlor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parlor: Option<String>,
    /// The window.
    pub minutes: i64,
    /// Upper bound or factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_low: Option<f64>,
    /// Passes quiet hours.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub critical: bool,
}

/// A channel as the form or the file gives it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    /// `email` or `webhook`.
    pub kind: String,
    /// The address or URL.
    pub target: String,
    /// The webhook's signing secret (never exported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Quiet hours as `HH:MM-HH:MM`, Asia/Tokyo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<String>,
    /// Escalation delay in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after_min: Option<i64>,
}

/// The TOML file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    /// The rules.
    #[serde(default)]
    pub rule: Vec<RuleInput>,
    /// The channels.
    #[serde(default)]
    pub channel: Vec<ChannelInput>,
}

fn bad(lang: Lang, label: Msg, why: Msg) -> AppError {
    AppError::BadInput(format!("{}: {}", label.text(lang), why.text(lang)))
}

/// `HH:MM` as minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && m.to_string().len() <= 2).then_some(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn fmt_hhmm(m: i64) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Checks a rule against the farm's parlors (`(id, name)`).
///
/// # Errors
/// [`AppError::BadInput`] naming the field, in `lang`.
pub fn validate_rule(
    lang: Lang,
    r: &RuleInput,
    parlors: &[(i64, String)],
) -> Result<NewRule, AppError> {
    let kind = RuleKind::parse(r.kind.trim())
        .ok_or_else(|| bad(lang, Msg::AlertKindLabel, Msg::AlertBadKind))?;
    if !(1..=43_200).contains(&r.minutes) {
        return Err(bad(lang, Msg::AlertMinutesLabel, Msg::AlertBadNumber));
    }
    let num = |v: Option<f64>, label| match v {
        Some(x) if !(x.is_finite() && x > 0.0 && x < 1e6) => {
            Err(bad(lang, label, Msg::AlertBadNumber))
        }
        _ => Ok(v),
    };
    let threshold = num(r.threshold, Msg::AlertThresholdLabel)?;
    let threshold_low = num(r.threshold_low, Msg::AlertThresholdLowLabel)?;
    match kind {
        RuleKind::LowThroughput if threshold.is_none() => {
            return Err(bad(lang, Msg::AlertThresholdLabel, Msg::AlertNeedThreshold));
        }
        RuleKind::MilkTemperature if threshold.is_none() && threshold_low.is_none() => {
            return Err(bad(lang, Msg::AlertThresholdLabel, Msg::AlertNeedThreshold));
        }
        RuleKind::HighConductivity if threshold.is_some_and(|f| f <= 1.0) => {
            return Err(bad(lang, Msg::AlertThresholdLabel, Msg::AlertBadNumber));
        }
        _ => {}
    }
    if let (Some(lo), Some(hi)) = (threshold_low, threshold)
        && lo >= hi
    {
        return Err(bad(lang, Msg::AlertThresholdLowLabel, Msg::AlertBadNumber));
    }
    let name = r.parlor.as_deref().map(str::trim).unwrap_or("");
    check_text(
        lang,
        Msg::AlertParlorLabel.text(lang),
        name,
        MAX_LINE,
        Lines::One,
    )?;
    let parlor_id = if name.is_empty() {
        None
    } else {
        let found = parlors
            .iter()
            .find(|(id, n)| n == name || id.to_string() == name);
        Some(
            found
                .ok_or_else(|| bad(lang, Msg::AlertParlorLabel, Msg::AlertBadParlor))?
                .0,
        )
    };
    Ok(NewRule {
        kind,
        parlor_id,
        minutes: r.minutes,
        threshold,
        threshold_low,
        critical: r.critical,
        enabled: true,
    })
}

/// A channel that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidChannel {
    /// `email` or `webhook`.
    pub kind: &'static str,
    /// The address or URL.
    pub target: String,
    /// The webhook's secret.
    pub secret: Option<String>,
    /// Quiet hours.
    pub quiet: Option<(i64, i64)>,
    /// Escalation delay.
    pub escalate_after_min: Option<i64>,
}

/// Checks a channel.
///
/// # Errors
/// [`AppError::BadInput`] naming the field, in `lang`.
pub fn validate_channel(lang: Lang, c: &ChannelInput) -> Result<ValidChannel, AppError> {
    let target = c.target.trim();
    check_text(
        lang,
        Msg::AlertTargetLabel.text(lang),
        target,
        2_000,
        Lines::One,
    )?;
    let kind = match c.kind.trim() {
        "email" => "email",
        "webhook" => "webhook",
        _ => return Err(bad(lang, Msg::AlertKindLabel, Msg::AlertBadKind)),
    };
    let ok_target = match kind {
        "email" => target.len() <= 254 && target.parse::<lettre::Address>().is_ok(),
        _ => reqwest::Url::parse(target)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()),
    };
    if !ok_target {
        return Err(bad(lang, Msg::AlertTargetLabel, Msg::AlertBadTarget));
    }
    let secret = c.secret.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = secret {
        check_text(
            lang,
            Msg::AlertSecretLabel.text(lang),
            s,
            MAX_LINE,
            Lines::One,
        )?;
    }
    if kind == "webhook" && secret.is_none_or(|s| s.chars().count() < 16) {
        return Err(bad(lang, Msg::AlertSecretLabel, Msg::AlertNeedSecret));
    }
    let (quiet, escalate_after_min) =
        validate_timing(lang, c.quiet.as_deref(), c.escalate_after_min)?;
    Ok(ValidChannel {
        kind,
        target: target.to_owned(),
        secret: secret.map(str::to_owned),
        quiet,
        escalate_after_min,
    })
}

/// A channel's checked quiet hours (from, to: Asia/Tokyo minutes) and escalation delay.
pub type Timing = (Option<(i64, i64)>, Option<i64>);

/// Checks a channel's quiet hours (`HH:MM-HH:MM`, Asia/Tokyo; empty or `None` for none) and
/// escalation delay (1–10080 minutes): the farm channels' rules, which staff channels share.
///
/// # Errors
/// [`AppError::BadInput`] naming the field in `lang`.
pub fn validate_timing(
    lang: Lang,
    quiet: Option<&str>,
    escalate_after_min: Option<i64>,
) -> Result<Timing, AppError> {
    let quiet = match quiet.map(str::trim).filter(|q| !q.is_empty()) {
        None => None,
        Some(q) => {
            let parsed = q
                .split_once('-')
                .and_then(|(a, b)| Some((parse_hhmm(a)?, parse_hhmm(b)?)));
            Some(parsed.ok_or_else(|| bad(lang, Msg::AlertQuietFromLabel, Msg::AlertBadTime))?)
        }
    };
    if escalate_after_min.is_some_and(|m| !(1..=10_080).contains(&m)) {
        return Err(bad(lang, Msg::AlertEscalateLabel, Msg::AlertBadNumber));
    }
    Ok((quiet, escalate_after_min))
}

/// The farm's parlors as `(id, name)`.
async fn parlors(db: &Db, farm_id: i64) -> Result<Vec<(i64, String)>, StorageError> {
    Ok(db
        .parlors_of_farm(farm_id)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

/// Validates and adds one rule, in its own transaction.
///
/// # Errors
/// Bad input in `lang`, or the database failed.
pub async fn add_rule(db: &Db, lang: Lang, farm_id: i64, r: &RuleInput) -> Result<i64, AppError> {
    let rule = validate_rule(lang, r, &parlors(db, farm_id).await?)?;
    let mut tx = db.begin().await?;
    let id = tx.insert_alert_rule(farm_id, &rule).await?;
    tx.commit().await?;
    Ok(id)
}

/// Validates and adds one channel, in its own transaction.
///
/// # Errors
/// Bad input in `lang`, or the database failed.
pub async fn add_channel(
    db: &Db,
    lang: Lang,
    farm_id: i64,
    c: &ChannelInput,
) -> Result<i64, AppError> {
    let v = validate_channel(lang, c)?;
    let mut tx = db.begin().await?;
    let id = tx
        .insert_alert_channel(farm_id, &new_channel(&v), true)
        .await?;
    tx.commit().await?;
    Ok(id)
}

fn new_channel(v: &ValidChannel) -> NewChannel<'_> {
    NewChannel {
        kind: v.kind,
        target: &v.target,
        secret: v.secret.as_deref(),
        quiet: v.quiet,
        escalate_after_min: v.escalate_after_min,
    }
}

/// Enables or disables a rule or channel of the farm, in its own transaction.
///
/// # Errors
/// Not the farm's, or the database failed.
pub async fn set_enabled(
    db: &Db,
    channel: bool,
    farm_id: i64,
    id: i64,
    enabled: bool,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.set_alert_setting_enabled(channel, farm_id, id, enabled)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The farm's enabled rules and channels as TOML (webhook secrets left out).
///
/// # Errors
/// The database failed.
pub async fn export(db: &Db, farm_id: i64) -> Result<String, AppError> {
    let names = parlors(db, farm_id).await?;
    let mut file = AlertsFile::default();
    for r in db
        .alert_rule_rows(farm_id)
        .await?
        .into_iter()
        .filter(|r| r.enabled)
    {
        file.rule.push(RuleInput {
            kind: r.kind,
            parlor: r.parlor_id.and_then(|p| {
                names
                    .iter()
                    .find(|(id, _)| *id == p)
                    .map(|(_, n)| n.clone())
            }),
            minutes: r.minutes,
            threshold: r.threshold,
            threshold_low: r.threshold_low,
            critical: r.severity == "critical",
        });
    }
    for c in db
        .alert_channel_rows(farm_id)
        .await?
        .into_iter()
        // A browser's push subscription belongs to that browser, not to the file.
        .filter(|c| c.enabled && c.kind != crate::storage::WEBPUSH)
    {
        file.channel.push(ChannelInput {
            kind: c.kind,
            target: c.target,
            secret: None,
            quiet: c
                .quiet_from
                .zip(c.quiet_to)
                .map(|(a, b)| format!("{}-{}", fmt_hhmm(a), fmt_hhmm(b))),
            escalate_after_min: c.escalate_after_min,
        });
    }
    toml::to_string(&file).map_err(|e| AppError::BadInput(e.to_string()))
}

/// Replaces the farm's rules and channels by the file's, all in one transaction: the old ones
/// are disabled (kept for the alerts that name them), the file's added. Returns the numbers
/// of rules and channels added.
///
/// # Errors
/// A malformed file or a bad entry (named, in `lang`): nothing changes then.
pub async fn import(
    db: &Db,
    lang: Lang,
    farm_id: i64,
    text: &str,
) -> Result<(usize, usize), AppError> {
    let file: AlertsFile = toml::from_str(text).map_err(|e| AppError::BadInput(e.to_string()))?;
    let names = parlors(db, farm_id).await?;
    let rules = file
        .rule
        .iter()
        .enumerate()
        .map(|(i, r)| validate_rule(lang, r, &names).map_err(|e| at("rule", i, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let channels = file
        .channel
        .iter()
        .enumerate()
        .map(|(i, c)| validate_channel(lang, c).map_err(|e| at("channel", i, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tx = db.begin().await?;
    tx.disable_alert_settings(farm_id).await?;
    for r in &rules {
        tx.insert_alert_rule(farm_id, r).await?;
    }
    for c in &channels {
        tx.insert_alert_channel(farm_id, &new_channel(c), true)
            .await?;
    }
    tx.commit().await?;
    Ok((rules.len(), channels.len()))
}

/// An entry's error prefixed with where it is in the file.
fn at(table: &str, i: usize, e: AppError) -> AppError {
    match e {
        AppError::BadInput(m) => AppError::BadInput(format!("[[{table}]] #{}: {m}", i + 1)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;

    fn msg(e: AppError) -> String {
        match e {
            AppError::BadInput(m) => m,
            other => panic!("{other:?}"),
        }
    }

    fn rule(kind: &str, minutes: i64) -> RuleInput {
        RuleInput {
            kind: kind.into(),
            minutes,
            ..RuleInput::default()
        }
    }

    #[test]
    fn rules_are_refused_with_the_field_named_in_the_users_language() {
        let parlors = [(7, "第1パーラー".to_owned())];
        let e = |l, r: RuleInput| msg(validate_rule(l, &r, &parlors).unwrap_err());
        assert_eq!(
            e(Lang::Ja, rule("nonsense", 5)),
            "種類: 種類が正しくありません"
        );
        assert_eq!(
            e(Lang::En, rule("nonsense", 5)),
            "Kind: is not a known kind"
        );
        assert!(e(Lang::Ja, rule("parlor_stopped", 0)).starts_with("分:"));
        assert!(e(Lang::En, rule("low_throughput", 5)).contains("needs its threshold"));
        let mut r = rule("milk_temperature", 5);
        r.threshold_low = Some(40.0);
        r.threshold = Some(38.0);
        assert!(e(Lang::En, r).starts_with("Lower bound"));
        let mut r = rule("high_conductivity", 720);
        r.threshold = Some(0.9);
        assert!(e(Lang::En, r).contains("not a number in range"));
        let mut r = rule("parlor_stopped", 5);
        r.threshold = Some(f64::NAN);
        assert!(e(Lang::En, r).starts_with("Threshold"));
        let mut r = rule("parlor_stopped", 5);
        r.parlor = Some("他の牧場".into());
        assert!(e(Lang::Ja, r).contains("この牧場のパーラーではありません"));
        let mut r = rule("parlor_stopped", 5);
        r.parlor = Some("a\0b".into());
        assert!(validate_rule(Lang::En, &r, &parlors).is_err());
        let mut r = rule("parlor_stopped", 5);
        r.parlor = Some("第1パーラー".into());
        assert_eq!(
            validate_rule(Lang::En, &r, &parlors).unwrap().parlor_id,
            Some(7)
        );
    }

    #[test]
    fn channels_need_a_real_address_a_secret_for_webhooks_and_times_as_hhmm() {
        let ch = |kind: &str, target: &str| ChannelInput {
            kind: kind.into(),
            target: target.into(),
            ..ChannelInput::default()
        };
        let e = |c: ChannelInput| msg(validate_channel(Lang::En, &c).unwrap_err());
        assert!(e(ch("email", "not an address")).contains("e-mail address"));
        assert!(e(ch("webhook", "ftp://x")).contains("http(s)"));
        assert!(e(ch("webhook", "https://hook.example.jp/x")).contains("16 characters"));
        assert!(e(ch("sms", "x")).contains("known kind"));
        let mut c = ch("email", "op@nasu.example.jp");
        c.quiet = Some("25:00-06:00".into());
        assert!(e(c.clone()).contains("HH:MM"));
        c.quiet = Some("22:00-06:30".into());
        assert_eq!(
            validate_channel(Lang::En, &c).unwrap().quiet,
            Some((1320, 390))
        );
        c.escalate_after_min = Some(0);
        assert!(e(c).starts_with("Notify if unacknowledged"));
        assert!(validate_channel(Lang::En, &ch("email", "op\0@x.jp")).is_err());
        assert_eq!(parse_hhmm("7:05"), Some(425));
        assert_eq!(parse_hhmm("07:5x"), None);
        assert_eq!(fmt_hhmm(425), "07:05");
    }

    both_backends!(
        import_replaces_in_one_transaction_and_export_reads_back,
        |db| {
            let d = db.districts().await.unwrap();
            let farm = db.create_farm(d[0].id, "f", "dairy", "").await.unwrap().id;
            let other = db.create_farm(d[0].id, "g", "dairy", "").await.unwrap().id;
            let old = db
                .create_alert_rule(farm, RuleKind::ParlorOffline, None, 9, None)
                .await
                .unwrap();
            let text = r#"
            [[rule]]
            kind = "parlor_stopped"
            minutes = 5
            critical = true

            [[rule]]
            kind = "milk_temperature"
            minutes = 10
            threshold_low = 30.0
            threshold = 38.5

            [[channel]]
            kind = "email"
            target = "op@nasu.example.jp"
            quiet = "22:00-06:00"

            [[channel]]
            kind = "webhook"
            target = "https://line-bridge.example.jp/hook"
            secret = "0123456789abcdef-farm"
            escalate_after_min = 15
        "#;
            assert_eq!(import(db, Lang::En, farm, text).await.unwrap(), (2, 2));
            let rules = db.enabled_alert_rules().await.unwrap();
            assert_eq!(rules.len(), 2, "the old rule is disabled");
            assert!(rules.iter().all(|r| r.farm_id == farm && r.id != old));
            assert!(
                rules
                    .iter()
                    .any(|r| r.kind == RuleKind::ParlorStopped && r.critical)
            );
            let exported = export(db, farm).await.unwrap();
            let back: AlertsFile = toml::from_str(&exported).unwrap();
            let original: AlertsFile = toml::from_str(text).unwrap();
            assert_eq!(back.rule, original.rule);
            assert_eq!(back.channel[0], original.channel[0]);
            assert_eq!(back.channel[1].secret, None, "secrets are not exported");
            let none: AlertsFile = toml::from_str(&export(db, other).await.unwrap()).unwrap();
            assert_eq!(none, AlertsFile::default());
            // A bad entry anywhere: refused with its place, and nothing changes.
            let bad = format!("{text}\n[[rule]]\nkind = \"parlor_stopped\"\nminutes = 0\n");
            let e = msg(import(db, Lang::En, farm, &bad).await.unwrap_err());
            assert!(e.starts_with("[[rule]] #3: Minutes"), "{e}");
            let e = msg(import(db, Lang::En, farm, "[[rule]]\nkind = 1")
                .await
                .unwrap_err());
            assert!(!e.is_empty());
            let e = msg(import(db, Lang::En, farm, "[[rules]]\n").await.unwrap_err());
            assert!(e.contains("unknown field"), "{e}");
            assert_eq!(db.enabled_alert_rules().await.unwrap().len(), 2);
            assert_eq!(db.alert_channels(farm).await.unwrap().len(), 2);
        }
    );
}
