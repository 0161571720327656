//! `agriops serve`: the dashboard and APIs over SQLite (default, no setup) or PostgreSQL.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::http::{
    router::app,
    state::{AppState, Settings},
};
use crate::storage::{Db, NewUser, Role};

/// Where the database is: shared by every subcommand that opens it.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Directory of the embedded SQLite database (`agriops.db`, WAL); created when missing.
    #[arg(long, env = "AGRIOPS_DATA_DIR", default_value = "./agriops-data")]
    pub data_dir: PathBuf,
    /// A database URL instead (`postgres://user@host/db`, or `sqlite://PATH`).
    #[arg(long, env = "AGRIOPS_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    /// Opens the database and runs its migrations.
    ///
    /// # Errors
    /// The database cannot be opened or migrated.
    pub async fn open(&self) -> anyhow::Result<Db> {
        match &self.database_url {
            Some(url) => Db::connect(url)
                .await
                .with_context(|| format!("opening the database {}", redact(url))),
            None => Db::open_data_dir(&self.data_dir)
                .await
                .with_context(|| format!("opening {}", self.data_dir.display())),
        }
    }
}

/// A database URL with any password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Options of `agriops serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "AGRIOPS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Mark cookies Secure (set this when the server is reached over HTTPS).
    #[arg(long, env = "AGRIOPS_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Seconds a client may take to send a request's head before the connection is closed.
    #[arg(long, env = "AGRIOPS_HEADER_READ_TIMEOUT_S", default_value_t = 10)]
    pub header_read_timeout_s: u64,
    /// Bearer token Prometheus must send for `/metrics`; without one, only this machine
    /// (loopback) may read it.
    #[arg(long, env = "AGRIOPS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Map tile URL template (`{z}/{x}/{y}`); empty for a plain background (offline).
    #[arg(
        long,
        env = "AGRIOPS_TILE_URL",
        default_value = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
    )]
    pub tile_url: String,
    /// Go/no-go checklist of the launch page (TOML: max_wind_mps, max_height_above_crop_m,
    /// approval_zone_m, max_field_gap_m, expiry_warn_days, weather_station_url,
    /// weather_wind_pointer, weather_max_age_s, did_geojson, airport_geojson,
    /// houses_roads_geojson); the documented defaults when absent.
    #[arg(long, env = "AGRIOPS_GONOGO_CONFIG")]
    pub gonogo_config: Option<PathBuf>,
    /// Behind a reverse proxy: take the client's address from the last `X-Forwarded-For`
    /// entry (the sign-in limiter counts per address). Set it only when a proxy always sets it.
    #[arg(long, env = "AGRIOPS_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Also ingest parlor records from farms' MQTT brokers (TOML: one `[[source]]` per broker
    /// with broker, farm, token, topic_prefix, client_id; see the `mqtt_ingest` module docs).
    #[arg(long, env = "AGRIOPS_MQTT_INGEST")]
    pub mqtt_ingest: Option<PathBuf>,
    /// Field imports and plans run at once, at most (each on a blocking thread).
    #[arg(long, env = "AGRIOPS_PLAN_CONCURRENCY", default_value_t = 2)]
    pub plan_concurrency: usize,
    /// Seconds a field import or plan may take, waiting for a slot included; past it the
    /// person gets a clear 503.
    #[arg(long, env = "AGRIOPS_PLAN_DEADLINE_S", default_value_t = 30)]
    pub plan_deadline_s: u64,
    /// The alert service's options.
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// Options of the alert service that `agriops serve` runs.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertArgs {
    /// Seconds between alert evaluations; 0 turns the alert service off.
    #[arg(long, env = "AGRIOPS_ALERT_INTERVAL_S", default_value_t = 60)]
    pub alert_interval_s: u64,
    /// The server's address as people reach it, for the links in alert messages.
    #[arg(
        long,
        env = "AGRIOPS_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
    /// SMTP relay for alert e-mail, `HOST:PORT` (plain SMTP; the relay does TLS onwards).
    #[arg(long, env = "AGRIOPS_SMTP")]
    pub smtp: Option<String>,
    /// The `From:` address of alert e-mail.
    #[arg(
        long,
        env = "AGRIOPS_ALERT_MAIL_FROM",
        default_value = "agriops@localhost"
    )]
    pub alert_mail_from: String,
    /// Attempts per alert message and channel before it is marked failed (the first included).
    #[arg(long, env = "AGRIOPS_ALERT_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub alert_attempts: u32,
    /// Seconds to wait after an alert message's first failed attempt (doubled after each further one, at most 60 s).
    #[arg(long, env = "AGRIOPS_ALERT_BACKOFF_S", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub alert_backoff_s: u64,
}

