//! The bridge configuration file (`bridge.toml`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{BridgeError, toml_error};

/// The whole bridge configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Identifies this bridge to the server; prefixes every batch's idempotency key.
    #[serde(default = "default_bridge_id")]
    pub bridge_id: String,
    /// Local SQLite database (records, state, outbox); relative paths are from the config file.
    #[serde(default)]
    pub store: Option<PathBuf>,
    /// The server to forward to; without it the bridge only writes the local database.
    #[serde(default)]
    pub server: Option<ServerConfig>,
    /// The farm's own MQTT broker to publish to as well (see the crate's `mqtt` docs for the topics).
    #[serde(default)]
    pub mqtt: Option<MqttConfig>,
    /// The parlors to poll.
    #[serde(rename = "device", default)]
    pub devices: Vec<DeviceConfig>,
}

/// The `[mqtt]` section: the broker milkings, KPIs, state and alarms are published to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker host name or address, e.g. `127.0.0.1` or `broker.farm.lan`.
    pub host: String,
    /// Broker port; default 1883, or 8883 with TLS.
    #[serde(default)]
    pub port: Option<u16>,
    /// MQTT client id; default `agriops-bridge-{bridge_id}`. Keep it unique per bridge.
    #[serde(default)]
    pub client_id: Option<String>,
    /// User name, when the broker asks for one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password (prefer `password_env`); needs `username`.
    #[serde(default)]
    pub password: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// First topic level(s): topics are `{topic_prefix}/{farm}/{parlor}/{kind}`.
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
    /// Keep-alive interval, seconds (the broker drops a silent client after 1.5 times this).
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// Messages published and not yet acknowledged (PUBACK) at once.
    #[serde(default = "default_inflight")]
    pub inflight: u16,
    /// Longest delay between reconnection attempts, seconds.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_s: f64,
    /// Connect over TLS (also implied by `ca_file` or `client_cert`); the broker's name is checked against `host`.
    #[serde(default)]
    pub tls: bool,
    /// PEM file of the CA certificate(s) the broker's certificate must chain to; default: the
    /// system's roots. Relative paths are from the config file.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain for brokers that require client certificates (with `client_key`).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

/// The ingest server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// URL batches are POSTed to, e.g. `http://127.0.0.1:8080/api/v1/ingest/parlor`.
    pub url: String,
    /// Bearer token (prefer `token_env`).
    #[serde(default)]
    pub token: Option<String>,
    /// Environment variable holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Records per batch.
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    /// Longest delay between retries, seconds.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_s: f64,
}

/// One parlor controller.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Unique parlor name (appears in every record).
    pub name: String,
    /// Farm the parlor belongs to.
    #[serde(default)]
    pub farm: String,
    /// Address: `tcp:HOST:PORT`, `rtu-tcp:HOST:PORT` or `serial:PATH:BAUD[:PARITY]`.
    pub address: String,
    /// Modbus unit id (slave address).
    #[serde(default = "default_unit")]
    pub unit: u8,
    /// Register map file; relative paths are from the config file.
    pub map: PathBuf,
    /// Number of bails, when the map has no `bail_count` register.
    #[serde(default)]
    pub bails: Option<u16>,
    /// Platform status poll interval, ms.
    #[serde(default = "default_status_ms")]
    pub status_interval_ms: u64,
    /// Totals (counters, clock) poll interval, ms.
    #[serde(default = "default_totals_ms")]
    pub totals_interval_ms: u64,
    /// Bail blocks poll interval, ms; keep it well under the shortest bail cycle.
    #[serde(default = "default_bail_ms")]
    pub bail_interval_ms: u64,
    /// How often the state of every bail is forwarded (latest wins), ms; 0 = never.
    #[serde(default = "default_snapshot_ms")]
    pub bail_snapshot_interval_ms: u64,
    /// Timeout of one request, ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// KPI interval length, s.
    #[serde(default = "default_kpi_s")]
    pub kpi_interval_s: u64,
    /// Rolling cows/h window, s.
    #[serde(default = "default_rolling_s")]
    pub rolling_window_s: u64,
    /// No answer for this long is an offline gap, ms.
    #[serde(default = "default_offline_ms")]
    pub offline_after_ms: u64,
    /// Conductivity alert threshold, mS/cm.
    #[serde(default = "default_high_cond")]
    pub high_conductivity_ms_cm: f64,
}

