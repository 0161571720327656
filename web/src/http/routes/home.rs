//! The home page, built around the day: a farmer sees the wind, the next sorties, the
//! documents left to sign and the drones in the air; a dairy operator each parlor's state with
//! its open alerts first; every item links to where it is done.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::pages;
use crate::http::state::AppState;
use crate::i18n::{JST, Lang, Msg, platform_state};
use crate::services::today::{self, FarmerDay, Missing, StaffDay, Wind};
use crate::storage::{ParlorNow, Role, WorkItem};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

async fn home(
    State(state): State<AppState>,
    user: Result<CurrentUser, AppError>,
) -> Result<Response, AppError> {
    let user = match user {
        Ok(u) => u,
        Err(AppError::Unauthorized) => return Ok(Redirect::to("/login").into_response()),
        Err(e) => return Err(e),
    };
    let lang = user.lang;
    let districts = state.db.districts().await?;
    let farms: Vec<_> = state
        .db
        .farms()
        .await?
        .into_iter()
        .filter(|f| user.user.role.sees_all_farms() || user.user.farm_id == Some(f.id))
        .collect();
    let district_name = |id: i64| crate::http::pages::district_name(&districts, id, lang);
    let title = Msg::Home.text(lang);
    let overview = if user.user.role.sees_all_farms() {
        state
            .db
            .district_overview(crate::storage::jst_day_start(chrono::Utc::now()))
            .await?
    } else {
        Vec::new()
    };
    let today = match (user.user.role, user.user.farm_id) {
        (Role::Farmer, Some(farm)) => {
            let day = today::farmer_day(
                &state.db,
                &state.weather,
                &state.settings.gonogo,
                &state.flights,
                farm,
            )
            .await?;
            farmer_today(lang, &day)
        }
        (Role::Dairy, Some(farm)) => dairy_today(lang, &today::dairy_day(&state.db, farm).await?),
        (Role::Staff | Role::Admin, _) => staff_today(
            lang,
            &today::staff_day(&state.db, chrono::Utc::now()).await?,
        ),
        _ => html! {},
    };
    let body = html! {
        h1 { (title) }
        (today)
        @if !overview.is_empty() {
            h2 { (Msg::DistrictOverview.text(lang)) }
            table {
                thead { tr {
                    th scope="col" { (Msg::Districts.text(lang)) }
                    th.num scope="col" { (Msg::Farms.text(lang)) }
                    th.num scope="col" { (Msg::Fields.text(lang)) }
                    th.num scope="col" { (Msg::AreaHa.text(lang)) }
                    th.num scope="col" { (Msg::Plans.text(lang)) }
                    th.num scope="col" { (Msg::Parlors.text(lang)) }
                    th.num scope="col" { (Msg::CowsToday.text(lang)) }
                    th.num scope="col" { (Msg::MilkToday.text(lang)) }
                } }
                tbody { @for d in &overview { tr {
                    th scope="row" { (match lang { Lang::Ja => &d.name_ja, Lang::En => &d.name_en }) }
                    td.num { (d.farms) } td.num { (d.fields) } td.num { (format!("{:.1}", d.field_ha)) }
                    td.num { (d.plans) } td.num { (d.parlors) } td.num { (format!("{:.0}", d.cows_day)) }
                    td.num { (format!("{:.0}", d.milk_kg_day)) }
                } } }
            }
        }
        h2 { (Msg::Farms.text(lang)) }
        table {
            thead { tr {
                th scope="col" { (Msg::Districts.text(lang)) }
                th scope="col" { (Msg::Farms.text(lang)) }
            } }
            tbody {
                @for f in &farms {
                    tr { td { (district_name(f.district_id)) } td { (f.name) } }
                }
            }
        }
    };
    Ok(pages::layout(lang, title, Some(&user), body).into_response())
}

/// One work item as a link to where it is done, with its field and date.
fn work_list(lang: Lang, items: &[WorkItem], href: impl Fn(&WorkItem) -> String) -> Markup {
    html! {
        @if items.is_empty() { p.muted { (Msg::LogNone.text(lang)) } }
        @else { ul.todo { @for w in items { li {
            a href=(href(w)) {
                (w.field_name.as_deref().unwrap_or("—"))
                " — " (w.at.with_timezone(&JST).format("%Y-%m-%d"))
            }
        } } } }
    }
}

