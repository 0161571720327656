//! The runner: one polling task per parlor → the milking transform → one store writer (→ forwarder).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::{BridgeConfig, DeviceConfig};
use crate::error::BridgeError;
use crate::events;
use crate::forward::{self, ForwardSettings};
use crate::milking::{ParlorTracker, Sample, TrackerConfig};
use crate::mqtt::{self, MqttSettings};
use crate::outbox::{Commit, Outboxes, Store};
use crate::poll::{self, Connection, Group, SharedConnection, Transport};
use crate::register_map::RegisterMap;

/// A running bridge: handles to stop it and wait for it.
#[derive(Debug)]
pub struct Bridge {
    shutdown: watch::Sender<bool>,
    forward_shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    writer: tokio::task::JoinHandle<()>,
    forwarder: Option<tokio::task::JoinHandle<()>>,
    mqtt_shutdown: watch::Sender<bool>,
    publisher: Option<tokio::task::JoinHandle<()>>,
    store: Store,
}

/// Where the bridge writes. Whichever it is, a config with `[mqtt]` also publishes to that broker.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Only the local database (`--local DB`).
    Local(PathBuf),
    /// The local outbox database, forwarded to a server.
    Forward {
        /// The outbox database.
        store: PathBuf,
        /// The server settings.
        settings: ForwardSettings,
    },
}

struct DeviceRuntime {
    cfg: DeviceConfig,
    map: Arc<RegisterMap>,
    conn: SharedConnection,
}

impl Bridge {
    /// Loads the maps, opens the store and starts polling every device.
    ///
    /// # Errors
    /// A map that does not load or lacks the milking fields, a bad address, or a store that does not open.
    pub async fn start(config: &BridgeConfig, sink: Sink) -> Result<Bridge, BridgeError> {
        let (store_path, fwd) = match &sink {
            Sink::Local(p) => (p.clone(), None),
            Sink::Forward { store, settings } => (store.clone(), Some(settings.clone())),
        };
        // Certificates are read before anything starts, so a bad path fails the start.
        let mqtt_settings = config
            .mqtt
            .as_ref()
            .map(|m| MqttSettings::new(m, &config.bridge_id))
            .transpose()?;
        let store = Store::open_with(
            &store_path,
            Outboxes {
                http: fwd.is_some(),
                mqtt: config.mqtt.is_some(),
            },
        )
        .await?;
        let mut maps: HashMap<PathBuf, Arc<RegisterMap>> = HashMap::new();
        let mut buses: HashMap<Transport, SharedConnection> = HashMap::new();
        let mut devices = Vec::new();
        for d in &config.devices {
            let map = match maps.get(&d.map) {
                Some(m) => m.clone(),
                None => {
                    let m = Arc::new(RegisterMap::load(&d.map)?);
                    m.require_milking_fields()?;
                    for w in &m.warnings {
                        events::map_remark(w);
                    }
                    maps.insert(d.map.clone(), m.clone());
                    m
                }
            };
            if map.field("bail_count").is_none() && d.bails.is_none() {
                return Err(BridgeError::Invalid {
                    path: d.map.clone(),
                    line: 0,
                    message: format!(
                        "device {}: the map has no `bail_count` register, so the device needs `bails = N`",
                        d.name
                    ),
                });
            }
            let transport = Transport::parse(&d.address)?;
            // Units on one serial bus share the port; TCP devices get a connection each, so a
            // slow unit behind a gateway never holds up its neighbours.
            let conn = match &transport {
                Transport::Serial { .. } => buses
                    .entry(transport.clone())
                    .or_insert_with(|| {
                        Arc::new(tokio::sync::Mutex::new(Connection::new(transport.clone())))
                    })
                    .clone(),
                _ => Arc::new(tokio::sync::Mutex::new(Connection::new(transport))),
            };
            devices.push(DeviceRuntime {
                cfg: d.clone(),
                map,
                conn,
            });
        }
        let (shutdown, rx) = watch::channel(false);
        let (tx, commits) = mpsc::channel::<Commit>(1024);
        let writer = tokio::spawn(store_writer(store.clone(), commits));
        let mut tasks = Vec::new();
        for dev in devices {
            let state = store.load_state(&dev.cfg.name).await?.unwrap_or_default();
            tasks.push(tokio::spawn(device_task(
                dev,
                state,
                tx.clone(),
                rx.clone(),
            )));
        }
        drop(tx);
        let (forward_shutdown, frx) = watch::channel(false);
        let forwarder =
            fwd.map(|settings| tokio::spawn(forward::run(store.clone(), settings, frx)));
        let (mqtt_shutdown, mrx) = watch::channel(false);
        let publisher =
            mqtt_settings.map(|settings| tokio::spawn(mqtt::run(store.clone(), settings, mrx)));
        Ok(Bridge {
            shutdown,
            forward_shutdown,
            tasks,
            writer,
            forwarder,
            mqtt_shutdown,
            publisher,
            store,
        })
    }

