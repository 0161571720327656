//! Sink: publishes the MQTT outbox to the farm's own broker (QoS 1, retained state), so
//! Node-RED, Home Assistant, Grafana or a SCADA on the farm see the parlor without our server.
//!
//! # Topics
//!
//! Every message is JSON, published with QoS 1 under `{prefix}/{farm}/{parlor}/{kind}`
//! (`prefix` is `[mqtt] topic_prefix`, `agriops` by default):
//!
//! | kind | payload | retained |
//! |---|---|---|
//! | `milking` | a completed milking, [`wire::Record::Milking`](crate::wire::Record) | no |
//! | `kpi` | a closed KPI interval, [`wire::Record::Interval`](crate::wire::Record) | no |
//! | `session` | a milking session that ended, [`wire::Record::Session`](crate::wire::Record) | no |
//! | `gap` | a span the parlor did not answer, [`wire::Record::Gap`](crate::wire::Record) | no |
//! | `bails` | the newest state of every bail, [`wire::Record::Bails`](crate::wire::Record) | yes |
//! | `state` | platform state, active alarms, online, [`PlatformStatus`] with `"type": "state"` | yes |
//! | `alarm` | one alarm raised or cleared, [`AlarmEvent`] with `"type": "alarm"` | no |
//!
//! The record payloads are exactly the records of the HTTP ingest's batches, `type` tag
//! included. Every new connection publishes each parlor's newest `state` again, so the retained
//! state is back even on a broker that lost it. `{prefix}/bridges/{bridge_id}` holds, retained, `{"bridge_id", "online", "t"}`:
//! `online: true` when the bridge connects, `false` when it stops, and the broker publishes
//! `false` (its last will) when the bridge dies or loses the connection.
//!
//! # Delivery: at least once, deduplicated by key
//!
//! A message enters the store's `mqtt_outbox` in the same transaction as the records and
//! tracker state it comes from, and leaves it only after the broker's PUBACK. The session is
//! clean (`clean_session = true`): after any failure the bridge reconnects and publishes again
//! everything not yet acknowledged, from the outbox, in order. So nothing is lost across broker
//! outages or `kill -9`, but a message whose PUBACK was lost is published twice. **Subscribers
//! deduplicate by the payload's `key`**, the same stable key each record carries on the HTTP
//! ingest (unique per kind within a parlor): a second message with a key already seen is the
//! same message. `state` and `bails` are latest-wins, so a subscriber keeps only the newest by `t`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::MqttConfig;
use crate::error::BridgeError;
use crate::events;
use crate::outbox::{MqttRow, Store};
use crate::wire::{AlarmEvent, PlatformStatus, Record};

/// Topic kind of platform states (retained).
pub const STATE: &str = "state";
/// Topic kind of alarm edges.
pub const ALARM: &str = "alarm";
/// The topic level under the prefix that holds the bridges' own status.
pub const BRIDGES_LEVEL: &str = "bridges";

/// The topic kind a record is published under (`milking`, `kpi`, `session`, `gap`, `bails`).
pub fn topic_kind(r: &Record) -> &'static str {
    match r {
        Record::Milking(_) => "milking",
        Record::Interval(_) => "kpi",
        Record::Gap(_) => "gap",
        Record::Session(_) => "session",
        Record::Bails(_) => "bails",
    }
}

/// Kinds that are state, not history: retained on the broker, and only the newest waits in the outbox.
pub fn latest_wins(kind: &str) -> bool {
    kind == STATE || kind == "bails"
}

/// The topic of one message: `{prefix}/{farm}/{parlor}/{kind}`.
pub fn topic(prefix: &str, farm: &str, parlor: &str, kind: &str) -> String {
    format!("{prefix}/{farm}/{parlor}/{kind}")
}

