//! The `--mqtt-ingest` file: brokers, credentials, TLS and the farm each source is bound to.

use super::*;

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

pub(super) fn default_prefix() -> String {
    "agriops".to_owned()
}

pub(super) fn default_keep_alive() -> u64 {
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
pub(super) fn from_env(var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|_| {
        format!("環境変数 {var} が設定されていません / the environment variable {var} is not set")
    })
}

impl SourceConfig {
    /// Host and port of `broker`.
    pub(super) fn host_port(&self) -> Result<(String, u16), String> {
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

    pub(super) fn options(&self) -> MqttOptions {
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
    pub(super) fn filter(&self) -> String {
        format!("{}/+/+/+", self.topic_prefix)
    }
}
