//! The ring of bails of a rotary parlor: an inline SVG (one segment per bail, state by pattern
//! and label, the entrance fixed at the top as in the parlor itself) with a table alternative.

use std::f64::consts::PI;
use std::fmt::Write as _;

use maud::{Markup, PreEscaped, html};

use crate::i18n::JST;
use crate::i18n::{Lang, Msg, bail_state_name};
use crate::storage::BailsRow;

/// Canonical bail states in legend order.
const STATES: [&str; 6] = ["empty", "prep", "milking", "done", "kicked_off", "unknown"];

const C: f64 = 200.0;
const R_OUT: f64 = 160.0;
const R_IN: f64 = 112.0;
const R_LABEL: f64 = 178.0;

/// The fill of a state: a pattern id from [`defs`], never a colour alone.
fn fill(state: &str) -> &'static str {
    match state {
        "empty" => "#ffffff",
        "prep" => "url(#bail-prep)",
        "milking" => "url(#bail-milking)",
        "done" => "url(#bail-done)",
        "kicked_off" => "url(#bail-kicked)",
        _ => "url(#bail-unknown)",
    }
}

/// The state a bail is drawn as (`unknown(N)` labels and missing states are `unknown`).
fn canonical(state: &str) -> &'static str {
    STATES
        .iter()
        .find(|s| **s == state)
        .copied()
        .unwrap_or("unknown")
}

fn defs() -> &'static str {
    concat!(
        "<defs>",
        "<pattern id=\"bail-prep\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">",
        "<rect width=\"8\" height=\"8\" fill=\"#fff7d6\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#7a5a00\" stroke-width=\"3\"/></pattern>",
        "<pattern id=\"bail-milking\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">",
        "<rect width=\"8\" height=\"8\" fill=\"#1f4e8c\"/></pattern>",
        "<pattern id=\"bail-done\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">",
        "<rect width=\"8\" height=\"8\" fill=\"#e3f1e3\"/><circle cx=\"4\" cy=\"4\" r=\"2\" fill=\"#1e5e1e\"/></pattern>",
        "<pattern id=\"bail-kicked\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">",
        "<rect width=\"8\" height=\"8\" fill=\"#fde2e2\"/><path d=\"M0 0L8 8M8 0L0 8\" stroke=\"#9b1c1c\" stroke-width=\"2\"/></pattern>",
        "<pattern id=\"bail-unknown\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">",
        "<rect width=\"8\" height=\"8\" fill=\"#e5e5e5\"/><line x1=\"0\" y1=\"4\" x2=\"8\" y2=\"4\" stroke=\"#555\" stroke-width=\"1\"/></pattern>",
        "</defs>"
    )
}

fn point(angle: f64, r: f64) -> (f64, f64) {
    (C + r * angle.cos(), C + r * angle.sin())
}