/// The retained status topic of a bridge: `{prefix}/bridges/{bridge_id}`.
pub fn bridge_topic(prefix: &str, bridge_id: &str) -> String {
    format!("{prefix}/{BRIDGES_LEVEL}/{bridge_id}")
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Tagged<'a> {
    State(&'a PlatformStatus),
    Alarm(&'a AlarmEvent),
}

/// The JSON of a `state` message: the status with `"type": "state"`.
pub fn state_payload(s: &PlatformStatus) -> String {
    serde_json::to_string(&Tagged::State(s)).unwrap_or_default()
}

/// The JSON of an `alarm` message: the edge with `"type": "alarm"`.
pub fn alarm_payload(a: &AlarmEvent) -> String {
    serde_json::to_string(&Tagged::Alarm(a)).unwrap_or_default()
}

/// The bridge's own status message (`online`, when).
fn bridge_payload(bridge_id: &str, online: bool) -> String {
    serde_json::json!({
        "bridge_id": bridge_id,
        "online": online,
        "t": chrono::Utc::now(),
    })
    .to_string()
}

/// What the MQTT sink needs to run, from `[mqtt]` and the bridge id.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// TLS client configuration, when the broker is reached over TLS.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// MQTT client id.
    pub client_id: String,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    /// First topic level(s).
    pub topic_prefix: String,
    /// Identifies the bridge in its status topic.
    pub bridge_id: String,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Messages awaiting PUBACK at once.
    pub inflight: u16,
    /// First reconnection delay.
    pub min_backoff: Duration,
    /// Longest reconnection delay.
    pub max_backoff: Duration,
    /// How long a clean stop keeps publishing what is queued before it gives up (the rest waits in the outbox).
    pub drain_timeout: Duration,
}

impl MqttSettings {
    /// Settings from a validated `[mqtt]` section; reads the TLS certificates and key it names.
    ///
    /// # Errors
    /// [`BridgeError::Io`] for a file that cannot be read, [`BridgeError::Invalid`] for one that
    /// holds no usable certificate or key.
    pub fn new(cfg: &MqttConfig, bridge_id: &str) -> Result<MqttSettings, BridgeError> {
        let tls = if cfg.uses_tls() {
            Some(std::sync::Arc::new(tls_config(cfg)?))
        } else {
            None
        };
        Ok(MqttSettings {
            host: cfg.host.clone(),
            port: cfg.port(),
            tls,
            client_id: cfg.client_id(bridge_id),
            credentials: cfg
                .username
                .clone()
                .map(|u| (u, cfg.password().unwrap_or_default())),
            topic_prefix: cfg.topic_prefix.clone(),
            bridge_id: bridge_id.to_string(),
            keep_alive: Duration::from_secs(cfg.keep_alive_s.max(1)),
            inflight: cfg.inflight.max(1),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs_f64(cfg.max_backoff_s.max(0.2)),
            drain_timeout: Duration::from_secs(5),
        })
    }

    /// `host:port`, for messages.
    pub fn broker(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn options(&self) -> MqttOptions {
        let mut o = MqttOptions::new(&self.client_id, &self.host, self.port);
        o.set_keep_alive(self.keep_alive)
            .set_clean_session(true)
            .set_inflight(self.inflight)
            // A bail snapshot of a large rotary is well over the 10 KiB default.
            .set_max_packet_size(1 << 20, 1 << 20)
            .set_last_will(LastWill::new(
                bridge_topic(&self.topic_prefix, &self.bridge_id),
                serde_json::json!({"bridge_id": self.bridge_id, "online": false}).to_string(),
                QoS::AtLeastOnce,
                true,
            ));
        if let Some((u, p)) = &self.credentials {
            o.set_credentials(u, p);
        }
        if let Some(tls) = &self.tls {
            o.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(
                tls.clone(),
            )));
        }
        o
    }
}

fn read_pem_error(
    path: &std::path::Path,
    what: &str,
    error: impl std::fmt::Display,
) -> BridgeError {
    BridgeError::Invalid {
        path: path.to_path_buf(),
        line: 0,
        message: format!("[mqtt] {what} を読めません / cannot be read: {error}"),
    }
}

