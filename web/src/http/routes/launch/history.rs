//! The flight history (`/flights`) and its JSON API.

use super::*;

/// The newest 200 flights `user` may read.
pub(super) async fn readable_flights(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<FlightRow>, AppError> {
    user.require_role(READERS)?;
    if user.user.role.sees_all_farms() {
        Ok(state.db.flights_of_farm(None, 200).await?)
    } else {
        match user.user.farm_id {
            Some(farm) => Ok(state.db.flights_of_farm(Some(farm), 200).await?),
            None => Ok(Vec::new()),
        }
    }
}

/// The newest 200 flights the caller may see (a farmer or dairy operator: their farm's).
#[utoipa::path(get, path = "/api/v1/flights", tag = "flights",
    responses((status = 200, body = Vec<FlightRow>), (status = 401, body = crate::http::error::ApiError),
        (status = 403, body = crate::http::error::ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_flights(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<FlightRow>>, AppError> {
    Ok(axum::Json(readable_flights(&state, &user).await?))
}

pub(super) async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let flights = readable_flights(&state, &user).await?;
    let lang = user.lang;
    let title = Msg::FlightHistory.text(lang);
    let body = html! {
        h1 { (title) }
        @if flights.is_empty() { p { (Msg::NoDataYet.text(lang)) } } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::FlightWord.text(lang)) }
                    th scope="col" { (Msg::Date.text(lang)) }
                    th scope="col" { (Msg::PlanWord.text(lang)) }
                    th scope="col" { (Msg::StatusWord.text(lang)) }
                    th scope="col" class="num" { (Msg::SprayedM2.text(lang)) }
                    th scope="col" class="num" { (Msg::Litres.text(lang)) }
                } }
                tbody { @for f in &flights {
                    tr {
                        th scope="row" {
                            @if state.flights.live(f.id).is_some() {
                                a href=(format!("/flights/{}/live", f.id)) { "#" (f.id) }
                            } @else {
                                a href=(format!("/flights/{}", f.id)) { "#" (f.id) }
                            }
                        }
                        td { (f.started_at.unwrap_or(f.created_at).with_timezone(&JST).format("%Y-%m-%d %H:%M")) }
                        td { @if let Some(p) = f.plan_id { a href=(format!("/plans/{p}")) { "#" (p) } } }
                        td { (status_msg(&f.status).text(lang)) }
                        td.num { (f.sprayed_area_m2.map(|a| format!("{a:.0}")).unwrap_or_else(|| "—".into())) }
                        td.num { (f.litres.map(|a| format!("{a:.1}")).unwrap_or_else(|| "—".into())) }
                    }
                } }
            }
        }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}
