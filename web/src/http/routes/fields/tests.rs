//! Fields and plans through the app: imports, limits, the planner pool, plans, downloads and
//! who may see what.

use axum::http::StatusCode;

use crate::storage::Role;
use crate::testutil::{Browser, TestApp, both_apps};

/// A 120 m × 60 m paddy near Nasushiobara with a shed (exclusion) in one corner.
pub(super) const PADDY: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"polygon_uuid":"0a3575f8-0d3c-4200-98eb-7314d5c5fd24","land_type":"田"},
   "geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}},
  {"type":"Feature","properties":{"role":"exclusion"},
   "geometry":{"type":"Polygon","coordinates":[[[139.9801,36.9701],[139.9803,36.9701],[139.9803,36.9702],[139.9801,36.9702],[139.9801,36.9701]]]}}]}"#;

/// A bow-tie: the boundary crosses itself.
const BOWTIE: &str = r#"{"type":"Feature","properties":{"id":"bowtie"},"geometry":{"type":"Polygon",
  "coordinates":[[[139.98,36.97],[139.981,36.971],[139.981,36.97],[139.98,36.971],[139.98,36.97]]]}}"#;

/// Two paddies side by side in one file.
const TWO_PADDIES: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"id":"west"},
   "geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}},
  {"type":"Feature","properties":{"id":"east"},
   "geometry":{"type":"Polygon","coordinates":[[[139.982,36.97],[139.98334,36.97],[139.98334,36.97054],[139.982,36.97054],[139.982,36.97]]]}}]}"#;

both_apps!(an_import_cut_short_keeps_none_of_its_fields, |app| {
    let farm = app.farm("ta", "crop").await;
    let b = app.user("ta", Role::Farmer, Some(farm.id)).await;
    // A failure after the first field is stored, as a crash there would be.
    let r = crate::storage::fault::armed("fields.after_field", import(app, &b, TWO_PADDIES)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
    // Without the failure both are stored.
    let r = import(app, &b, TWO_PADDIES).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.state.db.fields(Some(farm.id)).await.unwrap().len(), 2);
});

pub(super) async fn import(app: &TestApp, b: &Browser, geojson: &str) -> crate::testutil::Resp {
    app.post_multipart(
        "/fields/import",
        &b.cookies,
        &[
            ("csrf", None, b.csrf.as_bytes()),
            ("file", Some("fields.geojson"), geojson.as_bytes()),
            ("name", None, "北の田".as_bytes()),
            ("crop", None, "水稲".as_bytes()),
        ],
    )
    .await
}

/// The plan form's plain options (no prescription), signed with `csrf`.
pub(super) fn plan_form(csrf: &str) -> Vec<(&str, String)> {
    vec![
        ("csrf", csrf.to_owned()),
        ("swath_width", "5".into()),
        ("rate_l_per_10a", "0.8".into()),
        ("tank_l", "10".into()),
        ("endurance_min", "10".into()),
        ("speed_mps", "5".into()),
        ("height_m", "2".into()),
        ("headland_passes", "1".into()),
        ("drift_buffer_m", "5".into()),
        ("autopilot", "ardupilot".into()),
    ]
}

/// Posts the plan form without a prescription, urlencoded as before uploads were taken.
pub(super) async fn post_plan_form(
    app: &TestApp,
    b: &Browser,
    field: i64,
) -> crate::testutil::Resp {
    post_plan(app, b, field, &plan_form(&b.csrf)).await
}

async fn post_plan(
    app: &TestApp,
    b: &Browser,
    field: i64,
    form: &[(&str, String)],
) -> crate::testutil::Resp {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_form(&format!("/fields/{field}/plan"), &b.cookies, &pairs)
        .await
}

