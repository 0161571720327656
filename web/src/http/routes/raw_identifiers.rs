//! Every page a person can reach, for every role and in both languages, scanned for words a
//! person should never see: code identifiers (`rice_field`), stored enum values, and English
//! words on a Japanese page outside the units, brands and file formats people do use.
//!
//! Pages are found by following links from the home page (and the routes of the
//! authorisation table), so a new page is scanned without being listed here.

use std::collections::{BTreeSet, VecDeque};

use axum::http::{StatusCode, header};
use chrono::Utc;
use parlor_bridge::wire::{
    BailSnapshot, BailState, IngestBatch, KpiInterval, Record, WIRE_VERSION,
};

use telemetry::mavlink::dialects::ardupilotmega::MavSeverity;

use crate::http::routes::flights::tests::fly;
use crate::http::routes::records::tests::with_texts;
use crate::storage::{NewUser, NewVehicle, Role};
use crate::testutil::{Browser, TestApp, both_apps};

/// Two fude polygons as MAFF publishes them: one paddy, one upland field.
const FIELDS: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"jp_fude_2024_03","name":"北の田","land_type_en":"rice_field"},
  "geometry":{"type":"Polygon","coordinates":[[[139.98,36.97],[139.98134,36.97],[139.98134,36.97054],[139.98,36.97054],[139.98,36.97]]]}},
 {"type":"Feature","properties":{"id":"jp_fude_2024_04","name":"南の畑","land_type_en":"field"},
  "geometry":{"type":"Polygon","coordinates":[[[139.99,36.96],[139.99134,36.96],[139.99134,36.96054],[139.99,36.96054],[139.99,36.96]]]}}]}"#;

/// Words that may stand in Latin letters on a Japanese page: units, file formats, brands and
/// the abbreviations Japanese users read as they are.
const LATIN_OK_ON_JA: &[&str] = &[
    // units
    "kg",
    "ha",
    "m",
    "km",
    "mm",
    "cm",
    "L",
    "mL",
    "s",
    "min",
    "h",
    "kPa",
    "V",
    "A",
    "mAh",
    "Wh",
    "m/s",
    "km/h",
    "°C",
    "a", // 10a
    // file formats and protocols
    "CSV",
    "JSON",
    "GeoJSON",
    "KML",
    "KMZ",
    "tlog",
    "plan",
    "waypoints",
    "WPL",
    "QGC",
    "SVG",
    "MBTiles",
    "XYZ",
    "API",
    "OpenAPI",
    "MAVLink",
    "Modbus",
    "TCP",
    "RTU",
    "UDP",
    "MQTT",
    "Schema",
    "HTTP",
    "URL",
    "kml",
    "kmz",
    // prescription map formats, named as the farm's GIS software names them
    "Shapefile",
    "DBF",
    "GeoTIFF",
    "ISOXML",
    // elevation data as GSI hands it out: JPGIS GML tiles and PNG tiles in z/x/y folders
    "GML",
    "PNG",
    "z/x/y",
    // a Shapefile's parts and ISOXML's task file, named as they are on disk
    "shp",
    "dbf",
    "prj",
    "TASKDATA.XML",
    "zip",
    "csv",
    "geojson",
    "null",
    // link addresses are typed as they are: udpout:192.168.1.10:14550
    "udpin",
    "udpout",
    "tcpin",
    "tcpout",
    "serial",
    // brands and standards
    "ArduPilot",
    "PX4",
    "QGroundControl",
    "Mission",
    "Planner",
    "Google",
    "Earth",
    "MAFF",
    "GSI",
    "OpenStreetMap",
    "Leaflet",
    "CC",
    "BY",
    "ID",
    "No",
    "GNSS",
    "GPS",
    "RTK",
    "EKF",
    "RTL",
    "SITL",
    "JU",
    "IPAex",
    "x",
    "t",
    "Copter",
    "DID",
    // LINE, the messaging service the city's own account is on, and the webhook that reaches it
    "LINE",
    "Webhook",
    // push notifications need the browser's script, named as browsers name it
    "JavaScript",
    // the language switch names the other language in that language
    "English",
];

