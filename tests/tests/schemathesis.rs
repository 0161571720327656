//! The JSON API under generated input: schemathesis (from PyPI, in the peers' venv) reads
//! `/api/openapi.json` from a running `agriops serve` and sends every operation examples,
//! boundary values and fuzzed bodies, signed in as a farmer and with a bridge token, on
//! SQLite and on PostgreSQL. No answer may be a 5xx, and the server must still be up after.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agriops_e2e::{
    KillOnDrop, ScratchPg, agriops, agriops_admin, free_tcp_port, printed_id, require_peer_python,
};
use reqwest::cookie::CookieStore;

/// Examples per operation and phase; with the fixed seed the run is the same every time.
const EXAMPLES: &str = "60";
const SEED: &str = "20261206";

/// Signs in through the form and returns the session cookie's value.
async fn session_cookie(base: &str, user: &str, password: &str) -> String {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .expect("client");
    let form = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("login page");
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("CSRF token")
        .to_owned();
    let r = client
        .post(format!("{base}/login"))
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .expect("sign in");
    assert!(r.status().is_success(), "sign in: {}", r.status());
    let url: reqwest::Url = base.parse().expect("url");
    let cookies = jar.cookies(&url).expect("cookies after sign-in");
    cookies
        .to_str()
        .expect("cookie text")
        .split("; ")
        .find_map(|c| c.strip_prefix("agriops_session="))
        .expect("a session cookie")
        .to_owned()
}

/// One backend: seed a farm, a farmer and a bridge token, serve, run schemathesis.
async fn fuzz_backend(python: &Path, db_url: Option<&str>, label: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let farm = printed_id(&agriops_admin(
        &data,
        db_url,
        &[
            "farm",
            "add",
            "生成農場",
            "--district",
            "kuroiso",
            "--kind",
            "mixed",
        ],
        None,
    ))
    .to_string();
    agriops_admin(
        &data,
        db_url,
        &[
            "user",
            "add",
            "fuzz",
            "--role",
            "farmer",
            "--farm",
            &farm,
            "--password-stdin",
        ],
        Some("fuzz-password-1\n"),
    );
    agriops_admin(
        &data,
        db_url,
        &[
            "user",
            "add",
            "fuzzd",
            "--role",
            "dairy",
            "--farm",
            &farm,
            "--password-stdin",
        ],
        Some("fuzz-password-2\n"),
    );
    let token_out = agriops_admin(
        &data,
        db_url,
        &["token", "add", "--farm", &farm, "--name", "fuzz-bridge"],
        None,
    );
    let token = token_out
        .lines()
        .find_map(|l| l.split(": ").nth(1))
        .expect("the printed token")
        .trim()
        .to_owned();
    let port = free_tcp_port();
    let mut serve = Command::new(agriops());
    serve
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data);
    if let Some(url) = db_url {
        serve.args(["--database-url", url]);
    }
    let _server = KillOnDrop(
        serve
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("agriops serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{label}: the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The farmer reaches fields, plans, vehicles and flights; the bridge token the ingest;
    // the dairy operator the parlors (a farmer is refused them).
    let farmer = session_cookie(&base, "fuzz", "fuzz-password-1").await;
    let dairy = session_cookie(&base, "fuzzd", "fuzz-password-2").await;
    for (who, session, only) in [
        ("farmer", &farmer, None),
        ("dairy", &dairy, Some("^/api/v1/parlors")),
    ] {
        let mut cmd = Command::new(python.with_file_name("schemathesis"));
        cmd.args(["run", &format!("{base}/api/openapi.json")])
            .args(["--url", &base])
            .args(["--checks", "not_a_server_error"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", EXAMPLES, "--seed", SEED])
            .args(["--workers", "2", "--no-color"])
            .args(["--suppress-health-check", "all"])
            .args(["-H", &format!("Cookie: agriops_session={session}")])
            .args(["-H", &format!("Authorization: Bearer {token}")]);
        if let Some(re) = only {
            cmd.args(["--include-path-regex", re]);
        }
        let out = cmd
            .current_dir(dir.path())
            .output()
            .expect("run schemathesis");
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!("{label}, {who}: schemathesis\n{text}");
        assert!(
            out.status.success(),
            "{label}, {who}: schemathesis found server errors:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let alive = reqwest::get(format!("{base}/healthz")).await;
    assert!(
        alive.is_ok_and(|r| r.status().is_success()),
        "{label}: the server is down after the run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_api_requests_get_no_server_error_on_sqlite_and_postgres() {
    let test = "generated_api_requests_get_no_server_error_on_sqlite_and_postgres";
    let Some(python) = require_peer_python(test) else {
        return;
    };
    if !python.with_file_name("schemathesis").exists() {
        panic!("{test}: schemathesis is not in the peers' venv: run scripts/setup-peers.sh");
    }
    fuzz_backend(&python, None, "SQLite").await;

    let pg = ScratchPg::create("fuzz");
    fuzz_backend(&python, Some(&pg.url), "PostgreSQL").await;
}