both_apps!(import_plan_and_download, |app| {
    let farm = app.farm("kita", "crop").await;
    let b = app.user("kita", Role::Farmer, Some(farm.id)).await;
    let r = import(app, &b, PADDY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("ほ場を取り込みました"), "{}", r.body);
    let fields = app.state.db.fields(Some(farm.id)).await.unwrap();
    assert_eq!(fields.len(), 1);
    let f = &fields[0];
    assert_eq!(f.name, "北の田");
    assert_eq!(
        f.fude_polygon_id.as_deref(),
        Some("0a3575f8-0d3c-4200-98eb-7314d5c5fd24")
    );
    assert_eq!(f.land_type.as_deref(), Some("田"));
    assert!((f.area_ha - 0.72).abs() < 0.03, "area {}", f.area_ha);
    let gj = app
        .get(&format!("/fields/{}/geojson", f.id), &b.cookies)
        .await;
    assert!(
        gj.body.contains("\"exclusion\""),
        "the shed is kept: {}",
        gj.body
    );

    let r = post_plan(app, &b, f.id, &plan_form(&b.csrf)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let plan_url = r.headers["location"].to_str().unwrap().to_owned();
    let page = app.get(&plan_url, &b.cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("薬液量"));
    let id: i64 = plan_url.rsplit('/').next().unwrap().parse().unwrap();
    let api: serde_json::Value = serde_json::from_str(
        &app.get(&format!("/api/v1/plans/{id}"), &b.cookies)
            .await
            .body,
    )
    .unwrap();
    let report = &api["report"];
    assert_eq!(report["outside_m"], 0.0);
    assert!(report["coverage"].as_f64().unwrap() >= 0.99, "{report}");
    // litres = rate × sprayable area: 0.8 L/10a = 8 L/ha.
    let expect = 8.0 * report["sprayable_ha"].as_f64().unwrap();
    assert!(
        (report["litres"].as_f64().unwrap() - expect).abs() < 1e-6 * expect.max(1.0),
        "{report}"
    );
    let plan = app
        .get(&format!("/plans/{id}/download/plan"), &b.cookies)
        .await;
    assert!(
        plan.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".plan")
    );
    let v: serde_json::Value = serde_json::from_str(&plan.body).unwrap();
    assert_eq!(v["fileType"], "Plan");
    assert!(
        v["mission"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["command"] == 216),
        "DO_SPRAYER"
    );
    let wpl = app
        .get(&format!("/plans/{id}/download/waypoints"), &b.cookies)
        .await;
    assert!(wpl.body.starts_with("QGC WPL 110"));
    assert!(
        app.get(&format!("/plans/{id}/download/kml"), &b.cookies)
            .await
            .body
            .contains("<kml")
    );
    let gj = app.get(&format!("/plans/{id}/geojson"), &b.cookies).await;
    assert!(
        gj.body.contains("\"kind\":\"path\""),
        "{}",
        &gj.body[..200.min(gj.body.len())]
    );
    assert_eq!(
        app.get(&format!("/plans/{id}/download/exe"), &b.cookies)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
});

both_apps!(
    an_upload_over_the_limit_is_413_in_the_users_language,
    |app| {
        let farm = app.farm("oki", "crop").await;
        let b = app.user("oki", Role::Farmer, Some(farm.id)).await;
        let big = " ".repeat(crate::http::routes::fields::MAX_UPLOAD + 1024);
        let r = import(app, &b, &big).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
        assert!(r.body.contains("大きすぎます"), "{}", r.body);
        assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
    }
);

both_apps!(bad_fields_and_forms_are_422, |app| {
    let farm = app.farm("minami", "crop").await;
    let b = app.user("minami", Role::Farmer, Some(farm.id)).await;
    let r = import(app, &b, BOWTIE).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("bowtie"),
        "the error names the feature: {}",
        r.body
    );
    let r = import(app, &b, "this is not a field file").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post_multipart(
            "/fields/import",
            &b.cookies,
            &[("csrf", None, b.csrf.as_bytes())],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post_multipart(
            "/fields/import",
            &b.cookies,
            &[
                ("csrf", None, b"forged"),
                ("file", Some("f.geojson"), PADDY.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        app.state.db.fields(Some(farm.id)).await.unwrap().is_empty(),
        "nothing stored"
    );

    import(app, &b, PADDY).await;
    let f = app.state.db.fields(Some(farm.id)).await.unwrap()[0].id;
    let mut form = plan_form(&b.csrf);
    form[1].1 = "abc".into();
    let r = post_plan(app, &b, f, &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("swath_width"), "{}", r.body);
    form[1].1 = "-5".into();
    let r = post_plan(app, &b, f, &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(app.state.db.plans_of_field(f).await.unwrap().is_empty());
});

both_apps!(deeply_nested_kml_is_a_clear_422, |app| {
    let farm = app.farm("kita", "crop").await;
    let b = app.user("kita", Role::Farmer, Some(farm.id)).await;
    let placemark = "<Placemark><name>p</name><Polygon><outerBoundaryIs><LinearRing>\
        <coordinates>139.98,36.97 139.98134,36.97 139.98134,36.97054 139.98,36.97054 139.98,36.97\
        </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>";
    let nested = |depth: usize| {
        format!(
            "<?xml version=\"1.0\"?><kml><Document>{}{placemark}{}</Document></kml>",
            "<Folder>".repeat(depth),
            "</Folder>".repeat(depth)
        )
    };
    for (depth, lang_cookie, expected) in [
        (2_000, "", "KMLのフォルダーなどの入れ子が深すぎる"),
        (
            100_000,
            "; lang=en",
            "nests folders or other elements too deeply",
        ),
    ] {
        let kml = nested(depth);
        let cookies = format!("{}{lang_cookie}", b.cookies);
        let r = app
            .post_multipart(
                "/fields/import",
                &cookies,
                &[
                    ("csrf", None, b.csrf.as_bytes()),
                    ("file", Some("deep.kml"), kml.as_bytes()),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains(expected), "{}", r.body);
        assert!(r.body.contains("32"), "names the limit: {}", r.body);
    }
    assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
    // An ordinary KML with a few folders still imports.
    let r = app
        .post_multipart(
            "/fields/import",
            &b.cookies,
            &[
                ("csrf", None, b.csrf.as_bytes()),
                ("file", Some("ok.kml"), nested(3).as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.state.db.fields(Some(farm.id)).await.unwrap().len(), 1);
});

/// A KMZ whose `doc.kml` is `<kml>` and then `len` blanks, built in chunks.
fn kmz_bomb(len: usize) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    z.start_file("doc.kml", opts).unwrap();
    std::io::Write::write_all(&mut z, b"<kml>").unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..len / chunk.len() {
        std::io::Write::write_all(&mut z, &chunk).unwrap();
    }
    z.finish().unwrap().into_inner()
}

both_apps!(kmz_bombs_are_a_clear_422, |app| {
    let farm = app.farm("higashi", "crop").await;
    let b = app.user("higashi", Role::Farmer, Some(farm.id)).await;
    let bomb = kmz_bomb(256 << 20);
    for (lang_cookie, expected) in [("", "圧縮爆弾"), ("; lang=en", "zip bomb")] {
        let r = app
            .post_multipart(
                "/fields/import",
                &format!("{}{lang_cookie}", b.cookies),
                &[
                    ("csrf", None, b.csrf.as_bytes()),
                    ("file", Some("bomb.kmz"), &bomb),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains(expected), "{}", r.body);
    }
    assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
});

both_apps!(
    nul_field_names_are_a_422_and_file_names_are_cleaned,
    |app| {
        let farm = app.farm("nishi", "crop").await;
        let b = app.user("nishi", Role::Farmer, Some(farm.id)).await;
        let post = |name: &'static str, file: &'static str| {
            let cookies = b.cookies.clone();
            let csrf = b.csrf.clone();
            async move {
                app.post_multipart(
                    "/fields/import",
                    &cookies,
                    &[
                        ("csrf", None, csrf.as_bytes()),
                        ("file", Some("f.geojson"), file.as_bytes()),
                        ("name", None, name.as_bytes()),
                    ],
                )
                .await
            }
        };
        let r = post("北の\0田", PADDY).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("制御文字"), "{}", r.body);
        let long: &'static str = Box::leak("田".repeat(101).into_boxed_str());
        let r = post(long, PADDY).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
        // A NUL inside the file's own feature id and land type is dropped, not stored.
        let r = post(
        "",
        r#"{"type":"Feature","properties":{"id":"a\u0000b","land_type":"田\u0000"},"geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}}"#,
    )
    .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let fields = app.state.db.fields(Some(farm.id)).await.unwrap();
        assert_eq!(fields[0].name, "ab");
        assert_eq!(fields[0].land_type.as_deref(), Some("田"));
    }
);

both_apps!(other_farms_fields_are_forbidden_everywhere, |app| {
    let a = app.farm("a-farm", "crop").await;
    let b_farm = app.farm("b-farm", "crop").await;
    let a_user = app.user("a-user", Role::Farmer, Some(a.id)).await;
    let b_user = app.user("b-user", Role::Farmer, Some(b_farm.id)).await;
    import(app, &a_user, PADDY).await;
    let f = app.state.db.fields(Some(a.id)).await.unwrap()[0].id;
    let r = post_plan(app, &a_user, f, &plan_form(&a_user.csrf)).await;
    let plan = r.headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    for path in [
        format!("/fields/{f}"),
        format!("/fields/{f}/geojson"),
        format!("/plans/{plan}"),
        format!("/plans/{plan}/geojson"),
        format!("/plans/{plan}/download/plan"),
        format!("/api/v1/plans/{plan}"),
    ] {
        assert_eq!(
            app.get(&path, &b_user.cookies).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            app.get(&path, "").await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let r = post_plan(app, &b_user, f, &plan_form(&b_user.csrf)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        !app.get("/fields.geojson", &b_user.cookies)
            .await
            .body
            .contains("0a3575f8")
    );
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&app.get("/api/v1/fields", &b_user.cookies).await.body).unwrap();
    assert!(list.is_empty());
    // Staff read everything but cannot import or plan.
    let staff = app.user("staff-f", Role::Staff, None).await;
    assert_eq!(
        app.get(&format!("/plans/{plan}"), &staff.cookies)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        import(app, &staff, PADDY).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_plan(app, &staff, f, &plan_form(&staff.csrf))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
});

both_apps!(health_answers_while_the_planner_is_full, |app| {
    use crate::services::planner::PlannerPool;
    use axum::body::Body;
    use axum::http::{Request, header};
    use std::time::Duration;
    use tower::ServiceExt;
    let farm = app.farm("kita", "crop").await;
    let b = app.user("kita", Role::Farmer, Some(farm.id)).await;
    import(app, &b, PADDY).await;
    let field = app.state.db.fields(Some(farm.id)).await.unwrap()[0].id;
    // A server whose one planner slot is held by a long job.
    let pool = PlannerPool::new(1, Duration::from_millis(400));
    let state = crate::http::state::AppState::new(
        app.state.db.clone(),
        crate::http::state::Settings {
            planner: pool.clone(),
            ..crate::http::state::Settings::default()
        },
    );
    let router = crate::http::router::app(state);
    let send = |req: Request<Body>| {
        let router = router.clone();
        async move {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let hold = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.run(|| std::thread::sleep(Duration::from_millis(1_500)))
                .await
        })
    };
    while pool.n_free() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (status, body) = send(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let form = serde_urlencoded::to_string(
        plan_form(&b.csrf)
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let plan = |lang: &str| {
        Request::post(format!("/fields/{field}/plan"))
            .header(header::COOKIE, format!("{}{lang}", b.cookies))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.clone()))
            .unwrap()
    };
    for (lang, expected) in [("", "混み合っています"), ("; lang=en", "planner is busy")] {
        let (status, body) = send(plan(lang)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains(expected), "{body}");
    }
    assert!(app.state.db.plans_of_field(field).await.unwrap().is_empty());
    let _ = hold.await;
    while pool.n_free() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = send(plan("")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
});

both_apps!(oversized_and_malformed_fields_say_what_to_fix, |app| {
    let farm = app.farm("nanbu", "crop").await;
    let b = app.user("nanbu", Role::Farmer, Some(farm.id)).await;
    let post = |cookies: String, body: String| {
        let csrf = b.csrf.clone();
        async move {
            app.post_multipart(
                "/fields/import",
                &cookies,
                &[
                    ("csrf", None, csrf.as_bytes()),
                    ("file", Some("f.geojson"), body.as_bytes()),
                ],
            )
            .await
        }
    };
    let square =
        "[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]";
    let hole = "[[139.9801,36.9701],[139.9801,36.9702],[139.9802,36.9702],[139.9801,36.9701]]";
    let holes = format!(
        r#"{{"type":"Feature","properties":{{"id":"holey"}},"geometry":{{"type":"Polygon","coordinates":[{square},{}]}}}}"#,
        vec![hole; 2_500].join(",")
    );
    let antimeridian = r#"{"type":"Feature","properties":{"id":"fiji"},"geometry":{"type":"Polygon","coordinates":[[[179.9999,-16.5],[-179.9999,-16.5],[-179.9999,-16.4999],[179.9999,-16.4999],[179.9999,-16.5]]]}}"#;
    let en = format!("{}; lang=en", b.cookies);
    for (cookies, body, expected) in [
        (
            b.cookies.clone(),
            holes.clone(),
            "穴（くり抜き部分）が多すぎます",
        ),
        (
            en.clone(),
            holes.clone(),
            "too many holes. Draw small obstacles as exclusion zones",
        ),
        (b.cookies.clone(), antimeridian.to_owned(), "日付変更線"),
        (
            en.clone(),
            antimeridian.to_owned(),
            "crosses the 180° meridian",
        ),
        (b.cookies.clone(), BOWTIE.to_owned(), "自分自身と交差"),
        (en.clone(), BOWTIE.to_owned(), "crosses itself"),
    ] {
        let r = post(cookies, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains(expected), "{expected}: {}", r.body);
        assert!(!r.body.contains("zero area"), "{}", r.body);
    }
    assert!(app.state.db.fields(Some(farm.id)).await.unwrap().is_empty());
    // A wild plan option is shown short, not as 309 digits.
    import(app, &b, PADDY).await;
    let f = app.state.db.fields(Some(farm.id)).await.unwrap()[0].id;
    let mut form = plan_form(&b.csrf);
    form[1].1 = "1e308".into();
    let r = post_plan(app, &b, f, &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("1e308") && r.body.contains("設定値が範囲外"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("0000000000"), "{}", r.body);
});

both_apps!(
    the_plan_page_says_how_the_fence_was_fitted_to_the_vehicle,
    |app| {
        let farm = app.farm("fence", "crop").await;
        let b = app.user("fence", Role::Farmer, Some(farm.id)).await;
        assert_eq!(import(app, &b, PADDY).await.status, StatusCode::OK);
        let field = app.state.db.fields(Some(farm.id)).await.unwrap()[0].id;
        let with = |margin: &str, points: &str| {
            let mut f = plan_form(&b.csrf);
            f.push(("fence_margin_m", margin.into()));
            f.push(("fence_points", points.into()));
            f
        };
        // The whole fence fits 70 vertices: the page says it goes up as it is.
        let (page, whole) =
            plan_page_and_report(app, &b, post_plan(app, &b, field, &with("2", "70")).await).await;
        let full = whole["fence_points_full"].as_u64().unwrap();
        assert!(
            page.contains("ジオフェンス") && page.contains("元の形のまま"),
            "{page}"
        );
        assert!(page.contains(&format!("{full} / {full}")), "{page}");
        // A vehicle that stores 4 vertices gets the outer ring alone, and the page says so.
        let (page, fitted) =
            plan_page_and_report(app, &b, post_plan(app, &b, field, &with("3", "4")).await).await;
        let sent = fitted["fence_points"].as_u64().unwrap();
        assert!(sent <= 4 && full > 4, "{fitted}");
        assert!(page.contains(&format!("{sent} / {full}")), "{page}");
        assert!(page.contains("外側へ簡略化"), "{page}");
        assert_eq!(fitted["fence_exclusions_dropped"], 1, "{fitted}");
        assert_eq!(fitted["outside_m"], 0.0);
        // A fence of 2 vertices is not a fence: refused in the user's language, nothing stored.
        let before = app.state.db.plans_of_field(field).await.unwrap().len();
        let r = post_plan(app, &b, field, &with("2", "2")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body
                .contains("機体が保存できるフェンス頂点数 = 2 (3 以上)"),
            "{}",
            r.body
        );
        // The form's own fields are named as the form names them, in Japanese.
        let r = post_plan(app, &b, field, &with("25", "70")).await;
        assert!(
            r.body.contains("ジオフェンスとの間隔") && r.body.contains("20 m 以下"),
            "{}",
            r.body
        );
        let mut tall = with("2", "70");
        tall.retain(|(k, _)| *k != "height_m");
        tall.push(("height_m", "20000".into()));
        let r = post_plan(app, &b, field, &tall).await;
        assert!(
            r.body.contains("散布高度 (m) = 20000 (0〜10000 の数値)"),
            "{}",
            r.body
        );
        assert_eq!(
            app.state.db.plans_of_field(field).await.unwrap().len(),
            before
        );
    }
);

/// After a plan was made: its page and the planner's report from the API.
async fn plan_page_and_report(
    app: &TestApp,
    b: &Browser,
    made: crate::testutil::Resp,
) -> (String, serde_json::Value) {
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let url = made.headers["location"].to_str().unwrap().to_owned();
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    let api = app.get(&format!("/api/v1/plans/{id}"), &b.cookies).await;
    let report = serde_json::from_str::<serde_json::Value>(&api.body).unwrap()["report"].clone();
    (app.get(&url, &b.cookies).await.body, report)
}

both_apps!(a_farmer_renames_a_field_and_gives_its_place, |app| {
    let farm = app.farm("mishima", "crop").await;
    let b = app.user("mishima", Role::Farmer, Some(farm.id)).await;
    assert_eq!(import(app, &b, PADDY).await.status, StatusCode::OK);
    let f = app.state.db.fields(Some(farm.id)).await.unwrap()[0].clone();
    let (b, fid) = (&b, f.id);
    let edit = |name: &str, chiban: &str| {
        vec![
            ("csrf", b.csrf.clone()),
            ("name", name.to_owned()),
            ("crop", "飼料用米".to_owned()),
            ("address", "那須塩原市三島".to_owned()),
            ("chiban", chiban.to_owned()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| async move {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app.post_form(&format!("/fields/{fid}/edit"), &b.cookies, &pairs)
            .await
    };
    // The form holds what the field has.
    let page = app.get(&format!("/fields/{}/edit", f.id), &b.cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("value=\"{}\"", f.name)),
        "{}",
        page.body
    );
    // Refused, kept: an empty name, a NUL in the 地番.
    let r = post(edit("  ", "123")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("名前を入力してください"), "{}", r.body);
    assert!(r.body.contains("value=\"那須塩原市三島\""), "{}", r.body);
    let r = post(edit("北の田", "12\u{0}3")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(!r.body.contains('\u{0}'));
    assert_eq!(app.state.db.field(f.id).await.unwrap().name, f.name);
    // Saved: the page shows the new name, crop, address and 地番.
    let r = post(edit(" 北の田 ", "三島 123-4")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let saved = app.state.db.field(f.id).await.unwrap();
    assert_eq!(
        (
            saved.name.as_str(),
            saved.crop.as_str(),
            saved.chiban.as_str()
        ),
        ("北の田", "飼料用米", "三島 123-4")
    );
    let page = app.get(&format!("/fields/{}", f.id), &b.cookies).await;
    for needle in [
        "<h1>北の田</h1>",
        "飼料用米",
        "那須塩原市三島",
        "三島 123-4",
        "まだ計画も飛行もありません",
    ] {
        assert!(page.body.contains(needle), "{needle} missing");
    }
    // The history lists a plan once made.
    let made = post_plan_form(app, b, f.id).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let page = app.get(&format!("/fields/{}", f.id), &b.cookies).await;
    assert!(page.body.contains("散布計画を作成"), "{}", page.body);
    // Another farm can neither see the form nor change the field.
    let other_farm = app.farm("yoso", "crop").await;
    let other = app.user("yoso", Role::Farmer, Some(other_farm.id)).await;
    let r = app
        .get(&format!("/fields/{}/edit", f.id), &other.cookies)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(
            &format!("/fields/{}/edit", f.id),
            &other.cookies,
            &[
                ("csrf", other.csrf.as_str()),
                ("name", "盗"),
                ("crop", ""),
                ("address", ""),
                ("chiban", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.state.db.field(f.id).await.unwrap().name, "北の田");
});
