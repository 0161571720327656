//! `agriops rollups rebuild`: recomputes every roll-up from the raw records (repair, or after
//! upgrading a database that holds data from before the monthly report roll-ups existed).

use anyhow::Context;

use super::serve::DbArgs;

/// `agriops rollups …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Roll-up actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Recompute the hourly, daily and monthly parlor roll-ups and the monthly spray roll-ups
    /// from the raw records, in one transaction.
    Rebuild,
}

/// Runs `agriops rollups …`.
///
/// # Errors
/// The database cannot be opened or the rebuild failed (the old roll-ups stay then).
pub fn run(args: Args) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(async move {
            let db = args.db.open().await?;
            match args.action {
                Action::Rebuild => {
                    // Minutes on a city's year of data: show the stage and the time so far.
                    let bar = indicatif::ProgressBar::new_spinner().with_style(
                        indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                            .context("progress style")?,
                    );
                    bar.enable_steady_tick(std::time::Duration::from_millis(200));
                    let s = db
                        .rebuild_rollups_reporting(|stage| bar.set_message(stage))
                        .await
                        .context("rebuilding roll-ups")?;
                    bar.finish_and_clear();
                    println!(
                        "rebuilt: {} hour/day parlor rows, {} month parlor rows, {} spray rows ({} flights given facts)",
                        s.parlor_rows, s.month_rows, s.spray_rows, s.facts_added
                    );
                }
            }
            db.close().await;
            Ok(())
        })
}
