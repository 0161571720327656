//! The administration pages through the app: every change and its audit row, bad input, and
//! that only admins get in.

use axum::http::StatusCode;

use crate::storage::Role;
use crate::testutil::both_apps;

both_apps!(admin_text_with_a_nul_is_a_422_on_both_backends, |app| {
    let admin = app.user("root3", Role::Admin, None).await;
    let d = app.state.db.districts().await.unwrap()[0].id.to_string();
    let farm = app.farm("nul-farm", "crop").await;
    let refused = |path: String, form: Vec<(&'static str, String)>| {
        let cookies = admin.cookies.clone();
        let csrf = admin.csrf.clone();
        async move {
            let mut form = form;
            form.push(("csrf", csrf));
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = app.post_form(&path, &cookies, &pairs).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {}",
                r.body
            );
            assert!(r.body.contains("制御文字"), "{path}: {}", r.body);
        }
    };
    let farm_form = |name: &str, address: &str| {
        vec![
            ("name", name.to_owned()),
            ("district_id", d.clone()),
            ("kind", "crop".to_owned()),
            ("address", address.to_owned()),
        ]
    };
    refused("/admin/farms".into(), farm_form("高久\0農園", "")).await;
    refused("/admin/farms".into(), farm_form("高久農園", "高久\0甲")).await;
    refused(format!("/admin/farms/{}", farm.id), farm_form("x\0", "")).await;
    refused(
        "/admin/users".into(),
        vec![
            ("username", "nul-user".to_owned()),
            ("display_name", "山田\0".to_owned()),
            ("password", "password1".to_owned()),
            ("role", "staff".to_owned()),
        ],
    )
    .await;
    let id = app
        .state
        .db
        .user_by_username("root3")
        .await
        .unwrap()
        .unwrap()
        .id;
    refused(
        format!("/admin/users/{id}"),
        vec![
            ("display_name", "管理\0者".to_owned()),
            ("role", "admin".to_owned()),
            ("lang", "ja".to_owned()),
        ],
    )
    .await;
    refused(
        "/admin/tokens".into(),
        vec![
            ("farm_id", farm.id.to_string()),
            ("name", "bridge\0".to_owned()),
        ],
    )
    .await;
    // Nothing of it was stored; a clean farm still goes through.
    assert!(
        app.state
            .db
            .user_by_username("nul-user")
            .await
            .unwrap()
            .is_none()
    );
    let f = app.state.db.farm(farm.id).await.unwrap();
    assert_eq!(f.name, "nul-farm");
    let mut ok = farm_form("高久農園", "高久甲");
    ok.push(("csrf", admin.csrf.clone()));
    let pairs: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.post_form("/admin/farms", &admin.cookies, &pairs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
});

