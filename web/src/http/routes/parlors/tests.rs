use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use futures::StreamExt;
use parlor_bridge::wire::{
    BailSnapshot, BailState, IngestBatch, KpiInterval, Record, WIRE_VERSION,
};
use tower::ServiceExt;

use crate::storage::Role;
use crate::testutil::{TestApp, both_apps};

/// Two dairy farms, each with one parlor fed one KPI interval ending now.
async fn two_farms(app: &TestApp) -> (i64, i64, i64, i64) {
    let mut ids = Vec::new();
    for (farm_name, cows) in [("north", 10.0), ("south", 20.0)] {
        let farm = app.farm(farm_name, "dairy").await;
        let tok = app
            .state
            .db
            .create_bridge_token(farm.id, "b", farm_name)
            .await
            .unwrap();
        let end = Utc::now();
        // Never straddle Tokyo midnight: the day roll-up takes the interval's start.
        let start = (end - chrono::Duration::minutes(1)).max(crate::storage::jst_day_start(end));
        let rec = Record::Interval(KpiInterval {
            key: format!("{farm_name}/1"),
            parlor: format!("{farm_name}-rotary"),
            farm: farm_name.into(),
            unit: 1,
            start,
            end,
            online_s: 60.0,
            cows,
            kg: cows * 12.0,
            cows_per_hour: cows * 60.0,
            kg_per_hour: cows * 720.0,
            cows_per_hour_rolling: 300.0,
            milkings: cows as u64,
            rotation_s: Some(540.0),
            occupancy: Some(0.9),
            idle_bails: 0.0,
            kickoffs: 0.0,
            reattaches: 0.0,
            stops: 0.0,
            washes: 0,
            high_conductivity_alerts: 1,
            state: "running".into(),
            milk_temp_c: None,
            alarms: Vec::new(),
        });
        let batch = IngestBatch {
            version: WIRE_VERSION,
            bridge_id: "b".into(),
            batch_key: farm_name.into(),
            records: vec![rec],
        };
        app.state
            .db
            .ingest_batch(tok, farm.id, &batch)
            .await
            .unwrap();
        let parlor = app.state.db.parlors_of_farm(farm.id).await.unwrap()[0].id;
        ids.push((farm.id, parlor));
    }
    (ids[0].0, ids[0].1, ids[1].0, ids[1].1)
}

both_apps!(dairy_sees_only_own_parlors, |app| {
    let (north, north_p, _south, south_p) = two_farms(app).await;
    let op = app.user("op-north", Role::Dairy, Some(north)).await;
    let own = app.get(&format!("/parlors/{north_p}"), &op.cookies).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(own.body.contains("稼働中"));
    assert!(own.body.contains("接続中"));
    for path in ["", "/today.svg", "/days.svg", "/events"] {
        let r = app
            .get(&format!("/parlors/{south_p}{path}"), &op.cookies)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "other farm's parlor{path}");
    }
    let r = app
        .get(&format!("/api/v1/parlors/{south_p}/summary"), &op.cookies)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let list = app.get("/parlors", &op.cookies).await;
    assert!(list.body.contains("north-rotary") && !list.body.contains("south-rotary"));
    let api: Vec<serde_json::Value> =
        serde_json::from_str(&app.get("/api/v1/parlors", &op.cookies).await.body).unwrap();
    assert_eq!(api.len(), 1);
    // Unknown ids are 404, not a leak of whether they exist elsewhere.
    assert_eq!(
        app.get("/parlors/999999", &op.cookies).await.status,
        StatusCode::NOT_FOUND
    );
});

