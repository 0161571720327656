//! Charts drawn on the server with `plotters` as SVG, labelled in Japanese or English.
//!
//! Text needs a font even in SVG: IPAexGothic (IPA Font License v1.0, `web/assets/fonts`) is
//! compiled in and registered once as `sans-serif`.

use std::sync::OnceLock;

use plotters::prelude::*;

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("chart drawing failed: {0}")]
pub struct ChartError(String);

static FONT: OnceLock<Result<(), String>> = OnceLock::new();

fn ensure_font() -> Result<(), ChartError> {
    FONT.get_or_init(|| {
        plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/fonts/ipaexg.ttf"),
        )
        .map_err(|_| "the bundled IPAexGothic font did not load".to_owned())
    })
    .clone()
    .map_err(ChartError)
}

fn err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError(e.to_string())
}

/// One bar chart: a bar per label, e.g. cows per hour of a day or per day of a fortnight.
#[derive(Debug, Clone)]
pub struct Bars<'a> {
    /// Title above the chart.
    pub title: &'a str,
    /// What the x axis counts.
    pub x_desc: &'a str,
    /// What the y axis measures, with its unit.
    pub y_desc: &'a str,
    /// Label under each bar.
    pub labels: &'a [String],
    /// Value of each bar (`None` = no data: an offline gap, drawn as no bar).
    pub values: &'a [Option<f64>],
    /// Show every n-th label only (dense axes on a phone).
    pub label_every: usize,
}

/// The width every chart is drawn at: an old phone's screen. The stylesheet scales a chart to
/// the page's width, so on a phone its text shows at about the size it was drawn in, and on a
/// wider screen it only grows.
pub const CHART_WIDTH: u32 = 360;

/// Margin round the chart, in pixels.
const MARGIN: u32 = 12;
/// Width of the y axis' labels and description, in pixels.
const Y_LABEL_AREA: u32 = 56;
/// Size of the axes' labels, in pixels.
const LABEL_PX: u32 = 14;

/// About how wide `text` is set in IPAexGothic at `font_px`: full-width (Japanese) characters
/// one em, the rest (digits, Latin, `/`) just over half.
fn text_px(text: &str, font_px: u32) -> f64 {
    let ems: f64 = text
        .chars()
        .map(|c| if c.is_ascii() { 0.6 } else { 1.0 })
        .sum();
    ems * f64::from(font_px)
}

/// The smallest `n`, at least `min`, for which every `n`-th of `labels` set at `font_px` fits
/// under its bars in an axis `axis_px` wide with half an em between neighbours, so that no two
/// labels drawn touch; `labels.len()` (one label) when even that does not fit.
pub fn label_step(labels: &[String], axis_px: u32, font_px: u32, min: usize) -> usize {
    let n = labels.len().max(1);
    let slot = f64::from(axis_px) / n as f64;
    let widest = labels
        .iter()
        .map(|l| text_px(l, font_px))
        .fold(0.0, f64::max);
    let need = widest + 0.5 * f64::from(font_px);
    (min.max(1)..n)
        .find(|k| *k as f64 * slot >= need)
        .unwrap_or(n)
}

