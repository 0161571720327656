//! The words of a field's own page: changing its name, crop, address and 地番, and its
//! record of plans, flights and spray records in time order, in Japanese and English.

use super::Lang;

/// One sentence or label of a field's page and its edit form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldMsg {
    /// The edit form's heading.
    EditTitle,
    /// The link to the edit form.
    EditLink,
    /// The 地番 input and label.
    Chiban,
    /// What the address and 地番 are for.
    PlaceHint,
    /// Refusal: an empty name.
    NameRequired,
    /// The timeline's heading.
    Timeline,
    /// Timeline: a plan was made.
    PlanMade,
    /// Timeline: a flight.
    Flown,
    /// Timeline: the flight's spray record, signed.
    RecordSigned,
    /// Timeline: the flight's spray record, not signed yet.
    RecordDraft,
    /// Timeline: nothing yet.
    Nothing,
}

impl FieldMsg {
    /// The text in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let (ja, en) = match self {
            FieldMsg::EditTitle => ("ほ場の情報を変える", "Change the field's details"),
            FieldMsg::EditLink => (
                "名前・作物・住所・地番を変える",
                "Change name, crop, address or lot number",
            ),
            FieldMsg::Chiban => ("地番", "Lot number (地番)"),
            FieldMsg::PlaceHint => (
                "住所と地番は農薬使用記録の「場所」に使います。",
                "The address and lot number go into the pesticide use record's place.",
            ),
            FieldMsg::NameRequired => ("名前を入力してください。", "Enter a name."),
            FieldMsg::Timeline => (
                "このほ場の記録 (新しい順)",
                "This field's history (newest first)",
            ),
            FieldMsg::PlanMade => ("散布計画を作成", "Spray plan made"),
            FieldMsg::Flown => ("散布飛行", "Spray flight"),
            FieldMsg::RecordSigned => ("農薬使用記録 (署名済み)", "Pesticide use record (signed)"),
            FieldMsg::RecordDraft => (
                "農薬使用記録 (未署名の下書き)",
                "Pesticide use record (unsigned draft)",
            ),
            FieldMsg::Nothing => ("まだ計画も飛行もありません。", "No plans or flights yet."),
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
    fn every_field_text_is_in_both_languages() {
        use FieldMsg::*;
        for m in [
            EditTitle,
            EditLink,
            Chiban,
            PlaceHint,
            NameRequired,
            Timeline,
            PlanMade,
            Flown,
            RecordSigned,
            RecordDraft,
            Nothing,
        ] {
            assert!(!m.text(Lang::Ja).is_empty() && !m.text(Lang::En).is_empty());
            assert_ne!(m.text(Lang::Ja), m.text(Lang::En), "{m:?}");
        }
    }
}
