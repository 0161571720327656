//! The go/no-go checklist of a launch: configuration ([`GoNoGoConfig`], TOML with documented
//! defaults), the launch's inputs ([`GoNoGoInputs`]) and [`evaluate`], a pure function that
//! returns one [`Check`] per condition (wind, height, 30 m zone, DID, airports, expiry dates,
//! neighbour notification, non-adjacent fields). Distances are in metres in a local projection
//! ([`mission_planner::LocalFrame`]), as the planner works.
//!
//! The rule itself ([`evaluate`]) is here; `config.rs` reads the configuration and its map
//! layers, `geojson.rs` turns GeoJSON into `geo` shapes, `site.rs` is the launch's site (its
//! fields and path) and the distances measured from it.

mod config;
mod geojson;
mod site;

pub use config::{GoNoGoConfig, GoNoGoError, Layers};
pub use geojson::geometries;
pub use site::Site;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use self::site::{LocalSite, field_gap};
use crate::i18n::{Lang, Msg};

/// What the pilot entered and what was looked up for one launch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GoNoGoInputs {
    /// The day of the flight (JST).
    pub today: Option<NaiveDate>,
    /// Wind speed at the wind height, m/s.
    pub wind_mps: Option<f64>,
    /// `entered` or `station`.
    pub wind_source: String,
    /// Planned spray height above the crop, m.
    pub height_above_crop_m: Option<f64>,
    /// Neighbours of the sensitive zones were notified.
    pub neighbours_notified: bool,
    /// The number of a recorded DID/airport approval, empty when none.
    pub airspace_approval: String,
    /// The pilot's 技能証明 expiry.
    pub licence_expiry: Option<NaiveDate>,
    /// The pilot's 許可・承認 expiry.
    pub permit_expiry: Option<NaiveDate>,
    /// The vehicle's registration expiry.
    pub registration_expiry: Option<NaiveDate>,
    /// Where the flight goes.
    #[serde(skip)]
    pub site: Site,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Fine.
    Pass,
    /// Allowed only with the pilot's explicit acknowledgement.
    Warn,
    /// No launch.
    Block,
}

impl Outcome {
    /// The word shown beside a check (never colour alone).
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Outcome::Pass => Msg::OutcomePass,
            Outcome::Warn => Msg::OutcomeWarn,
            Outcome::Block => Msg::OutcomeBlock,
        }
        .text(lang)
    }

    /// A symbol beside the word.
    pub fn icon(self) -> &'static str {
        match self {
            Outcome::Pass => "✔",
            Outcome::Warn => "⚠",
            Outcome::Block => "✖",
        }
    }
}

/// One check of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id (`wind`, `height`, `approval_zone`, `did`, `airport`, `licence`, `permit`,
    /// `registration`, `neighbours`, `separate_fields`).
    pub id: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The reason in Japanese.
    pub detail_ja: String,
    /// The reason in English.
    pub detail_en: String,
}

impl Check {
    fn new(id: &str, outcome: Outcome, ja: String, en: String) -> Check {
        Check {
            id: id.to_owned(),
            outcome,
            detail_ja: ja,
            detail_en: en,
        }
    }

    /// The reason in `lang`.
    pub fn detail(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.detail_ja,
            Lang::En => &self.detail_en,
        }
    }

    /// The check's name in `lang`.
    pub fn title(&self, lang: Lang) -> &'static str {
        match self.id.as_str() {
            "wind" => Msg::CheckWind,
            "height" => Msg::CheckHeight,
            "approval_zone" => Msg::CheckApprovalZone,
            "did" => Msg::CheckDid,
            "airport" => Msg::CheckAirport,
            "licence" => Msg::CheckLicence,
            "permit" => Msg::CheckPermit,
            "registration" => Msg::CheckRegistration,
            "neighbours" => Msg::CheckNeighbours,
            "separate_fields" => Msg::CheckSeparateFields,
            _ => Msg::CheckOther,
        }
        .text(lang)
    }
}

