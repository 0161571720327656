//! How variable rates look: the plan form's prescription fields, and on the plan page the
//! zones drawn as an SVG map (filled by rate, numbered, zones without spray hatched), their
//! legend and the table of rate, area and amount per zone with the total; the same zones as
//! features of the page's Leaflet map.

use geo::InteriorPoint;
use mission_planner::MultiPolygon;

use super::*;
use crate::i18n::rx::RxMsg;
use crate::storage::{PrescriptionRow, RxZoneRow};

/// Fill colours from the lowest rate to the highest (ColorBrewer YlGnBu, light to dark).
pub(crate) const RAMP: [&str; 7] = [
    "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84",
];

/// The fill of zones without spray (drawn hatched as well).
const NO_SPRAY: &str = "#f5f5f5";

/// What the prescription fields of the plan form hold.
pub(super) struct RxValues<'a> {
    /// The rate column.
    pub(super) rate_column: &'a str,
    /// `l-per-10a`, `l-per-ha` or `kg-per-10a`.
    pub(super) rate_unit: &'a str,
    /// `none` or `default`.
    pub(super) gap: &'a str,
    /// The default rate, as typed.
    pub(super) gap_rate: &'a str,
    /// The pump's full flow, as typed.
    pub(super) pump_full_flow_l_min: &'a str,
    /// The pump and nozzle lag, seconds.
    pub(super) rate_lag_s: f64,
}

/// The prescription fields of the plan form, holding `form`'s values (a file input cannot
/// be refilled: the refusal says so).
pub(super) fn rx_fields(lang: Lang, form: &RxValues<'_>) -> Markup {
    let unit = |v: &str| form.rate_unit == v;
    // What was sent, without the control characters that got it refused.
    let shown = |t: &str| clean_text(t, usize::MAX);
    let gap = |v: &str| form.gap == v;
    html! {
        fieldset {
            legend { (RxMsg::Section.text(lang)) }
            p.muted #rx-hint { (RxMsg::SectionHint.text(lang)) }
            label for="prescription" { (RxMsg::File.text(lang)) }
            input #prescription type="file" name="prescription" multiple aria-describedby="rx-hint"
                accept=".geojson,.json,.zip,.tif,.tiff,.xml,.shp,.dbf,.prj,.cpg,.bin,application/geo+json,application/zip,image/tiff";
            label for="rate_column" { (RxMsg::RateColumn.text(lang)) }
            input #rate_column type="text" name="rate_column" maxlength="100" autocomplete="off"
                aria-describedby="rate-column-hint" value=(shown(form.rate_column));
            p.muted #rate-column-hint { (RxMsg::RateColumnHint.text(lang)) }
            label for="rate_unit" { (RxMsg::RateUnit.text(lang)) }
            select #rate_unit name="rate_unit" {
                option value="l-per-10a" selected[unit("l-per-10a")] { "L/10a" }
                option value="l-per-ha" selected[unit("l-per-ha")] { "L/ha" }
                option value="kg-per-10a" selected[unit("kg-per-10a")] { "kg/10a" }
            }
            label for="gap" { (RxMsg::Gap.text(lang)) }
            select #gap name="gap" {
                option value="none" selected[gap("none")] { (RxMsg::GapNoSpray.text(lang)) }
                option value="default" selected[gap("default")] { (RxMsg::GapDefault.text(lang)) }
            }
            label for="gap_rate" { (RxMsg::GapRate.text(lang)) }
            input #gap_rate type="number" name="gap_rate" inputmode="decimal" step="any" min="0"
                value=(shown(form.gap_rate));
            label for="pump_full_flow_l_min" { (RxMsg::PumpFlow.text(lang)) }
            input #pump_full_flow_l_min type="number" name="pump_full_flow_l_min"
                inputmode="decimal" step="any" min="0.05" max="200" value=(shown(form.pump_full_flow_l_min));
            (super::number_input("rate_lag_s", RxMsg::RateLag.text(lang), form.rate_lag_s, "0.05"))
        }
    }
}

