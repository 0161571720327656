//! `/parlors`: every parlor the person may see, with its live values.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{summary, visible_parlors};
use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::pages;
use crate::http::state::AppState;
use crate::i18n::Msg;

pub(super) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let lang = user.lang;
    let parlors = visible_parlors(&state, &user).await?;
    let mut rows = Vec::with_capacity(parlors.len());
    for p in &parlors {
        rows.push(summary(&state, p, lang).await?);
    }
    let title = Msg::Parlors.text(lang);
    let body = html! {
        h1 { (title) }
        @if rows.is_empty() {
            p { (Msg::NoDataYet.text(lang)) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::Parlors.text(lang)) }
                    th scope="col" { (Msg::PlatformState.text(lang)) }
                    th scope="col" { (Msg::Connection.text(lang)) }
                    th.num scope="col" { (Msg::CowsPerHour.text(lang)) }
                    th.num scope="col" { (Msg::CowsToday.text(lang)) }
                    th.num scope="col" { (Msg::MilkToday.text(lang)) }
                } }
                tbody {
                    @for s in &rows {
                        tr {
                            td { a href=(format!("/parlors/{}", s.id)) { (s.name) } }
                            td { (s.display["state"]) }
                            td { (s.display["online"]) }
                            td.num { (s.display["cows_per_hour"]) }
                            td.num { (s.display["cows_today"]) }
                            td.num { (s.display["kg_today"]) }
                        }
                    }
                }
            }
        }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}
