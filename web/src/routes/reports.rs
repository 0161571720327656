//! Regional reports for staff: district × month tables and charts for a year, season or month,
//! drill-down to a district's farms and to one farm, and a CSV of every table (UTF-8 with BOM,
//! Japanese headers). Farmers and dairy operators may open their own farm's report only.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::charts::{Bars, bar_chart_svg};
use crate::csv::{self, CsvCell, CsvCell::Figure, CsvCell::Text};
use crate::error::AppError;
use crate::i18n::{Lang, Msg};
use crate::pages;
use crate::reports::{Cell, Period, Season, YearMonth, month_name};
use crate::storage::{District, Farm, FarmMonth, PesticideMonth, Role};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(city))
        .route("/reports/csv", get(city_csv))
        .route("/reports/districts/{id}", get(district))
        .route("/reports/districts/{id}/csv", get(district_csv))
        .route("/reports/farms/{id}", get(farm))
        .route("/reports/farms/{id}/csv", get(farm_csv))
}

/// The query of every report page: `year`, `period` (`year`, a season, a month 1–12), and for
/// CSV downloads the `table`.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    year: Option<String>,
    period: Option<String>,
    table: Option<String>,
}

impl ReportQuery {
    fn period(&self) -> Result<Period, AppError> {
        let this_year = YearMonth::of(chrono::Utc::now()).year;
        Period::parse(self.year.as_deref(), self.period.as_deref(), this_year)
            .map_err(AppError::BadInput)
    }
}

