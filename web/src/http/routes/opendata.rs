//! Public open data (no sign-in): spray and dairy totals per district and Asia/Tokyo month as
//! CSV and JSON, with a JSON Schema, and a page that explains them (`docs/opendata.md`).
//!
//! Disclosure control: the spray figures of a cell built from 1 or 2 farms are suppressed, farm
//! count included (and the same for the dairy figures), as `x` in CSV and `null` in JSON. Only
//! district × month cells are published — no city, year or pesticide totals — so no suppressed
//! value can be recovered by subtracting published cells from a published total. The records
//! and that rule are [`crate::services::opendata`]'s; here they are served.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::http::auth::request_lang;
use crate::http::csv::{self, CsvCell};
use crate::http::pages;
use crate::http::state::AppState;
use crate::i18n::Msg;
use crate::services::opendata::{OpenRecord, district_months};
use crate::services::reports::MIN_FARMS;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/opendata", get(index))
        .route("/opendata/district-month.csv", get(csv))
        .route("/opendata/district-month.json", get(json_data))
        .route("/opendata/schema.json", get(schema))
}

/// `?year=` of the data files (default: this year).
#[derive(Debug, Default, Deserialize)]
pub struct YearQuery {
    year: Option<String>,
}

/// Every district × month record of `year`, up to the current month.
async fn records(
    state: &AppState,
    q: Result<Query<YearQuery>, QueryRejection>,
) -> Result<(i32, Vec<OpenRecord>), AppError> {
    let q = q
        .map(|Query(q)| q)
        .map_err(|e| AppError::rejected(e.status(), e.body_text()))?;
    district_months(&state.db, q.year.as_deref(), Utc::now()).await
}

/// The CSV header, in the order of the fields of [`OpenRecord`] (without the suppression flags).
pub const CSV_HEADER: [&str; 14] = [
    "地区コード",
    "地区名",
    "地区名（英語）",
    "年月",
    "散布農家数",
    "飛行回数",
    "散布面積(ha)",
    "薬液量(L)",
    "搾乳農家数",
    "搾乳頭数",
    "乳量(kg)",
    "平均搾乳頭数(頭/時)",
    "稼働率(%)",
    "アラート件数",
];

/// One record as CSV cells: `x` for a suppressed value, `-` for a rate that does not apply.
pub fn csv_cells(r: &OpenRecord) -> Vec<CsvCell> {
    let num = |v: Option<String>, suppressed: bool| {
        CsvCell::Figure(v.unwrap_or_else(|| if suppressed { "x" } else { "-" }.to_owned()))
    };
    let text = |s: &String| CsvCell::Text(s.clone());
    let sp = r.spray_suppressed;
    let dp = r.dairy_suppressed;
    vec![
        text(&r.district_code),
        text(&r.district_name_ja),
        text(&r.district_name_en),
        text(&r.month),
        num(r.farms_sprayed.map(|v| v.to_string()), sp),
        num(r.flights.map(|v| v.to_string()), sp),
        num(r.sprayed_ha.map(|v| format!("{v:.2}")), sp),
        num(r.litres.map(|v| format!("{v:.1}")), sp),
        num(r.dairy_farms.map(|v| v.to_string()), dp),
        num(r.cows_milked.map(|v| format!("{v:.0}")), dp),
        num(r.milk_kg.map(|v| format!("{v:.0}")), dp),
        num(r.cows_per_hour.map(|v| format!("{v:.1}")), dp),
        num(r.uptime_pct.map(|v| format!("{v:.1}")), dp),
        num(r.alerts.map(|v| v.to_string()), dp),
    ]
}

async fn csv(
    State(state): State<AppState>,
    q: Result<Query<YearQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let (year, recs) = records(&state, q).await?;
    let body = csv::document(CSV_HEADER, recs.iter().map(csv_cells));
    Ok(csv::response(
        &format!("agriops-district-month-{year}.csv"),
        body,
    ))
}

