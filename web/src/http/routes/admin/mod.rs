//! Administration pages: farms, users and bridge tokens (admin only).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::error::AppForm;
use crate::http::pages;
use crate::http::pages::district_name;
use crate::http::routes::account::MIN_PASSWORD_CHARS;
use crate::http::state::AppState;
use crate::i18n::JST;
use crate::i18n::{Lang, Msg, farm_kind_name, role_name};
use crate::services::{accounts, credentials};
use crate::storage::{NewUser, Role};
use crate::validate::{Lines, MAX_LINE, MAX_NAME, check_text};

mod farms;
#[cfg(test)]
mod tests;
mod tokens;
mod users;

use farms::*;
use tokens::*;
use users::*;

/// The admin forms, for `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    farms::add_farm,
    farms::edit_farm,
    users::add_user,
    users::edit_user,
    users::reset_password,
    users::set_status,
    tokens::add_token,
    tokens::revoke_token
))]
pub(crate) struct FormsDoc;

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

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CsrfForm {
    csrf: String,
}
