//! The regional reports through the app: tables, suppression, CSV files and who may see them.

use axum::http::StatusCode;

use crate::services::reports::YearMonth;
use crate::storage::Role;
use crate::storage::reports_fixtures::{Expected, dairy, flights, ingest, t0};
use crate::testutil::{TestApp, both_apps};

/// The CSV's rows as cells, after checking the BOM and CRLF line ends.
pub(crate) fn parse_csv(body: &str) -> Vec<Vec<String>> {
    let text = body.strip_prefix('\u{feff}').expect("a UTF-8 BOM");
    assert!(text.ends_with("\r\n"));
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// The figure cells of `c` as the CSV writes them.
fn figures(c: &crate::services::reports::Cell, counts: bool) -> Vec<String> {
    crate::http::routes::reports::figure_cells(c, counts)
        .iter()
        .map(|c| c.written().into_owned())
        .collect()
}

/// Farms a, b in district 0 and c in district 1, each with a parlor's raw records and flights.
async fn seeded(app: &TestApp) -> Vec<(i64, Expected)> {
    let db = &app.state.db;
    let d = db.districts().await.unwrap();
    let mut out = Vec::new();
    for (i, (name, district)) in [("a", 0), ("b", 0), ("c", 1)].into_iter().enumerate() {
        let farm = db
            .create_farm(d[district].id, name, "mixed", "")
            .await
            .unwrap();
        let (recs, mut exp) = dairy(name, i as u64, t0(), 60);
        ingest(db, farm.id, &recs).await;
        flights(db, farm.id, 4 + i as i64, t0(), None, &mut exp).await;
        out.push((farm.id, exp));
    }
    out
}

both_apps!(
    a_formula_farm_name_is_neutralised_in_the_report_csv,
    |app| {
        let db = &app.state.db;
        let d = db.districts().await.unwrap();
        let hostile = "=cmd|' /C calc'!A0";
        let farm = db.create_farm(d[0].id, hostile, "mixed", "").await.unwrap();
        let (recs, exp) = dairy("evil", 7, t0(), 60);
        ingest(db, farm.id, &recs).await;
        let staff = app.user("staff", Role::Staff, None).await;
        let csv = app
            .get(
                &format!("/reports/districts/{}/csv?year=2025&period=spring", d[0].id),
                &staff.cookies,
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        let rows = parse_csv(&csv.body);
        let row = rows.iter().find(|r| r[0].contains("cmd")).unwrap();
        assert_eq!(row[0], format!("'{hostile}"));
        let spring = crate::services::reports::Cell::of(exp.get(&YearMonth {
            year: 2025,
            month: 5,
        }));
        assert_eq!(row[1..], figures(&spring, false)[..], "figures as figures");
    }
);

both_apps!(report_tables_show_the_sums_of_what_was_sent, |app| {
    let farms = seeded(app).await;
    let staff = app.user("staff", Role::Staff, None).await;
    let d = app.state.db.districts().await.unwrap();
    let may = YearMonth {
        year: 2025,
        month: 5,
    };
    // District 0 in May: the sums of farms a and b, computed from the records sent.
    let mut want = crate::services::reports::Cell::default();
    for (id, exp) in &farms[..2] {
        let mut m = exp[&may].clone();
        m.farm_id = *id;
        want.add(&m);
    }
    let csv = app
        .get(
            "/reports/csv?year=2025&period=spring&table=months",
            &staff.cookies,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("agriops-report-2025-spring-months.csv")
    );
    let rows = parse_csv(&csv.body);
    assert_eq!(
        rows[0][..4],
        ["地区", "月", "散布農家数", "飛行回数"].map(String::from)
    );
    assert_eq!(rows.len(), 1 + 3 * 3, "a row per district and month");
    let row = rows
        .iter()
        .find(|r| r[0] == d[0].name_ja && r[1] == "2025-05")
        .unwrap();
    let expect = figures(&want, true);
    assert_eq!(row[2..], expect[..], "{row:?}");
    assert_eq!(row[2], "2");
    assert_eq!(row[3], want.flights.to_string());
    assert_eq!(row[7], format!("{:.0}", want.cows));

    // The page: tables, charts as SVG with Japanese titles, links to drill down.
    let page = app
        .get("/reports?year=2025&period=spring", &staff.cookies)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg role=\"img\""));
    assert!(
        page.body
            .contains("<title id=\"c-ha-t\">月別の散布面積 (ha)</title>")
    );
    assert!(page.body.contains(&format!(
        "/reports/districts/{}?year=2025&amp;period=spring",
        d[0].id
    )));
    assert!(page.body.contains("未記録"), "pesticide not recorded");

    // District drill-down: one row per farm, the farm's own sums over the season.
    let dcsv = app
        .get(
            &format!("/reports/districts/{}/csv?year=2025&period=spring", d[0].id),
            &staff.cookies,
        )
        .await;
    let rows = parse_csv(&dcsv.body);
    assert_eq!(rows[0][0], "農家・牧場");
    assert_eq!(rows.len(), 3);
    let a = &farms[0];
    let a_may = crate::services::reports::Cell::of(a.1.get(&may));
    let row_a = rows.iter().find(|r| r[0] == "a").unwrap();
    assert_eq!(row_a[1..], figures(&a_may, false)[..]);
    assert!(
        app.get(
            &format!("/reports/districts/{}?period=5", d[0].id),
            &staff.cookies
        )
        .await
        .status
            == StatusCode::OK
    );

    // Farm drill-down: the farm's own people may read it, other farms may not.
    let owner = app.user("owner-a", Role::Farmer, Some(a.0)).await;
    let other = app.user("owner-c", Role::Dairy, Some(farms[2].0)).await;
    let fcsv = app
        .get(
            &format!("/reports/farms/{}/csv?year=2025&period=6", a.0),
            &owner.cookies,
        )
        .await;
    assert_eq!(fcsv.status, StatusCode::OK);
    let june = crate::services::reports::Cell::of(a.1.get(&YearMonth {
        year: 2025,
        month: 6,
    }));
    let rows = parse_csv(&fcsv.body);
    assert_eq!(rows[1][0], "2025-06");
    assert_eq!(rows[1][1..], figures(&june, false)[..]);
    assert_eq!(
        app.get(&format!("/reports/farms/{}", a.0), &other.cookies)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/reports", &owner.cookies).await.status,
        StatusCode::FORBIDDEN
    );

    // Bad input is a 422 with a message, never a 500.
    for q in [
        "year=20x5",
        "period=13",
        "period=monsoon",
        "table=nope",
        "year=1800",
    ] {
        let r = app.get(&format!("/reports/csv?{q}"), &staff.cookies).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
    }
    assert_eq!(
        app.get("/reports/districts/999", &staff.cookies)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/reports/farms/999", &staff.cookies).await.status,
        StatusCode::NOT_FOUND
    );
});