/// The fill of each zone: darker for higher rates (by rank among the distinct rates above 0),
/// [`NO_SPRAY`] for 0.
fn fills(zones: &[RxZoneRow]) -> Vec<&'static str> {
    let mut rates: Vec<f64> = zones.iter().map(|z| z.rate).filter(|r| *r > 0.0).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    zones
        .iter()
        .map(|z| {
            if z.rate <= 0.0 {
                return NO_SPRAY;
            }
            let rank = rates.iter().position(|r| *r == z.rate).unwrap_or(0);
            let i = if rates.len() > 1 {
                (rank * (RAMP.len() - 1) + (rates.len() - 1) / 2) / (rates.len() - 1)
            } else {
                RAMP.len() / 2
            };
            RAMP[i.min(RAMP.len() - 1)]
        })
        .collect()
}

/// The zone's name as the page shows it.
fn zone_name(z: &RxZoneRow, lang: Lang) -> String {
    if z.is_gap {
        RxMsg::GapZone.text(lang).to_owned()
    } else {
        z.name.clone()
    }
}

/// The zone's rate as the page shows it: the number and unit, or "no spray".
fn rate_text(rate: f64, unit: &str, lang: Lang) -> String {
    if rate <= 0.0 {
        RxMsg::NoSpray.text(lang).to_owned()
    } else {
        format!("{} {unit}", short_rate(rate))
    }
}

/// A rate with as many decimals as it needs (at most three).
fn short_rate(rate: f64) -> String {
    let s = format!("{rate:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

use crate::services::flights::as_applied::zone_shape as geometry;

/// Longitude/latitude to the SVG's units: north up, metres-like (longitude scaled by the
/// cosine of the latitude), `WIDTH` wide with a margin.
pub(crate) struct Frame {
    x0: f64,
    y1: f64,
    k: f64,
    cos: f64,
    /// The SVG's height in its own units.
    pub(crate) height: f64,
}

/// The SVG's width in its own units (it is drawn at the width of its box).
pub(crate) const WIDTH: f64 = 320.0;
const MARGIN: f64 = 8.0;

impl Frame {
    /// The frame that holds every one of `all` (WGS84); `None` when they are empty.
    pub(crate) fn new(all: &[MultiPolygon]) -> Option<Frame> {
        use geo::BoundingRect;
        let rects: Vec<_> = all.iter().filter_map(BoundingRect::bounding_rect).collect();
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for r in &rects {
            (x0, y0) = (x0.min(r.min().x), y0.min(r.min().y));
            (x1, y1) = (x1.max(r.max().x), y1.max(r.max().y));
        }
        let cos = ((y0 + y1) / 2.0).to_radians().cos();
        let (w, h) = ((x1 - x0) * cos, y1 - y0);
        if rects.is_empty() || !(w > 0.0 && h > 0.0) {
            return None;
        }
        // A tall field is drawn at most as tall as it is wide, so a phone sees it whole.
        let k = ((WIDTH - 2.0 * MARGIN) / w).min((WIDTH - 2.0 * MARGIN) / h);
        Some(Frame {
            x0,
            y1,
            k,
            cos,
            height: h * k + 2.0 * MARGIN,
        })
    }

    /// A longitude/latitude in the SVG's units.
    pub(crate) fn point(&self, lon: f64, lat: f64) -> (f64, f64) {
        (
            MARGIN + (lon - self.x0) * self.cos * self.k,
            MARGIN + (self.y1 - lat) * self.k,
        )
    }

    /// An SVG path (even-odd, so holes stay open) of `mp`.
    pub(crate) fn path(&self, mp: &MultiPolygon) -> String {
        let mut d = String::new();
        for p in &mp.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for (i, c) in ring.coords().enumerate() {
                    let (x, y) = self.point(c.x, c.y);
                    d.push_str(&format!("{}{x:.1},{y:.1} ", if i == 0 { 'M' } else { 'L' }));
                }
                d.push_str("Z ");
            }
        }
        d
    }
}

