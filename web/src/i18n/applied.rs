//! The words of the flight page's applied rates: the as-applied map and its legend, the table
//! of target and applied rate by zone, where the figures come from, and the ISOXML download.

use super::messages;

messages! {
    /// One sentence or label of the applied rates on the flight page.
    pub enum AppliedMsg {
        /// The figures come from the pump output the vehicle reported.
        FromPump => (
            "機体が報告したポンプ出力を、計画と同じポンプの較正で散布量（L/分）に戻し、対地速度と散布幅から 10a 当たりの量を求めています。ゾーンの実績は、そのゾーンで出た量をゾーン内の散布面積で割った値です。",
            "The pump output the vehicle reported is turned back into a flow (L/min) by the same pump calibration the plan used, and into an amount per 10 a by ground speed and swath width. A zone's applied rate is what the pump gave in it over its sprayed area.",
        ),
        /// No pump output: the amounts are the commanded rates.
        OnOffOnly => (
            "この飛行では機体がポンプの出力値を報告していない（または計画にポンプの較正がない）ため、散布したかどうかしか分かりません。散布量は各ゾーンの指示量に散布面積を掛けたもので、実測の散布量ではありません。",
            "The vehicle reported no pump output for this flight (or the plan has no pump calibration), so only whether it sprayed is known. The amounts are each zone's prescribed rate times its sprayed area, not a measured rate.",
        ),
        /// Column: the zone's target rate.
        Target => ("処方の散布量", "Target rate"),
        /// Column: the applied rate.
        Applied => ("散布実績", "Applied rate"),
        /// Column: applied minus target.
        Difference => ("差 (実績 − 処方)", "Difference (applied − target)"),
        /// Cell: not measured.
        NotMeasured => ("未計測", "not measured"),
        /// Table row: sprayed outside every zone.
        Outside => ("ゾーンの外", "Outside the zones"),
        /// The map's title.
        MapTitle => ("散布実績の地図", "Map of the applied rate"),
        /// The map's description for screen readers.
        MapDesc => (
            "各ゾーンで散布した範囲を、散布実績の量で色分けしています。同じ数値は地図の横の表にあります。",
            "The sprayed part of each zone, coloured by its applied rate. The table beside the map has the same figures.",
        ),
        /// The map's legend heading.
        Legend => ("凡例 (散布実績)", "Legend (applied rate)"),
        /// Legend: the hatched parts without a measured rate.
        LegendNotMeasured => ("斜線: 散布量は未計測（指示量で計算）", "Hatched: rate not measured (reckoned at the prescribed rate)"),
        /// The ISOXML download.
        IsoxmlDownload => (
            "散布実績を ISOXML (TASKDATA.XML) でダウンロード",
            "Download the as-applied task data (ISOXML, TASKDATA.XML)",
        ),
        /// The download of the task data with its time log.
        TaskdataZipDownload => (
            "位置ごとの散布記録（時系列ログ）付きの ISOXML (TASKDATA.zip) でダウンロード",
            "Download the task data with the position-by-position time log (ISOXML, TASKDATA.zip)",
        ),
        /// The product's name when the record names no pesticide.
        UnnamedProduct => ("散布液", "Spray mix"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_applied_text_is_in_both_languages() {
        for m in AppliedMsg::ALL {
            assert!(!m.text(Lang::Ja).is_empty() && !m.text(Lang::En).is_empty());
            assert_ne!(m.text(Lang::Ja), m.text(Lang::En), "{m:?}");
        }
    }
}