both_apps!(
    kg_per_hour_is_over_the_same_window_as_cows_per_hour,
    |app| {
        let (north, north_p, _, _) = two_farms(app).await;
        let parlor = app.state.db.parlor(north_p).await.unwrap();
        let s = crate::http::routes::parlors::summary(&app.state, &parlor, crate::i18n::Lang::Ja)
            .await
            .unwrap();
        assert_eq!(parlor.farm_id, north);
        // 300 cows/h rolling, 12 kg per cow today: 3 600 kg/h, not the last interval's own rate.
        assert_eq!(s.cows_per_hour, Some(300.0));
        let kg_h = s.kg_per_hour.unwrap();
        assert!((kg_h - 3600.0).abs() < 1e-6, "{kg_h}");
        assert_eq!(s.display["kg_per_hour"], "3600");
    }
);

both_apps!(a_parlor_without_milkings_today_shows_zero, |app| {
    let farm = app.farm("quiet", "dairy").await;
    let tok = app
        .state
        .db
        .create_bridge_token(farm.id, "b", "quiet")
        .await
        .unwrap();
    // Only an offline span: the parlor exists but milked nobody today.
    let end = Utc::now() - chrono::Duration::days(3);
    let gap = Record::Gap(parlor_bridge::wire::OfflineGap {
        key: "quiet/gap".into(),
        parlor: "quiet-rotary".into(),
        farm: "quiet".into(),
        start: end - chrono::Duration::hours(1),
        end,
        controller_restarted: false,
    });
    let batch = IngestBatch {
        version: WIRE_VERSION,
        bridge_id: "b".into(),
        batch_key: "quiet".into(),
        records: vec![gap],
    };
    app.state
        .db
        .ingest_batch(tok, farm.id, &batch)
        .await
        .unwrap();
    let parlor = app.state.db.parlors_of_farm(farm.id).await.unwrap()[0].id;
    let op = app.user("op-quiet", Role::Dairy, Some(farm.id)).await;
    let page = app.get(&format!("/parlors/{parlor}"), &op.cookies).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains(">-0<"), "{}", page.body);
    assert!(!page.body.contains("-0 kg"), "{}", page.body);
});

both_apps!(staff_sees_all_and_farmers_none, |app| {
    let (north, _north_p, _south, south_p) = two_farms(app).await;
    let staff = app.user("staff", Role::Staff, None).await;
    let list = app.get("/parlors", &staff.cookies).await;
    assert!(list.body.contains("north-rotary") && list.body.contains("south-rotary"));
    let s: serde_json::Value = serde_json::from_str(
        &app.get(
            &format!("/api/v1/parlors/{south_p}/summary"),
            &staff.cookies,
        )
        .await
        .body,
    )
    .unwrap();
    assert_eq!(s["state"], "running");
    assert_eq!(s["online"], true);
    assert_eq!(s["cows_today"], 20.0);
    assert_eq!(s["kg_today"], 240.0);
    assert_eq!(s["alerts_today"], 1);
    // The staff overview sums both farms' parlors in their district (10 + 20 cows, 360 kg).
    let home = app.get("/", &staff.cookies).await.body;
    assert!(home.contains("地区別の概況"), "{home}");
    assert!(
        home.contains("data-label=\"本日の搾乳頭数\" class=\"num\">30</td>")
            && home.contains("data-label=\"本日の乳量\" class=\"num\">360</td>"),
        "{home}"
    );
    let farmer = app.user("grower", Role::Farmer, Some(north)).await;
    assert_eq!(
        app.get("/parlors", &farmer.cookies).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/parlors", "").await.status,
        StatusCode::UNAUTHORIZED
    );
});

