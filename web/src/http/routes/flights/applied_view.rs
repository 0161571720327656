//! The flight page's as-applied section: the map of the applied rate per zone with its
//! legend, the table beside it with the same figures (target, applied, difference, area,
//! amounts), where the figures come from, and the GeoJSON and ISOXML downloads.

use geo::{InteriorPoint, MultiPolygon};
use maud::{Markup, html};
use serde_json::Value;

use crate::http::routes::fields::rx_view::{Frame, RAMP, WIDTH, ink};
use crate::i18n::Lang;
use crate::i18n::applied::AppliedMsg;
use crate::i18n::rx::RxMsg;
use crate::services::flights::as_applied::{AppliedSource, AsApplied, ZoneApplied, zone_shape};

/// The legend's colours, lightest (lowest rate) first.
const BINS: [&str; 5] = [RAMP[0], RAMP[2], RAMP[3], RAMP[5], RAMP[6]];

/// The fill of a part whose rate was not measured (drawn hatched as well).
const UNMEASURED: &str = "#e0e0e0";

/// The rate scale of the legend: from the lowest to the highest target or applied rate.
struct Scale {
    lo: f64,
    hi: f64,
}

impl Scale {
    fn of(a: &AsApplied) -> Option<Scale> {
        let rates = a
            .zones
            .iter()
            .flat_map(|z| [Some(z.rate), z.applied_rate])
            .flatten()
            .filter(|r| r.is_finite() && *r > 0.0);
        let (lo, hi) = rates.fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
        (lo <= hi).then_some(Scale { lo, hi })
    }

    fn bin(&self, rate: f64) -> usize {
        if self.hi <= self.lo {
            return BINS.len() / 2;
        }
        let f = (rate - self.lo) / (self.hi - self.lo);
        ((f * BINS.len() as f64) as usize).min(BINS.len() - 1)
    }

    fn bounds(&self, i: usize) -> (f64, f64) {
        let step = (self.hi - self.lo) / BINS.len() as f64;
        (self.lo + step * i as f64, self.lo + step * (i + 1) as f64)
    }
}

fn zone_name(z: &ZoneApplied, lang: Lang) -> String {
    if z.is_gap {
        RxMsg::GapZone.text(lang).to_owned()
    } else {
        z.name.clone()
    }
}

fn rate(r: Option<f64>, lang: Lang) -> String {
    r.map_or_else(
        || AppliedMsg::NotMeasured.text(lang).to_owned(),
        |r| format!("{r:.2}"),
    )
}

