//! What the alert rules read besides the KPI intervals: milkings with their conductivity, the
//! bridges' last batches, the flights' ends and failsafes, unsigned records, and whether a
//! parlor reported on a day. Every query is scoped to one farm or one parlor of it.

use chrono::{DateTime, Utc};

use super::{Db, StorageError, on_exec};

/// How many earlier milkings of the same cow (or bail) make her "recent level".
pub const CONDUCTIVITY_HISTORY: i64 = 10;

/// One milking with a conductivity reading.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MilkingFact {
    /// When it completed.
    pub t: DateTime<Utc>,
    /// The bail.
    pub bail: i64,
    /// The cow, 0 when the parlor did not identify her.
    pub cow_id: i64,
    /// mS/cm.
    pub conductivity: f64,
}

/// The last batch a bridge of the farm delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeFact {
    /// The bridge token.
    pub token_id: i64,
    /// Its name.
    pub name: String,
    /// When its newest batch arrived.
    pub last_seen: DateTime<Utc>,
}

/// A flight that ended, with what its logbook draft says of failsafes.
#[derive(Debug, Clone, PartialEq)]
pub struct FlightEventFact {
    /// The flight.
    pub flight_id: i64,
    /// Its field's name (empty without one).
    pub field: String,
    /// `completed`, `aborted`, `failed`, …
    pub status: String,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
    /// The failsafes its newest logbook version lists.
    pub failsafes: Vec<telemetry::FailsafeKind>,
}

/// The newest version of a spray record, unsigned.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsignedRecordFact {
    /// The flight it records.
    pub flight_id: i64,
    /// Its place (field name or address).
    pub place: String,
    /// When that version was made.
    pub created_at: DateTime<Utc>,
}

/// The part of a stored logbook draft (`telemetry::LogbookDraft`) the alerts read.
#[derive(Debug, Default, serde::Deserialize)]
struct Events {
    #[serde(default)]
    failsafes: Vec<telemetry::LogEvent>,
}

/// A flight as stored, before its logbook is parsed.
type FlightTuple = (i64, Option<String>, String, DateTime<Utc>, Option<String>);

