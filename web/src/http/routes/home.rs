//! The home page: what the signed-in person can reach, by role.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::pages;
use crate::http::state::AppState;
use crate::i18n::{Lang, Msg};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

async fn home(
    State(state): State<AppState>,
    user: Result<CurrentUser, AppError>,
) -> Result<Response, AppError> {
    let user = match user {
        Ok(u) => u,
        Err(AppError::Unauthorized) => return Ok(Redirect::to("/login").into_response()),
        Err(e) => return Err(e),
    };
    let lang = user.lang;
    let districts = state.db.districts().await?;
    let farms: Vec<_> = state
        .db
        .farms()
        .await?
        .into_iter()
        .filter(|f| user.user.role.sees_all_farms() || user.user.farm_id == Some(f.id))
        .collect();
    let district_name = |id: i64| crate::http::pages::district_name(&districts, id, lang);
    let title = Msg::Home.text(lang);
    let overview = if user.user.role.sees_all_farms() {
        state
            .db
            .district_overview(crate::storage::jst_day_start(chrono::Utc::now()))
            .await?
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { (title) }
        @if !overview.is_empty() {
            h2 { (Msg::DistrictOverview.text(lang)) }
            table {
                thead { tr {
                    th scope="col" { (Msg::Districts.text(lang)) }
                    th.num scope="col" { (Msg::Farms.text(lang)) }
                    th.num scope="col" { (Msg::Fields.text(lang)) }
                    th.num scope="col" { (Msg::AreaHa.text(lang)) }
                    th.num scope="col" { (Msg::Plans.text(lang)) }
                    th.num scope="col" { (Msg::Parlors.text(lang)) }
                    th.num scope="col" { (Msg::CowsToday.text(lang)) }
                    th.num scope="col" { (Msg::MilkToday.text(lang)) }
                } }
                tbody { @for d in &overview { tr {
                    th scope="row" { (match lang { Lang::Ja => &d.name_ja, Lang::En => &d.name_en }) }
                    td.num { (d.farms) } td.num { (d.fields) } td.num { (format!("{:.1}", d.field_ha)) }
                    td.num { (d.plans) } td.num { (d.parlors) } td.num { (format!("{:.0}", d.cows_day)) }
                    td.num { (format!("{:.0}", d.milk_kg_day)) }
                } } }
            }
        }
        h2 { (Msg::Farms.text(lang)) }
        table {
            thead { tr {
                th scope="col" { (Msg::Districts.text(lang)) }
                th scope="col" { (Msg::Farms.text(lang)) }
            } }
            tbody {
                @for f in &farms {
                    tr { td { (district_name(f.district_id)) } td { (f.name) } }
                }
            }
        }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}
