//! What an alert change says: the notice queued in the outbox, its Japanese-first lock-screen
//! text with the links, and the service's configuration that both the evaluation and the
//! outbox read.

use std::time::Duration;

use super::deliver::{RetryPolicy, SmtpConfig};
use super::rules::{self, RuleKind};
use crate::i18n::{Lang, Msg};

/// How the alert service runs.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Time between evaluations.
    pub every: Duration,
    /// The server's address as people reach it (`https://agri.example.jp`), for the links.
    pub public_url: String,
    /// The SMTP relay for e-mail channels; e-mail attempts fail (and are stored) without one.
    pub smtp: Option<SmtpConfig>,
    /// Retries of each delivery.
    pub retry: RetryPolicy,
}

/// One change to announce: an alert opened or resolved. Queued in the outbox as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    /// `opened` or `resolved`.
    pub event: String,
    /// The alert.
    pub alert_id: i64,
    /// The farm.
    pub farm_id: i64,
    /// The parlor, when the alert is about one.
    pub parlor_id: Option<i64>,
    /// What the condition holds for (`parlor:7`, `cow:7:42`, `flight:9`, …).
    pub condition_key: String,
    /// What people call the thing (parlor, bridge, field).
    pub subject: String,
    /// What was seen (alarm names, a cow's reading, a temperature); may be empty.
    pub detail: String,
    /// What the rule watches.
    pub kind: RuleKind,
    /// Whole minutes the condition had held when it was seen.
    pub minutes: i64,
    /// The rule is critical: the message passes quiet hours.
    #[serde(default)]
    pub critical: bool,
}

/// The message kind of a rule kind.
pub fn kind_msg(kind: RuleKind) -> Msg {
    match kind {
        RuleKind::ParlorOffline => Msg::AlertParlorOffline,
        RuleKind::ParlorStopped => Msg::AlertParlorStopped,
        RuleKind::LowThroughput => Msg::AlertLowThroughput,
        RuleKind::PlatformFault => Msg::AlertPlatformFault,
        RuleKind::HighConductivity => Msg::AlertHighConductivity,
        RuleKind::MilkTemperature => Msg::AlertMilkTemperature,
        RuleKind::BridgeOffline => Msg::AlertBridgeOffline,
        RuleKind::FlightLinkLost => Msg::AlertFlightLinkLost,
        RuleKind::FlightFailsafe => Msg::AlertFlightFailsafe,
        RuleKind::SortieAborted => Msg::AlertSortieAborted,
        RuleKind::RecordUnsigned => Msg::AlertRecordUnsigned,
        RuleKind::DayDataMissing => Msg::AlertDayDataMissing,
    }
}

/// Whether the message tells how long the condition has held (a state that lasts), rather
/// than what happened (an event, a reading, a day).
fn tells_minutes(kind: RuleKind) -> bool {
    matches!(
        kind,
        RuleKind::ParlorOffline
            | RuleKind::ParlorStopped
            | RuleKind::LowThroughput
            | RuleKind::PlatformFault
            | RuleKind::MilkTemperature
            | RuleKind::BridgeOffline
    )
}

/// The most characters of a first line (a phone's lock screen).
pub const FIRST_LINE_MAX: usize = 60;

/// `s` cut to [`FIRST_LINE_MAX`] characters, with an ellipsis when cut.
fn lock_screen(s: String) -> String {
    if s.chars().count() <= FIRST_LINE_MAX {
        return s;
    }
    let mut cut: String = s.chars().take(FIRST_LINE_MAX - 1).collect();
    cut.push('…');
    cut
}

/// The lock-screen text of a notice, Japanese first: (first line, whole text with the link
/// to the page and, for an opening, the acknowledge link).
pub fn message(n: &Notice, public_url: &str, ack_url: Option<&str>) -> (String, String) {
    let kind = kind_msg(n.kind);
    let (ja, en) = (kind.text(Lang::Ja), kind.text(Lang::En));
    let (mja, men) = (
        Msg::AlertMinutes.text(Lang::Ja),
        Msg::AlertMinutes.text(Lang::En),
    );
    let name = &n.subject;
    let d = if n.detail.is_empty() {
        String::new()
    } else {
        format!(" {}", n.detail)
    };
    let m = n.minutes;
    let first = if n.event == "resolved" {
        let (rja, ren) = (
            Msg::AlertResolved.text(Lang::Ja),
            Msg::AlertResolved.text(Lang::En),
        );
        format!("【{rja}】{name} {ja} / {ren}: {name} {en}")
    } else if tells_minutes(n.kind) {
        format!("【{ja}】{name}{d} {m}{mja} / {name} {en} {m}{men}")
    } else {
        format!("【{ja}】{name}{d} / {name} {en}")
    };
    let first = lock_screen(first);
    let url = alert_url(public_url, n);
    let mut text = format!("{first}\n{url}");
    if let Some(ack) = ack_url {
        let (aja, aen) = (Msg::AlertAck.text(Lang::Ja), Msg::AlertAck.text(Lang::En));
        text.push_str(&format!("\n{aja} / {aen}: {ack}"));
    }
    (first, text)
}

/// The address of the page the notice is about.
pub fn alert_url(public_url: &str, n: &Notice) -> String {
    format!(
        "{}{}",
        public_url.trim_end_matches('/'),
        rules::link_path(n.kind, &n.condition_key, n.parlor_id)
    )
}
