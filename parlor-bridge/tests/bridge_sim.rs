//! The bridge against the crate's own simulator: both vendor maps, TCP and RTU over TCP,
//! and forwarding through a flaky loopback ingest server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parlor_bridge::sim::{self, Framing, SimConfig};
use parlor_bridge::wire::{IngestBatch, Record};
use parlor_bridge::{
    Bridge, BridgeConfig, DeviceConfig, ForwardSettings, RegisterMap, Sink, Store,
};

fn map_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("maps")
        .join(name)
}

fn config(map: &Path, address: &str, units: &[u8]) -> BridgeConfig {
    BridgeConfig {
        bridge_id: "t".into(),
        store: None,
        server: None,
        mqtt: None,
        devices: units
            .iter()
            .map(|u| {
                let mut d = DeviceConfig::new(&format!("p{u}"), address, *u, map);
                d.status_interval_ms = 50;
                d.totals_interval_ms = 100;
                d.bail_interval_ms = 30;
                d.timeout_ms = 500;
                d.kpi_interval_s = 2;
                d
            })
            .collect(),
    }
}

async fn start_sim(map: &str, framing: Framing, truth: &Path) -> sim::RunningSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = SimConfig {
        parlors: 2,
        bails: 24,
        speedup: 60.0,
        seed: 3,
        near_wrap: true,
        exception_rate: 0.02,
        tick_ms: 50,
        ..SimConfig::default()
    };
    sim::serve(
        listener,
        RegisterMap::load(&map_path(map)).unwrap(),
        cfg,
        framing,
        Some(truth.to_path_buf()),
    )
    .unwrap()
}

/// Every truth milking inside the recorded window is recorded exactly once, and every record is a truth milking.
fn assert_exact(truth: &Path, records: &[parlor_bridge::wire::MilkingEvent]) {
    assert!(
        records.len() > 20,
        "only {} milkings recorded",
        records.len()
    );
    let text = std::fs::read_to_string(truth).unwrap();
    let truth: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["type"] == "milking")
        .collect();
    let t_min = records
        .iter()
        .map(|r| r.t.timestamp_millis())
        .min()
        .unwrap() as f64
        / 1000.0;
    let t_max = records
        .iter()
        .map(|r| r.t.timestamp_millis())
        .max()
        .unwrap() as f64
        / 1000.0;
    let mut used = BTreeSet::new();
    for r in records {
        let t = r.t.timestamp_millis() as f64 / 1000.0;
        let hit = truth.iter().enumerate().find(|(i, m)| {
            !used.contains(i)
                && m["parlor"].as_u64() == Some(u64::from(r.unit))
                && m["bail"].as_u64() == Some(u64::from(r.bail))
                && m["cow_id"].as_u64() == Some(r.cow_id)
                && (m["yield_kg"].as_f64().unwrap_or(-1.0) - r.yield_kg).abs() < 0.011
                && (-0.5..10.0).contains(&(t - m["t_wall"].as_f64().unwrap_or(0.0)))
        });
        let (i, _) =
            hit.unwrap_or_else(|| panic!("record matches no milking (or a milking twice): {r:?}"));
        used.insert(i);
    }
    let missed: Vec<_> = truth
        .iter()
        .enumerate()
        .filter(|(i, m)| {
            let t = m["t_wall"].as_f64().unwrap_or(0.0);
            t >= t_min && t <= t_max - 1.0 && !used.contains(i)
        })
        .collect();
    assert!(
        missed.is_empty(),
        "{} milkings lost, e.g. {:?}",
        missed.len(),
        missed.first()
    );
}

