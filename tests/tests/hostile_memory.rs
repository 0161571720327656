//! Hostile uploads against a running `agriops serve`, as an attacker with a farmer's account
//! would send them, many at once: the server answers each with a 4xx (never a 5xx), stays up,
//! and its peak resident memory (VmHWM in /proc) stays under 512 MiB, on SQLite and on
//! PostgreSQL (the same payloads, a fresh server and database each).
//!
//! The payloads are of the kinds the hostile-input probe used, in shapes it did not: a KMZ whose
//! headers lie about the inflated size, one with two 1 GiB entries, a big but honest KML, a
//! GeoJSON of deep nesting and one with a 550 000-vertex ring, and a 60 MiB `.tlog` of noise.
//! Python's `zipfile` builds the archives (it is not the reader under test).

use std::io::Write;
use std::path::Path;
use std::process::Command;

use agriops_e2e::{ScratchPg, agriops_admin, printed_id, signed_in};

/// The ceiling the issue sets for the whole server.
const MAX_RSS_KIB: u64 = 512 * 1024;

/// Builds the archives with Python's zipfile into `dir`.
fn build_archives(dir: &Path) {
    let script = r#"
import sys, zipfile, zlib, struct, os
d = sys.argv[1]
# Two 1 GiB entries of spaces: only the KML one is read, and only up to the limit.
with zipfile.ZipFile(os.path.join(d, "two_gib.kmz"), "w", zipfile.ZIP_DEFLATED) as z:
    for name in ("doc.kml", "other.kml"):
        with z.open(name, "w", force_zip64=True) as f:
            block = b" " * (1 << 20)
            f.write(b"<kml>")
            for _ in range(1024):
                f.write(block)
# One entry whose local and central headers say 100 bytes but that inflates to 512 MiB.
path = os.path.join(d, "lying.kmz")
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("doc.kml", "w", force_zip64=False) as f:
        block = b"<a/>" * (1 << 18)
        for _ in range(512):
            f.write(block)
data = bytearray(open(path, "rb").read())
# Patch every "uncompressed size" field (local header offset 22, central header offset 24).
i = 0
while True:
    i = data.find(b"PK\x03\x04", i)
    if i < 0: break
    struct.pack_into("<I", data, i + 22, 100); i += 4
i = 0
while True:
    i = data.find(b"PK\x01\x02", i)
    if i < 0: break
    struct.pack_into("<I", data, i + 24, 100); i += 4
open(path, "wb").write(bytes(data))
# An honest KML of about 60 MiB of distinct placemarks, zipped (~8:1).
with zipfile.ZipFile(os.path.join(d, "big_honest.kmz"), "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("doc.kml", "w", force_zip64=True) as f:
        f.write(b"<kml><Document>")
        n = 0
        while n < 60 << 20:
            k = n // 400
            lon, lat = 139.9 + (k % 1000) * 1e-4, 36.9 + (k // 1000) * 1e-4
            s = ("<Placemark><name>p%d</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
                 "%.7f,%.7f %.7f,%.7f %.7f,%.7f %.7f,%.7f</coordinates></LinearRing>"
                 "</outerBoundaryIs></Polygon></Placemark>\n") % (
                k, lon, lat, lon + 5e-5, lat, lon + 5e-5, lat + 5e-5, lon, lat)
            b = s.encode(); f.write(b); n += len(b)
        f.write(b"</Document></kml>")
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "building the archives: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A GeoJSON polygon ring of `n` vertices on a small circle (valid, just very detailed).
fn many_vertices(n: usize) -> Vec<u8> {
    let mut s = String::from(
        r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[["#,
    );
    for i in 0..=n {
        let a = (i % n) as f64 / n as f64 * std::f64::consts::TAU;
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "[{:.9},{:.9}]",
            139.98 + 0.002 * a.cos(),
            36.97 + 0.002 * a.sin()
        ));
    }
    s.push_str("]]}}");
    s.into_bytes()
}

/// The server's peak and current resident memory, KiB (VmHWM, VmRSS).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The CSRF token of a page's first form.
async fn csrf(client: &reqwest::Client, url: &str) -> String {
    let page = client
        .get(url)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("page");
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token")
        .to_owned()
}

/// Posts one file to a multipart form and returns the status.
async fn upload(
    client: &reqwest::Client,
    url: &str,
    csrf: &str,
    field: &str,
    name: &str,
    body: Vec<u8>,
) -> u16 {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .part(
            field.to_owned(),
            reqwest::multipart::Part::bytes(body).file_name(name.to_owned()),
        );
    match client.post(url).multipart(form).send().await {
        Ok(r) => r.status().as_u16(),
        // The server may close a connection whose body is over its limit before reading it.
        Err(e) if e.is_request() || e.is_body() => 413,
        Err(e) => panic!("{url} {name}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_uploads_keep_the_server_up_and_under_512_mib() {
    let archives = tempfile::tempdir().expect("tempdir");
    build_archives(archives.path());
    probe(archives.path(), None, "SQLite").await;
    let pg = ScratchPg::create("hostile");
    probe(archives.path(), Some(&pg.url), "PostgreSQL").await;
}

/// One backend: a fresh server on `db_url` (SQLite in its data folder when `None`), the
/// payloads from `archives` one by one and then three times over at once, and the checks.
async fn probe(archives: &Path, db_url: Option<&str>, label: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let farm = printed_id(&agriops_admin(
        &data,
        db_url,
        &[
            "farm",
            "add",
            "攻撃農場",
            "--district",
            "kuroiso",
            "--kind",
            "crop",
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
            "mallory",
            "--role",
            "farmer",
            "--farm",
            &farm,
            "--password-stdin",
        ],
        Some("mallory-password-1\n"),
    );
    let log = dir.path().join("serve.log");
    let (server, base) = agriops_e2e::serve_on(
        &data,
        db_url,
        std::fs::File::create(&log).expect("log").into(),
    )
    .await;
    let pid = server.0.id();
    let client = signed_in(&base, "mallory", "mallory-password-1").await;
    let token = csrf(&client, &format!("{base}/fields")).await;
    let (idle, _) = memory_kib(pid);

    // A small honest field and a plan, for the flight upload.
    let paddy = std::fs::read(
        agriops_e2e::workspace_root().join("samples/fields/paddy_with_zones.geojson"),
    )
    .expect("sample field");
    let import = format!("{base}/fields/import");
    assert_eq!(
        upload(&client, &import, &token, "file", "paddy.geojson", paddy).await,
        200
    );

    let read = |name: &str| std::fs::read(archives.join(name)).expect("archive");
    let mut deep = Vec::with_capacity(15 << 20);
    deep.extend_from_slice(br#"{"type":"Polygon","coordinates":"#);
    deep.resize(15 << 20, b'[');
    let payloads: Vec<(&str, Vec<u8>)> = vec![
        ("two_gib.kmz", read("two_gib.kmz")),
        ("lying.kmz", read("lying.kmz")),
        ("big_honest.kmz", read("big_honest.kmz")),
        ("deep.geojson", deep),
        ("vertices.geojson", many_vertices(550_000)),
    ];
    for (name, body) in &payloads {
        eprintln!("{label}, {name}: {} KiB", body.len() / 1024);
    }
    // Each payload alone, then all of them three times over at once.
    let mut statuses = Vec::new();
    for (name, body) in &payloads {
        let s = upload(&client, &import, &token, "file", name, body.clone()).await;
        eprintln!(
            "{label}, {name}: HTTP {s}, peak {} MiB",
            memory_kib(pid).0 / 1024
        );
        statuses.push((name.to_string(), s));
    }
    let mut tasks = Vec::new();
    for round in 0..3 {
        for (name, body) in &payloads {
            let (client, import, token) = (client.clone(), import.clone(), token.clone());
            let (name, body) = (format!("{name} #{round}"), body.clone());
            tasks.push(tokio::spawn(async move {
                let s = upload(&client, &import, &token, "file", &name, body).await;
                (name, s)
            }));
        }
    }
    for t in tasks {
        statuses.push(t.await.expect("upload task"));
    }
    // A 60 MiB flight log of noise on the plan of the honest field.
    let field_page = client
        .get(format!("{base}/fields"))
        .send()
        .await
        .expect("fields")
        .text()
        .await
        .expect("fields page");
    let field_id: i64 = field_page
        .split("href=\"/fields/")
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .next()
        .expect("the imported field");
    let plan_token = csrf(&client, &format!("{base}/fields/{field_id}")).await;
    let planned = client
        .post(format!("{base}/fields/{field_id}/plan"))
        .form(&[
            ("csrf", plan_token.as_str()),
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
    let plan_url = planned.url().path().to_owned();
    assert!(plan_url.starts_with("/plans/"), "planned to {plan_url}");
    let mut noise = vec![0u8; 60 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let tlog_token = csrf(&client, &format!("{base}{plan_url}")).await;
    let s = upload(
        &client,
        &format!("{base}{plan_url}/flights"),
        &tlog_token,
        "tlog",
        "noise.tlog",
        noise,
    )
    .await;
    eprintln!("{label}, noise.tlog: HTTP {s}");
    statuses.push(("noise.tlog".into(), s));

    let (peak, now) = memory_kib(pid);
    eprintln!(
        "{label}: server memory: idle {} MiB, peak {} MiB, now {} MiB (ceiling {} MiB)",
        idle / 1024,
        peak / 1024,
        now / 1024,
        MAX_RSS_KIB / 1024
    );
    let server_errors: Vec<_> = statuses.iter().filter(|(_, s)| *s >= 500).collect();
    assert!(
        server_errors.is_empty(),
        "{label}: 5xx answers: {server_errors:?}\nserver log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let accepted: Vec<_> = statuses.iter().filter(|(_, s)| *s < 400).collect();
    assert!(
        accepted.is_empty(),
        "{label}: hostile uploads accepted: {accepted:?}"
    );
    assert!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success()),
        "{label}: the server is down after the uploads"
    );
    assert!(
        peak < MAX_RSS_KIB,
        "{label}: peak resident memory {} MiB, over {} MiB",
        peak / 1024,
        MAX_RSS_KIB / 1024
    );
    drop(server);
    let _ = std::io::stderr().flush();
}
