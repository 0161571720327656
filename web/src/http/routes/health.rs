//! `/healthz` (is the database answering?), `/metrics` (Prometheus text) and static files.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::http::state::AppState;

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

/// Whether this request may read `/metrics`: with a configured token, by `Authorization:
/// Bearer <token>` (compared in constant time); without one, only from this machine.
fn may_read_metrics(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    peer: Option<&axum::extract::ConnectInfo<std::net::SocketAddr>>,
) -> Result<(), StatusCode> {
    match &state.settings.metrics_token {
        Some(token) => {
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            // Compared over the hashes, as the CSRF check does: timing says nothing of the token.
            if crate::services::credentials::token_hash(sent)
                == crate::services::credentials::token_hash(token)
            {
                Ok(())
            } else {
                Err(StatusCode::UNAUTHORIZED)
            }
        }
        // Nothing to see for others: the endpoint does not exist for them.
        None if crate::http::server::is_local(peer) => Ok(()),
        None => Err(StatusCode::NOT_FOUND),
    }
}

/// Prometheus/OpenMetrics text: requests, latency, ingest counters. Readable with the
/// configured bearer token, or from this machine when none is configured.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"),
              (status = 401, description = "a metrics token is configured and was not sent"),
              (status = 404, description = "no token is configured and the request is not from this machine")))]
pub(crate) async fn metrics(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> impl IntoResponse {
    use axum::extract::FromRequestParts;
    let (mut parts, _) = req.into_parts();
    let peer =
        axum::extract::ConnectInfo::<std::net::SocketAddr>::from_request_parts(&mut parts, &state)
            .await
            .ok();
    if let Err(status) = may_read_metrics(&state, &parts.headers, peer.as_ref()) {
        let mut resp = (status, "").into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"metrics\""),
            );
        }
        return resp;
    }
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
    use std::net::SocketAddr;

    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    use crate::http::state::{AppState, Settings};
    use crate::testutil::both_apps;

    both_apps!(health_metrics_and_404, |app| {
        let h = app.get("/healthz", "").await;
        assert_eq!(h.status, StatusCode::OK);
        let missing = app.get("/no/such/page", "lang=en").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.body.contains("Page not found."));
        // From this machine (what Prometheus on the host is) the metrics are readable.
        let local = app
            .router
            .clone()
            .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let m = read(local, None).await;
        assert_eq!(m.0, StatusCode::OK);
        assert!(m.1.contains("agriops_http_requests_total"), "{}", m.1);
        assert!(m.1.contains("status=\"404\""), "{}", m.1);
    });

    async fn read(router: axum::Router, bearer: Option<&str>) -> (StatusCode, String) {
        let mut req = Request::get("/metrics");
        if let Some(t) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = router
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    both_apps!(metrics_are_for_this_machine_or_the_token_holder, |app| {
        let from = |ip: [u8; 4]| MockConnectInfo(SocketAddr::from((ip, 40000)));
        // No token configured: another machine is told nothing, not even that it exists.
        let remote = app.router.clone().layer(from([192, 168, 1, 20]));
        assert_eq!(read(remote, None).await.0, StatusCode::NOT_FOUND);
        // A request with no peer address at all is not trusted either.
        assert_eq!(
            read(app.router.clone(), None).await.0,
            StatusCode::NOT_FOUND
        );

        // With a token: it is required from everywhere, and enough from anywhere.
        let state = AppState::new(
            app.state.db.clone(),
            Settings {
                metrics_token: Some("s3cret-token".into()),
                ..Settings::default()
            },
        );
        let local = crate::http::router::app(state.clone()).layer(from([127, 0, 0, 1]));
        let (status, _) = read(local.clone(), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(read(local, Some("wrong")).await.0, StatusCode::UNAUTHORIZED);
        let remote = crate::http::router::app(state).layer(from([203, 0, 113, 9]));
        let (status, body) = read(remote, Some("s3cret-token")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("agriops_http_requests_total"));
    });
}
