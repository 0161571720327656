//! Changing a field: its name (an imported fude polygon arrives named by its file id), crop,
//! address and 地番, by its own farm only; and the field's history of plans, flights and
//! spray records in time order, for its page.

use super::*;
use crate::i18n::fields::FieldMsg;
use crate::services::fields::{
    self, FieldEvent as Event, FieldInput, MAX_ADDRESS, MAX_CHIBAN, MAX_CROP,
};

/// The edit form as sent.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub(super) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    crop: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    chiban: String,
}

/// The field `id` if `user` may change it (a farmer or dairy operator of its farm).
async fn writable_field(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<FieldRow, AppError> {
    let farm = writable_farm(user)?;
    let f = readable_field(state, user, id).await?;
    if f.farm_id != farm {
        return Err(AppError::Forbidden);
    }
    Ok(f)
}

/// The edit form with `values`, and with `refusal` the reason the last try was refused.
fn edit_page(user: &CurrentUser, f: &FieldRow, values: &EditForm, refusal: Option<&str>) -> Markup {
    let lang = user.lang;
    let title = format!("{} — {}", f.name, FieldMsg::EditTitle.text(lang));
    let text = |id: &str, label: &str, value: &str, max: usize, required: bool| {
        html! {
            label for=(id) { (label) }
            input id=(id) name=(id) type="text" value=(value) maxlength=(max) required[required]
                autocomplete="off";
        }
    };
    let body = html! {
        h1 { (FieldMsg::EditTitle.text(lang)) }
        p { a href=(format!("/fields/{}", f.id)) { "← " (f.name) } }
        @if let Some(why) = refusal {
            div.alert #edit-refused role="alert" tabindex="-1" autofocus {
                p { strong { (Msg::BadInput.text(lang)) } }
                p { (why) }
            }
        }
        @if let Some(fude) = &f.fude_polygon_id {
            dl { dt { (Msg::FudeId.text(lang)) } dd { code { (fude) } } }
        }
        form method="post" action=(format!("/fields/{}/edit", f.id)) {
            input type="hidden" name="csrf" value=(user.csrf_token);
            (text("name", Msg::Name.text(lang), &values.name, MAX_NAME, true))
            (text("crop", Msg::Crop.text(lang), &values.crop, MAX_CROP, false))
            p.muted #place-hint { (FieldMsg::PlaceHint.text(lang)) }
            (text("address", Msg::Address.text(lang), &values.address, MAX_ADDRESS, false))
            (text("chiban", FieldMsg::Chiban.text(lang), &values.chiban, MAX_CHIBAN, false))
            p { button type="submit" { (Msg::Save.text(lang)) } }
        }
    };
    pages::layout(lang, &title, Some(user), body)
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = writable_field(&state, &user, id).await?;
    let values = EditForm {
        csrf: String::new(),
        name: f.name.clone(),
        crop: f.crop.clone(),
        address: f.address.clone(),
        chiban: f.chiban.clone(),
    };
    Ok(edit_page(&user, &f, &values, None).into_response())
}

#[utoipa::path(
    post, path = "/fields/{id}/edit", tag = "fields",
    request_body(content = inline(EditForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The field")),
    responses((status = 303, description = "See other: the field page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn save_edit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<EditForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    let f = writable_field(&state, &user, id).await?;
    let input = FieldInput {
        name: &form.name,
        crop: &form.crop,
        address: &form.address,
        chiban: &form.chiban,
    };
    match fields::edit_field(&state.db, user.lang, f.farm_id, f.id, &input).await {
        Err(AppError::BadInput(why)) => {
            // What was sent, without the control characters that got it refused.
            let shown = |t: &str| clean_text(t, usize::MAX);
            let values = EditForm {
                csrf: String::new(),
                name: shown(&form.name),
                crop: shown(&form.crop),
                address: shown(&form.address),
                chiban: shown(&form.chiban),
            };
            let page = edit_page(&user, &f, &values, Some(&why));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
        Ok(()) => Ok(Redirect::to(&format!("/fields/{id}")).into_response()),
    }
}

/// The field's plans and flights (with their spray records' state), newest first.
pub(super) async fn timeline(
    state: &AppState,
    field_id: i64,
    lang: Lang,
) -> Result<Markup, AppError> {
    let events = fields::history(&state.db, field_id).await?;
    let when = |e: &Event| {
        e.at()
            .with_timezone(&JST)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    Ok(html! {
        h2 #timeline { (FieldMsg::Timeline.text(lang)) }
        @if events.is_empty() {
            p { (FieldMsg::Nothing.text(lang)) }
        } @else {
            ol.timeline aria-labelledby="timeline" { @for e in &events { li {
                time datetime=(e.at().to_rfc3339()) { (when(e)) } " "
                @match e {
                    Event::Plan(p) => {
                        a href=(format!("/plans/{}", p.id)) {
                            (FieldMsg::PlanMade.text(lang)) " #" (p.id)
                        }
                    }
                    Event::Flight(f, signed) => {
                        a href=(format!("/flights/{}", f.id)) {
                            (FieldMsg::Flown.text(lang)) " #" (f.id)
                        }
                        " — " (super::super::flight_shared::status_msg(&f.status).text(lang))
                        @if let Some(a) = f.sprayed_area_m2 { ", " (format!("{a:.0}")) " m²" }
                        @if let Some(s) = signed {
                            " · "
                            a href=(format!("/flights/{}/record", f.id)) {
                                (if *s { FieldMsg::RecordSigned } else { FieldMsg::RecordDraft }.text(lang))
                            }
                        }
                    }
                }
            } } }
        }
    })
}