/// The sprayed part of each zone, from the stored as-applied GeoJSON (zones in order).
fn parts(geojson: &Value) -> Vec<MultiPolygon> {
    geojson["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["properties"]["outside"].as_bool() != Some(true))
        .map(|f| zone_shape(&f["geometry"].to_string()))
        .collect()
}

/// The as-applied section of a prescription flight's page.
pub(super) fn section(lang: Lang, id: i64, a: &AsApplied, geojson: &Value) -> Markup {
    let kg = a.unit.starts_with("kg");
    let amount_unit = if kg { "kg" } else { "L" };
    let measured = a.source == AppliedSource::PumpOutput;
    let shapes = parts(geojson);
    let frame = Frame::new(&shapes);
    let scale = Scale::of(a);
    let fill = |z: &ZoneApplied| match (z.applied_rate, &scale) {
        (Some(r), Some(s)) => BINS[s.bin(r)],
        _ => UNMEASURED,
    };
    html! {
        section aria-labelledby="as-applied" {
            h2 #as-applied { (RxMsg::AsApplied.text(lang)) }
            p #as-applied-source { @if measured { (AppliedMsg::FromPump.text(lang)) } @else { (AppliedMsg::OnOffOnly.text(lang)) } }
            div.rx-layout {
                @if let Some(fr) = &frame {
                    figure.rx-map {
                        svg #applied-svg viewBox=(format!("0 0 {WIDTH} {:.1}", fr.height)) role="img"
                            aria-labelledby="applied-svg-title applied-svg-desc" preserveAspectRatio="xMidYMid meet" {
                            title #applied-svg-title { (AppliedMsg::MapTitle.text(lang)) }
                            desc #applied-svg-desc { (AppliedMsg::MapDesc.text(lang)) }
                            defs {
                                pattern #applied-hatch width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                                    line x1="0" y1="0" x2="0" y2="6" stroke="#616161" stroke-width="1.5" {}
                                }
                            }
                            @for (z, shape) in a.zones.iter().zip(&shapes) {
                                @if !shape.0.is_empty() {
                                    g.applied-zone {
                                        title { (z.position) ". " (zone_name(z, lang)) ": " (rate(z.applied_rate, lang)) " " (a.unit) }
                                        path d=(fr.path(shape)) fill=(fill(z)) fill-rule="evenodd" stroke="#263238" stroke-width="1" {}
                                        @if z.applied_rate.is_none() {
                                            path d=(fr.path(shape)) fill="url(#applied-hatch)" fill-rule="evenodd" {}
                                        }
                                        @if let Some(p) = shape.interior_point() {
                                            @let (x, y) = fr.point(p.x(), p.y());
                                            text x=(format!("{x:.1}")) y=(format!("{:.1}", y + 5.0)) text-anchor="middle"
                                                font-size="14" font-weight="bold" fill=(ink(fill(z)))
                                                stroke=(if ink(fill(z)) == "#fff" { "#000" } else { "#fff" })
                                                stroke-width="0.6" paint-order="stroke" { (z.position) }
                                        }
                                    }
                                }
                            }
                        }
                        figcaption {
                            h3 { (AppliedMsg::Legend.text(lang)) }
                            ul.legend {
                                @if let (Some(s), true) = (&scale, measured) {
                                    @for (i, colour) in BINS.iter().enumerate() {
                                        @let (lo, hi) = s.bounds(i);
                                        li { svg width="28" height="20" viewBox="0 0 28 20" aria-hidden="true" focusable="false" {
                                                rect x="1" y="1" width="26" height="18" fill=(colour) stroke="#333" {}
                                            }
                                            " " (format!("{lo:.2} – {hi:.2} {}", a.unit)) }
                                    }
                                }
                                @if a.zones.iter().any(|z| z.applied_rate.is_none()) {
                                    li { svg width="28" height="20" viewBox="0 0 28 20" aria-hidden="true" focusable="false" {
                                            rect x="1" y="1" width="26" height="18" fill=(UNMEASURED) stroke="#333" {}
                                            rect x="1" y="1" width="26" height="18" fill="url(#applied-hatch)" {}
                                        }
                                        " " (AppliedMsg::LegendNotMeasured.text(lang)) }
                                }
                            }
                        }
                    }
                }
                div.scroll {
                    table #applied-table {
                        caption { (RxMsg::AsAppliedCaption.text(lang)) }
                        thead { tr {
                            th scope="col" { (RxMsg::ZoneCol.text(lang)) }
                            th scope="col" { (AppliedMsg::Target.text(lang)) " (" (a.unit) ")" }
                            th scope="col" { (AppliedMsg::Applied.text(lang)) " (" (a.unit) ")" }
                            th scope="col" { (AppliedMsg::Difference.text(lang)) " (" (a.unit) ")" }
                            th scope="col" { (RxMsg::AppliedM2.text(lang)) }
                            th scope="col" { (RxMsg::AppliedAmount.text(lang)) " (" (amount_unit) ")" }
                            th scope="col" { (RxMsg::PrescribedAmount.text(lang)) " (" (amount_unit) ")" }
                        } }
                        tbody {
                            @for z in &a.zones { tr {
                                th scope="row" { (z.position) ". " (zone_name(z, lang)) }
                                td.num { (format!("{:.2}", z.rate)) }
                                td.num { (rate(z.applied_rate, lang)) }
                                td.num { @match z.difference() { Some(d) => (format!("{d:+.2}")), None => "—" } }
                                td.num { (format!("{:.0}", z.applied_m2)) }
                                td.num { (format!("{:.2}", z.amount)) }
                                td.num { (format!("{:.1}", z.prescribed)) }
                            } }
                            @if a.outside_m2 >= 0.5 {
                                tr {
                                    th scope="row" { (AppliedMsg::Outside.text(lang)) }
                                    td.num { "—" }
                                    td.num { @if measured { (rate(Some(crate::services::flights::as_applied::from_per_m2(a.outside_amount / a.outside_m2, &a.unit)), lang)) } @else { "—" } }
                                    td.num { "—" }
                                    td.num { (format!("{:.0}", a.outside_m2)) }
                                    td.num { (format!("{:.2}", a.outside_amount)) }
                                    td.num { "—" }
                                }
                            }
                        }
                        tfoot { tr {
                            th scope="row" { (RxMsg::Total.text(lang)) }
                            td.num {}
                            td.num { @if let Some(avg) = a.per_10a() { (RxMsg::AveragePer10a.text(lang)) " " (format!("{avg:.2}")) } }
                            td.num {}
                            td.num { (format!("{:.0}", a.zones.iter().map(|z| z.applied_m2).sum::<f64>() + if measured { a.outside_m2 } else { 0.0 })) }
                            td.num { (format!("{:.2}", a.total)) }
                            td.num { (format!("{:.1}", a.zones.iter().map(|z| z.prescribed).sum::<f64>())) }
                        } }
                    }
                }
            }
            p {
                a href=(format!("/flights/{id}/as-applied.geojson")) download { (RxMsg::AsAppliedDownload.text(lang)) }
                " · "
                a href=(format!("/flights/{id}/as-applied.xml")) download="TASKDATA.XML" { (AppliedMsg::IsoxmlDownload.text(lang)) }
                " · "
                a href=(format!("/flights/{id}/as-applied-taskdata.zip")) download { (AppliedMsg::TaskdataZipDownload.text(lang)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(source: AppliedSource, applied_rate: Option<f64>) -> AsApplied {
        AsApplied {
            unit: "L/10a".to_owned(),
            zones: vec![ZoneApplied {
                position: 1,
                name: "西".to_owned(),
                rate: 0.8,
                is_gap: false,
                sprayable_m2: 300.0,
                applied_m2: 250.0,
                amount: 0.25,
                prescribed: 0.24,
                applied_rate,
            }],
            total: 0.25,
            outside_m2: 0.0,
            outside_amount: 0.0,
            source,
        }
    }

    fn geojson() -> Value {
        serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"position": 1},
            "geometry": {"type": "Polygon", "coordinates": [[[139.98, 36.97], [139.9806, 36.97], [139.9806, 36.9702], [139.98, 36.97]]]}}]})
    }

    #[test]
    fn a_measured_flight_shows_target_applied_and_difference_with_a_legend() {
        let page = section(
            Lang::Ja,
            3,
            &applied(AppliedSource::PumpOutput, Some(1.0)),
            &geojson(),
        )
        .into_string();
        for needle in [
            AppliedMsg::FromPump.text(Lang::Ja),
            AppliedMsg::MapTitle.text(Lang::Ja),
            AppliedMsg::Legend.text(Lang::Ja),
            "<td class=\"num\">1.00</td>",
            "<td class=\"num\">+0.20</td>",
            "/flights/3/as-applied.xml",
        ] {
            assert!(page.contains(needle), "{needle} missing: {page}");
        }
        assert!(
            !page.contains("pump_output") && !page.contains(AppliedMsg::OnOffOnly.text(Lang::Ja))
        );
    }

    #[test]
    fn a_flight_without_pump_output_says_only_on_off_is_known() {
        let page = section(
            Lang::En,
            3,
            &applied(AppliedSource::Commanded, None),
            &geojson(),
        )
        .into_string();
        for needle in [
            AppliedMsg::OnOffOnly.text(Lang::En),
            AppliedMsg::NotMeasured.text(Lang::En),
            AppliedMsg::LegendNotMeasured.text(Lang::En),
        ] {
            assert!(page.contains(needle), "{needle} missing: {page}");
        }
        assert!(!page.contains(AppliedMsg::FromPump.text(Lang::En)));
    }
}