fn read_certs(
    path: &std::path::Path,
    what: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, BridgeError> {
    use rustls::pki_types::pem::PemObject as _;
    std::fs::metadata(path).map_err(|source| BridgeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| read_pem_error(path, what, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_pem_error(path, what, e))?;
    if certs.is_empty() {
        return Err(read_pem_error(path, what, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// The rustls client configuration: roots from `ca_file` or the system, and the client
/// certificate when given; the ring provider, TLS 1.2 and 1.3.
fn tls_config(cfg: &MqttConfig) -> Result<rustls::ClientConfig, BridgeError> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    match &cfg.ca_file {
        Some(ca) => {
            for c in read_certs(ca, "ca_file")? {
                roots.add(c).map_err(|e| read_pem_error(ca, "ca_file", e))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                // A broken system certificate is skipped, as browsers do.
                let _ = roots.add(c);
            }
        }
    }
    // ring, not rustls's default aws-lc-rs, which needs cmake and a long native build. ring
    // has no post-quantum key exchange (hence the deprecation); classic ECDHE is what the
    // farm's broker offers anyway.
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BridgeError::Mqtt {
            broker: cfg.host.clone(),
            message: e.to_string(),
        })?
        .with_root_certificates(roots);
    match (&cfg.client_cert, &cfg.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "client_cert")?;
            std::fs::metadata(key).map_err(|source| BridgeError::Io {
                path: key.clone(),
                source,
            })?;
            let key_der = rustls::pki_types::PrivateKeyDer::from_pem_file(key)
                .map_err(|e| read_pem_error(key, "client_key", e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| read_pem_error(key, "client_key", e))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Publishes the outbox until `shutdown` turns true, reconnecting with backoff; at shutdown it
/// keeps publishing for up to `drain_timeout`, then says the bridge is offline and disconnects.
pub async fn run(store: Store, s: MqttSettings, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = s.min_backoff;
    loop {
        match session(&store, &s, &mut shutdown).await {
            Ok(()) => return,
            Err((connected, error)) => {
                if connected {
                    backoff = s.min_backoff;
                }
                events::mqtt_failed(&error, backoff.as_millis() as u64);
                let wait = backoff
                    + Duration::from_millis(fastrand::u64(0..=backoff.as_millis() as u64 / 4));
                backoff = (backoff * 2).min(s.max_backoff);
                let closed = tokio::select! {
                    () = tokio::time::sleep(wait) => false,
                    changed = shutdown.changed() => changed.is_err(),
                };
                if closed || *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

/// Aborts the event-loop task when the session ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Which outbox row each packet id stands for, learned from the event loop's events in the
/// order the publishes were handed to it (`None`: a message that is not an outbox row).
#[derive(Default)]
struct Tracking {
    /// Handed to the client, packet id not yet assigned.
    handed: VecDeque<Option<i64>>,
    /// Sent, awaiting PUBACK, by packet id.
    inflight: HashMap<u16, Option<i64>>,
    /// A publish held back by a packet-id collision (it goes out once that id is acknowledged).
    collided: Option<(u16, Option<i64>)>,
    /// Acknowledged rows not yet deleted from the outbox.
    acked: Vec<i64>,
}

impl Tracking {
    fn outstanding(&self) -> usize {
        self.handed.len() + self.inflight.len() + usize::from(self.collided.is_some())
    }

    /// Follows one event; an acknowledgement the session cannot place is an error (the
    /// caller reconnects and republishes whatever is not known to be acknowledged).
    fn on_event(&mut self, ev: &Event) -> Result<(), String> {
        match ev {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                let row = match self.collided.take() {
                    Some((p, row)) if p == *pkid => row,
                    other => {
                        self.collided = other;
                        self.handed
                            .pop_front()
                            .ok_or_else(|| format!("publish {pkid} that was never handed over"))?
                    }
                };
                self.inflight.insert(*pkid, row);
            }
            Event::Outgoing(Outgoing::AwaitAck(pkid)) => {
                let row = self
                    .handed
                    .pop_front()
                    .ok_or_else(|| format!("collision on {pkid} for nothing handed over"))?;
                self.collided = Some((*pkid, row));
            }
            Event::Incoming(Packet::PubAck(ack)) => match self.inflight.remove(&ack.pkid) {
                Some(Some(id)) => self.acked.push(id),
                Some(None) => {}
                None => return Err(format!("PUBACK for unknown packet id {}", ack.pkid)),
            },
            Event::Incoming(Packet::Disconnect) => {
                return Err("the broker closed the session".into());
            }
            _ => {}
        }
        Ok(())
    }
}

fn mqtt_error(s: &MqttSettings, message: impl std::fmt::Display) -> BridgeError {
    BridgeError::Mqtt {
        broker: s.broker(),
        message: message.to_string(),
    }
}

/// One connection: `Ok` after a clean stop, else whether it had connected and what failed.
async fn session(
    store: &Store,
    s: &MqttSettings,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), (bool, BridgeError)> {
    let (client, mut eventloop) = AsyncClient::new(s.options(), usize::from(s.inflight) + 8);
    let (tx, mut events_rx) = mpsc::unbounded_channel();
    // The event loop runs on its own task and is never cancelled mid-poll; a fresh one per
    // connection, so nothing rumqttc kept in memory is retransmitted: the outbox is the queue.
    let _driver = AbortOnDrop(tokio::spawn(async move {
        loop {
            let ev = eventloop.poll().await;
            let failed = ev.is_err();
            if tx.send(ev).is_err() || failed {
                return;
            }
        }
    }));
    match events_rx.recv().await {
        Some(Ok(Event::Incoming(Packet::ConnAck(_)))) => {}
        Some(Ok(other)) => {
            return Err((
                false,
                mqtt_error(s, format!("expected CONNACK, got {other:?}")),
            ));
        }
        Some(Err(e)) => return Err((false, mqtt_error(s, e))),
        None => return Err((false, mqtt_error(s, "the event loop ended"))),
    }
    events::mqtt_connected(&s.broker(), &s.client_id);
    let fail = |e: BridgeError| (true, e);
    let mut t = Tracking::default();
    let status_topic = bridge_topic(&s.topic_prefix, &s.bridge_id);
    t.handed.push_back(None);
    client
        .publish(
            &status_topic,
            QoS::AtLeastOnce,
            true,
            bridge_payload(&s.bridge_id, true),
        )
        .await
        .map_err(|e| fail(mqtt_error(s, e)))?;
    // The newest state of each parlor again, so a broker that lost its retained messages has
    // them back (the outbox may hold a newer one still, which then follows).
    let states = store.mqtt_states().await.map_err(fail)?;
    for st in &states {
        t.handed.push_back(None);
        client
            .publish(
                topic(&s.topic_prefix, &st.farm, &st.parlor, STATE),
                QoS::AtLeastOnce,
                true,
                st.payload.clone(),
            )
            .await
            .map_err(|e| fail(mqtt_error(s, e)))?;
    }
    let window = usize::from(s.inflight);
    let mut cursor = 0i64;
    let mut draining: Option<tokio::time::Instant> = None;
    let mut flush = tokio::time::interval(Duration::from_millis(100));
    let mut published = 0u64;
    let result = loop {
        // Top up the window from the outbox, oldest first.
        if t.outstanding() < window {
            let room = (window - t.outstanding()) as u32;
            let rows = match store.mqtt_after(cursor, room).await {
                Ok(r) => r,
                Err(e) => break Err(fail(e)),
            };
            let mut handed = Ok(());
            for row in rows {
                cursor = row.id;
                handed = hand_over(&client, s, &mut t, &row).await;
                if handed.is_err() {
                    break;
                }
                published += 1;
            }
            if let Err(e) = handed {
                break Err(fail(e));
            }
        }
        if let Some(deadline) = draining
            && (t.outstanding() == 0 || tokio::time::Instant::now() >= deadline)
        {
            break Ok(());
        }
        tokio::select! {
            ev = events_rx.recv() => match ev {
                Some(Ok(ev)) => {
                    if let Err(m) = t.on_event(&ev) {
                        break Err(fail(mqtt_error(s, m)));
                    }
                }
                Some(Err(e)) => break Err(fail(mqtt_error(s, e))),
                None => break Err(fail(mqtt_error(s, "the event loop ended"))),
            },
            () = store.mqtt_queued_notice(), if draining.is_none() => {}
            _ = flush.tick() => {
                if let Err(e) = store.mqtt_acked(&std::mem::take(&mut t.acked)).await {
                    break Err(fail(e));
                }
            }
            changed = shutdown.changed(), if draining.is_none() => {
                // A dropped sender (the bridge is gone) is a stop too.
                if changed.is_err() || *shutdown.borrow() {
                    draining = Some(tokio::time::Instant::now() + s.drain_timeout);
                }
            }
        }
        if t.acked.len() >= 64
            && let Err(e) = store.mqtt_acked(&std::mem::take(&mut t.acked)).await
        {
            break Err(fail(e));
        }
    };
    // Whatever was acknowledged leaves the outbox, however the session ended.
    let _ = store.mqtt_acked(&std::mem::take(&mut t.acked)).await;
    if published > 0 {
        events::mqtt_published(published, &s.broker());
    }
    if result.is_ok() {
        say_offline(&client, s, &status_topic, &mut t, &mut events_rx).await;
    }
    result
}

async fn hand_over(
    client: &AsyncClient,
    s: &MqttSettings,
    t: &mut Tracking,
    row: &MqttRow,
) -> Result<(), BridgeError> {
    t.handed.push_back(Some(row.id));
    client
        .publish(
            topic(&s.topic_prefix, &row.farm, &row.parlor, &row.kind),
            QoS::AtLeastOnce,
            latest_wins(&row.kind),
            row.payload.clone(),
        )
        .await
        .map_err(|e| mqtt_error(s, e))
}

/// A clean stop: the retained bridge status says offline (waiting briefly for its PUBACK), then DISCONNECT.
async fn say_offline(
    client: &AsyncClient,
    s: &MqttSettings,
    status_topic: &str,
    t: &mut Tracking,
    events_rx: &mut mpsc::UnboundedReceiver<Result<Event, rumqttc::ConnectionError>>,
) {
    t.handed.push_back(None);
    if client
        .publish(
            status_topic,
            QoS::AtLeastOnce,
            true,
            bridge_payload(&s.bridge_id, false),
        )
        .await
        .is_err()
    {
        return;
    }
    let wait = async {
        while let Some(Ok(ev)) = events_rx.recv().await {
            let _ = t.on_event(&ev);
            if t.outstanding() == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(ev)) = events_rx.recv().await {
            if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::PubAck;

    #[test]
    fn packet_ids_map_back_to_outbox_rows_in_order_and_across_a_collision() {
        let mut t = Tracking::default();
        t.handed.extend([None, Some(10), Some(11), Some(12)]);
        for p in 1..=3 {
            t.on_event(&Event::Outgoing(Outgoing::Publish(p))).unwrap();
        }
        // Packet id 1 is still unacknowledged when the ids wrap: rumqttc holds row 12 back.
        t.on_event(&Event::Outgoing(Outgoing::AwaitAck(1))).unwrap();
        assert_eq!(t.outstanding(), 4);
        t.on_event(&Event::Incoming(Packet::PubAck(PubAck::new(2))))
            .unwrap();
        t.on_event(&Event::Incoming(Packet::PubAck(PubAck::new(1))))
            .unwrap();
        // The held-back publish goes out under the freed id.
        t.on_event(&Event::Outgoing(Outgoing::Publish(1))).unwrap();
        t.on_event(&Event::Incoming(Packet::PubAck(PubAck::new(3))))
            .unwrap();
        t.on_event(&Event::Incoming(Packet::PubAck(PubAck::new(1))))
            .unwrap();
        assert_eq!(t.acked, [10, 11, 12]);
        assert_eq!(t.outstanding(), 0);
        assert!(
            t.on_event(&Event::Incoming(Packet::PubAck(PubAck::new(9))))
                .is_err()
        );
        assert!(t.on_event(&Event::Outgoing(Outgoing::Publish(4))).is_err());
    }

    #[test]
    fn unusable_tls_files_fail_the_start_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = |extra: &str| -> MqttConfig {
            toml::from_str(&format!("host = \"b\"\n{extra}")).unwrap()
        };
        let missing = dir.path().join("missing.pem");
        let err = MqttSettings::new(&cfg(&format!("ca_file = {:?}", missing)), "b").unwrap_err();
        assert!(
            matches!(&err, BridgeError::Io { path, .. } if *path == missing),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = MqttSettings::new(&cfg(&format!("ca_file = {:?}", empty)), "b").unwrap_err();
        assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
        // TLS with the system's roots needs no file; plain TCP needs no TLS at all.
        assert!(
            MqttSettings::new(&cfg("tls = true"), "b")
                .unwrap()
                .tls
                .is_some()
        );
        assert!(MqttSettings::new(&cfg(""), "b").unwrap().tls.is_none());
    }

    #[test]
    fn topics_and_tagged_payloads() {
        assert_eq!(
            topic("agriops", "田中牧場", "rotary-1", "milking"),
            "agriops/田中牧場/rotary-1/milking"
        );
        assert_eq!(
            bridge_topic("coop/agriops", "b1"),
            "coop/agriops/bridges/b1"
        );
        assert!(latest_wins("state") && latest_wins("bails") && !latest_wins("milking"));
        let a = AlarmEvent {
            key: "p/alarm/vacuum_low/5/on".into(),
            parlor: "p".into(),
            farm: "f".into(),
            unit: 1,
            t: chrono::DateTime::from_timestamp(5, 0).unwrap(),
            alarm: "vacuum_low".into(),
            active: true,
        };
        let v: serde_json::Value = serde_json::from_str(&alarm_payload(&a)).unwrap();
        assert_eq!(v["type"], "alarm");
        assert_eq!(v["key"], "p/alarm/vacuum_low/5/on");
        assert_eq!(v["active"], true);
    }
}
