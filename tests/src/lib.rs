//! Helpers shared by the end-to-end tests: where `../shared` is, which Python runs the peers,
//! and whether a missing peer is a skip (a plain clone) or a failure (CI).
//!
//! The tests themselves live in `tests/tests/*.rs`, one file per real peer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The ArduPilot SITL rig of the real-autopilot tests.
pub mod sitl;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_path_buf()
}

/// True when missing peers must fail the run instead of being skipped (`AGRIOPS_REQUIRE_SHARED=1`, set by `.ci/run`).
pub fn shared_required() -> bool {
    std::env::var("AGRIOPS_REQUIRE_SHARED").is_ok_and(|v| v == "1")
}

/// The `shared/` folder beside the checkout (or `AGRIOPS_SHARED`), if it exists.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("AGRIOPS_SHARED") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("..").join("shared"),
    };
    dir.is_dir().then(|| dir.canonicalize().unwrap_or(dir))
}

/// The `shared/` folder, or `None` after printing why the calling test is skipped.
///
/// # Panics
/// When `AGRIOPS_REQUIRE_SHARED=1` and the folder is absent: CI insists that these tests run.
pub fn require_shared(test: &str) -> Option<PathBuf> {
    match shared_dir() {
        Some(d) => Some(d),
        None if shared_required() => {
            panic!("{test}: ../shared is absent but AGRIOPS_REQUIRE_SHARED=1")
        }
        None => {
            eprintln!("SKIP {test}: ../shared is absent beside the checkout (set AGRIOPS_SHARED)");
            None
        }
    }
}

/// The three smallest fields of `shared`'s public set besides the Chofu paddy (which the
/// tests fly from `samples/`), then the fields named `also`, each written alone to
/// `dir/{id}.geojson`: the unseen fields the flight tests plan with the defaults and fly.
pub fn small_shared_fields(shared: &Path, dir: &Path, also: &[&str]) -> Vec<PathBuf> {
    let all: serde_json::Value = serde_json::from_slice(
        &std::fs::read(shared.join("fields/fields.geojson")).expect("the shared fields"),
    )
    .expect("GeoJSON");
    let mut fields: Vec<(f64, &serde_json::Value)> = all["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter(|f| f["properties"]["id"] != "jp_chofu_fude_osm_rice_01")
        .filter_map(|f| Some((f["properties"]["area_ha"].as_f64()?, f)))
        .collect();
    fields.sort_by(|a, b| a.0.total_cmp(&b.0));
    let named = fields
        .iter()
        .filter(|(_, f)| also.iter().any(|id| f["properties"]["id"] == *id));
    fields
        .iter()
        .take(3)
        .chain(named)
        .map(|(_, f)| {
            let id = f["properties"]["id"].as_str().expect("id");
            let path = dir.join(format!("{id}.geojson"));
            let one = serde_json::json!({"type": "FeatureCollection", "features": [f]});
            std::fs::write(&path, one.to_string()).expect("write the field");
            path
        })
        .collect()
}

/// The Python interpreter that has the peers' requirements installed (`AGRIOPS_PEER_PYTHON`,
/// else `.venv-peers/bin/python` in the workspace), if any.
pub fn peer_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AGRIOPS_PEER_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = workspace_root().join(".venv-peers/bin/python");
    p.exists().then_some(p)
}

/// The peer Python, or `None` after printing why the calling test is skipped.
///
/// # Panics
/// When `AGRIOPS_REQUIRE_SHARED=1` and no peer Python is set up (run `scripts/setup-peers.sh`).
pub fn require_peer_python(test: &str) -> Option<PathBuf> {
    match peer_python() {
        Some(p) => Some(p),
        None if shared_required() => panic!(
            "{test}: no peer Python (run scripts/setup-peers.sh) but AGRIOPS_REQUIRE_SHARED=1"
        ),
        None => {
            eprintln!("SKIP {test}: no peer Python; run scripts/setup-peers.sh");
            None
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound then released; good enough for tests that start a peer at once).
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on loopback")
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral UDP port on loopback")
}

/// A child process that is killed when dropped, so a failing test never leaves a peer running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `path` exists, up to `timeout`; true if it appeared.
pub fn wait_for_file(path: &Path, timeout: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if path.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    path.exists()
}

/// Runs a command to completion within `limit`, killing it if it overruns.
pub fn run_bounded(
    cmd: &mut std::process::Command,
    limit: std::time::Duration,
) -> (bool, String, String) {
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(out)) => (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        _ => {
            let _ = std::process::Command::new("kill")
                .arg(id.to_string())
                .status();
            panic!("command overran {limit:?}: {cmd:?}");
        }
    }
}

/// An installed program: at its usual path, else the first on `PATH`.
pub fn program(name: &str, fixed: &str) -> Option<PathBuf> {
    if Path::new(fixed).exists() {
        return Some(PathBuf::from(fixed));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.exists())
    })
}

