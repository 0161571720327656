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

/// Why an MQTT ingest source cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MqttIngestError {
    /// The configuration file cannot be read.
    #[error("{path}: 読めません / cannot be read: {message}")]
    Read {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// The configuration is not valid.
    #[error("MQTT ingest source {source_name:?}: {message}")]
    Config {
        /// The source (its client id, or its position).
        source_name: String,
        /// What is wrong, in Japanese and English.
        message: String,
    },
    /// The source's bridge token is unknown or revoked.
    #[error(
        "MQTT ingest source {client_id:?}: ブリッジトークンが無効です / the bridge token is unknown or revoked"
    )]
    Token {
        /// The source's client id.
        client_id: String,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

/// The `--mqtt-ingest` TOML file: one `[[source]]` per broker connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttIngestConfig {
    /// The broker connections.
    #[serde(default)]
    pub source: Vec<SourceConfig>,
}

/// One broker connection, bound to one farm by its bridge token.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `mqtt://HOST[:PORT]` (port 1883 by default).
    pub broker: String,
    /// The `{farm}` topic level this source takes (the bridge's device `farm`).
    pub farm: String,
    /// The bridge token the source acts as; its farm receives every record.
    #[serde(default)]
    pub token: String,
    /// The environment variable holding the token instead (keeps it out of the file).
    #[serde(default)]
    pub token_env: Option<String>,
    /// First topic level(s), the bridge's `[mqtt] topic_prefix`.
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    /// MQTT client id; it names the broker's persistent session, so keep it stable and unique.
    pub client_id: String,
    /// Broker user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Broker password.
    #[serde(default)]
    pub password: Option<String>,
    /// The environment variable holding the broker password instead.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Keep-alive interval in seconds.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("broker", &self.broker)
            .field("farm", &self.farm)
            .field("topic_prefix", &self.topic_prefix)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn default_prefix() -> String {
    "agriops".to_owned()
}

fn default_keep_alive() -> u64 {
    30
}