/// The swatch of a zone in the legend: its fill, hatched when it gets no spray, and its
/// number.
fn swatch(n: i64, fill: &str, hatched: bool) -> Markup {
    html! {
        svg width="28" height="20" viewBox="0 0 28 20" aria-hidden="true" focusable="false" {
            rect x="1" y="1" width="26" height="18" fill=(fill) stroke="#333" {}
            @if hatched { rect x="1" y="1" width="26" height="18" fill="url(#rx-hatch)" {} }
            text x="14" y="14.5" text-anchor="middle" font-size="12" font-weight="bold" fill=(ink(fill)) { (n) }
        }
    }
}

/// Text colour readable on `fill`: white on the dark end of the ramp, black elsewhere.
pub(crate) fn ink(fill: &str) -> &'static str {
    if RAMP[4..].contains(&fill) {
        "#fff"
    } else {
        "#000"
    }
}

/// The plan page's prescription section: the zone map with its legend, and the zone table
/// beside it (below it on a phone).
pub(super) fn zone_section(lang: Lang, rx: &PrescriptionRow, zones: &[RxZoneRow]) -> Markup {
    let unit = rx.rate_unit.as_str();
    let mass = super::rx::unit_of_label(unit).is_some_and(mission_planner::RateUnit::is_mass);
    let amount_col = if mass {
        RxMsg::AmountKg
    } else {
        RxMsg::AmountL
    };
    let fills = fills(zones);
    let shapes: Vec<MultiPolygon> = zones.iter().map(|z| geometry(&z.geojson)).collect();
    let frame = Frame::new(&shapes);
    let total_a: f64 = zones.iter().map(|z| z.sprayable_ha * 100.0).sum();
    let total: f64 = zones.iter().map(|z| z.amount).sum();
    html! {
        section.rx aria-labelledby="rx-title" {
            h2 #rx-title { (RxMsg::Zones.text(lang)) }
            p { (RxMsg::FileName.text(lang)) ": " code { (rx.file_name) }
                @if let Some(c) = &rx.rate_column { " — " (RxMsg::RateColumn.text(lang)) ": " code { (c) } } }
            div.rx-layout {
                @if let Some(fr) = &frame {
                    figure.rx-map {
                        svg #rx-svg viewBox=(format!("0 0 {WIDTH} {:.1}", fr.height)) role="img"
                            aria-labelledby="rx-svg-title rx-svg-desc" preserveAspectRatio="xMidYMid meet" {
                            title #rx-svg-title { (RxMsg::SvgTitle.text(lang)) }
                            desc #rx-svg-desc { (RxMsg::SvgDesc.text(lang)) }
                            defs {
                                pattern #rx-hatch width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                                    line x1="0" y1="0" x2="0" y2="6" stroke="#616161" stroke-width="1.5" {}
                                }
                            }
                            @for (i, z) in zones.iter().enumerate() {
                                g.rx-zone {
                                    title { (z.position) ". " (zone_name(z, lang)) ": " (rate_text(z.rate, unit, lang)) }
                                    path d=(fr.path(&shapes[i])) fill=(fills[i]) fill-rule="evenodd" stroke="#263238" stroke-width="1" {}
                                    @if z.rate <= 0.0 {
                                        path d=(fr.path(&shapes[i])) fill="url(#rx-hatch)" fill-rule="evenodd" {}
                                    }
                                    @if let Some(p) = shapes[i].interior_point() {
                                        @let (x, y) = fr.point(p.x(), p.y());
                                        text x=(format!("{x:.1}")) y=(format!("{:.1}", y + 5.0)) text-anchor="middle"
                                            font-size="14" font-weight="bold" fill=(ink(fills[i]))
                                            stroke=(if ink(fills[i]) == "#fff" { "#000" } else { "#fff" })
                                            stroke-width="0.6" paint-order="stroke" { (z.position) }
                                    }
                                }
                            }
                        }
                        figcaption {
                            h3 { (RxMsg::Legend.text(lang)) }
                            ul.legend { @for (i, z) in zones.iter().enumerate() {
                                li { (swatch(z.position, fills[i], z.rate <= 0.0)) " "
                                    (z.position) ". " (zone_name(z, lang)) " — " (rate_text(z.rate, unit, lang)) }
                            } }
                        }
                    }
                }
                div.scroll {
                    table.rx-table {
                        caption { (RxMsg::TableCaption.text(lang)) }
                        thead { tr {
                            th scope="col" { (RxMsg::ZoneCol.text(lang)) }
                            th scope="col" { (RxMsg::RateCol.text(lang)) " (" (unit) ")" }
                            th scope="col" { (RxMsg::AreaA.text(lang)) }
                            th scope="col" { (amount_col.text(lang)) }
                        } }
                        tbody { @for z in zones {
                            tr {
                                th scope="row" { (z.position) ". " (zone_name(z, lang)) }
                                td.num { (rate_text(z.rate, unit, lang)) }
                                td.num { (format!("{:.1}", z.sprayable_ha * 100.0)) }
                                td.num { (format!("{:.2}", z.amount)) }
                            }
                        } }
                        tfoot { tr {
                            th scope="row" colspan="2" { (RxMsg::Total.text(lang)) }
                            td.num { (format!("{total_a:.1}")) }
                            td.num { (format!("{total:.2}")) }
                        } }
                    }
                }
            }
        }
    }
}

