//! Administration pages: farms, users and bridge tokens (admin only).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{self, CurrentUser};
use crate::error::{AppError, AppForm};
use crate::i18n::JST;
use crate::i18n::{Lang, Msg, district_name, farm_kind_name, role_name};
use crate::pages;
use crate::routes::account::MIN_PASSWORD_CHARS;
use crate::storage::{NewUser, Role};
use crate::validate::{Lines, MAX_LINE, MAX_NAME, check_text};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/farms", post(add_farm))
        .route("/admin/users", post(add_user))
        .route("/admin/tokens", post(add_token))
        .route("/admin/farms/{id}", get(farm_page).post(edit_farm))
        .route("/admin/users/{id}", get(user_page).post(edit_user))
        .route("/admin/users/{id}/password", post(reset_password))
        .route("/admin/users/{id}/status", post(set_status))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
}

fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    user.require_role(&[Role::Admin])
}

async fn page(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    require_admin(&user)?;
    Ok(render(&state, &user, None).await?.into_response())
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    notice: Option<Markup>,
) -> Result<Markup, AppError> {
    let lang = user.lang;
    let districts = state.db.districts().await?;
    let farms = state.db.farms().await?;
    let users = state.db.users().await?;
    let tokens = state.db.bridge_tokens().await?;
    let audit = state.db.audit_log(30).await?;
    let dname = |id: i64| district_name(&districts, id, lang);
    let csrf = &user.csrf_token;
    let title = Msg::Admin.text(lang);
    let body = html! {
        h1 { (title) }
        @if let Some(n) = notice { div.notice role="status" { (n) } }
        h2 id="farms" { (Msg::Farms.text(lang)) }
        table {
            thead { tr {
                th scope="col" { "ID" }
                th scope="col" { (Msg::Name.text(lang)) }
                th scope="col" { (Msg::Districts.text(lang)) }
                th scope="col" { (Msg::FarmKind.text(lang)) }
                th scope="col" { (Msg::Edit.text(lang)) }
            } }
            tbody { @for f in &farms { tr {
                td { (f.id) } td { (f.name) } td { (dname(f.district_id)) }
                td { (farm_kind_name(lang, &f.kind)) }
                td { a href=(format!("/admin/farms/{}", f.id)) { (Msg::Edit.text(lang)) span.visually-hidden { ": " (f.name) } } }
            } } }
        }
        h3 { (Msg::AddFarm.text(lang)) }
        form method="post" action="/admin/farms" {
            input type="hidden" name="csrf" value=(csrf);
            label for="farm-name" { (Msg::Name.text(lang)) }
            input id="farm-name" name="name" required maxlength="100";
            label for="farm-district" { (Msg::Districts.text(lang)) }
            select id="farm-district" name="district_id" {
                @for d in &districts { option value=(d.id) { (dname(d.id)) } }
            }
            label for="farm-kind" { (Msg::FarmKind.text(lang)) }
            select id="farm-kind" name="kind" {
                @for k in ["crop", "dairy", "mixed"] { option value=(k) { (farm_kind_name(lang, k)) } }
            }
            label for="farm-address" { (Msg::Address.text(lang)) }
            input id="farm-address" name="address" maxlength="200";
            p { button type="submit" { (Msg::AddFarm.text(lang)) } }
        }
        h2 id="users" { (Msg::Users.text(lang)) }
        table {
            thead { tr {
                th scope="col" { (Msg::Username.text(lang)) }
                th scope="col" { (Msg::DisplayName.text(lang)) }
                th scope="col" { (Msg::RoleLabel.text(lang)) }
                th scope="col" { (Msg::Farm.text(lang)) }
                th scope="col" { (Msg::PilotCredentials.text(lang)) }
                th scope="col" { (Msg::AccountStatus.text(lang)) }
                th scope="col" { (Msg::Edit.text(lang)) }
            } }
            tbody { @for u in &users { tr {
                td { (u.username) } td { (u.display_name) }
                td { (role_name(lang, u.role.as_str())) }
                td { (u.farm_id.and_then(|id| farms.iter().find(|f| f.id == id)).map(|f| f.name.as_str()).unwrap_or("—")) }
                td { a href=(format!("/pilots/{}", u.id)) aria-label=(format!("{}: {}", Msg::PilotCredentials.text(lang), u.username)) { (Msg::PilotCredentials.text(lang)) } }
                td { @if u.disabled { strong { (Msg::Disabled.text(lang)) } } @else { (Msg::Active.text(lang)) } }
                td { a href=(format!("/admin/users/{}", u.id)) { (Msg::Edit.text(lang)) span.visually-hidden { ": " (u.username) } } }
            } } }
        }
        h3 { (Msg::AddUser.text(lang)) }
        form method="post" action="/admin/users" {
            input type="hidden" name="csrf" value=(csrf);
            label for="user-name" { (Msg::Username.text(lang)) }
            input id="user-name" name="username" required maxlength="64" autocomplete="off";
            label for="user-display" { (Msg::DisplayName.text(lang)) }
            input id="user-display" name="display_name" required maxlength="100";
            label for="user-password" { (Msg::Password.text(lang)) }
            input id="user-password" name="password" type="password" required minlength="8" autocomplete="new-password";
            label for="user-role" { (Msg::RoleLabel.text(lang)) }
            select id="user-role" name="role" {
                @for r in ["farmer", "dairy", "staff", "admin"] { option value=(r) { (role_name(lang, r)) } }
            }
            label for="user-farm" { (Msg::Farm.text(lang)) }
            select id="user-farm" name="farm_id" {
                option value="" { (Msg::NoneChoice.text(lang)) }
                @for f in &farms { option value=(f.id) { (f.name) } }
            }
            p { button type="submit" { (Msg::AddUser.text(lang)) } }
        }
        h2 id="tokens" { (Msg::BridgeTokens.text(lang)) }
        form method="post" action="/admin/tokens" {
            input type="hidden" name="csrf" value=(csrf);
            label for="token-farm" { (Msg::Farm.text(lang)) }
            select id="token-farm" name="farm_id" {
                @for f in farms.iter().filter(|f| f.kind != "crop") { option value=(f.id) { (f.name) } }
            }
            label for="token-name" { (Msg::Name.text(lang)) }
            input id="token-name" name="name" required maxlength="100";
            p { button type="submit" { (Msg::AddToken.text(lang)) } }
        }
        @if !tokens.is_empty() {
            table {
                thead { tr {
                    th scope="col" { (Msg::Name.text(lang)) }
                    th scope="col" { (Msg::Farm.text(lang)) }
                    th scope="col" { (Msg::Created.text(lang)) }
                    th scope="col" { (Msg::AccountStatus.text(lang)) }
                } }
                tbody { @for t in &tokens { tr {
                    td { (t.name) }
                    td { (farms.iter().find(|f| f.id == t.farm_id).map(|f| f.name.as_str()).unwrap_or("—")) }
                    td { (when(t.created_at)) }
                    td {
                        @if let Some(r) = t.revoked_at { (Msg::Revoked.text(lang)) " " (when(r)) } @else {
                            form method="post" action=(format!("/admin/tokens/{}/revoke", t.id)) {
                                input type="hidden" name="csrf" value=(csrf);
                                button.secondary type="submit" { (Msg::Revoke.text(lang)) span.visually-hidden { ": " (t.name) } }
                            }
                        }
                    }
                } } }
            }
        }
        h2 id="audit" { (Msg::AuditLog.text(lang)) }
        @if audit.is_empty() { p { "—" } } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::When.text(lang)) }
                    th scope="col" { (Msg::Who.text(lang)) }
                    th scope="col" { (Msg::Action.text(lang)) }
                    th scope="col" { (Msg::Target.text(lang)) }
                } }
                tbody { @for a in &audit { tr {
                    td { (when(a.at)) }
                    td { (a.actor.as_deref().unwrap_or(Msg::CommandLine.text(lang))) }
                    td { code { (a.action) } @if !a.detail.is_empty() { " " (a.detail) } }
                    td { (a.target) }
                } } }
            }
        }
    };
    Ok(pages::layout(lang, title, Some(user), body))
}

