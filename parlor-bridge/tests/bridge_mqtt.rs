//! The bridge publishing to real Mosquitto brokers, read back by Mosquitto's own `mosquitto_sub`:
//! the shared broker on 127.0.0.1:1883, and a broker of the test's own that it stops and starts
//! again while the bridge crashes (`Bridge::abort`, and SIGKILL of the `parlor-bridge` binary).
//! A subscriber that deduplicates by key sees every milking exactly once.
//!
//! Without Mosquitto (broker binary, `mosquitto_sub`, or the shared broker) the tests skip with a
//! message; with `AGRIOPS_REQUIRE_SHARED=1` (CI) they fail instead.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parlor_bridge::sim::{self, Framing, SimConfig};
use parlor_bridge::wire::{MilkingEvent, Record};
use parlor_bridge::{Bridge, BridgeConfig, DeviceConfig, MqttConfig, RegisterMap, Sink, Store};

/// These tests start brokers, simulators and bridges on two shared cores: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn required() -> bool {
    std::env::var("AGRIOPS_REQUIRE_SHARED").is_ok_and(|v| v == "1")
}

/// `None` after saying why the test is skipped; a panic when CI requires the peer.
fn need<T>(test: &str, what: Option<T>, missing: &str) -> Option<T> {
    match what {
        Some(v) => Some(v),
        None if required() => panic!("{test}: {missing} but AGRIOPS_REQUIRE_SHARED=1"),
        None => {
            eprintln!("SKIP {test}: {missing}");
            None
        }
    }
}

fn find_program(name: &str, fixed: &str) -> Option<PathBuf> {
    if Path::new(fixed).exists() {
        return Some(PathBuf::from(fixed));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.exists())
    })
}

fn map_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("maps")
        .join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("agriops-test/{test}-{}-{nanos}", std::process::id())
}

async fn wait_port(port: u16, up: bool) {
    for _ in 0..200 {
        let open = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok();
        if open == up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "port {port} did not become {}",
        if up { "open" } else { "closed" }
    );
}

/// A Mosquitto of the test's own on a free port, with persistence in a temporary folder, so a
/// stop and start keeps the subscriber's session and its queued messages (as a broker restart does).
struct OwnBroker {
    bin: PathBuf,
    conf: PathBuf,
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl OwnBroker {
    async fn start(bin: PathBuf) -> OwnBroker {
        OwnBroker::start_with(bin, |_| String::new()).await
    }

    /// A broker that keeps nothing across a restart (no persistence), as many installs run.
    async fn start_forgetful(bin: PathBuf) -> OwnBroker {
        let b = OwnBroker::start_with(bin, |_| String::new()).await;
        let conf = std::fs::read_to_string(&b.conf)
            .unwrap()
            .replace("persistence true", "persistence false");
        std::fs::write(&b.conf, conf).unwrap();
        b
    }

    /// A broker whose listener gets the lines `extra` writes, given the broker's folder.
    async fn start_with(bin: PathBuf, extra: impl FnOnce(&Path) -> String) -> OwnBroker {
        let dir = tempfile::tempdir().unwrap();
        // Started as root, Mosquitto drops to its own user, which must still write its database.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\n{}allow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 100000\n",
                extra(dir.path()),
                dir.path().display()
            ),
        )
        .unwrap();
        let mut b = OwnBroker {
            bin,
            conf,
            port,
            child: None,
            _dir: dir,
        };
        b.up().await;
        b
    }

    async fn up(&mut self) {
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        wait_port(self.port, true).await;
    }

    /// Stops the broker as an operator or a reboot does (SIGTERM: it saves its sessions).
    async fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        wait_port(self.port, false).await;
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One message as `mosquitto_sub -F '%r %t %p'` prints it.
#[derive(Debug, Clone)]
struct Message {
    retained: bool,
    topic: String,
    payload: serde_json::Value,
}

