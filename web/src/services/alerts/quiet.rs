//! Quiet hours and escalation, decided per queued message: pure, so every case is a unit test.
//! The same rules hold for a farm's messages and the staff alert's ([`Gated`] is what either
//! outbox row tells of its channel and its alert).

use chrono::{DateTime, Duration, Timelike, Utc};

use crate::i18n::JST;
use crate::storage::{OutboxRow, StaffOutboxRow};

/// What the rules read of a claimed message: its event, its channel's quiet hours and
/// escalation, and its alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate<'a> {
    /// `opened` or `resolved`.
    pub event: &'a str,
    /// Quiet hours start, Asia/Tokyo minutes after midnight.
    pub quiet_from: Option<i64>,
    /// Quiet hours end (exclusive).
    pub quiet_to: Option<i64>,
    /// The channel is a second line, this many minutes after the opening.
    pub escalate_after_min: Option<i64>,
    /// Somebody acknowledged the alert.
    pub acknowledged: bool,
    /// The alert has cleared.
    pub resolved: bool,
    /// This channel was sent the alert's opening.
    pub opened_sent_here: bool,
}

/// A queued message the rules can judge.
pub trait Gated {
    /// What the rules read of it.
    fn gate(&self) -> Gate<'_>;
}

impl Gated for OutboxRow {
    fn gate(&self) -> Gate<'_> {
        Gate {
            event: &self.event,
            quiet_from: self.channel.quiet_from,
            quiet_to: self.channel.quiet_to,
            escalate_after_min: self.channel.escalate_after_min,
            acknowledged: self.alert_acknowledged,
            resolved: self.alert_resolved,
            opened_sent_here: self.opened_sent_here,
        }
    }
}

impl Gated for StaffOutboxRow {
    fn gate(&self) -> Gate<'_> {
        Gate {
            event: &self.event,
            quiet_from: self.quiet_from,
            quiet_to: self.quiet_to,
            escalate_after_min: self.escalate_after_min,
            acknowledged: self.acknowledged,
            resolved: self.resolved,
            opened_sent_here: self.opened_sent,
        }
    }
}

/// When the quiet hours `[from, to)` (Asia/Tokyo minutes after midnight; across midnight when
/// `from > to`) that hold at `now` end; `None` outside them, or without quiet hours.
pub fn held_until(now: DateTime<Utc>, from: Option<i64>, to: Option<i64>) -> Option<DateTime<Utc>> {
    let (from, to) = (from?, to?);
    if from == to {
        return None;
    }
    let local = now.with_timezone(&JST);
    let m = i64::from(local.hour() * 60 + local.minute());
    let quiet = if from < to {
        (from..to).contains(&m)
    } else {
        m >= from || m < to
    };
    if !quiet {
        return None;
    }
    // Minutes from now to the next `to`, counted from the start of this minute.
    let ahead = (to - m).rem_euclid(24 * 60);
    let minute_start = now
        - Duration::seconds(i64::from(local.second()))
        - Duration::nanoseconds(i64::from(local.nanosecond()));
    Some(minute_start + Duration::minutes(ahead))
}

/// What to do with a claimed message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it.
    Send,
    /// Hold it until then (quiet hours).
    Hold(DateTime<Utc>),
    /// Drop it: a second line whose alert was taken care of in time, or the end of an alert
    /// the second line never heard of.
    Skip,
}

