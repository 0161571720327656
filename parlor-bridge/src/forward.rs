//! Sink: forwards outbox batches to the server's ingest API (HTTP POST, bearer token, idempotency key, backoff).

use std::time::Duration;

use crate::error::BridgeError;
use crate::outbox::{Batch, Store};
use crate::wire::{IngestBatch, version_for};

/// Where and how to forward.
#[derive(Debug, Clone)]
pub struct ForwardSettings {
    /// The ingest URL batches are POSTed to.
    pub url: String,
    /// Bearer token.
    pub token: Option<String>,
    /// Identifies the bridge (also prefixes batch keys).
    pub bridge_id: String,
    /// Records per batch.
    pub batch_size: u32,
    /// First retry delay.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Request timeout.
    pub timeout: Duration,
}

/// POSTs one batch; `Ok` when the server stored it (2xx) or already had it (409).
///
/// # Errors
/// [`BridgeError::Http`] when the server cannot be reached; [`BridgeError::Rejected`] for other statuses.
pub async fn post_batch(
    client: &reqwest::Client,
    s: &ForwardSettings,
    batch: &Batch,
) -> Result<(), BridgeError> {
    let body = IngestBatch {
        version: version_for(&batch.records),
        bridge_id: s.bridge_id.clone(),
        batch_key: batch.key.clone(),
        records: batch.records.clone(),
    };
    let mut req = client
        .post(&s.url)
        .timeout(s.timeout)
        .header("Idempotency-Key", &batch.key)
        .json(&body);
    if let Some(t) = &s.token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| BridgeError::Http {
        url: s.url.clone(),
        message: e.to_string(),
    })?;
    let status = resp.status();
    if status.is_success() || status.as_u16() == 409 {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    Err(BridgeError::Rejected {
        url: s.url.clone(),
        batch_key: batch.key.clone(),
        status: status.as_u16(),
        body: text.chars().take(200).collect(),
    })
}

/// Sends every queued batch once; returns how many records were delivered.
///
/// A batch the server refuses as unprocessable (422: a record it will never take, such as
/// an impossible value from a misconfigured register map) would fail the same way on every
/// retry and hold up everything queued behind it; it is set aside with
/// [`Store::reject_batch`], logged, and draining goes on.
///
/// # Errors
/// The first other failure; the failed batch stays queued with its key.
pub async fn drain(
    store: &Store,
    client: &reqwest::Client,
    s: &ForwardSettings,
) -> Result<u64, BridgeError> {
    let mut sent = 0;
    while let Some(batch) = store.next_batch(&s.bridge_id, s.batch_size).await? {
        match post_batch(client, s, &batch).await {
            Ok(()) => {
                store.ack_batch(batch.id).await?;
                sent += batch.records.len() as u64;
            }
            Err(BridgeError::Rejected {
                status: 422,
                batch_key,
                body,
                ..
            }) => {
                let kept = store.reject_batch(batch.id, 422, &body).await?;
                crate::events::batch_rejected(&batch_key, kept, &body);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Forwards until `shutdown` turns true, backing off exponentially while the server fails.
pub async fn run(
    store: Store,
    s: ForwardSettings,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let client = reqwest::Client::new();
    let mut backoff = s.min_backoff;
    loop {
        let wait = match drain(&store, &client, &s).await {
            Ok(n) => {
                if n > 0 {
                    crate::events::forwarded(n, &s.url);
                }
                backoff = s.min_backoff;
                Duration::from_millis(500)
            }
            Err(error) => {
                crate::events::forward_failed(&error, backoff.as_millis() as u64);
                let w = backoff;
                backoff = (backoff * 2).min(s.max_backoff);
                // Jitter keeps many bridges from retrying in step.
                w + Duration::from_millis(fastrand::u64(0..=w.as_millis() as u64 / 4))
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            // One last attempt so a clean stop leaves nothing queued when the server is up.
            let _ = drain(&store, &client, &s).await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::http::StatusCode;

    use super::*;
    use crate::outbox::tests::commit;

    #[tokio::test]
    async fn an_unprocessable_batch_is_set_aside_and_the_rest_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), true).await.unwrap();
        store.commit(&[commit(&["a", "b", "c"])]).await.unwrap();
        // The server refuses the first batch for its content and takes the next; a 503 is
        // an outage, not a verdict on the records.
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let app = axum::Router::new().route(
            "/ingest",
            axum::routing::post(move || {
                let seen = seen.clone();
                async move {
                    match seen.fetch_add(1, Ordering::SeqCst) {
                        0 => (StatusCode::SERVICE_UNAVAILABLE, "down"),
                        1 => (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "records[0].yield_kg: impossible",
                        ),
                        _ => (StatusCode::OK, "{}"),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let s = ForwardSettings {
            url: format!("http://{addr}/ingest"),
            token: None,
            bridge_id: "br".into(),
            batch_size: 2,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
        };
        let client = reqwest::Client::new();
        let err = drain(&store, &client, &s).await.unwrap_err();
        assert!(
            matches!(err, BridgeError::Rejected { status: 503, .. }),
            "{err}"
        );
        assert_eq!(
            (
                store.queued().await.unwrap(),
                store.rejected().await.unwrap()
            ),
            (3, 0)
        );
        assert_eq!(drain(&store, &client, &s).await.unwrap(), 1);
        assert_eq!(
            store.queued().await.unwrap(),
            0,
            "nothing waits behind the refused batch"
        );
        assert_eq!(
            store.rejected().await.unwrap(),
            2,
            "its records are kept, not dropped"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
