//! Issue 14's own check, end to end: the real `agriops serve` and `agriops bridge` binaries,
//! the parlor simulator (the repository's own, in this process, since faults are injected
//! into it at chosen moments: `parlor_bridge::sim::World::set_faults`), and three real peers
//! on loopback: `aiosmtpd` (mail read back from its Maildir), `scripts/push_peer.py` (a push
//! service that checks VAPID and decrypts RFC 8291), and a webhook receiver here that checks
//! the HMAC signature.
//!
//! Three faults: parlor `p-stop` stops, parlor `p-fault` reports a fault bit, and on parlor
//! `p-cow` one cow's conductivity rises above her own median. Each alert must arrive on each
//! channel once, within [`DEADLINE`] of its condition's window, and clear once. Then, with the
//! webhook receiver down, a new fault is committed and its webhook attempt fails; the server
//! is killed (`kill -9`) during the retry's backoff, so the message is committed, claimed and
//! not delivered. After a restart with the receiver up, the outbox lease runs out and the
//! message is delivered once, and nothing else is sent twice. Runs on SQLite and PostgreSQL;
//! the measured delays are printed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agriops_e2e::{
    KillOnDrop, agriops, agriops_admin, free_tcp_port, printed_id, program, require_peer_python,
    signed_in, workspace_root,
};
use parlor_bridge::sim::{self, Faults, Framing, InjectedCow, SimConfig};

/// The farm's name.
const FARM: &str = "那須ミルク牧場";
/// The webhook's HMAC secret.
const SECRET: &str = "e2e-webhook-secret-なす";
/// How long after its rule's window an alert (or its clearing) must have reached every peer.
const DEADLINE: Duration = Duration::from_secs(30);
/// The rules' window (the smallest a rule takes: one minute).
const WINDOW: Duration = Duration::from_secs(60);
/// The cow followed on `p-cow` and her bail.
const COW: u64 = 1_234_567;
const COW_BAIL: u16 = 3;

/// A peer message as the test classifies it: (kind, event).
type Key = (String, String);

/// What the webhook receiver accepted, with when, and how many bodies failed the signature.
#[derive(Default)]
struct Hooks {
    accepted: Vec<(Instant, serde_json::Value)>,
    bad: usize,
}