    /// The store the bridge writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops polling, writes what is pending, forwards and publishes it (one last attempt) and waits for every task.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let _ = self.writer.await;
        let _ = self.forward_shutdown.send(true);
        let _ = self.mqtt_shutdown.send(true);
        if let Some(f) = self.forwarder {
            let _ = f.await;
        }
        if let Some(p) = self.publisher {
            let _ = p.await;
        }
    }

    /// Aborts every task at once without a final write (what a crash looks like to the store).
    pub fn abort(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.writer.abort();
        if let Some(f) = &self.forwarder {
            f.abort();
        }
        if let Some(p) = &self.publisher {
            p.abort();
        }
    }
}

/// Commits what the device tasks send, batching whatever is queued into one transaction.
async fn store_writer(store: Store, mut rx: mpsc::Receiver<Commit>) {
    let mut pending: Vec<Commit> = Vec::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(c) => pending.push(c),
                None => return,
            }
        }
        while pending.len() < 512 {
            match rx.try_recv() {
                Ok(c) => pending.push(c),
                Err(_) => break,
            }
        }
        match store.commit(&pending).await {
            Ok(()) => {
                pending.clear();
                backoff = Duration::from_millis(100);
            }
            Err(error) => {
                // Keep the commits and retry: the trackers have moved on, so dropping them would lose records.
                events::store_write_failed(&error, pending.len());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Pause after the `failures`-th failed read in a row: the poll rate's 50 ms for the first three
/// (a drop or a reboot is usually over by then), then doubling from 100 ms to at most 2 s.
fn backoff(failures: u32) -> Duration {
    let ms = if failures <= 3 {
        50
    } else {
        (100u64 << (failures - 4).min(5)).min(2000)
    };
    Duration::from_millis(ms)
}

fn interval(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[allow(clippy::too_many_lines)]
async fn device_task(
    dev: DeviceRuntime,
    state: crate::milking::TrackerState,
    tx: mpsc::Sender<Commit>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cfg = &dev.cfg;
    let map = &dev.map;
    let name = cfg.name.as_str();
    let mut tracker = ParlorTracker::new(
        TrackerConfig {
            parlor: cfg.name.clone(),
            farm: cfg.farm.clone(),
            unit: cfg.unit,
            interval_ms: (cfg.kpi_interval_s * 1000) as i64,
            rolling_ms: (cfg.rolling_window_s.max(1) * 1000) as i64,
            offline_after_ms: cfg.offline_after_ms as i64,
            high_conductivity_ms_cm: cfg.high_conductivity_ms_cm,
        },
        state,
    );
    let timeout = interval(cfg.timeout_ms);
    let periods = [
        (Group::Status, interval(cfg.status_interval_ms)),
        (Group::Totals, interval(cfg.totals_interval_ms)),
        (Group::Bails, interval(cfg.bail_interval_ms)),
    ];
    let mut next = [Instant::now(); 3];
    let mut n_bails: Option<u16> = None;
    let mut bail_plan = Vec::new();
    let mut bits_plan = Vec::new();
    let mut plans: HashMap<Vec<Group>, Vec<poll::ReadBlock>> = HashMap::new();
    let mut last_commit = Instant::now();
    let mut failures = 0u32;
    let mut online = true;
    let snapshot_every = interval(cfg.bail_snapshot_interval_ms);
    let mut last_snapshot: Option<Instant> = None;
    let mut entrance_bail: Option<u16> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = Instant::now();
        let mut due: Vec<Group> = periods
            .iter()
            .enumerate()
            .filter(|(i, _)| next[*i] <= now)
            .map(|(_, (g, _))| *g)
            .collect();
        if n_bails.is_none() && due.contains(&Group::Bails) && !due.contains(&Group::Status) {
            due.insert(0, Group::Status);
        }
        if due.is_empty() {
            let wake = next.iter().min().copied().unwrap_or(now);
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let platform_groups: Vec<Group> =
            due.iter().copied().filter(|g| *g != Group::Bails).collect();
        let plan = plans
            .entry(platform_groups.clone())
            .or_insert_with(|| poll::plan_platform(map, &platform_groups))
            .clone();
        let mut conn = dev.conn.lock().await;
        let mut res = poll::read_blocks(&mut conn, name, cfg.unit, &plan, timeout).await;
        let platform = poll::decode_platform(map, &res.image);
        if let Some(n) = poll::bail_count(&platform, cfg.bails)
            && n_bails != Some(n)
        {
            match map.check_bails(n) {
                Ok(()) => {
                    n_bails = Some(n);
                    // Bail blocks (completed milkings) on the bail schedule; the per-bail bits
                    // (occupancy, cups on) are status and go with the status schedule.
                    let (bits, blocks): (Vec<_>, Vec<_>) = poll::plan_bails(map, n)
                        .into_iter()
                        .partition(|b| b.table.is_bits());
                    bail_plan = blocks;
                    bits_plan = bits;
                }
                Err(message) => {
                    events::bail_count_rejected(name, n, &message);
                }
            }
        }
        let fatal = res.errors.iter().any(|e| !e.is_exception());
        let mut bails_read = false;
        if due.contains(&Group::Bails) && n_bails.is_some() && !fatal {
            let started = chrono::Utc::now().timestamp_millis();
            let r = poll::read_blocks(&mut conn, name, cfg.unit, &bail_plan, timeout).await;
            if !r.image.is_empty() {
                let finished = chrono::Utc::now().timestamp_millis();
                events::bails_read(name, started, finished, r.errors.is_empty());
            }
            res.image.extend(r.image);
            res.errors.extend(r.errors);
            bails_read = true;
        }
        let fatal = res.errors.iter().any(|e| !e.is_exception());
        if due.contains(&Group::Status) && !bits_plan.is_empty() && !fatal {
            let r = poll::read_blocks(&mut conn, name, cfg.unit, &bits_plan, timeout).await;
            res.image.extend(r.image);
            res.errors.extend(r.errors);
        }
        drop(conn);
        let t = chrono::Utc::now();
        for g in &due {
            let i = periods.iter().position(|(x, _)| x == g).unwrap_or(0);
            next[i] = now + periods[i].1;
        }
        if let Some(error) = res.errors.first() {
            failures += 1;
            if failures == 1 || failures.is_power_of_two() {
                events::modbus_read_failed(name, error, failures);
            }
        }
        if res.image.is_empty() {
            if online && failures >= 3 {
                online = false;
                events::parlor_offline(name);
                let out = tracker.mark_offline(chrono::Utc::now());
                if !out.is_empty() {
                    let c = Commit {
                        parlor: cfg.name.clone(),
                        output: out,
                        state: tracker.state().clone(),
                    };
                    if tx.send(c).await.is_err() {
                        return;
                    }
                }
            }
            // A dropped connection or a controller reboot usually answers again within a
            // second, and while it is silent a non-retentive controller can forget a milking
            // on restart: retry at the poll rate for the first failures, then back off so a
            // dead parlor is not hammered (others are unaffected).
            let pause = backoff(failures);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        if res.errors.is_empty() {
            failures = 0;
        }
        if !online {
            online = true;
            events::parlor_online(name);
        }
        let n = n_bails.unwrap_or(0);
        let per_bail = if bails_read {
            poll::decode_bails(map, &res.image, n)
        } else {
            Vec::new()
        };
        let sample = Sample {
            t,
            bails: poll::bail_readings(map, &per_bail),
            occupied_bits: poll::occupied_from_bits(map, &res.image, n),
            platform,
            bail_count: n,
        };
        if let Some(e) = sample
            .platform
            .get("entrance_bail")
            .and_then(|v| v.as_f64())
        {
            entrance_bail = Some(e as u16);
        }
        let mut out = tracker.observe(&sample);
        if !per_bail.is_empty()
            && cfg.bail_snapshot_interval_ms > 0
            && last_snapshot.is_none_or(|at| at.elapsed() >= snapshot_every)
        {
            last_snapshot = Some(Instant::now());
            out.bails = Some(poll::bail_snapshot(
                name,
                &cfg.farm,
                cfg.unit,
                t,
                entrance_bail,
                &per_bail,
                cfg.high_conductivity_ms_cm,
            ));
        }
        if out.restart_detected {
            events::controller_restart(name);
        }
        for e in &out.events {
            if e.missed_before > 0 {
                events::milkings_missed(name, e.bail, e.missed_before);
            }
        }
        if !out.is_empty() || last_commit.elapsed() > Duration::from_secs(2) {
            last_commit = Instant::now();
            let c = Commit {
                parlor: cfg.name.clone(),
                output: out,
                state: tracker.state().clone(),
            };
            if tx.send(c).await.is_err() {
                return;
            }
        }
    }
    let _ = tx
        .send(Commit {
            parlor: cfg.name.clone(),
            output: crate::milking::Output::default(),
            state: tracker.state().clone(),
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn short_outages_are_retried_at_the_poll_rate_then_backed_off_to_two_seconds() {
        let ms: Vec<u128> = (1..=12).map(|f| backoff(f).as_millis()).collect();
        assert_eq!(
            ms,
            [50, 50, 50, 100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000]
        );
        assert_eq!(backoff(u32::MAX), Duration::from_secs(2));
    }
}