/// Stored values that must always be shown through their translation.
const ENUM_VALUES: &[&str] = &[
    "rice_field",
    "kicked_off",
    "running",
    "stopped",
    "washing",
    "fault",
    "completed",
    "aborted",
    "failed",
    "in_progress",
    "farmer",
    "dairy",
    "staff",
    "admin",
    "ardupilot",
    "px4",
    "mixed",
    "crop",
    "empty",
    "prep",
    "milking",
    "done",
    "unknown",
    "off",
];

/// The text a person sees or hears of a page: text nodes (scripts and styles left out) and
/// the attributes read aloud or shown (`aria-label`, `title`, `alt`, `placeholder`, button
/// `value`s). With `skip_english`, elements marked `lang="en"` (what the vehicle said, in its
/// own words) are left out too: a screen reader reads them in English, as they are.
pub(crate) fn visible_text(html: &str, skip_english: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push(decode(&rest[..lt]));
        let after = &rest[lt..];
        let Some(gt) = after.find('>') else { break };
        let tag = &after[1..gt];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!')
            .collect::<String>()
            .to_ascii_lowercase();
        for attr in ["aria-label", "title", "alt", "placeholder"] {
            out.extend(attr_values(tag, attr));
        }
        if name == "input" && (tag.contains("type=\"submit\"") || tag.contains("type=\"button\"")) {
            out.extend(attr_values(tag, "value"));
        }
        rest = &after[gt + 1..];
        let english = skip_english && name != "html" && tag.contains(" lang=\"en\"");
        if english && !tag.ends_with('/') {
            rest = after_element(rest, &name);
            continue;
        }
        if name == "script" || name == "style" || name == "template" {
            let close = format!("</{name}");
            match rest.to_ascii_lowercase().find(&close) {
                Some(i) => rest = &rest[i..],
                None => break,
            }
        }
    }
    out.push(decode(rest));
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// What follows the element `name` whose start tag ended just before `rest`.
fn after_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let (open, close) = (format!("<{name}"), format!("</{name}>"));
    let mut depth = 1;
    let mut at = 0;
    while depth > 0 {
        let next_open = rest[at..].find(&open).map(|i| i + at);
        let Some(next_close) = rest[at..].find(&close).map(|i| i + at) else {
            return "";
        };
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                at = o + open.len();
            }
            _ => {
                depth -= 1;
                at = next_close + close.len();
            }
        }
    }
    &rest[at..]
}

fn attr_values(tag: &str, attr: &str) -> Vec<String> {
    let pat = format!(" {attr}=\"");
    let mut out = Vec::new();
    let mut rest = tag;
    while let Some(i) = rest.find(&pat) {
        let v = &rest[i + pat.len()..];
        let end = v.find('"').unwrap_or(v.len());
        out.push(decode(&v[..end]));
        rest = &v[end..];
    }
    out
}

fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Latin-letter words of `text` (letters, digits, `_`, `-`, `.`, `/` inside a word).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| {
        !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '/' || c == '°')
    })
    .map(|w| w.trim_matches(|c: char| c == '.' || c == '-' || c == '/'))
    .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
    .collect()
}

/// What on one page a person should not see, as `(word, the text it stands in)`; `data` are
/// words of the seeded data itself (user names), which are the person's own.
pub(crate) fn raw_words(html: &str, ja: bool, data: &[&str]) -> Vec<(String, String)> {
    let mut bad = Vec::new();
    for text in visible_text(html, ja) {
        for w in words(&text) {
            if data.contains(&w) {
                continue;
            }
            let snake = w.contains('_') && w.chars().any(|c| c.is_ascii_lowercase());
            // A stored value shown as it is stored: a cell holding just `completed`.
            let enum_value = ENUM_VALUES.contains(&w) && text.trim() == w;
            let english = ja && !latin_ok_on_ja(w);
            if snake || enum_value || english {
                bad.push((w.to_owned(), text.trim().chars().take(80).collect()));
            }
        }
    }
    bad
}

