//! The spray record (農薬使用記録) of a flight: its page, the form that saves a draft, signing
//! and amending.

use super::*;

pub(super) fn record_rows(lang: Lang, r: &RecordFields) -> Vec<(Msg, String)> {
    vec![
        (Msg::RecDate, r.sprayed_on.clone()),
        (Msg::RecPlace, r.place.clone()),
        (Msg::RecFude, r.fude_polygon_id.clone()),
        (Msg::RecAddress, r.address.clone()),
        (Msg::RecCrop, r.crop.clone()),
        (Msg::RecPesticide, r.pesticide_name.clone()),
        (
            Msg::RecRegNo,
            if r.pesticide_reg_no.is_empty() {
                String::new()
            } else {
                match lang {
                    Lang::Ja => format!("農林水産省登録第{}号", r.pesticide_reg_no),
                    Lang::En => format!("MAFF reg. No. {}", r.pesticide_reg_no),
                }
            },
        ),
        (Msg::RecDilution, opt_num(r.dilution, 0)),
        (Msg::RecRate, opt_num(r.l_per_10a, 2)),
        (Msg::RecLitres, opt_num(r.litres, LITRE_DECIMALS)),
        (Msg::RecArea, opt_num(r.area_m2, AREA_DECIMALS)),
        (Msg::RecOperator, r.operator.clone()),
        (Msg::RecNotes, r.notes.clone()),
    ]
}

pub(super) async fn record_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let versions = record_versions(&state.db, &f).await?;
    let cur = versions.last().ok_or(AppError::NotFound)?;
    let can_write = user.require_role(WRITERS).is_ok();
    let catalogue = state.db.pesticides(f.farm_id).await?;
    let title = format!(
        "{} — {} #{}",
        Msg::RecTitle.text(lang),
        Msg::FlightWord.text(lang),
        id
    );
    let r = &cur.fields;
    let body = html! {
        (print_style())
        h1 { (title) }
        p.no-print {
            a href=(format!("/flights/{id}")) { "← " (Msg::FlightWord.text(lang)) " #" (id) } " · "
            a href=(format!("/flights/{id}/logbook")) { (Msg::LogTitle.text(lang)) } " · "
            a href=(format!("/farms/{}/records", f.farm_id)) { (Msg::RecFarmList.text(lang)) }
        }
        p { (Msg::RecVersion.text(lang)) " " (cur.version) }
        (signature(lang, cur.signed_at, cur.signed_by.as_deref()))
        (rows_table(lang, record_rows(lang, r)))
        p.no-print { button.secondary type="button" data-print { (Msg::Print.text(lang)) } }
        script src="/static/print.js" defer {}
        @if can_write && cur.signed_at.is_none() {
            h2.no-print { (Msg::RecEdit.text(lang)) }
            form.no-print method="post" action=(format!("/flights/{id}/record")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                input type="hidden" name="version" value=(cur.version);
                label for="sprayed_on" { (Msg::RecDate.text(lang)) }
                input #sprayed_on name="sprayed_on" type="date" required value=(r.sprayed_on);
                (text_input("place", Msg::RecPlace, lang, &r.place))
                (text_input("fude_polygon_id", Msg::RecFude, lang, &r.fude_polygon_id))
                (text_input("address", Msg::RecAddress, lang, &r.address))
                (text_input("crop", Msg::RecCrop, lang, &r.crop))
                label for="pesticide_id" { (Msg::RecFromCatalogue.text(lang)) }
                select #pesticide_id name="pesticide_id" {
                    option value="" { (Msg::RecNotFromCatalogue.text(lang)) }
                    @for p in &catalogue {
                        option value=(p.id) selected[p.name == r.pesticide_name] {
                            (p.name) @if !p.reg_no.is_empty() { " (" (p.reg_no) ")" }
                        }
                    }
                }
                (text_input("pesticide_name", Msg::RecPesticide, lang, &r.pesticide_name))
                (text_input("pesticide_reg_no", Msg::RecRegNoInput, lang, &r.pesticide_reg_no))
                (num_input("dilution", Msg::RecDilution, lang, r.dilution))
                (num_input("l_per_10a", Msg::RecRate, lang, r.l_per_10a))
                (num_input("litres", Msg::RecLitres, lang, r.litres))
                (num_input("area_m2", Msg::RecArea, lang, r.area_m2))
                (text_input("operator", Msg::RecOperator, lang, &r.operator))
                label for="notes" { (Msg::RecNotes.text(lang)) }
                textarea #notes name="notes" rows="3" { (r.notes) }
                p { button type="submit" { (Msg::Save.text(lang)) } }
            }
        }
        (sign_and_history(
            &user,
            &format!("/flights/{id}/record"),
            can_write,
            &missing_for_signing(&cur.fields),
            (cur.version, cur.signed_at.is_some()),
            versions.iter().rev().skip(1).map(|v| {
                (v.version, v.signed_at, v.signed_by.as_deref(), record_rows(lang, &v.fields))
            }),
        ))
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

