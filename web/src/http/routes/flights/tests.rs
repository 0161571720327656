use std::time::Duration;

use axum::http::StatusCode;
use telemetry::{Link, LinkAddress, LinkConfig, MissionKind, SimConfig, SimDrone, Vehicle};

use crate::storage::Role;
use crate::testutil::{Browser, TestApp, both_apps};

const PADDY: &str = r#"{"type":"Feature","properties":{"id":"paddy"},"geometry":{"type":"Polygon",
  "coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}}"#;

/// Imports the paddy and plans it through the pages; returns the plan id.
pub(crate) async fn planned(app: &TestApp, b: &Browser) -> i64 {
    planned_for(app, b, "ardupilot").await
}

/// As [`planned`], for `autopilot` (`ardupilot` or `px4`).
pub(crate) async fn planned_for(app: &TestApp, b: &Browser, autopilot: &str) -> i64 {
    app.post_multipart(
        "/fields/import",
        &b.cookies,
        &[
            ("csrf", None, b.csrf.as_bytes()),
            ("file", Some("p.geojson"), PADDY.as_bytes()),
        ],
    )
    .await;
    let field = app.state.db.fields(b_farm(app, b).await).await.unwrap()[0].id;
    let form = [
        ("csrf", b.csrf.as_str()),
        ("swath_width", "5"),
        ("rate_l_per_10a", "0.8"),
        ("tank_l", "20"),
        ("endurance_min", "15"),
        ("speed_mps", "5"),
        ("height_m", "2"),
        ("headland_passes", "1"),
        ("drift_buffer_m", "5"),
        ("autopilot", autopilot),
    ];
    let r = app
        .post_form(&format!("/fields/{field}/plan"), &b.cookies, &form)
        .await;
    r.headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub(crate) async fn b_farm(app: &TestApp, b: &Browser) -> Option<i64> {
    let token = b.cookies.split('=').nth(1).unwrap();
    app.state
        .db
        .session(&crate::services::credentials::token_hash(token))
        .await
        .unwrap()
        .unwrap()
        .user
        .farm_id
}

/// Flies sortie 1 of the stored plan on the project's simulated drone and returns its `.tlog`.
pub(crate) async fn fly(plan_file: &str) -> Vec<u8> {
    fly_on(plan_file, |_| {}).await
}

/// As [`fly`], on a simulated drone `setup` changes (its autopilot, outputs, parameters). A
/// PX4 plan's pump output is read from the vehicle first, as the web launch does, so its
/// parameters are in the log.
pub(crate) async fn fly_on(plan_file: &str, setup: impl FnOnce(&mut SimConfig)) -> Vec<u8> {
    let path = std::path::Path::new("plan");
    let plan = telemetry::Plan::from_json(plan_file, path)
        .unwrap()
        .sortie(1, path)
        .unwrap();
    let mut cfg = SimConfig::new(plan.home.expect("a home"));
    cfg.time_scale = 40.0;
    setup(&mut cfg);
    let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tlog = dir.path().join("f.tlog");
    let mut lc = LinkConfig::new(
        LinkAddress::parse(&format!("udpout:{}", sim.local_addr().unwrap())).unwrap(),
    );
    lc.tlog = Some(tlog.clone());
    let link = Link::connect(&lc).await.unwrap();
    let info = link.wait_vehicle(Duration::from_secs(5)).await.unwrap();
    let v = Vehicle::new(link.port().clone(), info.target);
    if plan.uses_actuator() {
        v.px4_pump_output().await.unwrap();
    }
    let verified = v
        .upload_verified(MissionKind::Mission, &plan.mission_items())
        .await
        .unwrap();
    // As the web launch: ArduPilot arms in GUIDED, PX4 where it stands.
    if info.target.firmware == telemetry::Firmware::ArduPilot {
        v.set_mode("GUIDED").await.unwrap();
    }
    v.arm().await.unwrap();
    v.start_mission(&verified).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut took_off = false;
    loop {
        let s = sim.snapshot();
        took_off |= !s.landed;
        if took_off && s.landed && !s.armed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulated flight did not end: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    link.close().await;
    sim.stop().await;
    std::fs::read(&tlog).unwrap()
}

both_apps!(a_flown_tlog_becomes_a_flight_record, |app| {
    let farm = app.farm("tobu", "crop").await;
    let b = app.user("tobu", Role::Farmer, Some(farm.id)).await;
    let plan_id = planned(app, &b).await;
    let plan = app.state.db.plan(plan_id).await.unwrap();
    let tlog = fly(&plan.plan_file).await;
    let upload = |bytes: Vec<u8>, who: Browser| async move {
        app.post_multipart(
            &format!("/plans/{plan_id}/flights"),
            &who.cookies,
            &[
                ("csrf", None, who.csrf.as_bytes()),
                ("tlog", Some("f.tlog"), &bytes),
            ],
        )
        .await
    };
    let r = upload(tlog.clone(), b.clone()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id: i64 = r.headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let f = app.state.db.flight(id).await.unwrap();
    let sprayed = f.sprayed_area_m2.expect("an as-applied area");
    assert!(sprayed > 1000.0, "sprayed {sprayed} m²");
    // Litres at the planned 0.8 L/10a over the sprayed area.
    assert!((f.litres.unwrap() - sprayed * 0.8 / 1000.0).abs() < 1e-9);
    let summary: serde_json::Value = serde_json::from_str(&f.summary_json).unwrap();
    assert!(
        summary["coverage"]["covered_pct"].as_f64().unwrap() >= 95.0,
        "{summary}"
    );
    assert!(f.started_at < f.ended_at);
    // The regional reports count the flight at once, pesticide not recorded.
    let month = crate::services::reports::YearMonth::of(f.started_at.unwrap());
    let spray = app
        .state
        .db
        .pesticide_months(month.start(), month.next().start())
        .await
        .unwrap();
    assert_eq!(spray.len(), 1, "{spray:?}");
    assert_eq!(
        (spray[0].flights, spray[0].pesticide_name.as_deref()),
        (1, None)
    );
    assert!((spray[0].area_m2 - sprayed).abs() < 1e-9);
    assert!((spray[0].litres - f.litres.unwrap()).abs() < 1e-9);
    let page = app.get(&format!("/flights/{id}"), &b.cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("計画に対する散布率"));
    let gj = app
        .get(&format!("/flights/{id}/geojson"), &b.cookies)
        .await
        .body;
    assert!(
        gj.contains("\"kind\":\"track\"") && gj.contains("\"spray\":true"),
        "{gj}"
    );
    let track: Vec<serde_json::Value> = serde_json::from_str(
        &app.get(&format!("/flights/{id}/track.json"), &b.cookies)
            .await
            .body,
    )
    .unwrap();
    assert!(track.len() > 10);
    assert!(
        app.get(&format!("/plans/{plan_id}"), &b.cookies)
            .await
            .body
            .contains(&format!("/flights/{id}"))
    );

    // Another farm's users see nothing and cannot record onto this plan; junk is a 422.
    let other_farm = app.farm("other", "crop").await;
    let other = app.user("other", Role::Farmer, Some(other_farm.id)).await;
    for path in [
        format!("/flights/{id}"),
        format!("/flights/{id}/geojson"),
        format!("/flights/{id}/track.json"),
    ] {
        assert_eq!(
            app.get(&path, &other.cookies).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            app.get(&path, "").await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert_eq!(
        upload(tlog, other.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let junk = upload(b"not a tlog at all".repeat(10), b.clone()).await;
    assert_eq!(junk.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(junk.body.contains("tlog"), "{}", junk.body);
    assert_eq!(
        app.state.db.flights_of_plan(plan_id).await.unwrap().len(),
        1
    );
});

/// Rows in `table` (each test has a database of its own).
async fn count(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    crate::storage::on_pool!(&app.state.db, pool => sqlx::query_scalar::<_, i64>(
        sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap())
}

/// Every recorded flight has its report facts, spray record and logbook, and nothing of a
/// flight exists without its flight; returns the number of flights.
async fn every_flight_is_whole(app: &TestApp) -> i64 {
    let flights = count(app, "flights").await;
    for table in [
        "flight_facts",
        "spray_records",
        "flight_logbooks",
        "flight_tlogs",
    ] {
        assert_eq!(count(app, table).await, flights, "{table}");
    }
    if flights == 0 {
        assert_eq!(count(app, "flight_samples").await, 0);
    }
    flights
}

/// POSTs `tlog` as a flight of `plan_id`.
pub(crate) async fn upload(
    app: &TestApp,
    b: &Browser,
    plan_id: i64,
    tlog: &[u8],
) -> crate::testutil::Resp {
    app.post_multipart(
        &format!("/plans/{plan_id}/flights"),
        &b.cookies,
        &[
            ("csrf", None, b.csrf.as_bytes()),
            ("tlog", Some("f.tlog"), tlog),
        ],
    )
    .await
}

both_apps!(an_upload_is_stored_whole_or_not_at_all, |app| {
    let farm = app.farm("whole", "crop").await;
    let b = app.user("whole", Role::Farmer, Some(farm.id)).await;
    let plan_id = planned(app, &b).await;
    let plan = app.state.db.plan(plan_id).await.unwrap();
    let tlog = fly(&plan.plan_file).await;
    // A failure (as a crash) after the flight, after its facts, after its spray record:
    // nothing of the flight remains.
    for point in [
        "flights.after_flight",
        "flights.after_facts",
        "records.after_spray_record",
    ] {
        let r = crate::storage::fault::armed(point, upload(app, &b, plan_id, &tlog)).await;
        assert_eq!(
            r.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{point}: {}",
            r.body
        );
        assert_eq!(every_flight_is_whole(app).await, 0, "{point}");
    }
    let r = upload(app, &b, plan_id, &tlog).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(every_flight_is_whole(app).await, 1);
    // A retry of the same file (after a timeout, say) is the same flight, not a second one.
    let again = upload(app, &b, plan_id, &tlog).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.headers["location"], r.headers["location"]);
    assert_eq!(every_flight_is_whole(app).await, 1);
    // The same bytes on another farm's plan are that farm's own flight.
    let farm2 = app.farm("other", "crop").await;
    let b2 = app.user("other", Role::Farmer, Some(farm2.id)).await;
    let plan2 = planned(app, &b2).await;
    let r2 = upload(app, &b2, plan2, &tlog).await;
    assert_eq!(r2.status, StatusCode::SEE_OTHER, "{}", r2.body);
    assert_ne!(r2.headers["location"], r.headers["location"]);
    assert_eq!(every_flight_is_whole(app).await, 2);
});

both_apps!(concurrent_uploads_all_succeed_once_each, |app| {
    let farm = app.farm("busy", "crop").await;
    let b = app.user("busy", Role::Farmer, Some(farm.id)).await;
    let plan_id = planned(app, &b).await;
    let plan = app.state.db.plan(plan_id).await.unwrap();
    let tlog = fly(&plan.plan_file).await;
    // Eight different files (trailing bytes the reader skips), each sent twice at once.
    let files: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            let mut t = tlog.clone();
            t.extend(std::iter::repeat_n(0xA5, i + 1));
            t
        })
        .collect();
    let sends = files.iter().chain(files.iter());
    let answers = futures::future::join_all(sends.map(|f| upload(app, &b, plan_id, f))).await;
    for r in &answers {
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| r.headers["location"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 8);
    for (first, second) in answers[..8].iter().zip(&answers[8..]) {
        assert_eq!(first.headers["location"], second.headers["location"]);
    }
    assert_eq!(every_flight_is_whole(app).await, 8);
    // The month's roll-up counted every one of them (no lost update between uploads).
    let f = app.state.db.flights_of_plan(plan_id).await.unwrap();
    let month = crate::services::reports::YearMonth::of(f[0].started_at.unwrap());
    let months = app
        .state
        .db
        .pesticide_months(month.start(), month.next().start())
        .await
        .unwrap();
    assert_eq!(
        months.iter().map(|m| m.flights).sum::<i64>(),
        8,
        "{months:?}"
    );
});
