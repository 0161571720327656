//! Benchmark of the regional reports at city scale: generated raw data for `--farms` farms over
//! 2025 (`--events` milking events, `--flights` flights, hourly KPI intervals in milking hours)
//! is bulk-loaded, the roll-ups are built with the real `Db::rebuild_rollups`, then it measures
//! the district-year report pages and the roll-up cost per ingested batch (`ingest_batch` versus
//! a raw insert of the same records, in interleaved blocks), printed as a table. Not run in CI.
//!
//! `cargo bench -p web --bench reports -- --farms 300 --events 100000000 --flights 20000`
//! SQLite (temporary file, or `--db-file PATH` to keep it) by default;
//! `AGRIOPS_BENCH_DB=postgres://postgres@127.0.0.1:5432/db` (an empty database) for PostgreSQL.
//! `--load-only` stops after loading and rebuilding; `--measure-only` measures a database an
//! earlier `--load-only` run left (so two backends can load side by side and be measured apart).
//!
//! The milking events are generated inside the database (`generate_series` on PostgreSQL, a
//! recursive CTE on SQLite) in the exact text format sqlx writes timestamps in, so 100 M rows
//! load in minutes instead of hours; everything else goes through bound parameters.

use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, TimeZone, Utc};
use parlor_bridge::wire::{IngestBatch, KpiInterval, MilkingEvent, Record, WIRE_VERSION};
use tower::ServiceExt;
use web::http::{
    router::app,
    state::{AppState, Settings},
};
use web::storage::{Db, NewUser, Role};

/// Rows per multi-row INSERT while loading.
const CHUNK: usize = 200;

