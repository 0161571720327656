//! The words of variable-rate prescriptions: the plan form's prescription fields, the plan
//! page's zone map and table, and the form's own refusals, in Japanese and English. The
//! sentences about a refused prescription file, which carry the file's details, are in the
//! fields routes' `rx_errors`.

use super::Lang;

/// One sentence or label of the prescription parts of the plan form and page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RxMsg {
    /// Form: the prescription section's heading.
    Section,
    /// Form: what the section does.
    SectionHint,
    /// Form: the file input.
    File,
    /// Form: the rate column input.
    RateColumn,
    /// Form: what the rate column is.
    RateColumnHint,
    /// Form: the unit select.
    RateUnit,
    /// Form: the gap policy select.
    Gap,
    /// Form: gap option, no spray.
    GapNoSpray,
    /// Form: gap option, the default rate.
    GapDefault,
    /// Form: the default rate input.
    GapRate,
    /// Form: the pump's full flow input.
    PumpFlow,
    /// Form: the pump's servo output input.
    ServoOutput,
    /// Form: autopilot option, ArduPilot's DO_SPRAYER.
    ApDoSprayer,
    /// Form: autopilot option, ArduPilot with the pump on a servo output.
    ApServo,
    /// Form: autopilot option, PX4.
    ApPx4,
    /// Refusal: rates with ArduPilot's DO_SPRAYER.
    NeedsServo,
    /// Refusal: rates without the pump's full flow.
    NeedsPumpFlow,
    /// Refusal: a default rate that is not a rate.
    BadGapRate,
    /// Refusal: a unit not offered.
    BadUnit,
    /// Refusal: a gap choice not offered.
    BadGap,
    /// Refusal: a servo output out of range.
    BadServo,
    /// Page: the zones heading.
    Zones,
    /// Page: the zone table's caption.
    TableCaption,
    /// Page: the zone column.
    ZoneCol,
    /// Page: the rate column.
    RateCol,
    /// Page: the area column, in are.
    AreaA,
    /// Page: the amount column for liquids.
    AmountL,
    /// Page: the amount column for granules.
    AmountKg,
    /// Page: the total row.
    Total,
    /// Page: the name of the gap zone.
    GapZone,
    /// Page: a zone that gets no spray.
    NoSpray,
    /// Page: the zone map's title.
    SvgTitle,
    /// Page: the zone map's description.
    SvgDesc,
    /// Page: the file the prescription came from.
    FileName,
    /// Page: the zone legend's heading.
    Legend,
    /// Form: the pump and nozzle lag before each rate change.
    RateLag,
    /// Form: the run-up before each spray leg.
    SprayerLead,
    /// Form: what the run-up is for.
    SprayerLeadHint,
    /// Form refused: the values are kept, the file must be chosen again.
    ValuesKept,
    /// Flight page: the as-applied heading.
    AsApplied,
    /// Flight page: how the as-applied amounts are reckoned.
    AsAppliedHint,
    /// Flight page: the as-applied table's caption.
    AsAppliedCaption,
    /// Flight page: the sprayed-area column, m².
    AppliedM2,
    /// Flight page: the amount-applied column.
    AppliedAmount,
    /// Flight page: the prescribed-amount column.
    PrescribedAmount,
    /// Flight page: the average dose per 10 a.
    AveragePer10a,
    /// Flight page: the as-applied GeoJSON download.
    AsAppliedDownload,
}