/// Draws `bars` as an SVG document of `width`×`height` pixels (see [`CHART_WIDTH`]); the x
/// axis labels every `label_every`-th bar, or fewer where their text would touch.
///
/// # Errors
/// The font did not load or plotters failed to draw.
pub fn bar_chart_svg(bars: &Bars<'_>, width: u32, height: u32) -> Result<String, ChartError> {
    ensure_font()?;
    let n = bars.labels.len().max(1) as i32;
    let max = bars
        .values
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(*v))
        .max(1.0)
        * 1.1;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let axis = width.saturating_sub(2 * MARGIN + Y_LABEL_AREA);
        let every = label_step(bars.labels, axis, LABEL_PX, bars.label_every);
        let labels = bars.labels;
        let mut chart = ChartBuilder::on(&root)
            .caption(bars.title, ("sans-serif", 20).into_font().color(&BLACK))
            .margin(MARGIN)
            .x_label_area_size(40)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(bars.x_desc)
            .y_desc(bars.y_desc)
            .x_labels(labels.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    let i = *i as usize;
                    // Count from the last bar, so the newest (today, this hour) is labelled.
                    if (labels.len().saturating_sub(1 + i)).is_multiple_of(every) {
                        labels.get(i).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                }
                SegmentValue::Last => String::new(),
            })
            .label_style(("sans-serif", LABEL_PX).into_font().color(&BLACK))
            .axis_desc_style(("sans-serif", 15).into_font().color(&BLACK))
            .draw()
            .map_err(err)?;
        // A dark blue that keeps 4.5:1 contrast on white.
        let bar = RGBColor(11, 83, 148);
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(bar.filled())
                    .margin(2)
                    .data(
                        bars.values
                            .iter()
                            .enumerate()
                            .filter_map(|(i, v)| v.map(|v| (i as i32, v))),
                    ),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn label_step_keeps_labels_apart_at_phone_width() {
        let axis = CHART_WIDTH - 2 * MARGIN - Y_LABEL_AREA;
        // Fourteen dates of a fortnight: 5 characters each need every third bar at 360 px.
        let days: Vec<String> = (1..=14).map(|d| format!("12/{d:02}")).collect();
        assert_eq!(label_step(&days, axis, LABEL_PX, 2), 3);
        // On a wide chart the asked-for step stands.
        assert_eq!(label_step(&days, 1200, LABEL_PX, 2), 2);
        // Twelve months in Japanese: "12月" fits every other bar.
        let months: Vec<String> = (1..=12).map(|m| format!("{m}月")).collect();
        assert_eq!(label_step(&months, axis, LABEL_PX, 1), 2);
        // The hours of a day, every third asked: two digits fit.
        let hours: Vec<String> = (0..24).map(|h| h.to_string()).collect();
        assert_eq!(label_step(&hours, axis, LABEL_PX, 3), 3);
        // Nothing fits: one label only.
        assert_eq!(
            label_step(
                &labels(&["とても長いラベルです", "とても長いラベルです"]),
                40,
                LABEL_PX,
                1
            ),
            2
        );
        assert_eq!(label_step(&[], axis, LABEL_PX, 1), 1);
    }

    #[test]
    fn labels_drawn_at_phone_width_never_touch() {
        let days: Vec<String> = (1..=14).map(|d| format!("12/{d:02}")).collect();
        let values = vec![Some(10.0); 14];
        let svg = bar_chart_svg(
            &Bars {
                title: "日別",
                x_desc: "日付",
                y_desc: "頭",
                labels: &days,
                values: &values,
                label_every: 2,
            },
            CHART_WIDTH,
            260,
        )
        .unwrap();
        // Every third date from the last: 12/14, 12/11, 12/08, 12/05, 12/02.
        for d in ["12/14", "12/11", "12/08", "12/05", "12/02"] {
            assert!(svg.contains(d), "{d} is drawn: {svg}");
        }
        assert!(
            !svg.contains("12/13") && !svg.contains("12/12"),
            "its neighbours are not"
        );
    }

    #[test]
    fn draws_japanese_labels_and_one_bar_per_value() {
        let labels: Vec<String> = (0..24).map(|h| format!("{h}時")).collect();
        let mut values = vec![Some(0.0); 24];
        values[5] = Some(120.0);
        values[17] = Some(95.5);
        values[12] = None;
        let svg = bar_chart_svg(
            &Bars {
                title: "今日の搾乳頭数",
                x_desc: "時刻",
                y_desc: "頭/時",
                labels: &labels,
                values: &values,
                label_every: 3,
            },
            640,
            320,
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("今日の搾乳頭数"));
        assert!(svg.contains("23時"), "the last bar is always labelled");
        assert!(svg.contains("5時"));
        assert!(!svg.contains(">6時<"), "only every third label is drawn");
        // One filled rectangle per present value (23), plus the background.
        let bars = svg.matches("fill=\"#0B5394\"").count();
        assert_eq!(bars, 23, "{svg}");
    }
}