both_apps!(admin_manages_farms_users_and_tokens, |app| {
    let admin = app.user("root", Role::Admin, None).await;
    let d = app.state.db.districts().await.unwrap();
    let r = app
        .post_form(
            "/admin/farms",
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("name", "高久農園"),
                ("district_id", &d[2].id.to_string()),
                ("kind", "crop"),
                ("address", "那須塩原市高久"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("高久農園") && r.body.contains("塩原"));
    let farm = app
        .state
        .db
        .farms()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.name == "高久農園")
        .unwrap();
    let r = app
        .post_form(
            "/admin/users",
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("username", "takaku"),
                ("display_name", "高久さん"),
                ("password", "long-enough"),
                ("role", "farmer"),
                ("farm_id", &farm.id.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(app.sign_in("takaku", "long-enough").await.is_some());
    let dairy = app.farm("牧場", "dairy").await;
    let r = app
        .post_form(
            "/admin/tokens",
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("farm_id", &dairy.id.to_string()),
                ("name", "bridge-1"),
            ],
        )
        .await;
    let token = r
        .body
        .split("data-token>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap();
    assert_eq!(token.len(), 64);
    let (_, farm_of_token) = app
        .state
        .db
        .bridge_token(&crate::services::credentials::token_hash(token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(farm_of_token, dairy.id);
    // Each creation is in the change log, by the admin, and never the token itself.
    let log = app.state.db.audit_log(20).await.unwrap();
    for action in ["farm.add", "user.add", "token.add"] {
        assert!(
            log.iter()
                .any(|a| a.action == action && a.actor.as_deref() == Some("root")),
            "{action} in {log:?}"
        );
    }
    assert!(log.iter().all(|a| !a.detail.contains(token)));
});

both_apps!(admin_forms_reject_bad_input_and_non_admins, |app| {
    let admin = app.user("root2", Role::Admin, None).await;
    let staff = app.user("staff9", Role::Staff, None).await;
    assert_eq!(
        app.get("/admin", &staff.cookies).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .post_form(
            "/admin/farms",
            &staff.cookies,
            &[
                ("csrf", &staff.csrf),
                ("name", "x"),
                ("district_id", "1"),
                ("kind", "crop"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Missing CSRF token, wrong kind, malformed id, farmer without a farm, duplicate user.
    let r = app
        .post_form(
            "/admin/farms",
            &admin.cookies,
            &[
                ("csrf", "forged"),
                ("name", "x"),
                ("district_id", "1"),
                ("kind", "crop"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(
            "/admin/farms",
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("name", "x"),
                ("district_id", "1"),
                ("kind", "fishery"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post_form(
            "/admin/farms",
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("name", "x"),
                ("district_id", "one"),
                ("kind", "crop"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("district_id"), "{}", r.body);
    let r = app
        .post_form(
            "/admin/users",
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("username", "u1"),
                ("display_name", "u"),
                ("password", "long-enough"),
                ("role", "farmer"),
                ("farm_id", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post_form(
            "/admin/users",
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("username", "staff9"),
                ("display_name", "u"),
                ("password", "long-enough"),
                ("role", "staff"),
                ("farm_id", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .post_form(
            "/admin/farms",
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("name", "x"),
                ("district_id", "99999"),
                ("kind", "crop"),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "unknown district: {}",
        r.body
    );
});

both_apps!(admin_edits_accounts_and_every_change_is_logged, |app| {
    let admin = app.user("boss", Role::Admin, None).await;
    let farm = app.farm("旧名牧場", "dairy").await;
    let d = app.state.db.districts().await.unwrap();
    let page = app
        .get(&format!("/admin/farms/{}", farm.id), &admin.cookies)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"旧名牧場\""));
    let r = app
        .post_form(
            &format!("/admin/farms/{}", farm.id),
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("name", "新名牧場"),
                ("district_id", &d[1].id.to_string()),
                ("kind", "mixed"),
                ("address", "那須塩原市"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let f = app.state.db.farm(farm.id).await.unwrap();
    assert_eq!(
        (f.name.as_str(), f.kind.as_str(), f.district_id),
        ("新名牧場", "mixed", d[1].id)
    );
    // A bad kind and a forged form change nothing.
    for (csrf, kind, want) in [
        (
            admin.csrf.as_str(),
            "fishery",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("forged", "crop", StatusCode::FORBIDDEN),
    ] {
        let r = app
            .post_form(
                &format!("/admin/farms/{}", farm.id),
                &admin.cookies,
                &[
                    ("csrf", csrf),
                    ("name", "x"),
                    ("district_id", &d[0].id.to_string()),
                    ("kind", kind),
                ],
            )
            .await;
        assert_eq!(r.status, want);
    }
    assert_eq!(app.state.db.farm(farm.id).await.unwrap().name, "新名牧場");

    let op = app.user("taro", Role::Dairy, Some(farm.id)).await;
    let taro = app
        .state
        .db
        .user_by_username("taro")
        .await
        .unwrap()
        .unwrap();
    let r = app
        .post_form(
            &format!("/admin/users/{}", taro.id),
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("display_name", "太郎"),
                ("role", "staff"),
                ("farm_id", ""),
                ("lang", "en"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t = app.state.db.user(taro.id).await.unwrap();
    assert_eq!(
        (t.display_name.as_str(), t.role, t.farm_id, t.lang.as_str()),
        ("太郎", Role::Staff, None, "en")
    );
    // A dairy operator without a farm is refused.
    let r = app
        .post_form(
            &format!("/admin/users/{}", taro.id),
            &admin.cookies,
            &[
                ("csrf", &admin.csrf),
                ("display_name", "x"),
                ("role", "dairy"),
                ("farm_id", ""),
                ("lang", "ja"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Reset: the old password and the old session stop working.
    let r = app
        .post_form(
            &format!("/admin/users/{}/password", taro.id),
            &admin.cookies,
            &[("csrf", &admin.csrf), ("password", "reset-pass-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        app.get("/account", &op.cookies).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(app.sign_in("taro", "password1").await.is_none());
    let again = app
        .sign_in("taro", "reset-pass-1")
        .await
        .expect("new password works");

    // Disable: the session ends and signing in fails; enable: it works again.
    let r = app
        .post_form(
            &format!("/admin/users/{}/status", taro.id),
            &admin.cookies,
            &[("csrf", &admin.csrf), ("disabled", "true")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("停止中"));
    assert_eq!(
        app.get("/account", &again.cookies).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(app.sign_in("taro", "reset-pass-1").await.is_none());
    app.post_form(
        &format!("/admin/users/{}/status", taro.id),
        &admin.cookies,
        &[("csrf", &admin.csrf), ("disabled", "false")],
    )
    .await;
    assert!(app.sign_in("taro", "reset-pass-1").await.is_some());
    // An admin cannot disable themselves.
    let me = app
        .state
        .db
        .user_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    let r = app
        .post_form(
            &format!("/admin/users/{}/status", me.id),
            &admin.cookies,
            &[("csrf", &admin.csrf), ("disabled", "true")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.sign_in("boss", "password1").await.is_some());

    // Revoke a bridge token from the list.
    let tok = app
        .state
        .db
        .create_bridge_token(farm.id, "b1", "h-revoke")
        .await
        .unwrap();
    let list = app.get("/admin", &admin.cookies).await;
    assert!(list.body.contains(&format!("/admin/tokens/{tok}/revoke")));
    let r = app
        .post_form(
            &format!("/admin/tokens/{tok}/revoke"),
            &admin.cookies,
            &[("csrf", &admin.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.state.db.bridge_token("h-revoke").await.unwrap(), None);
    let r = app
        .post_form(
            &format!("/admin/tokens/{tok}/revoke"),
            &admin.cookies,
            &[("csrf", &admin.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The change log on the admin page names who did what.
    let log = app.state.db.audit_log(20).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "token.revoke",
            "user.enable",
            "user.disable",
            "user.password",
            "user.edit",
            "farm.edit"
        ]
    );
    assert!(log.iter().all(|a| a.actor.as_deref() == Some("boss")));
    let page = app.get("/admin", &admin.cookies).await.body;
    assert!(
        page.contains("変更履歴") && page.contains("<code>user.disable</code>"),
        "{page}"
    );
    // Not for anyone else.
    let staff = app.user("clerk", Role::Staff, None).await;
    let r = app
        .post_form(
            &format!("/admin/users/{}/status", taro.id),
            &staff.cookies,
            &[("csrf", &staff.csrf), ("disabled", "true")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
});