impl RxMsg {
    /// The text in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let (ja, en) = match self {
            RxMsg::Section => ("可変散布 (処方マップ)", "Variable rate (prescription map)"),
            RxMsg::SectionHint => (
                "処方マップを付けると、ゾーンごとの散布量で散布します。付けなければ、ほ場全体を上の散布量で散布します。",
                "With a prescription map each zone is sprayed at its own rate; without one the whole field gets the rate above.",
            ),
            RxMsg::File => (
                "処方マップ (GeoJSON、Shapefile (.shp と .dbf、.prj をまとめて選ぶか zip)、GeoTIFF、ISOXML (TASKDATA.XML とグリッドファイル、または zip))",
                "Prescription map (GeoJSON; Shapefile: pick its .shp, .dbf and .prj together, or a zip; GeoTIFF; ISOXML: TASKDATA.XML with its grid files, or a zip)",
            ),
            RxMsg::RateColumn => ("散布量の列名", "Rate column"),
            RxMsg::RateColumnHint => (
                "GeoJSON のプロパティ名か DBF の列名 (GeoTIFF と ISOXML では不要)",
                "GeoJSON property or DBF column (not needed for GeoTIFF and ISOXML)",
            ),
            RxMsg::RateUnit => ("散布量の単位", "Rate unit"),
            RxMsg::Gap => ("どのゾーンにも入らない所", "Outside every zone"),
            RxMsg::GapNoSpray => ("散布しない", "No spray"),
            RxMsg::GapDefault => ("既定の散布量で散布する", "Spray the default rate"),
            RxMsg::GapRate => (
                "既定の散布量 (処方マップの単位)",
                "Default rate (in the prescription's unit)",
            ),
            RxMsg::PumpFlow => ("ポンプの最大流量 (L/min)", "Pump full flow (L/min)"),
            RxMsg::ServoOutput => ("ポンプのサーボ出力番号", "Pump servo output"),
            RxMsg::ApDoSprayer => (
                "ArduPilot Copter (DO_SPRAYER、散布量は一定)",
                "ArduPilot Copter (DO_SPRAYER, one rate)",
            ),
            RxMsg::ApServo => (
                "ArduPilot Copter (ポンプをサーボ出力で制御、可変散布可)",
                "ArduPilot Copter (pump on a servo output, variable rate)",
            ),
            RxMsg::ApPx4 => ("PX4 (可変散布可)", "PX4 (variable rate)"),
            RxMsg::NeedsServo => (
                "ArduPilot の DO_SPRAYER は散布量を変えられません (ポンプは対地速度に合わせて一つの SPRAY_PUMP_RATE で動きます)。処方マップで散布するには、フライトコントローラで「ArduPilot Copter (ポンプをサーボ出力で制御)」か PX4 を選び、ポンプを SERVOn_FUNCTION が 0 のサーボ出力につないでください。",
                "ArduPilot's DO_SPRAYER cannot change the rate (its pump follows ground speed at one SPRAY_PUMP_RATE). To spray a prescription, choose \"ArduPilot Copter (pump on a servo output)\" or PX4 as the autopilot, with the pump on a servo output whose SERVOn_FUNCTION is 0.",
            ),
            RxMsg::NeedsPumpFlow => (
                "処方マップで散布するには、ポンプの最大流量 (L/min) を入力してください。各ゾーンの散布量をその割合で指令します。",
                "A prescription needs the pump's full flow (L/min): each zone's rate is commanded as a fraction of it.",
            ),
            RxMsg::BadGapRate => (
                "既定の散布量は 0 以上の数値で入力してください。",
                "The default rate must be a number of 0 or more.",
            ),
            RxMsg::BadUnit => (
                "散布量の単位は L/10a、L/ha、kg/10a から選んでください。",
                "Choose L/10a, L/ha or kg/10a as the rate unit.",
            ),
            RxMsg::BadGap => (
                "ゾーン外の扱いは「散布しない」か「既定の散布量で散布する」から選んでください。",
                "Choose \"No spray\" or \"Spray the default rate\" for outside every zone.",
            ),
            RxMsg::BadServo => (
                "ポンプのサーボ出力番号は 1〜16 で入力してください。",
                "The pump servo output must be 1 to 16.",
            ),
            RxMsg::Zones => ("処方ゾーン", "Prescription zones"),
            RxMsg::TableCaption => (
                "ゾーンごとの散布量、散布面積と必要量",
                "Rate, sprayed area and amount by zone",
            ),
            RxMsg::ZoneCol => ("ゾーン", "Zone"),
            RxMsg::RateCol => ("散布量", "Rate"),
            RxMsg::AreaA => ("散布面積 (a)", "Sprayed area (a)"),
            RxMsg::AmountL => ("薬液量 (L)", "Amount (L)"),
            RxMsg::AmountKg => ("粒剤量 (kg)", "Amount (kg)"),
            RxMsg::Total => ("合計", "Total"),
            RxMsg::GapZone => ("ゾーン外", "Outside the zones"),
            RxMsg::NoSpray => ("散布なし", "no spray"),
            RxMsg::SvgTitle => ("処方ゾーンの図", "Map of the prescription zones"),
            RxMsg::SvgDesc => (
                "ほ場を処方ゾーンに分けた図です。各ゾーンに表と同じ番号を記し、散布量が多いほど濃い色にしています。散布しないゾーンは斜線で示します。",
                "The field divided into its prescription zones. Each zone carries its number from the table; the higher the rate, the darker its colour. Zones without spray are hatched.",
            ),
            RxMsg::FileName => ("処方マップのファイル", "Prescription file"),
            RxMsg::Legend => ("ゾーンの凡例", "Zone legend"),
            RxMsg::RateLag => (
                "ポンプとノズルの遅れ (秒、散布量を変える位置をこの分だけ手前にします)",
                "Pump and nozzle lag (s: each rate change is commanded this much earlier)",
            ),
            RxMsg::SprayerLead => ("散布前の助走 (秒)", "Run-up before each spray leg (s)"),
            RxMsg::SprayerLeadHint => (
                "各散布行の手前をこの時間だけ同じ向きにまっすぐ飛び、散布速度に乗ってから散布を始めます。ArduPilot の DO_SPRAYER はポンプが 0.3〜0.7 秒遅れて動くため、助走の始めでポンプを入れます。0 で助走なし。",
                "Each spray leg starts with this long a straight run on its own line, so the drone is at spray speed where spraying begins. ArduPilot's DO_SPRAYER starts its pump 0.3 to 0.7 s late, so it is switched on at the run-up's start. 0: no run-up.",
            ),
            RxMsg::ValuesKept => (
                "入力した値はそのまま残しています。処方マップのファイルは、もう一度選んでください。",
                "Your values are kept below. Choose the prescription file again if you used one.",
            ),
            RxMsg::AsApplied => ("ゾーンごとの散布実績", "As applied, by zone"),
            RxMsg::AsAppliedHint => (
                "機体の位置とポンプの記録から散布した範囲を求め、ゾーンごとにその面積に処方の散布量を掛けています。",
                "The sprayed area comes from the vehicle's positions and pump record; each zone's part of it is multiplied by the zone's prescribed rate.",
            ),
            RxMsg::AsAppliedCaption => (
                "ゾーンごとの処方、散布面積、散布量と処方量",
                "Prescription, sprayed area, amount applied and amount prescribed by zone",
            ),
            RxMsg::AppliedM2 => ("散布面積 (m²)", "Sprayed (m²)"),
            RxMsg::AppliedAmount => ("散布量", "Applied"),
            RxMsg::PrescribedAmount => ("処方量 (ゾーン全体)", "Prescribed (whole zone)"),
            RxMsg::AveragePer10a => ("10a 当たり平均", "Average per 10 a"),
            RxMsg::AsAppliedDownload => (
                "散布実績を GeoJSON でダウンロード",
                "Download the as-applied map (GeoJSON)",
            ),
        };
        match lang {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

/// The label of a setting the planner's check refused, for the prescription's settings;
/// `None` for the others.
pub fn quantity_label(quantity: &str) -> Option<RxMsg> {
    match quantity {
        "pump full flow (L/min)" => Some(RxMsg::PumpFlow),
        "pump servo output" => Some(RxMsg::ServoOutput),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prescription_text_is_in_both_languages() {
        use RxMsg::*;
        for m in [
            Section,
            SectionHint,
            File,
            RateColumn,
            RateColumnHint,
            RateUnit,
            Gap,
            GapNoSpray,
            GapDefault,
            GapRate,
            PumpFlow,
            ServoOutput,
            ApDoSprayer,
            ApServo,
            ApPx4,
            NeedsServo,
            NeedsPumpFlow,
            BadGapRate,
            BadUnit,
            BadGap,
            BadServo,
            Zones,
            TableCaption,
            ZoneCol,
            RateCol,
            AreaA,
            AmountL,
            AmountKg,
            Total,
            GapZone,
            NoSpray,
            SvgTitle,
            SvgDesc,
            FileName,
            Legend,
            RateLag,
            SprayerLead,
            SprayerLeadHint,
            ValuesKept,
            AsApplied,
            AsAppliedHint,
            AsAppliedCaption,
            AppliedM2,
            AppliedAmount,
            PrescribedAmount,
            AveragePer10a,
            AsAppliedDownload,
        ] {
            assert!(!m.text(Lang::Ja).is_empty() && !m.text(Lang::En).is_empty());
            assert_ne!(m.text(Lang::Ja), m.text(Lang::En), "{m:?}");
        }
    }
}
