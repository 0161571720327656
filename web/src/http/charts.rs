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

/// Draws `bars` as an SVG document of `width`×`height` pixels.
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
        let every = bars.label_every.max(1);
        let labels = bars.labels;
        let mut chart = ChartBuilder::on(&root)
            .caption(bars.title, ("sans-serif", 20).into_font().color(&BLACK))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
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
            .label_style(("sans-serif", 14).into_font().color(&BLACK))
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
