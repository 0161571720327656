//! Serves a map with the built-in simulator and probes it once (a quick look at a new map).
//!
//! `cargo run -p parlor-bridge --example probe_sim -- maps/map_b.toml`

use std::time::Duration;

use parlor_bridge::sim::{self, Framing, SimConfig};
use parlor_bridge::{Connection, RegisterMap, Transport};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "maps/map_a.toml".into());
    let map = RegisterMap::load(std::path::Path::new(&path))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = sim::serve(
        listener,
        map.clone(),
        SimConfig {
            bails: 24,
            ..SimConfig::default()
        },
        Framing::Tcp,
        None,
    )?;
    let mut conn = Connection::new(Transport::Tcp(running.addr));
    let (sample, bails, plan) =
        parlor_bridge::probe(&mut conn, &map, 1, None, Duration::from_secs(2)).await?;
    println!("{} requests: {plan:?}", plan.len());
    for (q, v) in &sample.platform {
        println!("{q:>22} = {v}");
    }
    for (b, v) in bails.iter().take(3) {
        println!("bail {b}: {v:?}");
    }
    println!("readings: {:?}", sample.bails.first());
    Ok(())
}
