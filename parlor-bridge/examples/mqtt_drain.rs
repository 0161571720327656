//! How fast the MQTT sink drains a backlog: fills a store with N milkings (what a long broker
//! outage leaves queued), publishes them to a real broker and times it until the last PUBACK
//! has been taken out of the outbox.
//!
//! `cargo run --release -p parlor-bridge --example mqtt_drain -- [N] [HOST:PORT] [INFLIGHT]`
//! (defaults: 20000, 127.0.0.1:1883, 32). Topics are under `agriops-bench/`.

use std::time::{Duration, Instant};

use parlor_bridge::milking::{Output, TrackerState};
use parlor_bridge::wire::MilkingEvent;
use parlor_bridge::{Commit, MqttConfig, MqttSettings, Outboxes, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let broker = args.next().unwrap_or_else(|| "127.0.0.1:1883".into());
    let inflight: u16 = args.next().map_or(Ok(32), |a| a.parse())?;
    let (host, port) = broker.rsplit_once(':').ok_or("broker as HOST:PORT")?;
    let dir = tempfile::tempdir()?;
    let store = Store::open_with(
        &dir.path().join("bench.db"),
        Outboxes {
            http: false,
            mqtt: true,
        },
    )
    .await?;
    let t0 = chrono::Utc::now();
    let mut commits = Vec::new();
    for i in 0..n {
        let bail = (i % 60) as u16 + 1;
        commits.push(MilkingEvent {
            key: format!("bench/{bail}/0/{i}/{i:016x}"),
            parlor: "bench".into(),
            farm: "bench-farm".into(),
            unit: 1,
            bail,
            epoch: 0,
            seq: i,
            t: t0 + chrono::Duration::milliseconds(i as i64),
            controller_t: None,
            cow_id: 1000 + i,
            yield_kg: 12.5,
            duration_s: Some(420.0),
            conductivity_ms_cm: Some(5.1),
            high_conductivity: false,
            missed_before: 0,
        });
    }
    for chunk in commits.chunks(500) {
        store
            .commit(&[Commit {
                parlor: "bench".into(),
                output: Output {
                    events: chunk.to_vec(),
                    ..Output::default()
                },
                state: TrackerState::default(),
            }])
            .await?;
    }
    let cfg: MqttConfig = toml::from_str(&format!(
        "host = {host:?}\nport = {port}\ntopic_prefix = \"agriops-bench\"\ninflight = {inflight}\n"
    ))?;
    let settings = MqttSettings::new(&cfg, "bench")?;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let task = tokio::spawn(parlor_bridge::mqtt::run(store.clone(), settings, rx));
    loop {
        let left = store.mqtt_queued().await?;
        if left == 0 {
            break;
        }
        if start.elapsed() > Duration::from_secs(300) {
            return Err(format!("{left} messages still queued after 300 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = task.await;
    println!(
        "{n} milkings to {broker} (QoS 1, inflight {inflight}): {secs:.2} s, {:.0} messages/s, every one acknowledged and out of the outbox",
        n as f64 / secs
    );
    Ok(())
}
