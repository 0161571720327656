//! `agriops alerts export|import --farm ID`: a farm's alert rules and channels as TOML (the
//! format is documented in `services::alerts::settings` and the README).

use std::path::PathBuf;

use anyhow::Context;

use super::serve::DbArgs;
use crate::i18n::Lang;
use crate::services::alerts::settings;

/// `agriops alerts …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Alert settings actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the farm's enabled rules and channels as TOML (webhook secrets left out).
    Export {
        /// Farm id.
        #[arg(long)]
        farm: i64,
    },
    /// Replace the farm's rules and channels by those of a TOML file, in one transaction
    /// (the old ones are disabled, kept for the alerts that name them).
    Import {
        /// Farm id.
        #[arg(long)]
        farm: i64,
        /// The TOML file.
        file: PathBuf,
    },
}

/// Runs `agriops alerts …`.
///
/// # Errors
/// The database cannot be opened, the farm is unknown, or the file is unreadable or invalid
/// (nothing changes then).
pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let db = args.db.open().await?;
        match args.action {
            Action::Export { farm } => {
                db.farm(farm)
                    .await
                    .with_context(|| format!("farm {farm}"))?;
                print!("{}", settings::export(&db, farm).await?);
            }
            Action::Import { farm, file } => {
                db.farm(farm)
                    .await
                    .with_context(|| format!("farm {farm}"))?;
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let (rules, channels) = settings::import(&db, Lang::En, farm, &text)
                    .await
                    .with_context(|| format!("importing {}", file.display()))?;
                println!("farm {farm}: {rules} rules and {channels} channels imported");
            }
        }
        db.close().await;
        Ok(())
    })
}
