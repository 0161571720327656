//! `/healthz` (is the database answering?), `/metrics` (Prometheus text) and static files.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "ok"), (status = 503, description = "database unavailable")))]
pub(crate) async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(error) => {
            tracing::warn!(message = "Health check failed.", %error);
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}

/// Prometheus/OpenMetrics text: requests, latency, ingest counters.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &state.metrics.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(message = "Metrics encoding failed.", %error);
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testutil::both_apps;

    both_apps!(health_metrics_and_404, |app| {
        let h = app.get("/healthz", "").await;
        assert_eq!(h.status, StatusCode::OK);
        let missing = app.get("/no/such/page", "lang=en").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.body.contains("Page not found."));
        let m = app.get("/metrics", "").await;
        assert_eq!(m.status, StatusCode::OK);
        assert!(m.body.contains("agriops_http_requests_total"), "{}", m.body);
        assert!(m.body.contains("status=\"404\""), "{}", m.body);
    });
}
