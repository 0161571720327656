//! The server's shared state: [`AppState`] (the `Db`, the services it holds, settings,
//! metrics, the sign-in limiter) and the Content-Security-Policy built from the settings.
//! It sits below the routers: every handler imports it, it imports no handler.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::services::credentials::LoginLimiter;
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
    pub gonogo: crate::services::gonogo::GoNoGoConfig,
    /// The server runs behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For`: the sign-in limiter then counts that address, not the proxy's.
    pub trust_proxy: bool,
    /// Where field imports and plans run: off the request workers, a few at a time, each
    /// with a deadline (default 2 at once, 30 s).
    pub planner: crate::services::planner::PlannerPool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookies: false,
            metrics_token: None,
            tile_url: "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png".to_owned(),
            data_dir: std::env::temp_dir().join("agriops-data"),
            gonogo: crate::services::gonogo::GoNoGoConfig::default(),
            trust_proxy: false,
            planner: crate::services::planner::PlannerPool::default(),
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
    pub flights: Arc<crate::services::flights::manager::FlightManager>,
    /// The go/no-go's weather station and its newest reading.
    pub weather: Arc<crate::services::weather::WeatherStation>,
    /// The Content-Security-Policy header, built once from the settings.
    pub csp: Arc<str>,
}

impl AppState {
    /// State over `db` with `settings`, fresh metrics and a sign-in limiter of 5 attempts per
    /// account and 20 per source address in 5 minutes.
    pub fn new(db: Db, settings: Settings) -> AppState {
        let flights = crate::services::flights::manager::FlightManager::new(
            settings.data_dir.join("tlogs"),
            crate::services::flights::manager::FlightTiming::default(),
        );
        AppState {
            db,
            csp: content_security_policy(&settings).into(),
            flights: Arc::new(flights),
            weather: Arc::new(crate::services::weather::WeatherStation::new()),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::new()),
            login_limiter: Arc::new(LoginLimiter::new(5, 20, Duration::from_secs(300))),
        }
    }

    /// The ingest service over this state's database and counters.
    pub fn ingest(&self) -> crate::services::ingest::Ingest {
        crate::services::ingest::Ingest {
            db: self.db.clone(),
            metrics: crate::services::ingest::IngestMetrics {
                batches: self.metrics.ingest_batches.clone(),
                replays: self.metrics.ingest_replays.clone(),
                milking_events: self.metrics.milking_events.clone(),
            },
        }
    }
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

#[cfg(test)]
mod tests {
    use super::{Settings, content_security_policy, tile_origin};

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
}
