use super::*;
use crate::storage::StorageError;
use crate::storage::testdb::both_backends;
use chrono::Utc;

both_backends!(farms_and_users, |db| {
    let districts = db.districts().await.unwrap();
    let names: Vec<_> = districts.iter().map(|d| d.name_ja.as_str()).collect();
    assert_eq!(names, ["黒磯", "西那須野", "塩原"]);

    let farm = db
        .create_farm(districts[0].id, "高林牧場", "dairy", "那須塩原市高林")
        .await
        .unwrap();
    assert_eq!(db.farm(farm.id).await.unwrap(), farm);
    let dup = db
        .create_farm(districts[0].id, "高林牧場", "dairy", "")
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict { .. })), "{dup:?}");
    let bad_kind = db.create_farm(districts[0].id, "x", "fishery", "").await;
    assert!(
        matches!(bad_kind, Err(StorageError::Conflict { .. })),
        "{bad_kind:?}"
    );

    let u = db
        .create_user(&NewUser {
            username: "tanaka",
            display_name: "田中",
            password_hash: "$argon2id$x",
            role: Role::Dairy,
            farm_id: Some(farm.id),
            lang: "ja",
        })
        .await
        .unwrap();
    assert_eq!(
        db.user_by_username("tanaka").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(db.user_by_username("nobody").await.unwrap(), None);
    // A farmer without a farm is refused by the schema.
    let orphan = db
        .create_user(&NewUser {
            username: "orphan",
            display_name: "o",
            password_hash: "h",
            role: Role::Farmer,
            farm_id: None,
            lang: "ja",
        })
        .await;
    assert!(
        matches!(orphan, Err(StorageError::Conflict { .. })),
        "{orphan:?}"
    );

    let exp = Utc::now() + chrono::Duration::hours(1);
    db.create_session("h1", u.id, "csrf1", exp).await.unwrap();
    let s = db.session("h1").await.unwrap().expect("session");
    assert_eq!(s.user, u);
    assert_eq!(s.csrf_token, "csrf1");
    db.create_session(
        "h2",
        u.id,
        "csrf2",
        Utc::now() - chrono::Duration::seconds(1),
    )
    .await
    .unwrap();
    assert!(
        db.session("h2").await.unwrap().is_none(),
        "expired session must not load"
    );
    db.delete_session("h1").await.unwrap();
    assert!(db.session("h1").await.unwrap().is_none());

    let o = db.district_overview(Utc::now()).await.unwrap();
    assert_eq!(o.len(), 3);
    assert_eq!((o[0].farms, o[0].fields, o[0].parlors), (1, 0, 0));
    assert_eq!(o[0].field_ha, 0.0);
    assert_eq!(o[1].farms, 0);

    db.set_user_lang(u.id, "en").await.unwrap();
    assert_eq!(
        db.user_by_username("tanaka").await.unwrap().unwrap().lang,
        "en"
    );
    assert!(db.set_user_lang(u.id, "fr").await.is_err());
});