fn farmer_today(lang: Lang, day: &FarmerDay) -> Markup {
    html! {
        section aria-labelledby="wind-h" {
            h2 #wind-h { (Msg::WindNow.text(lang)) }
            @match day.wind {
                Wind::NoForecast => { p.notice { (Msg::NoForecast.text(lang)) } }
                Wind::Reading { mps, limit_mps, at } => {
                    @let (class, msg, icon) = if day.wind.go() == Some(true) {
                        ("notice", Msg::WindGo, "✔")
                    } else {
                        ("alert", Msg::WindNoGo, "✖")
                    };
                    p class=(class) {
                        span aria-hidden="true" { (icon) " " }
                        strong { (msg.text(lang)) } ": "
                        (format!("{mps:.1} m/s")) " (" (Msg::WindLimit.text(lang)) " " (format!("{limit_mps:.1} m/s")) ", "
                        (at.with_timezone(&JST).format("%H:%M")) ")"
                    }
                }
            }
        }
        @if !day.drones.is_empty() {
            section aria-labelledby="drones-h" {
                h2 #drones-h { (Msg::DronesNow.text(lang)) }
                ul.todo { @for d in &day.drones { li {
                    a href=(format!("/flights/{}/live", d.flight_id)) {
                        (d.name) " — " (crate::http::routes::launch::live::phase_msg(d.phase).text(lang))
                        @if let Some(b) = d.battery_pct { ", " (Msg::BatteryNow.text(lang)) " " (format!("{b:.0} %")) }
                    }
                } } }
            }
        }
        section aria-labelledby="sorties-h" {
            h2 #sorties-h { (Msg::NextSorties.text(lang)) }
            @if day.sorties.is_empty() { p.muted { (Msg::LogNone.text(lang)) } }
            @else { ul.todo { @for w in &day.sorties { li {
                a href=(format!("/plans/{}", w.id)) { (w.field_name.as_deref().unwrap_or("—")) " — " (Msg::PlanWord.text(lang)) " #" (w.id) }
                " · "
                a href=(format!("/plans/{}/launch", w.id)) { (Msg::PreflightCheck.text(lang)) }
                @if let Some(go) = day.wind.go() {
                    " " span class=(if go { "go" } else { "nogo" }) {
                        (if go { Msg::WindGo } else { Msg::WindNoGo }.text(lang))
                    }
                }
            } } } }
        }
        section aria-labelledby="logbooks-h" {
            h2 #logbooks-h { (Msg::LogbooksToSign.text(lang)) }
            (work_list(lang, &day.logbooks, |w| format!("/flights/{}/logbook", w.id)))
        }
        section aria-labelledby="records-h" {
            h2 #records-h { (Msg::RecordsToSign.text(lang)) }
            (work_list(lang, &day.records, |w| format!("/flights/{}/record", w.id)))
        }
    }
}

fn staff_today(lang: Lang, day: &StaffDay) -> Markup {
    html! {
        section aria-labelledby="changes-h" {
            h2 #changes-h {
                (Msg::SinceYesterday.text(lang)) " ("
                (day.since.with_timezone(&JST).format("%Y-%m-%d %H:%M")) " 〜)"
            }
            table.cards {
                thead { tr {
                    th scope="col" { (Msg::Districts.text(lang)) }
                    th.num scope="col" { (Msg::NewFlights.text(lang)) }
                    th.num scope="col" { (Msg::NewRecords.text(lang)) }
                    th.num scope="col" { (Msg::ParlorReports.text(lang)) }
                    th scope="col" { (Msg::MissingWord.text(lang)) }
                } }
                tbody { @for (d, missing) in &day.districts { tr {
                    th scope="row" {
                        a href=(format!("/reports/districts/{}", d.id)) {
                            (match lang { Lang::Ja => &d.name_ja, Lang::En => &d.name_en })
                        }
                    }
                    td.num data-label=(Msg::NewFlights.text(lang)) { (d.flights) }
                    td.num data-label=(Msg::NewRecords.text(lang)) { (d.records) }
                    td.num data-label=(Msg::ParlorReports.text(lang)) { (d.parlor_reports) }
                    td data-label=(Msg::MissingWord.text(lang)) { @match missing {
                        Missing::Nothing => span.muted { (Msg::LogNone.text(lang)) },
                        Missing::ParlorData => strong.nogo { (Msg::MissingParlorData.text(lang)) },
                        Missing::AllData => strong.nogo { (Msg::MissingAllData.text(lang)) },
                    } }
                } } }
            }
            p { a href="/staff/alerts" { (crate::i18n::staff_alerts::StaffAlertMsg::Title.text(lang)) } }
        }
    }
}

