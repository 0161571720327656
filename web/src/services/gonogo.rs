//! The go/no-go checklist of a launch: configuration ([`GoNoGoConfig`], TOML with documented
//! defaults), the launch's inputs ([`GoNoGoInputs`]) and [`evaluate`], a pure function that
//! returns one [`Check`] per condition (wind, height, 30 m zone, DID, airports, expiry dates,
//! neighbour notification, non-adjacent fields). Distances are in metres in a local projection
//! ([`mission_planner::LocalFrame`]), as the planner works.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use geo::{Coord, Distance, Euclidean, Geometry, Intersects, LineString, Point, Polygon};
use mission_planner::LocalFrame;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::i18n::{Lang, Msg};

/// Why a go/no-go configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GoNoGoError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key.
    #[error("go/no-go configuration {path}: {source}")]
    Toml {
        /// The file.
        path: String,
        /// Why.
        source: toml::de::Error,
    },
    /// A layer is not GeoJSON with polygons, lines or points.
    #[error("layer {path}: {reason}")]
    Layer {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Go/no-go thresholds and map layers; every field has the documented default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoNoGoConfig {
    /// Highest wind speed for spraying, m/s (measured at `wind_height_m`). Default 3.0.
    pub max_wind_mps: f64,
    /// Height the wind is measured at, m. Default 1.5.
    pub wind_height_m: f64,
    /// Highest planned spray height above the crop, m. Default 3.0.
    pub max_height_above_crop_m: f64,
    /// Houses and roads closer than this to the flight are flagged, m. Default 30.
    pub approval_zone_m: f64,
    /// Field parts farther apart than this must be flown as separate flights, m. Default 10.
    pub max_field_gap_m: f64,
    /// Expiry dates closer than this many days give a warning. Default 30.
    pub expiry_warn_days: i64,
    /// A URL answering JSON with the wind speed (m/s); `None` = the pilot enters the wind.
    pub weather_station_url: Option<String>,
    /// JSON pointer of the wind speed in the station's answer. Default `/wind_mps`.
    pub weather_wind_pointer: String,
    /// A station reading is reused for this many seconds. Default 60.
    pub weather_max_age_s: u64,
    /// GeoJSON of 人口集中地区 (DID) polygons.
    pub did_geojson: Option<PathBuf>,
    /// GeoJSON of airport surroundings (polygons).
    pub airport_geojson: Option<PathBuf>,
    /// GeoJSON of houses and roads (points, lines or polygons).
    pub houses_roads_geojson: Option<PathBuf>,
    /// The layers read from the files above.
    #[serde(skip)]
    pub layers: Layers,
}

/// Map layers of the go/no-go, in WGS84 (x = lon, y = lat).
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// DID polygons.
    pub did: Vec<Polygon>,
    /// Airport polygons.
    pub airports: Vec<Polygon>,
    /// Houses and roads.
    pub houses_roads: Vec<Geometry>,
}

impl Default for GoNoGoConfig {
    fn default() -> Self {
        GoNoGoConfig {
            max_wind_mps: 3.0,
            wind_height_m: 1.5,
            max_height_above_crop_m: 3.0,
            approval_zone_m: 30.0,
            max_field_gap_m: 10.0,
            expiry_warn_days: 30,
            weather_station_url: None,
            weather_wind_pointer: "/wind_mps".to_owned(),
            weather_max_age_s: 60,
            did_geojson: None,
            airport_geojson: None,
            houses_roads_geojson: None,
            layers: Layers::default(),
        }
    }
}