/// True when any check blocks the launch.
pub fn blocked(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.outcome == Outcome::Block)
}

/// True when any check needs an acknowledgement.
pub fn has_warnings(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.outcome == Outcome::Warn)
}

fn expiry_check(
    id: &str,
    what: (&str, &str),
    expiry: Option<NaiveDate>,
    today: NaiveDate,
    warn_days: i64,
) -> Check {
    let (ja, en) = what;
    match expiry {
        None => Check::new(
            id,
            Outcome::Block,
            format!("{ja}の有効期限が登録されていません。"),
            format!("No expiry date of the {en} is on record."),
        ),
        Some(d) if d < today => Check::new(
            id,
            Outcome::Block,
            format!("{ja}は {d} に期限切れです。"),
            format!("The {en} expired on {d}."),
        ),
        Some(d) if (d - today).num_days() <= warn_days => Check::new(
            id,
            Outcome::Warn,
            format!(
                "{ja}は {d} に期限切れになります（あと{}日）。",
                (d - today).num_days()
            ),
            format!(
                "The {en} expires on {d} ({} days left).",
                (d - today).num_days()
            ),
        ),
        Some(d) => Check::new(
            id,
            Outcome::Pass,
            format!("{ja}は {d} まで有効です。"),
            format!("The {en} is valid until {d}."),
        ),
    }
}