impl MqttIngestConfig {
    /// Reads and checks the TOML file.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML of this shape, or a source is invalid.
    pub fn load(path: &Path) -> Result<MqttIngestConfig, MqttIngestError> {
        let text = std::fs::read_to_string(path).map_err(|e| MqttIngestError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        MqttIngestConfig::parse(&text).map_err(|e| match e {
            MqttIngestError::Read { message, .. } => MqttIngestError::Read {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parses and checks TOML text.
    ///
    /// # Errors
    /// Not valid TOML of this shape, or a source is invalid.
    pub fn parse(text: &str) -> Result<MqttIngestConfig, MqttIngestError> {
        let mut cfg: MqttIngestConfig =
            toml::from_str(text).map_err(|e| MqttIngestError::Read {
                path: String::new(),
                message: e.to_string(),
            })?;
        let mut ids = std::collections::HashSet::new();
        for (i, s) in cfg.source.iter_mut().enumerate() {
            let name = if s.client_id.is_empty() {
                format!("#{}", i + 1)
            } else {
                s.client_id.clone()
            };
            let bad = |message: &str| MqttIngestError::Config {
                source_name: name.clone(),
                message: message.to_owned(),
            };
            s.host_port().map_err(|m| bad(&m))?;
            for (what, v) in [("farm", &s.farm), ("topic_prefix", &s.topic_prefix)] {
                if v.is_empty() || v.contains(['+', '#', '\0']) {
                    return Err(bad(&format!(
                        "{what} は空でなく + # を含まない値にしてください / {what} must be non-empty without + or #"
                    )));
                }
            }
            if s.farm.contains('/') {
                return Err(bad(
                    "farm は 1 階層です (/ 不可) / farm is one topic level (no /)",
                ));
            }
            if s.client_id.is_empty() || !ids.insert(s.client_id.clone()) {
                return Err(bad(
                    "client_id は空でなく重複しない値にしてください / client_id must be non-empty and unique",
                ));
            }
            if let Some(var) = s.token_env.take() {
                if !s.token.is_empty() {
                    return Err(bad(
                        "token と token_env のどちらか一方にしてください / give token or token_env, not both",
                    ));
                }
                s.token = from_env(&var).map_err(|m| bad(&m))?;
            }
            if s.token.is_empty() {
                return Err(bad("token がありません / token is empty"));
            }
            if let Some(var) = s.password_env.take() {
                if s.password.is_some() {
                    return Err(bad(
                        "password と password_env のどちらか一方にしてください / give password or password_env, not both",
                    ));
                }
                s.password = Some(from_env(&var).map_err(|m| bad(&m))?);
            }
            if s.username.is_none() && s.password.is_some() {
                return Err(bad(
                    "password には username が必要です / password needs a username",
                ));
            }
        }
        Ok(cfg)
    }
}

/// The value of an environment variable named in the file.
fn from_env(var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|_| {
        format!("環境変数 {var} が設定されていません / the environment variable {var} is not set")
    })
}

impl SourceConfig {
    /// Host and port of `broker`.
    fn host_port(&self) -> Result<(String, u16), String> {
        let rest = self
            .broker
            .strip_prefix("mqtt://")
            .or_else(|| self.broker.strip_prefix("tcp://"))
            .ok_or_else(|| {
                format!(
                    "broker {:?}: mqtt://HOST[:PORT] の形にしてください (TLS は未対応) / must be mqtt://HOST[:PORT] (TLS is not supported yet)",
                    self.broker
                )
            })?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse::<u16>().map_err(|_| {
                    format!(
                        "broker {:?}: ポート番号が不正です / the port is not a number",
                        self.broker
                    )
                })?,
            ),
            _ => (rest, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') {
            return Err(format!(
                "broker {:?}: ホスト名がありません / the host is missing",
                self.broker
            ));
        }
        Ok((host.to_owned(), port))
    }

    fn options(&self) -> MqttOptions {
        let (host, port) = self.host_port().unwrap_or(("127.0.0.1".to_owned(), 1883));
        let mut o = MqttOptions::new(&self.client_id, host, port);
        o.set_keep_alive(Duration::from_secs(self.keep_alive_s.max(5)))
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(1 << 20, 1 << 20);
        if let Some(u) = &self.username {
            o.set_credentials(u, self.password.clone().unwrap_or_default());
        }
        o
    }

    /// The subscription: every farm and parlor under the prefix, so other farms' messages are
    /// seen (and refused and counted) rather than silently absent.
    fn filter(&self) -> String {
        format!("{}/+/+/+", self.topic_prefix)
    }
}

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

#[cfg(test)]
mod tests {
    //! Against the real Mosquitto on 127.0.0.1:1883, each test under its own topic prefix and
    //! client ids. The tests publish nothing retained; each removes its persistent session.

    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use parlor_bridge::wire::{MilkingEvent, Record};
    use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};

    use super::*;
    use crate::testutil::{TestApp, both_apps};

    const FARM: &str = "田中牧場";

    /// A topic prefix and client id no other test or run shares.
    fn unique(tag: &str) -> String {
        format!(
            "agriops-test-{tag}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )
    }

    fn milking(farm: &str, seq: u64) -> Record {
        Record::Milking(MilkingEvent {
            key: format!("east/3/0/{seq}"),
            parlor: "east".into(),
            farm: farm.into(),
            unit: 1,
            bail: 3,
            epoch: 0,
            seq,
            t: Utc::now() - chrono::Duration::hours(1) + chrono::Duration::seconds(seq as i64),
            controller_t: None,
            cow_id: 1_234,
            yield_kg: 11.5,
            duration_s: Some(400.0),
            conductivity_ms_cm: Some(5.1),
            high_conductivity: false,
            missed_before: 0,
        })
    }

    fn milking_topic(prefix: &str, farm: &str) -> String {
        parlor_bridge::mqtt::topic(prefix, farm, "east", "milking")
    }

    /// Publishes each message with QoS 1 and returns once the broker acknowledged all of them.
    async fn publish(id: &str, msgs: &[(String, Vec<u8>)]) {
        let mut o = MqttOptions::new(format!("{id}-pub"), "127.0.0.1", 1883);
        o.set_clean_session(true);
        let (client, mut el) = AsyncClient::new(o, 64);
        for (topic, payload) in msgs {
            client
                .publish(topic, QoS::AtLeastOnce, false, payload.clone())
                .await
                .expect("queue a publish");
        }
        let mut acked = 0;
        tokio::time::timeout(Duration::from_secs(10), async {
            while acked < msgs.len() {
                if let Event::Incoming(Packet::PubAck(_)) = el.poll().await.expect("broker") {
                    acked += 1;
                }
            }
        })
        .await
        .expect("the broker acknowledges every publish");
        client.disconnect().await.expect("disconnect");
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match el.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }

    /// Removes the broker's persistent session of `client_id`.
    async fn forget_session(client_id: &str) {
        let mut o = MqttOptions::new(client_id, "127.0.0.1", 1883);
        o.set_clean_session(true);
        let (client, mut el) = AsyncClient::new(o, 8);
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.disconnect().await;
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }

    fn json(r: &Record) -> Vec<u8> {
        serde_json::to_vec(r).unwrap()
    }

    async fn wait_for(what: &str, f: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !f() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn token_for(app: &TestApp, farm_id: i64) -> (i64, String) {
        let token = crate::services::credentials::new_token();
        let id = app
            .state
            .db
            .create_bridge_token(farm_id, "mqtt", &token_hash(&token))
            .await
            .unwrap();
        (id, token)
    }

    fn source(prefix: &str, client_id: &str, token: &str) -> SourceConfig {
        let text = format!(
            "[[source]]\nbroker = \"mqtt://127.0.0.1:1883\"\nfarm = \"{FARM}\"\ntoken = \"{token}\"\n\
             topic_prefix = \"{prefix}\"\nclient_id = \"{client_id}\"\n"
        );
        MqttIngestConfig::parse(&text).unwrap().source.remove(0)
    }

    async fn milkings_of(app: &TestApp, farm_id: i64) -> usize {
        let mut n = 0;
        for p in app.state.db.parlors_of_farm(farm_id).await.unwrap() {
            n += app
                .state
                .db
                .milkings(
                    p.id,
                    DateTime::from_timestamp(0, 0).unwrap(),
                    DateTime::from_timestamp(4_000_000_000, 0).unwrap(),
                )
                .await
                .unwrap()
                .len();
        }
        n
    }

    both_apps!(records_arrive_once_and_others_are_refused, |app| {
        let farm = app.farm("dairy-mqtt", "dairy").await;
        let other = app.farm("dairy-other", "dairy").await;
        let (_, token) = token_for(app, farm.id).await;
        let prefix = unique("once");
        let id = format!("{prefix}-server");
        let mut sub = start(app.state.ingest(), source(&prefix, &id, &token))
            .await
            .unwrap();
        sub.wait_subscribed().await;
        let st = sub.stats.clone();
        let topic = milking_topic(&prefix, FARM);
        let batch: Vec<_> = (1..=3)
            .map(|s| (topic.clone(), json(&milking(FARM, s))))
            .collect();
        publish(&id, &batch).await;
        wait_for("three stored", || Stats::get(&st.stored) == 3).await;
        assert_eq!(milkings_of(app, farm.id).await, 3);

        // Republishing the same records changes nothing.
        publish(&id, &batch).await;
        wait_for("three duplicates", || Stats::get(&st.duplicates) == 3).await;
        assert_eq!(Stats::get(&st.stored), 3);
        assert_eq!(milkings_of(app, farm.id).await, 3);

        // Another farm's topic, and a record naming another farm on ours: refused.
        let elsewhere = milking_topic(&prefix, "other-farm");
        publish(
            &id,
            &[
                (elsewhere, json(&milking("other-farm", 10))),
                (topic.clone(), json(&milking("other-farm", 11))),
            ],
        )
        .await;
        wait_for("two refused", || Stats::get(&st.refused) == 2).await;

        // Malformed payloads and an impossible value are counted; the subscriber goes on.
        let mut negative = milking(FARM, 12);
        if let Record::Milking(m) = &mut negative {
            m.yield_kg = -4.0;
        }
        let kpi_topic = parlor_bridge::mqtt::topic(&prefix, FARM, "east", "kpi");
        publish(
            &id,
            &[
                (topic.clone(), b"{\"type\":\"milking\",\"key\":".to_vec()),
                (kpi_topic, json(&milking(FARM, 13))),
                (topic.clone(), json(&negative)),
                (
                    parlor_bridge::mqtt::topic(&prefix, FARM, "east", "state"),
                    b"{\"type\":\"state\"}".to_vec(),
                ),
                (topic.clone(), json(&milking(FARM, 4))),
            ],
        )
        .await;
        wait_for("the fourth stored", || Stats::get(&st.stored) == 4).await;
        assert_eq!(Stats::get(&st.malformed), 2);
        assert_eq!(Stats::get(&st.rejected), 1);
        assert_eq!(Stats::get(&st.ignored), 1);
        assert_eq!(milkings_of(app, farm.id).await, 4);
        assert_eq!(milkings_of(app, other.id).await, 0);
        assert!(
            app.state
                .db
                .parlors_of_farm(other.id)
                .await
                .unwrap()
                .is_empty()
        );
        let metrics = app.metrics().await;
        assert!(
            metrics.contains("agriops_milking_events_total 4"),
            "{metrics}"
        );
        sub.stop().await;
        forget_session(&id).await;
    });

    both_apps!(unacknowledged_messages_come_back_to_the_session, |app| {
        let farm = app.farm("dairy-mqtt2", "dairy").await;
        let (token_id, token) = token_for(app, farm.id).await;
        let prefix = unique("redeliver");
        let id = format!("{prefix}-server");
        let topic = milking_topic(&prefix, FARM);

        // A revoked token: the source stops without acknowledging, nothing is stored.
        let mut sub = start(app.state.ingest(), source(&prefix, &id, &token))
            .await
            .unwrap();
        sub.wait_subscribed().await;
        app.state.db.revoke_bridge_token(token_id).await.unwrap();
        publish(&id, &[(topic.clone(), json(&milking(FARM, 1)))]).await;
        let mut down = sub.subscribed.clone();
        tokio::time::timeout(Duration::from_secs(10), down.wait_for(|s| !*s))
            .await
            .expect("the source stops")
            .unwrap();
        assert_eq!(Stats::get(&sub.stats.stored), 0);
        sub.stop().await;
        assert_eq!(milkings_of(app, farm.id).await, 0);
        assert!(matches!(
            start(app.state.ingest(), source(&prefix, &id, &token)).await,
            Err(MqttIngestError::Token { .. })
        ));

        // Published while no source runs: the persistent session keeps it too.
        publish(&id, &[(topic.clone(), json(&milking(FARM, 2)))]).await;

        // The same session with a valid token gets both: the unacknowledged and the queued.
        let (_, token2) = token_for(app, farm.id).await;
        let mut sub = start(app.state.ingest(), source(&prefix, &id, &token2))
            .await
            .unwrap();
        let st = sub.stats.clone();
        wait_for("both stored", || Stats::get(&st.stored) == 2).await;
        sub.wait_subscribed().await;
        assert_eq!(milkings_of(app, farm.id).await, 2);
        sub.stop().await;
        forget_session(&id).await;
    });

    /// Runs one statement on the test database, whichever backend it is.
    async fn exec(app: &TestApp, sql: &'static str) {
        match &app.state.db {
            crate::storage::Db::Sqlite(p) => {
                sqlx::query(sql).execute(p).await.unwrap();
            }
            crate::storage::Db::Postgres(p) => {
                sqlx::query(sql).execute(p).await.unwrap();
            }
        }
    }

    both_apps!(a_record_whose_commit_failed_is_delivered_again, |app| {
        let farm = app.farm("dairy-mqtt3", "dairy").await;
        let (_, token) = token_for(app, farm.id).await;
        let prefix = unique("commit");
        let id = format!("{prefix}-server");
        let mut sub = start(app.state.ingest(), source(&prefix, &id, &token))
            .await
            .unwrap();
        sub.wait_subscribed().await;
        let st = sub.stats.clone();
        // The database refuses the insert: the message must stay unacknowledged.
        exec(
            app,
            "ALTER TABLE milking_events RENAME TO milking_events_away",
        )
        .await;
        publish(
            &id,
            &[(milking_topic(&prefix, FARM), json(&milking(FARM, 1)))],
        )
        .await;
        wait_for("the failed store drops the connection", || {
            Stats::get(&st.disconnects) >= 1
        })
        .await;
        assert_eq!(Stats::get(&st.stored), 0);
        exec(
            app,
            "ALTER TABLE milking_events_away RENAME TO milking_events",
        )
        .await;
        // The broker delivers it again on the next connection of the session.
        wait_for("stored after the database is back", || {
            Stats::get(&st.stored) == 1
        })
        .await;
        assert_eq!(milkings_of(app, farm.id).await, 1);
        assert_eq!(Stats::get(&st.duplicates), 0);
        sub.stop().await;
        forget_session(&id).await;
    });

    #[test]
    fn bad_sources_are_refused_in_both_languages() {
        let ok = "[[source]]\nbroker = \"mqtt://h:1884\"\nfarm = \"f\"\ntoken = \"t\"\nclient_id = \"c\"\n";
        let cfg = MqttIngestConfig::parse(ok).unwrap();
        assert_eq!(cfg.source[0].host_port().unwrap(), ("h".to_owned(), 1884));
        assert_eq!(cfg.source[0].topic_prefix, "agriops");
        if let Ok(home) = std::env::var("HOME") {
            let from_env =
                MqttIngestConfig::parse(&ok.replace("token = \"t\"", "token_env = \"HOME\""))
                    .unwrap();
            assert_eq!(from_env.source[0].token, home);
        }
        for (bad, needle) in [
            (ok.replace("mqtt://h:1884", "mqtts://h"), "must be mqtt://"),
            (ok.replace("mqtt://h:1884", "mqtt://h:port"), "not a number"),
            (
                ok.replace("farm = \"f\"", "farm = \"a/b\""),
                "one topic level",
            ),
            (ok.replace("farm = \"f\"", "farm = \"+\""), "without + or #"),
            (
                ok.replace("token = \"t\"", "token = \"\""),
                "token is empty",
            ),
            (format!("{ok}{ok}"), "unique"),
            (ok.replace("client_id", "clientid"), "unknown field"),
            (
                ok.replace("token = \"t\"", "token_env = \"AGRIOPS_SURELY_UNSET_7f3a\""),
                "AGRIOPS_SURELY_UNSET_7f3a is not set",
            ),
            (format!("{ok}token_env = \"HOME\"\n"), "not both"),
        ] {
            let e = MqttIngestConfig::parse(&bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        let e =
            MqttIngestConfig::parse(&ok.replace("mqtts", "x").replace("mqtt://h:1884", "ftp://h"))
                .unwrap_err()
                .to_string();
        assert!(e.contains("の形にしてください"), "{e}");
    }

    #[test]
    fn topic_levels_and_batch_keys() {
        assert_eq!(
            levels("a/b", "a/b/f/p/milking"),
            Some(("f", "p", "milking"))
        );
        assert_eq!(levels("a/b", "a/b/f/p"), None);
        assert_eq!(levels("a/b", "a/b/f/p/k/x"), None);
        assert_eq!(levels("a/b", "a/bf/p/k"), None);
        let k = batch_key("milking", "east", "east/3/0/1");
        assert_eq!(k, batch_key("milking", "east", "east/3/0/1"));
        assert_ne!(k, batch_key("milking", "west", "east/3/0/1"));
        assert_ne!(batch_key("a", "bc", "d"), batch_key("ab", "c", "d"));
        assert!(k.len() <= crate::validate::MAX_KEY);
    }
}
