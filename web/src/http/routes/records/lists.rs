//! A farm's records and logbook over a period: the list with its print layout, the CSV files
//! (UTF-8 with BOM, Japanese headers) and the farm's pesticide catalogue.

use super::*;

/// The date filter of the farm lists: a season (calendar year) or a from/to range.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Period {
    #[serde(default)]
    year: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl Period {
    /// Inclusive `YYYY-MM-DD` bounds; `year` wins over `from`/`to`.
    fn bounds(&self, lang: Lang) -> Result<(Option<String>, Option<String>), AppError> {
        let year = self.year.trim();
        if !year.is_empty() {
            let y: i32 = year
                .parse()
                .ok()
                .filter(|y| (1900..=9999).contains(y))
                .ok_or_else(|| {
                    AppError::BadInput(format!(
                        "{}: {}",
                        Msg::Season.text(lang),
                        Msg::RecBadNumber.text(lang)
                    ))
                })?;
            return Ok((Some(format!("{y:04}-01-01")), Some(format!("{y:04}-12-31"))));
        }
        let one = |s: &str, label: Msg| -> Result<Option<String>, AppError> {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                parse_date(lang, label, s).map(Some)
            }
        };
        Ok((one(&self.from, Msg::DateFrom)?, one(&self.to, Msg::DateTo)?))
    }

    fn query(&self) -> String {
        serde_urlencoded::to_string([
            ("year", self.year.trim()),
            ("from", self.from.trim()),
            ("to", self.to.trim()),
        ])
        .unwrap_or_default()
    }
}

/// The farm `id` if `user` may read its records.
pub(super) async fn readable_farm(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<crate::storage::Farm, AppError> {
    user.require_role(READERS)?;
    user.require_farm(id)?;
    Ok(state.db.farm(id).await?)
}

pub(super) async fn farm_records(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(period): Query<Period>,
) -> Result<Response, AppError> {
    let farm = readable_farm(&state, &user, id).await?;
    let lang = user.lang;
    let (from, to) = period.bounds(lang)?;
    let records = state
        .db
        .spray_records_of_farm(id, from.as_deref(), to.as_deref())
        .await?;
    let logbooks = state
        .db
        .logbooks_of_farm(id, from.as_deref(), to.as_deref())
        .await?;
    let catalogue = state.db.pesticides(id).await?;
    let can_write = user.require_role(WRITERS).is_ok();
    let q = period.query();
    let title = format!("{} — {}", Msg::RecFarmList.text(lang), farm.name);
    let signed = |s: &Option<DateTime<Utc>>| {
        if s.is_some() {
            Msg::RecSigned.text(lang)
        } else {
            Msg::RecDraft.text(lang)
        }
    };
    let body = html! {
        (print_style())
        h1 { (title) }
        form.no-print method="get" action=(format!("/farms/{id}/records")) {
            label for="year" { (Msg::Season.text(lang)) }
            input #year name="year" type="number" inputmode="numeric" min="1900" max="9999" value=(period.year);
            label for="from" { (Msg::DateFrom.text(lang)) }
            input #from name="from" type="date" value=(period.from);
            label for="to" { (Msg::DateTo.text(lang)) }
            input #to name="to" type="date" value=(period.to);
            p { button type="submit" { (Msg::Filter.text(lang)) } }
        }
        p.no-print {
            a href=(format!("/farms/{id}/records.csv?{q}")) download { (Msg::RecCsv.text(lang)) } " · "
            a href=(format!("/farms/{id}/logbook.csv?{q}")) download { (Msg::LogCsv.text(lang)) } " · "
            button.secondary type="button" data-print { (Msg::Print.text(lang)) }
            script src="/static/print.js" defer {}
        }
        h2 { (Msg::RecTitle.text(lang)) }
        @if records.is_empty() { p role="status" { (Msg::RecNone.text(lang)) } }
        @else {
            div style="overflow-x: auto;" {
            table {
                thead { tr {
                    th scope="col" { (Msg::RecDate.text(lang)) }
                    th scope="col" { (Msg::RecPlace.text(lang)) }
                    th scope="col" { (Msg::RecCrop.text(lang)) }
                    th scope="col" { (Msg::RecPesticide.text(lang)) }
                    th scope="col" class="num" { (Msg::RecLitres.text(lang)) }
                    th scope="col" class="num" { (Msg::RecArea.text(lang)) }
                    th scope="col" { (Msg::RecOperator.text(lang)) }
                    th scope="col" { (Msg::RecState.text(lang)) }
                } }
                tbody { @for r in &records { tr {
                    td { a href=(format!("/flights/{}/record", r.flight_id)) { (r.fields.sprayed_on) } }
                    td { (r.fields.place) }
                    td { (r.fields.crop) }
                    td { (r.fields.pesticide_name) }
                    td.num { (opt_num(r.fields.litres, LITRE_DECIMALS)) }
                    td.num { (opt_num(r.fields.area_m2, AREA_DECIMALS)) }
                    td { (r.fields.operator) }
                    td { (signed(&r.signed_at)) " (" (Msg::RecVersion.text(lang)) " " (r.version) ")" }
                } } }
            }
            }
        }
        h2 { (Msg::LogTitle.text(lang)) }
        @if logbooks.is_empty() { p role="status" { (Msg::RecNone.text(lang)) } }
        @else {
            div style="overflow-x: auto;" {
            table {
                thead { tr {
                    th scope="col" { (Msg::LogDate.text(lang)) }
                    th scope="col" { (Msg::LogPilot.text(lang)) }
                    th scope="col" { (Msg::LogTakeoffAt.text(lang)) }
                    th scope="col" { (Msg::LogLandingAt.text(lang)) }
                    th scope="col" class="num" { (Msg::LogFlightTime.text(lang)) }
                    th scope="col" class="num" { (Msg::LogFailsafes.text(lang)) }
                    th scope="col" { (Msg::RecState.text(lang)) }
                } }
                tbody { @for l in &logbooks { tr {
                    td { a href=(format!("/flights/{}/logbook", l.flight_id)) { (l.fields.flown_on) } }
                    td { (l.fields.pilot) }
                    td { (jst_time(l.fields.takeoff_at)) }
                    td { (jst_time(l.fields.landing_at)) }
                    td.num { (l.fields.flight_s.map(fmt_duration).unwrap_or_default()) }
                    td.num { (event_lines(lang, &l.fields.events_json).1.len()) }
                    td { (signed(&l.signed_at)) " (" (Msg::RecVersion.text(lang)) " " (l.version) ")" }
                } } }
            }
            }
        }
        h2 { (Msg::Catalogue.text(lang)) }
        @if catalogue.is_empty() { p { (Msg::RecNone.text(lang)) } }
        @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::RecPesticide.text(lang)) }
                    th scope="col" { (Msg::RecRegNoInput.text(lang)) }
                    th scope="col" class="num" { (Msg::RecDilution.text(lang)) }
                    th scope="col" class="num" { (Msg::RecRate.text(lang)) }
                } }
                tbody { @for p in &catalogue { tr {
                    td { (p.name) } td { (p.reg_no) }
                    td.num { (opt_num(p.dilution, 0)) } td.num { (opt_num(p.l_per_10a, 2)) }
                } } }
            }
        }
        @if can_write {
            form.no-print method="post" action=(format!("/farms/{id}/pesticides")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                h3 { (Msg::CatalogueAdd.text(lang)) }
                label for="p-name" { (Msg::RecPesticide.text(lang)) }
                input #p-name name="name" type="text" required;
                label for="p-reg" { (Msg::RecRegNoInput.text(lang)) }
                input #p-reg name="reg_no" type="text" inputmode="numeric";
                label for="p-dil" { (Msg::RecDilution.text(lang)) }
                input #p-dil name="dilution" type="number" inputmode="decimal" min="0" step="any";
                label for="p-rate" { (Msg::RecRate.text(lang)) }
                input #p-rate name="l_per_10a" type="number" inputmode="decimal" min="0" step="any";
                p { button type="submit" { (Msg::Save.text(lang)) } }
            }
        }
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