/// `mosquitto_sub` on `{prefix}/#` at QoS 1, with a persistent session (`-c`) on the brokers of
/// the tests' own (not on the shared one): it reconnects by
/// itself after a broker restart and the broker keeps what arrived meanwhile.
struct Subscriber {
    child: Child,
    messages: Arc<Mutex<Vec<Message>>>,
}

impl Subscriber {
    async fn start(sub: &Path, publ: &Path, port: u16, prefix: &str) -> Subscriber {
        Subscriber::start_with(sub, publ, port, prefix, &["-c"]).await
    }

    /// With `extra` arguments for both clients (e.g. `--cafile`); a clean session unless
    /// `extra` holds `-c`, which is for the subscriber alone.
    async fn start_with(
        sub: &Path,
        publ: &Path,
        port: u16,
        prefix: &str,
        extra: &[&str],
    ) -> Subscriber {
        let mut child = Command::new(sub)
            .args(extra)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
            .args(["-i", &format!("sub-{}", std::process::id())])
            .args(["-t", &format!("{prefix}/#"), "-F", "%r %t %p"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto_sub");
        let out = child.stdout.take().unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let mut parts = line.splitn(3, ' ');
                let (Some(r), Some(t), Some(p)) = (parts.next(), parts.next(), parts.next()) else {
                    continue;
                };
                let payload =
                    serde_json::from_str(p).unwrap_or(serde_json::Value::String(p.into()));
                sink.lock().unwrap().push(Message {
                    retained: r == "1",
                    topic: t.to_string(),
                    payload,
                });
            }
        });
        let s = Subscriber { child, messages };
        // Subscribed once a probe published after it comes back.
        let probe = format!("{prefix}/probe");
        for _ in 0..100 {
            let _ = Command::new(publ)
                .args(extra.iter().filter(|a| **a != "-c"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
                .args(["-t", &probe, "-m", "\"probe\""])
                .status();
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.messages.lock().unwrap().iter().any(|m| m.topic == probe) {
                return s;
            }
        }
        panic!("mosquitto_sub never received the probe");
    }

    fn of_kind(&self, kind: &str) -> Vec<Message> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.topic.rsplit('/').next() == Some(kind))
            .cloned()
            .collect()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Tools {
    broker: PathBuf,
    sub: PathBuf,
    publ: PathBuf,
}

fn tools(test: &str) -> Option<Tools> {
    let broker = need(
        test,
        find_program("mosquitto", "/usr/sbin/mosquitto"),
        "no mosquitto broker binary (apt-get install mosquitto)",
    )?;
    let sub = need(
        test,
        find_program("mosquitto_sub", "/usr/bin/mosquitto_sub"),
        "no mosquitto_sub (apt-get install mosquitto-clients)",
    )?;
    let publ = need(
        test,
        find_program("mosquitto_pub", "/usr/bin/mosquitto_pub"),
        "no mosquitto_pub (apt-get install mosquitto-clients)",
    )?;
    Some(Tools { broker, sub, publ })
}

fn mqtt_config(port: u16, prefix: &str) -> MqttConfig {
    toml::from_str(&format!(
        "host = \"127.0.0.1\"\nport = {port}\ntopic_prefix = \"{prefix}\"\nkeep_alive_s = 5\ninflight = 16\nmax_backoff_s = 1\n"
    ))
    .unwrap()
}

fn config(map: &Path, address: &str, mqtt: MqttConfig) -> BridgeConfig {
    let cfg = BridgeConfig {
        bridge_id: "t".into(),
        store: None,
        server: None,
        mqtt: Some(mqtt),
        devices: [1u8, 2]
            .iter()
            .map(|u| {
                let mut d = DeviceConfig::new(&format!("p{u}"), address, *u, map);
                d.farm = "test-farm".into();
                d.status_interval_ms = 50;
                d.totals_interval_ms = 100;
                d.bail_interval_ms = 30;
                d.timeout_ms = 500;
                d.kpi_interval_s = 2;
                d.bail_snapshot_interval_ms = 500;
                d
            })
            .collect(),
    };
    cfg.validate(Path::new("test.toml")).unwrap();
    cfg
}

async fn start_sim(map: &str, truth: &Path) -> sim::RunningSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = SimConfig {
        parlors: 2,
        bails: 24,
        speedup: 60.0,
        seed: 7,
        near_wrap: true,
        exception_rate: 0.02,
        tick_ms: 50,
        ..SimConfig::default()
    };
    sim::serve(
        listener,
        RegisterMap::load(&map_path(map)).unwrap(),
        cfg,
        Framing::Tcp,
        Some(truth.to_path_buf()),
    )
    .unwrap()
}