impl Db {
    /// A parlor's milkings with a conductivity reading since `since`: for every cow (every bail
    /// for unidentified cows) her newest [`CONDUCTIVITY_HISTORY`] + 1, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn recent_milking_facts(
        &self,
        parlor_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<MilkingFact>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, MilkingFact>(
            "SELECT t, bail, cow_id, conductivity FROM (\
               SELECT t, CAST(bail AS BIGINT) AS bail, cow_id, conductivity, ROW_NUMBER() OVER (\
                 PARTITION BY CASE WHEN cow_id = 0 THEN -1 - bail ELSE cow_id END \
                 ORDER BY t DESC, id DESC) AS rn \
               FROM milking_events WHERE parlor_id = $1 AND t >= $2 \
                 AND conductivity IS NOT NULL) AS m \
             WHERE rn <= $3 ORDER BY t DESC")
            .bind(parlor_id).bind(since).bind(CONDUCTIVITY_HISTORY + 1).fetch_all(e).await?))
    }

    /// The farm's bridges that are not revoked and have delivered at least one batch.
    ///
    /// # Errors
    /// The database failed.
    pub async fn bridge_facts(&self, farm_id: i64) -> Result<Vec<BridgeFact>, StorageError> {
        let rows = on_exec!(self.on(), e => sqlx::query_as::<_, (i64, String, DateTime<Utc>)>(
            "SELECT t.id, t.name, b.received_at FROM bridge_tokens t \
             JOIN ingest_batches b ON b.token_id = t.id \
             WHERE t.farm_id = $1 AND t.revoked_at IS NULL \
               AND b.received_at = (SELECT MAX(received_at) FROM ingest_batches \
                                    WHERE token_id = t.id) \
             ORDER BY t.id")
            .bind(farm_id).fetch_all(e).await?);
        let mut out: Vec<BridgeFact> = Vec::new();
        for (token_id, name, last_seen) in rows {
            // Two batches in the same instant: one fact.
            if out.last().is_some_and(|b| b.token_id == token_id) {
                continue;
            }
            out.push(BridgeFact {
                token_id,
                name,
                last_seen,
            });
        }
        Ok(out)
    }

    /// The farm's flights that ended at or after `since`, with their newest logbook's failsafes.
    ///
    /// # Errors
    /// The database failed.
    pub async fn flight_event_facts(
        &self,
        farm_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<FlightEventFact>, StorageError> {
        let rows = on_exec!(self.on(), e => sqlx::query_as::<_, FlightTuple>(
            "SELECT f.id, fi.name, f.status, f.ended_at, l.events_json FROM flights f \
             LEFT JOIN fields fi ON fi.id = f.field_id AND fi.farm_id = f.farm_id \
             LEFT JOIN flight_logbooks l ON l.flight_id = f.id AND l.farm_id = f.farm_id \
               AND l.version = (SELECT MAX(version) FROM flight_logbooks WHERE flight_id = f.id) \
             WHERE f.farm_id = $1 AND f.ended_at IS NOT NULL AND f.ended_at >= $2 \
             ORDER BY f.id")
            .bind(farm_id).bind(since).fetch_all(e).await?);
        Ok(rows
            .into_iter()
            .map(|(flight_id, field, status, ended_at, events)| {
                let draft: Events = events
                    .and_then(|j| serde_json::from_str(&j).ok())
                    .unwrap_or_default();
                FlightEventFact {
                    flight_id,
                    field: field.unwrap_or_default(),
                    status,
                    ended_at,
                    failsafes: draft.failsafes.iter().filter_map(|f| f.failsafe).collect(),
                }
            })
            .collect())
    }

    /// The farm's spray records whose newest version is unsigned.
    ///
    /// # Errors
    /// The database failed.
    pub async fn unsigned_record_facts(
        &self,
        farm_id: i64,
    ) -> Result<Vec<UnsignedRecordFact>, StorageError> {
        let rows = on_exec!(self.on(), e => sqlx::query_as::<_, (i64, String, DateTime<Utc>)>(
            "SELECT r.flight_id, r.place, r.created_at FROM spray_records r \
             WHERE r.farm_id = $1 AND r.signed_at IS NULL \
               AND r.version = (SELECT MAX(version) FROM spray_records WHERE flight_id = r.flight_id) \
             ORDER BY r.flight_id")
            .bind(farm_id).fetch_all(e).await?);
        Ok(rows
            .into_iter()
            .map(|(flight_id, place, created_at)| UnsignedRecordFact {
                flight_id,
                place,
                created_at,
            })
            .collect())
    }

    /// When a parlor's first interval started (`None`: it never reported), and how many of its
    /// intervals start within `[from, to)`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn parlor_day_fact(
        &self,
        parlor_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Option<DateTime<Utc>>, i64), StorageError> {
        let first = on_exec!(self.on(), e => sqlx::query_scalar::<_, DateTime<Utc>>(
            "SELECT start_t FROM parlor_intervals WHERE parlor_id = $1 ORDER BY start_t LIMIT 1")
            .bind(parlor_id).fetch_optional(e).await?);
        let n = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM parlor_intervals \
             WHERE parlor_id = $1 AND start_t >= $2 AND start_t < $3")
            .bind(parlor_id).bind(from).bind(to).fetch_one(e).await?);
        Ok((first, n))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use parlor_bridge::wire::{IngestBatch, KpiInterval, MilkingEvent, Record, WIRE_VERSION};

    use super::super::testdb::both_backends;
    use super::super::{RuleKind, Tx};
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    fn milking(seq: u64, bail: u16, cow: u64, c: f64, at: i64) -> Record {
        Record::Milking(MilkingEvent {
            key: format!("p1/{bail}/0/{seq}"),
            parlor: "p1".into(),
            farm: "f".into(),
            unit: 1,
            bail,
            epoch: 0,
            seq,
            t: t0() + Duration::minutes(at),
            controller_t: None,
            cow_id: cow,
            yield_kg: 12.0,
            duration_s: Some(400.0),
            conductivity_ms_cm: Some(c),
            high_conductivity: false,
            missed_before: 0,
        })
    }

    fn interval(at: i64, temp: Option<f64>, alarms: &[&str]) -> Record {
        Record::Interval(KpiInterval {
            key: format!("p1/{at}"),
            parlor: "p1".into(),
            farm: "f".into(),
            unit: 1,
            start: t0() + Duration::minutes(at),
            end: t0() + Duration::minutes(at + 1),
            online_s: 60.0,
            cows: 5.0,
            kg: 60.0,
            cows_per_hour: 300.0,
            kg_per_hour: 3600.0,
            cows_per_hour_rolling: 300.0,
            milkings: 5,
            rotation_s: None,
            occupancy: None,
            idle_bails: 0.0,
            kickoffs: 0.0,
            reattaches: 0.0,
            stops: 0.0,
            washes: 0,
            high_conductivity_alerts: 0,
            state: "running".into(),
            milk_temp_c: temp,
            alarms: alarms.iter().map(|a| (*a).to_owned()).collect(),
        })
    }

    async fn ingest(db: &Db, tok: i64, farm: i64, key: &str, records: Vec<Record>) {
        let b = IngestBatch {
            version: WIRE_VERSION,
            bridge_id: "b1".into(),
            batch_key: key.into(),
            records,
        };
        db.ingest_batch(tok, farm, &b).await.unwrap();
    }

    both_backends!(every_rule_kind_can_be_stored, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "f", "dairy", "").await.unwrap();
        for k in RuleKind::ALL {
            db.create_alert_rule_range(farm.id, k, None, 10_080, Some(30.0), Some(38.0))
                .await
                .unwrap_or_else(|e| panic!("{k:?}: {e}"));
        }
        let kinds: Vec<_> = db
            .enabled_alert_rules()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.kind, r.threshold_low, r.threshold))
            .collect();
        assert_eq!(kinds.len(), RuleKind::ALL.len());
        assert!(kinds.iter().all(|k| k.1 == Some(30.0) && k.2 == Some(38.0)));
        // A range upside down, or a window over 30 days, is refused.
        for (lo, hi, min) in [(40.0, 38.0, 10), (30.0, 38.0, 43_201)] {
            let e = db
                .create_alert_rule_range(
                    farm.id,
                    RuleKind::MilkTemperature,
                    None,
                    min,
                    Some(lo),
                    Some(hi),
                )
                .await
                .unwrap_err();
            assert!(matches!(e, StorageError::Conflict { .. }), "{e}");
        }
    });

    both_backends!(
        intervals_keep_temperature_and_alarms_and_bridges_their_last_batch,
        |db| {
            let d = db.districts().await.unwrap();
            let farm = db.create_farm(d[0].id, "f", "dairy", "").await.unwrap();
            let other = db.create_farm(d[0].id, "g", "dairy", "").await.unwrap();
            let tok = db.create_bridge_token(farm.id, "牛舎", "h1").await.unwrap();
            db.create_bridge_token(other.id, "silent", "h2")
                .await
                .unwrap();
            ingest(db, tok, farm.id, "k1", vec![interval(0, Some(35.5), &[])]).await;
            ingest(
                db,
                tok,
                farm.id,
                "k2",
                vec![interval(1, None, &["vacuum_low", "platform_fault"])],
            )
            .await;
            let p = db.parlors_of_farm(farm.id).await.unwrap()[0].id;
            let got = db.recent_interval_facts(p, t0()).await.unwrap();
            let seen: Vec<_> = got
                .iter()
                .map(|i| (i.milk_temp_c, i.alarms.clone()))
                .collect();
            assert_eq!(
                seen,
                [
                    (
                        None,
                        vec!["vacuum_low".to_owned(), "platform_fault".to_owned()]
                    ),
                    (Some(35.5), vec![])
                ]
            );
            let bridges = db.bridge_facts(farm.id).await.unwrap();
            assert_eq!(bridges.len(), 1, "{bridges:?}");
            assert_eq!(
                (bridges[0].token_id, bridges[0].name.as_str()),
                (tok, "牛舎")
            );
            assert!(Utc::now() - bridges[0].last_seen < Duration::minutes(1));
            // The other farm's bridge never sent: no fact, and not this farm's.
            assert!(db.bridge_facts(other.id).await.unwrap().is_empty());
            let (first, n) = db
                .parlor_day_fact(p, t0(), t0() + Duration::minutes(1))
                .await
                .unwrap();
            assert_eq!((first, n), (Some(t0()), 1));
        }
    );

    both_backends!(
        milking_facts_keep_each_cows_newest_and_bails_for_unknown_cows,
        |db| {
            let d = db.districts().await.unwrap();
            let farm = db.create_farm(d[0].id, "f", "dairy", "").await.unwrap();
            let tok = db.create_bridge_token(farm.id, "b", "h").await.unwrap();
            let mut recs: Vec<Record> = (0..15u64)
                .map(|i| milking(i, (i % 4 + 1) as u16, 42, 5.0 + i as f64, i as i64 * 720))
                .collect();
            recs.extend((0..3u64).map(|i| milking(100 + i, 7, 0, 5.0, i as i64)));
            recs.push(milking(200, 8, 0, 5.0, 1));
            ingest(db, tok, farm.id, "k", recs).await;
            let p = db.parlors_of_farm(farm.id).await.unwrap()[0].id;
            let got = db.recent_milking_facts(p, t0()).await.unwrap();
            let cow: Vec<_> = got.iter().filter(|m| m.cow_id == 42).collect();
            assert_eq!(cow.len(), CONDUCTIVITY_HISTORY as usize + 1);
            assert_eq!(cow[0].conductivity, 19.0, "newest first");
            assert_eq!(
                got.iter().filter(|m| m.cow_id == 0 && m.bail == 7).count(),
                3
            );
            assert_eq!(
                got.iter().filter(|m| m.cow_id == 0 && m.bail == 8).count(),
                1
            );
            // `since` bounds it.
            let late = db
                .recent_milking_facts(p, t0() + Duration::minutes(13 * 720))
                .await
                .unwrap();
            assert_eq!(late.len(), 2);
        }
    );

    /// A flight of the farm ended at `end` with `status`, and a logbook listing `failsafes`.
    async fn flight(tx: &mut Tx, farm: i64, status: &str, end: DateTime<Utc>, fs: &str) -> i64 {
        let id = on_exec!(tx.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO flights (farm_id, status, started_at, ended_at, created_at) \
             VALUES ($1, $2, $3, $3, $3) RETURNING id")
            .bind(farm).bind(status).bind(end).fetch_one(e).await.unwrap());
        let json = format!("{{\"failsafes\":[{fs}]}}");
        on_exec!(tx.on(), e => sqlx::query(
            "INSERT INTO flight_logbooks (flight_id, version, farm_id, flown_on, events_json, created_at) \
             VALUES ($1, 1, $2, '2026-05-01', $3, $4)")
            .bind(id).bind(farm).bind(json).bind(end).execute(e).await.map(|r| r.rows_affected())
            .unwrap());
        id
    }

    both_backends!(flights_and_records_are_read_per_farm, |db| {
        let d = db.districts().await.unwrap();
        let farm = db.create_farm(d[0].id, "f", "crop", "").await.unwrap().id;
        let other = db.create_farm(d[0].id, "g", "crop", "").await.unwrap().id;
        let ev = |kind: &str| {
            format!("{{\"time_us\":1,\"severity\":\"\",\"text\":\"x\",\"failsafe\":\"{kind}\"}}")
        };
        let mut tx = db.begin().await.unwrap();
        let lost = flight(&mut tx, farm, "completed", t0(), &ev("link_loss")).await;
        let old = flight(&mut tx, farm, "aborted", t0() - Duration::days(3), "").await;
        flight(&mut tx, other, "aborted", t0(), &ev("battery")).await;
        for (flight, version, signed) in [(lost, 1, true), (lost, 2, false), (old, 1, true)] {
            on_exec!(tx.on(), e => sqlx::query(
                "INSERT INTO spray_records (flight_id, version, farm_id, sprayed_on, place, \
                 signed_at, created_at) VALUES ($1, $2, $3, '2026-05-01', '北の田', $4, $5)")
                .bind(flight).bind(version).bind(farm).bind(signed.then(t0)).bind(t0())
                .execute(e).await.map(|r| r.rows_affected()).unwrap());
        }
        tx.commit().await.unwrap();
        let got = db
            .flight_event_facts(farm, t0() - Duration::days(1))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            (got[0].flight_id, got[0].status.as_str()),
            (lost, "completed")
        );
        assert_eq!(got[0].failsafes, [telemetry::FailsafeKind::LinkLoss]);
        let all = db
            .flight_event_facts(farm, t0() - Duration::days(5))
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        // Only the amendment of `lost` is unsigned; `old`'s only version is signed.
        let unsigned = db.unsigned_record_facts(farm).await.unwrap();
        assert_eq!(unsigned.len(), 1, "{unsigned:?}");
        assert_eq!(
            (unsigned[0].flight_id, unsigned[0].place.as_str()),
            (lost, "北の田")
        );
        assert!(db.unsigned_record_facts(other).await.unwrap().is_empty());
    });
}