fn default_bridge_id() -> String {
    "bridge".into()
}
fn default_batch() -> u32 {
    500
}
fn default_max_backoff() -> f64 {
    60.0
}
fn default_topic_prefix() -> String {
    "agriops".into()
}
fn default_keep_alive() -> u64 {
    30
}
fn default_inflight() -> u16 {
    32
}
fn default_unit() -> u8 {
    1
}
fn default_status_ms() -> u64 {
    1000
}
fn default_totals_ms() -> u64 {
    5000
}
fn default_bail_ms() -> u64 {
    1000
}
fn default_snapshot_ms() -> u64 {
    5000
}
fn default_timeout_ms() -> u64 {
    1000
}
fn default_kpi_s() -> u64 {
    60
}
fn default_rolling_s() -> u64 {
    900
}
fn default_offline_ms() -> u64 {
    5000
}
fn default_high_cond() -> f64 {
    6.5
}

impl BridgeConfig {
    /// Loads a config file; map and store paths become relative to its folder.
    ///
    /// # Errors
    /// [`BridgeError::Io`], [`BridgeError::Syntax`] (naming the line), or
    /// [`BridgeError::Invalid`] for duplicate device names or bad addresses.
    pub fn load(path: &Path) -> Result<BridgeConfig, BridgeError> {
        let src = std::fs::read_to_string(path).map_err(|source| BridgeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg: BridgeConfig = toml::from_str(&src).map_err(|e| toml_error(path, &src, &e))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for d in &mut cfg.devices {
            if d.map.is_relative() {
                d.map = dir.join(&d.map);
            }
        }
        if let Some(s) = &mut cfg.store
            && s.is_relative()
        {
            *s = dir.join(&*s);
        }
        if let Some(m) = &mut cfg.mqtt {
            for f in [&mut m.ca_file, &mut m.client_cert, &mut m.client_key]
                .into_iter()
                .flatten()
            {
                if f.is_relative() {
                    *f = dir.join(&*f);
                }
            }
        }
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Checks names are unique and addresses parse.
    ///
    /// # Errors
    /// [`BridgeError::Invalid`] or [`BridgeError::Address`].
    pub fn validate(&self, path: &Path) -> Result<(), BridgeError> {
        let mut names = std::collections::BTreeSet::new();
        for d in &self.devices {
            if !names.insert(d.name.as_str()) {
                return Err(BridgeError::Invalid {
                    path: path.to_path_buf(),
                    line: 0,
                    message: format!("device name {:?} is used twice", d.name),
                });
            }
            crate::poll::Transport::parse(&d.address)?;
            if d.kpi_interval_s == 0 || d.timeout_ms == 0 {
                return Err(BridgeError::Invalid {
                    path: path.to_path_buf(),
                    line: 0,
                    message: format!("{}: kpi_interval_s and timeout_ms must be > 0", d.name),
                });
            }
        }
        if self.devices.is_empty() {
            return Err(BridgeError::Invalid {
                path: path.to_path_buf(),
                line: 0,
                message: "no [[device]] configured".into(),
            });
        }
        if let Some(m) = &self.mqtt {
            m.validate(self).map_err(|message| BridgeError::Invalid {
                path: path.to_path_buf(),
                line: 0,
                message,
            })?;
        }
        Ok(())
    }

    /// The bearer token: `token`, else the variable named by `token_env`.
    pub fn token(&self) -> Option<String> {
        let s = self.server.as_ref()?;
        s.token
            .clone()
            .or_else(|| s.token_env.as_ref().and_then(|v| std::env::var(v).ok()))
    }
}

/// Why `s` cannot be one level of an MQTT topic name, if it cannot (MQTT 3.1.1 §4.7).
pub(crate) fn topic_level_problem(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        Some("空です / is empty")
    } else if s.contains('/') {
        Some("「/」を含みます / contains `/`")
    } else if s.contains(['+', '#']) {
        Some("ワイルドカード「+」「#」を含みます / contains the wildcard `+` or `#`")
    } else if s.contains('\0') {
        Some("NUL 文字を含みます / contains a NUL character")
    } else {
        None
    }
}

impl MqttConfig {
    /// A plain (no TLS, anonymous) broker at `host:port` with every other setting at its
    /// default, as the `[mqtt]` section would give with only `host` and `port`.
    pub fn plain(host: &str, port: u16) -> MqttConfig {
        MqttConfig {
            host: host.to_owned(),
            port: Some(port),
            client_id: None,
            username: None,
            password: None,
            password_env: None,
            topic_prefix: default_topic_prefix(),
            keep_alive_s: default_keep_alive(),
            inflight: default_inflight(),
            max_backoff_s: default_max_backoff(),
            tls: false,
            ca_file: None,
            client_cert: None,
            client_key: None,
        }
    }

    /// Whether the connection is TLS: `tls`, or a CA or client certificate given.
    pub fn uses_tls(&self) -> bool {
        self.tls || self.ca_file.is_some() || self.client_cert.is_some()
    }

