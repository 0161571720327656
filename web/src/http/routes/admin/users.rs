//! Users: the user page, adding a user, editing name, role and farm, password resets and
//! disabling; every change with its audit row.

use super::*;

pub(super) async fn user_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    render_user(&state, &user, id, None).await
}

pub(super) async fn render_user(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    notice: Option<Markup>,
) -> Result<Response, AppError> {
    let lang = user.lang;
    let u = state.db.user(id).await?;
    let farms = state.db.farms().await?;
    let csrf = &user.csrf_token;
    let body = html! {
        p {
            (Msg::Username.text(lang)) ": " strong { (u.username) } " · "
            (Msg::AccountStatus.text(lang)) ": "
            strong { @if u.disabled { (Msg::Disabled.text(lang)) } @else { (Msg::Active.text(lang)) } }
        }
        form method="post" action=(format!("/admin/users/{id}")) {
            input type="hidden" name="csrf" value=(csrf);
            label for="user-display" { (Msg::DisplayName.text(lang)) }
            input id="user-display" name="display_name" required maxlength="100" value=(u.display_name);
            label for="user-role" { (Msg::RoleLabel.text(lang)) }
            select id="user-role" name="role" {
                @for r in ["farmer", "dairy", "staff", "admin"] {
                    option value=(r) selected[r == u.role.as_str()] { (role_name(lang, r)) }
                }
            }
            label for="user-farm" { (Msg::Farm.text(lang)) }
            select id="user-farm" name="farm_id" {
                option value="" { (Msg::NoneChoice.text(lang)) }
                @for f in &farms { option value=(f.id) selected[Some(f.id) == u.farm_id] { (f.name) } }
            }
            label for="user-lang" { (Msg::Language.text(lang)) }
            select id="user-lang" name="lang" {
                @for l in [Lang::Ja, Lang::En] {
                    option value=(l.tag()) selected[l.tag() == u.lang] { (Msg::LangName.text(l)) }
                }
            }
            p { button type="submit" { (Msg::Save.text(lang)) } }
        }
        h2 id="reset" { (Msg::ResetPassword.text(lang)) }
        form method="post" action=(format!("/admin/users/{id}/password")) aria-labelledby="reset" {
            input type="hidden" name="csrf" value=(csrf);
            label for="reset-password" { (Msg::NewPassword.text(lang)) }
            input id="reset-password" name="password" type="password" required
                minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password" aria-describedby="reset-hint";
            p.muted id="reset-hint" { (Msg::PasswordHint.text(lang)) }
            p { button type="submit" { (Msg::ResetPassword.text(lang)) } }
        }
        h2 id="status" { (Msg::AccountStatus.text(lang)) }
        form method="post" action=(format!("/admin/users/{id}/status")) aria-labelledby="status" {
            input type="hidden" name="csrf" value=(csrf);
            @if u.disabled {
                input type="hidden" name="disabled" value="false";
                p { button type="submit" { (Msg::Enable.text(lang)) } }
            } @else {
                input type="hidden" name="disabled" value="true";
                p { button type="submit" { (Msg::Disable.text(lang)) } }
            }
        }
    };
    Ok(admin_page(
        user,
        &format!("{}: {}", Msg::EditUser.text(lang), u.username),
        notice,
        body,
    ))
}

/// The user-edit form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct EditUserForm {
    csrf: String,
    display_name: String,
    role: String,
    #[serde(default)]
    farm_id: String,
    lang: String,
}