/// The SVG path of one ring segment between two angles (radians, clockwise from +x).
fn segment(a0: f64, a1: f64) -> String {
    let large = i32::from(a1 - a0 > PI);
    let (x0, y0) = point(a0, R_OUT);
    let (x1, y1) = point(a1, R_OUT);
    let (x2, y2) = point(a1, R_IN);
    let (x3, y3) = point(a0, R_IN);
    format!(
        "M{x0:.1} {y0:.1}A{R_OUT} {R_OUT} 0 {large} 1 {x1:.1} {y1:.1}L{x2:.1} {y2:.1}A{R_IN} {R_IN} 0 {large} 0 {x3:.1} {y3:.1}Z"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bail described in words: number, state, cow, yield so far, alarm.
fn describe(lang: Lang, b: &parlor_bridge::wire::BailState) -> String {
    let mut s = format!(
        "{} {}: {}",
        Msg::Bail.text(lang),
        b.bail,
        bail_state_name(lang, canonical(&b.state))
    );
    if b.cow_id != 0 {
        let _ = write!(s, ", {} {}", Msg::CowNumber.text(lang), b.cow_id);
    }
    if let Some(y) = b.current_yield_kg.filter(|_| b.state == "milking") {
        let _ = write!(s, ", {y:.1} kg");
    }
    if b.alarm {
        let _ = write!(s, ", {}", Msg::Alarm.text(lang));
    }
    s
}

/// The inline SVG of the ring.
pub fn ring_svg(lang: Lang, row: &BailsRow) -> String {
    let n = row.bails.len().max(1);
    let step = 2.0 * PI / n as f64;
    let gap = step.min(0.2) * 0.08;
    // The entrance stays at the top and the bails move past it, as on the platform.
    let top = row
        .entrance_bail
        .and_then(|e| row.bails.iter().position(|b| b.bail == e))
        .unwrap_or(0);
    let occupied = row.bails.iter().filter(|b| b.occupied()).count();
    let alarms = row.bails.iter().filter(|b| b.alarm).count();
    let title = Msg::BailRing.text(lang);
    let mut desc = format!(
        "{}: {occupied} / {}",
        Msg::OccupiedBails.text(lang),
        row.bails.len()
    );
    if let Some(e) = row.entrance_bail {
        let _ = write!(
            desc,
            "; {}: {} {e}",
            Msg::Entrance.text(lang),
            Msg::Bail.text(lang)
        );
    }
    if alarms > 0 {
        let _ = write!(desc, "; {}: {alarms}", Msg::Alarm.text(lang));
    }
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 400 400\" width=\"400\" height=\"400\" \
         role=\"img\" aria-labelledby=\"ring-title ring-desc\" class=\"bail-ring\" style=\"max-width:100%;height:auto\">\
         <title id=\"ring-title\">{}</title><desc id=\"ring-desc\">{}</desc>{}",
        escape(title),
        escape(&desc),
        defs()
    );
    let label_every = match n {
        0..=40 => 1,
        41..=80 => 2,
        _ => 5,
    };
    for (i, b) in row.bails.iter().enumerate() {
        let pos = (i + n - top) % n;
        let mid = -PI / 2.0 + pos as f64 * step;
        let (a0, a1) = (mid - step / 2.0 + gap, mid + step / 2.0 - gap);
        let state = canonical(&b.state);
        let _ = write!(
            svg,
            "<path d=\"{}\" fill=\"{}\" stroke=\"#222\" stroke-width=\"1\" data-bail=\"{}\" data-state=\"{}\"><title>{}</title></path>",
            segment(a0, a1),
            fill(state),
            b.bail,
            state,
            escape(&describe(lang, b))
        );
        if b.alarm {
            let (x, y) = point(mid, (R_IN + R_OUT) / 2.0);
            let _ = write!(
                svg,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"8\" fill=\"#fff\" stroke=\"#9b1c1c\" stroke-width=\"2\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\" fill=\"#9b1c1c\">!</text>",
                y + 4.0
            );
        }
        if i % label_every == 0 || pos == 0 {
            let (x, y) = point(mid, R_LABEL);
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#222\">{}</text>",
                y + 4.0,
                b.bail
            );
        }
    }
    if row.entrance_bail.is_some() {
        // A pointer from the centre to the top segment, labelled.
        let _ = write!(
            svg,
            "<path d=\"M200 {:.1}l-7 12h14z\" fill=\"#222\"/><text x=\"200\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">{}</text>",
            C - R_IN + 2.0,
            C - R_IN + 30.0,
            escape(Msg::Entrance.text(lang))
        );
    }
    let _ = write!(
        svg,
        "<text x=\"200\" y=\"200\" text-anchor=\"middle\" font-size=\"28\" font-weight=\"bold\" fill=\"#222\">{occupied} / {}</text>\
         <text x=\"200\" y=\"222\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">{}</text></svg>",
        row.bails.len(),
        escape(Msg::OccupiedBails.text(lang))
    );
    svg
}