/// Waits (up to 15 s) until 127.0.0.1:`port` accepts connections (`up`) or refuses them.
pub async fn wait_port(port: u16, up: bool) {
    for _ in 0..600 {
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

/// A broker on a free port with its database in a temporary folder: a stop (SIGTERM) and a
/// start keep the subscriber's persistent session and what was queued for it.
pub struct Broker {
    bin: PathBuf,
    conf: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// Starts `bin` (mosquitto) on a free port with its own configuration and database.
    pub async fn start(bin: PathBuf) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        // Started as root, Mosquitto drops to its own user, which must still write its database.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let port = free_tcp_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 100000\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let mut b = Broker {
            bin,
            conf,
            port,
            child: None,
            _dir: dir,
        };
        b.up().await;
        b
    }

    /// Starts it (again) with the same configuration and database.
    pub async fn up(&mut self) {
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

    /// Stops it cleanly (SIGTERM: it writes its database) and waits for the port to close.
    pub async fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        wait_port(self.port, false).await;
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The `agriops` binary: `AGRIOPS_BIN`, else the one the test harness built before the tests run.
pub fn agriops() -> PathBuf {
    if let Some(bin) = std::env::var_os("AGRIOPS_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let bin = target.join("debug/agriops");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p web --bin agriops` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Starts `agriops serve` on a free loopback port over the data folder `data` (SQLite), its
/// log written to `stderr`, and waits until `/healthz` answers; returns the server and its
/// base URL.
pub async fn serve(data: &Path, stderr: Stdio) -> (KillOnDrop, String) {
    serve_on(data, None, stderr).await
}

/// Like [`serve`], on the database at `db_url` when given (PostgreSQL), else `data`'s SQLite.
pub async fn serve_on(data: &Path, db_url: Option<&str>, stderr: Stdio) -> (KillOnDrop, String) {
    let port = free_tcp_port();
    let mut cmd = Command::new(agriops());
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data);
    if let Some(url) = db_url {
        cmd.args(["--database-url", url]);
    }
    let server = KillOnDrop(
        cmd.env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("agriops serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "agriops serve did not come up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (server, base)
}

/// A fresh PostgreSQL database on the test server (`AGRIOPS_TEST_PG`, else
/// `postgres://postgres@127.0.0.1:5432/postgres`), dropped again when this is dropped.
pub struct ScratchPg {
    /// The URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
    psql: PathBuf,
}

impl ScratchPg {
    /// Creates the database `agriops_{tag}_{pid}`.
    ///
    /// # Panics
    /// Without `psql`, or when the server refuses to create it.
    pub fn create(tag: &str) -> ScratchPg {
        let psql = program("psql", "/usr/bin/psql").expect("psql (PostgreSQL's client)");
        let admin_url = std::env::var("AGRIOPS_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("agriops_{tag}_{}", std::process::id());
        let created = Command::new(&psql)
            .args([
                admin_url.as_str(),
                "-qc",
                &format!("CREATE DATABASE {name}"),
            ])
            .status()
            .expect("psql");
        assert!(created.success(), "CREATE DATABASE {name}");
        let url = format!("{}/{name}", admin_url.rsplit_once('/').expect("url").0);
        ScratchPg {
            url,
            admin_url,
            name,
            psql,
        }
    }
}

impl Drop for ScratchPg {
    fn drop(&mut self) {
        let _ = Command::new(&self.psql)
            .args([
                self.admin_url.as_str(),
                "-qc",
                &format!("DROP DATABASE {} WITH (FORCE)", self.name),
            ])
            .status();
    }
}

/// A cookie-keeping client signed in through the real sign-in form as `user`.
pub async fn signed_in(base: &str, user: &str, password: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("HTTP client");
    let form = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .expect("the sign-in form");
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the sign-in form has a CSRF token")
        .to_owned();
    let r = client
        .post(format!("{base}/login"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .expect("POST /login");
    assert!(r.status().is_success(), "sign-in as {user}: {}", r.status());
    client
}

/// Runs an `agriops` administration subcommand (`farm`, `user`, `token` …: `args[0]` is the
/// subcommand, the rest its action) on the data folder `data` or the database `db_url`, with
/// `stdin` as its input; returns what it printed, failing the test if it failed.
pub fn agriops_admin(
    data: &Path,
    db_url: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> String {
    use std::io::Write;
    // `agriops farm|user|token [--data-dir D] [--database-url U] ACTION …`
    let mut cmd = Command::new(agriops());
    cmd.arg(args[0]).arg("--data-dir").arg(data);
    if let Some(url) = db_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agriops admin");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("agriops admin");
    assert!(
        out.status.success(),
        "agriops {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `(id N)` an `agriops` administration command printed.
pub fn printed_id(out: &str) -> i64 {
    out.split("(id ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {out:?}"))
}
