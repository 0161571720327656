//! Administration pages: farms, users and bridge tokens (admin only).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{self, CurrentUser};
use crate::error::{AppError, AppForm};
use crate::i18n::{Msg, district_name, farm_kind_name, role_name};
use crate::pages;
use crate::storage::{NewUser, Role};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/farms", post(add_farm))
        .route("/admin/users", post(add_user))
        .route("/admin/tokens", post(add_token))
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
            } }
            tbody { @for f in &farms { tr {
                td { (f.id) } td { (f.name) } td { (dname(f.district_id)) }
                td { (farm_kind_name(lang, &f.kind)) }
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
            } }
            tbody { @for u in &users { tr {
                td { (u.username) } td { (u.display_name) }
                td { (role_name(lang, u.role.as_str())) }
                td { (u.farm_id.and_then(|id| farms.iter().find(|f| f.id == id)).map(|f| f.name.as_str()).unwrap_or("—")) }
                td { a href=(format!("/pilots/{}", u.id)) aria-label=(format!("{}: {}", Msg::PilotCredentials.text(lang), u.username)) { (Msg::PilotCredentials.text(lang)) } }
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
    };
    Ok(pages::layout(lang, title, Some(user), body))
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
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadInput("name: 1 to 100 characters".into()));
    }
    if !matches!(form.kind.as_str(), "crop" | "dairy" | "mixed") {
        return Err(AppError::BadInput("kind: crop, dairy or mixed".into()));
    }
    let farm = state
        .db
        .create_farm(form.district_id, name, &form.kind, form.address.trim())
        .await?;
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
    let role = Role::parse(&form.role)
        .ok_or_else(|| AppError::BadInput("role: admin, staff, farmer or dairy".into()))?;
    let farm_id = match form.farm_id.trim() {
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
    if form.password.chars().count() < 8 {
        return Err(AppError::BadInput("password: at least 8 characters".into()));
    }
    let hash = auth::hash_password(&form.password)?;
    let display = form.display_name.trim();
    let created = state
        .db
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
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadInput("name: 1 to 100 characters".into()));
    }
    state.db.farm(form.farm_id).await?;
    let token = auth::new_token();
    state
        .db
        .create_bridge_token(form.farm_id, name, &auth::token_hash(&token))
        .await?;
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
}
