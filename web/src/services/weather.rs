//! The configured weather station's wind reading, asked at most once per `weather_max_age_s`.
//!
//! Every launch page evaluates the go/no-go, and a pilot reloads it often; the station (often a
//! small device on the farm's network) is asked once, the answer kept for a minute by default,
//! and concurrent evaluations wait for the one request in flight instead of each asking.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::services::gonogo::GoNoGoConfig;

/// How long the station may take to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A wind reading from the station.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindReading {
    /// Wind speed, m/s.
    pub mps: f64,
    /// When the station was asked.
    pub at: DateTime<Utc>,
}

/// The station's client and its newest reading.
#[derive(Debug)]
pub struct WeatherStation {
    client: reqwest::Client,
    last: Mutex<Option<(Instant, WindReading)>>,
}

impl Default for WeatherStation {
    /// As [`WeatherStation::new`]: a derived default would build a client without the timeout.
    fn default() -> Self {
        WeatherStation::new()
    }
}

impl WeatherStation {
    /// A station client with nothing read yet.
    pub fn new() -> WeatherStation {
        WeatherStation {
            client: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .unwrap_or_default(),
            last: Mutex::new(None),
        }
    }

    /// The wind at the station configured in `cfg`: the kept reading while it is younger than
    /// `cfg.weather_max_age_s`, else a fresh one; `None` with no station, or when it does not
    /// answer a number in time (a failed request is not kept, so the next evaluation asks again).
    pub async fn wind(&self, cfg: &GoNoGoConfig) -> Option<WindReading> {
        let url = cfg.weather_station_url.as_deref()?;
        let max_age = Duration::from_secs(cfg.weather_max_age_s);
        let mut last = self.last.lock().await;
        if let Some((read, reading)) = *last
            && read.elapsed() < max_age
        {
            return Some(reading);
        }
        let answer: Value = self.client.get(url).send().await.ok()?.json().await.ok()?;
        let reading = WindReading {
            mps: cfg.wind_from_station(&answer)?,
            at: Utc::now(),
        };
        *last = Some((Instant::now(), reading));
        Some(reading)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A station answering `{"wind_mps": 2.5}` (or a 500 while `fail` is set); counts requests.
    async fn station(fail: bool) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = axum::Router::new().route(
            "/now",
            axum::routing::get(move || {
                let h = h.clone();
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    if fail {
                        Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
                    } else {
                        Ok(axum::Json(serde_json::json!({"wind_mps": 2.5})))
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/now", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    fn config(url: &str, max_age_s: u64) -> GoNoGoConfig {
        GoNoGoConfig {
            weather_station_url: Some(url.to_owned()),
            weather_max_age_s: max_age_s,
            ..GoNoGoConfig::default()
        }
    }

    #[tokio::test]
    async fn a_reading_is_reused_until_it_is_too_old() {
        let (url, hits) = station(false).await;
        let ws = WeatherStation::new();
        let cfg = config(&url, 60);
        let first = ws.wind(&cfg).await.unwrap();
        assert_eq!(first.mps, 2.5);
        let (a, b) = tokio::join!(ws.wind(&cfg), ws.wind(&cfg));
        assert_eq!((a, b), (Some(first), Some(first)));
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "one request for three readings"
        );
        // With no reuse allowed every evaluation asks again.
        let fresh = ws.wind(&config(&url, 0)).await.unwrap();
        assert!(fresh.at >= first.at);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failing_station_gives_nothing_and_is_asked_again() {
        let (url, hits) = station(true).await;
        let ws = WeatherStation::new();
        let cfg = config(&url, 60);
        assert_eq!(ws.wind(&cfg).await, None);
        assert_eq!(ws.wind(&cfg).await, None);
        assert_eq!(hits.load(Ordering::SeqCst), 2, "failures are not kept");
        assert_eq!(
            WeatherStation::new().wind(&GoNoGoConfig::default()).await,
            None
        );
    }
}
