//! Launching through the app against simulated vehicles: the checklist, the launch, the live
//! stream, the commands, resume and the history.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use telemetry::{LinkAddress, SimConfig, SimDrone};
use tower::ServiceExt;

use crate::storage::Role;
use crate::testutil::{Browser, TestApp, both_apps};

use crate::http::routes::flights::tests::planned;

async fn user_id(app: &TestApp, name: &str) -> i64 {
    app.state
        .db
        .user_by_username(name)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Registers a vehicle through the page and valid pilot credentials for `who`.
async fn vehicle_and_pilot(app: &TestApp, b: &Browser, who: &str, link: &str) -> i64 {
    vehicle_and_pilot_for(app, b, who, link, "ardupilot").await
}

/// As [`vehicle_and_pilot`], for an `autopilot` (`ardupilot` or `px4`) vehicle.
async fn vehicle_and_pilot_for(
    app: &TestApp,
    b: &Browser,
    who: &str,
    link: &str,
    autopilot: &str,
) -> i64 {
    let r = app
        .post_form(
            "/vehicles",
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("registration_no", "JU0123456789"),
                ("name", "散布機1号"),
                ("autopilot", autopilot),
                ("link_address", link),
                ("registration_expiry", "2099-12-31"),
                ("pump_servo", "9"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let uid = user_id(app, who).await;
    let r = app
        .post_form(
            &format!("/pilots/{uid}"),
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("licence_no", "L-123"),
                ("licence_expiry", "2099-01-01"),
                ("permit_no", "P-456"),
                ("permit_expiry", "2099-01-01"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    app.state.db.vehicles(None).await.unwrap()[0].id
}

fn launch_form<'a>(b: &'a Browser, vehicle: &'a str, wind: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", b.csrf.as_str()),
        ("action", "launch"),
        ("vehicle", vehicle),
        ("sortie", "1"),
        ("wind_mps", wind),
        ("height_m", "2"),
        ("enable_fence", "on"),
    ]
}

both_apps!(launch_is_refused_while_a_check_fails, |app| {
    let farm = app.farm("nasu", "crop").await;
    let b = app.user("pilot", Role::Farmer, Some(farm.id)).await;
    let plan = planned(app, &b).await;
    // Vehicle validation: a link address telemetry cannot parse is refused.
    let bad = app
        .post_form(
            "/vehicles",
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("registration_no", "JU1"),
                ("name", "x"),
                ("autopilot", "ardupilot"),
                ("link_address", "carrier-pigeon:1"),
                ("pump_servo", "9"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("link_address"), "{}", bad.body);
    let vid = vehicle_and_pilot(app, &b, "pilot", "udpout:127.0.0.1:9").await;
    let v = vid.to_string();
    let url = format!("/plans/{plan}/launch");
    let page = app.get(&url, &b.cookies).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("飛行前チェックリスト"));
    // Wind above 3 m/s: refused server-side, nothing stored.
    let r = app
        .post_form(&url, &b.cookies, &launch_form(&b, &v, "3.5"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("離陸できません"), "{}", r.body);
    assert!(
        r.body.contains(r#"data-check="wind" data-outcome="block""#),
        "{}",
        r.body
    );
    // No wind entered (and no station configured): refused.
    let r = app
        .post_form(&url, &b.cookies, &launch_form(&b, &v, ""))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Spray height above the limit: refused.
    let mut f = launch_form(&b, &v, "1.0");
    f[5] = ("height_m", "4");
    let r = app.post_form(&url, &b.cookies, &f).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains(r#"data-check="height" data-outcome="block""#)
    );
    // An expired permit: refused.
    let uid = user_id(app, "pilot").await;
    let mut c = app.state.db.pilot_credentials(uid).await.unwrap();
    c.permit_expiry = chrono::NaiveDate::from_ymd_opt(2020, 1, 1);
    app.state.db.set_pilot_credentials(&c).await.unwrap();
    let r = app
        .post_form(&url, &b.cookies, &launch_form(&b, &v, "1.0"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains(r#"data-check="permit" data-outcome="block""#)
    );
    // Expiring soon is a caution: refused until acknowledged.
    c.permit_expiry = Some(chrono::Utc::now().date_naive() + chrono::Duration::days(10));
    app.state.db.set_pilot_credentials(&c).await.unwrap();
    let r = app
        .post_form(&url, &b.cookies, &launch_form(&b, &v, "1.0"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("注意」の項目を了承"), "{}", r.body);
    // "Check" only evaluates.
    let mut f = launch_form(&b, &v, "9");
    f[1] = ("action", "check");
    assert_eq!(
        app.post_form(&url, &b.cookies, &f).await.status,
        StatusCode::OK
    );
    // A forged form, another farm's farmer and staff are refused.
    let mut f = launch_form(&b, &v, "1.0");
    f[0] = ("csrf", "forged");
    assert_eq!(
        app.post_form(&url, &b.cookies, &f).await.status,
        StatusCode::FORBIDDEN
    );
    let other_farm = app.farm("other", "crop").await;
    let other = app.user("other", Role::Farmer, Some(other_farm.id)).await;
    assert_eq!(
        app.get(&url, &other.cookies).await.status,
        StatusCode::FORBIDDEN
    );
    let staff = app.user("staff", Role::Staff, None).await;
    assert_eq!(
        app.get(&url, &staff.cookies).await.status,
        StatusCode::FORBIDDEN
    );
    // A vehicle of another farm cannot be chosen.
    let r = app
        .post_form(
            &url,
            &b.cookies,
            &launch_form(&b, &(vid + 100).to_string(), "1.0"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.state
            .db
            .flights_of_farm(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
});

both_apps!(station_wind_and_did_layer_are_checked, |app| {
    let farm = app.farm("did", "crop").await;
    let b = app.user("did", Role::Farmer, Some(farm.id)).await;
    let plan = planned(app, &b).await;
    let v = vehicle_and_pilot(app, &b, "did", "udpout:127.0.0.1:9")
        .await
        .to_string();
    // A weather station answering 4.2 m/s, and a DID polygon over the paddy.
    let station = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let station_addr = station.local_addr().unwrap();
    let station_app = axum::Router::new().route(
        "/now",
        axum::routing::get(|| async { axum::Json(serde_json::json!({"wind": {"mps": 4.2}})) }),
    );
    let server = tokio::spawn(async move { axum::serve(station, station_app).await });
    let mut gonogo = crate::services::gonogo::GoNoGoConfig {
        weather_station_url: Some(format!("http://{station_addr}/now")),
        weather_wind_pointer: "/wind/mps".into(),
        ..crate::services::gonogo::GoNoGoConfig::default()
    };
    gonogo.layers.did = crate::services::gonogo::geometries(
        &serde_json::json!({"type": "Polygon", "coordinates": [[[139.979, 36.969], [139.99, 36.969], [139.99, 36.975], [139.979, 36.969]]]}),
        |_| true,
    )
    .into_iter()
    .filter_map(|g| match g {
        geo::Geometry::Polygon(p) => Some(p),
        _ => None,
    })
    .collect();
    let state = crate::http::state::AppState::new(
        app.state.db.clone(),
        crate::http::state::Settings {
            gonogo,
            ..crate::http::state::Settings::default()
        },
    );
    let router = crate::http::router::app(state);
    let send = |req: Request<Body>| {
        let router = router.clone();
        async move {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let url = format!("/plans/{plan}/launch");
    let (status, body) = send(
        Request::get(&url)
            .header(header::COOKIE, &b.cookies)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("気象観測所の値"), "{body}");
    assert!(
        body.contains("観測時刻"),
        "the reading's time is shown: {body}"
    );
    assert!(body.contains(r#"value="4.2""#), "{body}");
    assert!(body.contains(r#"data-check="wind" data-outcome="block""#));
    assert!(body.contains(r#"data-check="did" data-outcome="block""#));
    let post = |form: Vec<(&str, &str)>| {
        Request::post(&url)
            .header(header::COOKIE, &b.cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
            .unwrap()
    };
    // Entered wind wins over the station; the DID still blocks without an approval.
    let (status, body) = send(post(launch_form(&b, &v, "1.0"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains(r#"data-check="wind" data-outcome="pass""#));
    assert!(body.contains(r#"data-check="did" data-outcome="block""#));
    // With a recorded approval it is a caution that needs the acknowledgement.
    let mut f = launch_form(&b, &v, "1.0");
    f.push(("airspace_approval", "東空運第123号"));
    let (status, body) = send(post(f)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains(r#"data-check="did" data-outcome="warn""#),
        "{body}"
    );
    assert!(body.contains("東空運第123号"));
    assert!(
        app.state
            .db
            .flights_of_farm(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    server.abort();
});

/// Reads the SSE stream until `want` holds for a `live` event's JSON (or the deadline).
async fn watch_events(
    app: &TestApp,
    cookies: &str,
    id: i64,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let resp = crate::http::router::app(app.state.clone())
        .oneshot(
            Request::get(format!("/flights/{id}/events"))
                .header(header::COOKIE, cookies)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut stream = resp.into_body().into_data_stream();
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the stream reported in time")
            .expect("the stream went on")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                if want(&v) {
                    return v;
                }
            }
        }
    }
}

both_apps!(
    launched_sortie_flies_live_and_aborts_with_spray_off,
    |app| {
        let farm = app.farm("tobu", "crop").await;
        let b = app.user("tobu", Role::Farmer, Some(farm.id)).await;
        let plan_id = planned(app, &b).await;
        let home = sortie1(app, plan_id).await.home.unwrap();
        let mut cfg = SimConfig::new(home);
        cfg.time_scale = 20.0;
        let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
            .await
            .unwrap();
        let link = format!("udpout:{}", sim.local_addr().unwrap());
        let vid = vehicle_and_pilot(app, &b, "tobu", &link).await.to_string();
        let r = app
            .post_form(
                &format!("/plans/{plan_id}/launch"),
                &b.cookies,
                &launch_form(&b, &vid, "1.2"),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let live_url = r.headers["location"].to_str().unwrap().to_owned();
        let id: i64 = live_url.split('/').nth(2).unwrap().parse().unwrap();
        // Upload and read-back verification, then the page offers the start.
        let v = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "verified").await;
        assert!(v["live"]["verified"][0].as_u64().unwrap() > 2, "{v}");
        let page = app.get(&live_url, &b.cookies).await;
        assert!(page.body.contains("検証済み・開始待ち"), "{}", page.body);
        assert_eq!(app.state.db.flight(id).await.unwrap().status, "planned");
        // The same vehicle cannot be launched twice.
        let again = app
            .post_form(
                &format!("/plans/{plan_id}/launch"),
                &b.cookies,
                &launch_form(&b, &vid, "1.2"),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        // Start needs the confirmation tick.
        let start = format!("/flights/{id}/start");
        let r = app
            .post_form(&start, &b.cookies, &[("csrf", &b.csrf)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .post_form(&start, &b.cookies, &[("csrf", &b.csrf), ("confirm", "on")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // The stream reports progress and spraying.
        let v = watch_events(app, &b.cookies, id, |v| {
            v["live"]["spray"] == true && v["live"]["item"].as_u64().unwrap_or(0) >= 2
        })
        .await;
        assert_eq!(v["live"]["phase"], "flying", "{v}");
        assert!(v["live"]["armed"].as_bool().unwrap());
        assert_eq!(v["display"]["spray"], "● 散布中");
        assert!(sim.snapshot().pump_on, "the simulated pump runs");
        assert_eq!(app.state.db.flight(id).await.unwrap().status, "flying");
        // Coverage fills in.
        watch_events(app, &b.cookies, id, |v| {
            v["live"]["sprayed_m2"].as_f64().unwrap_or(0.0) > 0.0
        })
        .await;
        // Pause: pump off and hold; resume continues the mission.
        assert_eq!(command(app, &b, id, "pause").await, StatusCode::SEE_OTHER);
        let v = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "paused").await;
        assert_eq!(v["live"]["spray"], false, "{v}");
        assert!(!sim.snapshot().pump_on, "pump off while paused");
        assert_eq!(app.state.db.flight(id).await.unwrap().status, "paused");
        assert_eq!(command(app, &b, id, "resume").await, StatusCode::SEE_OTHER);
        watch_events(app, &b.cookies, id, |v| {
            v["live"]["phase"] == "flying" && v["live"]["mode"] == "AUTO"
        })
        .await;
        // Abort: pump off at once, back to launch, landed.
        assert_eq!(command(app, &b, id, "abort").await, StatusCode::SEE_OTHER);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while sim.snapshot().pump_on {
            assert!(
                tokio::time::Instant::now() < deadline,
                "pump still on after abort"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["ended_status"], "aborted", "{end}");
        assert!(!sim.snapshot().pump_on && !sim.snapshot().armed);
        // The record is there: status, track, go/no-go.
        let f = app.state.db.flight(id).await.unwrap();
        assert_eq!(f.status, "aborted");
        assert!(f.sprayed_area_m2.unwrap() > 0.0);
        assert!(app.state.db.flight_samples(id).await.unwrap().len() > 10);
        let g = app.state.db.gonogo(id).await.unwrap().unwrap();
        assert!(g.inputs_json.contains("1.2"), "{}", g.inputs_json);
        let record = app.get(&format!("/flights/{id}"), &b.cookies).await;
        assert!(
            record.body.contains("記録された飛行前チェック"),
            "{}",
            record.body
        );
        assert!(record.body.contains("中止"));
        let history = app.get("/flights", &b.cookies).await;
        assert!(
            history.body.contains(&format!("/flights/{id}\"")),
            "{}",
            history.body
        );
        let api: serde_json::Value =
            serde_json::from_str(&app.get("/api/v1/flights", &b.cookies).await.body).unwrap();
        assert_eq!(api[0]["id"], id);
        assert_eq!(api[0]["status"], "aborted");
        // Commands to an ended flight are refused.
        assert_eq!(command(app, &b, id, "pause").await, StatusCode::CONFLICT);
        sim.stop().await;
    }
);

/// A farmer `who` with a farm, and a sortie launched on a SimDrone (10× speed) that has
/// flown to mission item `item`: (farmer, simulator, flight id).
async fn flying_past_item(app: &TestApp, who: &str, item: u64) -> (Browser, SimDrone, i64) {
    let farm = app.farm(who, "crop").await;
    let b = app.user(who, Role::Farmer, Some(farm.id)).await;
    let (sim, id) = launched_and_started(app, &b, who, 10.0).await;
    watch_events(app, &b.cookies, id, |v| {
        v["live"]["item"].as_u64().unwrap_or(0) >= item
    })
    .await;
    (b, sim, id)
}

/// Sortie 1 of stored plan `plan_id`, as the flight task reads it.
async fn sortie1(app: &TestApp, plan_id: i64) -> telemetry::Plan {
    let plan = app.state.db.plan(plan_id).await.unwrap();
    let path = std::path::Path::new("plan");
    telemetry::Plan::from_json(&plan.plan_file, path)
        .unwrap()
        .sortie(1, path)
        .unwrap()
}

/// Starts verified flight `id` with the pilot's confirmation tick.
async fn start_confirmed(app: &TestApp, b: &Browser, id: i64) {
    let r = app
        .post_form(
            &format!("/flights/{id}/start"),
            &b.cookies,
            &[("csrf", &b.csrf), ("confirm", "on")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

/// Sends the pilot's command `cmd` (pause, resume, rtl, abort) to flight `id`; returns the
/// answer's status.
async fn command(app: &TestApp, b: &Browser, id: i64, cmd: &str) -> StatusCode {
    app.post_form(
        &format!("/flights/{id}/{cmd}"),
        &b.cookies,
        &[("csrf", &b.csrf)],
    )
    .await
    .status
}

/// Posts the launch `form` of `plan_id`; returns the flight id the page redirects to.
async fn post_launch(app: &TestApp, b: &Browser, plan_id: i64, form: &[(&str, &str)]) -> i64 {
    let r = app
        .post_form(&format!("/plans/{plan_id}/launch"), &b.cookies, form)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.headers["location"]
        .to_str()
        .unwrap()
        .split('/')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}

/// Launches sortie 1 of `plan_id` on vehicle `vid` through the launch page (calm wind) and
/// waits until the mission is uploaded and verified; returns the flight id.
async fn launch_verified(app: &TestApp, b: &Browser, plan_id: i64, vid: &str) -> i64 {
    let id = post_launch(app, b, plan_id, &launch_form(b, vid, "0.5")).await;
    watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "verified").await;
    id
}

/// A planned field, a fresh SimDrone at its sortie 1 home and `who`'s vehicle on it;
/// returns the plan id, the sim and the vehicle id.
async fn planned_on_a_sim(
    app: &TestApp,
    b: &Browser,
    who: &str,
    time_scale: f64,
) -> (i64, SimDrone, String) {
    let plan_id = planned(app, b).await;
    let home = sortie1(app, plan_id).await.home.unwrap();
    let mut cfg = SimConfig::new(home);
    cfg.time_scale = time_scale;
    let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
        .await
        .unwrap();
    let link = format!("udpout:{}", sim.local_addr().unwrap());
    let vid = vehicle_and_pilot(app, b, who, &link).await.to_string();
    (plan_id, sim, vid)
}

/// Launches sortie 1 on a fresh SimDrone through the pages and starts it; returns the sim
/// and the flight id.
async fn launched_and_started(
    app: &TestApp,
    b: &Browser,
    who: &str,
    time_scale: f64,
) -> (SimDrone, i64) {
    let (plan_id, sim, vid) = planned_on_a_sim(app, b, who, time_scale).await;
    let id = launch_verified(app, b, plan_id, &vid).await;
    start_confirmed(app, b, id).await;
    (sim, id)
}

both_apps!(launched_sortie_completes_with_its_record, |app| {
    let farm = app.farm("kan", "crop").await;
    let b = app.user("kan", Role::Farmer, Some(farm.id)).await;
    let (sim, id) = launched_and_started(app, &b, "kan", 10.0).await;
    let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
    assert_eq!(
        end["live"]["ended_status"], "completed",
        "{}",
        end["live"]["error"]
    );
    // Live coverage is from every position received, as the record's is from the .tlog.
    let live_pct = end["live"]["covered_pct"].as_f64().unwrap();
    let s = sim.snapshot();
    assert!(s.landed && !s.armed && !s.pump_on, "{s:?}");
    assert!(
        s.fence_active,
        "the fence was switched on with the pilot's consent"
    );
    assert!(s.list_lengths[1] > 0, "the field's fence is on the vehicle");
    let f = app.state.db.flight(id).await.unwrap();
    assert_eq!(f.status, "completed");
    let summary: serde_json::Value = serde_json::from_str(&f.summary_json).unwrap();
    let record_pct = summary["coverage"]["covered_pct"].as_f64().unwrap();
    assert!(record_pct > 80.0, "{summary}");
    assert!(
        (live_pct - record_pct).abs() < 2.0,
        "live {live_pct} % vs record {record_pct} %"
    );
    assert!(f.litres.unwrap() > 0.0);
    // The .tlog is kept with the flight, and the record and logbook drafts name the pilot
    // and the drone.
    assert!(
        !app.state
            .db
            .flight_tlog(id)
            .await
            .unwrap()
            .unwrap()
            .is_empty()
    );
    let rec = app.state.db.spray_record_versions(id).await.unwrap();
    assert_eq!(rec.len(), 1);
    assert!(!rec[0].fields.operator.is_empty());
    assert_eq!(rec[0].fields.area_m2, f.sprayed_area_m2);
    let log = app.state.db.logbook_versions(id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert!(!log[0].fields.pilot.is_empty());
    assert!(
        !log[0].fields.drone_reg_no.is_empty(),
        "{:?}",
        log[0].fields
    );
    assert!(log[0].fields.takeoff_at.is_some());
    // The vehicle is free again.
    assert!(app.state.flights.flight_of_vehicle(1).is_none());
    sim.stop().await;
});

both_apps!(
    without_consent_a_vehicle_with_its_fence_off_is_not_flown,
    |app| {
        let farm = app.farm("nofence", "crop").await;
        let b = app.user("nofence", Role::Farmer, Some(farm.id)).await;
        let (plan_id, sim, vid) = planned_on_a_sim(app, &b, "nofence", 10.0).await;
        let form: Vec<(&str, &str)> = launch_form(&b, &vid, "0.5")
            .into_iter()
            .filter(|(k, _)| *k != "enable_fence")
            .collect();
        let id = post_launch(app, &b, plan_id, &form).await;
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["ended_status"], "failed", "{end}");
        assert!(
            end["live"]["error"]
                .as_str()
                .unwrap()
                .contains("geofence is off"),
            "{end}"
        );
        let s = sim.snapshot();
        assert!(!s.armed && !s.fence_active, "{s:?}");
        sim.stop().await;
    }
);

both_apps!(an_interrupted_sortie_resumes_where_it_stopped, |app| {
    let (b, sim, id) = flying_past_item(app, "resume", 16).await;
    assert_eq!(command(app, &b, id, "abort").await, StatusCode::SEE_OTHER);
    watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
    let reached = app
        .state
        .db
        .gonogo(id)
        .await
        .unwrap()
        .unwrap()
        .plan_item_reached;
    let k = usize::try_from(reached.expect("the item reached is stored")).unwrap();
    assert!(k >= 14, "reached {k}");
    // The launch page offers to resume there, chosen by default.
    let f = app.state.db.flight(id).await.unwrap();
    let plan_id = f.plan_id.unwrap();
    let url = format!("/plans/{plan_id}/launch");
    let page = app.get(&url, &b.cookies).await;
    assert!(
        page.body.contains("中断した地点から再開する"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"id="start-resume" type="radio" name="start" value="resume" checked"#),
        "{}",
        page.body
    );
    // The resumed flight uploads the cut mission and flies the rest to the end.
    let vid = app
        .state
        .db
        .flight_vehicle(id)
        .await
        .unwrap()
        .unwrap()
        .to_string();
    let id2 = launch_verified(app, &b, plan_id, &vid).await;
    let path = std::path::Path::new("plan");
    let sortie = sortie1(app, plan_id).await;
    let cut = sortie.resume_after(k, path).unwrap();
    assert!(sortie.items[cut.reached].is_nav_with_position());
    assert_eq!(
        sim.snapshot().list_lengths[0],
        cut.plan.mission_items().len()
    );
    assert!(cut.plan.items.len() < sortie.items.len());
    assert_eq!(
        app.state
            .db
            .gonogo(id2)
            .await
            .unwrap()
            .unwrap()
            .resumed_after,
        Some(k as i64)
    );
    start_confirmed(app, &b, id2).await;
    let end = watch_events(app, &b.cookies, id2, |v| v["live"]["phase"] == "ended").await;
    assert_eq!(end["live"]["ended_status"], "completed", "{end}");
    let last = sortie
        .items
        .iter()
        .rposition(|i| i.is_nav_with_position())
        .unwrap();
    let g2 = app.state.db.gonogo(id2).await.unwrap().unwrap();
    assert!(
        g2.plan_item_reached >= Some(last as i64 - 1),
        "{g2:?}, last {last}"
    );
    let record = app.get(&format!("/flights/{id2}"), &b.cookies).await;
    assert!(
        record.body.contains("中断した飛行の再開"),
        "{}",
        record.body
    );
    // Finished: nothing to resume any more; a bad choice is refused.
    let page = app.get(&url, &b.cookies).await;
    assert!(!page.body.contains("start-resume"));
    let mut form = launch_form(&b, &vid, "0.5");
    form.push(("start", "middle"));
    assert_eq!(
        app.post_form(&url, &b.cookies, &form).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    sim.stop().await;
});

both_apps!(
    a_px4_sortie_launched_from_the_web_pauses_and_completes,
    |app| {
        let farm = app.farm("px4", "crop").await;
        let b = app.user("px4", Role::Farmer, Some(farm.id)).await;
        let plan_id = crate::http::routes::flights::tests::planned_for(app, &b, "px4").await;
        let sortie = sortie1(app, plan_id).await;
        assert_eq!(sortie.firmware, telemetry::Firmware::Px4);
        let mut cfg = SimConfig::new(sortie.home.unwrap());
        cfg.time_scale = 10.0;
        cfg.firmware = telemetry::Firmware::Px4;
        let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
            .await
            .unwrap();
        let link = format!("udpout:{}", sim.local_addr().unwrap());
        let vid = vehicle_and_pilot_for(app, &b, "px4", &link, "px4")
            .await
            .to_string();
        let id = launch_verified(app, &b, plan_id, &vid).await;
        // PX4 numbering: the mission as uploaded has no home item.
        assert_eq!(sim.snapshot().list_lengths[0], sortie.items.len());
        start_confirmed(app, &b, id).await;
        let v = watch_events(app, &b.cookies, id, |v| v["live"]["spray"] == true).await;
        assert_eq!(v["live"]["mode"], "MISSION", "{v}");
        assert_eq!(command(app, &b, id, "pause").await, StatusCode::SEE_OTHER);
        let v = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "paused").await;
        assert!(!sim.snapshot().pump_on, "pump off while paused: {v}");
        watch_events(app, &b.cookies, id, |v| v["live"]["mode"] == "HOLD").await;
        assert_eq!(command(app, &b, id, "resume").await, StatusCode::SEE_OTHER);
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["ended_status"], "completed", "{end}");
        let f = app.state.db.flight(id).await.unwrap();
        assert_eq!(f.status, "completed");
        assert!(f.sprayed_area_m2.unwrap() > 0.0);
        let s = sim.snapshot();
        assert!(s.landed && !s.armed && !s.pump_on, "{s:?}");
        sim.stop().await;
    }
);

both_apps!(
    a_px4_actuator_plan_is_not_flown_by_a_vehicle_with_no_pump_output,
    |app| {
        let farm = app.farm("px4nopump", "crop").await;
        let b = app.user("px4nopump", Role::Farmer, Some(farm.id)).await;
        let plan_id = crate::http::routes::flights::tests::planned_for(app, &b, "px4").await;
        let sortie = sortie1(app, plan_id).await;
        let mut cfg = SimConfig::new(sortie.home.unwrap());
        cfg.time_scale = 10.0;
        cfg.firmware = telemetry::Firmware::Px4;
        // The pump's output was given another function: DO_SET_ACTUATOR would move nothing.
        cfg.params = vec![("PWM_MAIN_FUNC9".into(), 0.0)];
        let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
            .await
            .unwrap();
        let link = format!("udpout:{}", sim.local_addr().unwrap());
        let vid = vehicle_and_pilot_for(app, &b, "px4nopump", &link, "px4")
            .await
            .to_string();
        let id = post_launch(app, &b, plan_id, &launch_form(&b, &vid, "0.5")).await;
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["ended_status"], "failed", "{end}");
        assert_eq!(end["live"]["problem"], "no_pump_output", "{end}");
        assert!(
            end["display"]["error"]
                .as_str()
                .unwrap()
                .contains("Peripheral via Actuator Set 1"),
            "{end}"
        );
        let s = sim.snapshot();
        assert!(!s.armed && s.list_lengths[0] == 0, "{s:?}");
        sim.stop().await;
    }
);

both_apps!(a_lost_link_fails_the_flight_and_keeps_the_record, |app| {
    let (b, sim, id) = flying_past_item(app, "lost", 3).await;
    // The vehicle goes silent (radio out of range).
    sim.stop().await;
    let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
    assert_eq!(end["live"]["ended_status"], "failed", "{end}");
    assert!(
        end["live"]["error"].as_str().unwrap().contains("failsafe"),
        "{end}"
    );
    let f = app.state.db.flight(id).await.unwrap();
    assert_eq!(f.status, "failed");
    assert!(!app.state.db.flight_samples(id).await.unwrap().is_empty());
});

/// A terrain-frame plan of `who`'s paddy over the farm's registered elevation data (a slope
/// with a 10 m terrace edge); returns the pilot, the plan and sortie 1's home.
async fn terrain_plan(app: &TestApp, who: &str) -> (Browser, i64, (f64, f64, f64)) {
    use crate::http::routes::fields::{rx_tests::farmer_with_paddy, terrain_tests as t};
    let (b, farm, field) = farmer_with_paddy(app, who).await;
    let dem = t::gsi_zip(&t::gsi_gml(t::E, 10.0));
    let r = t::upload(app, &b, farm, "FG-GML-5439-70-DEM5A.zip", &dem).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = t::plan(app, &b, field, "terrain").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let plan_id = r.location_id();
    let home = sortie1(app, plan_id).await.home.unwrap();
    (b, plan_id, home)
}

both_apps!(
    a_terrain_plan_flies_above_the_ground_the_server_sends,
    |app| {
        use crate::http::routes::fields::terrain_tests as t;
        let (b, plan_id, home) = terrain_plan(app, "tanada").await;
        let mut cfg = SimConfig::new(home);
        cfg.time_scale = 20.0;
        // The vehicle's true ground is the formula the elevation file was written from; what
        // it flies above is only what the server sends it (TERRAIN_DATA from the farm's model).
        cfg.ground = Some(telemetry::SimGround {
            source: std::sync::Arc::new(|_lat: f64, lon: f64| Some(t::ground(lon, 10.0))),
            terrain_spacing_m: 5,
        });
        let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
            .await
            .unwrap();
        let link = format!("udpout:{}", sim.local_addr().unwrap());
        let vid = vehicle_and_pilot(app, &b, "tanada", &link)
            .await
            .to_string();
        let id = launch_verified(app, &b, plan_id, &vid).await;
        let sim = std::sync::Arc::new(sim);
        let watch = sim.clone();
        let sampler = tokio::spawn(async move {
            let mut agl = Vec::new();
            for _ in 0..12_000 {
                let s = watch.snapshot();
                if s.pump_on && !s.landed && (s.lon - t::STEP_LON).abs() > 0.00045 {
                    agl.push(s.agl_m.unwrap());
                }
                if s.landed && s.sim_time_s > 5.0 && !s.armed && !agl.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            agl
        });
        start_confirmed(app, &b, id).await;
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["ended_status"], "completed", "{end}");
        let agl = sampler.await.unwrap();
        assert!(agl.len() > 20, "{} samples while spraying", agl.len());
        // Away from the terrace edge: 2 m above the true ground; terrain travels in whole
        // metres (TERRAIN_DATA heights are int16).
        let worst = agl.iter().map(|a| (a - 2.0).abs()).fold(0.0, f64::max);
        assert!(
            worst < 1.0,
            "sprayed up to {worst:.2} m off 2 m above ground"
        );
        let served = &end["live"]["terrain"];
        assert!(served["requests"].as_u64().unwrap() > 0, "{served}");
        assert!(served["blocks_sent"].as_u64().unwrap() > 0, "{served}");
        assert_eq!(served["spacing_m"], 5.0, "{served}");
        assert!(
            end["display"]["terrain"]
                .as_str()
                .unwrap()
                .contains("送信ブロック"),
            "{end}"
        );
        assert!(sim.snapshot().terrain_blocks.1 > 0);
        std::sync::Arc::try_unwrap(sim).ok().unwrap().stop().await;
    }
);

both_apps!(
    a_terrain_plan_is_not_flown_by_a_vehicle_with_terrain_following_off,
    |app| {
        let (b, plan_id, home) = terrain_plan(app, "noterrain").await;
        // No ground: the simulator's TERRAIN_ENABLE is 0, as a vehicle set up without it.
        let mut cfg = SimConfig::new(home);
        cfg.time_scale = 10.0;
        let sim = SimDrone::listen(&LinkAddress::parse("udpin:127.0.0.1:0").unwrap(), cfg)
            .await
            .unwrap();
        let link = format!("udpout:{}", sim.local_addr().unwrap());
        let vid = vehicle_and_pilot(app, &b, "noterrain", &link)
            .await
            .to_string();
        let id = post_launch(app, &b, plan_id, &launch_form(&b, &vid, "0.5")).await;
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["ended_status"], "failed", "{end}");
        assert_eq!(end["live"]["problem"], "vehicle_terrain_off", "{end}");
        assert!(
            end["display"]["error"]
                .as_str()
                .unwrap()
                .contains("機体の地形追従が無効です"),
            "{end}"
        );
        let s = sim.snapshot();
        assert!(!s.armed, "{s:?}");
        let page = app.get(&format!("/flights/{id}/live"), &b.cookies).await;
        assert!(
            page.body.contains("機体の地形追従が無効です"),
            "{}",
            page.body
        );
        sim.stop().await;
    }
);

both_apps!(
    a_terrain_plan_whose_elevation_data_is_gone_is_not_flown,
    |app| {
        let (b, plan_id, home) = terrain_plan(app, "gone").await;
        let farm = app.state.db.plan(plan_id).await.unwrap().field_id;
        let farm = app.state.db.field(farm).await.unwrap().farm_id;
        for m in app.state.db.dems_of_farm(farm).await.unwrap() {
            crate::services::terrain::delete(&app.state.db, farm, m.id)
                .await
                .unwrap();
        }
        // Refused before the link is opened: no vehicle needs to answer.
        let _ = home;
        let vid = vehicle_and_pilot(app, &b, "gone", "udpout:127.0.0.1:9")
            .await
            .to_string();
        let id = post_launch(app, &b, plan_id, &launch_form(&b, &vid, "0.5")).await;
        let end = watch_events(app, &b.cookies, id, |v| v["live"]["phase"] == "ended").await;
        assert_eq!(end["live"]["problem"], "terrain_not_served", "{end}");
        let en = format!("{}; lang=en", b.cookies);
        let page = app.get(&format!("/flights/{id}/live"), &en).await;
        assert!(
            page.body.contains("no longer holds the elevation data"),
            "{}",
            page.body
        );
    }
);
