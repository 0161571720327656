//! A real UDP link on loopback against a raw mavlink connection: vehicle discovery, our GCS
//! heartbeat, link health and lost-link detection, and MAVLink 2 signing (a wrong key hears
//! nothing).

use std::time::Duration;

use telemetry::mavlink::dialects::ardupilotmega::{
    self as apm, MavAutopilot, MavModeFlag, MavState, MavType,
};
use telemetry::mavlink::{self, AsyncMavConnection, MavHeader};
use telemetry::{Error, Link, LinkAddress, LinkConfig, Msg};

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn vehicle_heartbeat() -> Msg {
    Msg::HEARTBEAT(apm::HEARTBEAT_DATA {
        custom_mode: 4,
        mavtype: MavType::MAV_TYPE_QUADROTOR,
        autopilot: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
        base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
        system_status: MavState::MAV_STATE_STANDBY,
        mavlink_version: 3,
    })
}

/// A raw vehicle: sends heartbeats for `for_how_long`, and reports whether it heard a GCS heartbeat.
async fn raw_vehicle(port: u16, key: Option<[u8; 32]>, for_how_long: Duration) -> bool {
    let mut conn = mavlink::connect_async::<Msg>(&format!("udpout:127.0.0.1:{port}"))
        .await
        .unwrap();
    if let Some(k) = key {
        conn.setup_signing(Some(mavlink::SigningConfig::new(k, 1, true, false)));
    }
    let conn = std::sync::Arc::new(conn);
    let header = MavHeader {
        system_id: 1,
        component_id: 1,
        sequence: 0,
    };
    let listener = {
        let conn = conn.clone();
        tokio::spawn(async move {
            loop {
                if let Ok((h, Msg::HEARTBEAT(hb))) = conn.recv().await
                    && hb.mavtype == MavType::MAV_TYPE_GCS
                    && h.system_id == 255
                {
                    return true;
                }
            }
        })
    };
    let start = tokio::time::Instant::now();
    while start.elapsed() < for_how_long {
        conn.send(&header, &vehicle_heartbeat()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let heard = tokio::time::timeout(Duration::from_millis(1500), listener).await;
    matches!(heard, Ok(Ok(true)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_link_finds_the_vehicle_heartbeats_back_and_detects_silence() {
    let port = free_udp_port();
    let mut cfg = LinkConfig::new(LinkAddress::parse(&format!("udpin:127.0.0.1:{port}")).unwrap());
    cfg.heartbeat_period = Duration::from_millis(200);
    let link = Link::connect(&cfg).await.unwrap();
    let vehicle = tokio::spawn(raw_vehicle(port, None, Duration::from_millis(1500)));
    let info = link
        .wait_vehicle(Duration::from_secs(3))
        .await
        .expect("vehicle found");
    assert_eq!((info.target.system, info.target.component), (1, 1));
    assert_eq!(info.autopilot, "ARDUPILOTMEGA");
    assert!(
        vehicle.await.unwrap(),
        "the vehicle heard our GCS heartbeat"
    );
    let h = link.health();
    assert!(h.frames >= 10, "{h:?}");
    assert_eq!(h.lost, 0);
    // The vehicle went quiet when raw_vehicle returned.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(
        link.check_alive(Duration::from_millis(300)),
        Err(Error::LinkLost { .. })
    ));
    link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_link_accepts_the_right_key_and_hears_nothing_with_a_wrong_one() {
    let key = [7u8; 32];
    for (vehicle_key, should_find) in [(Some(key), true), (Some([9u8; 32]), false), (None, false)] {
        let port = free_udp_port();
        let mut cfg =
            LinkConfig::new(LinkAddress::parse(&format!("udpin:127.0.0.1:{port}")).unwrap());
        cfg.signing_key = Some(key);
        cfg.heartbeat_period = Duration::from_millis(200);
        let link = Link::connect(&cfg).await.unwrap();
        let vehicle = tokio::spawn(raw_vehicle(port, vehicle_key, Duration::from_millis(1200)));
        let found = link.wait_vehicle(Duration::from_secs(1)).await;
        assert_eq!(
            found.is_ok(),
            should_find,
            "vehicle key {vehicle_key:?}: {found:?}"
        );
        if !should_find {
            assert!(matches!(found, Err(Error::NoVehicle { .. })));
        }
        let heard = vehicle.await.unwrap();
        if vehicle_key == Some(key) {
            assert!(
                heard,
                "a vehicle with the right key verifies our signed heartbeat"
            );
        }
        link.close().await;
    }
}
