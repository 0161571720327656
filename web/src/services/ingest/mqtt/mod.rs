//! Ingest from a farm's MQTT broker: the alternative to the HTTP ingest for a bridge that
//! publishes behind the farm's own broker (`[mqtt]` in the bridge's TOML).
//!
//! `agriops serve --mqtt-ingest FILE` reads one `[[source]]` per broker connection:
//!
//! ```toml
//! [[source]]
//! broker = "mqtt://127.0.0.1:1883"  # mqtt://HOST[:PORT] (1883 by default)
//! farm = "田中牧場"                  # the {farm} topic level, the bridge's `farm`
//! token = "…"                        # the bridge token this source acts as,
//! # token_env = "FARM_A_TOKEN"       # or the environment variable that holds it
//! topic_prefix = "agriops"           # the bridge's `[mqtt] topic_prefix`
//! client_id = "agriops-server"       # unique per broker: it names the persistent session
//! # username = "…"  password = "…" (or password_env = "…")
//! ```
//!
//! # Trust model
//!
//! MQTT carries no bridge token per message, so a **source** is the unit of trust: the server
//! operator binds one broker connection to one farm by giving it that farm's bridge token
//! (created with `agriops token`, revocable like any other). Everything the source stores goes
//! to the token's farm, exactly as if the bridge had posted it with that token. Whoever may
//! publish on the farm's broker under `{prefix}/{farm}/…` can therefore write that farm's parlor
//! data — the broker's own ACLs decide who that is, just as holding the token decides it over
//! HTTP. A source subscribes to `{prefix}/+/+/+`; a message whose topic names another farm,
//! or whose record names another farm or parlor than its topic, is **refused and counted**
//! ([`Stats::refused`]), never stored under any farm. The token is looked up again for every
//! message: once it is revoked, the source stops without acknowledging, so the broker keeps
//! the messages for a source configured with a valid token.
//!
//! # Delivery
//!
//! The session is persistent (`clean_session = false`, a fixed client id) and the source
//! subscribes again on every connection, with QoS 1. Acknowledgements are manual: the PUBACK is
//! sent only after the record's transaction committed, through the same
//! [`validate_batch`](super::validate_batch) and [`Ingest::store_batch`] as the
//! HTTP ingest, so dedupe keys, the plausibility checks and the parlor-scoped keys are the
//! same. Each message is stored as a batch of one whose batch key is derived from the record's
//! kind, parlor and key, so a redelivered message is a replay and changes nothing. When the
//! database fails, the source drops the connection without acknowledging and reconnects; the
//! broker then delivers the message again. A message that can never be stored (malformed,
//! impossible values, another farm, not a record) is acknowledged after it is logged and
//! counted, so it does not block the ones behind it. `state` and `alarm` messages are not
//! records (the HTTP ingest does not take them either) and are acknowledged and counted as
//! ignored.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parlor_bridge::mqtt::topic_kind;
use parlor_bridge::wire::{IngestBatch, Record, WIRE_VERSION};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use serde::Deserialize;
use sha2::Digest;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::i18n::Lang;
use crate::services::credentials::token_hash;
use crate::services::ingest::{Ingest, validate_batch};

mod config;
#[cfg(test)]
mod tests;

pub use config::{MqttIngestConfig, MqttIngestError, SourceConfig};

/// What a source has done since it started.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records newly stored.
    pub stored: AtomicU64,
    /// Records that were already stored (redelivered or republished).
    pub duplicates: AtomicU64,
    /// Messages refused: another farm, or a record that does not match its topic.
    pub refused: AtomicU64,
    /// Payloads that are not a record of the topic's kind.
    pub malformed: AtomicU64,
    /// Records the ingest's checks refused (impossible values, bad text).
    pub rejected: AtomicU64,
    /// `state` and `alarm` messages, which are not records.
    pub ignored: AtomicU64,
    /// Connections that failed or were dropped.
    pub disconnects: AtomicU64,
}

