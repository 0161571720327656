use axum::http::StatusCode;
use chrono::Utc;

use crate::services::alerts::ack_link::{self, Scope};
use crate::storage::{OpenCondition, Role, RuleKind};
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
                "/staff/alerts/channels/1/timing".to_owned(),
                vec![
                    ("csrf", u.csrf.as_str()),
                    ("quiet_from", "22:00"),
                    ("quiet_to", "06:00"),
                ],
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

/// A farm's open alert (its own table numbers it from 1, as the staff table does).
async fn farm_alert(app: &TestApp) -> (i64, i64) {
    let farm = app.farm("那須牧場", "dairy").await.id;
    let db = &app.state.db;
    let rule = db
        .create_alert_rule(farm, RuleKind::ParlorStopped, None, 5, None)
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let cond = OpenCondition {
        rule_id: rule,
        farm_id: farm,
        condition_key: "parlor:1".into(),
        parlor_id: None,
        subject: "第1パーラー".into(),
        detail: String::new(),
        kind: RuleKind::ParlorStopped,
        since: Utc::now(),
        critical: false,
    };
    let id = tx.open_alert(&cond, Utc::now()).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    (farm, id)
}

both_apps!(a_staff_link_acknowledges_exactly_its_staff_alert, |app| {
    let alert = staff_alert(app).await;
    let d = app.state.db.districts().await.unwrap()[0].id;
    let mut tx = app.state.db.begin().await.unwrap();
    let other = tx
        .open_staff_alert(d, "2026-11-11", "別の日", Utc::now())
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let (farm, farm_alert) = farm_alert(app).await;
    assert_eq!(farm_alert, alert, "the same id in both tables");
    let db = &app.state.db;
    let key = db.server_key(ack_link::KEY_NAME).await.unwrap();
    let now = Utc::now();
    let staff_token = ack_link::scoped_token(&key, Scope::Staff, alert, now);
    let farm_token = ack_link::token(&key, farm_alert, now);
    let acked = async |id: i64| {
        db.staff_alerts(10)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.id == id)
            .unwrap()
            .acknowledged_at
            .is_some()
    };
    let farm_acked = async || {
        db.alert(farm_alert)
            .await
            .unwrap()
            .acknowledged_at
            .is_some()
    };
    // GET confirms and changes nothing, in the reader's language.
    let url = format!("/staff/alerts/ack/{staff_token}");
    let r = app.get(&url, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("データ未着アラートの確認"), "{}", r.body);
    assert!(
        r.body.contains("黒磯") && r.body.contains("2026-11-10"),
        "{}",
        r.body
    );
    assert!(r.body.contains(&format!("action=\"{url}\"")), "{}", r.body);
    let r = app.get(&url, "lang=en").await;
    assert!(
        r.body.contains("Acknowledge a missing-data alert"),
        "{}",
        r.body
    );
    assert!(!acked(alert).await);
    // A farm alert's link is refused here, and the staff link at the farm's address.
    let r = app
        .post_form(&format!("/staff/alerts/ack/{farm_token}"), "", &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .get(&format!("/staff/alerts/ack/{farm_token}"), "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .post_form(&format!("/alerts/ack/{staff_token}"), "", &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Tampered: another alert's id under this MAC, a changed MAC, a later expiry, an old
    // link, another server's key.
    let (_, rest) = staff_token.split_once('.').unwrap();
    let parts: Vec<&str> = staff_token.split('.').collect();
    let flip = if staff_token.ends_with('0') { '1' } else { '0' };
    let later = (now + chrono::Duration::days(30)).timestamp().to_string();
    for bad in [
        format!("{other}.{rest}"),
        format!("{}{flip}", &staff_token[..staff_token.len() - 1]),
        format!("{}.{later}.{}", parts[0], parts[2]),
        ack_link::scoped_token(&key, Scope::Staff, alert, now - ack_link::VALID_FOR),
        ack_link::scoped_token(b"not the server's key", Scope::Staff, alert, now),
        "1.2.3".into(),
    ] {
        let r = app
            .post_form(&format!("/staff/alerts/ack/{bad}"), "", &[])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}: {}", r.body);
    }
    assert!(!acked(alert).await && !acked(other).await && !farm_acked().await);
    // POST acknowledges that staff alert, with no user, and nothing else.
    let r = app.post_form(&url, "", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("確認済みにしました"), "{}", r.body);
    let a = db.staff_alerts(10).await.unwrap();
    let a = a.iter().find(|a| a.id == alert).unwrap();
    assert!(a.acknowledged_at.is_some() && a.acknowledged_by.is_none());
    assert!(!acked(other).await, "only the linked alert");
    assert!(!farm_acked().await, "never a farm's alert");
    assert!(
        db.alerts_of_farm(farm).await.unwrap()[0]
            .acknowledged_at
            .is_none()
    );
    // Opened again, the link says it is done and offers no button.
    let r = app.get(&url, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !r.body.contains("<form method=\"post\" action=\"/staff"),
        "{}",
        r.body
    );
});