    /// The port: `port`, else 8883 with TLS and 1883 without.
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.uses_tls() { 8883 } else { 1883 })
    }

    /// The client id: `client_id`, else `agriops-bridge-{bridge_id}`.
    pub fn client_id(&self, bridge_id: &str) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("agriops-bridge-{bridge_id}"))
    }

    /// The password: `password`, else the variable named by `password_env`.
    pub fn password(&self) -> Option<String> {
        self.password.clone().or_else(|| {
            self.password_env
                .as_ref()
                .and_then(|v| std::env::var(v).ok())
        })
    }

    /// Checks what the broker or the topics would refuse, with a Japanese and an English message.
    ///
    /// # Errors
    /// The message naming the key or device at fault.
    pub fn validate(&self, cfg: &BridgeConfig) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("[mqtt] host が空です / [mqtt] host is empty".into());
        }
        if self.port == Some(0) {
            return Err("[mqtt] port は 1〜65535 です / [mqtt] port must be 1..65535".into());
        }
        let id = self.client_id(&cfg.bridge_id);
        if id.is_empty() || id.starts_with(' ') || id.len() > 65_535 {
            return Err(format!(
                "[mqtt] client_id {id:?} は使えません（空、先頭が空白、長すぎ） / cannot be used (empty, starts with a space, or too long)"
            ));
        }
        if self.password.is_some() && self.password_env.is_some() {
            return Err("[mqtt] password と password_env はどちらか一方だけにしてください / give either password or password_env, not both".into());
        }
        if (self.password.is_some() || self.password_env.is_some()) && self.username.is_none() {
            return Err("[mqtt] パスワードには username も必要です / a password needs a username (MQTT 3.1.1)".into());
        }
        if self.keep_alive_s == 0 || self.keep_alive_s > 65_535 {
            return Err(
                "[mqtt] keep_alive_s は 1〜65535 秒です / keep_alive_s must be 1..65535 s".into(),
            );
        }
        if self.inflight == 0 || self.inflight > 1000 {
            return Err("[mqtt] inflight は 1〜1000 です / inflight must be 1..1000".into());
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err("[mqtt] client_cert と client_key は両方必要です / client_cert and client_key go together".into());
        }
        if !(self.max_backoff_s.is_finite() && self.max_backoff_s > 0.0) {
            return Err("[mqtt] max_backoff_s は正の秒数です / max_backoff_s must be a positive number of seconds".into());
        }
        if self.topic_prefix.starts_with('$') {
            return Err("[mqtt] topic_prefix は「$」で始められません（ブローカー用） / topic_prefix may not start with `$` (reserved for the broker)".into());
        }
        for level in self.topic_prefix.split('/') {
            if let Some(why) = topic_level_problem(level) {
                return Err(format!(
                    "[mqtt] topic_prefix {:?} の階層 {level:?} が{why} / a level of topic_prefix is unusable",
                    self.topic_prefix
                ));
            }
        }
        if let Some(why) = topic_level_problem(&cfg.bridge_id) {
            return Err(format!(
                "bridge_id {:?} はトピックに使えません: {why} / bridge_id cannot be a topic level (it names {}/bridges/{{bridge_id}})",
                cfg.bridge_id, self.topic_prefix
            ));
        }
        for d in &cfg.devices {
            for (what, value) in [("farm", &d.farm), ("name", &d.name)] {
                if let Some(why) = topic_level_problem(value) {
                    return Err(format!(
                        "device {:?}: {what} {value:?} はトピック {}/{{farm}}/{{parlor}}/… の階層に使えません: {why} / the {what} cannot be a topic level",
                        d.name, self.topic_prefix
                    ));
                }
            }
            if d.farm == crate::mqtt::BRIDGES_LEVEL {
                return Err(format!(
                    "device {:?}: farm {:?} は {}/{}/… と重なります / the farm name collides with the bridges' status topics",
                    d.name,
                    d.farm,
                    self.topic_prefix,
                    crate::mqtt::BRIDGES_LEVEL
                ));
            }
        }
        Ok(())
    }
}

