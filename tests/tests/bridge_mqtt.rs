//! End-to-end: the parlor bridge polls `../shared/parlor/sim.py` (pymodbus, every fault on) and
//! publishes to a Mosquitto broker of the test's own, which is stopped and started twice while
//! the bridge also crashes once. Mosquitto's `mosquitto_sub` is the farm's subscriber; what it
//! received, deduplicated by key, is judged by `check_truth.py`: no milking double-counted, none
//! that is not a milking, and exactly the milkings the bridge recorded — not one lost on the way
//! through MQTT. (Whether the bridge could read every milking off the faulty controller is
//! `parlor_sim.rs`'s question: a non-retentive restart during a dropped connection can wipe one
//! before any poll sees it, and that test classes those by the bridge's read log.)

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agriops_e2e::{
    Broker, KillOnDrop, free_tcp_port, program, require_peer_python, require_shared,
    shared_required, wait_for_file, wait_port,
};
use parlor_bridge::wire::{MilkingEvent, Record};
use parlor_bridge::{Bridge, BridgeConfig, DeviceConfig, MqttConfig, Sink, Store};

/// Real seconds the simulator runs.
const DURATION_S: u64 = 30;

/// The Mosquitto programs, or `None` after saying why the test is skipped (a failure in CI).
fn mosquitto(test: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let found = (
        program("mosquitto", "/usr/sbin/mosquitto"),
        program("mosquitto_sub", "/usr/bin/mosquitto_sub"),
        program("mosquitto_pub", "/usr/bin/mosquitto_pub"),
    );
    match found {
        (Some(b), Some(s), Some(p)) => Some((b, s, p)),
        _ if shared_required() => {
            panic!(
                "{test}: Mosquitto (mosquitto, mosquitto-clients) is missing but AGRIOPS_REQUIRE_SHARED=1"
            )
        }
        _ => {
            eprintln!(
                "SKIP {test}: Mosquitto is missing (apt-get install mosquitto mosquitto-clients)"
            );
            None
        }
    }
}

/// What a subscriber printed, as `(topic, payload)`.
type Lines = Arc<Mutex<Vec<(String, String)>>>;

/// `mosquitto_sub` at QoS 1 with a persistent session; collects `(topic, payload)` lines.
fn subscribe(sub: &Path, port: u16, filter: &str) -> (KillOnDrop, Lines) {
    let mut child = Command::new(sub)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-c"])
        .args(["-i", &format!("e2e-sub-{}", std::process::id())])
        .args(["-t", filter, "-F", "%t %p"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto_sub");
    let out = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some((t, p)) = line.split_once(' ') {
                sink.lock().unwrap().push((t.to_string(), p.to_string()));
            }
        }
    });
    (KillOnDrop(child), lines)
}

fn start_sim(python: &Path, shared: &Path, port: u16, truth: &Path) -> KillOnDrop {
    let child = Command::new(python)
        .arg(shared.join("parlor/sim.py"))
        .args(["--map", shared.join("parlor/map_a.toml").to_str().unwrap()])
        .args([
            "--parlors",
            "3",
            "--bails",
            "24",
            "--port",
            &port.to_string(),
        ])
        .args([
            "--framer",
            "socket",
            "--speedup",
            "20",
            "--seed",
            "11",
            "--tick",
            "0.05",
        ])
        .args(["--duration", &DURATION_S.to_string()])
        .args(["--drop-every", "8", "--outage", "0.5", "--delay-ms", "1:5"])
        .args([
            "--exception-rate",
            "0.02",
            "--timeout-rate",
            "0.002",
            "--garbage",
            "0.01",
        ])
        .args(["--restart-every", "12", "--boot-s", "1", "--near-wrap"])
        .arg("--truth")
        .arg(truth)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sim.py");
    KillOnDrop(child)
}

