//! `agriops demo` end to end: the binary's own parlor simulators are polled over Modbus by a
//! real bridge that forwards to the server's ingest API; the dairy pages must show milkings.
//! Needs nothing from `../shared`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agriops_e2e::{KillOnDrop, agriops, free_tcp_port, signed_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_parlors_reach_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let _demo = KillOnDrop(
        Command::new(agriops())
            .args([
                "demo",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--speedup",
                "20",
                "--tile-url",
                "",
            ])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start agriops demo"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the demo server did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let client = signed_in(&base, "dairy", "demo-dairy").await;

    // Milkings flow: simulator → Modbus → bridge → outbox → HTTP ingest → roll-ups → API.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let parlors: serde_json::Value = client
            .get(format!("{base}/api/v1/parlors"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let list = parlors.as_array().expect("a list of parlors");
        let cows: f64 = list.iter().filter_map(|p| p["cows_today"].as_f64()).sum();
        if list.len() == 2 && cows > 0.0 && list.iter().all(|p| p["online"] == true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no milkings reached the dashboard: {parlors}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The demo farmer sees the sample fields and the seeded plan.
    let farmer = signed_in(&base, "farmer", "demo-farmer").await;
    let fields: serde_json::Value = farmer
        .get(format!("{base}/api/v1/fields"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(fields.as_array().is_some_and(|f| !f.is_empty()), "{fields}");
}
