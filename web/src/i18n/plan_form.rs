//! The words of the plan form's survey settings (the swath heading, automatic or set, and the
//! unsprayed edge strip) and of its live preview: the estimate panel, its states and the
//! refusals of a malformed value, in Japanese and English.

use super::{Lang, messages};

messages! {
    /// One label or sentence of the plan form's heading, edge margin and preview.
    pub enum PlanFormMsg {
        /// Form: the heading group's legend.
        Heading => ("散布列の向き", "Swath heading"),
        /// Form: the automatic heading choice.
        HeadingAuto => (
            "自動 (飛行時間が最も短い向き)",
            "Automatic (the heading with the shortest flight time)",
        ),
        /// Form: the set heading choice.
        HeadingSet => ("向きを指定する", "Set the heading"),
        /// Form: the heading input.
        HeadingDeg => (
            "向き (度、北から時計回り)",
            "Heading (degrees clockwise from north)",
        ),
        /// Form: the heading can be dragged on the map (shown when the script runs).
        HeadingDragHint => (
            "地図上の丸い取っ手をドラッグしても向きを指定できます。",
            "You can also set it by dragging the round handle on the map.",
        ),
        /// Form: the edge margin input.
        EdgeMarginM => (
            "ほ場の縁の散布しない幅 (m)",
            "Unsprayed strip along the field edge (m)",
        ),
        /// Preview: the panel's heading.
        PreviewTitle => ("見積もり (保存前のプレビュー)", "Estimate (preview, not saved)"),
        /// Preview: what the panel does.
        PreviewHint => (
            "値を変えると、地図の経路とこの見積もりが更新されます。まだ保存されていません。保存するには下のボタンで計画を作ってください。",
            "Changing a value redraws the route on the map and this estimate. Nothing is saved yet: make the plan with the button below to keep it.",
        ),
        /// Preview: a request is under way.
        Working => ("計算中…", "Calculating…"),
        /// Preview: the estimate is up to date.
        UpToDate => ("見積もりを更新しました。", "Estimate updated."),
        /// Preview: the server could not be reached.
        Unreachable => (
            "プレビューを取得できませんでした。通信を確かめてください。計画は下のボタンで作れます。",
            "The preview could not be fetched. Check the connection; the plan can still be made with the button below.",
        ),
        /// Preview: a prescription file is chosen but not previewed.
        RxNotPreviewed => (
            "処方マップはプレビューに含まれません (計画を作ると反映されます)。",
            "The prescription map is not in the preview (it is used when the plan is made).",
        ),
        /// Estimate: sorties, one battery charge each.
        SortiesBatteries => ("フライト回数 (バッテリー本数)", "Sorties (battery charges)"),
        /// Estimate: landings between sorties to refill the tank and change the battery.
        Refills => ("補給回数 (薬液・バッテリー)", "Refills (tank and battery)"),
        /// Estimate: the heading was chosen by the planner.
        ChosenAuto => ("自動", "automatic"),
        /// Estimate: the heading was set by the person.
        ChosenSet => ("指定", "set"),
        /// Refusal: a value that is not a number.
        NotANumber => ("数値で入力してください:", "Enter a number for:"),
        /// Refusal: a value left out.
        Missing => ("入力してください:", "Enter a value for:"),
    }
}

/// The form's label of a setting the planner or the form refused, by the planner's name for
/// it; `None` for settings other modules label.
pub fn quantity_label(quantity: &str) -> Option<PlanFormMsg> {
    match quantity {
        "heading (deg)" => Some(PlanFormMsg::HeadingDeg),
        "edge margin (m)" => Some(PlanFormMsg::EdgeMarginM),
        _ => None,
    }
}

/// The sentence for a form value that could not be read as sent: `label` not a number, or
/// missing.
pub fn unreadable(lang: Lang, label: &str, missing: bool) -> String {
    let m = if missing {
        PlanFormMsg::Missing
    } else {
        PlanFormMsg::NotANumber
    };
    format!("{} {label}", m.text(lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages() {
        for m in PlanFormMsg::ALL {
            let (ja, en) = (m.text(Lang::Ja), m.text(Lang::En));
            assert!(!ja.is_empty() && !en.is_empty(), "{m:?}");
            assert_ne!(ja, en, "{m:?}");
        }
    }

    #[test]
    fn the_planners_names_of_the_new_settings_have_labels() {
        assert_eq!(
            quantity_label("heading (deg)").map(|m| m.text(Lang::Ja)),
            Some("向き (度、北から時計回り)")
        );
        assert_eq!(
            quantity_label("edge margin (m)").map(|m| m.text(Lang::En)),
            Some("Unsprayed strip along the field edge (m)")
        );
        assert_eq!(quantity_label("swath width (m)"), None);
        assert_eq!(
            unreadable(Lang::Ja, "散布幅 (m)", false),
            "数値で入力してください: 散布幅 (m)"
        );
        assert_eq!(
            unreadable(Lang::En, "Swath width (m)", true),
            "Enter a value for: Swath width (m)"
        );
    }
}
