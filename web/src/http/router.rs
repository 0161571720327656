//! The router assembly, on top of the `http` layer: [`app`] merges every `routes::*::router()`
//! over an [`AppState`] and adds the security-header, error renderer, metrics and tracing layers.

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::trace::TraceLayer;

use crate::http::state::{AppState, RequestLabels};

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let resp = next.run(req).await;
    state.metrics.latency.observe(start.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

/// Adds the security headers every response carries (a handler's own value wins): CSP,
/// `X-Frame-Options`, `nosniff`, `Referrer-Policy`, and HSTS when the request came over TLS
/// (`--secure-cookies`, or a TLS-terminating proxy saying so).
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let https = crate::http::routes::session::secure_cookies(&state, req.headers());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let mut set = |name: header::HeaderName, value: HeaderValue| {
        h.entry(name).or_insert(value);
    };
    if let Ok(csp) = HeaderValue::from_str(&state.csp) {
        set(header::CONTENT_SECURITY_POLICY, csp);
    }
    set(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    set(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if https {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

/// The whole HTTP application over `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(crate::http::routes::health::router())
        .merge(crate::http::routes::session::router())
        .merge(crate::http::routes::home::router())
        .merge(crate::http::routes::ingest::router())
        .merge(crate::http::routes::admin::router())
        .merge(crate::http::routes::account::router())
        .merge(crate::http::routes::assets::router())
        .merge(crate::http::routes::tiles::router())
        .merge(crate::http::routes::fields::router())
        .merge(crate::http::routes::flights::router())
        .merge(crate::http::routes::openapi::router())
        .merge(crate::http::routes::parlors::router())
        .merge(crate::http::routes::records::router())
        .merge(crate::http::routes::launch::router())
        .merge(crate::http::routes::vehicles::router())
        .merge(crate::http::routes::reports::router())
        .merge(crate::http::routes::opendata::router())
        .merge(crate::http::routes::alerts::router())
        .merge(crate::http::routes::alert_settings::router())
        .merge(crate::http::routes::alert_push::router())
        .merge(crate::http::routes::staff_alerts::router())
        .fallback(|| async { crate::error::AppError::NotFound })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(middleware::from_fn(crate::http::error::render_errors))
        .layer(middleware::from_fn(crate::http::textsize::scope))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::http::{StatusCode, header};

    use crate::testutil::both_apps;

    both_apps!(every_response_carries_the_security_headers, |app| {
        for (uri, status) in [
            ("/login", StatusCode::OK),
            ("/no/such/page", StatusCode::NOT_FOUND),
            ("/static/app.css", StatusCode::OK),
            ("/healthz", StatusCode::OK),
        ] {
            let r = app.get(uri, "").await;
            assert_eq!(r.status, status, "{uri}");
            let h = |n: header::HeaderName| {
                r.headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            assert!(
                h(header::CONTENT_SECURITY_POLICY).contains("default-src 'self'"),
                "{uri}"
            );
            assert_eq!(h(header::X_FRAME_OPTIONS), "DENY", "{uri}");
            assert_eq!(h(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{uri}");
            assert_eq!(h(header::REFERRER_POLICY), "same-origin", "{uri}");
            // Plain HTTP here (no Secure cookies configured): no HSTS promise.
            assert_eq!(h(header::STRICT_TRANSPORT_SECURITY), "", "{uri}");
        }
    });

    both_apps!(behind_https_cookies_are_secure_and_hsts_is_sent, |app| {
        use axum::body::Body;
        use axum::http::Request;
        let get = |proto: Option<&str>| {
            let mut r = Request::get("/login");
            if let Some(p) = proto {
                r = r.header("x-forwarded-proto", p);
            }
            r.body(Body::empty()).unwrap()
        };
        let plain = app.send(get(None)).await;
        let cookie = |r: &crate::testutil::Resp| {
            r.headers
                .get(header::SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert!(!cookie(&plain).contains("Secure"), "{}", cookie(&plain));
        assert!(
            plain
                .headers
                .get(header::STRICT_TRANSPORT_SECURITY)
                .is_none()
        );
        let tls = app.send(get(Some("https"))).await;
        assert!(cookie(&tls).contains("Secure"), "{}", cookie(&tls));
        assert_eq!(
            tls.headers
                .get(header::STRICT_TRANSPORT_SECURITY)
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000")
        );
    });

    /// The CSP forbids inline scripts and event-handler attributes: none may creep back into
    /// the page templates.
    #[test]
    fn no_page_template_has_an_inline_script_or_handler() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        // Patterns built from parts, so this test's own source does not match them.
        let script = ["script", " {"].concat();
        let spaced_script = format!(" {script}");
        let handlers: Vec<String> = ["click", "change", "submit", "load", "input"]
            .iter()
            .map(|e| format!("on{e}="))
            .collect();
        let mut stack = vec![root];
        let mut offenders = Vec::new();
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        let l = line.trim_start();
                        let inline_script = l.starts_with(&script) || l.contains(&spaced_script);
                        let handler = handlers.iter().any(|h| l.contains(h.as_str()));
                        if (inline_script || handler) && !l.starts_with("//") {
                            offenders.push(format!("{}:{}: {l}", p.display(), i + 1));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }
}
