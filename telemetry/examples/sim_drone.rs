//! Runs the simulated spray drone on a socket until Ctrl-C.
//!
//! ```text
//! cargo run -p telemetry --example sim_drone -- udpin:127.0.0.1:14550 \
//!     [--home LAT,LON,ALT] [--time-scale 1] [--speed 5] [--prearm-fail TEXT]
//! ```
//! Then e.g. `agriops fly --connect udpout:127.0.0.1:14550 PLAN.plan`.

use std::process::ExitCode;
use std::time::Duration;

use telemetry::{LinkAddress, SimConfig, SimDrone};

const USAGE: &str = "usage: sim_drone (udpin|tcpin):HOST:PORT [--home LAT,LON,ALT] \
[--time-scale X] [--speed M_S] [--prearm-fail TEXT]";

fn parse_args(args: &[String]) -> Result<(LinkAddress, SimConfig), String> {
    let mut address = None;
    let mut cfg = SimConfig::new((36.87, 139.99, 300.0));
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--home" => {
                let v = value("--home")?;
                let parts: Vec<f64> = v
                    .split(',')
                    .map(|p| p.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--home {v:?}: {e}"))?;
                let [lat, lon, alt] = parts[..] else {
                    return Err(format!("--home {v:?}: expected LAT,LON,ALT"));
                };
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err(format!("--home {v:?}: latitude or longitude out of range"));
                }
                cfg.home = (lat, lon, alt);
            }
            "--time-scale" => {
                let v = value("--time-scale")?;
                cfg.time_scale = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| format!("--time-scale {v:?}: expected a positive number"))?;
            }
            "--speed" => {
                let v = value("--speed")?;
                cfg.cruise_speed_m_s = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| format!("--speed {v:?}: expected a positive number"))?;
            }
            "--prearm-fail" => cfg.prearm_failure = Some(value("--prearm-fail")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other if address.is_none() && !other.starts_with("--") => {
                address = Some(LinkAddress::parse(other).map_err(|e| e.to_string())?);
            }
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    let address = address.ok_or_else(|| USAGE.to_string())?;
    Ok((address, cfg))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (address, cfg) = match parse_args(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let sim = match SimDrone::listen(&address, cfg.clone()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sim_drone: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = sim
        .local_addr()
        .map_or_else(|| address.to_string(), |a| a.to_string());
    println!(
        "simulated spray drone (sysid {}, ArduPilot Copter modes) on {bound}, home {:?}, time x{}",
        cfg.system_id, cfg.home, cfg.time_scale
    );
    let mut status = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = status.tick() => {
                let s = sim.snapshot();
                println!(
                    "t={:.0}s {} {} alt {:.1} m item {} pump {} battery {:.0} %",
                    s.sim_time_s,
                    s.mode,
                    if s.armed { "ARMED" } else { "disarmed" },
                    s.rel_alt_m,
                    s.current_seq,
                    if s.pump_on { "ON" } else { "off" },
                    s.battery_pct
                );
            }
        }
    }
    sim.stop().await;
    ExitCode::SUCCESS
}