/// A Latin word allowed on a Japanese page: an allowed word, a number with a unit
/// (`10a`, `2m`), a unit over a unit (`L/10a`, `kg/h`), a registration or version
/// (`JU-AUTH1`, `v2`), or a file name of the person's own (`f.tlog`).
fn latin_ok_on_ja(w: &str) -> bool {
    if LATIN_OK_ON_JA.contains(&w) {
        return true;
    }
    // Autopilot parameters are set by these names in any ground station (FENCE_MARGIN).
    if w.contains('_')
        && w.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return true;
    }
    if w.contains('/') {
        return w.split('/').all(latin_ok_on_ja);
    }
    let unit = w.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ',');
    if unit.len() < w.len() && (unit.is_empty() || latin_ok_on_ja(unit)) {
        return true;
    }
    if let Some((_, ext)) = w.rsplit_once('.') {
        return LATIN_OK_ON_JA.iter().any(|ok| ok.eq_ignore_ascii_case(ext));
    }
    // Registrations and codes: capitals and digits with a dash (JU-0123, T-1).
    w.chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && w.chars().any(|c| c.is_ascii_digit())
}

/// A user with a Japanese display name, signed in.
async fn person(
    app: &TestApp,
    username: &str,
    name: &str,
    role: Role,
    farm: Option<i64>,
) -> Browser {
    let hash = crate::services::credentials::hash_password("password1").unwrap();
    app.state
        .db
        .create_user(&NewUser {
            username,
            display_name: name,
            password_hash: &hash,
            role,
            farm_id: farm,
            lang: "ja",
        })
        .await
        .unwrap();
    app.sign_in(username, "password1").await.unwrap()
}

