//! `agriops bridge`: poll rotary parlors over Modbus and store/forward milkings and KPIs;
//! `agriops bridge export`: CSV of what was recorded.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Subcommand, ValueEnum};
use parlor_bridge::{Bridge, BridgeConfig, ForwardSettings, Sink, Store};

/// Arguments of `agriops bridge`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Bridge configuration (devices, maps, intervals, server or store).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write straight to this SQLite database instead of forwarding to a server.
    #[arg(long)]
    pub local: Option<PathBuf>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Export instead of polling.
    #[command(subcommand)]
    pub command: Option<BridgeCommand>,
}

/// `agriops bridge` subcommands.
#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// Write recorded milkings or KPI intervals as CSV to stdout.
    Export(ExportArgs),
}

/// Export granularity.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Per {
    /// One row per milking: `t,parlor,bail,cow_id,yield_kg,...`.
    Milking,
    /// One row per KPI interval: `interval_start,interval_end,parlor,cows,kg,cows_per_hour,...`.
    Interval,
}

/// Export format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
}

/// Arguments of `agriops bridge export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Records at or after this time: RFC 3339, UNIX seconds, or an age such as `2h`.
    #[arg(long, default_value = "0")]
    pub since: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Rows per milking or per KPI interval.
    #[arg(long, value_enum, default_value = "milking")]
    pub per: Per,
    /// The bridge database (default: the `store` of `--config`).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Bridge configuration whose `store` to read.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs `agriops bridge`.
///
/// # Errors
/// A config or map that does not load, a store that does not open, or an export failure.
pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("Failed to start the async runtime")?;
    match args.command {
        Some(BridgeCommand::Export(e)) => rt.block_on(export(e)),
        None => rt.block_on(poll(args)),
    }
}

async fn poll(args: Args) -> anyhow::Result<()> {
    let Some(path) = args.config else {
        bail!("agriops bridge needs --config bridge.toml")
    };
    let cfg = BridgeConfig::load(&path)?;
    let sink = match (&args.local, &cfg.server) {
        (Some(db), _) => Sink::Local(db.clone()),
        (None, Some(server)) => Sink::Forward {
            store: cfg
                .store
                .clone()
                .unwrap_or_else(|| PathBuf::from("bridge-outbox.db")),
            settings: ForwardSettings {
                url: server.url.clone(),
                token: cfg.token(),
                bridge_id: cfg.bridge_id.clone(),
                batch_size: server.batch_size.max(1),
                min_backoff: Duration::from_millis(500),
                max_backoff: Duration::from_secs_f64(server.max_backoff_s.max(1.0)),
                timeout: Duration::from_secs(30),
            },
        },
        (None, None) => match &cfg.store {
            Some(db) => Sink::Local(db.clone()),
            None => bail!(
                "{}: give --local DB, a `store`, or a [server]",
                path.display()
            ),
        },
    };
    let bridge = Bridge::start(&cfg, sink).await?;
    eprintln!(
        "bridge: polling {} parlor(s); Ctrl-C stops",
        cfg.devices.len()
    );
    let progress = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let stop = async {
        match args.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    let since = chrono::Utc::now();
    loop {
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Some(bar) = &progress {
                    let n = bridge.store().milkings_since(since).await.map(|v| v.len()).unwrap_or(0);
                    bar.set_message(format!("{n} milkings recorded"));
                }
            }
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    bridge.stop().await;
    Ok(())
}

async fn export(e: ExportArgs) -> anyhow::Result<()> {
    let db = match (e.db, e.config) {
        (Some(db), _) => db,
        (None, Some(c)) => BridgeConfig::load(&c)?
            .store
            .context("the config has no `store`; pass --db")?,
        (None, None) => bail!("agriops bridge export needs --db DB or --config bridge.toml"),
    };
    if !db.exists() {
        bail!("{}: no such bridge database", db.display());
    }
    let since = parlor_bridge::parse_since(&e.since, chrono::Utc::now())?;
    let store = Store::open(&db, false).await?;
    let mut out = std::io::stdout().lock();
    let written = match (e.per, e.format) {
        (Per::Milking, Format::Csv) => {
            parlor_bridge::write_milkings_csv(&mut out, &store.milkings_since(since).await?)
        }
        (Per::Interval, Format::Csv) => {
            parlor_bridge::write_intervals_csv(&mut out, &store.intervals_since(since).await?)
        }
    };
    match written {
        // `| head` closing the pipe early is not an error.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("Failed to write the export"),
    }
}
