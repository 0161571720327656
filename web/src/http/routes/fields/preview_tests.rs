//! The plan preview through the app, on both backends: the form's values planned exactly as
//! making the plan would (same figures), nothing stored, the heading and edge margin taking
//! effect, other farms and requests without the CSRF token refused, malformed values and
//! planner refusals as JSON in the person's language, and a busy planner as 503.

use axum::http::StatusCode;
use serde_json::Value;

use super::rx_tests::farmer_with_paddy;
use super::tests::plan_form;
use crate::storage::Role;
use crate::testutil::{TestApp, both_apps};

/// `form` with `key` set to `value` (added when absent, removed when `None`).
fn with<'a>(
    form: &[(&'a str, String)],
    key: &'a str,
    value: Option<&str>,
) -> Vec<(&'a str, String)> {
    let mut out: Vec<(&'a str, String)> = form.iter().filter(|(k, _)| *k != key).cloned().collect();
    if let Some(v) = value {
        out.push((key, v.to_owned()));
    }
    out
}

/// Posts `form` to the field's preview with `cookies`: the status and the JSON body.
async fn preview(
    app: &TestApp,
    cookies: &str,
    field: i64,
    form: &[(&str, String)],
) -> (StatusCode, Value) {
    preview_on(&app.router, cookies, field, form).await
}

/// [`preview`] through `router`.
async fn preview_on(
    router: &axum::Router,
    cookies: &str,
    field: i64,
    form: &[(&str, String)],
) -> (StatusCode, Value) {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;
    let body = serde_urlencoded::to_string(form).unwrap();
    let req = Request::post(format!("/fields/{field}/preview"))
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {text}"));
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    (status, v)
}

/// A plan form's pairs.
type Form<'a> = Vec<(&'a str, String)>;

fn num(v: &Value, key: &str) -> f64 {
    v["estimate"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
}

both_apps!(
    a_preview_is_the_plan_that_would_be_made_and_stores_nothing,
    |app| {
        let (b, _, field) = farmer_with_paddy(app, "yoko").await;
        let form = plan_form(&b.csrf);
        let (status, v) = preview(app, &b.cookies, field, &form).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert!(app.state.db.plans_of_field(field).await.unwrap().is_empty());
        // The route as the plan's GeoJSON: spray legs and legs with the pump off, told apart.
        let features = v["geojson"]["features"].as_array().expect("features");
        let path = |spray: bool| {
            features
                .iter()
                .filter(|f| f["properties"]["kind"] == "path" && f["properties"]["spray"] == spray)
                .count()
        };
        assert!(path(true) > 0 && path(false) > 0, "{}", v["geojson"]);
        assert!(features.iter().any(|f| f["properties"]["kind"] == "field"));
        // The estimate: 0.8 L/10a = 8 L/ha over the sprayable area, one refill between sorties.
        let litres = num(&v, "litres");
        assert!((litres - 8.0 * num(&v, "sprayable_ha")).abs() < 1e-6, "{v}");
        let sorties = num(&v, "sorties");
        assert!(sorties >= 1.0);
        assert_eq!(num(&v, "refills"), sorties - 1.0);
        assert_eq!(num(&v, "batteries"), sorties);
        assert_eq!(v["estimate"]["heading_set"], false);
        let shown = &v["estimate"]["shown"];
        let secs = num(&v, "flight_time_s").round() as u64;
        assert_eq!(
            shown["flight_time"],
            format!("{}:{:02}", secs / 60, secs % 60)
        );
        assert_eq!(shown["litres"], format!("{litres:.1}"));
        assert!(
            shown["heading"].as_str().unwrap().ends_with("° (自動)"),
            "{shown}"
        );

        // Making the plan from the same values stores what the preview showed.
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app
            .post_form(&format!("/fields/{field}/plan"), &b.cookies, &pairs)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let plans = app.state.db.plans_of_field(field).await.unwrap();
        assert_eq!(plans.len(), 1);
        let report: Value = serde_json::from_str(&plans[0].report_json).unwrap();
        for key in [
            "flight_time_s",
            "litres",
            "sorties",
            "sprayable_ha",
            "heading_deg",
        ] {
            assert_eq!(report[key], v["estimate"][key], "{key}");
        }
        // Old plans' options (stored before the heading and edge margin) read with the defaults.
        let stored: Value = serde_json::from_str(&plans[0].config_json).unwrap();
        assert_eq!(stored["heading_mode"], "auto");
        let mut old = stored.as_object().unwrap().clone();
        for k in ["heading_mode", "heading_deg", "edge_margin_m"] {
            old.remove(k);
        }
        let read: crate::http::routes::fields::plan::PlanForm =
            serde_json::from_value(Value::Object(old)).expect("old options");
        let back = serde_json::to_value(&read).unwrap();
        assert_eq!(
            (
                &back["heading_mode"],
                &back["heading_deg"],
                &back["edge_margin_m"]
            ),
            (&Value::from("auto"), &Value::from(0.0), &Value::from(0.5))
        );

        // Previews after it change nothing stored.
        let wider = with(&form, "swath_width", Some("8"));
        let (status, w) = preview(app, &b.cookies, field, &wider).await;
        assert_eq!(status, StatusCode::OK, "{w}");
        assert!(
            num(&w, "flight_time_s") < num(&v, "flight_time_s"),
            "wider swaths fly less: {w} {v}"
        );
        assert_eq!(app.state.db.plans_of_field(field).await.unwrap().len(), 1);
    }
);

both_apps!(the_heading_and_the_edge_margin_take_effect, |app| {
    let (b, _, field) = farmer_with_paddy(app, "hoku").await;
    let form = plan_form(&b.csrf);
    let set = |deg: &str| {
        let f = with(&form, "heading_mode", Some("set"));
        with(&f, "heading_deg", Some(deg))
    };
    for (deg, want) in [("30", 30.0), ("200", 20.0), ("0", 0.0)] {
        let (status, v) = preview(app, &b.cookies, field, &set(deg)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let got = num(&v, "heading_deg");
        // The report's heading is the swaths' line, 0–180°.
        let diff = (got - want).rem_euclid(180.0);
        assert!(diff.min(180.0 - diff) < 0.5, "set {deg}°, planned {got}°");
        assert_eq!(v["estimate"]["heading_set"], true);
        assert!(
            v["estimate"]["shown"]["heading"]
                .as_str()
                .unwrap()
                .contains("(指定)")
        );
    }
    // A heading written but not chosen is not used.
    let unchosen = with(&form, "heading_deg", Some("30"));
    let (_, auto) = preview(app, &b.cookies, field, &unchosen).await;
    let (_, auto_plain) = preview(app, &b.cookies, field, &form).await;
    assert_eq!(num(&auto, "heading_deg"), num(&auto_plain, "heading_deg"));
    // A wider strip along the edge leaves less to spray.
    let (_, narrow) = preview(
        app,
        &b.cookies,
        field,
        &with(&form, "edge_margin_m", Some("0.5")),
    )
    .await;
    let (_, wide) = preview(
        app,
        &b.cookies,
        field,
        &with(&form, "edge_margin_m", Some("6")),
    )
    .await;
    assert!(
        num(&wide, "sprayable_ha") < num(&narrow, "sprayable_ha") - 0.01,
        "{} vs {}",
        wide["estimate"],
        narrow["estimate"]
    );
    // Unset, the margin is the planner's default.
    assert_eq!(
        num(&narrow, "sprayable_ha"),
        num(&auto_plain, "sprayable_ha")
    );
});

both_apps!(
    other_farms_and_requests_without_the_token_are_refused,
    |app| {
        let (b, _, field) = farmer_with_paddy(app, "nishi").await;
        let other_farm = app.farm("higashi", "crop").await;
        let other = app.user("higashi", Role::Farmer, Some(other_farm.id)).await;
        // Another farm's field is not found, as a field that does not exist.
        let (status, v) = preview(app, &other.cookies, field, &plan_form(&other.csrf)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["error"], "ページが見つかりません。");
        let (status, _) = preview(app, &b.cookies, field + 1000, &plan_form(&b.csrf)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Without the session's token, or with another session's, nothing is planned.
        let (status, v) = preview(
            app,
            &b.cookies,
            field,
            &with(&plan_form(&b.csrf), "csrf", None),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(
            v["error"],
            "フォームの有効期限が切れました。もう一度送信してください。"
        );
        assert!(v.get("geojson").is_none());
        let (status, _) = preview(app, &b.cookies, field, &plan_form(&other.csrf)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Staff read the field but do not plan; nobody signed in gets nothing.
        let staff = app.user("staff-p", Role::Staff, None).await;
        let (status, _) = preview(app, &staff.cookies, field, &plan_form(&staff.csrf)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let pairs: Vec<(&str, &str)> = vec![("csrf", "x"), ("swath_width", "5")];
        let r = app
            .post_form(&format!("/fields/{field}/preview"), "", &pairs)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(app.state.db.plans_of_field(field).await.unwrap().is_empty());
    }
);

both_apps!(
    malformed_values_and_refusals_are_json_in_the_users_language,
    |app| {
        let (b, _, field) = farmer_with_paddy(app, "kawa").await;
        let en = format!("{}; lang=en", b.cookies);
        let form = plan_form(&b.csrf);
        let cases: Vec<(Form, &str, &str)> = vec![
            (
                with(&form, "swath_width", Some("abc")),
                "数値で入力してください: 散布幅 (m)",
                "Enter a number for: Swath width (m)",
            ),
            (
                with(&form, "swath_width", Some("")),
                "入力してください: 散布幅 (m)",
                "Enter a value for: Swath width (m)",
            ),
            (
                with(&form, "tank_l", None),
                "入力してください: タンク容量 (L)",
                "Enter a value for: Tank (L)",
            ),
            (
                with(&form, "edge_margin_m", Some("1e999")),
                "ほ場の縁の散布しない幅 (m)",
                "Unsprayed strip along the field edge (m)",
            ),
            (
                with(
                    &with(&form, "heading_mode", Some("set")),
                    "heading_deg",
                    Some("400"),
                ),
                "向き (度、北から時計回り) = 400 (0〜360)",
                "Heading (degrees clockwise from north) = 400 (0 to 360)",
            ),
            // The planner's own refusal: a strip wider than the paddy leaves nothing to spray.
            (
                with(&form, "edge_margin_m", Some("200")),
                "このほ場は計画できません:",
                "This field cannot be planned:",
            ),
        ];
        for (sent, ja, en_text) in &cases {
            let (status, v) = preview(app, &b.cookies, field, sent).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
            assert_eq!(v["error"], "入力内容に誤りがあります。");
            let detail = v["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(ja), "{detail}");
            let (status, v) = preview(app, &en, field, sent).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
            assert_eq!(v["error"], "Some input is not valid.");
            let detail = v["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(en_text), "{detail}");
        }
        assert!(app.state.db.plans_of_field(field).await.unwrap().is_empty());
    }
);

both_apps!(a_busy_planner_is_a_503_in_the_users_language, |app| {
    use crate::services::planner::PlannerPool;
    use std::time::Duration;
    let (b, _, field) = farmer_with_paddy(app, "oka").await;
    // The preview runs in the server's planner pool: with its one slot held, it waits the
    // pool's deadline and gives up, as making a plan would.
    let pool = PlannerPool::new(1, Duration::from_millis(300));
    let state = crate::http::state::AppState::new(
        app.state.db.clone(),
        crate::http::state::Settings {
            planner: pool.clone(),
            ..crate::http::state::Settings::default()
        },
    );
    let busy = crate::http::router::app(state);
    let hold = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.run(|| std::thread::sleep(Duration::from_millis(1_200)))
                .await
        })
    };
    while pool.n_free() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for (lang, expected) in [("", "混み合っています"), ("; lang=en", "planner is busy")] {
        let (status, v) = preview_on(
            &busy,
            &format!("{}{lang}", b.cookies),
            field,
            &plan_form(&b.csrf),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert!(v["error"].as_str().unwrap().contains(expected), "{v}");
    }
    let _ = hold.await;
    while pool.n_free() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, v) = preview_on(&busy, &b.cookies, field, &plan_form(&b.csrf)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
});

both_apps!(
    the_field_page_offers_the_heading_edge_margin_and_preview,
    |app| {
        let (b, _, field) = farmer_with_paddy(app, "mori").await;
        for (cookies, words) in [
            (
                b.cookies.clone(),
                [
                    "散布列の向き",
                    "ほ場の縁の散布しない幅 (m)",
                    "見積もり (保存前のプレビュー)",
                ],
            ),
            (
                format!("{}; lang=en", b.cookies),
                [
                    "Swath heading",
                    "Unsprayed strip along the field edge (m)",
                    "Estimate (preview, not saved)",
                ],
            ),
        ] {
            let page = app.get(&format!("/fields/{field}"), &cookies).await;
            assert_eq!(page.status, StatusCode::OK);
            for w in words {
                assert!(page.body.contains(w), "{w} missing");
            }
            // Without the script the panel stays hidden and the form posts as before.
            assert!(
                page.body.contains(
                    r#"<section id="plan-preview" aria-labelledby="preview-title" hidden"#
                ),
                "panel"
            );
            assert!(page.body.contains(r#"aria-live="polite""#));
            assert!(
                page.body
                    .contains(&format!(r#"data-preview="/fields/{field}/preview""#))
            );
            assert!(
                page.body
                    .contains(r#"<script src="/static/preview.js" defer>"#)
            );
            assert!(
                page.body
                    .contains(r#"name="heading_mode" value="auto" checked"#)
            );
            assert!(page.body.contains(r#"name="edge_margin_m" type="number""#));
        }
        // A refused plan keeps a set heading and the margin in the form it redraws.
        let mut form = with(&plan_form(&b.csrf), "heading_mode", Some("set"));
        form = with(&form, "heading_deg", Some("45"));
        form = with(&form, "edge_margin_m", Some("200"));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app
            .post_form(&format!("/fields/{field}/plan"), &b.cookies, &pairs)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body
                .contains(r#"name="heading_mode" value="set" checked"#)
        );
        assert!(r.body.contains(r#"value="45""#));
        assert!(r.body.contains(r#"value="200""#));
        // The script is served.
        let js = app.get("/static/preview.js", "").await;
        assert_eq!(js.status, StatusCode::OK);
        assert!(js.body.contains("aria-busy"));
        // Readers who cannot plan get neither the form nor the script.
        let staff = app.user("staff-m", Role::Staff, None).await;
        let page = app.get(&format!("/fields/{field}"), &staff.cookies).await;
        assert!(!page.body.contains("preview.js") && !page.body.contains("plan-preview"));
    }
);