/// The catalogue form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct PesticideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    reg_no: String,
    #[serde(default)]
    dilution: String,
    #[serde(default)]
    l_per_10a: String,
}

#[utoipa::path(
    post, path = "/farms/{id}/pesticides", tag = "records",
    request_body(content = inline(PesticideForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm")),
    responses((status = 303, description = "See other: the farm's records page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn add_pesticide(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<PesticideForm>,
) -> Result<Response, AppError> {
    user.require_role(WRITERS)?;
    user.require_farm(id)?;
    state.db.farm(id).await?;
    user.check_csrf(&form.csrf)?;
    let lang = user.lang;
    let name = form.name.trim();
    let reg_no = form.reg_no.trim();
    check_text(
        lang,
        Msg::RecPesticide.text(lang),
        name,
        MAX_NAME,
        Lines::One,
    )?;
    check_text(
        lang,
        Msg::RecRegNoInput.text(lang),
        reg_no,
        MAX_NAME,
        Lines::One,
    )?;
    if name.is_empty() {
        return Err(AppError::BadInput(format!(
            "{}: {}",
            Msg::RecPesticide.text(lang),
            Msg::RecRequired.text(lang)
        )));
    }
    if !reg_no.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::BadInput(format!(
            "{}: {}",
            Msg::RecRegNoInput.text(lang),
            Msg::RecBadRegNo.text(lang)
        )));
    }
    let positive = |label: Msg, s: &str| -> Result<Option<f64>, AppError> {
        match parse_num(lang, label, s)? {
            Some(v) if v <= 0.0 => Err(AppError::BadInput(format!(
                "{}: {}",
                label.text(lang),
                Msg::RecBadNumber.text(lang)
            ))),
            v => Ok(v),
        }
    };
    let dilution = positive(Msg::RecDilution, &form.dilution)?;
    let rate = positive(Msg::RecRate, &form.l_per_10a)?;
    state
        .db
        .create_pesticide(id, name, reg_no, dilution, rate)
        .await?;
    Ok(Redirect::to(&format!("/farms/{id}/records")).into_response())
}

/// Headers of the spray record CSV, in column order.
pub const RECORD_CSV_HEADER: [&str; 17] = [
    "散布日",
    "圃場",
    "筆ポリゴンID",
    "住所",
    "作物",
    "農薬名",
    "農林水産省登録番号",
    "希釈倍数",
    "10a当たり使用量(L)",
    "使用総量(L)",
    "散布面積(m2)",
    "作業者",
    "備考",
    "版",
    "署名日時",
    "署名者",
    "飛行ID",
];

/// Headers of the logbook CSV, in column order.
pub const LOGBOOK_CSV_HEADER: [&str; 19] = [
    "飛行日",
    "操縦者",
    "無人航空機登録記号",
    "離陸時刻",
    "離陸場所",
    "離陸地点緯度",
    "離陸地点経度",
    "着陸時刻",
    "着陸場所",
    "着陸地点緯度",
    "着陸地点経度",
    "飛行時間(秒)",
    "飛行目的",
    "不具合・フェールセーフ",
    "備考",
    "版",
    "署名日時",
    "署名者",
    "飛行ID",
];

/// The CSV row of a spray record, in [`RECORD_CSV_HEADER`] order.
pub fn record_csv_row(r: &SprayRecord) -> Vec<CsvCell> {
    let f = &r.fields;
    let n = |x: Option<f64>| Figure(x.map(|v| v.to_string()).unwrap_or_default());
    let t = |s: &str| Text(s.to_owned());
    vec![
        t(&f.sprayed_on),
        t(&f.place),
        t(&f.fude_polygon_id),
        t(&f.address),
        t(&f.crop),
        t(&f.pesticide_name),
        t(&f.pesticide_reg_no),
        n(f.dilution),
        n(f.l_per_10a),
        Figure(opt_num(f.litres, LITRE_DECIMALS)),
        Figure(opt_num(f.area_m2, AREA_DECIMALS)),
        t(&f.operator),
        t(&f.notes),
        Figure(r.version.to_string()),
        Figure(jst_time(r.signed_at)),
        t(r.signed_by.as_deref().unwrap_or_default()),
        Figure(r.flight_id.to_string()),
    ]
}

pub(super) fn logbook_csv_row(l: &LogbookEntry) -> Vec<CsvCell> {
    let f = &l.fields;
    let n = |x: Option<f64>| Figure(x.map(|v| v.to_string()).unwrap_or_default());
    let t = |s: &str| Text(s.to_owned());
    let (_, failsafes) = event_lines(Lang::Ja, &f.events_json);
    let (anomalies, _) = event_lines(Lang::Ja, &f.events_json);
    let mut events = failsafes;
    events.extend(anomalies);
    vec![
        t(&f.flown_on),
        t(&f.pilot),
        t(&f.drone_reg_no),
        Figure(jst_time(f.takeoff_at)),
        t(&f.takeoff_place),
        n(f.takeoff_lat),
        n(f.takeoff_lon),
        Figure(jst_time(f.landing_at)),
        t(&f.landing_place),
        n(f.landing_lat),
        n(f.landing_lon),
        Figure(f.flight_s.map(|s| format!("{s:.0}")).unwrap_or_default()),
        t(&f.purpose),
        Text(events.join(" / ")),
        t(&f.notes),
        Figure(l.version.to_string()),
        Figure(jst_time(l.signed_at)),
        t(l.signed_by.as_deref().unwrap_or_default()),
        Figure(l.flight_id.to_string()),
    ]
}

pub(super) fn csv_name(
    kind: &str,
    farm: i64,
    from: &Option<String>,
    to: &Option<String>,
) -> String {
    format!(
        "{kind}-farm{farm}-{}-{}.csv",
        from.as_deref().unwrap_or("start"),
        to.as_deref().unwrap_or("end")
    )
}

pub(super) async fn records_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(period): Query<Period>,
) -> Result<Response, AppError> {
    readable_farm(&state, &user, id).await?;
    let (from, to) = period.bounds(user.lang)?;
    let rows: Vec<Vec<CsvCell>> = state
        .db
        .spray_records_of_farm(id, from.as_deref(), to.as_deref())
        .await?
        .iter()
        .map(record_csv_row)
        .collect();
    Ok(csv::response(
        &csv_name("spray-records", id, &from, &to),
        csv::document(RECORD_CSV_HEADER, rows),
    ))
}

pub(super) async fn logbook_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(period): Query<Period>,
) -> Result<Response, AppError> {
    readable_farm(&state, &user, id).await?;
    let (from, to) = period.bounds(user.lang)?;
    let rows: Vec<Vec<CsvCell>> = state
        .db
        .logbooks_of_farm(id, from.as_deref(), to.as_deref())
        .await?
        .iter()
        .map(logbook_csv_row)
        .collect();
    Ok(csv::response(
        &csv_name("flight-logbook", id, &from, &to),
        csv::document(LOGBOOK_CSV_HEADER, rows),
    ))
}