both_apps!(staff_set_quiet_hours_and_escalation_per_channel, |app| {
    let staff = app.user("kakari-t", Role::Staff, None).await;
    let csrf = staff.csrf.as_str();
    let r = app
        .post_form(
            "/staff/alerts/channels",
            &staff.cookies,
            &[
                ("csrf", csrf),
                ("kind", "email"),
                ("target", "kacho@city.example.jp"),
                ("quiet_from", "22:00"),
                ("quiet_to", "06:30"),
                ("escalate_after_min", "15"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let ch = app.state.db.staff_alert_channels().await.unwrap();
    assert_eq!(
        (ch[0].quiet_from, ch[0].quiet_to, ch[0].escalate_after_min),
        (Some(22 * 60), Some(6 * 60 + 30), Some(15))
    );
    let r = app.get("/staff/alerts", &staff.cookies).await;
    for want in [
        "value=\"22:00\"",
        "value=\"06:30\"",
        "value=\"15\"",
        "通知しない時間帯の開始",
    ] {
        assert!(r.body.contains(want), "{want}: {}", r.body);
    }
    let en = app
        .get("/staff/alerts", &format!("{}; lang=en", staff.cookies))
        .await;
    assert!(
        en.body.contains("Quiet hours and escalation"),
        "{}",
        en.body
    );
    // Changed, then cleared, on the channel's own form.
    let timing = format!("/staff/alerts/channels/{}/timing", ch[0].id);
    let r = app
        .post_form(
            &timing,
            &staff.cookies,
            &[
                ("csrf", csrf),
                ("quiet_from", "23:00"),
                ("quiet_to", "05:00"),
                ("escalate_after_min", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let ch = app.state.db.staff_alert_channels().await.unwrap();
    assert_eq!(
        (ch[0].quiet_from, ch[0].quiet_to, ch[0].escalate_after_min),
        (Some(23 * 60), Some(5 * 60), None)
    );
    // Bad input: a 422 naming the field in the user's language, nothing changed.
    for (from, esc, want) in [
        ("25:00", "", "通知しない時間帯の開始"),
        ("23:00", "0", "未確認なら何分後に通知"),
        ("23:00", "x", "未確認なら何分後に通知"),
    ] {
        let r = app
            .post_form(
                &timing,
                &staff.cookies,
                &[
                    ("csrf", csrf),
                    ("quiet_from", from),
                    ("quiet_to", "05:00"),
                    ("escalate_after_min", esc),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{from} {esc}: {}",
            r.body
        );
        assert!(r.body.contains(want), "{want}: {}", r.body);
    }
    let r = app
        .post_form(
            &timing,
            &staff.cookies,
            &[("csrf", "nope"), ("quiet_from", ""), ("quiet_to", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(
            &timing,
            &staff.cookies,
            &[("csrf", csrf), ("quiet_from", ""), ("quiet_to", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let ch = app.state.db.staff_alert_channels().await.unwrap();
    assert_eq!((ch[0].quiet_from, ch[0].quiet_to), (None, None));
    let r = app
        .post_form(
            "/staff/alerts/channels/9999/timing",
            &staff.cookies,
            &[("csrf", csrf), ("quiet_from", ""), ("quiet_to", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});