async fn run_local(map: &str, framing: Framing, scheme: &str) {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let sim = start_sim(map, framing, &truth).await;
    let db = dir.path().join("b.db");
    let cfg = config(&map_path(map), &format!("{scheme}:{}", sim.addr), &[1, 2]);
    let bridge = Bridge::start(&cfg, Sink::Local(db.clone())).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    bridge.stop().await;
    drop(sim);
    let store = Store::open(&db, false).await.unwrap();
    let records = store
        .milkings_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_exact(&truth, &records);
    let intervals = store
        .intervals_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert!(!intervals.is_empty());
    assert!(
        intervals
            .iter()
            .all(|i| i.cows >= 0.0 && i.kg >= 0.0 && i.cows < 1000.0),
        "{intervals:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_b_map_over_tcp_from_the_rust_simulator() {
    run_local("map_b.toml", Framing::Tcp, "tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_a_over_rtu_framing_from_the_rust_simulator() {
    run_local("map_a.toml", Framing::RtuOverTcp, "rtu-tcp").await;
}

/// Five times, while the simulator's `occupied_bails` register holds still, the newest queued
/// snapshot (taken after the first read) shows exactly that many occupied bails.
async fn snapshots_match_the_register(bridge: &Bridge, map: &RegisterMap, address: &str) {
    let mut conn =
        parlor_bridge::Connection::new(parlor_bridge::Transport::parse(address).unwrap());
    let read = async |conn: &mut parlor_bridge::Connection| {
        parlor_bridge::poll::read_platform_quantity(
            conn,
            "check",
            1,
            map,
            "occupied_bails",
            Duration::from_millis(500),
        )
        .await
        .and_then(|v| v.as_f64())
    };
    let mut checked = 0;
    let mut busiest = 0;
    for _ in 0..80 {
        if checked >= 5 {
            break;
        }
        let before = chrono::Utc::now();
        let o1 = read(&mut conn).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
        let snap = bridge.store().pending_snapshot("p1").await.unwrap();
        let o2 = read(&mut conn).await;
        if let (Some(o1), Some(o2), Some(s)) = (o1, o2, snap)
            && o1 == o2
            && s.t > before
        {
            assert_eq!(s.bails.len(), 24, "{s:?}");
            assert_eq!(s.occupied() as f64, o1, "snapshot vs register: {s:?}");
            assert!(
                s.entrance_bail.is_some_and(|e| (1..=24).contains(&e)),
                "{s:?}"
            );
            checked += 1;
            busiest = busiest.max(s.occupied());
        }
    }
    assert!(checked >= 5, "only {checked} stable windows compared");
    assert!(busiest > 0, "no cow was ever on the platform");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bail_snapshots_from_the_rust_simulator_match_its_occupancy_register() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let map = RegisterMap::load(&map_path("map_a.toml")).unwrap();
    // Slow enough that the occupancy holds still for a few polls at a time.
    let sim = sim::serve(
        listener,
        map.clone(),
        SimConfig {
            parlors: 1,
            bails: 24,
            speedup: 4.0,
            seed: 5,
            tick_ms: 50,
            ..SimConfig::default()
        },
        Framing::Tcp,
        None,
    )
    .unwrap();
    let address = format!("tcp:{}", sim.addr);
    let mut cfg = config(&map_path("map_a.toml"), &address, &[1]);
    cfg.devices[0].bail_snapshot_interval_ms = 50;
    let sink = Sink::Forward {
        store: dir.path().join("outbox.db"),
        settings: ForwardSettings {
            // Nobody listens: snapshots wait in the outbox, only the newest per parlor.
            url: "http://127.0.0.1:9/ingest".into(),
            token: None,
            bridge_id: "t".into(),
            batch_size: 50,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_millis(300),
        },
    };
    let bridge = Bridge::start(&cfg, sink).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    snapshots_match_the_register(&bridge, &map, &address).await;
    bridge.stop().await;
}

#[derive(Default)]
struct Receiver {
    calls: u64,
    fail_first: u64,
    batches: BTreeMap<String, Vec<String>>,
    record_keys: BTreeMap<String, u64>,
    bad_auth: u64,
}

async fn ingest(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<Receiver>>>,
    headers: axum::http::HeaderMap,
    axum::Json(batch): axum::Json<IngestBatch>,
) -> axum::http::StatusCode {
    let mut s = state.lock().unwrap();
    s.calls += 1;
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer secret") {
        s.bad_auth += 1;
        return axum::http::StatusCode::UNAUTHORIZED;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(key, batch.batch_key);
    if s.calls <= s.fail_first {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    let keys: Vec<String> = batch
        .records
        .iter()
        .map(|r| format!("{}:{}", r.kind(), r.key()))
        .collect();
    if let Some(prev) = s.batches.get(&key) {
        // A retry must carry exactly the same records.
        assert_eq!(prev, &keys, "batch {key} changed between retries");
        return axum::http::StatusCode::OK;
    }
    for k in &keys {
        *s.record_keys.entry(k.clone()).or_insert(0) += 1;
    }
    let _ = batch
        .records
        .iter()
        .filter(|r| matches!(r, Record::Milking(_)))
        .count();
    s.batches.insert(key, keys);
    axum::http::StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_survives_a_server_outage_and_a_crash_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let sim = start_sim("map_a.toml", Framing::Tcp, &truth).await;
    let state = Arc::new(Mutex::new(Receiver {
        fail_first: 3,
        ..Receiver::default()
    }));
    let app = axum::Router::new()
        .route("/ingest", axum::routing::post(ingest))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ingest", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let db = dir.path().join("outbox.db");
    let sink = Sink::Forward {
        store: db.clone(),
        settings: ForwardSettings {
            url,
            token: Some("secret".into()),
            bridge_id: "t".into(),
            batch_size: 7,
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
            timeout: Duration::from_secs(5),
        },
    };
    let cfg = config(
        &map_path("map_a.toml"),
        &format!("tcp:{}", sim.addr),
        &[1, 2],
    );
    let bridge = Bridge::start(&cfg, sink.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Crash: tasks aborted mid-flight, no final write or drain.
    bridge.abort();
    let bridge = Bridge::start(&cfg, sink).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    bridge.stop().await;
    drop(sim);
    let store = Store::open(&db, true).await.unwrap();
    assert_eq!(store.queued().await.unwrap(), 0, "records left undelivered");
    let stored = store
        .milkings_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_exact(&truth, &stored);
    let s = state.lock().unwrap();
    assert!(
        s.calls > s.fail_first,
        "the server was never reached after its outage"
    );
    assert_eq!(s.bad_auth, 0);
    let dups: Vec<_> = s.record_keys.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "records delivered under two batch keys: {dups:?}"
    );
    let delivered = s
        .record_keys
        .keys()
        .filter(|k| k.starts_with("milking:"))
        .count();
    assert_eq!(
        delivered,
        stored.len(),
        "every stored milking delivered exactly once"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_bridge_process_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let sim = start_sim("map_b.toml", Framing::Tcp, &truth).await;
    let db = dir.path().join("b.db");
    let config = dir.path().join("bridge.toml");
    let mut toml = String::new();
    for u in [1, 2] {
        toml.push_str(&format!(
            "[[device]]\nname = \"p{u}\"\naddress = \"tcp:{}\"\nunit = {u}\nmap = \"{}\"\nstatus_interval_ms = 50\ntotals_interval_ms = 100\nbail_interval_ms = 30\ntimeout_ms = 500\nkpi_interval_s = 2\n",
            sim.addr,
            map_path("map_b.toml").display()
        ));
    }
    std::fs::write(&config, toml).unwrap();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_parlor-bridge"))
            .arg("--config")
            .arg(&config)
            .arg("--local")
            .arg(&db)
            .spawn()
            .expect("start parlor-bridge")
    };
    for round in 0..3 {
        let mut child = spawn();
        tokio::time::sleep(Duration::from_millis(2500 + 300 * round)).await;
        // Child::kill is SIGKILL: no shutdown code runs.
        child.kill().unwrap();
        child.wait().unwrap();
    }
    drop(sim);
    let store = Store::open(&db, false).await.unwrap();
    let records = store
        .milkings_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_exact(&truth, &records);
}