fn dairy_today(lang: Lang, parlors: &[ParlorNow]) -> Markup {
    html! {
        section aria-labelledby="parlors-h" {
            h2 #parlors-h { (Msg::ParlorsNow.text(lang)) }
            @if parlors.is_empty() { p.muted { (Msg::LogNone.text(lang)) } }
            ul.todo { @for p in parlors { li {
                a href=(format!("/parlors/{}", p.id)) { strong { (p.name) } }
                ": "
                @match &p.state {
                    Some(st) => (platform_state(lang, st)),
                    None => (Msg::NoReportYet.text(lang)),
                }
                @if let Some(c) = p.cows_per_hour { " · " (format!("{c:.0}")) " " (Msg::CowsPerHour.text(lang)) }
                @if let Some(t) = p.last_at { " · " (t.with_timezone(&JST).format("%H:%M")) }
                br;
                @if p.open_alerts > 0 {
                    strong.nogo {
                        span aria-hidden="true" { "⚠ " }
                        (Msg::OpenAlerts.text(lang)) " " (p.open_alerts) ": "
                        (alert_kind_text(lang, p.alert_kind.as_deref().unwrap_or("")))
                        @if let Some(t) = p.alert_since { " (" (t.with_timezone(&JST).format("%m-%d %H:%M")) ")" }
                    }
                } @else {
                    span.muted { (Msg::NoOpenAlerts.text(lang)) }
                }
            } } }
        }
    }
}

