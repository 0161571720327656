//! The web launch on a real autopilot: `agriops serve` (the binary, SQLite) drives ArduPilot
//! Copter SITL (the rig: `agriops_e2e::sitl`) through the pages a farmer uses: import the
//! field, plan it, register the drone, launch sortie 1, start it, abort it mid-spray, launch
//! again (the page offers to resume), and read the flights' records. Runs when
//! `ARDUPILOT_SITL_BIN` names the binary, otherwise it prints why it is skipped.
//!
//! Judged from the vehicle's own reports and GEOS: the pump off within 0.5 s of the abort,
//! positions inside the uploaded fence, the two flights together pumping along ≥ 98 % of the
//! sortie's spray legs, and each flight's recorded sprayed area within 2 % of the area its
//! pump-on positions cover.

use std::process::Stdio;
use std::time::{Duration, Instant};

use agriops_e2e::sitl::live::{live, pump_off_after, until_pumping, watch};
use agriops_e2e::sitl::measure::{
    MODE_RTL, PUMP_OFF_WITHIN, PumpSwitch, fence_region, outside_fence, sprayed_area,
    sprayed_length_of_flights,
};
use agriops_e2e::sitl::{
    Sample, configure_sprayer, observer, real_field, sitl_bin, start_sitl, stream_reports,
    wait_ready_to_arm,
};
use agriops_e2e::{agriops_admin, printed_id, signed_in};
use telemetry::Plan;

/// The swath the field is planned with, metres.
const SWATH_M: f64 = 5.0;

/// The CSRF token of the page at `path`.
async fn csrf(client: &reqwest::Client, base: &str, path: &str) -> String {
    let page = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("page");
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("{path} has no CSRF token"))
        .to_owned()
}

/// Posts a form; returns the final URL after redirects, failing on an error status.
async fn post(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> String {
    let r = client.post(&url).form(form).send().await.expect("POST");
    let status = r.status();
    let at = r.url().to_string();
    let body = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "POST {url}: {status}\n{body}");
    at
}