/// A time as Tokyo wall-clock minutes.
fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&JST).format("%Y-%m-%d %H:%M").to_string()
}

/// A page of the admin area with a heading, a notice and a body.
fn admin_page(user: &CurrentUser, title: &str, notice: Option<Markup>, body: Markup) -> Response {
    let lang = user.lang;
    pages::layout(
        lang,
        title,
        Some(user),
        html! {
            p { a href="/admin" { (Msg::Admin.text(lang)) } }
            h1 { (title) }
            @if let Some(n) = notice { div.notice role="status" { (n) } }
            (body)
        },
    )
    .into_response()
}

async fn farm_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    render_farm(&state, &user, id, None).await
}

async fn render_farm(
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

async fn edit_farm(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<FarmForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let name = check_farm(user.lang, &form)?;
    // The change and its audit row are one transaction.
    let mut tx = state.db.begin().await?;
    let before = tx.farm(id).await?;
    let farm = tx
        .update_farm(id, form.district_id, name, &form.kind, form.address.trim())
        .await?;
    let detail = format!(
        "{} → {}, {} → {}, district {} → {}",
        before.name, farm.name, before.kind, farm.kind, before.district_id, farm.district_id
    );
    tx.audit(
        Some(user.user.id),
        "farm.edit",
        &format!("farm {id}"),
        &detail,
    )
    .await?;
    tx.commit().await?;
    let notice = html! { (Msg::Saved.text(user.lang)) };
    render_farm(&state, &user, id, Some(notice)).await
}

async fn user_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    render_user(&state, &user, id, None).await
}

