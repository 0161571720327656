//! Terrain through the app: a GSI elevation download registered on the farm's page, a plan
//! that flies spray height above that ground (checked against the ground's own formula, not
//! the model the server decoded), the go/no-go refusals (no model, a model that misses part
//! of the path, a cliff that would put the vehicle above the legal height), bad files, and
//! other farms kept out.

use axum::http::StatusCode;
use serde_json::Value;
use std::io::Write;

use super::rx_tests::farmer_with_paddy;
use super::tests::plan_form;
use crate::storage::Role;
use crate::testutil::{Browser, Resp, TestApp, both_apps};

/// The tile's extent (cell edges): around the paddy, 139.98–139.98134 E, 36.97–36.97054 N.
const S: f64 = 36.9690;
const N: f64 = 36.9716;
const W: f64 = 139.9790;
pub(crate) const E: f64 = 139.9824;
/// Cell size, degrees (about 4.5 m east, 5.5 m north).
const CELL: f64 = 0.00005;
/// The terrace edge, inside the paddy.
pub(crate) const STEP_LON: f64 = 139.9807;

/// The ground: rising 3 m per 0.001° of longitude eastwards, with a terrace edge of `step`
/// metres at [`STEP_LON`].
pub(crate) fn ground(lon: f64, step: f64) -> f64 {
    300.0 + 3000.0 * (lon - W) + if lon >= STEP_LON { step } else { 0.0 }
}