async fn json_data(
    State(state): State<AppState>,
    q: Result<Query<YearQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let (year, recs) = records(&state, q).await?;
    let body = json!({
        "schema": "/opendata/schema.json",
        "title": "agriops: 那須塩原市 地区・月別 散布・搾乳集計 / Nasushiobara district and month totals of spraying and milking",
        "year": year,
        "suppression_min_farms": MIN_FARMS,
        "generated_at": Utc::now(),
        "records": recs,
    });
    Ok(axum::Json(body).into_response())
}

/// The JSON Schema (draft 2020-12) of `/opendata/district-month.json`.
pub fn schema_value() -> Value {
    let num = |d: &str| json!({"type": ["number", "null"], "minimum": 0, "description": d});
    let int = |d: &str| json!({"type": ["integer", "null"], "minimum": 0, "description": d});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "/opendata/schema.json",
        "title": "agriops district × month totals",
        "description": "Spray and dairy totals per district of Nasushiobara and Asia/Tokyo calendar month. Values built from 1 or 2 farms are null (suppressed); no totals are published. 地区・月別の散布・搾乳集計。1〜2戸から成る値はnull（秘匿）。",
        "type": "object",
        "required": ["year", "suppression_min_farms", "records"],
        "properties": {
            "schema": {"type": "string"},
            "title": {"type": "string"},
            "year": {"type": "integer"},
            "suppression_min_farms": {"type": "integer", "description": "cells with fewer farms than this (and more than none) are suppressed"},
            "generated_at": {"type": "string", "format": "date-time"},
            "records": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["district_code", "district_name_ja", "district_name_en", "month",
                    "spray_suppressed", "farms_sprayed", "flights", "sprayed_ha", "litres",
                    "dairy_suppressed", "dairy_farms", "cows_milked", "milk_kg", "cows_per_hour",
                    "uptime_pct", "alerts"],
                "properties": {
                    "district_code": {"type": "string", "description": "地区コード"},
                    "district_name_ja": {"type": "string", "description": "地区名"},
                    "district_name_en": {"type": "string", "description": "district name"},
                    "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "description": "年月 (Asia/Tokyo)"},
                    "spray_suppressed": {"type": "boolean", "description": "散布の値を秘匿 (1–2 farms)"},
                    "farms_sprayed": int("散布農家数: farms that flew at least one spray flight"),
                    "flights": int("飛行回数: spray flights"),
                    "sprayed_ha": num("散布面積 (ha): area actually sprayed, 2 decimals"),
                    "litres": num("薬液量 (L): liquid applied, 1 decimal"),
                    "dairy_suppressed": {"type": "boolean", "description": "搾乳の値を秘匿 (1–2 farms)"},
                    "dairy_farms": int("搾乳農家数: farms whose parlors reported"),
                    "cows_milked": num("搾乳頭数: cows milked, from the parlor controllers' counters"),
                    "milk_kg": num("乳量 (kg)"),
                    "cows_per_hour": num("平均搾乳頭数 (頭/時): cows milked ÷ hours the parlors answered; null also when none"),
                    "uptime_pct": num("稼働率 (%): hours answered ÷ (hours answered + recorded offline gaps); null also when none"),
                    "alerts": int("アラート件数: high-conductivity alerts"),
                }
            }}
        }
    })
}

async fn schema() -> Response {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        schema_value().to_string(),
    )
        .into_response()
}

