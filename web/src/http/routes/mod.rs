//! HTTP routes, one module per resource; each exposes `router()` and [`crate::http::router::app`] merges them.

pub mod account;
pub mod admin;
pub mod alert_push;
pub mod alert_settings;
pub mod alerts;
pub mod assets;
pub mod fields;
pub mod flight_shared;
pub mod flights;
pub mod health;
pub mod home;
pub mod ingest;
pub mod launch;
pub mod openapi;
pub mod opendata;
pub mod parlors;
#[cfg(test)]
mod raw_identifiers;
pub mod records;
pub mod reports;
pub mod session;
pub mod staff_alerts;
pub mod tiles;
pub mod vehicles;

#[cfg(test)]
mod authorization {
    //! Every page and API route, tried by every role and by other farms' users: who may read
    //! what is one table here, so a new route without a rule shows up as a failing row.

    use axum::http::StatusCode;
    use chrono::Utc;
    use parlor_bridge::wire::{IngestBatch, KpiInterval, Record, WIRE_VERSION};

    use crate::storage::{NewField, NewPlan, Role};
    use crate::testutil::{Browser, TestApp, both_apps};

    const OK: StatusCode = StatusCode::OK;
    const NO: StatusCode = StatusCode::FORBIDDEN;
    const ANON: StatusCode = StatusCode::UNAUTHORIZED;

    /// Farm A (mixed) owns a field, a plan and a parlor; farm B owns nothing.
    async fn world(app: &TestApp) -> (i64, i64, i64, Vec<(&'static str, Browser)>) {
        let a = app.farm("farm-a", "mixed").await;
        let b = app.farm("farm-b", "mixed").await;
        let fc = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"f","kind":"field"},"geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.981,36.97],[139.981,36.9705],[139.98,36.9705],[139.98,36.97]]]}}]}"#;
        let field = app
            .state
            .db
            .create_field(&NewField {
                farm_id: a.id,
                name: "f",
                crop: "",
                fude_polygon_id: None,
                land_type: None,
                geojson: fc,
                area_ha: 0.5,
            })
            .await
            .unwrap();
        let plan = app
            .state
            .db
            .create_plan(&NewPlan {
                field_id: field.id,
                config_json: "{}",
                report_json: "{}",
                plan_file: "{}",
                geojson: "{}",
                waypoints_file: "",
                kml_file: "",
                autopilot: "ardupilot",
            })
            .await
            .unwrap();
        let tok = app
            .state
            .db
            .create_bridge_token(a.id, "b", "auth-test")
            .await
            .unwrap();
        let now = Utc::now();
        let rec = Record::Interval(KpiInterval {
            key: "k".into(),
            parlor: "rotary".into(),
            farm: "farm-a".into(),
            unit: 1,
            start: now - chrono::Duration::minutes(1),
            end: now,
            online_s: 60.0,
            cows: 1.0,
            kg: 10.0,
            cows_per_hour: 60.0,
            kg_per_hour: 600.0,
            cows_per_hour_rolling: 60.0,
            milkings: 1,
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
        });
        app.state
            .db
            .ingest_batch(
                tok,
                a.id,
                &IngestBatch {
                    version: WIRE_VERSION,
                    bridge_id: "b".into(),
                    batch_key: "k".into(),
                    records: vec![rec],
                },
            )
            .await
            .unwrap();
        let parlor = app.state.db.parlors_of_farm(a.id).await.unwrap()[0].id;
        let users = vec![
            ("admin", app.user("u-admin", Role::Admin, None).await),
            ("staff", app.user("u-staff", Role::Staff, None).await),
            (
                "farmer-a",
                app.user("u-farmer-a", Role::Farmer, Some(a.id)).await,
            ),
            (
                "dairy-a",
                app.user("u-dairy-a", Role::Dairy, Some(a.id)).await,
            ),
            (
                "farmer-b",
                app.user("u-farmer-b", Role::Farmer, Some(b.id)).await,
            ),
            (
                "dairy-b",
                app.user("u-dairy-b", Role::Dairy, Some(b.id)).await,
            ),
        ];
        (field.id, plan, parlor, users)
    }