impl AlertArgs {
    /// The service's configuration, or `None` when it is turned off.
    ///
    /// # Errors
    /// `--smtp` is not `HOST:PORT`.
    pub fn config(&self) -> anyhow::Result<Option<crate::services::alerts::service::AlertConfig>> {
        if self.alert_interval_s == 0 {
            return Ok(None);
        }
        let smtp = match &self.smtp {
            Some(hp) => {
                let (host, port) = hp
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                    .with_context(|| {
                        format!("--smtp {hp:?}: HOST:PORT の形で指定してください (give HOST:PORT)")
                    })?;
                Some(crate::services::alerts::deliver::SmtpConfig {
                    host: host.to_owned(),
                    port,
                    from: self.alert_mail_from.clone(),
                })
            }
            None => None,
        };
        Ok(Some(crate::services::alerts::service::AlertConfig {
            every: std::time::Duration::from_secs(self.alert_interval_s),
            public_url: self.public_url.clone(),
            smtp,
            retry: crate::services::alerts::deliver::RetryPolicy {
                attempts: self.alert_attempts,
                first_backoff: std::time::Duration::from_secs(self.alert_backoff_s),
                max_backoff: std::time::Duration::from_secs(60),
            },
        }))
    }
}

/// Runs the server until Ctrl-C.
///
/// # Errors
/// The database cannot be opened or the address cannot be bound.
pub fn run(args: Args) -> anyhow::Result<()> {
    init_tracing();
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let gonogo = match &args.gonogo_config {
        Some(path) => crate::services::gonogo::GoNoGoConfig::load(path)?,
        None => crate::services::gonogo::GoNoGoConfig::default(),
    };
    let mqtt_ingest = match &args.mqtt_ingest {
        Some(path) => Some(crate::services::ingest::mqtt::MqttIngestConfig::load(path)?),
        None => None,
    };
    let alerts = args.alerts.config()?;
    rt.block_on(async move {
        let db = args.db.open().await?;
        bootstrap_admin(&db).await?;
        let orphans = db.fail_orphaned_flights().await?;
        if orphans > 0 {
            tracing::warn!(
                message = "Flights left in the air by a stopped server marked failed.",
                orphans
            );
        }
        if let Some(cfg) = alerts {
            crate::services::alerts::service::spawn(db.clone(), cfg);
        }
        let state = AppState::new(
            db.clone(),
            Settings {
                secure_cookies: args.secure_cookies,
                metrics_token: args.metrics_token.filter(|t| !t.is_empty()),
                tile_url: args.tile_url,
                data_dir: args.db.data_dir.clone(),
                gonogo,
                trust_proxy: args.trust_proxy,
                planner: crate::services::planner::PlannerPool::new(
                    args.plan_concurrency,
                    std::time::Duration::from_secs(args.plan_deadline_s),
                ),
            },
        );
        let subscribers = match &mqtt_ingest {
            Some(cfg) => crate::services::ingest::mqtt::start_all(&state.ingest(), cfg).await?,
            None => Vec::new(),
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(message = "Serving.", %addr, backend = ?db.backend());
        println!("agriops: serving on http://{addr}/  (Ctrl-C stops)");
        let limits = crate::http::server::ServerLimits {
            header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_s.max(1)),
            ..Default::default()
        };
        crate::http::server::serve(listener, app(state), limits, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving HTTP")?;
        for s in subscribers {
            s.stop().await;
        }
        db.close().await;
        Ok(())
    })
}

/// Starts `tracing` output on stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// On a database with no users, creates `admin` with a random password and prints it once.
async fn bootstrap_admin(db: &Db) -> anyhow::Result<()> {
    if !db.users().await?.is_empty() {
        return Ok(());
    }
    let password = crate::services::credentials::new_token()[..16].to_owned();
    let hash = crate::services::credentials::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    db.create_user(&NewUser {
        username: "admin",
        display_name: "管理者",
        password_hash: &hash,
        role: Role::Admin,
        farm_id: None,
        lang: "ja",
    })
    .await?;
    println!("agriops: created the first user `admin` with password `{password}` (change it)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{AlertArgs, redact};

    fn alert_args(smtp: Option<&str>, every: u64) -> AlertArgs {
        AlertArgs {
            alert_interval_s: every,
            public_url: "http://agri.test".into(),
            smtp: smtp.map(str::to_owned),
            alert_mail_from: "a@agri.test".into(),
            alert_attempts: 3,
            alert_backoff_s: 1,
        }
    }

    #[test]
    fn alert_flags_parse_and_refuse_a_bad_relay() {
        let cfg = alert_args(Some("127.0.0.1:2525"), 30)
            .config()
            .unwrap()
            .unwrap();
        let smtp = cfg.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("127.0.0.1", 2525));
        assert_eq!(cfg.every, std::time::Duration::from_secs(30));
        assert_eq!(cfg.retry.attempts, 3);
        assert_eq!(cfg.retry.first_backoff, std::time::Duration::from_secs(1));
        assert!(alert_args(None, 0).config().unwrap().is_none());
        let err = alert_args(Some("relay-without-port"), 30)
            .config()
            .unwrap_err();
        assert!(err.to_string().contains("HOST:PORT"), "{err}");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
