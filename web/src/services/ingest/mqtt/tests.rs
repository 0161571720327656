//! Against the real Mosquitto on 127.0.0.1:1883, each test under its own topic prefix and
//! client ids. The tests publish nothing retained; each removes its persistent session.

use std::time::Duration;

use chrono::{DateTime, Utc};
use parlor_bridge::wire::{MilkingEvent, Record};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};

use super::*;
use crate::testutil::{TestApp, both_apps};

const FARM: &str = "田中牧場";

/// A topic prefix and client id no other test or run shares.
fn unique(tag: &str) -> String {
    format!(
        "agriops-test-{tag}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

fn milking(farm: &str, seq: u64) -> Record {
    Record::Milking(MilkingEvent {
        key: format!("east/3/0/{seq}"),
        parlor: "east".into(),
        farm: farm.into(),
        unit: 1,
        bail: 3,
        epoch: 0,
        seq,
        t: Utc::now() - chrono::Duration::hours(1) + chrono::Duration::seconds(seq as i64),
        controller_t: None,
        cow_id: 1_234,
        yield_kg: 11.5,
        duration_s: Some(400.0),
        conductivity_ms_cm: Some(5.1),
        high_conductivity: false,
        missed_before: 0,
    })
}

fn milking_topic(prefix: &str, farm: &str) -> String {
    parlor_bridge::mqtt::topic(prefix, farm, "east", "milking")
}

/// Publishes each message with QoS 1 and returns once the broker acknowledged all of them.
async fn publish(id: &str, msgs: &[(String, Vec<u8>)]) {
    let mut o = MqttOptions::new(format!("{id}-pub"), "127.0.0.1", 1883);
    o.set_clean_session(true);
    let (client, mut el) = AsyncClient::new(o, 64);
    for (topic, payload) in msgs {
        client
            .publish(topic, QoS::AtLeastOnce, false, payload.clone())
            .await
            .expect("queue a publish");
    }
    let mut acked = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while acked < msgs.len() {
            if let Event::Incoming(Packet::PubAck(_)) = el.poll().await.expect("broker") {
                acked += 1;
            }
        }
    })
    .await
    .expect("the broker acknowledges every publish");
    client.disconnect().await.expect("disconnect");
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match el.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// Removes the broker's persistent session of `client_id`.
async fn forget_session(client_id: &str) {
    let mut o = MqttOptions::new(client_id, "127.0.0.1", 1883);
    o.set_clean_session(true);
    let (client, mut el) = AsyncClient::new(o, 8);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.disconnect().await;
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

fn json(r: &Record) -> Vec<u8> {
    serde_json::to_vec(r).unwrap()
}

async fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn token_for(app: &TestApp, farm_id: i64) -> (i64, String) {
    let token = crate::services::credentials::new_token();
    let id = app
        .state
        .db
        .create_bridge_token(farm_id, "mqtt", &token_hash(&token))
        .await
        .unwrap();
    (id, token)
}

fn source(prefix: &str, client_id: &str, token: &str) -> SourceConfig {
    let text = format!(
        "[[source]]\nbroker = \"mqtt://127.0.0.1:1883\"\nfarm = \"{FARM}\"\ntoken = \"{token}\"\n\
         topic_prefix = \"{prefix}\"\nclient_id = \"{client_id}\"\n"
    );
    MqttIngestConfig::parse(&text).unwrap().source.remove(0)
}

async fn milkings_of(app: &TestApp, farm_id: i64) -> usize {
    let mut n = 0;
    for p in app.state.db.parlors_of_farm(farm_id).await.unwrap() {
        n += app
            .state
            .db
            .milkings(
                p.id,
                DateTime::from_timestamp(0, 0).unwrap(),
                DateTime::from_timestamp(4_000_000_000, 0).unwrap(),
            )
            .await
            .unwrap()
            .len();
    }
    n
}

both_apps!(records_arrive_once_and_others_are_refused, |app| {
    let farm = app.farm("dairy-mqtt", "dairy").await;
    let other = app.farm("dairy-other", "dairy").await;
    let (_, token) = token_for(app, farm.id).await;
    let prefix = unique("once");
    let id = format!("{prefix}-server");
    let mut sub = start(app.state.ingest(), source(&prefix, &id, &token))
        .await
        .unwrap();
    sub.wait_subscribed().await;
    let st = sub.stats.clone();
    let topic = milking_topic(&prefix, FARM);
    let batch: Vec<_> = (1..=3)
        .map(|s| (topic.clone(), json(&milking(FARM, s))))
        .collect();
    publish(&id, &batch).await;
    wait_for("three stored", || Stats::get(&st.stored) == 3).await;
    assert_eq!(milkings_of(app, farm.id).await, 3);

    // Republishing the same records changes nothing.
    publish(&id, &batch).await;
    wait_for("three duplicates", || Stats::get(&st.duplicates) == 3).await;
    assert_eq!(Stats::get(&st.stored), 3);
    assert_eq!(milkings_of(app, farm.id).await, 3);

    // Another farm's topic, and a record naming another farm on ours: refused.
    let elsewhere = milking_topic(&prefix, "other-farm");
    publish(
        &id,
        &[
            (elsewhere, json(&milking("other-farm", 10))),
            (topic.clone(), json(&milking("other-farm", 11))),
        ],
    )
    .await;
    wait_for("two refused", || Stats::get(&st.refused) == 2).await;

    // Malformed payloads and an impossible value are counted; the subscriber goes on.
    let mut negative = milking(FARM, 12);
    if let Record::Milking(m) = &mut negative {
        m.yield_kg = -4.0;
    }
    let kpi_topic = parlor_bridge::mqtt::topic(&prefix, FARM, "east", "kpi");
    publish(
        &id,
        &[
            (topic.clone(), b"{\"type\":\"milking\",\"key\":".to_vec()),
            (kpi_topic, json(&milking(FARM, 13))),
            (topic.clone(), json(&negative)),
            (
                parlor_bridge::mqtt::topic(&prefix, FARM, "east", "state"),
                b"{\"type\":\"state\"}".to_vec(),
            ),
            (topic.clone(), json(&milking(FARM, 4))),
        ],
    )
    .await;
    wait_for("the fourth stored", || Stats::get(&st.stored) == 4).await;
    assert_eq!(Stats::get(&st.malformed), 2);
    assert_eq!(Stats::get(&st.rejected), 1);
    assert_eq!(Stats::get(&st.ignored), 1);
    assert_eq!(milkings_of(app, farm.id).await, 4);
    assert_eq!(milkings_of(app, other.id).await, 0);
    assert!(
        app.state
            .db
            .parlors_of_farm(other.id)
            .await
            .unwrap()
            .is_empty()
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("agriops_milking_events_total 4"),
        "{metrics}"
    );
    sub.stop().await;
    forget_session(&id).await;
});

both_apps!(unacknowledged_messages_come_back_to_the_session, |app| {
    let farm = app.farm("dairy-mqtt2", "dairy").await;
    let (token_id, token) = token_for(app, farm.id).await;
    let prefix = unique("redeliver");
    let id = format!("{prefix}-server");
    let topic = milking_topic(&prefix, FARM);

    // A revoked token: the source stops without acknowledging, nothing is stored.
    let mut sub = start(app.state.ingest(), source(&prefix, &id, &token))
        .await
        .unwrap();
    sub.wait_subscribed().await;
    app.state.db.revoke_bridge_token(token_id).await.unwrap();
    publish(&id, &[(topic.clone(), json(&milking(FARM, 1)))]).await;
    let mut down = sub.subscribed.clone();
    tokio::time::timeout(Duration::from_secs(10), down.wait_for(|s| !*s))
        .await
        .expect("the source stops")
        .unwrap();
    assert_eq!(Stats::get(&sub.stats.stored), 0);
    sub.stop().await;
    assert_eq!(milkings_of(app, farm.id).await, 0);
    assert!(matches!(
        start(app.state.ingest(), source(&prefix, &id, &token)).await,
        Err(MqttIngestError::Token { .. })
    ));

    // Published while no source runs: the persistent session keeps it too.
    publish(&id, &[(topic.clone(), json(&milking(FARM, 2)))]).await;

    // The same session with a valid token gets both: the unacknowledged and the queued.
    let (_, token2) = token_for(app, farm.id).await;
    let mut sub = start(app.state.ingest(), source(&prefix, &id, &token2))
        .await
        .unwrap();
    let st = sub.stats.clone();
    wait_for("both stored", || Stats::get(&st.stored) == 2).await;
    sub.wait_subscribed().await;
    assert_eq!(milkings_of(app, farm.id).await, 2);
    sub.stop().await;
    forget_session(&id).await;
});

/// Runs one statement on the test database, whichever backend it is.
async fn exec(app: &TestApp, sql: &'static str) {
    match &app.state.db {
        crate::storage::Db::Sqlite(p, _) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
        crate::storage::Db::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
    }
}

both_apps!(a_record_whose_commit_failed_is_delivered_again, |app| {
    let farm = app.farm("dairy-mqtt3", "dairy").await;
    let (_, token) = token_for(app, farm.id).await;
    let prefix = unique("commit");
    let id = format!("{prefix}-server");
    let mut sub = start(app.state.ingest(), source(&prefix, &id, &token))
        .await
        .unwrap();
    sub.wait_subscribed().await;
    let st = sub.stats.clone();
    // The database refuses the insert: the message must stay unacknowledged.
    exec(
        app,
        "ALTER TABLE milking_events RENAME TO milking_events_away",
    )
    .await;
    publish(
        &id,
        &[(milking_topic(&prefix, FARM), json(&milking(FARM, 1)))],
    )
    .await;
    wait_for("the failed store drops the connection", || {
        Stats::get(&st.disconnects) >= 1
    })
    .await;
    assert_eq!(Stats::get(&st.stored), 0);
    exec(
        app,
        "ALTER TABLE milking_events_away RENAME TO milking_events",
    )
    .await;
    // The broker delivers it again on the next connection of the session.
    wait_for("stored after the database is back", || {
        Stats::get(&st.stored) == 1
    })
    .await;
    assert_eq!(milkings_of(app, farm.id).await, 1);
    assert_eq!(Stats::get(&st.duplicates), 0);
    sub.stop().await;
    forget_session(&id).await;
});

#[test]
fn bad_sources_are_refused_in_both_languages() {
    let ok =
        "[[source]]\nbroker = \"mqtt://h:1884\"\nfarm = \"f\"\ntoken = \"t\"\nclient_id = \"c\"\n";
    let cfg = MqttIngestConfig::parse(ok).unwrap();
    assert_eq!(cfg.source[0].host_port().unwrap(), ("h".to_owned(), 1884));
    assert_eq!(cfg.source[0].topic_prefix, "agriops");
    if let Ok(home) = std::env::var("HOME") {
        let from_env =
            MqttIngestConfig::parse(&ok.replace("token = \"t\"", "token_env = \"HOME\"")).unwrap();
        assert_eq!(from_env.source[0].token, home);
    }
    for (bad, needle) in [
        (ok.replace("mqtt://h:1884", "mqtts://h"), "must be mqtt://"),
        (ok.replace("mqtt://h:1884", "mqtt://h:port"), "not a number"),
        (
            ok.replace("farm = \"f\"", "farm = \"a/b\""),
            "one topic level",
        ),
        (ok.replace("farm = \"f\"", "farm = \"+\""), "without + or #"),
        (
            ok.replace("token = \"t\"", "token = \"\""),
            "token is empty",
        ),
        (format!("{ok}{ok}"), "unique"),
        (ok.replace("client_id", "clientid"), "unknown field"),
        (
            ok.replace("token = \"t\"", "token_env = \"AGRIOPS_SURELY_UNSET_7f3a\""),
            "AGRIOPS_SURELY_UNSET_7f3a is not set",
        ),
        (format!("{ok}token_env = \"HOME\"\n"), "not both"),
    ] {
        let e = MqttIngestConfig::parse(&bad).unwrap_err().to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
    let e = MqttIngestConfig::parse(&ok.replace("mqtts", "x").replace("mqtt://h:1884", "ftp://h"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("の形にしてください"), "{e}");
}

#[test]
fn topic_levels_and_batch_keys() {
    assert_eq!(
        levels("a/b", "a/b/f/p/milking"),
        Some(("f", "p", "milking"))
    );
    assert_eq!(levels("a/b", "a/b/f/p"), None);
    assert_eq!(levels("a/b", "a/b/f/p/k/x"), None);
    assert_eq!(levels("a/b", "a/bf/p/k"), None);
    let k = batch_key("milking", "east", "east/3/0/1");
    assert_eq!(k, batch_key("milking", "east", "east/3/0/1"));
    assert_ne!(k, batch_key("milking", "west", "east/3/0/1"));
    assert_ne!(batch_key("a", "bc", "d"), batch_key("ab", "c", "d"));
    assert!(k.len() <= crate::validate::MAX_KEY);
}