/// A mixed farm with two fields, a plan, a flown flight with its draft record and logbook,
/// a vehicle, and a parlor that reported a fault with a kicked-off bail.
async fn world(app: &TestApp) -> Vec<(&'static str, Browser)> {
    let d = app.state.db.districts().await.unwrap();
    let farm = app
        .state
        .db
        .create_farm(d[0].id, "那須の農場", "mixed", "栃木県那須塩原市共墾社1-1")
        .await
        .unwrap();
    let farmer = person(app, "noka", "田中 一郎", Role::Farmer, Some(farm.id)).await;
    let r = app
        .post_multipart(
            "/fields/import",
            &farmer.cookies,
            &[
                ("csrf", None, farmer.csrf.as_bytes()),
                ("name", None, "田中の圃場".as_bytes()),
                ("file", Some("fude.geojson"), FIELDS.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let fields = app.state.db.fields(Some(farm.id)).await.unwrap();
    let paddy = fields.iter().find(|f| f.name == "田中の圃場 1").unwrap().id;
    let form = [
        ("csrf", farmer.csrf.as_str()),
        ("swath_width", "5"),
        ("rate_l_per_10a", "0.8"),
        ("tank_l", "20"),
        ("endurance_min", "15"),
        ("speed_mps", "5"),
        ("height_m", "2"),
        ("headland_passes", "1"),
        ("drift_buffer_m", "5"),
        ("autopilot", "ardupilot"),
    ];
    let r = app
        .post_form(&format!("/fields/{paddy}/plan"), &farmer.cookies, &form)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let plan_id: i64 = r.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let plan = app.state.db.plan(plan_id).await.unwrap();
    let tlog = with_texts(
        &fly(&plan.plan_file).await,
        &[
            (2.0, MavSeverity::MAV_SEVERITY_WARNING, "EKF variance"),
            (3.0, MavSeverity::MAV_SEVERITY_CRITICAL, "Battery Failsafe"),
        ],
    );
    let r = app
        .post_multipart(
            &format!("/plans/{plan_id}/flights"),
            &farmer.cookies,
            &[
                ("csrf", None, farmer.csrf.as_bytes()),
                ("tlog", Some("f.tlog"), &tlog),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    app.state
        .db
        .create_vehicle(&NewVehicle {
            farm_id: farm.id,
            registration_no: "JU-0123",
            name: "散布機1号",
            autopilot: "ardupilot",
            link_address: "udpout:127.0.0.1:9",
            registration_expiry: None,
            pump_servo: 9,
        })
        .await
        .unwrap();
    let tok = app
        .state
        .db
        .create_bridge_token(farm.id, "搾乳ブリッジ", "wording-test")
        .await
        .unwrap();
    let now = Utc::now();
    let bail = |n: u16, state: &str, alarm: bool| BailState {
        bail: n,
        state: state.into(),
        cow_id: u64::from(n) * 7,
        current_yield_kg: Some(3.5),
        alarm,
    };
    let records = vec![
        Record::Interval(KpiInterval {
            key: "k".into(),
            parlor: "ロータリー".into(),
            farm: "那須の農場".into(),
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
            cows_per_hour_rolling: 60.0,
            milkings: 1,
            rotation_s: Some(480.0),
            occupancy: Some(0.8),
            idle_bails: 1.0,
            kickoffs: 1.0,
            reattaches: 0.0,
            stops: 1.0,
            washes: 0,
            high_conductivity_alerts: 1,
            state: "fault".into(),
        }),
        Record::Bails(BailSnapshot {
            key: "s".into(),
            parlor: "ロータリー".into(),
            farm: "那須の農場".into(),
            unit: 1,
            t: now,
            entrance_bail: Some(1),
            bails: vec![
                bail(1, "empty", false),
                bail(2, "prep", false),
                bail(3, "milking", false),
                bail(4, "done", true),
                bail(5, "kicked_off", true),
            ],
        }),
    ];
    app.state
        .db
        .ingest_batch(
            tok,
            farm.id,
            &IngestBatch {
                version: WIRE_VERSION,
                bridge_id: "b".into(),
                batch_key: "k".into(),
                records,
            },
        )
        .await
        .unwrap();
    vec![
        ("farmer", farmer),
        (
            "dairy",
            person(app, "rakuno", "佐藤 花子", Role::Dairy, Some(farm.id)).await,
        ),
        (
            "staff",
            person(app, "shokuin", "鈴木 次郎", Role::Staff, None).await,
        ),
        (
            "admin",
            person(app, "kanri", "高橋 三郎", Role::Admin, None).await,
        ),
    ]
}

/// Every HTML page `b` reaches by following links from `/` (at most `limit`).
async fn crawl(app: &TestApp, cookies: &str, limit: usize) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/".to_owned()]);
    let mut pages = Vec::new();
    while let Some(path) = queue.pop_front() {
        if pages.len() >= limit || !seen.insert(path.clone()) {
            continue;
        }
        let r = app.get(&path, cookies).await;
        let html = r
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if r.status != StatusCode::OK || !html {
            continue;
        }
        for href in r.body.split("href=\"").skip(1) {
            let href = decode(&href[..href.find('"').unwrap_or(0)]);
            let href = href.split('#').next().unwrap_or("").to_owned();
            // Same-site pages only; event streams never end.
            if href.starts_with('/') && !href.starts_with("//") && !href.ends_with("/events") {
                queue.push_back(href);
            }
        }
        pages.push((path, r.body));
    }
    pages
}

/// The seeded people's user names, shown on their account pages as they typed them.
const USERNAMES: &[&str] = &["noka", "rakuno", "shokuin", "kanri"];

both_apps!(no_page_shows_a_raw_identifier, |app| {
    let people = world(app).await;
    let mut problems = Vec::new();
    let mut scanned = 0;
    for (role, b) in &people {
        for (lang, ja) in [("ja", true), ("en", false)] {
            let cookies = format!("{}; lang={lang}", b.cookies);
            let pages = crawl(app, &cookies, 200).await;
            assert!(pages.len() >= 5, "{role} {lang} reached only {pages:?}");
            for (path, html) in &pages {
                scanned += 1;
                for (word, text) in raw_words(html, ja, USERNAMES) {
                    problems.push(format!("{role} {lang} {path}: {word:?} in {text:?}"));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} raw words on {scanned} pages:\n{}",
        problems.len(),
        problems.join("\n")
    );
});

#[test]
fn the_scan_sees_what_a_person_sees() {
    let page = r#"<html><head><style>.rice_field{}</style><script>var in_progress=1</script></head>
        <body><p title="稼働中">田</p><td>rice_field</td><input type="submit" value="Save">
        <a href="/x_y" aria-label="地図">kg/h 12.5ha 10a JU-0123 f.tlog</a></body></html>"#;
    let ja: Vec<String> = raw_words(page, true, &[])
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    assert_eq!(ja, ["rice_field", "Save"]);
    let en: Vec<String> = raw_words(page, false, &[])
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    assert_eq!(en, ["rice_field"]);
    // What the vehicle said stays in its words; a bare stored value does not.
    let quoted = r#"<li>12:00 重大 <span lang="en">Battery <b>Failsafe</b></span></li>
        <td>completed</td>"#;
    let ja: Vec<String> = raw_words(quoted, true, &[])
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    assert_eq!(ja, ["completed"]);
    let en: Vec<String> = raw_words(quoted, false, &[])
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    assert_eq!(en, ["completed"]);
}
