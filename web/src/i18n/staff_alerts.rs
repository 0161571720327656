//! The words of staff alerts: the city staff's page (the missing-data rule, its channels, the
//! alerts), the messages sent, and the refusals of the rule's form.

use super::messages;

messages! {
    /// One sentence or label of staff alerts.
    pub enum StaffAlertMsg {
        /// Page title and the staff home's link.
        Title => ("地区のデータ未着アラート", "District missing-data alerts"),
        /// What the rule watches.
        Intro => (
            "ふだんデータを送っている農場（前の 7 日のうち 4 日以上、搾乳パーラーの報告、飛行、散布記録のどれかが届いた農場。パーラーのある農場はパーラーの報告が必要です）から、ある日（日本時間）に何も届かなかったとき、その地区のアラートを出します。翌日の決めた時刻を過ぎてから判定し、遅れてデータが届けば解消の知らせを送ります。",
            "When a farm that normally sends data (on at least 4 of the previous 7 days a parlor report, a flight or a spray record arrived from it; a farm with parlors needs parlor reports) sent nothing on a day (Japan time), its district gets an alert. The day is judged after the chosen hour of the next day; when the data arrives late, a cleared message follows.",
        ),
        /// Heading: the rule.
        Rule => ("判定の設定", "The rule"),
        /// Checkbox: the rule is on.
        On => ("アラートを出す", "Raise alerts"),
        /// Field: the hour.
        AfterHour => ("翌日の何時から未着とするか（0〜23 時）", "Hour of the next day from which a day counts as missing (0–23)"),
        /// Field group: the districts.
        Districts => ("対象の地区", "Districts watched"),
        /// Button: save the rule.
        Save => ("保存する", "Save"),
        /// Heading: the alerts.
        Alerts => ("アラート", "Alerts"),
        /// An alert: the district's day is missing.
        Missing => ("データ未着", "Data missing"),
        /// A cleared alert: the data arrived.
        Arrived => ("データが届きました", "The data arrived"),
        /// Label: the farms that sent nothing.
        SilentFarms => ("届かなかった農場", "Farms that sent nothing"),
        /// Column: the day.
        Day => ("日付", "Day"),
        /// Column: when.
        Time => ("時刻", "Time"),
        /// Column: the message.
        Message => ("知らせ", "Message"),
        /// Column: the channel.
        Channel => ("送信先", "Channel"),
        /// Column: the attempt.
        Attempt => ("回目", "Attempt"),
        /// Column: the outcome.
        Outcome => ("結果", "Outcome"),
        /// An attempt that was delivered.
        Sent => ("送信済み", "Sent"),
        /// An attempt that failed.
        Failed => ("失敗", "Failed"),
        /// Refusal: the hour.
        BadHour => ("0 から 23 までの整数で入力してください。", "Enter a whole number from 0 to 23."),
        /// Refusal: a district that does not exist.
        BadDistrict => ("選ばれた地区がありません。", "A chosen district does not exist."),
        /// Column and form heading: a channel's quiet hours and escalation.
        Timing => ("通知しない時間帯・二次連絡", "Quiet hours and escalation"),
        /// Button: save a channel's quiet hours and escalation.
        SaveTiming => ("時間帯を保存", "Save timing"),
        /// Note: what quiet hours and escalation do for staff.
        TimingNote => (
            "通知しない時間帯（日本時間、日をまたいでも可）の知らせは、時間帯が終わってから送ります。二次連絡先は、アラートが決めた分数のあいだ誰にも確認されず解消もしていないときだけ知らせを受けます。",
            "Messages due in a channel's quiet hours (Japan time, may cross midnight) are sent when they end. A second line hears of an alert only if nobody acknowledged it within its minutes and it has not cleared.",
        ),
        /// Confirm page heading of a staff alert's signed link.
        AckTitle => ("データ未着アラートの確認", "Acknowledge a missing-data alert"),
        /// Refusal: a form field this page does not know.
        BadField => ("この画面にない項目が送られました。", "The form sent a field this page does not have."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_message_has_both_languages() {
        for m in StaffAlertMsg::ALL {
            let (ja, en) = (m.text(Lang::Ja), m.text(Lang::En));
            assert!(!ja.is_empty() && !en.is_empty(), "{m:?}");
            assert_ne!(ja, en, "{m:?}");
        }
    }
}