/// Every truth milking inside the recorded window is in `records` exactly once, and every record is a truth milking.
fn assert_exact(truth: &Path, records: &[MilkingEvent]) {
    assert!(records.len() > 20, "only {} milkings", records.len());
    let text = std::fs::read_to_string(truth).unwrap();
    let truth: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["type"] == "milking")
        .collect();
    let secs = |r: &MilkingEvent| r.t.timestamp_millis() as f64 / 1000.0;
    let t_min = records.iter().map(secs).fold(f64::INFINITY, f64::min);
    let t_max = records.iter().map(secs).fold(f64::NEG_INFINITY, f64::max);
    let mut used = BTreeSet::new();
    for r in records {
        let t = secs(r);
        let hit = truth.iter().enumerate().find(|(i, m)| {
            !used.contains(i)
                && m["parlor"].as_u64() == Some(u64::from(r.unit))
                && m["bail"].as_u64() == Some(u64::from(r.bail))
                && m["cow_id"].as_u64() == Some(r.cow_id)
                && (m["yield_kg"].as_f64().unwrap_or(-1.0) - r.yield_kg).abs() < 0.011
                && (-0.5..10.0).contains(&(t - m["t_wall"].as_f64().unwrap_or(0.0)))
        });
        let (i, _) = hit.unwrap_or_else(|| panic!("matches no milking, or one twice: {r:?}"));
        used.insert(i);
    }
    let missed = truth
        .iter()
        .enumerate()
        .filter(|(i, m)| {
            let t = m["t_wall"].as_f64().unwrap_or(0.0);
            t >= t_min && t <= t_max - 1.0 && !used.contains(i)
        })
        .count();
    assert_eq!(missed, 0, "milkings lost");
}

/// The milkings the subscriber saw, deduplicated by key (checking that a repeated key is the
/// very same message), and how many repeats there were.
fn milkings_by_key(sub: &Subscriber) -> (BTreeMap<String, MilkingEvent>, usize) {
    let mut seen: BTreeMap<String, MilkingEvent> = BTreeMap::new();
    let mut repeats = 0;
    for m in sub.of_kind("milking") {
        assert!(!m.retained, "milkings are not retained: {m:?}");
        let Ok(Record::Milking(e)) = serde_json::from_value::<Record>(m.payload.clone()) else {
            panic!("not a milking record: {m:?}");
        };
        assert!(
            m.topic
                .ends_with(&format!("/{}/{}/milking", e.farm, e.parlor)),
            "{m:?}"
        );
        if let Some(prev) = seen.get(&e.key) {
            assert_eq!(prev, &e, "one key, two different milkings");
            repeats += 1;
        } else {
            seen.insert(e.key.clone(), e);
        }
    }
    (seen, repeats)
}