struct Args {
    farms: i64,
    events: i64,
    flights: i64,
    blocks: usize,
    block_size: usize,
    db_file: Option<String>,
    load_only: bool,
    measure_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        farms: 300,
        events: 100_000_000,
        flights: 20_000,
        blocks: 20,
        block_size: 50,
        db_file: None,
        load_only: false,
        measure_only: false,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let val = || argv.get(i + 1).and_then(|v| v.parse::<i64>().ok());
        match argv[i].as_str() {
            "--farms" => a.farms = val().expect("--farms N"),
            "--events" => a.events = val().expect("--events N"),
            "--flights" => a.flights = val().expect("--flights N"),
            "--blocks" => a.blocks = val().expect("--blocks N") as usize,
            "--block-size" => a.block_size = val().expect("--block-size N") as usize,
            "--db-file" => a.db_file = Some(argv.get(i + 1).expect("--db-file PATH").clone()),
            "--load-only" | "--measure-only" => {
                a.load_only |= argv[i] == "--load-only";
                a.measure_only |= argv[i] == "--measure-only";
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", p.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `$body` with `$pool` the pool of whichever backend `$db` is.
macro_rules! on_each {
    ($db:expr, $pool:ident => $body:block) => {
        match $db {
            Db::Sqlite($pool, _) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$tx` a transaction on whichever backend `$db` is.
macro_rules! in_tx {
    ($db:expr, $tx:ident => $body:block) => {
        match $db {
            Db::Sqlite(pool, _) => {
                let mut $tx = pool.begin().await.unwrap();
                $body
                $tx.commit().await.unwrap();
            }
            Db::Postgres(pool) => {
                let mut $tx = pool.begin().await.unwrap();
                $body
                $tx.commit().await.unwrap();
            }
        }
    };
}

fn year_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 31, 15, 0, 0).unwrap() // 2025-01-01 00:00 JST
}

/// Bulk-loads farms, parlors, milking events, intervals, gaps and flights in one transaction;
/// returns the parlor ids.
async fn load(db: &Db, a: &Args) -> Vec<i64> {
    let d = db.districts().await.unwrap();
    let mut farms = Vec::new();
    for i in 0..a.farms {
        let f = db
            .create_farm(d[(i % 3) as usize].id, &format!("farm-{i:03}"), "mixed", "")
            .await
            .unwrap();
        farms.push(f.id);
    }
    let now = Utc::now();
    let mut parlors = Vec::new();
    for f in &farms {
        let id: i64 = match db {
            Db::Sqlite(p, _) => sqlx::query_scalar("INSERT INTO parlors (farm_id, name, created_at) VALUES ($1, 'rotary', $2) RETURNING id").bind(f).bind(now).fetch_one(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_scalar("INSERT INTO parlors (farm_id, name, created_at) VALUES ($1, 'rotary', $2) RETURNING id").bind(f).bind(now).fetch_one(p).await.unwrap(),
        };
        parlors.push(id);
    }
    let per_parlor = a.events / a.farms;
    // Milking hours: 04:00–08:00 and 16:00–20:00 JST every day of 2025, as hours since t0.
    let milking_hours: Vec<i64> = (0..365i64)
        .flat_map(|day| [4i64, 5, 6, 7, 16, 17, 18, 19].map(move |h| day * 24 + h))
        .collect();
    let t0 = year_start();
    let start = Instant::now();
    generate_events(db, &parlors, per_parlor, milking_hours.len() as i64).await;
    eprintln!(
        "generated {} milking events in {:.1} s",
        per_parlor * a.farms,
        start.elapsed().as_secs_f64()
    );
    in_tx!(db, tx => {
        for (pi, parlor) in parlors.iter().enumerate() {
            // One KPI interval per milking hour, and a 10-minute gap on the 1st of each month.
            for chunk in milking_hours.chunks(CHUNK / 2) {
                let sql = format!(
                    "INSERT INTO parlor_intervals (parlor_id, dedupe_key, start_t, end_t, online_s, cows, \
                     milk_kg, cows_per_hour_rolling, milkings, idle_bails, kickoffs, reattaches, stops, \
                     washes, alerts, state) VALUES {}", placeholders(chunk.len(), 16));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                let cows = per_parlor as f64 / milking_hours.len() as f64 / 2.0;
                for h in chunk {
                    let s = t0 + chrono::Duration::hours(*h);
                    q = q.bind(parlor).bind(format!("{pi}/i/{h}")).bind(s)
                        .bind(s + chrono::Duration::hours(1)).bind(3600.0).bind(cows).bind(cows * 12.0)
                        .bind(cows).bind(cows as i64).bind(0.0).bind(1.0).bind(0.0).bind(0.0)
                        .bind(0i64).bind(h % 2).bind("running");
                }
                q.execute(&mut *tx).await.unwrap();
            }
            for m in 1..=12u32 {
                let s = chrono::FixedOffset::east_opt(9 * 3600).unwrap()
                    .with_ymd_and_hms(2025, m, 1, 5, 0, 0).unwrap().with_timezone(&Utc);
                sqlx::query("INSERT INTO parlor_gaps (parlor_id, dedupe_key, start_t, end_t, \
                             controller_restarted) VALUES ($1, $2, $3, $4, $5)")
                    .bind(parlor).bind(format!("{pi}/g/{m}")).bind(s)
                    .bind(s + chrono::Duration::minutes(10)).bind(false)
                    .execute(&mut *tx).await.unwrap();
            }
        }
        // Flights spread over the farms and the spraying season (April–September).
        let season = Utc.with_ymd_and_hms(2025, 3, 31, 15, 0, 0).unwrap();
        let ids: Vec<i64> = (0..a.flights).collect();
        for chunk in ids.chunks(CHUNK / 2) {
            let sql = format!(
                "INSERT INTO flights (farm_id, status, started_at, ended_at, sprayed_area_m2, litres, \
                 summary_json, created_at) VALUES {}", placeholders(chunk.len(), 8));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk {
                let at = season + chrono::Duration::minutes(i * 13 % (183 * 1440));
                let area = 2000.0 + (i % 50) as f64 * 100.0;
                q = q.bind(farms[(i % a.farms) as usize]).bind("completed").bind(at)
                    .bind(at + chrono::Duration::minutes(12)).bind(area).bind(area * 0.0008)
                    .bind("{}").bind(at);
            }
            q.execute(&mut *tx).await.unwrap();
        }
    });
    eprintln!(
        "loaded everything in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    parlors
}

/// Inserts `per_parlor` milking events for each parlor, generated by the database itself: event
/// `e` falls `e × spacing` seconds into the year's milking hours (slot `k` of a day is
/// 04–08 h or 16–20 h JST), on bail `e mod 60 + 1`, 8–16 kg. One statement (one transaction)
/// per parlor, keys and times ascending, so every index grows at its end.
async fn generate_events(db: &Db, parlors: &[i64], per_parlor: i64, slots: i64) {
    let spacing = (slots * 3600 / per_parlor.max(1)).max(1);
    // Seconds after t0 of event `e`: the slot's hour (day × 24 + 4 + k + 8·(k div 4)) plus the
    // offset inside the hour.
    let secs = "((e * $4 / 3600) % $5 / 8 * 24 + 4 + (e * $4 / 3600) % 8 + 8 * ((e * $4 / 3600) % 8 / 4)) * 3600 + (e * $4) % 3600";
    let t0 = year_start();
    let bar = indicatif::ProgressBar::new(parlors.len() as u64);
    for (pi, parlor) in parlors.iter().enumerate() {
        let sql = match db {
            Db::Sqlite(..) => format!(
                "INSERT INTO milking_events (parlor_id, dedupe_key, t, bail, epoch, seq, cow_id, \
                 yield_kg, high_conductivity, missed_before) \
                 WITH RECURSIVE s(e) AS (SELECT 0 UNION ALL SELECT e + 1 FROM s WHERE e + 1 < $3) \
                 SELECT $1, printf('%04d/%09d', $2, e), \
                 strftime('%Y-%m-%dT%H:%M:%S', $6 + {secs}, 'unixepoch') || '+00:00', \
                 e % 60 + 1, 0, e, 1000 + e % 60 + 1, 8.0 + (e % 17) * 0.5, 0, 0 FROM s"
            ),
            Db::Postgres(_) => format!(
                "INSERT INTO milking_events (parlor_id, dedupe_key, t, bail, epoch, seq, cow_id, \
                 yield_kg, high_conductivity, missed_before) \
                 SELECT $1, lpad($2::text, 4, '0') || '/' || lpad(e::text, 9, '0'), \
                 to_timestamp($6 + {secs}), \
                 e % 60 + 1, 0, e, 1000 + e % 60 + 1, 8.0 + (e % 17) * 0.5, false, 0 \
                 FROM generate_series(0::bigint, $3 - 1) AS e"
            ),
        };
        on_each!(db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(parlor).bind(pi as i64).bind(per_parlor).bind(spacing).bind(slots)
                .bind(t0.timestamp())
                .execute(pool).await.unwrap();
        });
        bar.inc(1);
    }
    bar.finish();
}

/// A batch of `n` fresh milking events (and one interval per 100) of `parlor`, keyed by `tag`.
fn batch(tag: &str, n: usize, at: DateTime<Utc>) -> IngestBatch {
    let mut records = Vec::new();
    for i in 0..n {
        let t = at + chrono::Duration::seconds(i as i64);
        records.push(Record::Milking(MilkingEvent {
            key: format!("{tag}/{i}"),
            parlor: "rotary".into(),
            farm: "farm-000".into(),
            unit: 1,
            bail: (i % 60) as u16 + 1,
            epoch: 0,
            seq: i as u64,
            t,
            controller_t: None,
            cow_id: 1000 + i as u64,
            yield_kg: 12.0,
            duration_s: Some(400.0),
            conductivity_ms_cm: Some(5.0),
            high_conductivity: false,
            missed_before: 0,
        }));
        if i % 100 == 0 {
            records.push(Record::Interval(KpiInterval {
                key: format!("{tag}/i/{i}"),
                parlor: "rotary".into(),
                farm: "farm-000".into(),
                unit: 1,
                start: t,
                end: t + chrono::Duration::seconds(60),
                online_s: 60.0,
                cows: 5.0,
                kg: 60.0,
                cows_per_hour: 300.0,
                kg_per_hour: 3600.0,
                cows_per_hour_rolling: 300.0,
                milkings: 5,
                rotation_s: None,
                occupancy: None,
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
        }
    }
    IngestBatch {
        version: WIRE_VERSION,
        bridge_id: "bench".into(),
        batch_key: tag.into(),
        records,
    }
}

/// The same records stored the way `ingest_batch` stores them, without any roll-up.
async fn raw_insert(db: &Db, token: i64, parlor: i64, b: &IngestBatch) {
    in_tx!(db, tx => {
        sqlx::query("INSERT INTO ingest_batches (token_id, batch_key, received_at, n_records, n_accepted) \
                     VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING")
            .bind(token).bind(&b.batch_key).bind(Utc::now()).bind(b.records.len() as i64)
            .execute(&mut *tx).await.unwrap();
        // The parlor lookup ingest_batch does once per batch.
        sqlx::query("INSERT INTO parlors (farm_id, name, created_at) SELECT farm_id, name, $2 \
                     FROM parlors WHERE id = $1 ON CONFLICT DO NOTHING")
            .bind(parlor).bind(Utc::now()).execute(&mut *tx).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT id FROM parlors WHERE id = $1")
            .bind(parlor).fetch_one(&mut *tx).await.unwrap();
        for r in &b.records {
            match r {
                Record::Milking(m) => { sqlx::query(
                    "INSERT INTO milking_events (parlor_id, dedupe_key, t, controller_t, bail, \
                     epoch, seq, cow_id, yield_kg, duration_s, conductivity, high_conductivity, \
                     missed_before) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                     ON CONFLICT DO NOTHING")
                    .bind(parlor).bind(&m.key).bind(m.t).bind(m.controller_t)
                    .bind(i64::from(m.bail)).bind(i64::from(m.epoch)).bind(m.seq as i64)
                    .bind(m.cow_id as i64).bind(m.yield_kg).bind(m.duration_s)
                    .bind(m.conductivity_ms_cm).bind(m.high_conductivity)
                    .bind(m.missed_before as i64)
                    .execute(&mut *tx).await.unwrap(); }
                Record::Interval(i) => { sqlx::query(
                    "INSERT INTO parlor_intervals (parlor_id, dedupe_key, start_t, end_t, online_s, \
                     cows, milk_kg, cows_per_hour_rolling, milkings, rotation_s, occupancy, \
                     idle_bails, kickoffs, reattaches, stops, washes, alerts, state) VALUES ($1, \
                     $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
                     ON CONFLICT DO NOTHING")
                    .bind(parlor).bind(&i.key).bind(i.start).bind(i.end).bind(i.online_s)
                    .bind(i.cows).bind(i.kg).bind(i.cows_per_hour_rolling)
                    .bind(i.milkings as i64).bind(i.rotation_s)
                    .bind(i.occupancy).bind(i.idle_bails).bind(i.kickoffs).bind(i.reattaches)
                    .bind(i.stops).bind(i.washes as i64).bind(i.high_conductivity_alerts as i64)
                    .bind(&i.state)
                    .execute(&mut *tx).await.unwrap(); }
                _ => {}
            }
        }
    });
}

/// The one integer `sql` answers with `$1` = `from`, `$2` = `to`.
async fn scalar_between(db: &Db, sql: &'static str, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    on_each!(db, p => {
        sqlx::query_scalar(sql).bind(from).bind(to).fetch_one(p).await.unwrap()
    })
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let (db, backend) = match (std::env::var("AGRIOPS_BENCH_DB"), &a.db_file) {
        (Ok(url), _) => (Db::connect(&url).await.unwrap(), "PostgreSQL"),
        (Err(_), Some(file)) => (
            Db::connect(&format!("sqlite://{file}")).await.unwrap(),
            "SQLite",
        ),
        (Err(_), None) => (Db::open_data_dir(dir.path()).await.unwrap(), "SQLite"),
    };
    let (mut load_s, mut rebuild_s) = (f64::NAN, f64::NAN);
    let parlors: Vec<i64> = if a.measure_only {
        on_each!(&db, p => {
            sqlx::query_scalar("SELECT id FROM parlors ORDER BY id")
                .fetch_all(p)
                .await
                .unwrap()
        })
    } else {
        let t = Instant::now();
        let parlors = load(&db, &a).await;
        load_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let stats = db.rebuild_rollups().await.unwrap();
        rebuild_s = t.elapsed().as_secs_f64();
        eprintln!("rebuilt roll-ups in {rebuild_s:.1} s: {stats:?}");
        parlors
    };
    if let Db::Postgres(p) = &db {
        sqlx::query("ANALYZE").execute(p).await.unwrap();
    }
    // The roll-ups hold every generated event of 2025: their milkings add up to the raw count.
    // (The batches measured below land in 2026, and half of them skip the roll-ups on purpose.)
    let (from, to) = (year_start(), year_start() + chrono::Duration::days(365));
    let count = "SELECT COUNT(*) FROM milking_events WHERE t >= $1 AND t < $2";
    let rolled = "SELECT CAST(SUM(milkings) AS BIGINT) FROM parlor_month_rollups \
                  WHERE month_start >= $1 AND month_start < $2";
    let (events, rolled) = (
        scalar_between(&db, count, from, to).await,
        scalar_between(&db, rolled, from, to).await,
    );
    assert_eq!(
        events, rolled,
        "roll-ups disagree with the raw milking events"
    );
    eprintln!("{events} milking events, all in the month roll-ups");
    if a.load_only {
        if let Some(f) = &a.db_file {
            eprintln!("loaded {f}; measure it with --measure-only --db-file {f}");
        }
        return;
    }
    let run = Utc::now().timestamp_millis();

    // Pages, through the real router with a staff session.
    let state = AppState::new(db.clone(), Settings::default());
    let router = app(state);
    let hash = web::services::credentials::hash_password("bench-password").unwrap();
    let user = db
        .create_user(&NewUser {
            username: &format!("bench-staff-{run}"),
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
        user.id,
        "csrf",
        Utc::now() + chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let cookie = format!("{}={token}", web::http::auth::SESSION_COOKIE);
    let d = db.districts().await.unwrap();
    let pages = [
        (
            "city × month, year",
            "/reports?year=2025&period=year".to_owned(),
        ),
        (
            "district drill-down, year",
            format!("/reports/districts/{}?year=2025&period=year", d[0].id),
        ),
        (
            "CSV district × month",
            "/reports/csv?year=2025&table=months".to_owned(),
        ),
        (
            "open data JSON, year",
            "/opendata/district-month.json?year=2025".to_owned(),
        ),
    ];
    let mut page_rows = Vec::new();
    for (name, uri) in &pages {
        let mut ms = Vec::new();
        for _ in 0..15 {
            let req = Request::get(uri.as_str())
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap();
            let t = Instant::now();
            let resp = router.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{uri}");
            axum::body::to_bytes(resp.into_body(), 64 << 20)
                .await
                .unwrap();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        page_rows.push((name, pct(ms.clone(), 0.5), pct(ms, 0.95)));
    }

    // Roll-up cost per batch: ingest_batch (records + roll-ups) vs the same records raw, as
    // the mean time per batch over blocks of consecutive batches (so WAL checkpoints and page
    // cache misses, which land on single batches, are averaged in as they are in real use),
    // blocks of the two kinds interleaved (which goes first alternates) so drift hits both.
    let farm0 = db.farms().await.unwrap()[0].id;
    let tok = db
        .create_bridge_token(
            farm0,
            &format!("bench-{run}"),
            &format!("bench-token-{run}"),
        )
        .await
        .unwrap();
    let at = Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap();
    let (mut with, mut raw, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    let bar = indicatif::ProgressBar::new(a.blocks as u64);
    let mut j = 0i64;
    for i in 0..a.blocks {
        let (mut w, mut r) = (0.0, 0.0);
        for with_first in [i % 2 == 0, i % 2 == 1] {
            let batches: Vec<IngestBatch> = (0..a.block_size)
                .map(|_| {
                    j += 1;
                    batch(&format!("{run}/{j}"), 500, at + chrono::Duration::hours(j))
                })
                .collect();
            let t = Instant::now();
            for b in &batches {
                if with_first {
                    db.ingest_batch(tok, farm0, b).await.unwrap();
                } else {
                    raw_insert(&db, tok, parlors[0], b).await;
                }
            }
            let per_batch = t.elapsed().as_secs_f64() * 1000.0 / a.block_size as f64;
            if with_first {
                w = per_batch;
            } else {
                r = per_batch;
            }
        }
        with.push(w);
        raw.push(r);
        diff.push(w - r);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (w, r, d) = (mean(&with), mean(&raw), mean(&diff));
    let n = diff.len() as f64;
    let sd = (diff.iter().map(|x| (x - d).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // Student's t for 95 %, two-sided, n − 1 degrees of freedom (≥ 2.0 for n ≥ 60).
    let t95 = match diff.len() {
        0..=10 => 2.262,
        11..=20 => 2.093,
        21..=30 => 2.045,
        _ => 2.0,
    };
    let half = t95 * sd / n.sqrt();

    println!();
    println!(
        "backend: {backend} | farms {} | milking events {events} | flights {} | load {load_s:.0} s | rebuild roll-ups {rebuild_s:.1} s",
        parlors.len(),
        a.flights
    );
    println!("| page | p50 ms | p95 ms |");
    println!("|---|---:|---:|");
    for (name, p50, p95) in page_rows {
        println!("| {name} | {p50:.1} | {p95:.1} |");
    }
    println!(
        "| batch of 500 milkings + 5 intervals ({} × {} batches each way) | mean ms | 95 % CI |",
        a.blocks, a.block_size
    );
    println!("| ingest_batch with roll-ups | {w:.2} | |");
    println!("| same records, raw insert | {r:.2} | |");
    println!(
        "| roll-up cost per batch | {d:.2} | {:.2} … {:.2} |",
        d - half,
        d + half
    );
    println!(
        "| roll-up overhead | {:.1} % | {:.1} … {:.1} % |",
        100.0 * d / r,
        100.0 * (d - half) / r,
        100.0 * (d + half) / r
    );
}
