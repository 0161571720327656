//! Variable-rate plans through the app: a prescription made here over the test paddy is
//! uploaded with the plan form, its zones and amounts are shown and kept, every bad input is
//! refused in the person's language with nothing stored, and other farms see nothing.

use axum::http::StatusCode;

use super::tests::{PADDY, import, plan_form, post_plan_form};
use crate::http::routes::flights::tests as flights;
use crate::storage::Role;
use crate::testutil::{Browser, Resp, TestApp, both_apps};

/// Two zones over the paddy (139.98–139.98134 E, 36.97–36.97054 N), west and east, leaving a
/// strip along the north edge to the gap; `shift` moves them east (degrees).
fn prescription(west: &str, east: &str, shift: f64) -> String {
    let zone = |name: &str, rate: &str, a: f64, b: f64| {
        let (a, b) = (a + shift, b + shift);
        format!(
            r#"{{"type":"Feature","properties":{{"name":"{name}","RATE":{rate}}},"geometry":{{"type":"Polygon","coordinates":[[[{a},36.96990],[{b},36.96990],[{b},36.97040],[{a},36.97040],[{a},36.96990]]]}}}}"#
        )
    };
    format!(
        r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
        zone("西", west, 139.97990, 139.98067),
        zone("東", east, 139.98067, 139.98144)
    )
}

/// The plan form with a prescription: the plain plan form's options, the prescription's, then
/// `over` replacing any of them.
async fn post_rx(
    app: &TestApp,
    b: &Browser,
    field: i64,
    file: &[u8],
    over: &[(&str, &str)],
) -> Resp {
    let mut form = plan_form(&b.csrf);
    let rx = [
        ("fence_margin_m", "2"),
        ("fence_points", "70"),
        ("autopilot", "ardupilot-servo"),
        ("servo", "9"),
        ("rate_column", "RATE"),
        ("rate_unit", "l-per-10a"),
        ("gap", "default"),
        ("gap_rate", "0.5"),
        ("pump_full_flow_l_min", "2.4"),
    ];
    for (k, v) in rx.iter().chain(over) {
        match form.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = (*v).to_owned(),
            None => form.push((k, (*v).to_owned())),
        }
    }
    let mut parts: Vec<(&str, Option<&str>, &[u8])> =
        form.iter().map(|(k, v)| (*k, None, v.as_bytes())).collect();
    parts.push(("prescription", Some("rx.geojson"), file));
    app.post_multipart(&format!("/fields/{field}/plan"), &b.cookies, &parts)
        .await
}

/// A farmer of a new farm with the paddy imported: the browser, the farm and the field.
pub(crate) async fn farmer_with_paddy(app: &TestApp, name: &str) -> (Browser, i64, i64) {
    let farm = app.farm(name, "crop").await;
    let b = app.user(name, Role::Farmer, Some(farm.id)).await;
    let r = import(app, &b, PADDY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let field = app.state.db.fields(Some(farm.id)).await.unwrap()[0].id;
    (b, farm.id, field)
}

/// The numbers of the zone table's cells in column `col` (0-based, after the zone name).
fn column(page: &str, col: usize) -> Vec<String> {
    let table = &page[page.find("rx-table").expect("zone table")..];
    let body = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            // The page's cells carry their column's name too (`data-label`) for phones.
            let cell = row.split("<td ").nth(col + 1).unwrap();
            let cell = &cell[cell.find('>').unwrap() + 1..];
            cell[..cell.find("</td>").unwrap()].to_owned()
        })
        .collect()
}