/// The zones as features of the plan page's map (`kind: "rx_zone"`, with the fill and the
/// number the table shows), drawn under the flight path.
pub(super) fn zone_features(lang: Lang, unit: &str, zones: &[RxZoneRow]) -> Vec<Value> {
    let fills = fills(zones);
    zones
        .iter()
        .zip(fills)
        .map(|(z, fill)| {
            json!({
                "type": "Feature",
                "properties": {
                    "kind": "rx_zone",
                    "label": z.position,
                    "name": format!("{}. {} — {}", z.position, zone_name(z, lang), rate_text(z.rate, unit, lang)),
                    "fill": fill,
                    "no_spray": z.rate <= 0.0,
                },
                "geometry": serde_json::from_str::<Value>(&z.geojson).unwrap_or(Value::Null),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(position: i64, rate: f64) -> RxZoneRow {
        RxZoneRow {
            plan_id: 1,
            position,
            name: format!("z{position}"),
            rate,
            is_gap: false,
            sprayable_ha: 0.1,
            amount: rate,
            amount_pumped: rate,
            geojson: "{}".into(),
        }
    }

    #[test]
    fn higher_rates_are_darker_and_no_spray_is_its_own() {
        let zones = [zone(1, 0.8), zone(2, 1.6), zone(3, 0.0), zone(4, 0.8)];
        let f = fills(&zones);
        assert_eq!(f[0], RAMP[0]);
        assert_eq!(f[1], RAMP[RAMP.len() - 1]);
        assert_eq!(f[2], NO_SPRAY);
        assert_eq!(f[3], f[0], "one rate, one colour");
        assert_eq!(rate_text(0.0, "L/10a", Lang::Ja), "散布なし");
        assert_eq!(rate_text(1.25, "L/10a", Lang::En), "1.25 L/10a");
    }

    #[test]
    fn stored_geometry_reads_back_with_its_holes() {
        let g = r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[2,0],[2,2],[0,2],[0,0]],[[0.5,0.5],[1,0.5],[1,1],[0.5,0.5]]]]}"#;
        let mp = geometry(g);
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert!(geometry("not json").0.is_empty());
    }
}
