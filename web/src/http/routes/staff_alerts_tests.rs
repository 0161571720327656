use axum::http::StatusCode;
use chrono::Utc;

use crate::storage::Role;
use crate::testutil::{TestApp, both_apps};

const KEY: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

/// An open staff alert of the first district, with the silent farm's name as its detail.
async fn staff_alert(app: &TestApp) -> i64 {
    let d = app.state.db.districts().await.unwrap()[0].id;
    let mut tx = app.state.db.begin().await.unwrap();
    let id = tx
        .open_staff_alert(d, "2026-11-10", "静かな牧場", Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert!(
        tx.open_staff_alert(d, "2026-11-10", "静かな牧場", Utc::now())
            .await
            .unwrap()
            .is_none(),
        "one alert per district and day"
    );
    tx.commit().await.unwrap();
    id
}

both_apps!(staff_edit_the_rule_and_channels_and_acknowledge, |app| {
    let alert = staff_alert(app).await;
    let staff = app.user("kakari", Role::Staff, None).await;
    let districts = app.state.db.districts().await.unwrap();
    let r = app.get("/staff/alerts", &staff.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for want in [
        "地区のデータ未着アラート",
        "黒磯",
        "静かな牧場",
        "2026-11-10",
        "発生中",
    ] {
        assert!(r.body.contains(want), "{want}: {}", r.body);
    }
    let en = app
        .get("/staff/alerts", &format!("{}; lang=en", staff.cookies))
        .await;
    assert!(
        en.body.contains("District missing-data alerts"),
        "{}",
        en.body
    );
    // The home links to it.
    assert!(
        app.get("/", &staff.cookies)
            .await
            .body
            .contains("href=\"/staff/alerts\"")
    );

    let d0 = districts[0].id.to_string();
    let d2 = districts[2].id.to_string();
    let form = |csrf: &str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.to_owned()),
            ("enabled", "1".into()),
            ("after_hour", "7".into()),
            ("district", d0.clone()),
            ("district", d2.clone()),
        ]
    };
    let post = async |uri: &str, cookies: &str, f: &[(&str, String)]| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app.post_form(uri, cookies, &f).await
    };
    // A wrong CSRF token changes nothing.
    let r = post("/staff/alerts/rule", &staff.cookies, &form("nope")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!app.state.db.staff_alert_rule().await.unwrap().enabled);
    let csrf = staff.csrf.as_str();
    let r = post("/staff/alerts/rule", &staff.cookies, &form(csrf)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let rule = app.state.db.staff_alert_rule().await.unwrap();
    assert!(rule.enabled);
    assert_eq!(rule.after_hour, 7);
    assert_eq!(rule.districts, vec![districts[0].id, districts[2].id]);
    // Bad input: a clear 422 in the user's language, never a panic.
    let mut bad = form(csrf);
    bad[2].1 = "25".into();
    let r = post("/staff/alerts/rule", &staff.cookies, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("0 から 23"), "{}", r.body);
    bad[2].1 = "7".into();
    bad[3].1 = "abc".into();
    let r = post("/staff/alerts/rule", &staff.cookies, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("選ばれた地区がありません"), "{}", r.body);
    let r = post(
        "/staff/alerts/channels",
        &staff.cookies,
        &[
            ("csrf", csrf.into()),
            ("kind", "email".into()),
            ("target", "not an address".into()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = post(
        "/staff/alerts/channels",
        &staff.cookies,
        &[
            ("csrf", csrf.into()),
            ("kind", "email".into()),
            ("target", "kakari@city.example.jp".into()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let ch = app.state.db.staff_alert_channels().await.unwrap();
    assert_eq!(ch.len(), 1);
    assert!(ch[0].enabled);
    let r = post(
        &format!("/staff/alerts/channels/{}/enabled", ch[0].id),
        &staff.cookies,
        &[("csrf", csrf.into()), ("enabled", "0".into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(!app.state.db.staff_alert_channels().await.unwrap()[0].enabled);
    let r = post(
        "/staff/alerts/channels/9999/enabled",
        &staff.cookies,
        &[("csrf", csrf.into()), ("enabled", "1".into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Acknowledged by this staff member; an unknown alert is 404.
    let r = post(
        &format!("/staff/alerts/{alert}/ack"),
        &staff.cookies,
        &[("csrf", csrf.into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let a = &app.state.db.staff_alerts(5).await.unwrap()[0];
    assert!(a.acknowledged_at.is_some() && a.acknowledged_by.is_some());
    let r = post(
        "/staff/alerts/9999/ack",
        &staff.cookies,
        &[("csrf", csrf.into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/staff/alerts", &staff.cookies).await;
    assert!(
        !r.body.contains(&format!("/staff/alerts/{alert}/ack")),
        "no button once acknowledged"
    );
    // This browser by Web Push, through the farm pages' push section and script.
    assert!(
        r.body.contains("data-subscribe=\"/staff/alerts/push\""),
        "{}",
        r.body
    );
    assert!(r.body.contains("/static/push.js"));
    let sub = [
        ("csrf", csrf.to_owned()),
        (
            "endpoint",
            "https://push.example.net/ep/kakari-phone".to_owned(),
        ),
        ("p256dh", KEY.to_owned()),
        ("auth", AUTH.to_owned()),
    ];
    let r = post("/staff/alerts/push", &staff.cookies, &sub).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let mut bad = sub.clone();
    bad[1].1 = "ftp://push.example.net/x".into();
    let r = post("/staff/alerts/push", &staff.cookies, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let subs = app.state.db.staff_push_subscriptions().await.unwrap();
    assert_eq!(subs.len(), 1);
    let r = app.get("/staff/alerts", &staff.cookies).await;
    assert!(r.body.contains("https://push.example.net"), "{}", r.body);
    assert!(
        !r.body.contains("kakari-phone"),
        "the endpoint is a capability"
    );
    let r = post(
        &format!("/staff/alerts/push/{}/remove", subs[0].id),
        &staff.cookies,
        &[("csrf", csrf.into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        app.state
            .db
            .staff_push_subscriptions()
            .await
            .unwrap()
            .is_empty()
    );
});

both_apps!(farm_users_reach_nothing_of_staff_alerts, |app| {
    let alert = staff_alert(app).await;
    let farm = app.farm("那須牧場", "mixed").await.id;
    for (name, role) in [("s-farmer", Role::Farmer), ("s-dairy", Role::Dairy)] {
        let u = app.user(name, role, Some(farm)).await;
        let r = app.get("/staff/alerts", &u.cookies).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}");
        for (uri, form) in [
            (
                "/staff/alerts/rule".to_owned(),
                vec![
                    ("csrf", u.csrf.as_str()),
                    ("enabled", "0"),
                    ("after_hour", "6"),
                ],
            ),
            (
                "/staff/alerts/channels".to_owned(),
                vec![
                    ("csrf", u.csrf.as_str()),
                    ("kind", "email"),
                    ("target", "farmer@example.jp"),
                ],
            ),
            (
                "/staff/alerts/channels/1/enabled".to_owned(),
                vec![("csrf", u.csrf.as_str()), ("enabled", "0")],
            ),
            (
                format!("/staff/alerts/{alert}/ack"),
                vec![("csrf", u.csrf.as_str())],
            ),
            (
                "/staff/alerts/push".to_owned(),
                vec![
                    ("csrf", u.csrf.as_str()),
                    ("endpoint", "https://push.example.net/ep/farmer"),
                    ("p256dh", KEY),
                    ("auth", AUTH),
                ],
            ),
        ] {
            let r = app.post_form(&uri, &u.cookies, &form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{name} {uri}: {}", r.body);
        }
        // Their farm's alerts page lists none of it.
        let r = app.get(&format!("/farms/{farm}/alerts"), &u.cookies).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(!r.body.contains("静かな牧場"), "{}", r.body);
        assert!(!r.body.contains("/staff/alerts"), "{}", r.body);
        assert!(
            !app.get("/", &u.cookies)
                .await
                .body
                .contains("/staff/alerts")
        );
    }
    let a = &app.state.db.staff_alerts(5).await.unwrap()[0];
    assert!(a.acknowledged_at.is_none());
    assert!(!app.state.db.staff_alert_rule().await.unwrap().enabled);
    assert!(
        app.state
            .db
            .staff_alert_channels()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.state
            .db
            .staff_push_subscriptions()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(app.state.db.alerts_of_farm(farm).await.unwrap().is_empty());
});
