//! The words of Web Push: the alert settings page's push section, the page script's states
//! (handed to it in `data-` attributes), a refused subscription, and the notification itself.

use super::Lang;

/// One sentence or label of Web Push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushMsg {
    /// Page: the section's heading.
    Section,
    /// Page: what the section does.
    Intro,
    /// Page: without JavaScript.
    NeedsJs,
    /// Script: the browser has no Push API.
    Unsupported,
    /// Button: subscribe this browser.
    Subscribe,
    /// Button: unsubscribe this browser.
    Unsubscribe,
    /// Script: this browser is subscribed.
    Subscribed,
    /// Script: this browser is not subscribed.
    NotSubscribed,
    /// Script: notifications are blocked.
    Denied,
    /// Script: subscribing or unsubscribing failed.
    Failed,
    /// Script: waiting for the browser or the server.
    Working,
    /// Page: the table of subscribed browsers.
    Devices,
    /// Page: nothing subscribed yet.
    NoDevices,
    /// Column: who subscribed it.
    User,
    /// Column: the push service.
    Service,
    /// Column: when.
    Since,
    /// Button: remove a subscription.
    Remove,
    /// Channel kind as the channel table names it.
    ChannelKind,
    /// Refusal: the endpoint is not an https URL (or http to this machine).
    BadEndpoint,
    /// Refusal: the endpoint is too long.
    EndpointTooLong,
    /// Refusal: the browser's public key.
    BadKey,
    /// Refusal: the browser's auth secret.
    BadAuth,
    /// Notification: what tapping does.
    Tap,
    /// Notification: the acknowledge action.
    Ack,
}

impl PushMsg {
    /// The text in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let (ja, en) = match self {
            PushMsg::Section => (
                "この端末へのプッシュ通知",
                "Push notifications to this device",
            ),
            PushMsg::Intro => (
                "この農場の警報を、このスマートフォンやパソコンのブラウザに通知します。登録した人の端末にだけ届きます。",
                "Sends this farm's alerts to this phone's or computer's browser; only the devices people subscribed get them.",
            ),
            PushMsg::NeedsJs => (
                "プッシュ通知の登録には JavaScript が必要です。メールや Webhook は下の表から追加できます。",
                "Subscribing to push notifications needs JavaScript. E-mail and webhooks can be added below.",
            ),
            PushMsg::Unsupported => (
                "このブラウザはプッシュ通知に対応していません。",
                "This browser does not support push notifications.",
            ),
            PushMsg::Subscribe => ("この端末で受け取る", "Receive on this device"),
            PushMsg::Unsubscribe => ("この端末では受け取らない", "Stop on this device"),
            PushMsg::Subscribed => ("この端末は登録済みです。", "This device is subscribed."),
            PushMsg::NotSubscribed => (
                "この端末は登録されていません。",
                "This device is not subscribed.",
            ),
            PushMsg::Denied => (
                "通知が許可されていません。ブラウザの設定で通知を許可してください。",
                "Notifications are blocked; allow them in the browser's settings.",
            ),
            PushMsg::Failed => (
                "登録を変更できませんでした。",
                "The subscription could not be changed.",
            ),
            PushMsg::Working => ("処理中…", "Working…"),
            PushMsg::Devices => ("登録済みの端末", "Subscribed devices"),
            PushMsg::NoDevices => ("登録済みの端末はありません。", "No device is subscribed."),
            PushMsg::User => ("登録した人", "Subscribed by"),
            PushMsg::Service => ("通知サービス", "Push service"),
            PushMsg::Since => ("登録日時", "Subscribed at"),
            PushMsg::Remove => ("登録を削除", "Remove"),
            PushMsg::ChannelKind => ("プッシュ通知", "Web Push"),
            PushMsg::BadEndpoint => (
                "通知の宛先: https の URL ではありません",
                "Push endpoint: not an https URL",
            ),
            PushMsg::EndpointTooLong => (
                "通知の宛先: 2048 文字までです",
                "Push endpoint: 2048 characters at most",
            ),
            PushMsg::BadKey => (
                "端末の公開鍵 (p256dh): P-256 の公開鍵 (65 バイト) ではありません",
                "Device public key (p256dh): not a P-256 public key (65 bytes)",
            ),
            PushMsg::BadAuth => (
                "端末の認証キー (auth): 16 バイトではありません",
                "Device auth secret: not 16 bytes",
            ),
            PushMsg::Tap => ("タップして開く", "Tap to open"),
            PushMsg::Ack => ("確認済みにする", "Acknowledge"),
        };
        match lang {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages() {
        use PushMsg::*;
        for m in [
            Section,
            Intro,
            NeedsJs,
            Unsupported,
            Subscribe,
            Unsubscribe,
            Subscribed,
            NotSubscribed,
            Denied,
            Failed,
            Working,
            Devices,
            NoDevices,
            User,
            Service,
            Since,
            Remove,
            ChannelKind,
            BadEndpoint,
            EndpointTooLong,
            BadKey,
            BadAuth,
            Tap,
            Ack,
        ] {
            assert!(!m.text(Lang::Ja).is_empty() && !m.text(Lang::En).is_empty());
            assert_ne!(m.text(Lang::Ja), m.text(Lang::En), "{m:?}");
        }
    }
}