impl DeviceConfig {
    /// A device with default intervals.
    pub fn new(name: &str, address: &str, unit: u8, map: &Path) -> DeviceConfig {
        DeviceConfig {
            name: name.to_string(),
            farm: String::new(),
            address: address.to_string(),
            unit,
            map: map.to_path_buf(),
            bails: None,
            status_interval_ms: default_status_ms(),
            totals_interval_ms: default_totals_ms(),
            bail_interval_ms: default_bail_ms(),
            bail_snapshot_interval_ms: default_snapshot_ms(),
            timeout_ms: default_timeout_ms(),
            kpi_interval_s: default_kpi_s(),
            rolling_window_s: default_rolling_s(),
            offline_after_ms: default_offline_ms(),
            high_conductivity_ms_cm: default_high_cond(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.toml");
        std::fs::write(&p, "[[device]]\nname = \"a\"\naddress = \"tcp:127.0.0.1:502\"\nmap = \"m.toml\"\ntimeout = 5\n").unwrap();
        match BridgeConfig::load(&p) {
            Err(BridgeError::Syntax { line, message, .. }) => {
                assert_eq!(line, 5, "{message}");
                assert!(message.contains("timeout"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&p, "store = \"x.db\"\n[[device]]\nname = \"a\"\naddress = \"tcp:127.0.0.1:502\"\nmap = \"m.toml\"\n").unwrap();
        let c = BridgeConfig::load(&p).unwrap();
        assert_eq!(c.devices[0].map, dir.path().join("m.toml"));
        assert_eq!(c.store.unwrap(), dir.path().join("x.db"));
    }

    fn load_str(toml: &str) -> Result<BridgeConfig, BridgeError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.toml");
        std::fs::write(&p, toml).unwrap();
        BridgeConfig::load(&p)
    }

    const DEVICE: &str = "[[device]]\nname = \"rotary-1\"\nfarm = \"田中牧場\"\naddress = \"tcp:127.0.0.1:502\"\nmap = \"m.toml\"\n";

    fn invalid(toml: &str) -> String {
        match load_str(toml) {
            Err(BridgeError::Invalid { message, .. }) => message,
            other => panic!("expected an invalid config, got {other:?}"),
        }
    }

    #[test]
    fn an_mqtt_section_parses_with_defaults() {
        let c = load_str(&format!("bridge_id = \"tanaka\"\n[mqtt]\nhost = \"127.0.0.1\"\nusername = \"u\"\npassword_env = \"AGRIOPS_TEST_UNSET_VAR\"\n{DEVICE}")).unwrap();
        let m = c.mqtt.unwrap();
        assert_eq!(
            (
                m.port(),
                m.topic_prefix.as_str(),
                m.keep_alive_s,
                m.inflight
            ),
            (1883, "agriops", 30, 32)
        );
        assert!(!m.uses_tls());
        let tls = load_str(&format!("[mqtt]\nhost = \"b\"\ntls = true\n{DEVICE}"))
            .unwrap()
            .mqtt
            .unwrap();
        assert_eq!((tls.uses_tls(), tls.port()), (true, 8883));
        assert_eq!(m.client_id("tanaka"), "agriops-bridge-tanaka");
        assert_eq!(m.password(), None);
        let s = crate::MqttSettings::new(&m, "tanaka").unwrap();
        assert_eq!(s.credentials, Some(("u".into(), String::new())));
        assert_eq!(s.broker(), "127.0.0.1:1883");
        // Without [mqtt] nothing is published.
        assert!(load_str(DEVICE).unwrap().mqtt.is_none());
    }

    #[test]
    fn bad_mqtt_settings_are_refused_in_both_languages() {
        let with = |mqtt: &str, device: &str| format!("[mqtt]\nhost = \"h\"\n{mqtt}\n{device}");
        let m = invalid(&with("topic_prefix = \"agri/+\"", DEVICE));
        assert!(
            m.contains("ワイルドカード") && m.contains("wildcard"),
            "{m}"
        );
        let m = invalid(&with("topic_prefix = \"$SYS\"", DEVICE));
        assert!(m.contains("reserved"), "{m}");
        let m = invalid(&with("topic_prefix = \"a//b\"", DEVICE));
        assert!(m.contains("空です"), "{m}");
        let m = invalid(&with("password = \"p\"", DEVICE));
        assert!(m.contains("needs a username"), "{m}");
        let m = invalid(&with("inflight = 0", DEVICE));
        assert!(m.contains("inflight"), "{m}");
        let m = invalid(&with("keep_alive_s = 0", DEVICE));
        assert!(m.contains("keep_alive_s"), "{m}");
        let m = invalid(&with("", &DEVICE.replace("farm = \"田中牧場\"\n", "")));
        assert!(
            m.contains("rotary-1") && m.contains("farm") && m.contains("is empty"),
            "{m}"
        );
        let m = invalid(&with("", &DEVICE.replace("rotary-1", "rotary/1")));
        assert!(m.contains("contains `/`"), "{m}");
        let m = invalid(&with("", &DEVICE.replace("田中牧場", "bridges")));
        assert!(m.contains("collides"), "{m}");
        let m = invalid(&format!("bridge_id = \"b#1\"\n{}", with("", DEVICE)));
        assert!(m.contains("bridge_id"), "{m}");
        let m = invalid(&with("client_cert = \"c.pem\"", DEVICE));
        assert!(m.contains("client_key"), "{m}");
        match load_str(&with("hots = \"x\"", DEVICE)) {
            Err(BridgeError::Syntax { line, message, .. }) => {
                assert_eq!(line, 3, "{message}");
                assert!(message.contains("hots"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match load_str(&with("port = 70000", DEVICE)) {
            Err(BridgeError::Syntax { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }
}