/// Waits until the subscriber holds every key in `keys` (bounded), then returns what it saw.
async fn settle(
    sub: &Subscriber,
    keys: &BTreeSet<String>,
) -> (BTreeMap<String, MilkingEvent>, usize) {
    for _ in 0..100 {
        let (seen, _) = milkings_by_key(sub);
        if keys.iter().all(|k| seen.contains_key(k)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    milkings_by_key(sub)
}

async fn stored_milkings(db: &Path) -> Vec<MilkingEvent> {
    let store = Store::open(db, false).await.unwrap();
    let m = store
        .milkings_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    store.close().await;
    m
}

/// Per parlor and alarm, the deduplicated edges in time order alternate raised, cleared, raised…
fn assert_alarm_edges_alternate(sub: &Subscriber) -> usize {
    let mut edges: BTreeMap<(String, String), BTreeMap<String, (String, bool)>> = BTreeMap::new();
    for m in sub.of_kind("alarm") {
        assert_eq!(m.payload["type"], "alarm", "{m:?}");
        let key = m.payload["key"].as_str().unwrap().to_string();
        let parlor = m.payload["parlor"].as_str().unwrap().to_string();
        let alarm = m.payload["alarm"].as_str().unwrap().to_string();
        let t = m.payload["t"].as_str().unwrap().to_string();
        let active = m.payload["active"].as_bool().unwrap();
        edges
            .entry((parlor, alarm))
            .or_default()
            .insert(key, (t, active));
    }
    let mut n = 0;
    for (which, by_key) in &edges {
        let mut list: Vec<&(String, bool)> = by_key.values().collect();
        list.sort();
        for (i, (_, active)) in list.iter().enumerate() {
            assert_eq!(
                *active,
                i % 2 == 0,
                "{which:?}: edges do not alternate: {list:?}"
            );
        }
        n += list.len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_every_kind_to_the_shared_broker() {
    let test = "publishes_every_kind_to_the_shared_broker";
    let Some(tools) = tools(test) else { return };
    let shared_up = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:1883".parse().unwrap(),
        Duration::from_secs(1),
    )
    .is_ok();
    if need(
        test,
        shared_up.then_some(()),
        "no Mosquitto on 127.0.0.1:1883 (mosquitto -d)",
    )
    .is_none()
    {
        return;
    }
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let db = dir.path().join("b.db");
    let prefix = unique_prefix("shared");
    // A clean session: the shared broker keeps no session of this test once it is over.
    let sub = Subscriber::start_with(&tools.sub, &tools.publ, 1883, &prefix, &[]).await;
    let sim = start_sim("map_a.toml", &truth).await;
    let cfg = config(
        &map_path("map_a.toml"),
        &format!("tcp:{}", sim.addr),
        mqtt_config(1883, &prefix),
    );
    let bridge = Bridge::start(&cfg, Sink::Local(db.clone())).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    bridge.stop().await;
    drop(sim);
    let stored = stored_milkings(&db).await;
    let keys: BTreeSet<String> = stored.iter().map(|m| m.key.clone()).collect();
    let (seen, repeats) = settle(&sub, &keys).await;
    assert_eq!(repeats, 0, "no outage, so no message is repeated");
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), keys);
    assert_exact(&truth, &seen.values().cloned().collect::<Vec<_>>());
    let kpis = sub.of_kind("kpi");
    assert!(!kpis.is_empty(), "no KPI interval published");
    assert!(
        kpis.iter()
            .all(|m| m.payload["type"] == "interval" && !m.retained)
    );
    for kind in ["state", "bails"] {
        for p in ["p1", "p2"] {
            assert!(
                sub.of_kind(kind)
                    .iter()
                    .any(|m| m.topic == format!("{prefix}/test-farm/{p}/{kind}")),
                "no {kind} for {p}"
            );
        }
    }
    let status: Vec<_> = sub
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.topic == format!("{prefix}/bridges/t"))
        .map(|m| m.payload["online"].as_bool())
        .collect();
    assert_eq!(
        status,
        [Some(true), Some(false)],
        "online, then offline at the stop"
    );
    // Retained messages stay on the shared broker: clear what this run left there.
    let store = Store::open(&db, false).await.unwrap();
    assert_eq!(
        store.mqtt_queued().await.unwrap(),
        0,
        "a clean stop publishes everything"
    );
    let mut retained = vec![format!("{prefix}/bridges/t")];
    for p in ["p1", "p2"] {
        for kind in ["state", "bails"] {
            retained.push(format!("{prefix}/test-farm/{p}/{kind}"));
        }
    }
    for t in retained {
        let _ = Command::new(&tools.publ)
            .args(["-h", "127.0.0.1", "-p", "1883", "-r", "-n", "-t", &t])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_milking_reaches_a_subscriber_once_across_broker_restarts_and_a_crash() {
    let test = "every_milking_reaches_a_subscriber_once_across_broker_restarts_and_a_crash";
    let Some(tools) = tools(test) else { return };
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let db = dir.path().join("b.db");
    let prefix = unique_prefix("outage");
    let mut broker = OwnBroker::start(tools.broker.clone()).await;
    let sub = Subscriber::start(&tools.sub, &tools.publ, broker.port, &prefix).await;
    let sim = start_sim("map_a.toml", &truth).await;
    let cfg = config(
        &map_path("map_a.toml"),
        &format!("tcp:{}", sim.addr),
        mqtt_config(broker.port, &prefix),
    );
    let bridge = Bridge::start(&cfg, Sink::Local(db.clone())).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Broker outage: milkings wait in the outbox.
    broker.down().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = bridge.store().mqtt_queued().await.unwrap();
    assert!(waiting > 0, "nothing queued while the broker was down");
    broker.up().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Crash: no final write, no drain, no DISCONNECT (the broker sends the last will).
    bridge.abort();
    sim.world.restart(1);
    let bridge = Bridge::start(&cfg, Sink::Local(db.clone())).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.down().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    broker.up().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    bridge.stop().await;
    drop(sim);
    let stored = stored_milkings(&db).await;
    let keys: BTreeSet<String> = stored.iter().map(|m| m.key.clone()).collect();
    let (seen, repeats) = settle(&sub, &keys).await;
    eprintln!(
        "{test}: {} milkings stored, {} seen by key, {repeats} repeated deliveries, {waiting} messages waited out the first outage",
        stored.len(),
        seen.len()
    );
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        keys,
        "the subscriber saw exactly the stored milkings"
    );
    assert_exact(&truth, &seen.values().cloned().collect::<Vec<_>>());
    let n_alarms = assert_alarm_edges_alternate(&sub);
    eprintln!("{test}: {n_alarms} alarm edges, alternating");
    let wills = sub
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.topic == format!("{prefix}/bridges/t") && m.payload["online"] == false)
        .count();
    assert!(
        wills >= 2,
        "the crash's last will and the clean stop both say offline ({wills})"
    );
    let store = Store::open(&db, false).await.unwrap();
    assert_eq!(
        store.mqtt_queued().await.unwrap(),
        0,
        "everything was acknowledged"
    );
    // A newcomer gets the newest state of each parlor, retained.
    let out = Command::new(&tools.sub)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "--retained-only",
            "-W",
            "2",
        ])
        .args(["-t", &format!("{prefix}/+/+/state"), "-F", "%t %p"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let retained: BTreeMap<&str, serde_json::Value> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, p)| (t, serde_json::from_str(p).unwrap()))
        .collect();
    assert_eq!(retained.len(), 2, "{text}");
    for (topic, state) in retained {
        let newest = sub
            .of_kind("state")
            .into_iter()
            .filter(|m| m.topic == topic)
            .map(|m| m.payload)
            .max_by_key(|p| p["t"].as_str().unwrap_or_default().to_string())
            .unwrap();
        assert_eq!(state, newest, "{topic}: the retained state is the newest");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_bridge_binary_loses_and_doubles_no_milking_on_mqtt() {
    let test = "sigkill_of_the_bridge_binary_loses_and_doubles_no_milking_on_mqtt";
    let Some(tools) = tools(test) else { return };
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let db = dir.path().join("b.db");
    let prefix = unique_prefix("sigkill");
    let broker = OwnBroker::start(tools.broker.clone()).await;
    let sub = Subscriber::start(&tools.sub, &tools.publ, broker.port, &prefix).await;
    let sim = start_sim("map_b.toml", &truth).await;
    let config = dir.path().join("bridge.toml");
    let mut toml = format!(
        "bridge_id = \"t\"\n[mqtt]\nhost = \"127.0.0.1\"\nport = {}\ntopic_prefix = \"{prefix}\"\nkeep_alive_s = 5\nmax_backoff_s = 1\n",
        broker.port
    );
    for u in [1, 2] {
        toml.push_str(&format!(
            "[[device]]\nname = \"p{u}\"\nfarm = \"test-farm\"\naddress = \"tcp:{}\"\nunit = {u}\nmap = \"{}\"\nstatus_interval_ms = 50\ntotals_interval_ms = 100\nbail_interval_ms = 30\ntimeout_ms = 500\nkpi_interval_s = 2\n",
            sim.addr,
            map_path("map_b.toml").display()
        ));
    }
    std::fs::write(&config, toml).unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_parlor-bridge"))
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
    // A last run stopped cleanly (SIGTERM) publishes what the last kill left queued.
    let mut child = spawn();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    drop(sim);
    let stored = stored_milkings(&db).await;
    let keys: BTreeSet<String> = stored.iter().map(|m| m.key.clone()).collect();
    let (seen, repeats) = settle(&sub, &keys).await;
    eprintln!(
        "{test}: {} milkings stored, {} seen by key, {repeats} repeated deliveries",
        stored.len(),
        seen.len()
    );
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), keys);
    assert_exact(&truth, &seen.values().cloned().collect::<Vec<_>>());
    let wills = sub
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.topic == format!("{prefix}/bridges/t") && m.payload["online"] == false)
        .count();
    assert!(
        wills >= 4,
        "three last wills and one clean stop say offline ({wills})"
    );
    drop(broker);
}