async fn index(headers: HeaderMap) -> Response {
    let lang = request_lang(&headers);
    let title = Msg::OpenData.text(lang);
    let body = html! {
        h1 { (title) }
        p { (Msg::OpenDataIntro.text(lang)) }
        p { (Msg::OpenDataSuppression.text(lang)) " " (Msg::NotApplicable.text(lang)) }
        p.muted { (Msg::ReportDefinitions.text(lang)) }
        ul {
            li { a href="/opendata/district-month.csv" { "CSV (UTF-8)" } }
            li { a href="/opendata/district-month.json" { "JSON" } }
            li { a href="/opendata/schema.json" { (Msg::OpenDataSchema.text(lang)) } }
        }
    };
    pages::layout(lang, title, None, body).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::Value;

    use crate::http::routes::reports::tests::parse_csv;
    use crate::services::reports::{Cell, YearMonth};
    use crate::storage::reports_fixtures::{Expected, dairy, flights, ingest, t0};
    use crate::testutil::{TestApp, both_apps};

    /// District 0: three dairy farms (shown), two of which fly (suppressed).
    /// District 1: one dairy farm (suppressed), and three farms that fly (shown).
    async fn seeded(app: &TestApp) -> Vec<(usize, i64, Expected)> {
        let db = &app.state.db;
        let d = db.districts().await.unwrap();
        let mut out = Vec::new();
        // (name, district, dairy?, flights)
        let plan = [
            ("d0-a", 0, true, 3),
            ("d0-b", 0, true, 2),
            ("d0-c", 0, true, 0),
            ("d1-a", 1, true, 1),
            ("d1-b", 1, false, 2),
            ("d1-c", 1, false, 5),
        ];
        for (i, (name, district, milk, n)) in plan.into_iter().enumerate() {
            let farm = db
                .create_farm(d[district].id, name, "mixed", "")
                .await
                .unwrap();
            let mut exp = Expected::new();
            if milk {
                let (recs, e) = dairy(name, i as u64, t0(), 30);
                ingest(db, farm.id, &recs).await;
                exp = e;
            }
            flights(db, farm.id, n, t0(), None, &mut exp).await;
            out.push((district, farm.id, exp));
        }
        out
    }

    fn cell(farms: &[(usize, i64, Expected)], district: usize, ym: YearMonth) -> Cell {
        let mut c = Cell::default();
        for (_, id, exp) in farms.iter().filter(|f| f.0 == district) {
            if let Some(m) = exp.get(&ym) {
                let mut m = m.clone();
                m.farm_id = *id;
                c.add(&m);
            }
        }
        c
    }

    /// Every number anywhere in a JSON document.
    fn numbers(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Number(n) => out.push(n.as_f64().unwrap()),
            Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
            Value::Object(o) => o.values().for_each(|x| numbers(x, out)),
            _ => {}
        }
    }

    both_apps!(
        open_data_suppresses_cells_of_fewer_than_three_farms,
        |app| {
            let farms = seeded(app).await;
            let may = YearMonth {
                year: 2025,
                month: 5,
            };
            let d0 = cell(&farms, 0, may);
            let d1 = cell(&farms, 1, may);
            assert_eq!((d0.dairy_farms.len(), d0.spray_farms.len()), (3, 2));
            assert_eq!((d1.dairy_farms.len(), d1.spray_farms.len()), (1, 3));

            // Public: no sign-in.
            let r = app.get("/opendata/district-month.json?year=2025", "").await;
            assert_eq!(r.status, StatusCode::OK);
            let v: Value = serde_json::from_str(&r.body).unwrap();
            let recs = v["records"].as_array().unwrap();
            assert_eq!(
                recs.len(),
                3 * 12,
                "one record per district and month, nothing else"
            );
            let rec = |code: &str, month: &str| {
                recs.iter()
                    .find(|r| r["district_code"] == code && r["month"] == month)
                    .unwrap()
                    .clone()
            };
            // 3 dairy farms → shown, and equal to the sums of what was sent.
            let r0 = rec("kuroiso", "2025-05");
            assert_eq!(r0["dairy_suppressed"], false);
            assert_eq!(r0["dairy_farms"], 3);
            assert_eq!(r0["cows_milked"].as_f64().unwrap(), d0.cows.round());
            assert_eq!(r0["milk_kg"].as_f64().unwrap(), d0.milk_kg.round());
            assert_eq!(r0["alerts"].as_i64().unwrap(), d0.alerts);
            // 2 farms that fly → every spray value suppressed, the farm count included.
            assert_eq!(r0["spray_suppressed"], true);
            for k in ["farms_sprayed", "flights", "sprayed_ha", "litres"] {
                assert!(r0[k].is_null(), "{k}: {r0}");
            }
            // 1 dairy farm → suppressed; 3 farms that fly → shown.
            let r1 = rec("nishinasuno", "2025-05");
            assert_eq!(r1["dairy_suppressed"], true);
            for k in [
                "dairy_farms",
                "cows_milked",
                "milk_kg",
                "cows_per_hour",
                "uptime_pct",
                "alerts",
            ] {
                assert!(r1[k].is_null(), "{k}: {r1}");
            }
            assert_eq!(r1["farms_sprayed"], 3);
            assert_eq!(r1["flights"].as_i64().unwrap(), d1.flights);
            assert_eq!(
                r1["litres"].as_f64().unwrap(),
                (d1.litres * 10.0).round() / 10.0
            );
            // No recovery by difference: no total of any kind is published, so no number in the
            // whole document equals a suppressed value or a sum that contains one.
            let mut all = Vec::new();
            numbers(&v, &mut all);
            let secret = [
                d0.litres,
                d0.litres + d1.litres,
                d0.sprayed_ha(),
                d0.sprayed_ha() + d1.sprayed_ha(),
                d0.flights as f64,
                (d0.flights + d1.flights) as f64,
                d1.cows,
                d0.cows + d1.cows,
                d1.milk_kg,
                d0.milk_kg + d1.milk_kg,
            ];
            for s in secret {
                for rounded in [
                    s,
                    s.round(),
                    (s * 10.0).round() / 10.0,
                    (s * 100.0).round() / 100.0,
                ] {
                    assert!(!all.contains(&rounded), "{rounded} is published");
                }
            }

            // The schema names exactly the fields of a record.
            let schema: Value =
                serde_json::from_str(&app.get("/opendata/schema.json", "").await.body).unwrap();
            let items = &schema["properties"]["records"]["items"];
            let mut required: Vec<&str> = items["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            let mut keys: Vec<&str> = r0.as_object().unwrap().keys().map(String::as_str).collect();
            required.sort_unstable();
            keys.sort_unstable();
            assert_eq!(required, keys);

            // CSV: BOM, Japanese header, `x` where suppressed.
            let csv = app.get("/opendata/district-month.csv?year=2025", "").await;
            assert_eq!(csv.status, StatusCode::OK);
            let rows = parse_csv(&csv.body);
            assert_eq!(
                rows[0],
                crate::http::routes::opendata::CSV_HEADER.map(String::from)
            );
            assert_eq!(rows.len(), 1 + 36);
            let c0 = rows
                .iter()
                .find(|r| r[0] == "kuroiso" && r[3] == "2025-05")
                .unwrap();
            assert_eq!(c0[4..8], ["x", "x", "x", "x"].map(String::from));
            assert_eq!(c0[8], "3");
            let c1 = rows
                .iter()
                .find(|r| r[0] == "nishinasuno" && r[3] == "2025-05")
                .unwrap();
            assert_eq!(c1[8..], ["x"; 6].map(String::from));
            assert_eq!(c1[4], "3");
            // A district with no farms publishes zeros and "-" for rates that do not apply.
            let c2 = rows
                .iter()
                .find(|r| r[0] == "shiobara" && r[3] == "2025-05")
                .unwrap();
            assert_eq!(
                c2[4..],
                ["0", "0", "0.00", "0.0", "0", "0", "0", "-", "-", "0"].map(String::from)
            );

            assert_eq!(app.get("/opendata", "").await.status, StatusCode::OK);
            assert_eq!(
                app.get("/opendata/district-month.json?year=abc", "")
                    .await
                    .status,
                StatusCode::UNPROCESSABLE_ENTITY
            );
        }
    );
}
