//! The report tables: what one period's facts amount to per district, month, pesticide and
//! farm, as rows with their links, and each table as HTML and as CSV.

use super::*;

/// A table shown as HTML and downloadable as CSV.
#[derive(Debug, Clone)]
pub struct Table {
    /// The `table=` value of its CSV.
    pub id: &'static str,
    /// Caption and heading.
    pub caption: Msg,
    /// Column headers.
    pub headers: Vec<Msg>,
    /// How many leading columns name the row (rendered as row headers).
    pub keys: usize,
    /// The rows.
    pub rows: Vec<Row>,
}

/// One table row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Cells: names as text, figures as figures.
    pub cells: Vec<CsvCell>,
    /// Where the first cell links to.
    pub link: Option<String>,
}

/// The figure columns (with the farm-count columns when `counts`).
pub(super) fn figure_headers(counts: bool) -> Vec<Msg> {
    let mut h = Vec::new();
    if counts {
        h.push(Msg::FarmsSprayed);
    }
    h.extend([Msg::FlightsCount, Msg::SprayedHa, Msg::Litres]);
    if counts {
        h.push(Msg::DairyFarms);
    }
    h.extend([
        Msg::CowsMilked,
        Msg::MilkKg,
        Msg::AvgCowsPerHour,
        Msg::UptimePct,
        Msg::AlertsCount,
    ]);
    h
}

/// The figure cells of `c`, in the order of [`figure_headers`]; `-` where a rate is undefined.
pub(super) fn figure_cells(c: &Cell, counts: bool) -> Vec<CsvCell> {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    let mut out = Vec::new();
    if counts {
        out.push(c.spray_farms.len().to_string());
    }
    out.extend([
        c.flights.to_string(),
        format!("{:.2}", c.sprayed_ha()),
        format!("{:.1}", c.litres),
    ]);
    if counts {
        out.push(c.dairy_farms.len().to_string());
    }
    out.extend([
        format!("{:.0}", c.cows),
        format!("{:.0}", c.milk_kg),
        opt(c.cows_per_hour()),
        opt(c.uptime_pct()),
        c.alerts.to_string(),
    ]);
    out.into_iter().map(CsvCell::Figure).collect()
}

pub(super) fn district_label(d: &District, lang: Lang) -> String {
    match lang {
        Lang::Ja => d.name_ja.clone(),
        Lang::En => d.name_en.clone(),
    }
}

/// Everything a report reads for one period.
pub(super) struct Data {
    pub(super) period: Period,
    pub(super) districts: Vec<District>,
    pub(super) farms: Vec<Farm>,
    pub(super) months: Vec<FarmMonth>,
    pub(super) pesticides: Vec<PesticideMonth>,
}

pub(super) async fn load(state: &AppState, period: Period) -> Result<Data, AppError> {
    let (from, to) = period.range();
    Ok(Data {
        period,
        districts: state.db.districts().await?,
        farms: state.db.farms().await?,
        months: state.db.farm_months(from, to).await?,
        pesticides: state.db.pesticide_months(from, to).await?,
    })
}

impl Data {
    pub(super) fn cell(&self, keep: impl Fn(&FarmMonth) -> bool) -> Cell {
        Cell::of(self.months.iter().filter(|m| keep(m)))
    }

    /// Districts (and the city total) over the whole period.
    pub(super) fn by_district(&self, lang: Lang) -> Table {
        let q = self.period.query();
        let mut rows: Vec<Row> = self
            .districts
            .iter()
            .map(|d| {
                let mut cells = vec![Text(district_label(d, lang))];
                cells.extend(figure_cells(&self.cell(|m| m.district_id == d.id), true));
                Row {
                    cells,
                    link: Some(format!("/reports/districts/{}?{q}", d.id)),
                }
            })
            .collect();
        let mut total = vec![Text(Msg::Total.text(lang).to_owned())];
        total.extend(figure_cells(&self.cell(|_| true), true));
        rows.push(Row {
            cells: total,
            link: None,
        });
        let mut headers = vec![Msg::Districts];
        headers.extend(figure_headers(true));
        Table {
            id: "districts",
            caption: Msg::ReportByDistrict,
            headers,
            keys: 1,
            rows,
        }
    }

    /// District × month.
    pub(super) fn by_district_month(&self, lang: Lang) -> Table {
        let mut rows = Vec::new();
        for d in &self.districts {
            for ym in self.period.months() {
                let start = ym.start();
                let mut cells = vec![Text(district_label(d, lang)), Text(ym.label())];
                cells.extend(figure_cells(
                    &self.cell(|m| m.district_id == d.id && m.month_start == start),
                    true,
                ));
                rows.push(Row { cells, link: None });
            }
        }
        let mut headers = vec![Msg::Districts, Msg::Month];
        headers.extend(figure_headers(true));
        Table {
            id: "months",
            caption: Msg::ReportByDistrictMonth,
            headers,
            keys: 2,
            rows,
        }
    }