/// Makes a CA and a broker certificate for 127.0.0.1 signed by it, with `openssl`; returns the CA's PEM path.
fn make_ca(openssl: &Path, dir: &Path, name: &str) -> PathBuf {
    let run = |args: &[&str]| {
        let ok = Command::new(openssl)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl {args:?} failed");
    };
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "2",
        "-subj",
        &format!("/CN={name} test CA"),
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &format!("{name}-server.key"),
        "-out",
        &format!("{name}-server.csr"),
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &format!("{name}-server.csr"),
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &format!("{name}-server.pem"),
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    // The broker reads its key after dropping to its own user.
    for f in [
        format!("{name}-server.key"),
        format!("{name}-server.pem"),
        ca.clone(),
    ] {
        std::fs::set_permissions(
            dir.join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
    }
    dir.join(ca)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_over_tls_only_to_a_broker_whose_certificate_checks_out() {
    let test = "publishes_over_tls_only_to_a_broker_whose_certificate_checks_out";
    let Some(tools) = tools(test) else { return };
    let Some(openssl) = need(
        test,
        find_program("openssl", "/usr/bin/openssl"),
        "no openssl to make test certificates",
    ) else {
        return;
    };
    let _one = SERIAL.lock().await;
    let certs = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        certs.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let ca = make_ca(&openssl, certs.path(), "farm");
    let other_ca = make_ca(&openssl, certs.path(), "stranger");
    let (server_pem, server_key) = (
        certs.path().join("farm-server.pem"),
        certs.path().join("farm-server.key"),
    );
    let broker = OwnBroker::start_with(tools.broker.clone(), |_| {
        format!(
            "cafile {}\ncertfile {}\nkeyfile {}\n",
            ca.display(),
            server_pem.display(),
            server_key.display()
        )
    })
    .await;
    let prefix = unique_prefix("tls");
    let ca_arg = ca.display().to_string();
    let sub = Subscriber::start_with(
        &tools.sub,
        &tools.publ,
        broker.port,
        &prefix,
        &["--cafile", &ca_arg, "-c"],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let db = dir.path().join("b.db");
    let sim = start_sim("map_a.toml", &truth).await;
    let tls_config = |ca: &Path| {
        let mut m = mqtt_config(broker.port, &prefix);
        m.ca_file = Some(ca.to_path_buf());
        config(&map_path("map_a.toml"), &format!("tcp:{}", sim.addr), m)
    };
    // A broker whose certificate another CA signed is refused: milkings wait in the outbox.
    let bridge = Bridge::start(&tls_config(&other_ca), Sink::Local(db.clone()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = bridge.store().mqtt_queued().await.unwrap();
    bridge.stop().await;
    assert!(waiting > 0, "nothing was queued");
    assert!(
        sub.of_kind("milking").is_empty(),
        "published to a broker it could not verify"
    );
    // The farm's own CA: what waited and what follows arrive.
    let bridge = Bridge::start(&tls_config(&ca), Sink::Local(db.clone()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    bridge.stop().await;
    drop(sim);
    let stored = stored_milkings(&db).await;
    let keys: BTreeSet<String> = stored.iter().map(|m| m.key.clone()).collect();
    let (seen, _) = settle(&sub, &keys).await;
    eprintln!(
        "{test}: {waiting} waited out the refused broker; {} milkings seen over TLS",
        seen.len()
    );
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), keys);
    assert_exact(&truth, &seen.values().cloned().collect::<Vec<_>>());
}

/// The retained `state` messages a newcomer gets, by topic.
fn retained_states(sub_bin: &Path, port: u16, prefix: &str) -> BTreeMap<String, serde_json::Value> {
    let out = Command::new(sub_bin)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--retained-only",
            "-W",
            "2",
        ])
        .args(["-t", &format!("{prefix}/+/+/state"), "-F", "%t %p"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, p)| (t.to_string(), serde_json::from_str(p).unwrap()))
        .collect()
}

/// The retained states once both parlors have one (bounded, so a slow machine is not a failure),
/// with `marker` too if the broker still has it.
async fn states_of_both(
    sub_bin: &Path,
    port: u16,
    prefix: &str,
    marker: Option<&str>,
) -> BTreeMap<String, serde_json::Value> {
    let mut states = BTreeMap::new();
    for _ in 0..10 {
        states = retained_states(sub_bin, port, prefix);
        let parlors = states.keys().filter(|t| Some(t.as_str()) != marker).count();
        if parlors >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_state_is_back_after_a_broker_that_forgot_it_restarts() {
    let test = "retained_state_is_back_after_a_broker_that_forgot_it_restarts";
    let Some(tools) = tools(test) else { return };
    let _one = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.jsonl");
    let db = dir.path().join("b.db");
    let prefix = unique_prefix("forgetful");
    let mut broker = OwnBroker::start_forgetful(tools.broker.clone()).await;
    // Started before the switch to no persistence took effect: restart it as configured.
    broker.down().await;
    broker.up().await;
    let sim = start_sim("map_a.toml", &truth).await;
    let mut cfg = config(
        &map_path("map_a.toml"),
        &format!("tcp:{}", sim.addr),
        mqtt_config(broker.port, &prefix),
    );
    // Snapshots off: only the state topic is retained here.
    for d in &mut cfg.devices {
        d.bail_snapshot_interval_ms = 0;
    }
    let bridge = Bridge::start(&cfg, Sink::Local(db.clone())).await.unwrap();
    let before = states_of_both(&tools.sub, broker.port, &prefix, None).await;
    assert_eq!(before.len(), 2, "{before:?}");
    // A retained message nobody publishes again tells whether the broker forgot.
    let marker = format!("{prefix}/marker/x/state");
    let _ = Command::new(&tools.publ)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-q",
            "1",
            "-r",
        ])
        .args(["-t", &marker, "-m", "{}"])
        .status();
    assert!(retained_states(&tools.sub, broker.port, &prefix).contains_key(&marker));
    broker.down().await;
    broker.up().await;
    let mut after = states_of_both(&tools.sub, broker.port, &prefix, Some(&marker)).await;
    bridge.stop().await;
    assert!(
        after.remove(&marker).is_none(),
        "the broker kept its retained messages"
    );
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "every parlor's state is retained again"
    );
    for (topic, st) in &after {
        assert_eq!(st["type"], "state", "{topic}: {st}");
        assert!(
            st["t"].as_str() >= before[topic]["t"].as_str(),
            "{topic}: an older state came back"
        );
    }
}