fn config(map: &Path, address: &str, mqtt_port: u16, prefix: &str) -> BridgeConfig {
    let mqtt = MqttConfig {
        topic_prefix: prefix.into(),
        keep_alive_s: 5,
        inflight: 32,
        max_backoff_s: 1.0,
        ..MqttConfig::plain("127.0.0.1", mqtt_port)
    };
    BridgeConfig {
        bridge_id: "e2e".into(),
        store: None,
        server: None,
        mqtt: Some(mqtt),
        devices: (1..=3u8)
            .map(|unit| {
                let mut d = DeviceConfig::new(&format!("parlor-{unit}"), address, unit, map);
                d.farm = "test-farm".into();
                d.status_interval_ms = 50;
                d.totals_interval_ms = 100;
                d.bail_interval_ms = 20;
                d.timeout_ms = 250;
                d.offline_after_ms = 2000;
                d.kpi_interval_s = 10;
                d
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_subscriber_sees_every_milking_once_across_broker_restarts_and_a_bridge_crash() {
    let test = "mqtt_every_fault";
    let Some(shared) = require_shared(test) else {
        return;
    };
    let Some(python) = require_peer_python(test) else {
        return;
    };
    let Some((broker_bin, sub_bin, pub_bin)) = mosquitto(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let db = dir.path().join("bridge.db");
    let prefix = "agriops-e2e";
    let mut broker = Broker::start(broker_bin).await;
    let (_sub, lines) = subscribe(&sub_bin, broker.port, &format!("{prefix}/#"));
    // The subscription stands once a probe published after it comes back.
    let probe = format!("{prefix}/probe");
    for _ in 0..100 {
        let _ = Command::new(&pub_bin)
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
            .args(["-t", &probe, "-m", "probe"])
            .status();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if lines.lock().unwrap().iter().any(|(t, _)| *t == probe) {
            break;
        }
    }
    assert!(
        lines.lock().unwrap().iter().any(|(t, _)| *t == probe),
        "mosquitto_sub never received the probe"
    );
    let port = free_tcp_port();
    let mut sim = start_sim(&python, &shared, port, &truth);
    assert!(
        wait_for_file(&truth, Duration::from_secs(20)),
        "sim.py wrote no truth file"
    );
    wait_port(port, true).await;
    let cfg = config(
        &shared.join("parlor/map_a.toml"),
        &format!("tcp:127.0.0.1:{port}"),
        broker.port,
        prefix,
    );
    let started = std::time::Instant::now();
    let mut bridge = Bridge::start(&cfg, Sink::Local(db.clone()))
        .await
        .expect("bridge starts");
    // Broker restarts at 6 s and 20 s (3 s and 2 s down), the bridge crashes at 13 s.
    let at = |s: u64| async move {
        let t = Duration::from_secs(s);
        if let Some(rest) = t.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    };
    at(6).await;
    broker.down().await;
    at(9).await;
    broker.up().await;
    at(13).await;
    bridge.abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    bridge = Bridge::start(&cfg, Sink::Local(db.clone()))
        .await
        .expect("bridge restarts");
    at(20).await;
    broker.down().await;
    at(22).await;
    broker.up().await;
    let deadline = Duration::from_secs(DURATION_S + 20);
    while sim.0.try_wait().ok().flatten().is_none() && started.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bridge.stop().await;
    let _ = sim.0.wait();
    let store = Store::open(&db, false).await.unwrap();
    assert_eq!(
        store.mqtt_queued().await.unwrap(),
        0,
        "messages left unpublished"
    );
    let stored = store
        .milkings_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    // Let the subscriber catch up with the last messages.
    let mut seen: BTreeMap<String, MilkingEvent> = BTreeMap::new();
    let mut repeats = 0;
    for _ in 0..100 {
        seen.clear();
        repeats = 0;
        for (topic, payload) in lines.lock().unwrap().iter() {
            if !topic.ends_with("/milking") {
                continue;
            }
            let Ok(Record::Milking(m)) = serde_json::from_str::<Record>(payload) else {
                panic!("{topic}: not a milking record: {payload}");
            };
            match seen.get(&m.key) {
                Some(prev) => {
                    assert_eq!(prev, &m, "one key, two different milkings");
                    repeats += 1;
                }
                None => {
                    seen.insert(m.key.clone(), m);
                }
            }
        }
        if stored.iter().all(|m| seen.contains_key(&m.key)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{test}: {} milkings stored, {} received by key, {repeats} repeated deliveries",
        stored.len(),
        seen.len()
    );
    assert!(seen.len() > 40, "too few milkings received: {}", seen.len());
    assert_eq!(
        seen.len(),
        stored.len(),
        "the subscriber saw the stored milkings"
    );
    let mut received: Vec<MilkingEvent> = seen.into_values().collect();
    received.sort_by_key(|m| m.t);
    let judge = |name: &str, milkings: &[MilkingEvent]| {
        let export = dir.path().join(name);
        let mut f = std::fs::File::create(&export).unwrap();
        parlor_bridge::write_milkings_csv(&mut f, milkings).unwrap();
        drop(f);
        let out = Command::new(&python)
            .arg(shared.join("parlor/check_truth.py"))
            .arg("--truth")
            .arg(&truth)
            .arg("--bridge")
            .arg(&export)
            .arg("--json")
            .output()
            .expect("run check_truth.py");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let json_end = text.rfind('}').map_or(0, |i| i + 1);
        let report: serde_json::Value = serde_json::from_str(&text[..json_end])
            .unwrap_or_else(|e| panic!("check_truth output {text}: {e}"));
        eprintln!("check_truth on {name}: {report}");
        report
    };
    let report = judge("mqtt-milkings.csv", &received);
    let recorded = judge("bridge-milkings.csv", &stored);
    assert_eq!(report["mode"], "per-cow");
    assert_eq!(report["duplicates"], 0, "double-counted milkings: {report}");
    assert_eq!(report["extra"], 0, "records matching no milking: {report}");
    for field in ["matched", "missed_in_window", "truth_in_window", "records"] {
        assert_eq!(
            report[field], recorded[field],
            "{field}: MQTT delivered other than the bridge recorded"
        );
    }
    assert!(
        report["faults_in_truth"].as_u64().unwrap_or(0) > 0,
        "no faults were injected"
    );
}
