//! The words of the maps' background: the note shown when the background map cannot be drawn
//! (no network and no cached tiles) or is switched off.

use super::messages;

messages! {
    /// One sentence about a map's background.
    pub enum MapMsg {
        /// The tiles did not load.
        NoTiles => (
            "背景の地図を読み込めません（通信できないか、このサーバーに地図タイルがありません）。ほ場・計画・飛行の線は正しく表示されています。",
            "The background map cannot be loaded (no network, or this server holds no map tiles). The fields, plans and flights drawn on it are correct.",
        ),
        /// No tile server is configured.
        TilesOff => (
            "背景の地図は表示しない設定です。ほ場・計画・飛行の線は正しく表示されています。",
            "The background map is switched off on this server. The fields, plans and flights drawn are correct.",
        ),
        /// Before the buttons of the fields far from the rest, which the map leaves out.
        FarFields => (
            "ほかのほ場から離れているため、地図に入れていないほ場（押すとその場所へ移動）：",
            "Fields far from the others, left out of the map (press one to go there):",
        ),
        /// The button fitting every field into the map.
        ShowAll => ("すべてのほ場を表示", "Show all fields"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_message_has_both_languages() {
        for m in MapMsg::ALL {
            let (ja, en) = (m.text(Lang::Ja), m.text(Lang::En));
            assert!(!ja.is_empty() && !en.is_empty(), "{m:?}");
            assert_ne!(ja, en, "{m:?}");
        }
    }
}