both_apps!(a_prescription_plan_shows_its_zones_and_amounts, |app| {
    let (b, farm, field) = farmer_with_paddy(app, "kita").await;
    let rx = prescription("0.8", "1.6", 0.0);
    let r = post_rx(app, &b, field, rx.as_bytes(), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let url = r.headers["location"].to_str().unwrap().to_owned();
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();

    // Stored with the plan: the settings, and the zones as planned, the gap last.
    let (row, zones) = app
        .state
        .db
        .plan_prescription(id, farm)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(row.rate_unit, "L/10a");
    assert_eq!(row.gap_rate, Some(0.5));
    assert_eq!(row.file_name, "rx.geojson");
    let named: Vec<_> = zones.iter().map(|z| (z.name.as_str(), z.rate)).collect();
    assert_eq!(named, vec![("西", 0.8), ("東", 1.6), ("gap", 0.5)]);
    assert!(zones[2].is_gap);
    let api: serde_json::Value = serde_json::from_str(
        &app.get(&format!("/api/v1/plans/{id}"), &b.cookies)
            .await
            .body,
    )
    .unwrap();
    let total = api["report"]["litres"].as_f64().unwrap();
    let sum: f64 = zones.iter().map(|z| z.amount).sum();
    // The API gives the prescription and its zones with their geometry.
    let api_rx = &api["prescription"];
    assert_eq!(api_rx["rate_unit"], "L/10a");
    let api_zones = api_rx["zones"].as_array().unwrap();
    assert_eq!(api_zones.len(), zones.len());
    assert_eq!(api_zones[1]["name"], "東");
    assert_eq!(api_zones[1]["rate"].as_f64(), Some(1.6));
    assert!(api_zones[1]["geometry"]["coordinates"].is_array());
    assert!(
        total > 0.0 && (sum - total).abs() < 1e-9,
        "{sum} vs {total}"
    );
    // 1.6 L/10a is 16 L/ha over the east zone's sprayable area.
    assert!((zones[1].amount - 16.0 * zones[1].sprayable_ha).abs() < 1e-9);

    // The page, as after any reload: the zone table sums to its total, the map has a title.
    let page = app.get(&url, &b.cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    for needle in [
        "処方ゾーン",
        "<caption>ゾーンごとの散布量、散布面積と必要量</caption>",
        "<th scope=\"col\">薬液量 (L)</th>",
        "<th scope=\"row\">1. 西</th>",
        "<th scope=\"row\">3. ゾーン外</th>",
        "1.6 L/10a",
        "<title id=\"rx-svg-title\">処方ゾーンの図</title>",
        "<desc id=\"rx-svg-desc\">",
        "合計",
    ] {
        assert!(body.contains(needle), "{needle} missing");
    }
    let amounts: Vec<f64> = column(body, 2).iter().map(|c| c.parse().unwrap()).collect();
    assert_eq!(amounts.len(), 3);
    let shown_total = format!("{total:.2}");
    assert!(body.contains(&format!("class=\"num\">{shown_total}</td></tr></tfoot>")));
    let shown_sum: f64 = amounts.iter().sum();
    assert!(
        (shown_sum - total).abs() <= 0.005 * 3.0 + 1e-9,
        "{amounts:?} vs {total}"
    );
    // The map's data carries the zones under the flight path.
    let gj: serde_json::Value = serde_json::from_str(
        &app.get(&format!("/plans/{id}/geojson"), &b.cookies)
            .await
            .body,
    )
    .unwrap();
    let features = gj["features"].as_array().unwrap();
    assert_eq!(features[0]["properties"]["kind"], "rx_zone");
    assert!(features.iter().any(|f| f["properties"]["kind"] == "path"));
    // The mission commands the rates on the pump's servo (DO_SET_SERVO), not DO_SPRAYER.
    let plan: serde_json::Value = serde_json::from_str(
        &app.get(&format!("/plans/{id}/download/plan"), &b.cookies)
            .await
            .body,
    )
    .unwrap();
    let items = plan["mission"]["items"].as_array().unwrap();
    assert!(items.iter().any(|it| it["command"] == 183));
    assert!(!items.iter().any(|it| it["command"] == 216));
    // A plan without a file is planned as before and has no prescription.
    let plain = post_plan_form(app, &b, field).await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER, "{}", plain.body);
    assert_eq!(app.state.db.count_prescription_rows().await, (1, 3));
    let plain_id = plain.headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let api: serde_json::Value = serde_json::from_str(
        &app.get(&format!("/api/v1/plans/{plain_id}"), &b.cookies)
            .await
            .body,
    )
    .unwrap();
    assert!(api["prescription"].is_null(), "{}", api["prescription"]);
});

/// One refused upload: what it is, the file, the form fields changed, what the page says.
type BadCase<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a str)>, &'a str);

