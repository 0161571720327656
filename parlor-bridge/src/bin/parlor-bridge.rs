//! `parlor-bridge --config bridge.toml --local bridge.db`: the bridge alone, without the rest of
//! `agriops` (runs until Ctrl-C or SIGTERM). `agriops bridge` is the full command.

use std::path::PathBuf;

use parlor_bridge::{Bridge, BridgeConfig, Sink};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = None;
    let mut local = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" => config = args.next().map(PathBuf::from),
            "--local" => local = args.next().map(PathBuf::from),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: parlor-bridge --config FILE --local DB"
                )
                .into());
            }
        }
    }
    let config = config.ok_or("usage: parlor-bridge --config FILE --local DB")?;
    let cfg = BridgeConfig::load(&config)?;
    let db = local
        .or_else(|| cfg.store.clone())
        .ok_or("give --local DB or a `store` in the config")?;
    let bridge = Bridge::start(&cfg, Sink::Local(db)).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    bridge.stop().await;
    Ok(())
}