impl GoNoGoConfig {
    /// Reads a TOML file and the GeoJSON layers it names (relative to the TOML's folder).
    ///
    /// # Errors
    /// An unreadable file, bad TOML or a layer that is not GeoJSON.
    pub fn load(path: &Path) -> Result<GoNoGoConfig, GoNoGoError> {
        let text = std::fs::read_to_string(path).map_err(|source| GoNoGoError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut cfg: GoNoGoConfig = toml::from_str(&text).map_err(|source| GoNoGoError::Toml {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let read = |p: &Option<PathBuf>| -> Result<Vec<Geometry>, GoNoGoError> {
            let Some(p) = p else { return Ok(Vec::new()) };
            let full = base.join(p);
            let text = std::fs::read_to_string(&full).map_err(|source| GoNoGoError::Read {
                path: full.display().to_string(),
                source,
            })?;
            let v: Value = serde_json::from_str(&text).map_err(|e| GoNoGoError::Layer {
                path: full.display().to_string(),
                reason: e.to_string(),
            })?;
            Ok(geometries(&v, |_| true))
        };
        let polys = |g: Vec<Geometry>| {
            g.into_iter()
                .flat_map(|g| match g {
                    Geometry::Polygon(p) => vec![p],
                    Geometry::MultiPolygon(m) => m.0,
                    _ => Vec::new(),
                })
                .collect::<Vec<_>>()
        };
        cfg.layers = Layers {
            did: polys(read(&cfg.did_geojson)?),
            airports: polys(read(&cfg.airport_geojson)?),
            houses_roads: read(&cfg.houses_roads_geojson)?,
        };
        Ok(cfg)
    }

    /// The wind speed in a weather station's JSON answer, if present.
    pub fn wind_from_station(&self, answer: &Value) -> Option<f64> {
        answer
            .pointer(&self.weather_wind_pointer)
            .and_then(Value::as_f64)
            .filter(|w| w.is_finite() && *w >= 0.0)
    }
}

/// The geometries of a GeoJSON FeatureCollection, Feature or bare geometry whose feature
/// properties pass `keep` (WGS84, x = lon, y = lat).
pub fn geometries(v: &Value, keep: impl Fn(&Value) -> bool + Copy) -> Vec<Geometry> {
    match v["type"].as_str() {
        Some("FeatureCollection") => v["features"]
            .as_array()
            .map(|fs| fs.iter().flat_map(|f| geometries(f, keep)).collect())
            .unwrap_or_default(),
        Some("Feature") if keep(&v["properties"]) => geometry(&v["geometry"]).into_iter().collect(),
        Some("Feature") => Vec::new(),
        _ => geometry(v).into_iter().collect(),
    }
}

fn coord(v: &Value) -> Option<Coord> {
    Some(Coord {
        x: v.get(0)?.as_f64()?,
        y: v.get(1)?.as_f64()?,
    })
}

fn line(v: &Value) -> Option<LineString> {
    v.as_array()?
        .iter()
        .map(coord)
        .collect::<Option<Vec<_>>>()
        .map(LineString::new)
}

fn polygon(v: &Value) -> Option<Polygon> {
    let mut rings = v.as_array()?.iter().map(line);
    let exterior = rings.next()??;
    let interiors = rings.collect::<Option<Vec<_>>>()?;
    Some(Polygon::new(exterior, interiors))
}

fn geometry(g: &Value) -> Option<Geometry> {
    let c = &g["coordinates"];
    Some(match g["type"].as_str()? {
        "Point" => Geometry::Point(Point(coord(c)?)),
        "LineString" => Geometry::LineString(line(c)?),
        "Polygon" => Geometry::Polygon(polygon(c)?),
        "MultiPolygon" => Geometry::MultiPolygon(geo::MultiPolygon(
            c.as_array()?
                .iter()
                .map(polygon)
                .collect::<Option<Vec<_>>>()?,
        )),
        "MultiLineString" => Geometry::MultiLineString(geo::MultiLineString(
            c.as_array()?.iter().map(line).collect::<Option<Vec<_>>>()?,
        )),
        _ => return None,
    })
}

/// Where the flight goes, from the stored field and plan.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// The field's polygons (WGS84).
    pub fields: Vec<Polygon>,
    /// The sortie's path (WGS84).
    pub path: Vec<LineString>,
    /// Number of sensitive zones (houses, gardens, beehives … that need a notice).
    pub sensitive_zones: usize,
}

impl Site {
    /// The site of sortie `sortie` from the stored field GeoJSON and plan GeoJSON.
    pub fn from_geojson(field: &Value, plan: &Value, sortie: usize) -> Site {
        let kind = |k: &'static str| move |p: &Value| p["kind"] == k;
        let mut fields = Vec::new();
        for g in geometries(field, kind("field")) {
            match g {
                Geometry::Polygon(p) => fields.push(p),
                Geometry::MultiPolygon(m) => fields.extend(m.0),
                _ => {}
            }
        }
        let path = geometries(plan, |p| {
            p["kind"] == "path" && p["sortie"].as_u64() == Some(sortie as u64)
        })
        .into_iter()
        .filter_map(|g| match g {
            Geometry::LineString(l) => Some(l),
            _ => None,
        })
        .collect();
        Site {
            fields,
            path,
            sensitive_zones: geometries(field, kind("sensitive")).len(),
        }
    }
}

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

/// The site in local metres: field polygons and path.
struct LocalSite {
    fields: Vec<Polygon>,
    path: Vec<LineString>,
    frame: LocalFrame,
}

impl LocalSite {
    fn new(site: &Site) -> Option<LocalSite> {
        let first = site
            .fields
            .first()
            .and_then(|p| p.exterior().0.first().copied())
            .or_else(|| site.path.first().and_then(|l| l.0.first().copied()))?;
        let frame = LocalFrame::new(first.x, first.y);
        Some(LocalSite {
            fields: site
                .fields
                .iter()
                .map(|p| project_poly(&frame, p))
                .collect(),
            path: site.path.iter().map(|l| project_line(&frame, l)).collect(),
            frame,
        })
    }

    /// Shortest distance from the site (fields and path) to `g` (WGS84), metres.
    fn distance_to(&self, g: &Geometry) -> f64 {
        let g = project(&self.frame, g);
        let mut d = f64::INFINITY;
        for f in &self.fields {
            d = d.min(Euclidean.distance(&Geometry::Polygon(f.clone()), &g));
        }
        for l in &self.path {
            d = d.min(Euclidean.distance(&Geometry::LineString(l.clone()), &g));
        }
        d
    }

    /// True when the site touches polygon `p` (WGS84).
    fn touches(&self, p: &Polygon) -> bool {
        let p = project_poly(&self.frame, p);
        self.fields.iter().any(|f| f.intersects(&p)) || self.path.iter().any(|l| l.intersects(&p))
    }
}

fn project_line(frame: &LocalFrame, l: &LineString) -> LineString {
    LineString::new(l.0.iter().map(|c| frame.to_local(*c)).collect())
}

fn project_poly(frame: &LocalFrame, p: &Polygon) -> Polygon {
    Polygon::new(
        project_line(frame, p.exterior()),
        p.interiors()
            .iter()
            .map(|r| project_line(frame, r))
            .collect(),
    )
}

fn project(frame: &LocalFrame, g: &Geometry) -> Geometry {
    match g {
        Geometry::Point(p) => Geometry::Point(Point(frame.to_local(p.0))),
        Geometry::LineString(l) => Geometry::LineString(project_line(frame, l)),
        Geometry::Polygon(p) => Geometry::Polygon(project_poly(frame, p)),
        Geometry::MultiPolygon(m) => Geometry::MultiPolygon(geo::MultiPolygon(
            m.0.iter().map(|p| project_poly(frame, p)).collect(),
        )),
        Geometry::MultiLineString(m) => Geometry::MultiLineString(geo::MultiLineString(
            m.0.iter().map(|l| project_line(frame, l)).collect(),
        )),
        other => other.clone(),
    }
}

/// Largest gap between groups of field polygons, metres: polygons closer than `max_gap` are one
/// group; `None` when the field is one group.
fn field_gap(fields: &[Polygon], max_gap: f64) -> Option<f64> {
    if fields.len() < 2 {
        return None;
    }
    // Single-linkage grouping: grow the group of the first polygon.
    let mut in_group = vec![false; fields.len()];
    in_group[0] = true;
    loop {
        let mut grew = false;
        for i in 0..fields.len() {
            if in_group[i] {
                continue;
            }
            let near = (0..fields.len())
                .filter(|&j| in_group[j])
                .any(|j| Euclidean.distance(&fields[i], &fields[j]) <= max_gap);
            if near {
                in_group[i] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let mut gap = None::<f64>;
    for i in (0..fields.len()).filter(|&i| !in_group[i]) {
        let d = (0..fields.len())
            .filter(|&j| in_group[j])
            .map(|j| Euclidean.distance(&fields[i], &fields[j]))
            .fold(f64::INFINITY, f64::min);
        gap = Some(gap.map_or(d, |g| g.min(d)));
    }
    gap
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A square of `side_m` metres with its south-west corner `east_m` east of (140, 36.9).
    fn square(east_m: f64, side_m: f64) -> Polygon {
        let f = LocalFrame::new(140.0, 36.9);
        let c = |x: f64, y: f64| f.to_wgs84(Coord { x, y });
        Polygon::new(
            LineString::new(vec![
                c(east_m, 0.0),
                c(east_m + side_m, 0.0),
                c(east_m + side_m, side_m),
                c(east_m, side_m),
                c(east_m, 0.0),
            ]),
            vec![],
        )
    }

    fn good() -> GoNoGoInputs {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1);
        let later = NaiveDate::from_ymd_opt(2027, 6, 1);
        GoNoGoInputs {
            today,
            wind_mps: Some(2.0),
            wind_source: "entered".into(),
            height_above_crop_m: Some(2.0),
            neighbours_notified: false,
            airspace_approval: String::new(),
            licence_expiry: later,
            permit_expiry: later,
            registration_expiry: later,
            site: Site {
                fields: vec![square(0.0, 100.0)],
                path: vec![],
                sensitive_zones: 0,
            },
        }
    }

    fn outcome(cfg: &GoNoGoConfig, i: &GoNoGoInputs, id: &str) -> Outcome {
        evaluate(cfg, i)
            .into_iter()
            .find(|c| c.id == id)
            .unwrap()
            .outcome
    }

    #[test]
    fn all_good_passes_every_check() {
        let checks = evaluate(&GoNoGoConfig::default(), &good());
        assert_eq!(checks.len(), 10);
        for c in &checks {
            assert_eq!(c.outcome, Outcome::Pass, "{c:?}");
            assert!(!c.detail(Lang::Ja).is_empty() && !c.detail(Lang::En).is_empty());
        }
        assert!(!blocked(&checks) && !has_warnings(&checks));
    }

    #[test]
    fn wind_above_limit_or_missing_blocks() {
        let cfg = GoNoGoConfig::default();
        let mut i = good();
        i.wind_mps = Some(3.0);
        assert_eq!(outcome(&cfg, &i, "wind"), Outcome::Pass);
        i.wind_mps = Some(3.1);
        assert_eq!(outcome(&cfg, &i, "wind"), Outcome::Block);
        i.wind_mps = None;
        assert_eq!(outcome(&cfg, &i, "wind"), Outcome::Block);
        i.wind_mps = Some(f64::NAN);
        assert_eq!(outcome(&cfg, &i, "wind"), Outcome::Block);
        let lax = GoNoGoConfig {
            max_wind_mps: 5.0,
            ..GoNoGoConfig::default()
        };
        i.wind_mps = Some(4.0);
        assert_eq!(outcome(&lax, &i, "wind"), Outcome::Pass);
    }

    #[test]
    fn height_above_limit_blocks() {
        let cfg = GoNoGoConfig::default();
        let mut i = good();
        i.height_above_crop_m = Some(3.5);
        assert_eq!(outcome(&cfg, &i, "height"), Outcome::Block);
        i.height_above_crop_m = None;
        assert_eq!(outcome(&cfg, &i, "height"), Outcome::Block);
    }

    #[test]
    fn houses_inside_the_zone_are_flagged() {
        let f = LocalFrame::new(140.0, 36.9);
        let house = |x: f64| Geometry::Point(Point(f.to_wgs84(Coord { x, y: 50.0 })));
        let mut cfg = GoNoGoConfig::default();
        cfg.layers.houses_roads = vec![house(145.0)];
        assert_eq!(outcome(&cfg, &good(), "approval_zone"), Outcome::Pass);
        cfg.layers.houses_roads = vec![house(145.0), house(120.0)];
        let c = evaluate(&cfg, &good());
        let z = c.iter().find(|c| c.id == "approval_zone").unwrap();
        assert_eq!(z.outcome, Outcome::Warn);
        assert!(
            z.detail_en.contains("1 houses") && z.detail_en.contains("nearest 20 m"),
            "{z:?}"
        );
    }

    #[test]
    fn did_and_airport_block_without_approval() {
        for id in ["did", "airport"] {
            let mut cfg = GoNoGoConfig::default();
            let zone = vec![square(80.0, 100.0)];
            let far = vec![square(500.0, 100.0)];
            if id == "did" {
                cfg.layers.did = far;
            } else {
                cfg.layers.airports = far;
            }
            let mut i = good();
            assert_eq!(outcome(&cfg, &i, id), Outcome::Pass);
            if id == "did" {
                cfg.layers.did = zone;
            } else {
                cfg.layers.airports = zone;
            }
            assert_eq!(outcome(&cfg, &i, id), Outcome::Block);
            i.airspace_approval = "国空航第1234号".into();
            assert_eq!(outcome(&cfg, &i, id), Outcome::Warn);
        }
    }

    #[test]
    fn expired_or_missing_credentials_block_and_soon_warns() {
        let cfg = GoNoGoConfig::default();
        for id in ["licence", "permit", "registration"] {
            let set = |i: &mut GoNoGoInputs, d: Option<NaiveDate>| match id {
                "licence" => i.licence_expiry = d,
                "permit" => i.permit_expiry = d,
                _ => i.registration_expiry = d,
            };
            let mut i = good();
            set(&mut i, NaiveDate::from_ymd_opt(2026, 5, 31));
            assert_eq!(outcome(&cfg, &i, id), Outcome::Block, "{id} expired");
            set(&mut i, None);
            assert_eq!(outcome(&cfg, &i, id), Outcome::Block, "{id} missing");
            set(&mut i, NaiveDate::from_ymd_opt(2026, 6, 20));
            assert_eq!(outcome(&cfg, &i, id), Outcome::Warn, "{id} soon");
            set(&mut i, NaiveDate::from_ymd_opt(2026, 6, 1));
            assert_eq!(outcome(&cfg, &i, id), Outcome::Warn, "{id} today");
        }
    }

    #[test]
    fn sensitive_zones_need_a_notice() {
        let cfg = GoNoGoConfig::default();
        let mut i = good();
        i.site.sensitive_zones = 2;
        assert_eq!(outcome(&cfg, &i, "neighbours"), Outcome::Block);
        i.neighbours_notified = true;
        assert_eq!(outcome(&cfg, &i, "neighbours"), Outcome::Pass);
    }

    #[test]
    fn fields_apart_must_fly_separately() {
        let cfg = GoNoGoConfig::default();
        let mut i = good();
        // 5 m apart: one area; 40 m apart: land and carry.
        i.site.fields = vec![square(0.0, 100.0), square(105.0, 50.0)];
        assert_eq!(outcome(&cfg, &i, "separate_fields"), Outcome::Pass);
        i.site.fields = vec![square(0.0, 100.0), square(105.0, 50.0), square(195.0, 50.0)];
        let c = evaluate(&cfg, &i);
        let s = c.iter().find(|c| c.id == "separate_fields").unwrap();
        assert_eq!(s.outcome, Outcome::Block);
        assert!(s.detail_en.contains("40 m apart"), "{s:?}");
    }

    #[test]
    fn config_from_toml_with_layers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("did.geojson"),
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
            "geometry":{"type":"Polygon","coordinates":[[[140,36.9],[140.01,36.9],[140.01,36.91],[140,36.9]]]}}]}"#,
        )
        .unwrap();
        let p = dir.path().join("gonogo.toml");
        std::fs::write(&p, "max_wind_mps = 2.5\ndid_geojson = \"did.geojson\"\n").unwrap();
        let cfg = GoNoGoConfig::load(&p).unwrap();
        assert_eq!(cfg.max_wind_mps, 2.5);
        assert_eq!(cfg.approval_zone_m, 30.0);
        assert_eq!(cfg.layers.did.len(), 1);
        std::fs::write(&p, "max_wind = 2.5\n").unwrap();
        assert!(matches!(
            GoNoGoConfig::load(&p),
            Err(GoNoGoError::Toml { .. })
        ));
        let station = serde_json::json!({"wind_mps": 1.2});
        assert_eq!(cfg.wind_from_station(&station), Some(1.2));
        assert_eq!(cfg.wind_from_station(&serde_json::json!({})), None);
    }

    #[test]
    fn the_sample_config_is_the_defaults() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/gonogo.toml");
        let cfg = GoNoGoConfig::load(&p).unwrap();
        let d = GoNoGoConfig::default();
        assert_eq!(
            (
                cfg.max_wind_mps,
                cfg.wind_height_m,
                cfg.max_height_above_crop_m
            ),
            (d.max_wind_mps, d.wind_height_m, d.max_height_above_crop_m)
        );
        assert_eq!(
            (
                cfg.approval_zone_m,
                cfg.max_field_gap_m,
                cfg.expiry_warn_days
            ),
            (d.approval_zone_m, d.max_field_gap_m, d.expiry_warn_days)
        );
        assert_eq!(cfg.weather_wind_pointer, d.weather_wind_pointer);
    }

    #[test]
    fn site_from_stored_geojson() {
        let field = serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"kind": "field"}, "geometry":
                {"type": "Polygon", "coordinates": [[[140.0, 36.9], [140.001, 36.9], [140.001, 36.901], [140.0, 36.9]]]}},
            {"type": "Feature", "properties": {"kind": "sensitive"}, "geometry":
                {"type": "Polygon", "coordinates": [[[140.0, 36.9], [140.0001, 36.9], [140.0001, 36.9001], [140.0, 36.9]]]}}
        ]});
        let plan = serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"kind": "path", "sortie": 1}, "geometry":
                {"type": "LineString", "coordinates": [[140.0, 36.9], [140.001, 36.9]]}},
            {"type": "Feature", "properties": {"kind": "path", "sortie": 2}, "geometry":
                {"type": "LineString", "coordinates": [[140.0, 36.9], [140.001, 36.9]]}}
        ]});
        let s = Site::from_geojson(&field, &plan, 1);
        assert_eq!((s.fields.len(), s.path.len(), s.sensitive_zones), (1, 1, 1));
    }

    proptest! {
        /// Two squares `gap` metres apart are one area exactly when the gap is within the limit.
        #[test]
        fn field_gap_matches_the_distance(gap in 0.5f64..200.0, side in 5.0f64..100.0) {
            let cfg = GoNoGoConfig::default();
            let mut i = good();
            i.site.fields = vec![square(0.0, side), square(side + gap, side)];
            let o = outcome(&cfg, &i, "separate_fields");
            if gap <= cfg.max_field_gap_m - 0.01 {
                prop_assert_eq!(o, Outcome::Pass);
            } else if gap >= cfg.max_field_gap_m + 0.01 {
                prop_assert_eq!(o, Outcome::Block);
            }
        }

        /// The wind check blocks exactly above the configured limit.
        #[test]
        fn wind_blocks_exactly_above_limit(w in 0.0f64..20.0, max in 0.5f64..10.0) {
            let cfg = GoNoGoConfig { max_wind_mps: max, ..GoNoGoConfig::default() };
            let mut i = good();
            i.wind_mps = Some(w);
            let want = if w > max { Outcome::Block } else { Outcome::Pass };
            prop_assert_eq!(outcome(&cfg, &i, "wind"), want);
        }
    }
}
