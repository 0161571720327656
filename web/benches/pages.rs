//! Load benchmark of the main pages on loopback: an open-loop client sends a fixed request rate
//! (default 1 000 requests/s) to a real `agriops` server over TCP and prints p50/p99 latency per
//! page. Latency is measured from each request's *scheduled* start, so a stalled server cannot
//! hide its queueing (no coordinated omission). SQLite by default; set `AGRIOPS_BENCH_DB` to a
//! `postgres://…/db` URL (an empty database) to measure PostgreSQL.
//!
//! Each page first gets `AGRIOPS_BENCH_WARMUP_SECS` (default 1) of the same load, not counted,
//! so the numbers are those of a running server, not of its pools opening.
//!
//! `cargo bench -p web --bench pages` (env: `AGRIOPS_BENCH_RPS`, `AGRIOPS_BENCH_SECS`).

use std::time::{Duration, Instant};

use chrono::Utc;
use parlor_bridge::wire::{IngestBatch, KpiInterval, MilkingEvent, Record, WIRE_VERSION};
use web::http::{
    router::app,
    state::{AppState, Settings},
};
use web::storage::{Db, NewField, NewPlan, NewUser, Role};

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seeds a farm with a parlor (a day of one-minute intervals and milkings), a field with a
/// plan, and a staff user; returns (session cookie, parlor id, field id, plan id).
async fn seed(db: &Db) -> (String, i64, i64, i64) {
    let d = db.districts().await.unwrap();
    let farm = db.create_farm(d[0].id, "bench", "mixed", "").await.unwrap();
    let tok = db
        .create_bridge_token(farm.id, "b", "bench-token-hash")
        .await
        .unwrap();
    let end = Utc::now();
    let mut records = Vec::new();
    for m in 0..1440i64 {
        let start = end - chrono::Duration::minutes(1440 - m);
        records.push(Record::Interval(KpiInterval {
            key: format!("p/{m}"),
            parlor: "rotary-60".into(),
            farm: "bench".into(),
            unit: 1,
            start,
            end: start + chrono::Duration::minutes(1),
            online_s: 60.0,
            cows: 5.0,
            kg: 62.0,
            cows_per_hour: 300.0,
            kg_per_hour: 3720.0,
            cows_per_hour_rolling: 300.0,
            milkings: 5,
            rotation_s: Some(540.0),
            occupancy: Some(0.9),
            idle_bails: 0.0,
            kickoffs: 0.0,
            reattaches: 0.0,
            stops: 0.0,
            washes: 0,
            high_conductivity_alerts: 0,
            state: "running".into(),
            milk_temp_c: None,
            alarms: Vec::new(),
        }));
        for b in 0..5u16 {
            records.push(Record::Milking(MilkingEvent {
                key: format!("p/{b}/{m}"),
                parlor: "rotary-60".into(),
                farm: "bench".into(),
                unit: 1,
                bail: b + 1,
                epoch: 0,
                seq: m as u64,
                t: start,
                controller_t: None,
                cow_id: 1_000 + m as u64,
                yield_kg: 12.4,
                duration_s: Some(400.0),
                conductivity_ms_cm: Some(5.0),
                high_conductivity: false,
                missed_before: 0,
            }));
        }
    }
    for (i, chunk) in records.chunks(500).enumerate() {
        let batch = IngestBatch {
            version: WIRE_VERSION,
            bridge_id: "b".into(),
            batch_key: format!("k{i}"),
            records: chunk.to_vec(),
        };
        db.ingest_batch(tok, farm.id, &batch).await.unwrap();
    }
    let parlor = db.parlors_of_farm(farm.id).await.unwrap()[0].id;
    let fc = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"f1","kind":"field","name":"f1"},"geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}}]}"#;
    let field = db
        .create_field(&NewField {
            farm_id: farm.id,
            name: "f1",
            crop: "水稲",
            fude_polygon_id: None,
            land_type: None,
            geojson: fc,
            area_ha: 0.72,
        })
        .await
        .unwrap();
    let set = mission_planner::read_fields(fc.as_bytes()).unwrap();
    let f = set.fields.into_iter().next().unwrap().unwrap();
    let p = mission_planner::plan(
        &f,
        &mission_planner::PlanConfig::new(mission_planner::SwathWidth::new(5.0).unwrap()),
    )
    .unwrap();
    let ap = mission_planner::Autopilot::ArduPilot;
    let plan = db
        .create_plan(&NewPlan {
            field_id: field.id,
            config_json: "{}",
            report_json: &serde_json::to_string(&p.report).unwrap(),
            plan_file: &mission_planner::to_qgc_plan(&p, ap, None),
            geojson: &mission_planner::to_geojson(&p),
            waypoints_file: &mission_planner::to_waypoints(&p, ap, None),
            kml_file: &mission_planner::to_kml(&p),
            autopilot: "ardupilot",
        })
        .await
        .unwrap();
    let hash = web::services::credentials::hash_password("bench-password").unwrap();
    let u = db
        .create_user(&NewUser {
            username: "bench",
            display_name: "bench",
            password_hash: &hash,
            role: Role::Staff,
            farm_id: None,
            lang: "ja",
        })
        .await
        .unwrap();
    let token = web::services::credentials::new_token();
    db.create_session(
        &web::services::credentials::token_hash(&token),
        u.id,
        "csrf",
        Utc::now() + chrono::Duration::hours(2),
    )
    .await
    .unwrap();
    (
        format!("{}={token}", web::http::auth::SESSION_COOKIE),
        parlor,
        field.id,
        plan,
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Sends `n` GETs of `url` at `rps` per second, open loop; returns the sorted latencies (from
/// each request's scheduled start) and the number of failures.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
    rps: u64,
    n: u64,
) -> (Vec<Duration>, u64) {
    let period = Duration::from_secs_f64(1.0 / rps as f64);
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let due = start + period * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let req = client.get(url).header("cookie", cookie);
        tasks.push(tokio::spawn(async move {
            let ok = match req.send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            (due.elapsed(), ok)
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for t in tasks {
        let (d, ok) = t.await.unwrap();
        lat.push(d);
        errors += u64::from(!ok);
    }
    lat.sort();
    (lat, errors)
}

fn main() {
    let rps = env_num("AGRIOPS_BENCH_RPS", 1000).max(1);
    let secs = env_num("AGRIOPS_BENCH_SECS", 5).max(1);
    let warmup = env_num("AGRIOPS_BENCH_WARMUP_SECS", 1);
    let dir = tempfile::tempdir().unwrap();
    // The server gets its own runtime (2 workers), the client a single thread.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (addr, cookie, parlor, field, plan, backend) = server_rt.block_on(async {
        let db = match std::env::var("AGRIOPS_BENCH_DB") {
            Ok(url) => Db::connect(&url).await.unwrap(),
            Err(_) => Db::open_data_dir(dir.path()).await.unwrap(),
        };
        let (cookie, parlor, field, plan) = seed(&db).await;
        let backend = format!("{:?}", db.backend());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app(AppState::new(
            db,
            Settings {
                secure_cookies: false,
                tile_url: String::new(),
                ..Settings::default()
            },
        ));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (addr, cookie, parlor, field, plan, backend)
    });
    let pages = [
        ("home", "/".to_owned()),
        ("parlors", "/parlors".to_owned()),
        ("parlor", format!("/parlors/{parlor}")),
        (
            "parlor summary API",
            format!("/api/v1/parlors/{parlor}/summary"),
        ),
        ("today chart (SVG)", format!("/parlors/{parlor}/today.svg")),
        ("fields", "/fields".to_owned()),
        ("field", format!("/fields/{field}")),
        ("plan", format!("/plans/{plan}")),
        ("healthz", "/healthz".to_owned()),
    ];
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "agriops page load on loopback ({backend}): {rps} requests/s for {secs} s per page after {warmup} s of warm-up, open loop"
    );
    println!(
        "{:<22} {:>8} {:>8} {:>10} {:>10} {:>10}",
        "page", "sent", "errors", "p50 ms", "p99 ms", "max ms"
    );
    let mut worst_p99 = Duration::ZERO;
    for (name, path) in &pages {
        let url = format!("http://{addr}{path}");
        let (lat, errors) = client_rt.block_on(async {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .unwrap();
            // Warm-up at the same rate, not counted: opens the client's and the server's
            // connection pools, as a running server has them.
            drive(&client, &url, &cookie, rps, rps * warmup).await;
            drive(&client, &url, &cookie, rps, rps * secs).await
        });
        let (p50, p99) = (percentile(&lat, 0.50), percentile(&lat, 0.99));
        worst_p99 = worst_p99.max(p99);
        println!(
            "{:<22} {:>8} {:>8} {:>10.2} {:>10.2} {:>10.2}",
            name,
            lat.len(),
            errors,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }
    println!(
        "worst p99: {:.2} ms (target < 25 ms on SQLite)",
        worst_p99.as_secs_f64() * 1e3
    );
    drop(server_rt);
}