/// The record form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct RecordForm {
    #[serde(default)]
    csrf: String,
    version: i64,
    sprayed_on: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    fude_polygon_id: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    crop: String,
    #[serde(default)]
    pesticide_id: String,
    #[serde(default)]
    pesticide_name: String,
    #[serde(default)]
    pesticide_reg_no: String,
    #[serde(default)]
    dilution: String,
    #[serde(default)]
    l_per_10a: String,
    #[serde(default)]
    litres: String,
    #[serde(default)]
    area_m2: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    notes: String,
}

#[utoipa::path(
    post, path = "/flights/{id}/record", tag = "records",
    request_body(content = inline(RecordForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The flight")),
    responses((status = 303, description = "See other: the record page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn save_record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<RecordForm>,
) -> Result<Response, AppError> {
    let f = writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    let lang = user.lang;
    for (label, value, max, lines) in [
        (Msg::RecPlace, &form.place, MAX_NAME, Lines::One),
        (Msg::RecFude, &form.fude_polygon_id, MAX_NAME, Lines::One),
        (Msg::RecAddress, &form.address, MAX_LINE, Lines::One),
        (Msg::RecCrop, &form.crop, MAX_NAME, Lines::One),
        (
            Msg::RecPesticide,
            &form.pesticide_name,
            MAX_NAME,
            Lines::One,
        ),
        (
            Msg::RecRegNoInput,
            &form.pesticide_reg_no,
            MAX_NAME,
            Lines::One,
        ),
        (Msg::RecOperator, &form.operator, MAX_NAME, Lines::One),
        (Msg::RecNotes, &form.notes, MAX_NOTES, Lines::Many),
    ] {
        check_text(lang, label.text(lang), value.trim(), max, lines)?;
    }
    let reg_no = form.pesticide_reg_no.trim().to_owned();
    if !reg_no.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::BadInput(format!(
            "{}: {}",
            Msg::RecRegNoInput.text(lang),
            Msg::RecBadRegNo.text(lang)
        )));
    }
    let mut r = RecordFields {
        sprayed_on: parse_date(lang, Msg::RecDate, &form.sprayed_on)?,
        place: form.place.trim().to_owned(),
        fude_polygon_id: form.fude_polygon_id.trim().to_owned(),
        address: form.address.trim().to_owned(),
        crop: form.crop.trim().to_owned(),
        pesticide_name: form.pesticide_name.trim().to_owned(),
        pesticide_reg_no: reg_no,
        dilution: parse_num(lang, Msg::RecDilution, &form.dilution)?,
        l_per_10a: parse_num(lang, Msg::RecRate, &form.l_per_10a)?,
        litres: parse_num(lang, Msg::RecLitres, &form.litres)?,
        area_m2: parse_num(lang, Msg::RecArea, &form.area_m2)?,
        operator: form.operator.trim().to_owned(),
        notes: form.notes.trim().to_owned(),
    };
    if !form.pesticide_id.trim().is_empty() {
        let pid: i64 = form.pesticide_id.trim().parse().map_err(|_| {
            AppError::BadInput(format!("pesticide_id: {}", Msg::RecBadNumber.text(lang)))
        })?;
        let p = state
            .db
            .pesticides(f.farm_id)
            .await?
            .into_iter()
            .find(|p| p.id == pid)
            .ok_or_else(|| {
                AppError::BadInput(format!(
                    "{}: {}",
                    Msg::RecFromCatalogue.text(lang),
                    Msg::NotFound.text(lang)
                ))
            })?;
        r.pesticide_name = p.name;
        r.pesticide_reg_no = p.reg_no;
        r.dilution = r.dilution.or(p.dilution);
        r.l_per_10a = r.l_per_10a.or(p.l_per_10a);
    }
    records::save_record(&state.db, id, form.version, r, lang).await?;
    Ok(Redirect::to(&format!("/flights/{id}/record")).into_response())
}

#[utoipa::path(
    post, path = "/flights/{id}/record/sign", tag = "records",
    request_body(content = inline(VersionForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The flight")),
    responses((status = 303, description = "See other: the record page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn sign_record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<VersionForm>,
) -> Result<Response, AppError> {
    writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    records::sign_record(
        &state.db,
        id,
        form.version,
        &user.user.display_name,
        user.lang,
    )
    .await?;
    Ok(Redirect::to(&format!("/flights/{id}/record")).into_response())
}

#[utoipa::path(
    post, path = "/flights/{id}/record/amend", tag = "records",
    request_body(content = inline(VersionForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The flight")),
    responses((status = 303, description = "See other: the record page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn amend_record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<VersionForm>,
) -> Result<Response, AppError> {
    writable_flight(&state, &user, id).await?;
    user.check_csrf(&form.csrf)?;
    state
        .db
        .amend_spray_record(id)
        .await
        .map_err(frozen(user.lang))?;
    Ok(Redirect::to(&format!("/flights/{id}/record")).into_response())
}