async fn render_user(
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
#[derive(Debug, Deserialize)]
struct EditUserForm {
    csrf: String,
    display_name: String,
    role: String,
    #[serde(default)]
    farm_id: String,
    lang: String,
}

async fn edit_user(
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
    let mut tx = state.db.begin().await?;
    let before = tx.user(id).await?;
    let after = tx
        .update_user(id, display, role, farm_id, &form.lang)
        .await?;
    let detail = format!(
        "role {} → {}, farm {:?} → {:?}, lang {} → {}",
        before.role.as_str(),
        after.role.as_str(),
        before.farm_id,
        after.farm_id,
        before.lang,
        after.lang
    );
    tx.audit(Some(user.user.id), "user.edit", &after.username, &detail)
        .await?;
    tx.commit().await?;
    render_user(
        &state,
        &user,
        id,
        Some(html! { (Msg::Saved.text(user.lang)) }),
    )
    .await
}

/// The password-reset form.
#[derive(Debug, Deserialize)]
struct ResetForm {
    csrf: String,
    password: String,
}

async fn reset_password(
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
    let hash = auth::hash_password(&form.password)?;
    let mut tx = state.db.begin().await?;
    let target = tx.user(id).await?;
    tx.set_password(id, &hash, None).await?;
    tx.audit(
        Some(user.user.id),
        "user.password",
        &target.username,
        "reset",
    )
    .await?;
    tx.commit().await?;
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
#[derive(Debug, Deserialize)]
struct StatusForm {
    csrf: String,
    disabled: bool,
}

async fn set_status(
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
    let mut tx = state.db.begin().await?;
    let target = tx.user(id).await?;
    tx.set_user_disabled(id, form.disabled).await?;
    let action = if form.disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    tx.audit(Some(user.user.id), action, &target.username, "")
        .await?;
    tx.commit().await?;
    let msg = if form.disabled {
        Msg::UserDisabled
    } else {
        Msg::UserEnabled
    };
    render_user(&state, &user, id, Some(html! { (msg.text(user.lang)) })).await
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn revoke_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    AppForm(form): AppForm<CsrfForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let mut tx = state.db.begin().await?;
    tx.revoke_bridge_token(id).await?;
    tx.audit_token_revoked(Some(user.user.id), id).await?;
    tx.commit().await?;
    let notice = html! { (Msg::TokenRevoked.text(user.lang)) };
    Ok(render(&state, &user, Some(notice)).await?.into_response())
}

/// The name of a farm form, checked (kind checked too).
fn check_farm(lang: Lang, form: &FarmForm) -> Result<&str, AppError> {
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

/// A role and its farm from form text: farmers and dairy operators need a farm.
fn check_role_farm(role: &str, farm_id: &str) -> Result<(Role, Option<i64>), AppError> {
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

/// The farm form.
#[derive(Debug, Deserialize)]
struct FarmForm {
    csrf: String,
    name: String,
    district_id: i64,
    kind: String,
    #[serde(default)]
    address: String,
}

async fn add_farm(
    State(state): State<AppState>,
    user: CurrentUser,
    AppForm(form): AppForm<FarmForm>,
) -> Result<Response, AppError> {
    require_admin(&user)?;
    user.check_csrf(&form.csrf)?;
    let name = check_farm(user.lang, &form)?;
    let mut tx = state.db.begin().await?;
    let farm = tx
        .create_farm(form.district_id, name, &form.kind, form.address.trim())
        .await?;
    tx.audit_farm_added(Some(user.user.id), &farm).await?;
    tx.commit().await?;
    let notice = html! { (Msg::Created.text(user.lang)) " " (farm.name) " (ID " (farm.id) ")" };
    Ok(render(&state, &user, Some(notice)).await?.into_response())
}

/// The user form.
#[derive(Debug, Deserialize)]
struct UserForm {
    csrf: String,
    username: String,
    display_name: String,
    password: String,
    role: String,
    #[serde(default)]
    farm_id: String,
}

async fn add_user(
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
    let hash = auth::hash_password(&form.password)?;
    let mut tx = state.db.begin().await?;
    let created = tx
        .create_user(&NewUser {
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
        })
        .await?;
    tx.audit_user_added(Some(user.user.id), &created).await?;
    tx.commit().await?;
    let notice = html! { (Msg::Created.text(user.lang)) " " (created.username) };
    Ok(render(&state, &user, Some(notice)).await?.into_response())
}

/// The bridge-token form.
#[derive(Debug, Deserialize)]
struct TokenForm {
    csrf: String,
    farm_id: i64,
    name: String,
}

async fn add_token(
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
    let token = auth::new_token();
    let mut tx = state.db.begin().await?;
    let id = tx
        .create_bridge_token(form.farm_id, name, &auth::token_hash(&token))
        .await?;
    tx.audit_token_added(Some(user.user.id), id, form.farm_id, name)
        .await?;
    tx.commit().await?;
    let notice = html! {
        (Msg::TokenShownOnce.text(user.lang)) " "
        code data-token { (token) }
    };
    Ok(render(&state, &user, Some(notice)).await?.into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::storage::Role;
    use crate::testutil::both_apps;

    both_apps!(admin_text_with_a_nul_is_a_422_on_both_backends, |app| {
        let admin = app.user("root3", Role::Admin, None).await;
        let d = app.state.db.districts().await.unwrap()[0].id.to_string();
        let farm = app.farm("nul-farm", "crop").await;
        let refused = |path: String, form: Vec<(&'static str, String)>| {
            let cookies = admin.cookies.clone();
            let csrf = admin.csrf.clone();
            async move {
                let mut form = form;
                form.push(("csrf", csrf));
                let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let r = app.post_form(&path, &cookies, &pairs).await;
                assert_eq!(
                    r.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{path}: {}",
                    r.body
                );
                assert!(r.body.contains("制御文字"), "{path}: {}", r.body);
            }
        };
        let farm_form = |name: &str, address: &str| {
            vec![
                ("name", name.to_owned()),
                ("district_id", d.clone()),
                ("kind", "crop".to_owned()),
                ("address", address.to_owned()),
            ]
        };
        refused("/admin/farms".into(), farm_form("高久\0農園", "")).await;
        refused("/admin/farms".into(), farm_form("高久農園", "高久\0甲")).await;
        refused(format!("/admin/farms/{}", farm.id), farm_form("x\0", "")).await;
        refused(
            "/admin/users".into(),
            vec![
                ("username", "nul-user".to_owned()),
                ("display_name", "山田\0".to_owned()),
                ("password", "password1".to_owned()),
                ("role", "staff".to_owned()),
            ],
        )
        .await;
        let id = app
            .state
            .db
            .user_by_username("root3")
            .await
            .unwrap()
            .unwrap()
            .id;
        refused(
            format!("/admin/users/{id}"),
            vec![
                ("display_name", "管理\0者".to_owned()),
                ("role", "admin".to_owned()),
                ("lang", "ja".to_owned()),
            ],
        )
        .await;
        refused(
            "/admin/tokens".into(),
            vec![
                ("farm_id", farm.id.to_string()),
                ("name", "bridge\0".to_owned()),
            ],
        )
        .await;
        // Nothing of it was stored; a clean farm still goes through.
        assert!(
            app.state
                .db
                .user_by_username("nul-user")
                .await
                .unwrap()
                .is_none()
        );
        let f = app.state.db.farm(farm.id).await.unwrap();
        assert_eq!(f.name, "nul-farm");
        let mut ok = farm_form("高久農園", "高久甲");
        ok.push(("csrf", admin.csrf.clone()));
        let pairs: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.post_form("/admin/farms", &admin.cookies, &pairs).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    });

    both_apps!(admin_manages_farms_users_and_tokens, |app| {
        let admin = app.user("root", Role::Admin, None).await;
        let d = app.state.db.districts().await.unwrap();
        let r = app
            .post_form(
                "/admin/farms",
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("name", "高久農園"),
                    ("district_id", &d[2].id.to_string()),
                    ("kind", "crop"),
                    ("address", "那須塩原市高久"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("高久農園") && r.body.contains("塩原"));
        let farm = app
            .state
            .db
            .farms()
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.name == "高久農園")
            .unwrap();
        let r = app
            .post_form(
                "/admin/users",
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("username", "takaku"),
                    ("display_name", "高久さん"),
                    ("password", "long-enough"),
                    ("role", "farmer"),
                    ("farm_id", &farm.id.to_string()),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(app.sign_in("takaku", "long-enough").await.is_some());
        let dairy = app.farm("牧場", "dairy").await;
        let r = app
            .post_form(
                "/admin/tokens",
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("farm_id", &dairy.id.to_string()),
                    ("name", "bridge-1"),
                ],
            )
            .await;
        let token = r
            .body
            .split("data-token>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap();
        assert_eq!(token.len(), 64);
        let (_, farm_of_token) = app
            .state
            .db
            .bridge_token(&crate::auth::token_hash(token))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(farm_of_token, dairy.id);
        // Each creation is in the change log, by the admin, and never the token itself.
        let log = app.state.db.audit_log(20).await.unwrap();
        for action in ["farm.add", "user.add", "token.add"] {
            assert!(
                log.iter()
                    .any(|a| a.action == action && a.actor.as_deref() == Some("root")),
                "{action} in {log:?}"
            );
        }
        assert!(log.iter().all(|a| !a.detail.contains(token)));
    });

    both_apps!(admin_forms_reject_bad_input_and_non_admins, |app| {
        let admin = app.user("root2", Role::Admin, None).await;
        let staff = app.user("staff9", Role::Staff, None).await;
        assert_eq!(
            app.get("/admin", &staff.cookies).await.status,
            StatusCode::FORBIDDEN
        );
        let r = app
            .post_form(
                "/admin/farms",
                &staff.cookies,
                &[
                    ("csrf", &staff.csrf),
                    ("name", "x"),
                    ("district_id", "1"),
                    ("kind", "crop"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // Missing CSRF token, wrong kind, malformed id, farmer without a farm, duplicate user.
        let r = app
            .post_form(
                "/admin/farms",
                &admin.cookies,
                &[
                    ("csrf", "forged"),
                    ("name", "x"),
                    ("district_id", "1"),
                    ("kind", "crop"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .post_form(
                "/admin/farms",
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("name", "x"),
                    ("district_id", "1"),
                    ("kind", "fishery"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .post_form(
                "/admin/farms",
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("name", "x"),
                    ("district_id", "one"),
                    ("kind", "crop"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("district_id"), "{}", r.body);
        let r = app
            .post_form(
                "/admin/users",
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("username", "u1"),
                    ("display_name", "u"),
                    ("password", "long-enough"),
                    ("role", "farmer"),
                    ("farm_id", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .post_form(
                "/admin/users",
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("username", "staff9"),
                    ("display_name", "u"),
                    ("password", "long-enough"),
                    ("role", "staff"),
                    ("farm_id", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        let r = app
            .post_form(
                "/admin/farms",
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("name", "x"),
                    ("district_id", "99999"),
                    ("kind", "crop"),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "unknown district: {}",
            r.body
        );
    });

    both_apps!(admin_edits_accounts_and_every_change_is_logged, |app| {
        let admin = app.user("boss", Role::Admin, None).await;
        let farm = app.farm("旧名牧場", "dairy").await;
        let d = app.state.db.districts().await.unwrap();
        let page = app
            .get(&format!("/admin/farms/{}", farm.id), &admin.cookies)
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("value=\"旧名牧場\""));
        let r = app
            .post_form(
                &format!("/admin/farms/{}", farm.id),
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("name", "新名牧場"),
                    ("district_id", &d[1].id.to_string()),
                    ("kind", "mixed"),
                    ("address", "那須塩原市"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let f = app.state.db.farm(farm.id).await.unwrap();
        assert_eq!(
            (f.name.as_str(), f.kind.as_str(), f.district_id),
            ("新名牧場", "mixed", d[1].id)
        );
        // A bad kind and a forged form change nothing.
        for (csrf, kind, want) in [
            (
                admin.csrf.as_str(),
                "fishery",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            ("forged", "crop", StatusCode::FORBIDDEN),
        ] {
            let r = app
                .post_form(
                    &format!("/admin/farms/{}", farm.id),
                    &admin.cookies,
                    &[
                        ("csrf", csrf),
                        ("name", "x"),
                        ("district_id", &d[0].id.to_string()),
                        ("kind", kind),
                    ],
                )
                .await;
            assert_eq!(r.status, want);
        }
        assert_eq!(app.state.db.farm(farm.id).await.unwrap().name, "新名牧場");

        let op = app.user("taro", Role::Dairy, Some(farm.id)).await;
        let taro = app
            .state
            .db
            .user_by_username("taro")
            .await
            .unwrap()
            .unwrap();
        let r = app
            .post_form(
                &format!("/admin/users/{}", taro.id),
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("display_name", "太郎"),
                    ("role", "staff"),
                    ("farm_id", ""),
                    ("lang", "en"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let t = app.state.db.user(taro.id).await.unwrap();
        assert_eq!(
            (t.display_name.as_str(), t.role, t.farm_id, t.lang.as_str()),
            ("太郎", Role::Staff, None, "en")
        );
        // A dairy operator without a farm is refused.
        let r = app
            .post_form(
                &format!("/admin/users/{}", taro.id),
                &admin.cookies,
                &[
                    ("csrf", &admin.csrf),
                    ("display_name", "x"),
                    ("role", "dairy"),
                    ("farm_id", ""),
                    ("lang", "ja"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Reset: the old password and the old session stop working.
        let r = app
            .post_form(
                &format!("/admin/users/{}/password", taro.id),
                &admin.cookies,
                &[("csrf", &admin.csrf), ("password", "reset-pass-1")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            app.get("/account", &op.cookies).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert!(app.sign_in("taro", "password1").await.is_none());
        let again = app
            .sign_in("taro", "reset-pass-1")
            .await
            .expect("new password works");

        // Disable: the session ends and signing in fails; enable: it works again.
        let r = app
            .post_form(
                &format!("/admin/users/{}/status", taro.id),
                &admin.cookies,
                &[("csrf", &admin.csrf), ("disabled", "true")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("停止中"));
        assert_eq!(
            app.get("/account", &again.cookies).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert!(app.sign_in("taro", "reset-pass-1").await.is_none());
        app.post_form(
            &format!("/admin/users/{}/status", taro.id),
            &admin.cookies,
            &[("csrf", &admin.csrf), ("disabled", "false")],
        )
        .await;
        assert!(app.sign_in("taro", "reset-pass-1").await.is_some());
        // An admin cannot disable themselves.
        let me = app
            .state
            .db
            .user_by_username("boss")
            .await
            .unwrap()
            .unwrap();
        let r = app
            .post_form(
                &format!("/admin/users/{}/status", me.id),
                &admin.cookies,
                &[("csrf", &admin.csrf), ("disabled", "true")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(app.sign_in("boss", "password1").await.is_some());

        // Revoke a bridge token from the list.
        let tok = app
            .state
            .db
            .create_bridge_token(farm.id, "b1", "h-revoke")
            .await
            .unwrap();
        let list = app.get("/admin", &admin.cookies).await;
        assert!(list.body.contains(&format!("/admin/tokens/{tok}/revoke")));
        let r = app
            .post_form(
                &format!("/admin/tokens/{tok}/revoke"),
                &admin.cookies,
                &[("csrf", &admin.csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(app.state.db.bridge_token("h-revoke").await.unwrap(), None);
        let r = app
            .post_form(
                &format!("/admin/tokens/{tok}/revoke"),
                &admin.cookies,
                &[("csrf", &admin.csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // The change log on the admin page names who did what.
        let log = app.state.db.audit_log(20).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "token.revoke",
                "user.enable",
                "user.disable",
                "user.password",
                "user.edit",
                "farm.edit"
            ]
        );
        assert!(log.iter().all(|a| a.actor.as_deref() == Some("boss")));
        let page = app.get("/admin", &admin.cookies).await.body;
        assert!(
            page.contains("変更履歴") && page.contains("<code>user.disable</code>"),
            "{page}"
        );
        // Not for anyone else.
        let staff = app.user("clerk", Role::Staff, None).await;
        let r = app
            .post_form(
                &format!("/admin/users/{}/status", taro.id),
                &staff.cookies,
                &[("csrf", &staff.csrf), ("disabled", "true")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    });
}
