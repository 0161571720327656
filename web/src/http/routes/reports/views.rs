//! The report pages and their CSV downloads: the city, one district, one farm; the period
//! chooser and the charts.

use super::*;

/// An inline SVG bar chart with `<title>` and `<desc>` for screen readers.
pub(super) fn chart(
    id: &str,
    title: &str,
    lang: Lang,
    labels: &[String],
    values: &[Option<f64>],
) -> Markup {
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
        crate::http::charts::CHART_WIDTH,
        260,
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
pub(super) fn chooser(lang: Lang, action: &str, p: Period) -> Markup {
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

pub(super) fn charts(lang: Lang, data: &Data, keep: impl Fn(&FarmMonth) -> bool) -> Markup {
    let (labels, ha, milk) = data.monthly_series(keep);
    html! {
        p.muted { (Msg::ChartTableBelow.text(lang)) }
        (chart("c-ha", Msg::ChartSprayedByMonth.text(lang), lang, &labels, &ha))
        (chart("c-milk", Msg::ChartMilkByMonth.text(lang), lang, &labels, &milk))
    }
}

pub(super) async fn city(
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

pub(super) fn pick(tables: Vec<Table>, which: Option<&str>) -> Result<Table, AppError> {
    let ids: Vec<&str> = tables.iter().map(|t| t.id).collect();
    let want = which.unwrap_or(ids[0]);
    let msg = format!("table: {want:?} is not one of {}", ids.join(", "));
    tables
        .into_iter()
        .find(|t| t.id == want)
        .ok_or(AppError::BadInput(msg))
}

pub(super) async fn city_csv(
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

pub(super) async fn district_of(state: &AppState, id: i64) -> Result<District, AppError> {
    state
        .db
        .districts()
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or(AppError::NotFound)
}

pub(super) async fn district(
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

pub(super) async fn district_csv(
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
pub(super) async fn readable_farm(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<Farm, AppError> {
    let farm = state.db.farm(id).await?;
    user.require_farm(farm.id)?;
    Ok(farm)
}

pub(super) async fn farm(
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
                (Msg::Reports.text(lang)) ": " (crate::http::pages::district_name(&data.districts, f.district_id, lang))
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

pub(super) async fn farm_csv(
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