impl Stats {
    fn add(n: &AtomicU64, by: u64) {
        n.fetch_add(by, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(n: &AtomicU64) -> u64 {
        n.load(Ordering::Relaxed)
    }
}

/// A running source: its counters, whether it is subscribed, and a way to stop it.
#[derive(Debug)]
pub struct Subscriber {
    /// The counters.
    pub stats: Arc<Stats>,
    /// `true` while the broker has confirmed the subscription on the current connection.
    pub subscribed: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Subscriber {
    /// Stops the source: disconnects cleanly (unacknowledged messages stay with the broker).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Waits until the source is subscribed.
    pub async fn wait_subscribed(&mut self) {
        let _ = self.subscribed.wait_for(|s| *s).await;
    }
}

/// Starts every source of the file; each runs until stopped, reconnecting on failure.
///
/// # Errors
/// A source's token is unknown or revoked, or the database failed.
pub async fn start_all(
    ingest: &Ingest,
    cfg: &MqttIngestConfig,
) -> Result<Vec<Subscriber>, MqttIngestError> {
    let mut subs = Vec::new();
    for s in &cfg.source {
        subs.push(start(ingest.clone(), s.clone()).await?);
    }
    Ok(subs)
}

/// Starts one source.
///
/// # Errors
/// The source's token is unknown or revoked, or the database failed.
pub async fn start(ingest: Ingest, src: SourceConfig) -> Result<Subscriber, MqttIngestError> {
    let hash = token_hash(&src.token);
    if ingest.db.bridge_token(&hash).await?.is_none() {
        return Err(MqttIngestError::Token {
            client_id: src.client_id.clone(),
        });
    }
    let stats = Arc::new(Stats::default());
    let (stop, stop_rx) = watch::channel(false);
    let (sub_tx, subscribed) = watch::channel(false);
    let task = tokio::spawn(run(ingest, src, hash, stats.clone(), stop_rx, sub_tx));
    Ok(Subscriber {
        stats,
        subscribed,
        stop,
        task,
    })
}

/// What to do with a message after handling it.
enum After {
    /// Acknowledge it: stored, a duplicate, or never storable.
    Ack,
    /// Leave it unacknowledged and reconnect, so the broker delivers it again.
    Reconnect,
    /// Leave it unacknowledged and stop the source (its token was revoked).
    Stop,
}

async fn run(
    ingest: Ingest,
    src: SourceConfig,
    hash: String,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
    subscribed: watch::Sender<bool>,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let (client, mut eventloop) = AsyncClient::new(src.options(), 64);
        let error: String = loop {
            let ev = tokio::select! {
                _ = stopped(&mut stop) => {
                    let _ = client.disconnect().await;
                    // Let the DISCONNECT go out.
                    let _ = tokio::time::timeout(Duration::from_millis(500), async {
                        while eventloop.poll().await.is_ok() {}
                    }).await;
                    return;
                }
                ev = eventloop.poll() => ev,
            };
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(
                        message = "MQTT ingest connected.",
                        broker = %src.broker,
                        client_id = %src.client_id
                    );
                    backoff = Duration::from_millis(200);
                    if let Err(error) = client.subscribe(src.filter(), QoS::AtLeastOnce).await {
                        break error.to_string();
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subscribed.send(true);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    match handle(&ingest, &src, &hash, &stats, &p).await {
                        After::Ack => {
                            if let Err(error) = client.ack(&p).await {
                                break error.to_string();
                            }
                        }
                        After::Reconnect => break "storing failed".to_owned(),
                        After::Stop => {
                            let _ = subscribed.send(false);
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(error) => break error.to_string(),
            }
        };
        let _ = subscribed.send(false);
        Stats::add(&stats.disconnects, 1);
        tracing::warn!(
            message = "MQTT ingest connection lost; reconnecting.",
            broker = %src.broker,
            client_id = %src.client_id,
            %error,
            retry_in_ms = backoff.as_millis() as u64
        );
        drop(eventloop);
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Resolves once the source is told to stop (or its handle is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.is_ok();
}

/// The farm, parlor and kind levels of a topic under `prefix`.
fn levels<'a>(prefix: &str, topic: &'a str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
    let mut it = rest.split('/');
    let (farm, parlor, kind) = (it.next()?, it.next()?, it.next()?);
    it.next().is_none().then_some((farm, parlor, kind))
}

/// The farm and parlor a record names.
fn names(r: &Record) -> (&str, &str) {
    match r {
        Record::Milking(m) => (&m.farm, &m.parlor),
        Record::Interval(i) => (&i.farm, &i.parlor),
        Record::Gap(g) => (&g.farm, &g.parlor),
        Record::Session(s) => (&s.farm, &s.parlor),
        Record::Bails(b) => (&b.farm, &b.parlor),
    }
}

/// The record's dedupe key.
fn key(r: &Record) -> &str {
    match r {
        Record::Milking(m) => &m.key,
        Record::Interval(i) => &i.key,
        Record::Gap(g) => &g.key,
        Record::Session(s) => &s.key,
        Record::Bails(b) => &b.key,
    }
}

/// The batch key of a one-record MQTT batch: stable per record, so a redelivery is a replay.
fn batch_key(kind: &str, parlor: &str, key: &str) -> String {
    let mut h = sha2::Sha256::new();
    for part in [kind, parlor, key] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    format!("mqtt:{}", hex::encode(h.finalize()))
}

async fn handle(
    ingest: &Ingest,
    src: &SourceConfig,
    hash: &str,
    stats: &Stats,
    p: &Publish,
) -> After {
    let refuse = |why: &str| {
        Stats::add(&stats.refused, 1);
        tracing::warn!(
            message = "MQTT ingest refused a message.",
            client_id = %src.client_id,
            topic = %p.topic,
            reason = why
        );
        After::Ack
    };
    let malformed = |why: String| {
        Stats::add(&stats.malformed, 1);
        tracing::warn!(
            message = "MQTT ingest got a malformed message.",
            client_id = %src.client_id,
            topic = %p.topic,
            error = %why
        );
        After::Ack
    };
    let Some((farm, parlor, kind)) = levels(&src.topic_prefix, &p.topic) else {
        return malformed("the topic is not {prefix}/{farm}/{parlor}/{kind}".to_owned());
    };
    if farm != src.farm {
        return refuse("the topic names another farm");
    }
    if kind == parlor_bridge::mqtt::STATE || kind == parlor_bridge::mqtt::ALARM {
        Stats::add(&stats.ignored, 1);
        return After::Ack;
    }
    let rec: Record = match serde_json::from_slice(&p.payload) {
        Ok(r) => r,
        Err(e) => return malformed(format!("not a wire record: {e}")),
    };
    if topic_kind(&rec) != kind {
        return malformed(format!("a {} record on a {kind} topic", topic_kind(&rec)));
    }
    let (rec_farm, rec_parlor) = names(&rec);
    if rec_farm != src.farm {
        return refuse("the record names another farm");
    }
    if rec_parlor != parlor {
        return refuse("the record names another parlor than its topic");
    }
    let (token_id, farm_id) = match ingest.db.bridge_token(hash).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            tracing::error!(
                message = "MQTT ingest source stopped: its bridge token was revoked.",
                client_id = %src.client_id
            );
            return After::Stop;
        }
        Err(error) => {
            tracing::error!(message = "MQTT ingest cannot read its token.", %error);
            return After::Reconnect;
        }
    };
    let batch = IngestBatch {
        version: WIRE_VERSION,
        bridge_id: format!("mqtt:{}", src.client_id),
        batch_key: batch_key(kind, parlor, key(&rec)),
        records: vec![rec],
    };
    if let Err(error) = validate_batch(Lang::Ja, &batch) {
        Stats::add(&stats.rejected, 1);
        tracing::warn!(
            message = "MQTT ingest rejected a record.",
            client_id = %src.client_id,
            topic = %p.topic,
            error = %error_text(&error)
        );
        return After::Ack;
    }
    match ingest.store_batch(token_id, farm_id, &batch).await {
        Ok(out) => {
            Stats::add(&stats.stored, out.accepted);
            Stats::add(&stats.duplicates, out.duplicates);
            After::Ack
        }
        Err(error) => {
            tracing::error!(
                message = "MQTT ingest could not store a record; it stays with the broker.",
                client_id = %src.client_id,
                %error
            );
            After::Reconnect
        }
    }
}

/// The message of an ingest refusal, for the log.
fn error_text(e: &crate::error::AppError) -> String {
    match e {
        crate::error::AppError::BadInput(t) => t.clone(),
        other => format!("{other:?}"),
    }
}