/// An open alert's kind as the alerts' own messages name it.
fn alert_kind_text(lang: Lang, kind: &str) -> &'static str {
    crate::storage::RuleKind::parse(kind).map_or(Msg::AlertsTitle.text(lang), |k| {
        crate::services::alerts::notice::kind_msg(k).text(lang)
    })
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use chrono::Utc;

    use crate::http::routes::flights::tests::{fly, planned};
    use crate::storage::{OpenCondition, Role, RuleKind};
    use crate::testutil::both_apps;

    both_apps!(a_farmers_home_lists_the_days_work, |app| {
        let farm = app.farm("hibi", "crop").await;
        let b = app.user("hibi", Role::Farmer, Some(farm.id)).await;
        let home = app.get("/", &b.cookies).await;
        assert_eq!(home.status, StatusCode::OK);
        // No station configured: said honestly, not guessed.
        assert!(home.body.contains("風の情報がありません"), "{}", home.body);

        let plan = planned(app, &b).await;
        let home = app.get("/", &b.cookies).await.body;
        assert!(
            home.contains(&format!(r#"href="/plans/{plan}/launch""#)),
            "{home}"
        );
        assert!(!home.contains("/logbook\""));

        let flown = fly(&app.state.db.plan(plan).await.unwrap().plan_file).await;
        let r = app
            .post_multipart(
                &format!("/plans/{plan}/flights"),
                &b.cookies,
                &[
                    ("csrf", None, b.csrf.as_bytes()),
                    ("tlog", Some("f.tlog"), &flown),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let flight: i64 = r.headers["location"]
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let home = app.get("/", &b.cookies).await.body;
        // Flown: no longer a next sortie; its two documents wait for signing.
        assert!(
            !home.contains(&format!(r#"href="/plans/{plan}/launch""#)),
            "{home}"
        );
        assert!(
            home.contains(&format!(r#"href="/flights/{flight}/logbook""#)),
            "{home}"
        );
        assert!(
            home.contains(&format!(r#"href="/flights/{flight}/record""#)),
            "{home}"
        );

        // Another farm's farmer sees none of it.
        let other = app.farm("yoso", "crop").await;
        let o = app.user("yoso", Role::Farmer, Some(other.id)).await;
        let theirs = app.get("/", &o.cookies).await.body;
        assert!(!theirs.contains(&format!("/flights/{flight}/")), "{theirs}");
    });

    both_apps!(
        staff_see_what_reached_each_district_since_yesterday,
        |app| {
            let b = app.user("kakari", Role::Staff, None).await;
            let farm = app.farm("nouka", "crop").await;
            let f = app.user("nouka", Role::Farmer, Some(farm.id)).await;
            let now = Utc::now();
            let day = crate::services::today::staff_day(&app.state.db, now)
                .await
                .unwrap();
            let first = &day.districts[0];
            assert_eq!(first.0.id, farm.district_id);
            assert_eq!(
                first.1,
                crate::services::today::Missing::AllData,
                "a farm, nothing sent"
            );
            assert!(
                day.districts[1..]
                    .iter()
                    .all(|(_, m)| *m == crate::services::today::Missing::Nothing)
            );

            let plan = planned(app, &f).await;
            let flown = fly(&app.state.db.plan(plan).await.unwrap().plan_file).await;
            app.post_multipart(
                &format!("/plans/{plan}/flights"),
                &f.cookies,
                &[
                    ("csrf", None, f.csrf.as_bytes()),
                    ("tlog", Some("f.tlog"), &flown),
                ],
            )
            .await;
            let day = crate::services::today::staff_day(&app.state.db, now)
                .await
                .unwrap();
            let first = &day.districts[0];
            assert_eq!((first.0.flights, first.0.records), (1, 1));
            assert_eq!(first.1, crate::services::today::Missing::Nothing);
            let home = app.get("/", &b.cookies).await.body;
            assert!(home.contains("昨日からの変化"), "{home}");
            assert!(!home.contains("何も届いていません"), "{home}");
        }
    );

    /// A weather station on this machine answering `mps`; its URL.
    async fn station(mps: f64) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/now",
            axum::routing::get(
                move || async move { axum::Json(serde_json::json!({"wind_mps": mps})) },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/now")
    }

    both_apps!(the_wind_says_go_or_no_go_against_the_limit, |app| {
        let farm = app.farm("kaze", "crop").await;
        let b = app.user("kaze", Role::Farmer, Some(farm.id)).await;
        let plan = planned(app, &b).await;
        for (mps, go) in [(2.4, true), (4.2, false)] {
            let cfg = crate::services::gonogo::GoNoGoConfig {
                weather_station_url: Some(station(mps).await),
                ..Default::default()
            };
            let day = crate::services::today::farmer_day(
                &app.state.db,
                &crate::services::weather::WeatherStation::new(),
                &cfg,
                &app.state.flights,
                farm.id,
            )
            .await
            .unwrap();
            assert_eq!(day.wind.go(), Some(go), "{mps} m/s against 3.0");
            assert_eq!(day.sorties.len(), 1);
            assert_eq!(day.sorties[0].id, plan);
            let html =
                crate::http::routes::home::farmer_today(crate::i18n::Lang::En, &day).into_string();
            let word = if go {
                "The wind allows spraying"
            } else {
                "Too windy to spray"
            };
            assert!(
                html.contains(word) && html.contains(&format!("{mps:.1} m/s")),
                "{html}"
            );
        }
    });

    both_apps!(a_dairy_home_puts_parlors_with_open_alerts_first, |app| {
        let farm = app.farm("ushi", "dairy").await;
        let b = app.user("ushi", Role::Dairy, Some(farm.id)).await;
        let tok = app
            .state
            .db
            .create_bridge_token(farm.id, "b", "home-test")
            .await
            .unwrap();
        let now = Utc::now();
        let records = ["east", "west"]
            .iter()
            .map(|p| {
                parlor_bridge::wire::Record::Interval(parlor_bridge::wire::KpiInterval {
                    key: format!("{p}/1"),
                    parlor: (*p).into(),
                    farm: "ushi".into(),
                    unit: 1,
                    start: now - chrono::Duration::minutes(1),
                    end: now,
                    online_s: 60.0,
                    cows: 1.0,
                    kg: 10.0,
                    milk_temp_c: None,
                    alarms: Vec::new(),
                    cows_per_hour: 60.0,
                    kg_per_hour: 600.0,
                    cows_per_hour_rolling: 240.0,
                    milkings: 1,
                    rotation_s: None,
                    occupancy: None,
                    idle_bails: 0.0,
                    kickoffs: 0.0,
                    reattaches: 0.0,
                    stops: 0.0,
                    washes: 0,
                    high_conductivity_alerts: 0,
                    state: if *p == "west" { "stopped" } else { "running" }.into(),
                })
            })
            .collect();
        app.state
            .db
            .ingest_batch(
                tok,
                farm.id,
                &parlor_bridge::wire::IngestBatch {
                    version: parlor_bridge::wire::WIRE_VERSION,
                    bridge_id: "b".into(),
                    batch_key: "k".into(),
                    records,
                },
            )
            .await
            .unwrap();
        let parlors = app.state.db.parlors_of_farm(farm.id).await.unwrap();
        let west = parlors.iter().find(|p| p.name == "west").unwrap();
        let home = app.get("/", &b.cookies).await.body;
        let (e, w) = (home.find(">east<").unwrap(), home.find(">west<").unwrap());
        assert!(e < w, "by name while nothing is open: {home}");
        assert!(
            home.contains("稼働中") && home.contains("一時停止"),
            "{home}"
        );

        let rule = app
            .state
            .db
            .create_alert_rule(farm.id, RuleKind::ParlorStopped, None, 5, None)
            .await
            .unwrap();
        let mut tx = app.state.db.begin().await.unwrap();
        tx.open_alert(
            &OpenCondition {
                rule_id: rule,
                farm_id: farm.id,
                condition_key: format!("parlor:{}", west.id),
                parlor_id: Some(west.id),
                subject: west.name.clone(),
                detail: String::new(),
                kind: RuleKind::ParlorStopped,
                since: now,
                critical: false,
            },
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let home = app.get("/", &b.cookies).await.body;
        let (e, w) = (home.find(">east<").unwrap(), home.find(">west<").unwrap());
        assert!(w < e, "the parlor with an open alert comes first: {home}");
        assert!(
            home.contains("停止中"),
            "the alert named as the alerts name it: {home}"
        );
        assert!(home.contains(&format!(r#"href="/parlors/{}""#, west.id)));
    });
}