/// The ring, its legend and the bail table; the content of the live `#bail-ring` region.
pub fn ring_section(lang: Lang, row: Option<&BailsRow>) -> Markup {
    let Some(row) = row else {
        return html! { p data-bails="none" { (Msg::NoBailsYet.text(lang)) } };
    };
    let occupied = row.bails.iter().filter(|b| b.occupied()).count();
    html! {
        p data-bails=(row.bails.len()) data-occupied=(occupied) {
            (Msg::OccupiedBails.text(lang)) ": " strong { (occupied) " / " (row.bails.len()) }
            " · " (Msg::BailsReadAt.text(lang)) " " (row.t.with_timezone(&JST).format("%H:%M:%S"))
        }
        div.ring { (PreEscaped(ring_svg(lang, row))) }
        ul.legend {
            @for s in STATES {
                li {
                    svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true" focusable="false" {
                        rect x="1" y="1" width="16" height="16" fill=(fill(s)) stroke="#222" {}
                    }
                    " " (bail_state_name(lang, s))
                }
            }
        }
        details {
            summary { (Msg::BailTable.text(lang)) }
            table {
                caption { (Msg::BailRing.text(lang)) }
                thead { tr {
                    th scope="col" { (Msg::Bail.text(lang)) }
                    th scope="col" { (Msg::BailStateLabel.text(lang)) }
                    th.num scope="col" { (Msg::CowNumber.text(lang)) }
                    th.num scope="col" { (Msg::YieldSoFar.text(lang)) }
                    th scope="col" { (Msg::Alarm.text(lang)) }
                } }
                tbody { @for b in &row.bails {
                    tr data-bail=(b.bail) {
                        th scope="row" {
                            (b.bail)
                            @if row.entrance_bail == Some(b.bail) { " (" (Msg::Entrance.text(lang)) ")" }
                        }
                        td { (bail_state_name(lang, canonical(&b.state))) }
                        td.num { @if b.cow_id != 0 { (b.cow_id) } @else { "—" } }
                        td.num { @match b.current_yield_kg.filter(|_| b.state == "milking") {
                            Some(y) => (format!("{y:.1}")), None => "—",
                        } }
                        td { @if b.alarm { strong { (Msg::Alarm.text(lang)) } } @else { "—" } }
                    }
                } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use parlor_bridge::wire::BailState;

    use super::*;

    fn row(states: &[&str], entrance: Option<u16>) -> BailsRow {
        BailsRow {
            t: DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            entrance_bail: entrance,
            bails: states
                .iter()
                .enumerate()
                .map(|(i, s)| BailState {
                    bail: i as u16 + 1,
                    state: (*s).into(),
                    cow_id: if *s == "empty" { 0 } else { 500 + i as u64 },
                    current_yield_kg: Some(3.5),
                    alarm: *s == "kicked_off",
                })
                .collect(),
        }
    }

    #[test]
    fn one_segment_per_bail_with_words_and_the_entrance_on_top() {
        let r = row(
            &["empty", "milking", "prep", "kicked_off", "unknown(9)"],
            Some(2),
        );
        let svg = ring_svg(Lang::En, &r);
        assert_eq!(svg.matches("data-bail=").count(), 5);
        assert!(svg.contains("<title id=\"ring-title\">Bails of the rotary</title>"));
        assert!(
            svg.contains("Bails occupied: 3 / 5; Entrance: Bail 2; Alarm: 1"),
            "{svg}"
        );
        assert!(svg.contains("Bail 2: Milking, Cow 501, 3.5 kg"), "{svg}");
        assert!(svg.contains("data-state=\"unknown\""));
        assert!(svg.contains("url(#bail-kicked)") && svg.contains(">!</text>"));
        // Bail 2 (the entrance) is the segment centred at the top: its outer arc starts left of x=200.
        let seg = svg.split("data-bail=\"2\"").next().unwrap();
        let d = seg.rsplit("d=\"M").next().unwrap();
        let x: f64 = d.split(' ').next().unwrap().parse().unwrap();
        assert!(x < 200.0 && x > 100.0, "{d}");
        let html = ring_section(Lang::Ja, Some(&r)).into_string();
        assert!(html.contains("data-occupied=\"3\""));
        assert!(html.contains("<th scope=\"row\">2 (入口)</th>"), "{html}");
        assert!(html.contains("ミルカー脱落"));
        assert!(
            ring_section(Lang::Ja, None)
                .into_string()
                .contains("まだ届いていません")
        );
    }

    #[test]
    fn a_single_bail_is_still_drawn() {
        let svg = ring_svg(Lang::Ja, &row(&["milking"], None));
        assert_eq!(svg.matches("data-bail=").count(), 1);
        assert!(!svg.contains("NaN"));
    }
}