/// Every check of the go/no-go for `inputs` under `cfg`, in a fixed order.
pub fn evaluate(cfg: &GoNoGoConfig, inputs: &GoNoGoInputs) -> Vec<Check> {
    use Outcome::{Block, Pass, Warn};
    let mut out = Vec::new();
    let today = inputs
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let max_w = cfg.max_wind_mps;
    let h = cfg.wind_height_m;
    out.push(match inputs.wind_mps {
        None => Check::new(
            "wind",
            Block,
            "風速が入力されていません。".into(),
            "No wind speed was entered.".into(),
        ),
        Some(w) if !w.is_finite() || w < 0.0 => Check::new(
            "wind",
            Block,
            "風速の値が正しくありません。".into(),
            "The wind speed is not a valid number.".into(),
        ),
        Some(w) if w > max_w => Check::new(
            "wind",
            Block,
            format!("風速 {w:.1} m/s（高さ {h} m）は上限 {max_w:.1} m/s を超えています。散布できません。"),
            format!("Wind {w:.1} m/s (at {h} m) is above the {max_w:.1} m/s limit: no spraying."),
        ),
        Some(w) => Check::new(
            "wind",
            Pass,
            format!("風速 {w:.1} m/s（高さ {h} m）、上限 {max_w:.1} m/s 以下。"),
            format!("Wind {w:.1} m/s (at {h} m), within the {max_w:.1} m/s limit."),
        ),
    });
    let max_h = cfg.max_height_above_crop_m;
    out.push(match inputs.height_above_crop_m {
        Some(x) if x.is_finite() && x > 0.0 && x <= max_h => Check::new(
            "height",
            Pass,
            format!("作物上 {x:.1} m、上限 {max_h:.1} m 以下。"),
            format!("{x:.1} m above the crop, within the {max_h:.1} m limit."),
        ),
        Some(x) if x.is_finite() && x > max_h => Check::new(
            "height",
            Block,
            format!("作物上 {x:.1} m は上限 {max_h:.1} m を超えています。"),
            format!("{x:.1} m above the crop is above the {max_h:.1} m limit."),
        ),
        _ => Check::new(
            "height",
            Block,
            "作物上の散布高度が入力されていません。".into(),
            "No spray height above the crop was entered.".into(),
        ),
    });
    let local = LocalSite::new(&inputs.site);
    let zone = cfg.approval_zone_m;
    let near: Vec<f64> = match &local {
        Some(l) => cfg
            .layers
            .houses_roads
            .iter()
            .map(|g| l.distance_to(g))
            .filter(|d| *d < zone)
            .collect(),
        None => Vec::new(),
    };
    out.push(if near.is_empty() {
        Check::new(
            "approval_zone",
            Pass,
            format!("{zone:.0} m 以内に登録された家屋・道路はありません。"),
            format!("No recorded house or road within {zone:.0} m."),
        )
    } else {
        let min = near.iter().copied().fold(f64::INFINITY, f64::min);
        Check::new(
            "approval_zone",
            Warn,
            format!(
                "{zone:.0} m 以内に家屋・道路が {} 件あります（最短 {min:.0} m）。承認の条件に従い、補助者を配置してください。",
                near.len()
            ),
            format!(
                "{} houses or roads within {zone:.0} m (nearest {min:.0} m): follow the approval's conditions and post an observer.",
                near.len()
            ),
        )
    });
    let approval = inputs.airspace_approval.trim();
    for (id, polys, ja, en) in [
        (
            "did",
            &cfg.layers.did,
            "人口集中地区 (DID)",
            "a densely inhabited district (DID)",
        ),
        (
            "airport",
            &cfg.layers.airports,
            "空港等の周辺空域",
            "an airport's surroundings",
        ),
    ] {
        let inside = local
            .as_ref()
            .is_some_and(|l| polys.iter().any(|p| l.touches(p)));
        out.push(match (inside, approval.is_empty()) {
            (false, _) => Check::new(
                id,
                Pass,
                format!("飛行範囲は{ja}にかかりません。"),
                format!("The flight does not enter {en}."),
            ),
            (true, true) => Check::new(
                id,
                Block,
                format!("飛行範囲が{ja}にかかります。許可・承認番号を記録するまで離陸できません。"),
                format!("The flight enters {en}: record the approval number before launching."),
            ),
            (true, false) => Check::new(
                id,
                Warn,
                format!("飛行範囲が{ja}にかかります。記録された承認: {approval}。"),
                format!("The flight enters {en}; recorded approval: {approval}."),
            ),
        });
    }
    let warn = cfg.expiry_warn_days;
    out.push(expiry_check(
        "licence",
        ("操縦者の技能証明", "pilot licence"),
        inputs.licence_expiry,
        today,
        warn,
    ));
    out.push(expiry_check(
        "permit",
        ("許可・承認", "MLIT permit and approval"),
        inputs.permit_expiry,
        today,
        warn,
    ));
    out.push(expiry_check(
        "registration",
        ("機体登録", "vehicle registration"),
        inputs.registration_expiry,
        today,
        warn,
    ));
    let n = inputs.site.sensitive_zones;
    out.push(match (n, inputs.neighbours_notified) {
        (0, _) => Check::new(
            "neighbours",
            Pass,
            "周知が必要な区域はありません。".into(),
            "No sensitive zone needs a notice.".into(),
        ),
        (_, true) => Check::new(
            "neighbours",
            Pass,
            format!("配慮が必要な区域 {n} 件の周辺へ周知済み。"),
            format!("Neighbours of {n} sensitive zones were notified."),
        ),
        (_, false) => Check::new(
            "neighbours",
            Block,
            format!("配慮が必要な区域が {n} 件あります。周辺への周知を済ませてください。"),
            format!("{n} sensitive zones: notify the neighbours first."),
        ),
    });
    let gap_max = cfg.max_field_gap_m;
    out.push(
        match local.as_ref().and_then(|l| field_gap(&l.fields, gap_max)) {
            None => Check::new(
                "separate_fields",
                Pass,
                "圃場はひとまとまりです。".into(),
                "The field is one contiguous area.".into(),
            ),
            Some(g) => Check::new(
                "separate_fields",
                Block,
                format!(
                    "圃場の一部が {g:.0} m 離れています（上限 {gap_max:.0} m）。着陸して運び、別の飛行として飛ばしてください。"
                ),
                format!(
                    "Parts of the field are {g:.0} m apart (limit {gap_max:.0} m): land, carry and fly them as separate flights."
                ),
            ),
        },
    );
    out
}

#[cfg(test)]
mod tests;
