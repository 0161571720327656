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
    /// The parlors to poll.
    #[serde(rename = "device", default)]
    pub devices: Vec<DeviceConfig>,
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
}