    /// Liquid by pesticide, per district (or for one farm when `farm` is set).
    pub(super) fn by_pesticide(&self, lang: Lang, farm: Option<i64>) -> Table {
        // (district, registration no., name) → (flights, area, litres, farms)
        type Key = (i64, String, String);
        let mut sums: BTreeMap<Key, (i64, f64, f64, std::collections::BTreeSet<i64>)> =
            BTreeMap::new();
        for p in self
            .pesticides
            .iter()
            .filter(|p| farm.is_none_or(|f| p.farm_id == f))
        {
            let key = (
                if farm.is_some() { 0 } else { p.district_id },
                p.pesticide_reg_no.clone().unwrap_or_default(),
                p.pesticide_name.clone().unwrap_or_default(),
            );
            let e = sums.entry(key).or_default();
            e.0 += p.flights;
            e.1 += p.area_m2;
            e.2 += p.litres;
            e.3.insert(p.farm_id);
        }
        let names: HashMap<i64, String> = self
            .districts
            .iter()
            .map(|d| (d.id, district_label(d, lang)))
            .collect();
        let rows = sums
            .into_iter()
            .map(|((d, reg, name), (flights, area, litres, farms))| {
                let name = if name.is_empty() && reg.is_empty() {
                    Msg::NotRecorded.text(lang).to_owned()
                } else {
                    name
                };
                let mut cells = Vec::new();
                if farm.is_none() {
                    cells.push(Text(names.get(&d).cloned().unwrap_or_default()));
                }
                cells.extend([
                    Text(name),
                    Text(reg),
                    Figure(flights.to_string()),
                    Figure(format!("{:.2}", area / 10_000.0)),
                    Figure(format!("{litres:.1}")),
                ]);
                if farm.is_none() {
                    cells.push(Figure(farms.len().to_string()));
                }
                Row { cells, link: None }
            })
            .collect();
        let mut headers = Vec::new();
        if farm.is_none() {
            headers.push(Msg::Districts);
        }
        headers.extend([
            Msg::Pesticide,
            Msg::RegNo,
            Msg::FlightsCount,
            Msg::SprayedHa,
            Msg::Litres,
        ]);
        if farm.is_none() {
            headers.push(Msg::FarmsSprayed);
        }
        Table {
            id: "pesticides",
            caption: Msg::ReportByPesticide,
            headers,
            keys: if farm.is_none() { 2 } else { 1 },
            rows,
        }
    }

    /// The farms of one district over the period.
    pub(super) fn by_farm(&self, district_id: i64) -> Table {
        let q = self.period.query();
        let rows = self
            .farms
            .iter()
            .filter(|f| f.district_id == district_id)
            .map(|f| {
                let mut cells = vec![Text(f.name.clone())];
                cells.extend(figure_cells(&self.cell(|m| m.farm_id == f.id), false));
                Row {
                    cells,
                    link: Some(format!("/reports/farms/{}?{q}", f.id)),
                }
            })
            .collect();
        let mut headers = vec![Msg::Farms];
        headers.extend(figure_headers(false));
        Table {
            id: "farms",
            caption: Msg::ReportByFarm,
            headers,
            keys: 1,
            rows,
        }
    }

    /// One farm by month.
    pub(super) fn farm_by_month(&self, farm_id: i64) -> Table {
        let rows = self
            .period
            .months()
            .into_iter()
            .map(|ym| {
                let start = ym.start();
                let mut cells = vec![Text(ym.label())];
                cells.extend(figure_cells(
                    &self.cell(|m| m.farm_id == farm_id && m.month_start == start),
                    false,
                ));
                Row { cells, link: None }
            })
            .collect();
        let mut headers = vec![Msg::Month];
        headers.extend(figure_headers(false));
        Table {
            id: "months",
            caption: Msg::ReportByMonth,
            headers,
            keys: 1,
            rows,
        }
    }

    /// Sprayed ha and milk t per month for the charts, over the farms `keep` selects.
    pub(super) fn monthly_series(
        &self,
        keep: impl Fn(&FarmMonth) -> bool,
    ) -> (Vec<String>, Vec<Option<f64>>, Vec<Option<f64>>) {
        let months = self.period.months();
        let labels = months.iter().map(|m| m.label()).collect();
        let (mut ha, mut milk) = (Vec::new(), Vec::new());
        for ym in months {
            let start = ym.start();
            let c = self.cell(|m| keep(m) && m.month_start == start);
            ha.push(Some(c.sprayed_ha()));
            milk.push(Some(c.milk_kg / 1000.0));
        }
        (labels, ha, milk)
    }
}

/// The HTML of a table with its CSV link (`csv_base` + `&table=`).
pub(super) fn table_html(t: &Table, lang: Lang, csv_base: &str) -> Markup {
    let hid = format!("t-{}", t.id);
    html! {
        // Not a landmark of its own: the scrolling region inside carries the table's name, and
        // two landmarks of one name would leave a screen reader unable to tell them apart.
        section {
            h2 id=(hid) { (t.caption.text(lang)) }
            p { a href=(format!("{csv_base}&table={}", t.id)) download {
                (Msg::DownloadCsv.text(lang)) " (" (t.caption.text(lang)) ")"
            } }
            div.scroll role="region" tabindex="0" aria-label=(t.caption.text(lang)) {
                table {
                    caption.visually-hidden { (t.caption.text(lang)) }
                    thead { tr { @for (i, h) in t.headers.iter().enumerate() {
                        @if i < t.keys { th scope="col" { (h.text(lang)) } }
                        @else { th.num scope="col" { (h.text(lang)) } }
                    } } }
                    tbody { @for r in &t.rows { tr { @for (i, c) in r.cells.iter().enumerate() {
                        @if i == 0 {
                            th scope="row" { @if let Some(l) = &r.link { a href=(l) { (c.as_str()) } } @else { (c.as_str()) } }
                        } @else if i < t.keys {
                            th scope="row" { (c.as_str()) }
                        } @else {
                            td.num { (c.as_str()) }
                        }
                    } } } }
                }
            }
        }
    }
}

pub(super) fn table_csv(t: &Table) -> String {
    csv::document(
        t.headers.iter().map(|h| h.text(Lang::Ja)),
        t.rows.iter().map(|r| r.cells.clone()),
    )
}
