//! The ingest API for parlor bridges: `POST /api/v1/ingest/parlor`, bearer token, idempotent batches.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use parlor_bridge::wire::{IngestAck, IngestBatch};

use crate::error::AppError;
#[allow(unused_imports)]
use crate::http::error::ApiError;
use crate::http::error::AppJson;
use crate::http::state::AppState;
use crate::services::credentials::token_hash;
use crate::services::ingest::validate_batch;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/ingest/parlor", post(ingest))
}

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Stores a batch of bridge records exactly once.
#[utoipa::path(
    post, path = "/api/v1/ingest/parlor", tag = "ingest",
    request_body(content = inline(Object), description = "`parlor_bridge::wire::IngestBatch`: {version, bridge_id, batch_key, records: [{type: milking|interval|gap|session|bails, …}]}; version 1 or 2 (2 adds `bails`, the latest state of every bail)"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Must equal the body's batch_key")),
    responses(
        (status = 200, description = "`IngestAck`: {batch_key, accepted, duplicates}; a replayed batch accepts 0", body = inline(Object)),
        (status = 401, description = "Missing, unknown or revoked bearer token", body = ApiError),
        (status = 422, description = "Malformed body, unknown wire version, a key mismatch or a physically impossible value (named `records[i].field`); nothing of the batch is stored", body = ApiError),
    ),
    security(("bridge_token" = []))
)]
pub(crate) async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(batch): AppJson<IngestBatch>,
) -> Result<axum::Json<IngestAck>, AppError> {
    let token = bearer(&headers).ok_or(AppError::Unauthorized)?;
    let (token_id, farm_id) = state
        .db
        .bridge_token(&token_hash(token))
        .await?
        .ok_or(AppError::Unauthorized)?;
    let lang = crate::http::auth::request_lang(&headers);
    validate_batch(lang, &batch)?;
    if let Some(k) = headers.get("idempotency-key")
        && k.to_str().ok() != Some(batch.batch_key.as_str())
    {
        return Err(AppError::BadInput(
            "Idempotency-Key: must equal the body's batch_key".to_owned(),
        ));
    }
    let out = state
        .ingest()
        .store_batch(token_id, farm_id, &batch)
        .await?;
    Ok(axum::Json(IngestAck {
        batch_key: batch.batch_key,
        accepted: out.accepted,
        duplicates: out.duplicates,
    }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use chrono::DateTime;
    use parlor_bridge::wire::{IngestAck, IngestBatch, MilkingEvent, Record, WIRE_VERSION};

    use crate::testutil::{TestApp, both_apps};

    fn batch(key: &str, seqs: &[u64]) -> IngestBatch {
        IngestBatch {
            version: WIRE_VERSION,
            bridge_id: "bridge-1".into(),
            batch_key: key.into(),
            records: seqs
                .iter()
                .map(|&seq| {
                    Record::Milking(MilkingEvent {
                        key: format!("east/3/0/{seq}"),
                        parlor: "east".into(),
                        farm: "f".into(),
                        unit: 1,
                        bail: 3,
                        epoch: 0,
                        seq,
                        t: DateTime::from_timestamp(1_764_000_000 + seq as i64 * 600, 0).unwrap(),
                        controller_t: None,
                        cow_id: 9_876_543_210,
                        yield_kg: 12.25,
                        duration_s: Some(390.0),
                        conductivity_ms_cm: Some(5.0),
                        high_conductivity: false,
                        missed_before: 0,
                    })
                })
                .collect(),
        }
    }

    async fn post(
        app: &TestApp,
        token: &str,
        body: String,
        idem: Option<&str>,
    ) -> crate::testutil::Resp {
        let mut req = Request::post("/api/v1/ingest/parlor")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT_LANGUAGE, "en");
        if !token.is_empty() {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        app.send(req.body(Body::from(body)).unwrap()).await
    }

    async fn token_for(app: &TestApp, farm_id: i64) -> String {
        let token = crate::services::credentials::new_token();
        app.state
            .db
            .create_bridge_token(
                farm_id,
                "b",
                &crate::services::credentials::token_hash(&token),
            )
            .await
            .unwrap();
        token
    }

    both_apps!(
        nul_names_and_overlong_keys_are_a_422_on_both_backends,
        |app| {
            let farm = app.farm("dairy-nul", "dairy").await;
            let token = token_for(app, farm.id).await;
            let mut nul = batch("k-nul", &[1]);
            let Record::Milking(m) = &mut nul.records[0] else {
                unreachable!()
            };
            m.parlor = "rotary\0-1".into();
            let r = post(app, &token, serde_json::to_string(&nul).unwrap(), None).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(
                r.body
                    .contains("records[0].parlor: must not contain control characters"),
                "{}",
                r.body
            );
            let mut long = batch("k-long", &[1]);
            let Record::Milking(m) = &mut long.records[0] else {
                unreachable!()
            };
            m.key = "k".repeat(2_800);
            let r = post(app, &token, serde_json::to_string(&long).unwrap(), None).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body.contains("records[0].key: too long"), "{}", r.body);
            let long_batch = batch(&"b".repeat(2_800), &[1]);
            let r = post(
                app,
                &token,
                serde_json::to_string(&long_batch).unwrap(),
                None,
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(r.body.contains("batch_key: too long"), "{}", r.body);
            assert!(
                app.state
                    .db
                    .parlors_of_farm(farm.id)
                    .await
                    .unwrap()
                    .is_empty()
            );
            // Refused batches left nothing behind: the same keys, cleaned, are fresh.
            let r = post(
                app,
                &token,
                serde_json::to_string(&batch("k-nul", &[1])).unwrap(),
                None,
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let ack: IngestAck = serde_json::from_str(&r.body).unwrap();
            assert_eq!(ack.accepted, 1);
        }
    );

    both_apps!(
        impossible_values_are_a_named_422_and_nothing_is_stored,
        |app| {
            use crate::services::plausible::tests::{gap, interval, session};
            use parlor_bridge::wire::KpiInterval;
            let farm = app.farm("dairy-odd", "dairy").await;
            let token = token_for(app, farm.id).await;
            let now = chrono::Utc::now();
            let h = |n: i64| now - chrono::Duration::hours(n);
            let mut bad = batch("k-neg", &[1, 2]);
            let Record::Milking(m) = &mut bad.records[1] else {
                unreachable!()
            };
            m.yield_kg = -3.5;
            let r = post(app, &token, serde_json::to_string(&bad).unwrap(), None).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert!(
                r.body
                    .contains("records[1].yield_kg: is physically impossible"),
                "{}",
                r.body
            );
            let mut huge = batch("k-huge", &[1]);
            let Record::Milking(m) = &mut huge.records[0] else {
                unreachable!()
            };
            m.yield_kg = 1e300;
            let r = post(app, &token, serde_json::to_string(&huge).unwrap(), None).await;
            assert!(r.body.contains("records[0].yield_kg"), "{}", r.body);
            let year =
                |y| chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, y, 1, 1, 0, 0, 0).unwrap();
            for (rec, field) in [
                (Record::Gap(gap(year(1), year(9999))), "records[0].start"),
                (Record::Interval(interval(h(0), h(1))), "records[0].end"),
                (Record::Session(session(h(0), h(2))), "records[0].end"),
                (
                    Record::Interval(KpiInterval {
                        milk_temp_c: Some(1e9),
                        ..interval(h(1), h(0))
                    }),
                    "records[0].milk_temp_c",
                ),
                (
                    Record::Interval(KpiInterval {
                        alarms: vec!["vacuum\0low".into()],
                        ..interval(h(1), h(0))
                    }),
                    "records[0].alarms[0]",
                ),
                (
                    Record::Interval(KpiInterval {
                        alarms: vec!["a".into(); 33],
                        ..interval(h(1), h(0))
                    }),
                    "records[0].alarms: at most 32",
                ),
            ] {
                let mut b = batch(&format!("k-{field}"), &[]);
                b.records.push(rec);
                let r = post(app, &token, serde_json::to_string(&b).unwrap(), None).await;
                assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
                assert!(r.body.contains(field), "{field}: {}", r.body);
            }
            assert!(
                app.state
                    .db
                    .parlors_of_farm(farm.id)
                    .await
                    .unwrap()
                    .is_empty(),
                "a refused batch stores none of its records"
            );
            // A normal batch, odd values included (a 60 kg milking, a week offline), is taken whole.
            let mut good = batch("k-good", &[1, 2]);
            let Record::Milking(m) = &mut good.records[1] else {
                unreachable!()
            };
            m.yield_kg = 60.0;
            good.records.push(Record::Gap(gap(h(24 * 7), h(1))));
            good.records.push(Record::Interval(interval(h(1), h(0))));
            good.records.push(Record::Session(session(h(2), h(0))));
            let r = post(app, &token, serde_json::to_string(&good).unwrap(), None).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let ack: IngestAck = serde_json::from_str(&r.body).unwrap();
            assert_eq!(ack.accepted, 5);
        }
    );

    both_apps!(batches_are_idempotent, |app| {
        let farm = app.farm("dairy-1", "dairy").await;
        let token = token_for(app, farm.id).await;
        let b = serde_json::to_string(&batch("k1", &[1, 2, 3])).unwrap();
        let r = post(app, &token, b.clone(), Some("k1")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let ack: IngestAck = serde_json::from_str(&r.body).unwrap();
        assert_eq!((ack.accepted, ack.duplicates), (3, 0));
        // A retry of the same batch stores nothing new.
        let r = post(app, &token, b, Some("k1")).await;
        let ack: IngestAck = serde_json::from_str(&r.body).unwrap();
        assert_eq!((ack.accepted, ack.duplicates), (0, 3));
        // A later batch overlapping the first stores only the new milking.
        let r = post(
            app,
            &token,
            serde_json::to_string(&batch("k2", &[3, 4])).unwrap(),
            None,
        )
        .await;
        let ack: IngestAck = serde_json::from_str(&r.body).unwrap();
        assert_eq!((ack.accepted, ack.duplicates), (1, 1));
        let parlors = app.state.db.parlors_of_farm(farm.id).await.unwrap();
        assert_eq!(parlors.len(), 1);
        let all = app
            .state
            .db
            .milkings(
                parlors[0].id,
                DateTime::from_timestamp(0, 0).unwrap(),
                DateTime::from_timestamp(2_000_000_000, 0).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|m| m.cow() == 9_876_543_210));
        let metrics = app.metrics().await;
        assert!(
            metrics.contains("agriops_ingest_replays_total 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("agriops_milking_events_total 4"),
            "{metrics}"
        );
    });

    both_apps!(bad_tokens_and_bodies_are_4xx, |app| {
        let farm = app.farm("dairy-2", "dairy").await;
        let token = token_for(app, farm.id).await;
        let good = serde_json::to_string(&batch("k", &[1])).unwrap();
        assert_eq!(
            post(app, "", good.clone(), None).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            post(app, "not-a-token", good.clone(), None).await.status,
            StatusCode::UNAUTHORIZED
        );
        let r = post(app, &token, good.clone(), Some("other-key")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("Idempotency-Key"), "{}", r.body);
        let r = post(app, &token, "{\"version\":1,\"records\":[".into(), None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"], "Some input is not valid.");
        let mut future = batch("k9", &[1]);
        future.version = WIRE_VERSION + 1;
        let r = post(app, &token, serde_json::to_string(&future).unwrap(), None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("version"), "{}", r.body);
        // Nothing of the refused requests was stored.
        assert!(
            app.state
                .db
                .parlors_of_farm(farm.id)
                .await
                .unwrap()
                .is_empty()
        );
    });
}
