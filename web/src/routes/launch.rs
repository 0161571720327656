//! WIP
use crate::app::AppState;
use axum::Router;
/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