/// Decides a claimed message: a second-line channel gets an opening only when the alert is
/// neither acknowledged nor cleared by the time it is due, and a resolution only if it got the
/// opening; any message due in the channel's quiet hours is held until they end, unless the
/// rule is `critical`.
pub fn decide(row: &impl Gated, critical: bool, now: DateTime<Utc>) -> Decision {
    let g = row.gate();
    if g.escalate_after_min.is_some() {
        let taken_care_of = g.acknowledged || g.resolved;
        if (g.event == "opened" && taken_care_of) || (g.event == "resolved" && !g.opened_sent_here)
        {
            return Decision::Skip;
        }
    }
    if !critical && let Some(until) = held_until(now, g.quiet_from, g.quiet_to) {
        return Decision::Hold(until);
    }
    Decision::Send
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::AlertChannel;

    fn jst(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{s}+09:00"))
            .unwrap()
            .to_utc()
    }

    #[test]
    fn quiet_hours_across_midnight_end_at_their_end_in_tokyo() {
        let (from, to) = (Some(22 * 60), Some(6 * 60));
        assert_eq!(
            held_until(jst("2026-05-10T23:30:10"), from, to),
            Some(jst("2026-05-11T06:00:00"))
        );
        assert_eq!(
            held_until(jst("2026-05-11T05:59:59"), from, to),
            Some(jst("2026-05-11T06:00:00"))
        );
        assert_eq!(held_until(jst("2026-05-11T06:00:00"), from, to), None);
        assert_eq!(held_until(jst("2026-05-10T21:59:00"), from, to), None);
        assert_eq!(
            held_until(jst("2026-05-10T22:00:00"), from, to),
            Some(jst("2026-05-11T06:00:00"))
        );
    }

    #[test]
    fn quiet_hours_within_a_day_and_none_at_all() {
        let (from, to) = (Some(12 * 60), Some(13 * 60));
        assert_eq!(
            held_until(jst("2026-05-10T12:15:00"), from, to),
            Some(jst("2026-05-10T13:00:00"))
        );
        assert_eq!(held_until(jst("2026-05-10T13:15:00"), from, to), None);
        assert_eq!(held_until(jst("2026-05-10T12:15:00"), None, None), None);
        assert_eq!(held_until(jst("2026-05-10T12:15:00"), from, from), None);
    }

    fn row(event: &str, escalate: Option<i64>, acked: bool, opened_sent: bool) -> OutboxRow {
        OutboxRow {
            id: 1,
            farm_id: 1,
            alert_id: 1,
            event: event.into(),
            notice_json: String::new(),
            due_at: jst("2026-05-10T23:30:00"),
            channel: AlertChannel {
                id: 1,
                farm_id: 1,
                kind: "email".into(),
                target: "a@b".into(),
                secret: None,
                quiet_from: Some(22 * 60),
                quiet_to: Some(6 * 60),
                escalate_after_min: escalate,
            },
            channel_enabled: true,
            alert_acknowledged: acked,
            alert_resolved: false,
            opened_sent_here: opened_sent,
        }
    }

    #[test]
    fn held_in_quiet_hours_unless_critical_and_escalation_only_when_untaken() {
        let night = jst("2026-05-10T23:30:00");
        let day = jst("2026-05-10T12:00:00");
        let morning = Decision::Hold(jst("2026-05-11T06:00:00"));
        assert_eq!(
            decide(&row("opened", None, false, false), false, night),
            morning
        );
        assert_eq!(
            decide(&row("opened", None, false, false), true, night),
            Decision::Send
        );
        assert_eq!(
            decide(&row("opened", None, false, false), false, day),
            Decision::Send
        );
        // A second line: only when nobody acknowledged in time.
        assert_eq!(
            decide(&row("opened", Some(10), true, false), false, day),
            Decision::Skip
        );
        assert_eq!(
            decide(&row("opened", Some(10), false, false), false, day),
            Decision::Send
        );
        let mut cleared = row("opened", Some(10), false, false);
        cleared.alert_resolved = true;
        assert_eq!(decide(&cleared, false, day), Decision::Skip);
        // Its "cleared" only if it heard of the alert.
        assert_eq!(
            decide(&row("resolved", Some(10), false, false), false, day),
            Decision::Skip
        );
        assert_eq!(
            decide(&row("resolved", Some(10), true, true), false, day),
            Decision::Send
        );
        // A first line always hears the end.
        assert_eq!(
            decide(&row("resolved", None, true, false), false, day),
            Decision::Send
        );
    }
}
