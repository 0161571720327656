//! Farms: the farm page, adding a farm and editing its name, kind, district and address.

use super::*;

pub(super) async fn farm_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    render_farm(&state, &user, id, None).await
}

pub(super) async fn render_farm(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    notice: Option<Markup>,
) -> Result<Response, AppError> {
    let lang = user.lang;
    let farm = state.db.farm(id).await?;
    let districts = state.db.districts().await?;
    let body = html! {
        form method="post" action=(format!("/admin/farms/{id}")) {
            input type="hidden" name="csrf" value=(user.csrf_token);
            label for="farm-name" { (Msg::Name.text(lang)) }
            input id="farm-name" name="name" required maxlength="100" value=(farm.name);
            label for="farm-district" { (Msg::Districts.text(lang)) }
            select id="farm-district" name="district_id" {
                @for d in &districts {
                    option value=(d.id) selected[d.id == farm.district_id] { (district_name(&districts, d.id, lang)) }
                }
            }
            label for="farm-kind" { (Msg::FarmKind.text(lang)) }
            select id="farm-kind" name="kind" {
                @for k in ["crop", "dairy", "mixed"] {
                    option value=(k) selected[k == farm.kind] { (farm_kind_name(lang, k)) }
                }
            }
            label for="farm-address" { (Msg::Address.text(lang)) }
            input id="farm-address" name="address" maxlength="200" value=(farm.address);
            p { button type="submit" { (Msg::Save.text(lang)) } }
        }
    };
    Ok(admin_page(
        user,
        &format!("{}: {}", Msg::EditFarm.text(lang), farm.name),
        notice,
        body,
    ))
}

#[utoipa::path(
    post, path = "/admin/farms/{id}", tag = "admin",
    request_body(content = inline(FarmForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm")),
    responses((status = 303, description = "See other: the farm's admin page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn edit_farm(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<FarmForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let name = check_farm(user.lang, &form)?;
    accounts::edit_farm(
        &state.db,
        Some(user.user.id),
        id,
        accounts::FarmChange {
            district_id: form.district_id,
            name,
            kind: &form.kind,
            address: form.address.trim(),
        },
    )
    .await?;
    let notice = html! { (Msg::Saved.text(user.lang)) };
    render_farm(&state, &user, id, Some(notice)).await
}

/// The name of a farm form, checked (kind checked too).
pub(super) fn check_farm(lang: Lang, form: &FarmForm) -> Result<&str, AppError> {
    let name = form.name.trim();
    check_text(lang, Msg::Name.text(lang), name, MAX_NAME, Lines::One)?;
    let address = form.address.trim();
    check_text(lang, Msg::Address.text(lang), address, MAX_LINE, Lines::One)?;
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadInput("name: 1 to 100 characters".into()));
    }
    if !matches!(form.kind.as_str(), "crop" | "dairy" | "mixed") {
        return Err(AppError::BadInput("kind: crop, dairy or mixed".into()));
    }
    Ok(name)
}

/// The farm form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct FarmForm {
    csrf: String,
    name: String,
    district_id: i64,
    kind: String,
    #[serde(default)]
    address: String,
}

#[utoipa::path(
    post, path = "/admin/farms", tag = "admin",
    request_body(content = inline(FarmForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the admin page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn add_farm(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(form): AppForm<FarmForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let name = check_farm(user.lang, &form)?;
    let farm = accounts::add_farm(
        &state.db,
        Some(user.user.id),
        accounts::FarmChange {
            district_id: form.district_id,
            name,
            kind: &form.kind,
            address: form.address.trim(),
        },
    )
    .await?;
    let notice = html! { (Msg::Created.text(user.lang)) " " (farm.name) " (ID " (farm.id) ")" };
    Ok(render(&state, &user, Some(notice)).await?.into_response())
}
