//! The server's shared state and its router: [`AppState`] and [`app`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower_http::trace::TraceLayer;

use crate::auth::LoginLimiter;
use crate::storage::Db;

/// Settings of a running server that handlers read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Mark cookies `Secure` (the server is reached over TLS).
    pub secure_cookies: bool,
    /// Bearer token for `/metrics`; `None`: loopback peers only.
    pub metrics_token: Option<String>,
    /// Map tile URL template for Leaflet (GSI 地理院タイル in production; empty = plain background).
    pub tile_url: String,
    /// Data directory: launched flights record their `.tlog` under `DATA_DIR/tlogs`.
    pub data_dir: std::path::PathBuf,
    /// Go/no-go thresholds and layers of the launch page.
    pub gonogo: crate::gonogo::GoNoGoConfig,
    /// The server runs behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For`: the sign-in limiter then counts that address, not the proxy's.
    pub trust_proxy: bool,
    /// Where field imports and plans run: off the request workers, a few at a time, each
    /// with a deadline (default 2 at once, 30 s).
    pub planner: crate::routes::fields::PlannerPool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookies: false,
            metrics_token: None,
            tile_url: "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png".to_owned(),
            data_dir: std::env::temp_dir().join("agriops-data"),
            gonogo: crate::gonogo::GoNoGoConfig::default(),
            trust_proxy: false,
            planner: crate::routes::fields::PlannerPool::default(),
        }
    }
}

/// Labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// Matched route (not the raw path, to keep cardinality bounded).
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// The Prometheus metrics the server exports at `/metrics`.
#[derive(Debug)]
pub struct Metrics {
    /// The registry rendered by `/metrics`.
    pub registry: Registry,
    /// Requests by method, route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency in seconds.
    pub latency: Histogram,
    /// Ingest batches accepted (new, not replays).
    pub ingest_batches: Counter,
    /// Ingest batches recognised as replays of an earlier batch.
    pub ingest_replays: Counter,
    /// Milking events stored.
    pub milking_events: Counter,
}

impl Metrics {
    /// A fresh registry with every agriops metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("agriops");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        let latency = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        let ingest_batches = Counter::default();
        registry.register(
            "ingest_batches",
            "Bridge batches stored",
            ingest_batches.clone(),
        );
        let ingest_replays = Counter::default();
        registry.register(
            "ingest_replays",
            "Bridge batches that were replays of a stored batch",
            ingest_replays.clone(),
        );
        let milking_events = Counter::default();
        registry.register(
            "milking_events",
            "Milking events stored",
            milking_events.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            ingest_batches,
            ingest_replays,
            milking_events,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Everything a handler may need; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Server settings.
    pub settings: Arc<Settings>,
    /// Metrics for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Sign-in attempt limiter.
    pub login_limiter: Arc<LoginLimiter>,
    /// Flights launched from the web, one task each.
    pub flights: Arc<crate::launch::FlightManager>,
    /// The go/no-go's weather station and its newest reading.
    pub weather: Arc<crate::weather::WeatherStation>,
    /// The Content-Security-Policy header, built once from the settings.
    pub csp: Arc<str>,
}

impl AppState {
    /// State over `db` with `settings`, fresh metrics and a sign-in limiter of 5 attempts per
    /// account and 20 per source address in 5 minutes.
    pub fn new(db: Db, settings: Settings) -> AppState {
        let flights = crate::launch::FlightManager::new(
            settings.data_dir.join("tlogs"),
            crate::launch::FlightTiming::default(),
        );
        AppState {
            db,
            csp: content_security_policy(&settings).into(),
            flights: Arc::new(flights),
            weather: Arc::new(crate::weather::WeatherStation::new()),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::new()),
            login_limiter: Arc::new(LoginLimiter::new(5, 20, Duration::from_secs(300))),
        }
    }
}

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

/// The origin (`scheme://host[:port]`) of a tile URL template, for the CSP's `img-src`; `None`
/// for an empty or relative template (tiles from this server).
fn tile_origin(template: &str) -> Option<String> {
    let (scheme, rest) = template.split_once("://")?;
    let host = rest.split('/').next()?;
    let ok = matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    ok.then(|| format!("{scheme}://{host}"))
}

/// The Content-Security-Policy of every page: scripts and styles from this server only (inline
/// `style` attributes allowed, inline scripts not), images also from the tile server, no
/// framing, forms post only here.
pub fn content_security_policy(settings: &Settings) -> String {
    let tiles = tile_origin(&settings.tile_url)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:{tiles}; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the security headers every response carries (a handler's own value wins): CSP,
/// `X-Frame-Options`, `nosniff`, `Referrer-Policy`, and HSTS when the request came over TLS
/// (`--secure-cookies`, or a TLS-terminating proxy saying so).
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let https = crate::routes::session::secure_cookies(&state, req.headers());
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
        .merge(crate::routes::health::router())
        .merge(crate::routes::session::router())
        .merge(crate::routes::home::router())
        .merge(crate::routes::ingest::router())
        .merge(crate::routes::admin::router())
        .merge(crate::routes::account::router())
        .merge(crate::routes::assets::router())
        .merge(crate::routes::fields::router())
        .merge(crate::routes::flights::router())
        .merge(crate::routes::openapi::router())
        .merge(crate::routes::parlors::router())
        .merge(crate::routes::records::router())
        .merge(crate::routes::launch::router())
        .merge(crate::routes::vehicles::router())
        .merge(crate::routes::reports::router())
        .merge(crate::routes::opendata::router())
        .fallback(|| async { crate::error::AppError::NotFound })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(middleware::from_fn(crate::error::render_errors))
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

    use super::{Settings, content_security_policy, tile_origin};
    use crate::testutil::both_apps;

    #[test]
    fn the_tile_server_and_nothing_else_is_added_to_img_src() {
        assert_eq!(
            tile_origin("https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png").as_deref(),
            Some("https://cyberjapandata.gsi.go.jp")
        );
        assert_eq!(
            tile_origin("http://127.0.0.1:8081/{z}/{x}/{y}.png").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(tile_origin(""), None);
        assert_eq!(tile_origin("/tiles/{z}/{x}/{y}.png"), None);
        assert_eq!(tile_origin("https://evil.example; script-src *"), None);
        let csp = content_security_policy(&Settings::default());
        assert!(csp.contains("img-src 'self' data: blob: https://cyberjapandata.gsi.go.jp;"));
        assert!(csp.contains("script-src 'self';"));
        assert!(csp.contains("frame-ancestors 'none'"));
    }

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