/// A zip of one GeoJSON that inflates far beyond its compressed size.
fn zip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("rx.geojson", opts).unwrap();
    let block = vec![b' '; 1 << 20];
    for _ in 0..8 {
        w.write_all(&block).unwrap();
    }
    w.finish().unwrap().into_inner()
}

both_apps!(
    bad_prescriptions_are_refused_in_the_persons_language,
    |app| {
        let (b, _, field) = farmer_with_paddy(app, "minami").await;
        let good = prescription("0.8", "1.6", 0.0);
        let bomb = zip_bomb();
        let cases: Vec<BadCase> = vec![
            (
                "plain ArduPilot",
                good.clone().into_bytes(),
                vec![("autopilot", "ardupilot")],
                "DO_SPRAYER は散布量を変えられません",
            ),
            (
                "no pump flow",
                good.clone().into_bytes(),
                vec![("pump_full_flow_l_min", "")],
                "ポンプの最大流量 (L/min) を入力してください",
            ),
            (
                "not a prescription",
                b"\x89PNG\r\n\x1a\n not a map".to_vec(),
                vec![],
                "処方マップとして読めないファイルです",
            ),
            (
                "missing column",
                good.clone().into_bytes(),
                vec![("rate_column", "DOSE")],
                "散布量の列「DOSE」がファイルにありません。ファイルの列: RATE, name",
            ),
            (
                "NUL in the column",
                good.clone().into_bytes(),
                vec![("rate_column", "RA\u{0}TE")],
                "制御文字（NULなど）は使えません。",
            ),
            (
                "negative rate",
                prescription("-1", "1.6", 0.0).into_bytes(),
                vec![],
                "ゾーン「西」の散布量 -1 は 0〜100 L/10a の数値ではありません",
            ),
            (
                "NaN rate",
                prescription("\"NaN\"", "1.6", 0.0).into_bytes(),
                vec![],
                "ゾーン「西」の散布量 &quot;NaN&quot; は 0〜100 L/10a の数値ではありません",
            ),
            (
                "negative default rate",
                good.clone().into_bytes(),
                vec![("gap_rate", "-0.5")],
                "既定の散布量は 0 以上の数値で入力してください",
            ),
            ("zip bomb", bomb, vec![], "zip を展開できません"),
            (
                "elsewhere",
                prescription("0.8", "1.6", 0.05).into_bytes(),
                vec![],
                "処方マップのどのゾーンもこのほ場に重なりません",
            ),
        ];
        for (what, file, over, says) in cases {
            let r = post_rx(app, &b, field, &file, &over).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{what}: {}",
                r.body
            );
            assert!(r.body.contains(says), "{what}: {}", r.body);
            // The form is drawn again with what was sent, the reason first, focused.
            assert!(
                r.body
                    .contains(r#"id="plan-refused" role="alert" tabindex="-1" autofocus"#),
                "{what}"
            );
            assert!(
                r.body.contains("入力した値はそのまま残しています"),
                "{what}"
            );
            assert!(
                r.body.contains(r#"<option value="default" selected>"#),
                "{what}: the gap choice"
            );
            assert!(!r.body.contains('\u{0}'), "{what}: a NUL sent back");
            if !over.iter().any(|(k, _)| *k == "rate_column") {
                assert!(r.body.contains(r#"value="RATE""#), "{what}: the column");
            }
            if !over.iter().any(|(k, _)| *k == "autopilot") {
                assert!(
                    r.body
                        .contains(r#"<option value="ardupilot-servo" selected>"#),
                    "{what}: the autopilot"
                );
            }
        }
        assert!(app.state.db.plans_of_field(field).await.unwrap().is_empty());
        assert_eq!(app.state.db.count_prescription_rows().await, (0, 0));
    }
);

both_apps!(
    another_farms_session_cannot_see_or_attach_a_prescription,
    |app| {
        let (a, _, field) = farmer_with_paddy(app, "higashi").await;
        let (other, _, _) = farmer_with_paddy(app, "nishi").await;
        let rx = prescription("0.8", "1.6", 0.0);
        let r = post_rx(app, &a, field, rx.as_bytes(), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let url = r.headers["location"].to_str().unwrap().to_owned();
        for path in [url.clone(), format!("{url}/geojson")] {
            let seen = app.get(&path, &other.cookies).await;
            assert_eq!(seen.status, StatusCode::FORBIDDEN, "{path}");
            assert!(!seen.body.contains("西"), "{path}");
        }
        let r = post_rx(app, &other, field, rx.as_bytes(), &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(app.state.db.plans_of_field(field).await.unwrap().len(), 1);
        assert_eq!(app.state.db.count_prescription_rows().await.0, 1);
    }
);

both_apps!(a_plan_cut_short_keeps_no_prescription, |app| {
    let (b, _, field) = farmer_with_paddy(app, "kurobane").await;
    let rx = prescription("0.8", "1.6", 0.0);
    let r = crate::storage::fault::armed(
        "plans.after_plan",
        post_rx(app, &b, field, rx.as_bytes(), &[]),
    )
    .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert!(app.state.db.plans_of_field(field).await.unwrap().is_empty());
    assert_eq!(app.state.db.count_prescription_rows().await, (0, 0));
});

both_apps!(
    an_english_speaker_gets_the_zones_and_refusals_in_english,
    |app| {
        let (b, _, field) = farmer_with_paddy(app, "eigo").await;
        let user = app
            .state
            .db
            .user_by_username("eigo")
            .await
            .unwrap()
            .unwrap();
        app.state.db.set_user_lang(user.id, "en").await.unwrap();
        let rx = prescription("0.8", "1.6", 0.0);
        let r = post_rx(app, &b, field, rx.as_bytes(), &[("autopilot", "ardupilot")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body.contains("DO_SPRAYER cannot change the rate"),
            "{}",
            r.body
        );
        let r = post_rx(app, &b, field, rx.as_bytes(), &[("rate_column", "DOSE")]).await;
        assert!(r.body.contains("Its columns are: RATE, name"), "{}", r.body);
        let r = post_rx(app, &b, field, rx.as_bytes(), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let url = r.headers["location"].to_str().unwrap().to_owned();
        let page = app.get(&url, &b.cookies).await;
        for needle in [
            "<caption>Rate, sprayed area and amount by zone</caption>",
            "<th scope=\"row\">3. Outside the zones</th>",
            "Map of the prescription zones",
            "Total",
        ] {
            assert!(page.body.contains(needle), "{needle} missing");
        }
    }
);

both_apps!(a_prescription_flight_is_reckoned_zone_by_zone, |app| {
    let (b, farm, field) = farmer_with_paddy(app, "minami").await;
    let rx = prescription("0.8", "1.6", 0.0);
    let r = post_rx(app, &b, field, rx.as_bytes(), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let plan_id = r.location_id();
    let plan = app.state.db.plan(plan_id).await.unwrap();
    let tlog = flights::fly(&plan.plan_file).await;
    let r = flights::upload(app, &b, plan_id, &tlog).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let url = r.headers["location"].to_str().unwrap().to_owned();
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    let flight = app.state.db.flight(id).await.unwrap();
    // The flight's amount: each zone's sprayed part at the zone's rate (L/10a = L per 1 000 m²).
    let (_, zones) = app
        .state
        .db
        .plan_prescription(plan_id, farm)
        .await
        .unwrap()
        .unwrap();
    let gj: serde_json::Value = serde_json::from_str(
        &app.get(&format!("/flights/{id}/as-applied.geojson"), &b.cookies)
            .await
            .body,
    )
    .unwrap();
    // The simulated vehicle reports its pump output: each zone's amount is what the pump gave
    // there, read back by the plan's calibration, and its applied rate that over its area.
    assert_eq!(gj["source"], "pump_output");
    let all = gj["features"].as_array().unwrap();
    let features: Vec<&serde_json::Value> = all
        .iter()
        .filter(|f| f["properties"]["outside"] != true)
        .collect();
    assert_eq!(features.len(), zones.len());
    let mut sum = 0.0;
    for (f, z) in features.iter().zip(&zones) {
        let p = &f["properties"];
        assert_eq!(p["rate"].as_f64(), Some(z.rate));
        assert_eq!(p["unit"], "L/10a");
        let area = p["applied_m2"].as_f64().unwrap();
        assert!(area <= z.sprayable_ha * 10_000.0 * 1.05, "{p}");
        let amount = p["amount"].as_f64().unwrap();
        let applied = p["applied_rate"].as_f64().expect("an applied rate");
        assert!((applied - amount / (area / 1000.0)).abs() < 0.01, "{p}");
        // Measured on this flight: 西 0.8 → 1.00, 東 1.6 → 1.65, gap 0.5 → 0.51 L/10a. The
        // simulated pump follows each command at once, so the higher rate led in ahead of the
        // east border (the rate lag) lands in the west zone: a zone gets at least its rate
        // and at most its neighbour's.
        assert!(applied >= 0.97 * z.rate && applied <= 1.6 * 1.05, "{p}");
        sum += amount;
    }
    sum += all
        .iter()
        .filter(|f| f["properties"]["outside"] == true)
        .map(|f| f["properties"]["amount"].as_f64().unwrap())
        .sum::<f64>();
    assert!((gj["total"].as_f64().unwrap() - sum).abs() < 1e-9);
    let litres = flight.litres.expect("litres");
    assert!(
        litres > 0.0 && (litres - sum).abs() < 0.01,
        "{litres} vs {sum}"
    );
    // The east zone, at the highest rate, gets it within 5 %.
    let east = features[1]["properties"]["applied_rate"].as_f64().unwrap();
    assert!((east - 1.6).abs() < 0.05 * 1.6, "{east}");
    // The ISOXML task data parses back to the same zones, rates and total.
    let r = app
        .get(&format!("/flights/{id}/as-applied.xml"), &b.cookies)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/xml");
    let (elements, read) = crate::services::flights::isoxml::read_back(&r.body);
    for e in [
        "ISO11783_TaskData",
        "PDT",
        "PFD",
        "TSK",
        "TZN",
        "PDV",
        "TIM",
    ] {
        assert!(elements.iter().any(|x| x == e), "{e} missing");
    }
    let actual = crate::services::flights::isoxml::DDI_ACTUAL_VOLUME_PER_AREA;
    let mut xml_total = 0.0;
    for (r, f) in read.iter().zip(&features) {
        let rate = r.per_m2(actual).unwrap() * 1000.0;
        assert!((rate - f["properties"]["applied_rate"].as_f64().unwrap()).abs() < 1e-3);
    }
    for r in &read {
        xml_total += r.per_m2(actual).unwrap() * r.area_m2;
    }
    assert!((xml_total - litres).abs() < 0.01, "{xml_total} vs {litres}");
    // Both zones were flown: the east one at twice the west's rate.
    assert!(features[0]["properties"]["applied_m2"].as_f64().unwrap() > 100.0);
    assert!(features[1]["properties"]["applied_m2"].as_f64().unwrap() > 100.0);
    // The 農薬使用記録 takes the flight's own average, not the form's one rate.
    let versions = app.state.db.spray_record_versions(id).await.unwrap();
    let record = versions.last().expect("a spray record draft");
    let area = flight.sprayed_area_m2.unwrap();
    assert!((record.fields.l_per_10a.unwrap() - litres / (area / 1000.0)).abs() < 1e-9);
    assert_eq!(record.fields.litres, Some(litres));
    // The page shows the zones as flown and links the download.
    let page = app.get(&url, &b.cookies).await;
    for needle in [
        "ゾーンごとの散布実績",
        "<th scope=\"row\">1. 西</th>",
        "10a 当たり平均",
        "as-applied.geojson",
        "as-applied.xml",
        "散布実績の地図",
        "機体が報告したポンプ出力",
        "差 (実績 − 処方)",
    ] {
        assert!(page.body.contains(needle), "{needle} missing");
    }
    for raw in ["pump_output", "applied_rate", "commanded"] {
        assert!(!page.body.contains(raw), "{raw} shown");
    }
    // Another farm sees none of it, as with every other part of a flight.
    let (other, _, _) = farmer_with_paddy(app, "yoso").await;
    let r = app
        .get(&format!("/flights/{id}/as-applied.geojson"), &other.cookies)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.body.contains("applied_m2"));
    let r = app
        .get(&format!("/flights/{id}/as-applied.xml"), &other.cookies)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.body.contains("TZN"));
    // A flight of a plan without a prescription has no as-applied map.
    let plain = flights::planned(app, &b).await;
    let plain_plan = app.state.db.plan(plain).await.unwrap();
    let tlog = flights::fly(&plain_plan.plan_file).await;
    let r = flights::upload(app, &b, plain, &tlog).await;
    let plain_flight = r.headers["location"].to_str().unwrap().to_owned();
    let r = app
        .get(&format!("{plain_flight}/as-applied.geojson"), &b.cookies)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get(&format!("{plain_flight}/as-applied.xml"), &b.cookies)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

/// The two zones of [`prescription`] as a Shapefile's (.shp, .dbf), rates in `RATE`.
fn shapefile_parts(west: f64, east: f64) -> (Vec<u8>, Vec<u8>) {
    use shapefile::dbase::{self, FieldValue};
    let mut shp = std::io::Cursor::new(Vec::new());
    let mut dbf = std::io::Cursor::new(Vec::new());
    {
        let table = dbase::TableWriterBuilder::new()
            .add_character_field("name".try_into().unwrap(), 20)
            .add_numeric_field("RATE".try_into().unwrap(), 10, 3)
            .build_with_dest(&mut dbf);
        let mut w = shapefile::Writer::new(shapefile::ShapeWriter::new(&mut shp), table);
        for (name, rate, a, b) in [
            ("west", west, 139.97990, 139.98067),
            ("east", east, 139.98067, 139.98144),
        ] {
            let ring = vec![
                shapefile::Point::new(a, 36.96990),
                shapefile::Point::new(a, 36.97040),
                shapefile::Point::new(b, 36.97040),
                shapefile::Point::new(b, 36.96990),
                shapefile::Point::new(a, 36.96990),
            ];
            let shape = shapefile::Polygon::new(shapefile::PolygonRing::Outer(ring));
            let mut rec = dbase::Record::default();
            rec.insert("name".into(), FieldValue::Character(Some(name.into())));
            rec.insert("RATE".into(), FieldValue::Numeric(Some(rate)));
            w.write_shape_and_record(&shape, &rec).unwrap();
        }
    }
    (shp.into_inner(), dbf.into_inner())
}

both_apps!(a_shapefile_picked_as_its_parts_is_read_as_one, |app| {
    let (b, farm, field) = farmer_with_paddy(app, "nishi").await;
    let (shp, dbf) = shapefile_parts(0.8, 1.6);
    let prj = br#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
    let b = &b;
    let send = |files: Vec<(&'static str, Vec<u8>)>| {
        let mut form = plan_form(&b.csrf);
        for (k, v) in [
            ("autopilot", "px4"),
            ("rate_column", "RATE"),
            ("rate_unit", "l-per-10a"),
            ("gap", "none"),
            ("pump_full_flow_l_min", "2.4"),
        ] {
            match form.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v.to_owned(),
                None => form.push((k, v.to_owned())),
            }
        }
        async move {
            let mut parts: Vec<(&str, Option<&str>, &[u8])> =
                form.iter().map(|(k, v)| (*k, None, v.as_bytes())).collect();
            for (name, bytes) in &files {
                parts.push(("prescription", Some(*name), bytes));
            }
            app.post_multipart(&format!("/fields/{field}/plan"), &b.cookies, &parts)
                .await
        }
    };
    // Only the .shp: refused, saying the rates are in the .dbf, the form kept.
    let r = send(vec![("zones.shp", shp.clone())]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains(".dbf"), "{}", r.body);
    // The three parts, as a file picker sends them.
    let r = send(vec![
        ("zones.dbf", dbf),
        ("zones.prj", prj.to_vec()),
        ("zones.shp", shp),
    ])
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = r.location_id();
    let (row, zones) = app
        .state
        .db
        .plan_prescription(id, farm)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(row.file_name, "zones.shp");
    let named: Vec<_> = zones.iter().map(|z| (z.name.as_str(), z.rate)).collect();
    // The strip outside both zones is the gap, not sprayed.
    assert_eq!(named, vec![("west", 0.8), ("east", 1.6), ("gap", 0.0)]);
});

both_apps!(
    a_px4_prescription_flight_reads_the_pump_back_on_its_own_output,
    |app| {
        let (b, farm, field) = farmer_with_paddy(app, "px4rx").await;
        let rx = prescription("0.8", "1.6", 0.0);
        let r = post_rx(app, &b, field, rx.as_bytes(), &[("autopilot", "px4")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let plan_id = r.location_id();
        let plan = app.state.db.plan(plan_id).await.unwrap();
        assert!(
            plan.plan_file.contains("\"command\": 187")
                || plan.plan_file.contains("\"command\":187")
        );
        // The pump on output 6 as "Peripheral via Actuator Set 1" over PX4's 1000–2000 µs: the
        // flight's log carries those parameters, and the readback goes by them.
        let tlog = flights::fly_on(&plan.plan_file, |cfg| {
            cfg.firmware = telemetry::Firmware::Px4;
            cfg.sprayer.servo = 6;
        })
        .await;
        let r = flights::upload(app, &b, plan_id, &tlog).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let id = r.location_id();
        let (_, zones) = app
            .state
            .db
            .plan_prescription(plan_id, farm)
            .await
            .unwrap()
            .unwrap();
        let gj: serde_json::Value = serde_json::from_str(
            &app.get(&format!("/flights/{id}/as-applied.geojson"), &b.cookies)
                .await
                .body,
        )
        .unwrap();
        assert_eq!(gj["source"], "pump_output", "{gj}");
        let features: Vec<&serde_json::Value> = gj["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["properties"]["outside"] != true)
            .collect();
        assert_eq!(features.len(), zones.len());
        for (f, z) in features.iter().zip(&zones) {
            let p = &f["properties"];
            let applied = p["applied_rate"].as_f64().expect("an applied rate");
            // As on the servo pump: at least the zone's rate, at most its neighbour's (the lead).
            assert!(applied >= 0.97 * z.rate && applied <= 1.6 * 1.05, "{p}");
        }
        // The zone at the highest rate gets it within 5 %: the planner's actuator values, PX4's
        // mixer in the simulator and the readback agree.
        let east = features[1]["properties"]["applied_rate"].as_f64().unwrap();
        assert!((east - 1.6).abs() < 0.05 * 1.6, "{east}");
        // The flight's sprayed area came from the pump on output 6, not the default 9.
        let flight = app.state.db.flight(id).await.unwrap();
        assert!(
            flight.sprayed_area_m2.unwrap() > 200.0,
            "{:?}",
            flight.sprayed_area_m2
        );
    }
);

/// The independent ISOXML reader's view of a task data zip (`tests/browser/isoxml-read.mjs`,
/// dev4Agriculture's `isoxml`); `None` (the test skips) where Node or the package is not
/// installed, unless CI insists (`AGRIOPS_REQUIRE_SHARED=1`).
fn read_isoxml_independently(zip: &[u8], test: &str) -> Option<serde_json::Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    let ready = dir.join("node_modules/isoxml").exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            std::env::var("AGRIOPS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "{test}: the ISOXML reader is not installed (cd tests/browser && npm ci)"
        );
        eprintln!(
            "{test}: skipped, the ISOXML reader is not installed (cd tests/browser && npm ci)"
        );
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("TASKDATA.zip");
    std::fs::write(&file, zip).unwrap();
    let out = std::process::Command::new("node")
        .arg(dir.join("isoxml-read.mjs"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

both_apps!(
    the_as_applied_time_log_reads_back_in_an_independent_isoxml_reader,
    |app| {
        let (b, farm, field) = farmer_with_paddy(app, "tlg").await;
        let rx = prescription("0.8", "1.6", 0.0);
        let r = post_rx(app, &b, field, rx.as_bytes(), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let plan_id = r.location_id();
        let plan = app.state.db.plan(plan_id).await.unwrap();
        let tlog = flights::fly(&plan.plan_file).await;
        let r = flights::upload(app, &b, plan_id, &tlog).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let id = r.location_id();
        let url = format!("/flights/{id}/as-applied-taskdata.zip");
        let r = app.get(&url, &b.cookies).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.headers["content-type"], "application/zip");
        let page = app.get(&format!("/flights/{id}"), &b.cookies).await;
        assert!(page.body.contains("as-applied-taskdata.zip"));
        // Another farm gets none of it.
        let (other, _, _) = farmer_with_paddy(app, "tlg-yoso").await;
        assert_eq!(
            app.get(&url, &other.cookies).await.status,
            StatusCode::FORBIDDEN
        );
        let Some(read) = read_isoxml_independently(&r.bytes, "time_log_reads_back") else {
            return;
        };
        // Nothing to warn of but the files' letter case: the standard's names are upper case
        // (TLG00001.XML, .BIN, as TASKDATA.XML), the reader looks for `.xml`/`.bin` first.
        let warnings: Vec<&str> = read["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .filter(|w| !w.starts_with("Letter case of filename TLG00001."))
            .collect();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(read["devices"][0]["elements"], 1, "{read}");
        let task = &read["tasks"][0];
        assert_eq!(task["status"], "4");
        assert_eq!(task["zones"].as_array().unwrap().len(), 3, "{task}");
        let log = &task["timeLogs"][0];
        assert_eq!(log["errors"], serde_json::json!([]), "{log}");
        let key = |ddi: &str| {
            log["values"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| {
                    v["ddi"]
                        .as_str()
                        .is_some_and(|d| d.eq_ignore_ascii_case(ddi))
                })
                .and_then(|v| v["key"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("no DLV of DDI {ddi}: {}", log["values"]))
        };
        let (work, target, laid) = (key("008D"), key("0001"), key("0002"));
        let records = log["records"].as_array().unwrap();
        assert!(records.len() > 100, "{}", records.len());
        // Every record in time order, inside the field's surroundings, with a GNSS fix.
        let times: Vec<&str> = records
            .iter()
            .map(|r| r["time"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        for r in records {
            let (n, e) = (r["north"].as_f64().unwrap(), r["east"].as_f64().unwrap());
            assert!((n - 36.97).abs() < 0.01 && (e - 139.98).abs() < 0.01, "{r}");
            assert_eq!(r["status"], "1");
        }
        // The east zone at 1.6 L/10a = 1 600 mm³/m²: its spraying records have that target,
        // and the pump laid it within 5 % on average.
        use geo::Contains;
        let (_, zones) = app
            .state
            .db
            .plan_prescription(plan_id, farm)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(zones[1].name, "東");
        let east_zone = crate::services::flights::as_applied::zone_shape(&zones[1].geojson);
        let east: Vec<&serde_json::Value> = records
            .iter()
            .filter(|r| {
                let (e, n) = (r["east"].as_f64().unwrap(), r["north"].as_f64().unwrap());
                r["values"][&work] == 1 && east_zone.contains(&geo::Point::new(e, n))
            })
            .collect();
        assert!(east.len() > 20, "{}", east.len());
        assert!(
            east.iter().all(|r| r["values"][&target] == 1600),
            "{}",
            east.len()
        );
        // Along the legs the pump lays the target; where the vehicle slows at a leg's end it
        // lays more (the pump holds its flow): most records are on target, none is far off.
        let mut laid_rates: Vec<f64> = east
            .iter()
            .map(|r| r["values"][&laid].as_f64().unwrap())
            .collect();
        laid_rates.sort_by(f64::total_cmp);
        let median = laid_rates[laid_rates.len() / 2];
        assert!((median - 1600.0).abs() < 0.01 * 1600.0, "{median}");
        let on_target = laid_rates
            .iter()
            .filter(|r| (**r - 1600.0).abs() < 0.05 * 1600.0)
            .count();
        assert!(on_target * 10 >= laid_rates.len() * 8, "{laid_rates:?}");
        // With the pump off, nothing is targeted or laid.
        for r in records.iter().filter(|r| r["values"][&work] == 0) {
            assert_eq!(r["values"][&target], 0, "{r}");
            assert_eq!(r["values"][&laid], 0, "{r}");
        }
    }
);
