//! Bridge tokens: issuing one for a farm (shown once) and revoking it.

use super::*;

#[utoipa::path(
    post, path = "/admin/tokens/{id}/revoke", tag = "admin",
    request_body(content = inline(CsrfForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The token")),
    responses((status = 303, description = "See other: the admin page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<CsrfForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    accounts::revoke_token(&state.db, Some(user.user.id), id).await?;
    let notice = html! { (Msg::TokenRevoked.text(user.lang)) };
    Ok(render(&state, &user, Some(notice)).await?.into_response())
}

/// The bridge-token form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct TokenForm {
    csrf: String,
    farm_id: i64,
    name: String,
}

#[utoipa::path(
    post, path = "/admin/tokens", tag = "admin",
    request_body(content = inline(TokenForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The admin page showing the new token once"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn add_token(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(form): AppForm<TokenForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let name = form.name.trim();
    check_text(
        user.lang,
        Msg::Name.text(user.lang),
        name,
        MAX_NAME,
        Lines::One,
    )?;
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadInput("name: 1 to 100 characters".into()));
    }
    state.db.farm(form.farm_id).await?;
    let token = credentials::new_token();
    accounts::add_token(
        &state.db,
        Some(user.user.id),
        form.farm_id,
        name,
        &credentials::token_hash(&token),
    )
    .await?;
    let notice = html! {
        (Msg::TokenShownOnce.text(user.lang)) " "
        code data-token { (token) }
    };
    Ok(render(&state, &user, Some(notice)).await?.into_response())
}