fn query(q: Result<Query<ReportQuery>, QueryRejection>) -> Result<ReportQuery, AppError> {
    q.map(|Query(q)| q)
        .map_err(|e| AppError::rejected(e.status(), e.body_text()))
}

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
fn figure_headers(counts: bool) -> Vec<Msg> {
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
fn figure_cells(c: &Cell, counts: bool) -> Vec<CsvCell> {
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

fn district_label(d: &District, lang: Lang) -> String {
    match lang {
        Lang::Ja => d.name_ja.clone(),
        Lang::En => d.name_en.clone(),
    }
}

/// Everything a report reads for one period.
struct Data {
    period: Period,
    districts: Vec<District>,
    farms: Vec<Farm>,
    months: Vec<FarmMonth>,
    pesticides: Vec<PesticideMonth>,
}

async fn load(state: &AppState, period: Period) -> Result<Data, AppError> {
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
    fn cell(&self, keep: impl Fn(&FarmMonth) -> bool) -> Cell {
        Cell::of(self.months.iter().filter(|m| keep(m)))
    }

    /// Districts (and the city total) over the whole period.
    fn by_district(&self, lang: Lang) -> Table {
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
    fn by_district_month(&self, lang: Lang) -> Table {
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
    fn by_pesticide(&self, lang: Lang, farm: Option<i64>) -> Table {
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
    fn by_farm(&self, district_id: i64) -> Table {
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
    fn farm_by_month(&self, farm_id: i64) -> Table {
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
    fn monthly_series(
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
fn table_html(t: &Table, lang: Lang, csv_base: &str) -> Markup {
    let hid = format!("t-{}", t.id);
    html! {
        section aria-labelledby=(hid) {
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

fn table_csv(t: &Table) -> String {
    csv::document(
        t.headers.iter().map(|h| h.text(Lang::Ja)),
        t.rows.iter().map(|r| r.cells.clone()),
    )
}

/// An inline SVG bar chart with `<title>` and `<desc>` for screen readers.
fn chart(id: &str, title: &str, lang: Lang, labels: &[String], values: &[Option<f64>]) -> Markup {
    let y = match id {
        "c-milk" => "t",
        _ => "ha",
    };
    let svg = bar_chart_svg(
        &Bars {
            title,
            x_desc: Msg::Month.text(lang),
            y_desc: y,
            labels,
            values,
            label_every: if labels.len() > 6 { 2 } else { 1 },
        },
        720,
        300,
    );
    let Ok(svg) = svg else {
        return html! {};
    };
    let desc: Vec<String> = labels
        .iter()
        .zip(values)
        .map(|(l, v)| format!("{l}: {:.2}", v.unwrap_or(0.0)))
        .collect();
    let head = html! {
        title id=(format!("{id}-t")) { (title) }
        desc id=(format!("{id}-d")) { (desc.join(", ")) }
    }
    .into_string();
    let svg = svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-labelledby=\"{id}-t {id}-d\" class=\"chart\" "),
        1,
    );
    let svg = match svg.find('>') {
        Some(i) => format!("{}{head}{}", &svg[..=i], &svg[i + 1..]),
        None => svg,
    };
    html! { figure { (PreEscaped(svg)) } }
}

/// The year and period chooser.
fn chooser(lang: Lang, action: &str, p: Period) -> Markup {
    let code = p.code();
    html! {
        form.inline method="get" action=(action) {
            label for="year" { (Msg::ReportYear.text(lang)) }
            input id="year" name="year" type="number" min="2000" max="2100" value=(p.year()) required;
            label for="period" { (Msg::ReportPeriod.text(lang)) }
            select id="period" name="period" {
                option value="year" selected[code == "year"] { (Msg::PeriodYear.text(lang)) }
                @for s in Season::ALL {
                    option value=(s.code()) selected[code == s.code()] { (s.msg().text(lang)) }
                }
                @for m in 1..=12u32 {
                    option value=(m) selected[code == m.to_string()] { (month_name(lang, m)) }
                }
            }
            button type="submit" { (Msg::ShowReport.text(lang)) }
        }
    }
}

fn charts(lang: Lang, data: &Data, keep: impl Fn(&FarmMonth) -> bool) -> Markup {
    let (labels, ha, milk) = data.monthly_series(keep);
    html! {
        p.muted { (Msg::ChartTableBelow.text(lang)) }
        (chart("c-ha", Msg::ChartSprayedByMonth.text(lang), lang, &labels, &ha))
        (chart("c-milk", Msg::ChartMilkByMonth.text(lang), lang, &labels, &milk))
    }
}

async fn city(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    user.require_role(&[Role::Admin, Role::Staff])?;
    let period = query(q)?.period()?;
    let lang = user.lang;
    let data = load(&state, period).await?;
    let title = Msg::Reports.text(lang);
    let csv = format!("/reports/csv?{}", period.query());
    let body = html! {
        h1 { (title) ": " (period.label(lang)) }
        (chooser(lang, "/reports", period))
        p.muted { (Msg::ReportDefinitions.text(lang)) }
        @if data.months.is_empty() { p role="status" { (Msg::NoReportData.text(lang)) } }
        (table_html(&data.by_district(lang), lang, &csv))
        (charts(lang, &data, |_| true))
        (table_html(&data.by_district_month(lang), lang, &csv))
        (table_html(&data.by_pesticide(lang, None), lang, &csv))
        p { a href="/opendata" { (Msg::OpenData.text(lang)) } }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}

fn pick(tables: Vec<Table>, which: Option<&str>) -> Result<Table, AppError> {
    let ids: Vec<&str> = tables.iter().map(|t| t.id).collect();
    let want = which.unwrap_or(ids[0]);
    let msg = format!("table: {want:?} is not one of {}", ids.join(", "));
    tables
        .into_iter()
        .find(|t| t.id == want)
        .ok_or(AppError::BadInput(msg))
}

async fn city_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    user.require_role(&[Role::Admin, Role::Staff])?;
    let q = query(q)?;
    let period = q.period()?;
    let data = load(&state, period).await?;
    let t = pick(
        vec![
            data.by_district(Lang::Ja),
            data.by_district_month(Lang::Ja),
            data.by_pesticide(Lang::Ja, None),
        ],
        q.table.as_deref(),
    )?;
    let name = format!(
        "agriops-report-{}-{}-{}.csv",
        period.year(),
        period.code(),
        t.id
    );
    Ok(csv::response(&name, table_csv(&t)))
}

async fn district_of(state: &AppState, id: i64) -> Result<District, AppError> {
    state
        .db
        .districts()
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or(AppError::NotFound)
}

async fn district(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    user.require_role(&[Role::Admin, Role::Staff])?;
    let period = query(q)?.period()?;
    let d = district_of(&state, id).await?;
    let lang = user.lang;
    let data = load(&state, period).await?;
    let title = format!("{} — {}", district_label(&d, lang), Msg::Reports.text(lang));
    let csv = format!("/reports/districts/{id}/csv?{}", period.query());
    let body = html! {
        p { a href=(format!("/reports?{}", period.query())) { (Msg::Reports.text(lang)) } }
        h1 { (title) ": " (period.label(lang)) }
        (chooser(lang, &format!("/reports/districts/{id}"), period))
        (table_html(&data.by_farm(id), lang, &csv))
        (charts(lang, &data, |m| m.district_id == id))
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

async fn district_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    user.require_role(&[Role::Admin, Role::Staff])?;
    let q = query(q)?;
    let period = q.period()?;
    let d = district_of(&state, id).await?;
    let data = load(&state, period).await?;
    let t = pick(vec![data.by_farm(id)], q.table.as_deref())?;
    let name = format!(
        "agriops-report-{}-{}-{}-{}.csv",
        d.code,
        period.year(),
        period.code(),
        t.id
    );
    Ok(csv::response(&name, table_csv(&t)))
}

/// The farm `id` if `user` may read its report (staff, admin, or the farm's own people).
async fn readable_farm(state: &AppState, user: &CurrentUser, id: i64) -> Result<Farm, AppError> {
    let farm = state.db.farm(id).await?;
    user.require_farm(farm.id)?;
    Ok(farm)
}

async fn farm(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let period = query(q)?.period()?;
    let f = readable_farm(&state, &user, id).await?;
    let lang = user.lang;
    let data = load(&state, period).await?;
    let title = format!("{} — {}", f.name, Msg::Reports.text(lang));
    let csv = format!("/reports/farms/{id}/csv?{}", period.query());
    let body = html! {
        @if user.user.role.sees_all_farms() {
            p { a href=(format!("/reports/districts/{}?{}", f.district_id, period.query())) {
                (Msg::Reports.text(lang)) ": " (crate::i18n::district_name(&data.districts, f.district_id, lang))
            } }
        }
        h1 { (title) ": " (period.label(lang)) }
        (chooser(lang, &format!("/reports/farms/{id}"), period))
        (charts(lang, &data, |m| m.farm_id == id))
        (table_html(&data.farm_by_month(id), lang, &csv))
        (table_html(&data.by_pesticide(lang, Some(id)), lang, &csv))
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

async fn farm_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let q = query(q)?;
    let period = q.period()?;
    readable_farm(&state, &user, id).await?;
    let data = load(&state, period).await?;
    let t = pick(
        vec![
            data.farm_by_month(id),
            data.by_pesticide(Lang::Ja, Some(id)),
        ],
        q.table.as_deref(),
    )?;
    let name = format!(
        "agriops-report-farm{id}-{}-{}-{}.csv",
        period.year(),
        period.code(),
        t.id
    );
    Ok(csv::response(&name, table_csv(&t)))
}

#[cfg(test)]
pub(crate) mod tests {
    use axum::http::StatusCode;

    use crate::reports::YearMonth;
    use crate::storage::Role;
    use crate::storage::reports_fixtures::{Expected, dairy, flights, ingest, t0};
    use crate::testutil::{TestApp, both_apps};

    /// The CSV's rows as cells, after checking the BOM and CRLF line ends.
    pub(crate) fn parse_csv(body: &str) -> Vec<Vec<String>> {
        let text = body.strip_prefix('\u{feff}').expect("a UTF-8 BOM");
        assert!(text.ends_with("\r\n"));
        text.split("\r\n")
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect()
    }

    /// The figure cells of `c` as the CSV writes them.
    fn figures(c: &crate::reports::Cell, counts: bool) -> Vec<String> {
        crate::routes::reports::figure_cells(c, counts)
            .iter()
            .map(|c| c.written().into_owned())
            .collect()
    }

    /// Farms a, b in district 0 and c in district 1, each with a parlor's raw records and flights.
    async fn seeded(app: &TestApp) -> Vec<(i64, Expected)> {
        let db = &app.state.db;
        let d = db.districts().await.unwrap();
        let mut out = Vec::new();
        for (i, (name, district)) in [("a", 0), ("b", 0), ("c", 1)].into_iter().enumerate() {
            let farm = db
                .create_farm(d[district].id, name, "mixed", "")
                .await
                .unwrap();
            let (recs, mut exp) = dairy(name, i as u64, t0(), 60);
            ingest(db, farm.id, &recs).await;
            flights(db, farm.id, 4 + i as i64, t0(), None, &mut exp).await;
            out.push((farm.id, exp));
        }
        out
    }

    both_apps!(
        a_formula_farm_name_is_neutralised_in_the_report_csv,
        |app| {
            let db = &app.state.db;
            let d = db.districts().await.unwrap();
            let hostile = "=cmd|' /C calc'!A0";
            let farm = db.create_farm(d[0].id, hostile, "mixed", "").await.unwrap();
            let (recs, exp) = dairy("evil", 7, t0(), 60);
            ingest(db, farm.id, &recs).await;
            let staff = app.user("staff", Role::Staff, None).await;
            let csv = app
                .get(
                    &format!("/reports/districts/{}/csv?year=2025&period=spring", d[0].id),
                    &staff.cookies,
                )
                .await;
            assert_eq!(csv.status, StatusCode::OK);
            let rows = parse_csv(&csv.body);
            let row = rows.iter().find(|r| r[0].contains("cmd")).unwrap();
            assert_eq!(row[0], format!("'{hostile}"));
            let spring = crate::reports::Cell::of(exp.get(&YearMonth {
                year: 2025,
                month: 5,
            }));
            assert_eq!(row[1..], figures(&spring, false)[..], "figures as figures");
        }
    );

    both_apps!(report_tables_show_the_sums_of_what_was_sent, |app| {
        let farms = seeded(app).await;
        let staff = app.user("staff", Role::Staff, None).await;
        let d = app.state.db.districts().await.unwrap();
        let may = YearMonth {
            year: 2025,
            month: 5,
        };
        // District 0 in May: the sums of farms a and b, computed from the records sent.
        let mut want = crate::reports::Cell::default();
        for (id, exp) in &farms[..2] {
            let mut m = exp[&may].clone();
            m.farm_id = *id;
            want.add(&m);
        }
        let csv = app
            .get(
                "/reports/csv?year=2025&period=spring&table=months",
                &staff.cookies,
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
        assert!(
            csv.headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains("agriops-report-2025-spring-months.csv")
        );
        let rows = parse_csv(&csv.body);
        assert_eq!(
            rows[0][..4],
            ["地区", "月", "散布農家数", "飛行回数"].map(String::from)
        );
        assert_eq!(rows.len(), 1 + 3 * 3, "a row per district and month");
        let row = rows
            .iter()
            .find(|r| r[0] == d[0].name_ja && r[1] == "2025-05")
            .unwrap();
        let expect = figures(&want, true);
        assert_eq!(row[2..], expect[..], "{row:?}");
        assert_eq!(row[2], "2");
        assert_eq!(row[3], want.flights.to_string());
        assert_eq!(row[7], format!("{:.0}", want.cows));

        // The page: tables, charts as SVG with Japanese titles, links to drill down.
        let page = app
            .get("/reports?year=2025&period=spring", &staff.cookies)
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<svg role=\"img\""));
        assert!(
            page.body
                .contains("<title id=\"c-ha-t\">月別の散布面積 (ha)</title>")
        );
        assert!(page.body.contains(&format!(
            "/reports/districts/{}?year=2025&amp;period=spring",
            d[0].id
        )));
        assert!(page.body.contains("未記録"), "pesticide not recorded");

        // District drill-down: one row per farm, the farm's own sums over the season.
        let dcsv = app
            .get(
                &format!("/reports/districts/{}/csv?year=2025&period=spring", d[0].id),
                &staff.cookies,
            )
            .await;
        let rows = parse_csv(&dcsv.body);
        assert_eq!(rows[0][0], "農家・牧場");
        assert_eq!(rows.len(), 3);
        let a = &farms[0];
        let a_may = crate::reports::Cell::of(a.1.get(&may));
        let row_a = rows.iter().find(|r| r[0] == "a").unwrap();
        assert_eq!(row_a[1..], figures(&a_may, false)[..]);
        assert!(
            app.get(
                &format!("/reports/districts/{}?period=5", d[0].id),
                &staff.cookies
            )
            .await
            .status
                == StatusCode::OK
        );

        // Farm drill-down: the farm's own people may read it, other farms may not.
        let owner = app.user("owner-a", Role::Farmer, Some(a.0)).await;
        let other = app.user("owner-c", Role::Dairy, Some(farms[2].0)).await;
        let fcsv = app
            .get(
                &format!("/reports/farms/{}/csv?year=2025&period=6", a.0),
                &owner.cookies,
            )
            .await;
        assert_eq!(fcsv.status, StatusCode::OK);
        let june = crate::reports::Cell::of(a.1.get(&YearMonth {
            year: 2025,
            month: 6,
        }));
        let rows = parse_csv(&fcsv.body);
        assert_eq!(rows[1][0], "2025-06");
        assert_eq!(rows[1][1..], figures(&june, false)[..]);
        assert_eq!(
            app.get(&format!("/reports/farms/{}", a.0), &other.cookies)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.get("/reports", &owner.cookies).await.status,
            StatusCode::FORBIDDEN
        );

        // Bad input is a 422 with a message, never a 500.
        for q in [
            "year=20x5",
            "period=13",
            "period=monsoon",
            "table=nope",
            "year=1800",
        ] {
            let r = app.get(&format!("/reports/csv?{q}"), &staff.cookies).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        }
        assert_eq!(
            app.get("/reports/districts/999", &staff.cookies)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("/reports/farms/999", &staff.cookies).await.status,
            StatusCode::NOT_FOUND
        );
    });
}