both_apps!(charts_and_live_events, |app| {
    let (_n, north_p, _s, _sp) = two_farms(app).await;
    let staff = app.user("staff2", Role::Staff, None).await;
    let svg = app
        .get(&format!("/parlors/{north_p}/today.svg"), &staff.cookies)
        .await;
    assert_eq!(svg.status, StatusCode::OK);
    assert_eq!(
        svg.headers[header::CONTENT_TYPE],
        "image/svg+xml; charset=utf-8"
    );
    assert!(svg.body.contains("本日の時間別搾乳頭数"));
    let days = app
        .get(&format!("/parlors/{north_p}/days.svg"), &staff.cookies)
        .await;
    assert!(days.body.contains("<svg"));
    // The live stream's first event is the current summary.
    let resp = app_router(app)
        .oneshot(
            Request::get(format!("/parlors/{north_p}/events"))
                .header(header::COOKIE, format!("{}; lang=en", staff.cookies))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut stream = resp.into_body().into_data_stream();
    let first = stream.next().await.expect("an event").expect("bytes");
    let text = String::from_utf8_lossy(&first);
    assert!(text.contains("event: summary"), "{text}");
    assert!(
        text.contains("\"state\":\"Running\""),
        "English display text: {text}"
    );
});

both_apps!(ring_of_bails_on_the_page_and_live, |app| {
    let (north, north_p, _s, _sp) = two_farms(app).await;
    let op = app.user("op-ring", Role::Dairy, Some(north)).await;
    let page = app.get(&format!("/parlors/{north_p}"), &op.cookies).await;
    assert!(page.body.contains("id=\"bail-ring\""), "{}", page.body);
    assert!(page.body.contains("ストールの情報はまだ届いていません"));
    let tok = app
        .state
        .db
        .create_bridge_token(north, "ring", "ring-token")
        .await
        .unwrap();
    let snap = |t: chrono::DateTime<Utc>, key: &str, states: &[&str]| IngestBatch {
        version: WIRE_VERSION,
        bridge_id: "b".into(),
        batch_key: key.into(),
        records: vec![Record::Bails(BailSnapshot {
            key: format!("north-rotary/{}", t.timestamp_millis()),
            parlor: "north-rotary".into(),
            farm: "north".into(),
            unit: 1,
            t,
            entrance_bail: Some(2),
            bails: states
                .iter()
                .enumerate()
                .map(|(i, s)| BailState {
                    bail: i as u16 + 1,
                    state: (*s).into(),
                    cow_id: 700 + i as u64,
                    current_yield_kg: Some(6.5),
                    alarm: *s == "kicked_off",
                })
                .collect(),
        })],
    };
    let t0 = Utc::now();
    app.state
        .db
        .ingest_batch(
            tok,
            north,
            &snap(t0, "r1", &["milking", "empty", "kicked_off"]),
        )
        .await
        .unwrap();
    let page = app.get(&format!("/parlors/{north_p}"), &op.cookies).await;
    assert_eq!(
        page.body.matches("data-bail=").count(),
        6,
        "three segments and three rows"
    );
    assert!(page.body.contains("data-occupied=\"2\""), "{}", page.body);
    assert!(page.body.contains("<th scope=\"row\">2 (入口)</th>"));
    // The live stream sends the ring after the summary, and again only when it changed.
    let resp = app_router(app)
        .oneshot(
            Request::get(format!("/parlors/{north_p}/events"))
                .header(header::COOKIE, format!("{}; lang=en", op.cookies))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut stream = resp.into_body().into_data_stream();
    let mut text = String::new();
    while !text.contains("event: bails") {
        let chunk = stream.next().await.expect("an event").expect("bytes");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("Kicked off"), "{text}");
    app.state
        .db
        .ingest_batch(
            tok,
            north,
            &snap(
                t0 + chrono::Duration::seconds(5),
                "r2",
                &["done", "prep", "empty"],
            ),
        )
        .await
        .unwrap();
    let mut next = String::new();
    while !next.contains("event: bails") {
        let chunk = stream.next().await.expect("an event").expect("bytes");
        let c = String::from_utf8_lossy(&chunk).to_string();
        assert!(
            c.contains("event: summary") || c.contains("event: bails") || c.starts_with(':'),
            "{c}"
        );
        next.push_str(&c);
    }
    assert!(
        next.contains("data-occupied=\\\"2\\\"") && next.contains("Prep"),
        "{next}"
    );
    assert!(!next.contains("Kicked off</td>"), "{next}");
});

fn app_router(app: &TestApp) -> axum::Router {
    crate::http::router::app(app.state.clone())
}