/// A GSI JPGIS 5 m DEM document over [`W`]..`east`, heights from [`ground`] at cell centres.
pub(crate) fn gsi_gml(east: f64, step: f64) -> String {
    let nx = ((east - W) / CELL).round() as usize;
    let ny = ((N - S) / CELL).round() as usize;
    let mut tuples = String::new();
    for _row in 0..ny {
        for col in 0..nx {
            let lon = W + (col as f64 + 0.5) * CELL;
            tuples.push_str(&format!("地表面,{:.2}\n", ground(lon, step)));
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Dataset xmlns:gml="http://www.opengis.net/gml/3.2" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema" gml:id="Dataset1">
<DEM gml:id="DEM001"><type>5mメッシュ（標高）</type><mesh>54397000</mesh>
<coverage gml:id="DEM001-3">
<gml:boundedBy><gml:Envelope srsName="fguuid:jgd2011.bl">
<gml:lowerCorner>{S} {W}</gml:lowerCorner><gml:upperCorner>{N} {east}</gml:upperCorner>
</gml:Envelope></gml:boundedBy>
<gml:gridDomain><gml:Grid dimension="2" gml:id="DEM001-4"><gml:limits><gml:GridEnvelope>
<gml:low>0 0</gml:low><gml:high>{hx} {hy}</gml:high>
</gml:GridEnvelope></gml:limits><gml:axisLabels>x y</gml:axisLabels></gml:Grid></gml:gridDomain>
<gml:rangeSet><gml:DataBlock><gml:rangeParameters><QuantityList uom="DEM構成点"></QuantityList></gml:rangeParameters>
<gml:tupleList>
{tuples}</gml:tupleList></gml:DataBlock></gml:rangeSet>
<gml:coverageFunction><gml:GridFunction><gml:sequenceRule order="+x-y">Linear</gml:sequenceRule>
<gml:startPoint>0 0</gml:startPoint></gml:GridFunction></gml:coverageFunction>
</coverage></DEM></Dataset>
"#,
        hx = nx - 1,
        hy = ny - 1,
    )
}

/// The download as GSI hands it out: a zip of the GML with a readme beside it.
pub(crate) fn gsi_zip(gml: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    w.start_file("readme.txt", o).unwrap();
    w.write_all("基盤地図情報".as_bytes()).unwrap();
    w.start_file("FG-GML-5439-70-DEM5A-20250101.xml", o)
        .unwrap();
    w.write_all(gml.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

pub(crate) async fn upload(app: &TestApp, b: &Browser, farm: i64, name: &str, file: &[u8]) -> Resp {
    app.post_multipart(
        &format!("/farms/{farm}/terrain"),
        &b.cookies,
        &[
            ("csrf", None, b.csrf.as_bytes()),
            ("name", None, "北の棚田".as_bytes()),
            ("files", Some(name), file),
        ],
    )
    .await
}

pub(crate) async fn plan(app: &TestApp, b: &Browser, field: i64, frame: &str) -> Resp {
    let mut form = plan_form(&b.csrf);
    form.push(("alt_frame", frame.to_owned()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_form(&format!("/fields/{field}/plan"), &b.cookies, &pairs)
        .await
}

/// The stored plan's mission items as (frame, lat, lon, alt), waypoints only, and its home
/// (lat, lon, ground).
async fn mission(app: &TestApp, plan: i64) -> (Vec<(u64, f64, f64, f64)>, [f64; 3]) {
    let p = app.state.db.plan(plan).await.unwrap();
    let v: Value = serde_json::from_str(&p.plan_file).unwrap();
    let home = v["mission"]["plannedHomePosition"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect::<Vec<_>>();
    let items = v["mission"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["command"] == 16)
        .map(|i| {
            let p = i["params"].as_array().unwrap();
            let f = |k: usize| p[k].as_f64().unwrap();
            (i["frame"].as_u64().unwrap(), f(4), f(5), f(6))
        })
        .collect();
    (items, [home[0], home[1], home[2]])
}

both_apps!(
    a_plan_flies_spray_height_above_the_registered_ground,
    |app| {
        let (b, farm, field) = farmer_with_paddy(app, "tana").await;
        let dl = gsi_zip(&gsi_gml(E, 10.0));
        let r = upload(app, &b, farm, "FG-GML-5439-70-DEM5A.zip", &dl).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // The same download again is the same model.
        let r = upload(app, &b, farm, "FG-GML-5439-70-DEM5A.zip", &dl).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let models = app.state.db.dems_of_farm(farm).await.unwrap();
        assert_eq!(models.len(), 1);
        assert_eq!(models[0].cells, 68 * 52);
        let page = app
            .get(&format!("/farms/{farm}/terrain?done=stored"), &b.cookies)
            .await;
        assert!(
            page.body.contains("標高データを登録しました"),
            "{}",
            page.body
        );
        assert!(page.body.contains("FG-GML-5439-70-DEM5A.zip"));

        let r = plan(app, &b, field, "relative").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let id = r.location_id();
        let (items, home) = mission(app, id).await;
        assert!(
            (home[2] - ground(home[1], 10.0)).abs() < 0.05,
            "home ground {home:?}"
        );
        // Away from the terrace edge (where the path must climb before it and may only descend
        // slowly after it) every waypoint is 2 m above the ground's own formula, relative to home.
        let mut judged = 0;
        for (frame, lat, lon, alt) in &items {
            assert_eq!(*frame, 3, "relative to home");
            let agl = alt + home[2] - ground(*lon, 10.0);
            if (lon - STEP_LON).abs() > 0.00045 {
                assert!(
                    (agl - 2.0).abs() < 0.1,
                    "{agl:.2} m above ground at {lat}, {lon}"
                );
                judged += 1;
            }
            if (lon - STEP_LON).abs() > CELL * 1.5 {
                assert!(agl > 1.95, "{agl:.2} m above ground at {lat}, {lon}");
            }
        }
        assert!(judged >= 10, "{judged} waypoints judged of {}", items.len());
        let page = app.get(&format!("/plans/{id}"), &b.cookies).await;
        assert!(
            page.body.contains(r#"<h2 id="terrain">地形</h2>"#),
            "{}",
            page.body
        );
        // The terrace edge is steeper than the vehicle climbs at spray speed: said, not hidden.
        assert!(
            page.body.contains("散布の高さより高く飛びます"),
            "{}",
            page.body
        );

        // In the vehicle's terrain frame every waypoint is spray height or higher.
        let r = plan(app, &b, field, "terrain").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let (items, _) = mission(app, r.location_id()).await;
        assert!(
            items
                .iter()
                .all(|(f, _, _, alt)| *f == 10 && *alt >= 2.0 - 1e-6)
        );
    }
);

both_apps!(the_ground_go_no_go_refuses_and_stores_nothing, |app| {
    let (b, farm, field) = farmer_with_paddy(app, "nogo").await;
    let before = app.state.db.plans_of_field(field).await.unwrap().len();
    // No model yet.
    let r = plan(app, &b, field, "relative").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("この圃場を覆う標高データがありません"),
        "{}",
        r.body
    );
    // A model that ends in the middle of the paddy.
    let west = gsi_gml(139.9806, 0.0);
    let r = upload(app, &b, farm, "west.xml", west.as_bytes()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = plan(app, &b, field, "amsl").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("飛行経路の一部を覆っていない"),
        "{}",
        r.body
    );
    // The form comes back with the person's choice.
    assert!(
        r.body.contains(r#"<option value="amsl" selected>"#),
        "{}",
        r.body
    );
    // A 200 m cliff at the terrace edge: the vehicle cannot descend in time and would be
    // higher above the ground than the law allows. The newer model is sampled first.
    let cliff = gsi_gml(E, -200.0);
    let r = upload(app, &b, farm, "cliff.xml", cliff.as_bytes()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = plan(app, &b, field, "relative").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("航空法の上限（150 m）を超える"),
        "{}",
        r.body
    );
    assert_eq!(
        app.state.db.plans_of_field(field).await.unwrap().len(),
        before
    );
    // The flat plan is still made.
    let r = plan(app, &b, field, "flat").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
});

both_apps!(
    bad_elevation_files_are_refused_in_the_persons_language,
    |app| {
        let (b, farm, _) = farmer_with_paddy(app, "badem").await;
        for (name, bytes, said) in [
            ("notes.doc", &b"hello"[..], "標高データを読めません"),
            ("tile.png", &b"\x89PNG"[..], "z/x/y.png"),
            ("a.xml", &b"<Dataset/>\0"[..], "標高データを読めません"),
            ("broken.zip", &b"PK\x03\x04junk"[..], "broken.zip"),
        ] {
            let r = upload(app, &b, farm, name, bytes).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}: {}",
                r.body
            );
            assert!(r.body.contains(said), "{name}: {}", r.body);
            // The name typed is kept.
            assert!(r.body.contains("北の棚田"), "{name}");
        }
        let r = app
            .post_multipart(
                &format!("/farms/{farm}/terrain"),
                &b.cookies,
                &[("csrf", None, b.csrf.as_bytes()), ("name", None, b"x")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("ファイルが選ばれていません"), "{}", r.body);
        assert!(app.state.db.dems_of_farm(farm).await.unwrap().is_empty());
    }
);

both_apps!(another_farm_cannot_touch_a_farms_elevation_data, |app| {
    let (a, farm_a, _) = farmer_with_paddy(app, "dem-a").await;
    let farm_b = app.farm("dem-b", "crop").await.id;
    let b = app.user("dem-b", Role::Farmer, Some(farm_b)).await;
    let r = upload(app, &a, farm_a, "t.xml", gsi_gml(E, 0.0).as_bytes()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let dem = app.state.db.dems_of_farm(farm_a).await.unwrap()[0].id;
    assert_eq!(
        app.get(&format!("/farms/{farm_a}/terrain"), &b.cookies)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = upload(app, &b, farm_a, "t.xml", gsi_gml(E, 5.0).as_bytes()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let del = |farm: i64| format!("/farms/{farm}/terrain/{dem}/delete");
    let csrf = [("csrf", b.csrf.as_str())];
    assert_eq!(
        app.post_form(&del(farm_a), &b.cookies, &csrf).await.status,
        StatusCode::FORBIDDEN
    );
    // Farm B's own path with farm A's model: there is no such model of farm B.
    assert_eq!(
        app.post_form(&del(farm_b), &b.cookies, &csrf).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.state.db.dems_of_farm(farm_a).await.unwrap().len(), 1);
    assert!(app.state.db.dems_of_farm(farm_b).await.unwrap().is_empty());
    // Its own farmer deletes it.
    let r = app
        .post_form(&del(farm_a), &a.cookies, &[("csrf", a.csrf.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.state.db.dems_of_farm(farm_a).await.unwrap().is_empty());
});
