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
    /// Map tile URL template for Leaflet (GSI 地理院タイル in production; empty = plain background).
    pub tile_url: String,
    /// Data directory: launched flights record their `.tlog` under `DATA_DIR/tlogs`.
    pub data_dir: std::path::PathBuf,
    /// Go/no-go thresholds and layers of the launch page.
    pub gonogo: crate::gonogo::GoNoGoConfig,
    /// The server runs behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For`: the sign-in limiter then counts that address, not the proxy's.
    pub trust_proxy: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookies: false,
            tile_url: "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png".to_owned(),
            data_dir: std::env::temp_dir().join("agriops-data"),
            gonogo: crate::gonogo::GoNoGoConfig::default(),
            trust_proxy: false,
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
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
