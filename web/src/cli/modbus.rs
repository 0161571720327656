//! `agriops modbus probe ADDR --map FILE`: read and print every decoded value once (commissioning).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use parlor_bridge::{Connection, RegisterMap, Transport, Value};

/// Arguments of `agriops modbus`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: ModbusCommand,
}

/// `agriops modbus` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModbusCommand {
    /// Read every value of a register map once and print it decoded.
    Probe(ProbeArgs),
}

/// Arguments of `agriops modbus probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Device address: `tcp:HOST:PORT`, `rtu-tcp:HOST:PORT` or `serial:PATH:BAUD[:PARITY]`.
    pub address: String,
    /// Register map (TOML).
    #[arg(long)]
    pub map: PathBuf,
    /// Modbus unit id.
    #[arg(long, default_value_t = 1)]
    pub unit: u8,
    /// Number of bails when the map has no `bail_count` register.
    #[arg(long)]
    pub bails: Option<u16>,
    /// Request timeout, ms.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
}

/// Runs `agriops modbus`.
///
/// # Errors
/// A map that does not load, an unreachable device, or a device refusing a read.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ModbusCommand::Probe(p) = args.command;
    let map = RegisterMap::load(&p.map)?;
    let transport = Transport::parse(&p.address)?;
    let rt = tokio::runtime::Runtime::new().context("Failed to start the async runtime")?;
    let (sample, bails, plan) = rt.block_on(async {
        let mut conn = Connection::new(transport);
        let r = parlor_bridge::probe(
            &mut conn,
            &map,
            p.unit,
            p.bails,
            Duration::from_millis(p.timeout_ms),
        )
        .await;
        conn.disconnect().await;
        r
    })?;
    println!(
        "map {} ({}) at {} unit {}",
        map.name, map.vendor, p.address, p.unit
    );
    for w in &map.warnings {
        println!("note: {w}");
    }
    println!(
        "{} requests: {}",
        plan.len(),
        plan.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let (Some(id), Some(Value::Id(got))) = (map.map_id, sample.platform.get("map_id")) {
        println!(
            "map_id {got:#06x} {}",
            if *got == id {
                "matches"
            } else {
                "DOES NOT MATCH the map"
            }
        );
    }
    println!("\nplatform");
    for f in &map.registers {
        if let Some(v) = sample.platform.get(&f.quantity) {
            let unit =
                parlor_bridge::decode::canonical_unit(&f.quantity).unwrap_or(f.unit.as_str());
            println!("  {:<22} {:<22} {} {}", f.quantity, f.name, v, unit);
        }
    }
    println!("\nbails ({})", sample.bail_count);
    for (bail, vals) in &bails {
        let cells: Vec<String> = vals.iter().map(|(q, v)| format!("{q}={v}")).collect();
        println!("  {bail:>3}: {}", cells.join("  "));
    }
    if let Some(o) = sample.occupied_bits {
        println!("\noccupied bails (bits): {o}");
    }
    Ok(())
}
