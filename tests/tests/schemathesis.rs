//! The JSON API and the HTML forms under generated input: schemathesis (from PyPI, in the
//! peers' venv) reads `/api/openapi.json` from a running `agriops serve` and sends every
//! operation examples, boundary values and fuzzed bodies (urlencoded and multipart forms too),
//! signed in as a farmer, a dairy operator and an admin, with each session's CSRF token put in
//! every form body (a hook) and a bridge token, on SQLite and on PostgreSQL. A field and a plan
//! are made first, so the plan routes see a real id as well as unknown ones. No answer may be a
//! 5xx, and the server must still be up after.

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

/// A signed-in session: its cookie's value, its CSRF token and a client that carries it.
struct Session {
    cookie: String,
    csrf: String,
    client: reqwest::Client,
}

/// The CSRF token of the first form of the page at `url`.
async fn page_csrf(client: &reqwest::Client, url: &str) -> String {
    let page = client
        .get(url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("page");
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("CSRF token")
        .to_owned()
}

/// Signs in through the form; returns the session.
async fn sign_in(base: &str, user: &str, password: &str) -> Session {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .expect("client");
    let csrf = page_csrf(&client, &format!("{base}/login")).await;
    let r = client
        .post(format!("{base}/login"))
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .expect("sign in");
    assert!(r.status().is_success(), "sign in: {}", r.status());
    let url: reqwest::Url = base.parse().expect("url");
    let cookies = jar.cookies(&url).expect("cookies after sign-in");
    let cookie = cookies
        .to_str()
        .expect("cookie text")
        .split("; ")
        .find_map(|c| c.strip_prefix("agriops_session="))
        .expect("a session cookie")
        .to_owned();
    let csrf = page_csrf(&client, &format!("{base}/account")).await;
    Session {
        cookie,
        csrf,
        client,
    }
}

/// The schemathesis hook: every form body carries the session's CSRF token (from
/// `AGRIOPS_CSRF`), and every other request to a route of a farm, field or plan names the
/// seeded one (`AGRIOPS_IDS`: path prefix → id), so those routes answer with real rows as well
/// as with 403s and 404s.
const HOOKS: &str = r#"
import itertools, json, os
import schemathesis

CSRF = os.environ["AGRIOPS_CSRF"]
IDS = json.loads(os.environ["AGRIOPS_IDS"])
FLIP = itertools.cycle([True, False])

@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if isinstance(case.body, dict) and case.operation.method.upper() == "POST" \
            and path != "/api/v1/ingest/parlor":
        case.body["csrf"] = CSRF
    for prefix, real in IDS.items():
        if path.startswith(prefix + "{id}") and next(FLIP):
            case.path_parameters["id"] = real
"#;

/// Imports the sample field and plans it as `farmer`; returns the field's and the plan's ids.
async fn seed_plan(base: &str, farmer: &Session) -> (i64, i64) {
    let paddy = std::fs::read(
        agriops_e2e::workspace_root().join("samples/fields/paddy_with_zones.geojson"),
    )
    .expect("sample field");
    let form = reqwest::multipart::Form::new()
        .text("csrf", farmer.csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(paddy).file_name("paddy.geojson"),
        );
    let r = farmer
        .client
        .post(format!("{base}/fields/import"))
        .multipart(form)
        .send()
        .await
        .expect("import");
    assert_eq!(r.status().as_u16(), 200, "importing the seed field");
    let page = r.text().await.expect("field list");
    let field: i64 = page
        .split("href=\"/fields/")
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .next()
        .expect("the imported field");
    let planned = farmer
        .client
        .post(format!("{base}/fields/{field}/plan"))
        .form(&[
            ("csrf", farmer.csrf.as_str()),
            ("swath_width", "5"),
            ("rate_l_per_10a", "0.8"),
            ("tank_l", "10"),
            ("endurance_min", "10"),
            ("speed_mps", "5"),
            ("height_m", "2"),
            ("headland_passes", "1"),
            ("drift_buffer_m", "5"),
            ("autopilot", "ardupilot"),
        ])
        .send()
        .await
        .expect("plan");
    let path = planned.url().path().to_owned();
    let plan = path
        .strip_prefix("/plans/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("planning the seed field went to {path}"));
    (field, plan)
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
    for (name, role, password) in [
        ("fuzza", "admin", "fuzz-password-3\n"),
        ("fuzzout", "farmer", "fuzz-password-4\n"),
    ] {
        let mut args = vec!["user", "add", name, "--role", role];
        if role != "admin" {
            args.extend(["--farm", &farm]);
        }
        args.push("--password-stdin");
        agriops_admin(&data, db_url, &args, Some(password));
    }
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
    // Every session is made before any run: the runs post to /login too, and its limiter
    // would soon refuse this address a real sign-in.
    let farmer = sign_in(&base, "fuzz", "fuzz-password-1").await;
    let dairy = sign_in(&base, "fuzzd", "fuzz-password-2").await;
    let admin = sign_in(&base, "fuzza", "fuzz-password-3").await;
    let leaving = sign_in(&base, "fuzzout", "fuzz-password-4").await;
    let (field, plan) = seed_plan(&base, &farmer).await;
    let ids = serde_json::json!({
        "/api/v1/plans/": plan,
        "/plans/": plan,
        "/fields/": field,
        "/farms/": farm.parse::<i64>().expect("farm id"),
    })
    .to_string();
    let hooks = dir.path().join("agriops_hooks.py");
    std::fs::write(&hooks, HOOKS).expect("hooks");
    // The farmer reaches fields, plans, vehicles, flights, records and alerts (and is refused
    // the rest); the bridge token the ingest; the dairy operator the parlors and the alerts; the
    // admin the admin forms. Sign-out, which ends the session it is sent with, runs last of the
    // farms' sessions, on a session of its own.
    for (who, session, include, exclude) in [
        ("farmer", &farmer, None, Some("^/logout$")),
        ("dairy", &dairy, Some("^/api/v1/parlors|^/farms/"), None),
        ("sign-out", &leaving, Some("^/logout$"), None),
        ("admin", &admin, Some("^/admin"), None),
    ] {
        let mut cmd = Command::new(python.with_file_name("schemathesis"));
        cmd.args(["run", &format!("{base}/api/openapi.json")])
            .args(["--url", &base])
            .args(["--checks", "not_a_server_error"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", EXAMPLES, "--seed", SEED])
            // One worker: two threads in Python 3.11's `ast.parse` (hypothesis describing its
            // filters) raise "AST constructor recursion depth mismatch" now and then.
            .args(["--workers", "1", "--no-color"])
            .args(["--suppress-health-check", "all"])
            .args(["-H", &format!("Cookie: agriops_session={}", session.cookie)])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .env("SCHEMATHESIS_HOOKS", "agriops_hooks")
            .env("PYTHONPATH", dir.path())
            .env("AGRIOPS_CSRF", &session.csrf)
            .env("AGRIOPS_IDS", &ids);
        if let Some(re) = include {
            cmd.args(["--include-path-regex", re]);
        }
        if let Some(re) = exclude {
            cmd.args(["--exclude-path-regex", re]);
        }
        let started = Instant::now();
        let out = cmd
            .current_dir(dir.path())
            .output()
            .expect("run schemathesis");
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "{label}, {who}: schemathesis ({:.0} s)\n{text}",
            started.elapsed().as_secs_f64()
        );
        assert!(
            out.status.success(),
            "{label}, {who}: schemathesis found server errors:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The seeded rows were reached, not only unknown ids: the server's own request counts
    // (`/metrics` answers this machine) show 200s on the plan's JSON route, which nothing
    // else here requests.
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics");
    let served: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("agriops_http_requests_total{")
                && l.contains("method=\"GET\"")
                && l.contains("route=\"/api/v1/plans/{id}\"")
                && l.contains("status=\"200\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        served >= 1.0,
        "{label}: no 200 on GET /api/v1/plans/{{id}} in\n{metrics}"
    );
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