/// A minimal HTTP/1.1 webhook receiver (its own code, not the server's client): checks
/// `X-Agriops-Signature` as HMAC-SHA256 of the body under [`SECRET`] with the
/// independent implementation in the peers' Python, and answers 204.
struct Receiver {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, python: PathBuf, hooks: Arc<Mutex<Hooks>>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the webhook port");
        listener.set_nonblocking(true).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let h = hooks;
        let thread = std::thread::spawn(move || {
            loop {
                if rx.try_recv().is_ok() {
                    return;
                }
                match listener.accept() {
                    Ok((s, _)) => handle(s, &python, &h),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Receiver {
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Stops listening: the port refuses connections afterwards.
    fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True when `sig` is `sha256=<hex HMAC-SHA256(body)>` under [`SECRET`], computed by Python's
/// `hmac` (not the server's code).
fn signature_ok(python: &Path, body: &[u8], sig: &str) -> bool {
    let mut child = Command::new(python)
        .args([
            "-c",
            "import hmac,hashlib,sys;b=sys.stdin.buffer.read();\
             print(hmac.new(sys.argv[1].encode(),b,hashlib.sha256).hexdigest())",
            SECRET,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python hmac");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    !hex.is_empty() && (sig == hex || sig == format!("sha256={hex}"))
}

fn handle(mut s: TcpStream, python: &Path, hooks: &Mutex<Hooks>) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    let mut length = 0usize;
    let mut sig = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or(("", ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "x-agriops-signature" => value.trim().clone_into(&mut sig),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let ok = signature_ok(python, &body, &sig);
    let mut h = hooks.lock().unwrap();
    if ok {
        h.accepted
            .push((Instant::now(), serde_json::from_slice(&body).unwrap()));
    } else {
        h.bad += 1;
    }
    drop(h);
    let status = if ok {
        "204 No Content"
    } else {
        "401 Unauthorized"
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

/// `aiosmtpd` writing a Maildir.
struct Smtp {
    _child: KillOnDrop,
    port: u16,
    maildir: PathBuf,
    python: PathBuf,
}

impl Smtp {
    async fn start(python: &Path, dir: &Path) -> Smtp {
        let port = free_tcp_port();
        let maildir = dir.join("mail");
        let child = KillOnDrop(
            Command::new(python)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .spawn()
                .expect("start aiosmtpd"),
        );
        agriops_e2e::wait_port(port, true).await;
        Smtp {
            _child: child,
            port,
            maildir,
            python: python.to_path_buf(),
        }
    }

    /// (Subject, body, file modification time) of every mail received.
    fn mails(&self) -> Vec<(String, String, std::time::SystemTime)> {
        let script = r#"
import json, mailbox, os, sys, email.policy
if not os.path.isdir(sys.argv[1]):
    print("[]"); sys.exit(0)
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
out = []
for key in box.keys():
    m = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
    out.append((str(m["Subject"]), m.get_content(), os.path.getmtime(os.path.join(sys.argv[1], box._lookup(key)))))
print(json.dumps(out))
"#;
        let out = Command::new(&self.python)
            .args(["-c", script])
            .arg(&self.maildir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<(String, String, f64)> = serde_json::from_slice(&out.stdout).unwrap();
        rows.into_iter()
            .map(|(s, b, t)| (s, b, std::time::UNIX_EPOCH + Duration::from_secs_f64(t)))
            .collect()
    }
}

/// The push service peer; its first stdout line is the browser side of the subscription.
struct PushPeer {
    _child: KillOnDrop,
    port: u16,
    p256dh: String,
    auth: String,
}

impl PushPeer {
    fn start(python: &Path, server_key: &str) -> PushPeer {
        let mut child = Command::new(python)
            .arg(workspace_root().join("scripts/push_peer.py"))
            .args(["--server-key", server_key])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the push peer");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let hello: serde_json::Value = serde_json::from_str(&line).expect("the peer's hello");
        PushPeer {
            _child: KillOnDrop(child),
            port: u16::try_from(hello["port"].as_u64().unwrap()).unwrap(),
            p256dh: hello["p256dh"].as_str().unwrap().to_owned(),
            auth: hello["auth"].as_str().unwrap().to_owned(),
        }
    }

    /// The decrypted payloads of accepted pushes (after asserting no push failed a check).
    async fn payloads(&self) -> Vec<serde_json::Value> {
        let report: Vec<serde_json::Value> =
            reqwest::get(format!("http://127.0.0.1:{}/report", self.port))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        for r in &report {
            assert_eq!(r["errors"], serde_json::json!([]), "push check failed: {r}");
        }
        report
            .iter()
            .filter(|r| r["status"] == 201)
            .map(|r| serde_json::from_str(r["plaintext"].as_str().unwrap()).unwrap())
            .collect()
    }
}

/// The backend: SQLite in the data folder, or a fresh PostgreSQL database.
struct Backend {
    data: PathBuf,
    pg: Option<(String, String)>,
}

impl Backend {
    fn url(&self) -> Option<&str> {
        self.pg.as_ref().map(|(u, _)| u.as_str())
    }

    /// One SQL query's output lines, through the backend's own command-line client.
    fn query(&self, sql: &str) -> Vec<String> {
        let out = match &self.pg {
            Some((url, _)) => Command::new(program("psql", "/usr/bin/psql").expect("psql"))
                .args([url.as_str(), "-Atqc", sql])
                .output(),
            None => Command::new(program("sqlite3", "/usr/bin/sqlite3").expect("sqlite3"))
                .arg(self.data.join("agriops.db"))
                .arg(sql)
                .output(),
        }
        .expect("the database client");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some((_, name)) = &self.pg {
            let _ = Command::new("psql")
                .args([
                    &admin_pg(),
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .status();
        }
    }
}

fn admin_pg() -> String {
    std::env::var("AGRIOPS_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn serve(b: &Backend, port: u16, smtp: u16) -> KillOnDrop {
    let mut cmd = Command::new(agriops());
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--tile-url", ""])
        .arg("--data-dir")
        .arg(&b.data)
        .args(["--alert-interval-s", "1"])
        .args(["--public-url", &format!("http://127.0.0.1:{port}")])
        .args(["--smtp", &format!("127.0.0.1:{smtp}")])
        // Three attempts 4 s and 8 s apart: the lease is 57 s, and the test has 4 s after a
        // failed first attempt to kill the server before its second.
        .args(["--alert-attempts", "3", "--alert-backoff-s", "4"]);
    if let Some(url) = b.url() {
        cmd.args(["--database-url", url]);
    }
    KillOnDrop(
        cmd.env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("agriops serve"),
    )
}

async fn wait_up(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "agriops serve did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The kind of an alert as the test names it, from the Japanese first words of its line.
fn kind_of(text: &str) -> &'static str {
    if text.contains("停止中") {
        "parlor_stopped"
    } else if text.contains("異常・警報") {
        "platform_fault"
    } else if text.contains("乳房炎疑い") {
        "high_conductivity"
    } else {
        "other"
    }
}

/// Every message each peer has, classified, with its arrival time.
struct Seen {
    mail: Vec<(Key, std::time::SystemTime)>,
    push: Vec<Key>,
    hook: Vec<(Key, Instant, i64)>,
}

async fn seen(smtp: &Smtp, push: &PushPeer, hooks: &Mutex<Hooks>) -> Seen {
    let mail = smtp
        .mails()
        .into_iter()
        .map(|(subject, body, t)| {
            let event = if subject.starts_with("【復旧】") {
                "resolved"
            } else {
                assert!(body.contains("/alerts/ack/"), "an opening has its ack link");
                "opened"
            };
            ((kind_of(&subject).to_owned(), event.to_owned()), t)
        })
        .collect();
    let push = push
        .payloads()
        .await
        .into_iter()
        .map(|p| {
            (
                kind_of(p["title"].as_str().unwrap_or("")).to_owned(),
                p["event"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let h = hooks.lock().unwrap();
    assert_eq!(h.bad, 0, "a webhook body failed its signature");
    let hook = h
        .accepted
        .iter()
        .map(|(t, b)| {
            (
                (
                    b["kind"].as_str().unwrap_or("").to_owned(),
                    b["event"].as_str().unwrap_or("").to_owned(),
                ),
                *t,
                b["alert_id"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    Seen { mail, push, hook }
}

fn count<'a>(keys: impl Iterator<Item = &'a Key>, k: &Key) -> usize {
    keys.filter(|x| *x == k).count()
}

impl Seen {
    /// How many of `k` each of mail, push and webhook got.
    fn counts(&self, k: &Key) -> [usize; 3] {
        [
            count(self.mail.iter().map(|m| &m.0), k),
            count(self.push.iter(), k),
            count(self.hook.iter().map(|h| &h.0), k),
        ]
    }
}

fn key(kind: &str, event: &str) -> Key {
    (kind.to_owned(), event.to_owned())
}

/// Waits until every one of `keys` is on every channel (at least once); returns when each
/// was first complete, measured from `since`. Fails after `limit`.
async fn until_all(
    keys: &[Key],
    since: &BTreeMap<Key, Instant>,
    limit: Duration,
    smtp: &Smtp,
    push: &PushPeer,
    hooks: &Mutex<Hooks>,
) -> BTreeMap<Key, Duration> {
    let start = Instant::now();
    let mut done = BTreeMap::new();
    loop {
        let s = seen(smtp, push, hooks).await;
        for k in keys {
            if !done.contains_key(k) && s.counts(k).iter().all(|n| *n >= 1) {
                done.insert(k.clone(), since[k].elapsed());
            }
        }
        if done.len() == keys.len() {
            return done;
        }
        assert!(
            start.elapsed() < limit,
            "not on every channel within {limit:?}: {:?} (mail, push, webhook counts: {:?})",
            keys.iter()
                .filter(|k| !done.contains_key(*k))
                .collect::<Vec<_>>(),
            keys.iter().map(|k| (k, s.counts(k))).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn bridge_toml(dir: &Path, sim: std::net::SocketAddr, base: &str, token: &str) -> PathBuf {
    let map = workspace_root().join("parlor-bridge/maps/map_a.toml");
    let mut t = format!(
        "bridge_id = \"e2e-alerts\"\nstore = \"{}\"\n\n[server]\nurl = \"{base}/api/v1/ingest/parlor\"\ntoken = \"{token}\"\n",
        dir.join("bridge.db").display()
    );
    for (unit, name) in [(1, "p-stop"), (2, "p-fault"), (3, "p-cow")] {
        t.push_str(&format!(
            "\n[[device]]\nname = \"{name}\"\nfarm = \"{FARM}\"\naddress = \"tcp:{sim}\"\nunit = {unit}\n\
             map = \"{}\"\nstatus_interval_ms = 200\ntotals_interval_ms = 500\nbail_interval_ms = 100\n\
             kpi_interval_s = 5\noffline_after_ms = 5000\n",
            map.display()
        ));
    }
    let path = dir.join("bridge.toml");
    std::fs::write(&path, t).unwrap();
    path
}

async fn the_alerts_reach_mail_push_and_webhook_once(pg: bool) {
    let test = if pg {
        "alerts_e2e_postgres"
    } else {
        "alerts_e2e_sqlite"
    };
    let Some(python) = require_peer_python(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data).unwrap();
    let pg = pg.then(|| {
        let name = format!("agriops_alerts_e2e_{}", std::process::id());
        let ok = Command::new(program("psql", "/usr/bin/psql").expect("psql"))
            .args([&admin_pg(), "-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .expect("psql");
        assert!(ok.success(), "CREATE DATABASE {name}");
        let url = format!("{}/{name}", admin_pg().rsplit_once('/').unwrap().0);
        (url, name)
    });
    let b = Backend { data, pg };
    let admin = |args: &[&str], stdin: Option<&str>| agriops_admin(&b.data, b.url(), args, stdin);
    let farm = printed_id(&admin(
        &[
            "farm",
            "add",
            FARM,
            "--district",
            "kuroiso",
            "--kind",
            "dairy",
        ],
        None,
    ));
    let farm_s = farm.to_string();
    admin(
        &[
            "user",
            "add",
            "milker",
            "--role",
            "dairy",
            "--farm",
            &farm_s,
            "--password-stdin",
        ],
        Some("e2e-password-1234\n"),
    );
    let token_out = admin(&["token", "add", "--farm", &farm_s, "--name", "e2e"], None);
    let token = token_out
        .lines()
        .next()
        .and_then(|l| l.rsplit(": ").next())
        .expect("a token")
        .trim()
        .to_owned();

    let smtp = Smtp::start(&python, dir.path()).await;
    let hooks = Arc::new(Mutex::new(Hooks::default()));
    let hook_port = free_tcp_port();
    let mut receiver = Receiver::start(hook_port, python.clone(), hooks.clone());
    let rules = dir.path().join("alerts.toml");
    std::fs::write(
        &rules,
        format!(
            "[[rule]]\nkind = \"parlor_stopped\"\nminutes = 1\n\n\
             [[rule]]\nkind = \"platform_fault\"\nminutes = 1\n\n\
             [[rule]]\nkind = \"high_conductivity\"\nminutes = 10\n\n\
             [[channel]]\nkind = \"email\"\ntarget = \"milker@example.jp\"\n\n\
             [[channel]]\nkind = \"webhook\"\ntarget = \"http://127.0.0.1:{hook_port}/hook\"\nsecret = \"{SECRET}\"\n"
        ),
    )
    .unwrap();
    admin(
        &[
            "alerts",
            "import",
            "--farm",
            &farm_s,
            rules.to_str().unwrap(),
        ],
        None,
    );

    let port = free_tcp_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(&b, port, smtp.port);
    wait_up(&base).await;

    // The browser's subscription, made as the page's script makes it: the server's VAPID
    // key from the settings page, the subscription posted with the page's CSRF token.
    let client = signed_in(&base, "milker", "e2e-password-1234").await;
    let page = client
        .get(format!("{base}/farms/{farm}/alerts/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let attr = |name: &str| {
        page.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{name} on the settings page"))
            .to_owned()
    };
    let push = PushPeer::start(&python, &attr("data-key"));
    let r = client
        .post(format!("{base}/farms/{farm}/alerts/push"))
        .form(&[
            ("csrf", attr("data-csrf").as_str()),
            (
                "endpoint",
                format!("http://127.0.0.1:{}/push/ok/phone", push.port).as_str(),
            ),
            ("p256dh", push.p256dh.as_str()),
            ("auth", push.auth.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "subscribe: {}", r.status());

    // The simulator: three parlors, no random faults, a long session.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let parlors = sim::serve(
        listener,
        parlor_bridge::RegisterMap::load(&workspace_root().join("parlor-bridge/maps/map_a.toml"))
            .unwrap(),
        SimConfig {
            parlors: 3,
            bails: 12,
            speedup: 40.0,
            seed: 14,
            tick_ms: 50,
            herd_per_bail: 60,
            quiet: true,
            ..SimConfig::default()
        },
        Framing::Tcp,
        None,
    )
    .unwrap();
    let world = parlors.world.clone();
    let cow = |conductivity_ms_cm: f64| Faults {
        cow: Some(InjectedCow {
            bail: COW_BAIL,
            cow_id: COW,
            conductivity_ms_cm,
        }),
        ..Faults::default()
    };
    world.set_faults(3, cow(5.0));
    let config = bridge_toml(dir.path(), parlors.addr, &base, &token);
    let _bridge = KillOnDrop(
        Command::new(agriops())
            .args(["bridge", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("agriops bridge"),
    );

    // The stop and the fault at once; the cow's raised milking once the server holds three
    // ordinary ones of hers.
    let mut since: BTreeMap<Key, Instant> = BTreeMap::new();
    let t0 = Instant::now();
    world.set_faults(
        1,
        Faults {
            stopped: true,
            ..Faults::default()
        },
    );
    world.set_faults(
        2,
        Faults {
            fault: true,
            ..Faults::default()
        },
    );
    since.insert(key("parlor_stopped", "opened"), t0);
    since.insert(key("platform_fault", "opened"), t0);
    let milkings_of_cow = || {
        b.query(&format!(
            "SELECT count(*) FROM milking_events WHERE cow_id = {COW}"
        ))
        .first()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while milkings_of_cow() < 3 {
        assert!(
            Instant::now() < deadline,
            "the cow was not milked 3 times: {:?}",
            b.query(
                "SELECT p.name, m.bail, m.cow_id, m.conductivity FROM milking_events m \
                     JOIN parlors p ON p.id = m.parlor_id ORDER BY m.id DESC LIMIT 20"
            )
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before_raise = milkings_of_cow();
    world.set_faults(3, cow(6.4));
    let t_raise = Instant::now();
    while milkings_of_cow() == before_raise {
        assert!(
            t_raise.elapsed() < Duration::from_secs(60),
            "no raised milking"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Her next milking is ordinary again: that clears the suspicion.
    world.set_faults(3, cow(5.0));
    let t_cow = Instant::now();
    since.insert(key("high_conductivity", "opened"), t_cow);
    let opened = [
        key("parlor_stopped", "opened"),
        key("platform_fault", "opened"),
        key("high_conductivity", "opened"),
    ];
    let open_delays = until_all(&opened, &since, WINDOW + DEADLINE, &smtp, &push, &hooks).await;
    let resolved_cow = [key("high_conductivity", "resolved")];
    since.insert(resolved_cow[0].clone(), t_cow);
    // The stop and the fault end; their clearing follows their next running intervals.
    world.set_faults(1, Faults::default());
    world.set_faults(2, Faults::default());
    let t_clear = Instant::now();
    since.insert(key("parlor_stopped", "resolved"), t_clear);
    since.insert(key("platform_fault", "resolved"), t_clear);
    let resolved = [
        key("parlor_stopped", "resolved"),
        key("platform_fault", "resolved"),
        key("high_conductivity", "resolved"),
    ];
    let clear_delays = until_all(&resolved, &since, WINDOW + DEADLINE, &smtp, &push, &hooks).await;
    // Quiet for a while: nothing may come twice.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s = seen(&smtp, &push, &hooks).await;
    for k in opened.iter().chain(&resolved) {
        assert_eq!(
            s.counts(k),
            [1, 1, 1],
            "{k:?} once by mail, push and webhook"
        );
    }
    let stop_fault_open = WINDOW + DEADLINE;
    for (k, d) in &open_delays {
        let bound = if k.0 == "high_conductivity" {
            DEADLINE
        } else {
            stop_fault_open
        };
        assert!(*d <= bound, "{k:?} took {d:?} (bound {bound:?})");
    }
    let mut report = String::new();
    for (k, d) in open_delays.iter().chain(&clear_delays) {
        report.push_str(&format!(
            "  {}/{}: on all three channels {:.1} s after {}\n",
            k.0,
            k.1,
            d.as_secs_f64(),
            if k.1 == "opened" && k.0 != "high_conductivity" {
                "the fault began (rule window 60 s)"
            } else if k.0 == "high_conductivity" {
                "the raised milking was recorded"
            } else {
                "the fault ended"
            }
        ));
    }

    // kill -9 between the commit and the delivery: the receiver is down, a new fault opens
    // an alert; mail and push go out, the webhook's first attempt fails, and the server is
    // killed in the backoff before the second.
    receiver.stop();
    let hooks_before = hooks.lock().unwrap().accepted.len();
    world.set_faults(
        2,
        Faults {
            fault: true,
            ..Faults::default()
        },
    );
    let failed_attempt = || {
        b.query(
            "SELECT count(*) FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id \
             WHERE a.resolved_at IS NULL AND d.channel = 'webhook' AND d.event = 'opened' \
             AND d.error IS NOT NULL",
        )
        .first()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
    };
    // The open alert's mail and push are finished (a kill while one of them is between its
    // peer's acceptance and its `sent` mark would send it again after the lease: at least
    // once, not this test's case), its webhook message is not.
    let others_done = || {
        b.query(
            "SELECT count(*) FROM alert_outbox o JOIN alerts a ON a.id = o.alert_id \
             JOIN alert_channels c ON c.id = o.channel_id WHERE a.resolved_at IS NULL \
             AND c.kind <> 'webhook' AND o.done_at IS NOT NULL",
        )
        .first()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
    };
    let deadline = Instant::now() + WINDOW + DEADLINE;
    while failed_attempt() == 0 || others_done() < 2 {
        assert!(Instant::now() < deadline, "no failed webhook attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = Command::new("kill")
        .args(["-9", &server.0.id().to_string()])
        .status();
    let _ = server.0.wait();
    let t_kill = Instant::now();
    let pending = b.query(
        "SELECT count(*) FROM alert_outbox o JOIN alert_channels c ON c.id = o.channel_id \
         WHERE c.kind = 'webhook' AND o.done_at IS NULL",
    );
    assert_eq!(
        pending,
        ["1"],
        "the webhook message is committed and not done"
    );
    let mut receiver = Receiver::start(hook_port, python.clone(), hooks.clone());
    let server2 = serve(&b, port, smtp.port);
    wait_up(&base).await;
    // The lease (57 s) must run out before the restarted server takes the message over.
    let lease_limit = Duration::from_secs(57) + DEADLINE;
    loop {
        if hooks.lock().unwrap().accepted.len() > hooks_before {
            break;
        }
        assert!(
            t_kill.elapsed() < lease_limit,
            "the webhook was not delivered after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let redelivered = t_kill.elapsed();
    world.set_faults(2, Faults::default());
    let t_clear2 = Instant::now();
    let deadline = Instant::now() + WINDOW + DEADLINE;
    loop {
        let s = seen(&smtp, &push, &hooks).await;
        if s.counts(&key("platform_fault", "resolved")) == [2, 2, 2] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second fault's clearing: {:?}",
            s.counts(&key("platform_fault", "resolved"))
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cleared2 = t_clear2.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s = seen(&smtp, &push, &hooks).await;
    assert_eq!(
        s.counts(&key("platform_fault", "opened")),
        [2, 2, 2],
        "the second fault's opening once on each channel, the webhook after the restart"
    );
    for k in [
        key("parlor_stopped", "opened"),
        key("parlor_stopped", "resolved"),
        key("high_conductivity", "opened"),
        key("high_conductivity", "resolved"),
    ] {
        assert_eq!(
            s.counts(&k),
            [1, 1, 1],
            "{k:?} not sent again after the restart"
        );
    }
    let second: Vec<i64> = s
        .hook
        .iter()
        .filter(|h| h.0 == key("platform_fault", "opened"))
        .map(|h| h.2)
        .collect();
    assert_eq!(second.len(), 2);
    assert_ne!(second[0], second[1], "two alerts, one webhook message each");
    report.push_str(&format!(
        "  kill -9 after a failed webhook attempt: delivered once {:.1} s after the kill \
         (lease 57 s); the clearing on all three channels {:.1} s after the fault ended\n",
        redelivered.as_secs_f64(),
        cleared2.as_secs_f64()
    ));
    println!(
        "{test}: measured delays\n{report}  (bound: {} s after the rule window)",
        DEADLINE.as_secs()
    );
    receiver.stop();
    drop(server2);
    drop(parlors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_mail_push_and_webhook_once_on_sqlite() {
    the_alerts_reach_mail_push_and_webhook_once(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_mail_push_and_webhook_once_on_postgres() {
    the_alerts_reach_mail_push_and_webhook_once(true).await;
}