#[utoipa::path(
    post, path = "/admin/users/{id}", tag = "admin",
    request_body(content = inline(EditUserForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The user")),
    responses((status = 303, description = "See other: the user's admin page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn edit_user(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<EditUserForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let (role, farm_id) = check_role_farm(&form.role, &form.farm_id)?;
    if !matches!(form.lang.as_str(), "ja" | "en") {
        return Err(AppError::BadInput("lang: ja or en".into()));
    }
    let display = form.display_name.trim();
    check_text(
        user.lang,
        Msg::DisplayName.text(user.lang),
        display,
        MAX_NAME,
        Lines::One,
    )?;
    if display.is_empty() || display.chars().count() > 100 {
        return Err(AppError::BadInput(
            "display_name: 1 to 100 characters".into(),
        ));
    }
    if id == user.user.id && role != Role::Admin {
        return Err(AppError::BadInput(
            "role: you cannot take the administrator role from yourself".into(),
        ));
    }
    accounts::edit_user(
        &state.db,
        Some(user.user.id),
        id,
        accounts::UserChange {
            display_name: display,
            role,
            farm_id,
            lang: &form.lang,
        },
    )
    .await?;
    render_user(
        &state,
        &user,
        id,
        Some(html! { (Msg::Saved.text(user.lang)) }),
    )
    .await
}

/// The password-reset form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct ResetForm {
    csrf: String,
    password: String,
}

#[utoipa::path(
    post, path = "/admin/users/{id}/password", tag = "admin",
    request_body(content = inline(ResetForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The user")),
    responses((status = 303, description = "See other: the user's admin page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn reset_password(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<ResetForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    if form.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::BadInput("password: at least 8 characters".into()));
    }
    let hash = credentials::hash_password(&form.password)?;
    accounts::reset_password(&state.db, Some(user.user.id), id, &hash).await?;
    if id == user.user.id {
        // Resetting one's own password ended this session too.
        return Ok(axum::response::Redirect::to("/login").into_response());
    }
    render_user(
        &state,
        &user,
        id,
        Some(html! { (Msg::PasswordReset.text(user.lang)) }),
    )
    .await
}

/// The disable/enable form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct StatusForm {
    csrf: String,
    disabled: bool,
}

#[utoipa::path(
    post, path = "/admin/users/{id}/status", tag = "admin",
    request_body(content = inline(StatusForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The user")),
    responses((status = 303, description = "See other: the user's admin page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn set_status(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<StatusForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    if form.disabled && id == user.user.id {
        let notice = html! { (Msg::CannotDisableSelf.text(user.lang)) };
        return Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            render_user(&state, &user, id, Some(notice)).await?,
        )
            .into_response());
    }
    accounts::set_disabled(&state.db, Some(user.user.id), id, form.disabled).await?;
    let msg = if form.disabled {
        Msg::UserDisabled
    } else {
        Msg::UserEnabled
    };
    render_user(&state, &user, id, Some(html! { (msg.text(user.lang)) })).await
}

/// A role and its farm from form text: farmers and dairy operators need a farm.
pub(super) fn check_role_farm(role: &str, farm_id: &str) -> Result<(Role, Option<i64>), AppError> {
    let role = Role::parse(role)
        .ok_or_else(|| AppError::BadInput("role: admin, staff, farmer or dairy".into()))?;
    let farm_id = match farm_id.trim() {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| AppError::BadInput("farm_id: a farm id".into()))?,
        ),
    };
    if !role.sees_all_farms() && farm_id.is_none() {
        return Err(AppError::BadInput(
            "farm_id: farmers and dairy operators need a farm".into(),
        ));
    }
    Ok((role, farm_id))
}

/// The user form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct UserForm {
    csrf: String,
    username: String,
    display_name: String,
    password: String,
    role: String,
    #[serde(default)]
    farm_id: String,
}

#[utoipa::path(
    post, path = "/admin/users", tag = "admin",
    request_body(content = inline(UserForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "See other: the admin page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn add_user(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(form): AppForm<UserForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let (role, farm_id) = check_role_farm(&form.role, &form.farm_id)?;
    let username = form.username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(AppError::BadInput(
            "username: 1 to 64 letters, digits, '-', '_' or '.'".into(),
        ));
    }
    if form.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::BadInput("password: at least 8 characters".into()));
    }
    let display = form.display_name.trim();
    check_text(
        user.lang,
        Msg::DisplayName.text(user.lang),
        display,
        MAX_NAME,
        Lines::One,
    )?;
    let hash = credentials::hash_password(&form.password)?;
    let created = accounts::add_user(
        &state.db,
        Some(user.user.id),
        &NewUser {
            username,
            display_name: if display.is_empty() {
                username
            } else {
                display
            },
            password_hash: &hash,
            role,
            farm_id,
            lang: "ja",
        },
    )
    .await?;
    let notice = html! { (Msg::Created.text(user.lang)) " " (created.username) };
    Ok(render(&state, &user, Some(notice)).await?.into_response())
}
