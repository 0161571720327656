//! The `agriops` subcommands: one module per subcommand, each with an `Args` struct and a `run`.

use clap::{Parser, Subcommand};

pub mod admin;
pub mod alerts;
pub mod bridge;
pub mod demo;
pub mod fly;
pub mod modbus;
pub mod plan;
pub mod rollups;
pub mod serve;
pub mod tiles;
pub mod tlog;

/// The `agriops` command line.
#[derive(Debug, Parser)]
#[command(
    name = "agriops",
    version,
    about = "Farm support for Nasushiobara: spray missions, drone flights, rotary parlors"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard and APIs (SQLite in ./agriops-data by default).
    Serve(serve::Args),
    /// Serve a demo: fresh database, demo users, sample fields and simulated parlors.
    Demo(demo::Args),
    /// Manage users.
    User(admin::UserArgs),
    /// Manage farms.
    Farm(admin::FarmArgs),
    /// Manage parlor-bridge tokens.
    Token(admin::TokenArgs),
    /// Plan spray missions for the fields in GeoJSON/KML/KMZ files.
    Plan(plan::Args),
    /// Poll rotary parlors over Modbus and record milkings and KPIs; `bridge export` writes CSV.
    Bridge(bridge::Args),
    /// Modbus commissioning tools (`modbus probe ADDR --map FILE`).
    Modbus(modbus::Args),
    /// Upload, verify and fly a spray mission (`fly --connect ADDR PLAN.plan`).
    Fly(fly::Args),
    /// Recorded flights: `tlog summary FILE`, `tlog coverage FILE --plan PLAN`.
    Tlog(tlog::Args),
    /// Report roll-ups: `rollups rebuild` recomputes them from the raw records.
    Rollups(rollups::Args),
    /// A farm's alert rules and channels as TOML: `alerts export|import --farm ID`.
    Alerts(alerts::Args),
    /// The map-tile cache for fields without network: `tiles import FILE.mbtiles|FOLDER`.
    Tiles(tiles::Args),
}

/// Parses the command line and runs the chosen subcommand.
///
/// # Errors
/// Whatever the subcommand reports; the binary prints it and exits non-zero.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::User(args) => admin::run_user(args),
        Command::Farm(args) => admin::run_farm(args),
        Command::Token(args) => admin::run_token(args),
        Command::Plan(args) => plan::run(args),
        Command::Tiles(args) => tiles::run(args),
        Command::Bridge(args) => bridge::run(args),
        Command::Modbus(args) => modbus::run(args),
        Command::Fly(args) => fly::run(args),
        Command::Tlog(args) => tlog::run(args),
        Command::Rollups(args) => rollups::run(args),
        Command::Alerts(args) => alerts::run(args),
    }
}