/// The flight row of `id` from the JSON API.
async fn flight(client: &reqwest::Client, base: &str, id: i64) -> serde_json::Value {
    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/flights"))
        .send()
        .await
        .expect("flights")
        .json()
        .await
        .expect("flights JSON");
    list.as_array()
        .and_then(|l| l.iter().find(|f| f["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("flight {id} not in {list}"))
}

/// Waits until flight `id` has one of `statuses`.
async fn until_status(
    client: &reqwest::Client,
    base: &str,
    id: i64,
    statuses: &[&str],
    limit: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let f = flight(client, base, id).await;
        if statuses.iter().any(|s| f["status"] == *s) {
            return f;
        }
        assert!(
            Instant::now() < deadline,
            "flight {id} never reached {statuses:?}: {f}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The flight id in a `/flights/{id}/live` URL.
fn flight_id(url: &str) -> i64 {
    url.split("/flights/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a flight URL: {url}"))
}

/// Posts the launch form of `plan_id`, waits until the mission is uploaded and verified
/// (status `planned`) and starts it with the pilot's confirmation; returns the flight id.
async fn launch_and_start(
    client: &reqwest::Client,
    base: &str,
    plan_id: i64,
    form: &[(&str, &str)],
) -> i64 {
    let live_url = post(client, format!("{base}/plans/{plan_id}/launch"), form).await;
    let id = flight_id(&live_url);
    until_status(client, base, id, &["planned"], Duration::from_secs(120)).await;
    let csrf = form
        .iter()
        .find(|(k, _)| *k == "csrf")
        .map(|(_, v)| *v)
        .expect("the form's CSRF token");
    post(
        client,
        format!("{base}/flights/{id}/start"),
        &[("csrf", csrf), ("confirm", "on")],
    )
    .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitl_web_launch_abort_resume_and_records() {
    let test = "sitl_web_launch_abort_resume_and_records";
    let Some(bin) = sitl_bin(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let farm = printed_id(&agriops_admin(
        &data,
        None,
        &[
            "farm",
            "add",
            "SITL 農場",
            "--district",
            "kuroiso",
            "--kind",
            "crop",
        ],
        None,
    ));
    let user = printed_id(&agriops_admin(
        &data,
        None,
        &[
            "user",
            "add",
            "pilot",
            "--role",
            "farmer",
            "--farm",
            &farm.to_string(),
            "--password-stdin",
        ],
        Some("sitl-pilot-pass\n"),
    ));
    let (_server, base) = agriops_e2e::serve(&data, Stdio::null()).await;
    let client = signed_in(&base, "pilot", "sitl-pilot-pass").await;

    // The field, through the import page.
    let token = csrf(&client, &base, "/fields").await;
    let kml = std::fs::read(real_field()).expect("the field");
    let form = reqwest::multipart::Form::new()
        .text("csrf", token.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(kml).file_name("chofu_paddy.kml"),
        );
    let r = client
        .post(format!("{base}/fields/import"))
        .multipart(form)
        .send()
        .await
        .expect("import");
    assert!(r.status().is_success(), "import: {}", r.status());
    let fields: serde_json::Value = client
        .get(format!("{base}/api/v1/fields"))
        .send()
        .await
        .expect("fields")
        .json()
        .await
        .expect("fields JSON");
    let field = fields[0]["id"].as_i64().expect("a field id");
    let plan_url = post(
        &client,
        format!("{base}/fields/{field}/plan"),
        &[
            ("csrf", &token),
            ("swath_width", "5"),
            ("rate_l_per_10a", "0.8"),
            ("tank_l", "20"),
            ("endurance_min", "15"),
            ("speed_mps", "5"),
            ("height_m", "2"),
            ("headland_passes", "1"),
            ("drift_buffer_m", "5"),
            ("autopilot", "ardupilot"),
        ],
    )
    .await;
    let plan_id: i64 = plan_url
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a plan URL: {plan_url}"));
    let plan_text = client
        .get(format!("{base}/plans/{plan_id}/download/plan"))
        .send()
        .await
        .expect("download")
        .text()
        .await
        .expect("plan");
    let path = std::path::Path::new("web.plan");
    let plan = Plan::from_json(&plan_text, path).expect("the page's .plan");
    let sortie = plan.sortie(1, path).expect("sortie 1");
    let home = sortie.home.expect("home");
    let origin = (home.0, home.1);
    let region = fence_region(&sortie, origin);

    // The drone, in real time (speed-up 1: latencies are the vehicle's).
    let sitl = start_sitl(&bin, home, 1).await;
    let (link, vehicle) = observer(&sitl).await;
    configure_sprayer(&link, vehicle.target()).await;
    stream_reports(&vehicle).await;
    wait_ready_to_arm(&link, &sitl).await;
    post(
        &client,
        format!("{base}/vehicles"),
        &[
            ("csrf", &token),
            ("registration_no", "JU0123456789"),
            ("name", "散布機1号"),
            ("autopilot", "ardupilot"),
            (
                "link_address",
                &format!("tcpout:127.0.0.1:{}", sitl.gcs_port),
            ),
            ("registration_expiry", "2099-12-31"),
            ("pump_servo", "9"),
        ],
    )
    .await;
    let vehicles: serde_json::Value = client
        .get(format!("{base}/api/v1/vehicles"))
        .send()
        .await
        .expect("vehicles")
        .json()
        .await
        .expect("vehicles JSON");
    let vid = vehicles[0]["id"]
        .as_i64()
        .expect("a vehicle id")
        .to_string();
    post(
        &client,
        format!("{base}/pilots/{user}"),
        &[
            ("csrf", &token),
            ("licence_no", "L-123"),
            ("licence_expiry", "2099-01-01"),
            ("permit_no", "P-456"),
            ("permit_expiry", "2099-01-01"),
        ],
    )
    .await;
    let launch_form = [
        ("csrf", token.as_str()),
        ("action", "launch"),
        ("vehicle", vid.as_str()),
        ("sortie", "1"),
        ("wind_mps", "0.5"),
        ("height_m", "2"),
        ("enable_fence", "on"),
    ];
    let state = live(link.port());

    // Launch, start, abort after 10 s of spraying: long enough that the record's area is
    // judged at 2 % of more than the pump's first few metres (after 3 s, 21 m² were sprayed,
    // and one position report's travel was already 4 % of that).
    let (stop, watcher) = watch(link.port(), origin);
    let first = launch_and_start(&client, &base, plan_id, &launch_form).await;
    until_pumping(
        &state,
        Duration::from_secs(10),
        Duration::from_secs(300),
        "web flight",
    )
    .await;
    let aborted_at = Instant::now();
    post(
        &client,
        format!("{base}/flights/{first}/abort"),
        &[("csrf", &token)],
    )
    .await;
    let row1 = until_status(
        &client,
        &base,
        first,
        &["aborted", "completed", "failed"],
        Duration::from_secs(300),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(());
    let seen1 = watcher.await.expect("observer");
    assert_eq!(row1["status"], "aborted", "{row1}");
    let (_, latency) = pump_off_after(&seen1.samples, aborted_at).expect("pump off after abort");
    eprintln!(
        "web abort: pump off {:.0} ms after the request",
        latency.as_secs_f64() * 1e3
    );
    assert!(
        latency <= PUMP_OFF_WITHIN,
        "abort: pump off after {latency:?}"
    );
    assert!(
        seen1.samples.iter().any(|s| s.mode == MODE_RTL),
        "abort did not return to launch"
    );
    let last = seen1.samples.last().expect("reports");
    assert!(!last.armed && last.rel_alt_m < 0.5, "not landed: {last:?}");

    // Launch again: the page resumes after the last item reached.
    let page = client
        .get(format!("{base}/plans/{plan_id}/launch"))
        .send()
        .await
        .expect("launch page")
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("start-resume"),
        "the launch page offers no resume"
    );
    let (stop, watcher) = watch(link.port(), origin);
    let second = launch_and_start(&client, &base, plan_id, &launch_form).await;
    let row2 = until_status(
        &client,
        &base,
        second,
        &["completed", "aborted", "failed"],
        Duration::from_secs(900),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(());
    let seen2 = watcher.await.expect("observer");
    assert_eq!(row2["status"], "completed", "{row2}");

    // Fence, spray legs and records, from the vehicle's own positions.
    let refs1: Vec<&Sample> = seen1.samples.iter().collect();
    let refs2: Vec<&Sample> = seen2.samples.iter().collect();
    for (name, seen) in [("aborted", &seen1), ("resumed", &seen2)] {
        let (outside, worst) = outside_fence(&seen.samples, &region, origin);
        assert_eq!(
            outside, 0,
            "{name} flight: positions outside the fence, worst {worst:.2} m"
        );
    }
    let (planned, sprayed) =
        sprayed_length_of_flights(&sortie.spray_legs(), &[&refs1, &refs2], origin);
    eprintln!(
        "web flights together: pump on along {sprayed:.1} of {planned:.1} m ({:.2} %)",
        100.0 * sprayed / planned
    );
    assert!(
        sprayed >= 0.98 * planned,
        "the two flights pumped along only {sprayed:.1} of {planned:.1} m"
    );
    // Both flights' records first, then the verdicts, so a failure shows both.
    let mut areas = Vec::new();
    for (id, refs) in [(first, &refs1), (second, &refs2)] {
        let row = flight(&client, &base, id).await;
        let recorded = row["sprayed_area_m2"]
            .as_f64()
            .unwrap_or_else(|| panic!("flight {id} has no sprayed area: {row}"));
        // The pump switches between two 5 Hz reports: the vehicle's own positions bound the
        // sprayed area from below (segments pumping at both ends) and above (at either end);
        // the record is judged against the switch at the segment's middle, as it counts it.
        let lower = sprayed_area(refs, origin, SWATH_M, PumpSwitch::Excluded);
        let upper = sprayed_area(refs, origin, SWATH_M, PumpSwitch::Whole);
        let measured = sprayed_area(refs, origin, SWATH_M, PumpSwitch::Midpoint);
        eprintln!(
            "flight {id}: recorded {recorded:.1} m², from the vehicle's positions {measured:.1} m² ({:+.2} %; bounds {lower:.1}–{upper:.1} m²)",
            100.0 * (recorded - measured) / measured
        );
        let record = client
            .get(format!("{base}/flights/{id}/record"))
            .send()
            .await
            .expect("record page")
            .text()
            .await
            .expect("record");
        let shown = format!("{}", recorded.round() as i64);
        assert!(
            record.contains(&shown),
            "the record of flight {id} does not show {shown} m²"
        );
        areas.push((id, recorded, measured));
    }
    for (id, recorded, measured) in areas {
        assert!(
            (recorded - measured).abs() <= 0.02 * measured,
            "flight {id}: recorded {recorded:.1} m² against {measured:.1} m² measured"
        );
    }
    link.close().await;
    drop(sitl);
}