    both_apps!(every_route_by_every_role, |app| {
        let (field, plan, parlor, users) = world(app).await;
        // --- flights (launch, vehicles, go/no-go) ---
        let farm_a = app.state.db.field(field).await.unwrap().farm_id;
        let flight = app
            .state
            .db
            .create_flight(&crate::storage::NewFlight {
                farm_id: farm_a,
                field_id: Some(field),
                plan_id: Some(plan),
                status: "completed",
                sprayed_area_m2: Some(100.0),
                litres: Some(0.08),
                summary_json: "{}",
                samples: &[],
                tlog: None,
            })
            .await
            .unwrap();
        let vehicle = app
            .state
            .db
            .create_vehicle(&crate::storage::NewVehicle {
                farm_id: farm_a,
                registration_no: "JU-AUTH",
                name: "v",
                autopilot: "ardupilot",
                link_address: "udpout:127.0.0.1:9",
                registration_expiry: None,
                pump_servo: 9,
            })
            .await
            .unwrap();
        let farmer_a_id = app
            .state
            .db
            .user_by_username("u-farmer-a")
            .await
            .unwrap()
            .unwrap()
            .id;
        let dairy_a = app
            .state
            .db
            .user_by_username("u-dairy-a")
            .await
            .unwrap()
            .unwrap()
            .id;
        let district = app.state.db.farm(farm_a).await.unwrap().district_id;
        // Expected status for: admin, staff, farmer-a, dairy-a, farmer-b, dairy-b.
        let table: Vec<(String, [StatusCode; 6])> = vec![
            ("/".into(), [OK, OK, OK, OK, OK, OK]),
            ("/admin".into(), [OK, NO, NO, NO, NO, NO]),
            ("/account".into(), [OK, OK, OK, OK, OK, OK]),
            (format!("/admin/farms/{farm_a}"), [OK, NO, NO, NO, NO, NO]),
            (format!("/admin/users/{dairy_a}"), [OK, NO, NO, NO, NO, NO]),
            ("/fields".into(), [OK, OK, OK, OK, OK, OK]),
            ("/fields.geojson".into(), [OK, OK, OK, OK, OK, OK]),
            (format!("/fields/{field}"), [OK, OK, OK, OK, NO, NO]),
            (format!("/fields/{field}/geojson"), [OK, OK, OK, OK, NO, NO]),
            (format!("/plans/{plan}"), [OK, OK, OK, OK, NO, NO]),
            (format!("/plans/{plan}/geojson"), [OK, OK, OK, OK, NO, NO]),
            (
                format!("/plans/{plan}/download/plan"),
                [OK, OK, OK, OK, NO, NO],
            ),
            (format!("/api/v1/plans/{plan}"), [OK, OK, OK, OK, NO, NO]),
            ("/api/v1/fields".into(), [OK, OK, OK, OK, OK, OK]),
            ("/parlors".into(), [OK, OK, NO, OK, NO, OK]),
            (format!("/parlors/{parlor}"), [OK, OK, NO, OK, NO, NO]),
            (
                format!("/parlors/{parlor}/today.svg"),
                [OK, OK, NO, OK, NO, NO],
            ),
            (
                format!("/parlors/{parlor}/days.svg"),
                [OK, OK, NO, OK, NO, NO],
            ),
            ("/api/v1/parlors".into(), [OK, OK, NO, OK, NO, OK]),
            (
                format!("/api/v1/parlors/{parlor}/summary"),
                [OK, OK, NO, OK, NO, NO],
            ),
            // --- records ---
            (
                format!("/flights/{flight}/record"),
                [OK, OK, OK, OK, NO, NO],
            ),
            (
                format!("/flights/{flight}/logbook"),
                [OK, OK, OK, OK, NO, NO],
            ),
            (format!("/farms/{farm_a}/records"), [OK, OK, OK, OK, NO, NO]),
            (
                format!("/farms/{farm_a}/records.csv"),
                [OK, OK, OK, OK, NO, NO],
            ),
            (
                format!("/farms/{farm_a}/logbook.csv"),
                [OK, OK, OK, OK, NO, NO],
            ),
            // --- alerts ---
            (format!("/farms/{farm_a}/alerts"), [OK, OK, OK, OK, NO, NO]),
            ("/staff/alerts".into(), [OK, OK, NO, NO, NO, NO]),
            (format!("/farms/{farm_a}/terrain"), [OK, OK, OK, OK, NO, NO]),
            (
                format!("/farms/{farm_a}/alerts/settings"),
                [OK, OK, OK, OK, NO, NO],
            ),
            // --- flights (launch, vehicles, go/no-go) ---
            ("/flights".into(), [OK, OK, OK, OK, OK, OK]),
            ("/api/v1/flights".into(), [OK, OK, OK, OK, OK, OK]),
            (format!("/flights/{flight}"), [OK, OK, OK, OK, NO, NO]),
            (format!("/flights/{flight}/live"), [OK, OK, OK, OK, NO, NO]),
            (
                format!("/flights/{flight}/events"),
                [OK, OK, OK, OK, NO, NO],
            ),
            (format!("/plans/{plan}/launch"), [OK, NO, OK, NO, NO, NO]),
            ("/vehicles".into(), [OK, OK, OK, NO, OK, NO]),
            (format!("/vehicles/{vehicle}"), [OK, OK, OK, NO, NO, NO]),
            ("/api/v1/vehicles".into(), [OK, OK, OK, NO, OK, NO]),
            (format!("/pilots/{farmer_a_id}"), [OK, NO, OK, NO, NO, NO]),
            // --- reports ---
            ("/reports".into(), [OK, OK, NO, NO, NO, NO]),
            ("/reports/csv".into(), [OK, OK, NO, NO, NO, NO]),
            (
                format!("/reports/districts/{district}"),
                [OK, OK, NO, NO, NO, NO],
            ),
            (
                format!("/reports/districts/{district}/csv"),
                [OK, OK, NO, NO, NO, NO],
            ),
            (format!("/reports/farms/{farm_a}"), [OK, OK, OK, OK, NO, NO]),
            (
                format!("/reports/farms/{farm_a}/csv"),
                [OK, OK, OK, OK, NO, NO],
            ),
            ("/opendata".into(), [OK, OK, OK, OK, OK, OK]),
            (
                "/opendata/district-month.csv".into(),
                [OK, OK, OK, OK, OK, OK],
            ),
            (
                "/opendata/district-month.json".into(),
                [OK, OK, OK, OK, OK, OK],
            ),
            ("/opendata/schema.json".into(), [OK, OK, OK, OK, OK, OK]),
        ];
        for (path, expect) in &table {
            let anon = app.get(path, "").await.status;
            let want_anon = if path == "/" {
                StatusCode::SEE_OTHER
            } else if path.starts_with("/opendata") {
                OK // open data is public
            } else {
                ANON
            };
            assert_eq!(anon, want_anon, "anonymous {path}");
            for ((who, b), want) in users.iter().zip(expect) {
                let got = app.get(path, &b.cookies).await.status;
                assert_eq!(got, *want, "{who} GET {path}");
            }
        }
        // Lists never leak another farm's rows.
        let (_, farmer_b) = &users[4];
        assert!(
            !app.get("/fields", &farmer_b.cookies)
                .await
                .body
                .contains(&format!("/fields/{field}\""))
        );
        let (_, dairy_b) = &users[5];
        assert!(
            !app.get("/parlors", &dairy_b.cookies)
                .await
                .body
                .contains("rotary")
        );
    });
}
