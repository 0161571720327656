//! Records and logbooks through the app: drafts from flights, saving, signing, amending, the
//! farm lists and the CSV files.

use axum::http::StatusCode;
use telemetry::mavlink::dialects::ardupilotmega as apm;
use telemetry::mavlink::{self, MavlinkVersion};

use axum::http::header;

use super::*;
use crate::http::routes::flights::tests::{fly, planned};
use crate::services::records::{SPRAY_PURPOSE, jst_date, prefill};
use crate::testutil::{Browser, TestApp, both_apps};

/// A minimal RFC 4180 reader for the tests: rows of fields.
fn read_csv(s: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// The `.tlog` with STATUSTEXT frames from the vehicle spliced in at `(seconds after the
/// first frame, severity, text)`.
pub(crate) fn with_texts(tlog: &[u8], texts: &[(f64, apm::MavSeverity, &str)]) -> Vec<u8> {
    let (records, _) = telemetry::parse_tlog(tlog);
    let vehicle = records
        .iter()
        .find(|r| matches!(r.frame.msg, telemetry::Msg::HEARTBEAT(_)))
        .expect("a heartbeat")
        .frame
        .header;
    let t0 = records[0].time_us;
    let mut out: Vec<(u64, Vec<u8>)> = records
        .iter()
        .map(|r| (r.time_us, r.frame.raw.clone()))
        .collect();
    for (s, severity, text) in texts {
        let mut raw = Vec::new();
        mavlink::write_versioned_msg(
            &mut raw,
            MavlinkVersion::V2,
            vehicle,
            &apm::MavMessage::STATUSTEXT(apm::STATUSTEXT_DATA {
                severity: *severity,
                text: (*text).into(),
                ..Default::default()
            }),
        )
        .unwrap();
        out.push((t0 + (s * 1e6) as u64, raw));
    }
    out.sort_by_key(|(t, _)| *t);
    let mut bytes = Vec::new();
    for (t, raw) in out {
        bytes.extend_from_slice(&t.to_be_bytes());
        bytes.extend_from_slice(&raw);
    }
    bytes
}

fn id_of(location: &axum::http::HeaderValue) -> i64 {
    location
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dy = (a.0 - b.0) * 111_320.0;
    let dx = (a.1 - b.1) * 111_320.0 * a.0.to_radians().cos();
    dx.hypot(dy)
}

both_apps!(a_replayed_flight_yields_its_record_and_logbook, |app| {
    let d = app.state.db.districts().await.unwrap();
    let farm = app
        .state
        .db
        .create_farm(d[0].id, "kiroku", "crop", "栃木県那須塩原市共墾社1-1")
        .await
        .unwrap();
    let b = app.user("kiroku", Role::Farmer, Some(farm.id)).await;
    let plan_id = planned(app, &b).await;
    let plan = app.state.db.plan(plan_id).await.unwrap();
    let flown = fly(&plan.plan_file).await;
    let tlog = with_texts(
        &flown,
        &[
            (2.0, apm::MavSeverity::MAV_SEVERITY_WARNING, "EKF variance"),
            (2.5, apm::MavSeverity::MAV_SEVERITY_INFO, "just info"),
            (
                3.0,
                apm::MavSeverity::MAV_SEVERITY_CRITICAL,
                "Battery Failsafe",
            ),
        ],
    );
    let r = app
        .post_multipart(
            &format!("/plans/{plan_id}/flights"),
            &b.cookies,
            &[
                ("csrf", None, b.csrf.as_bytes()),
                ("tlog", Some("f.tlog"), &tlog),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = id_of(&r.headers["location"]);
    assert_eq!(
        app.state.db.flight_tlog(id).await.unwrap().as_deref(),
        Some(&tlog[..]),
        "the .tlog is kept with the flight"
    );

    // Independently: the as-applied area from the track and the plan's legs, at 0.8 L/10a.
    let path = std::path::Path::new("plan");
    let tplan = telemetry::Plan::from_json(&plan.plan_file, path).unwrap();
    let (records, _) = telemetry::parse_tlog(&tlog);
    let track =
        telemetry::track_from_records(&records, Some(&tplan), telemetry::SprayerOutput::default());
    let area = telemetry::coverage(&track, &tplan.spray_legs(), 5.0)
        .unwrap()
        .sprayed_m2;
    let litres = area * 0.8 / 1000.0;
    let rec = app.state.db.spray_record_versions(id).await.unwrap();
    assert_eq!(rec.len(), 1);
    let r0 = &rec[0].fields;
    assert!(
        (r0.area_m2.unwrap() - area).abs() < 1e-6,
        "{r0:?} vs {area}"
    );
    assert!((r0.litres.unwrap() - litres).abs() < 1e-9);
    assert_eq!(r0.l_per_10a, Some(0.8));
    assert_eq!(r0.operator, "kiroku");
    assert_eq!(r0.address, "栃木県那須塩原市共墾社1-1");
    let first_t = DateTime::<Utc>::from_timestamp_micros(track[0].time_us as i64).unwrap();
    assert_eq!(r0.sprayed_on, jst_date(first_t));
    let field = app.state.db.field(plan.field_id).await.unwrap();
    assert_eq!(r0.place, field.name);

    // The logbook: takeoff and landing at home (the sim flies RTL), inside the track's time.
    let lb = &app.state.db.logbook_versions(id).await.unwrap()[0].fields;
    let home = tplan.home.unwrap();
    let (take, land) = (lb.takeoff_at.unwrap(), lb.landing_at.unwrap());
    let last_t =
        DateTime::<Utc>::from_timestamp_micros(track.last().unwrap().time_us as i64).unwrap();
    assert!(first_t <= take && take < land && land <= last_t, "{lb:?}");
    assert!(
        metres(
            (lb.takeoff_lat.unwrap(), lb.takeoff_lon.unwrap()),
            (home.0, home.1)
        ) < 3.0
    );
    assert!(
        metres(
            (lb.landing_lat.unwrap(), lb.landing_lon.unwrap()),
            (home.0, home.1)
        ) < 3.0
    );
    assert_eq!(
        lb.flight_s.unwrap(),
        (land - take).num_microseconds().unwrap() as f64 / 1e6
    );
    assert_eq!(lb.purpose, SPRAY_PURPOSE);
    assert_eq!(lb.pilot, "kiroku");
    assert!(lb.takeoff_place.contains(&field.name));
    let (anomalies, failsafes) = event_lines(Lang::Ja, &lb.events_json);
    assert_eq!(anomalies.len(), 2, "{anomalies:?}");
    assert!(anomalies[0].contains("EKF variance") && anomalies[0].contains("警告"));
    assert!(anomalies[1].contains("Battery Failsafe"));
    assert_eq!(failsafes.len(), 1, "{failsafes:?}");
    assert!(failsafes[0].contains("バッテリーフェールセーフ"));
    let t_ekf = DateTime::<Utc>::from_timestamp_micros((records[0].time_us + 2_000_000) as i64)
        .unwrap()
        .with_timezone(&JST)
        .format("%H:%M:%S")
        .to_string();
    assert!(
        anomalies[0].starts_with(&t_ekf),
        "{} vs {t_ekf}",
        anomalies[0]
    );

    // The pages show them; the logbook lists the failsafe.
    let page = app.get(&format!("/flights/{id}/record"), &b.cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("農薬使用記録") && page.body.contains("@page { size: A4"));
    let page = app.get(&format!("/flights/{id}/logbook"), &b.cookies).await;
    assert!(page.body.contains("Battery Failsafe"), "{}", page.body);
    assert!(page.body.contains(SPRAY_PURPOSE));
});

/// A completed flight of `farm_id` with no field or plan (a flight recorded before records
/// existed), having flown `area_m2` and used `litres`.
async fn flight_without_field(app: &TestApp, farm_id: i64, area_m2: f64, litres: f64) -> i64 {
    app.state
        .db
        .create_flight(&crate::storage::NewFlight {
            farm_id,
            field_id: None,
            plan_id: None,
            status: "completed",
            sprayed_area_m2: Some(area_m2),
            litres: Some(litres),
            summary_json: "{}",
            samples: &[],
            tlog: None,
        })
        .await
        .unwrap()
}

/// Saves the record form of flight `id` with `notes` and a catalogue pesticide.
/// Adds a pesticide to `farm`'s catalogue through its form, `(name, reg_no, dilution,
/// l_per_10a)`, and returns its id as the record form sends it.
async fn add_pesticide(
    app: &TestApp,
    b: &Browser,
    farm: i64,
    (name, reg_no, dilution, rate): (&str, &str, &str, &str),
) -> String {
    let r = app
        .post_form(
            &format!("/farms/{farm}/pesticides"),
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("name", name),
                ("reg_no", reg_no),
                ("dilution", dilution),
                ("l_per_10a", rate),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    app.state.db.pesticides(farm).await.unwrap()[0]
        .id
        .to_string()
}

async fn save(
    app: &TestApp,
    b: &Browser,
    id: i64,
    version: &str,
    notes: &str,
    pid: &str,
) -> crate::testutil::Resp {
    app.post_form(
        &format!("/flights/{id}/record"),
        &b.cookies,
        &[
            ("csrf", b.csrf.as_str()),
            ("version", version),
            ("sprayed_on", "2026-06-10"),
            ("place", "北の田"),
            ("crop", "水稲"),
            ("pesticide_id", pid),
            ("litres", "1.5"),
            ("area_m2", "1875"),
            ("l_per_10a", ""),
            ("dilution", ""),
            ("operator", "山田 太郎"),
            ("notes", notes),
        ],
    )
    .await
}

both_apps!(
    areas_and_volumes_read_rounded_and_keep_their_precision,
    |app| {
        let farm = app.farm("marume", "crop").await;
        let b = app.user("marume", Role::Farmer, Some(farm.id)).await;
        let id = flight_without_field(app, farm.id, 1874.6382, 1.49873).await;
        let page = app.get(&format!("/flights/{id}/record"), &b.cookies).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(r#"value="1875""#), "{}", page.body);
        assert!(page.body.contains(r#"value="1.5""#), "{}", page.body);
        assert!(!page.body.contains("1874.6382"), "{}", page.body);
        // Saved as shown: the stored figures keep their precision.
        let r = save(app, &b, id, "1", "", "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let v = app.state.db.spray_record_versions(id).await.unwrap();
        let f = &v.last().unwrap().fields;
        assert_eq!((f.area_m2, f.litres), (Some(1874.6382), Some(1.49873)));
        let csv = app
            .get(
                &format!("/farms/{}/records.csv?year=2026", farm.id),
                &b.cookies,
            )
            .await;
        assert!(csv.body.contains(",1.5,1875,"), "{}", csv.body);
        // A changed figure is taken as typed.
        let r = app
            .post_form(
                &format!("/flights/{id}/record"),
                &b.cookies,
                &[
                    ("csrf", b.csrf.as_str()),
                    ("version", "1"),
                    ("sprayed_on", "2026-06-10"),
                    ("litres", "1.6"),
                    ("area_m2", "1900"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let v = app.state.db.spray_record_versions(id).await.unwrap();
        let f = &v.last().unwrap().fields;
        assert_eq!((f.area_m2, f.litres), (Some(1900.0), Some(1.6)));
    }
);

both_apps!(nul_and_overlong_text_is_a_422_on_both_backends, |app| {
    let farm = app.farm("seigyo", "crop").await;
    let b = app.user("seigyo", Role::Farmer, Some(farm.id)).await;
    let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
    for page in ["record", "logbook"] {
        let r = app.get(&format!("/flights/{id}/{page}"), &b.cookies).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let pesticide = |name: &'static str| {
        let path = format!("/farms/{}/pesticides", farm.id);
        let csrf = b.csrf.clone();
        let cookies = b.cookies.clone();
        async move {
            app.post_form(
                &path,
                &cookies,
                &[("csrf", csrf.as_str()), ("name", name), ("reg_no", "20887")],
            )
            .await
        }
    };
    let r = pesticide("スタークル\0粒剤").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("農薬名: 制御文字"), "{}", r.body);
    let long = "剤".repeat(crate::validate::MAX_NAME + 1);
    let long: &'static str = Box::leak(long.into_boxed_str());
    let r = pesticide(long).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("長すぎます"), "{}", r.body);
    assert!(app.state.db.pesticides(farm.id).await.unwrap().is_empty());
    assert_eq!(
        pesticide("スタークル粒剤").await.status,
        StatusCode::SEE_OTHER
    );

    let record = |name: &'static str| {
        let path = format!("/flights/{id}/record");
        let csrf = b.csrf.clone();
        let cookies = format!("{}; lang=en", b.cookies);
        async move {
            app.post_form(
                &path,
                &cookies,
                &[
                    ("csrf", csrf.as_str()),
                    ("version", "1"),
                    ("sprayed_on", "2026-06-10"),
                    ("pesticide_name", name),
                ],
            )
            .await
        }
    };
    let r = record("a\0b").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("Pesticide: must not contain control"),
        "{}",
        r.body
    );

    let logbook = |purpose: &'static str, notes: &'static str| {
        let path = format!("/flights/{id}/logbook");
        let csrf = b.csrf.clone();
        let cookies = b.cookies.clone();
        async move {
            app.post_form(
                &path,
                &cookies,
                &[
                    ("csrf", csrf.as_str()),
                    ("version", "1"),
                    ("purpose", purpose),
                    ("notes", notes),
                ],
            )
            .await
        }
    };
    let r = logbook("農薬散布\0", "").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("飛行目的: 制御文字"), "{}", r.body);
    let r = logbook("農薬散布\n危険物輸送", "").await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "one line: {}",
        r.body
    );
    // Notes may have several lines.
    let r = logbook("農薬散布", "一行目\n二行目").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
});

both_apps!(formula_text_is_neutralised_in_both_farm_csvs, |app| {
    let farm = app.farm("shiki", "crop").await;
    let b = app.user("shiki", Role::Farmer, Some(farm.id)).await;
    let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
    for page in ["record", "logbook"] {
        let r = app.get(&format!("/flights/{id}/{page}"), &b.cookies).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let hostile = "=HYPERLINK(\"http://evil.example\",\"x\")";
    let r = save(app, &b, id, "1", hostile, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let csv = app
        .get(&format!("/farms/{}/records.csv", farm.id), &b.cookies)
        .await;
    let rows = read_csv(csv.body.trim_start_matches('\u{feff}'));
    assert_eq!(rows[1][12], format!("'{hostile}"), "notes neutralised");
    assert_eq!(rows[1][1], "北の田", "plain text unchanged");
    assert_eq!(rows[1][9], "1.5", "a figure stays a number");

    let r = app
        .post_form(
            &format!("/flights/{id}/logbook"),
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("version", "1"),
                ("pilot", "@SUM(A1)"),
                ("purpose", "農薬散布"),
                ("notes", "  -2+3"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let csv = app
        .get(&format!("/farms/{}/logbook.csv", farm.id), &b.cookies)
        .await;
    let rows = read_csv(csv.body.trim_start_matches('\u{feff}'));
    assert_eq!(rows[1][1], "'@SUM(A1)");
    assert_eq!(rows[1][14], "'-2+3");
    assert_eq!(rows[1][12], "農薬散布");
});

both_apps!(a_record_without_its_legal_items_cannot_be_signed, |app| {
    let farm = app.farm("kisai", "crop").await;
    let b = app.user("kisai", Role::Farmer, Some(farm.id)).await;
    let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
    // The draft knows date, area and litres, not the pesticide nor the crop.
    let page = app.get(&format!("/flights/{id}/record"), &b.cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("署名の前に"), "{}", page.body);
    assert!(
        !page
            .body
            .contains(&format!("action=\"/flights/{id}/record/sign\""))
    );
    let sign = || async {
        app.post_form(
            &format!("/flights/{id}/record/sign"),
            &b.cookies,
            &[("csrf", b.csrf.as_str()), ("version", "1")],
        )
        .await
    };
    let r = sign().await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("農薬"),
        "the reason names what is missing: {}",
        r.body
    );
    let v = app.state.db.spray_record_versions(id).await.unwrap();
    assert!(v[0].signed_at.is_none(), "nothing was signed");
    // Filled in and saved, it signs.
    let pid = add_pesticide(app, &b, farm.id, ("ブラシン粉剤", "17744", "", "3")).await;
    assert_eq!(
        save(app, &b, id, "1", "", &pid).await.status,
        StatusCode::SEE_OTHER
    );
    let page = app.get(&format!("/flights/{id}/record"), &b.cookies).await;
    assert!(!page.body.contains("署名の前に"), "{}", page.body);
    assert_eq!(sign().await.status, StatusCode::SEE_OTHER);
});

both_apps!(
    the_draft_total_is_the_plan_rate_over_the_sprayed_area,
    |app| {
        let farm = app.farm("gokei", "crop").await;
        let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
        let mut row = app.state.db.flight(id).await.unwrap();
        // The vehicle reported no pumped volume: plan rate 0.8 L/10a over 1 875 m² = 1.5 L.
        row.litres = None;
        let draft = telemetry::LogbookDraft::default();
        let p = prefill(&row, None, "", Some(0.8), "山田", "", &draft);
        assert!(
            (p.record.litres.unwrap() - 1.5).abs() < 1e-9,
            "{:?}",
            p.record.litres
        );
        assert_eq!(p.record.l_per_10a, Some(0.8));
        // Pumped volume reported, no plan: the rate follows from it.
        row.litres = Some(3.0);
        let p = prefill(&row, None, "", None, "山田", "", &draft);
        assert_eq!(p.record.litres, Some(3.0));
        assert!((p.record.l_per_10a.unwrap() - 1.6).abs() < 1e-9);
    }
);

both_apps!(a_signed_record_refuses_edits_and_is_amended, |app| {
    let farm = app.farm("shomei", "crop").await;
    let b = app.user("shomei", Role::Farmer, Some(farm.id)).await;
    let staff = app.user("shomei-staff", Role::Staff, None).await;
    let id = flight_without_field(app, farm.id, 1875.0, 1.5).await;
    // A flight recorded before records existed gets its drafts on first view.
    assert_eq!(
        app.get(&format!("/flights/{id}/record"), &b.cookies)
            .await
            .status,
        StatusCode::OK
    );
    let pid = add_pesticide(app, &b, farm.id, ("スタークル粒剤", "20887", "1000", "0.8")).await;
    // Bad input is a 422 naming the field; a forged form and staff are refused.
    let bad = app
        .post_form(
            &format!("/flights/{id}/record"),
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("version", "1"),
                ("sprayed_on", "6月10日"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("散布日"), "{}", bad.body);
    let mut forged = b.clone();
    forged.csrf = "x".into();
    assert_eq!(
        save(app, &forged, id, "1", "", "").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        save(app, &staff, id, "1", "", "").await.status,
        StatusCode::FORBIDDEN
    );

    let notes = "雨のため一時中断, \"再開\"\n午後に完了";
    let r = save(app, &b, id, "1", notes, &pid).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let v = app.state.db.spray_record_versions(id).await.unwrap();
    assert_eq!(v[0].fields.pesticide_name, "スタークル粒剤");
    assert_eq!(v[0].fields.pesticide_reg_no, "20887");
    assert_eq!(
        (v[0].fields.dilution, v[0].fields.l_per_10a),
        (Some(1000.0), Some(0.8))
    );
    assert_eq!(v[0].fields.notes, notes);
    // The regional reports count the flight under the recorded pesticide, once.
    let months = app
        .state
        .db
        .pesticide_months(
            "2000-01-01T00:00:00Z".parse().unwrap(),
            "2100-01-01T00:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
    let flights: i64 = months.iter().map(|m| m.flights).sum();
    assert_eq!(flights, 1, "{months:?}");
    assert_eq!(months[0].pesticide_reg_no.as_deref(), Some("20887"));
    assert_eq!(Some(months[0].litres), v[0].fields.litres);

    let sign = |who: Browser| async move {
        app.post_form(
            &format!("/flights/{id}/record/sign"),
            &who.cookies,
            &[("csrf", who.csrf.as_str()), ("version", "1")],
        )
        .await
    };
    assert_eq!(sign(b.clone()).await.status, StatusCode::SEE_OTHER);
    // Signed: an edit is refused with a 409 and changes nothing.
    let late = save(app, &b, id, "1", "後から書き換え", "").await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert!(late.body.contains("署名済み"), "{}", late.body);
    assert_eq!(sign(b.clone()).await.status, StatusCode::CONFLICT);
    let after = app.state.db.spray_record_versions(id).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].fields, v[0].fields);
    assert_eq!(after[0].signed_by.as_deref(), Some("shomei"));
    let page = app
        .get(&format!("/flights/{id}/record"), &b.cookies)
        .await
        .body;
    assert!(!page.contains(&format!("action=\"/flights/{id}/record\"")));

    // An amendment is a new version; the signed one stays.
    let r = app
        .post_form(
            &format!("/flights/{id}/record/amend"),
            &b.cookies,
            &[("csrf", b.csrf.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        save(app, &b, id, "2", "訂正", &pid).await.status,
        StatusCode::SEE_OTHER
    );
    let v = app.state.db.spray_record_versions(id).await.unwrap();
    assert_eq!(
        (
            v.len(),
            v[0].fields.notes.as_str(),
            v[1].fields.notes.as_str()
        ),
        (2, notes, "訂正")
    );
    let page = app
        .get(&format!("/flights/{id}/record"), &b.cookies)
        .await
        .body;
    assert!(page.contains("以前の版"));

    // The logbook signs the same way.
    let r = app
        .post_form(
            &format!("/flights/{id}/logbook"),
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("version", "1"),
                ("pilot", "山田"),
                ("notes", "異常なし"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = app
        .post_form(
            &format!("/flights/{id}/logbook/sign"),
            &b.cookies,
            &[("csrf", b.csrf.as_str()), ("version", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let late = app
        .post_form(
            &format!("/flights/{id}/logbook"),
            &b.cookies,
            &[
                ("csrf", b.csrf.as_str()),
                ("version", "1"),
                ("pilot", "別人"),
            ],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(
        app.state.db.logbook_versions(id).await.unwrap()[0]
            .fields
            .pilot,
        "山田"
    );

    // The farm CSV round-trips: BOM, Japanese header, the record's own values.
    let csv = app
        .get(
            &format!("/farms/{}/records.csv?year=2026", farm.id),
            &staff.cookies,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.body.strip_prefix('\u{feff}').expect("a BOM");
    let rows = read_csv(body);
    assert_eq!(rows[0], RECORD_CSV_HEADER);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1], written(&record_csv_row(&v[1])));
    assert_eq!(rows[1][12], "訂正");
    assert_eq!(rows[1][0], "2026-06-10");
    let other_year = app
        .get(
            &format!("/farms/{}/records.csv?year=2025", farm.id),
            &b.cookies,
        )
        .await;
    assert_eq!(
        read_csv(other_year.body.trim_start_matches('\u{feff}')).len(),
        1
    );
    let lcsv = app
        .get(&format!("/farms/{}/logbook.csv", farm.id), &b.cookies)
        .await;
    let lrows = read_csv(lcsv.body.trim_start_matches('\u{feff}'));
    assert_eq!(lrows[0], LOGBOOK_CSV_HEADER);
    assert_eq!(lrows[1][1], "山田");
    assert_eq!(
        app.get(&format!("/farms/{}/records?from=x", farm.id), &b.cookies)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let list = app
        .get(
            &format!("/farms/{}/records?from=2026-06-01&to=2026-06-30", farm.id),
            &b.cookies,
        )
        .await;
    assert!(
        list.body.contains(&format!("/flights/{id}/record")),
        "{}",
        list.body
    );
});

/// The cells as the CSV writes them.
fn written(cells: &[CsvCell]) -> Vec<String> {
    cells.iter().map(|c| c.written().into_owned()).collect()
}

proptest::proptest! {
    #[test]
    fn any_csv_rows_read_back_as_written(
        rows in proptest::collection::vec(
            proptest::collection::vec("[a-z,\"\r\n =+@田畑、。-]{0,12}", 4), 0..6)
    ) {
        let cells: Vec<Vec<CsvCell>> = rows
            .iter()
            .map(|r| r.iter().map(|c| Text(c.clone())).collect())
            .collect();
        let doc = csv::document(["一", "二", "三", "四"], cells.clone());
        let back = read_csv(doc.strip_prefix('\u{feff}').unwrap());
        let want: Vec<Vec<String>> = cells.iter().map(|r| written(r)).collect();
        proptest::prop_assert_eq!(&back[1..], &want[..]);
        for (b, r) in back[1..].iter().zip(&rows) {
            for (b, r) in b.iter().zip(r) {
                // Never a formula start left, and the typed text follows any added quote.
                let first = b.trim_start_matches(' ').chars().next();
                proptest::prop_assert!(!matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')));
                proptest::prop_assert!(b == r || b.strip_prefix('\'') == Some(r.as_str()));
            }
        }
    }
}

#[test]
fn csv_fields_round_trip() {
    let rows = vec![
        vec![
            Text("a,b".to_owned()),
            Text("\"q\"".into()),
            Text("改行\r\nあり".into()),
            Text(String::new()),
        ],
        vec![
            Text("素".to_owned()),
            Text("x".into()),
            Figure("-1.5".into()),
            Text("z".into()),
        ],
    ];
    let doc = csv::document(["一", "二", "三", "四"], rows.clone());
    assert!(doc.starts_with('\u{feff}'));
    let back = read_csv(doc.trim_start_matches('\u{feff}'));
    assert_eq!(back[0], ["一", "二", "三", "四"]);
    // The reader drops bare CRs outside quotes only, so the quoted CRLF survives.
    let want: Vec<Vec<String>> = rows.iter().map(|r| written(r)).collect();
    assert_eq!(back[1..], want[..]);
    assert_eq!(back[2][2], "-1.5", "a figure stays a number");
}
