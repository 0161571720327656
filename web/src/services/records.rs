//! Spray records (農薬使用記録) and flight logbooks (飛行日誌): the drafts a flight gets, prefilled
//! from its field, plan and `.tlog`; what a record must state before it may be signed; and the
//! figures a record gives the regional reports.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::AppError;
use crate::i18n::{JST, Lang, Msg};
use crate::storage::{
    Db, FlightRow, LogbookEntry, LogbookFields, RecordFields, SprayRecord, StorageError, Tx,
};

/// What the logbook names as the purpose of a spray flight (MLIT: 物件投下・危険物輸送).
pub const SPRAY_PURPOSE: &str = "農薬散布（物件投下・危険物輸送）";

/// A day as the records write it: `YYYY-MM-DD` in Japan.
pub fn jst_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&JST).format("%Y-%m-%d").to_string()
}

/// The prefilled spray record and logbook entry of a flight (pure: everything is passed in).
pub struct Prefill {
    /// The spray record draft.
    pub record: RecordFields,
    /// The logbook draft.
    pub logbook: LogbookFields,
}

/// Square metres in 10 a (1 a = 100 m²), the unit of Japanese application rates.
const M2_PER_10A: f64 = 1000.0;

/// What a 農薬使用記録 must state before it may be signed, in the order of the form: the items
/// the MAFF/MOE 農薬を使用する者が遵守すべき基準を定める省令 (第9条) asks a user to record —
/// date, place, crop, the pesticide used, the amount per area or the dilution — and the total
/// used, without which the record cannot be checked against the label's maximum.
pub fn missing_for_signing(r: &RecordFields) -> Vec<Msg> {
    let blank = |s: &str| s.trim().is_empty();
    let mut missing = Vec::new();
    if blank(&r.sprayed_on) {
        missing.push(Msg::RecDate);
    }
    if blank(&r.place) && blank(&r.address) {
        missing.push(Msg::RecPlace);
    }
    if blank(&r.crop) {
        missing.push(Msg::RecCrop);
    }
    if blank(&r.pesticide_name) {
        missing.push(Msg::RecPesticide);
    }
    if r.l_per_10a.is_none() && r.dilution.is_none() {
        missing.push(Msg::RecRate);
    }
    if r.litres.is_none() {
        missing.push(Msg::RecLitres);
    }
    missing
}

/// Builds the drafts of `flight` from its field, farm address, plan rate, operator, drone
/// registration and the logbook items derived from its `.tlog`.
pub fn prefill(
    flight: &FlightRow,
    field: Option<&crate::storage::FieldRow>,
    address: &str,
    rate_l_per_10a: Option<f64>,
    operator: &str,
    drone_reg_no: &str,
    draft: &telemetry::LogbookDraft,
) -> Prefill {
    let day = jst_date(flight.started_at.unwrap_or(flight.created_at));
    // The field's own address and 地番 where the farmer gave them, else the farm's address.
    let address = field
        .map(|f| f.address.as_str())
        .filter(|a| !a.is_empty())
        .unwrap_or(address);
    let place_name = field
        .map(|f| {
            if f.chiban.is_empty() {
                f.name.clone()
            } else {
                format!("{} {}", f.name, f.chiban)
            }
        })
        .unwrap_or_default();
    let place = |p: &str| {
        if address.is_empty() {
            p.to_owned()
        } else if p.is_empty() {
            address.to_owned()
        } else {
            format!("{p}（{address}）")
        }
    };
    let at = |fix: Option<telemetry::Fix>| {
        fix.and_then(|f| DateTime::<Utc>::from_timestamp_micros(f.time_us as i64))
    };
    Prefill {
        record: RecordFields {
            sprayed_on: day.clone(),
            place: place_name.clone(),
            fude_polygon_id: field
                .and_then(|f| f.fude_polygon_id.clone())
                .unwrap_or_default(),
            address: address.to_owned(),
            crop: field.map(|f| f.crop.clone()).unwrap_or_default(),
            // The plan's rate, or what the flight's own figures give.
            l_per_10a: rate_l_per_10a.or_else(|| {
                flight
                    .litres
                    .zip(flight.sprayed_area_m2)
                    .filter(|&(_, a)| a > 0.0)
                    .map(|(l, a)| l / (a / M2_PER_10A))
            }),
            // What the vehicle pumped where it reports it, else the plan's rate over the
            // sprayed area (10 a = 1 000 m²).
            litres: flight.litres.or_else(|| {
                rate_l_per_10a
                    .zip(flight.sprayed_area_m2)
                    .map(|(r, a)| r * a / M2_PER_10A)
            }),
            area_m2: flight.sprayed_area_m2,
            operator: operator.to_owned(),
            ..RecordFields::default()
        },
        logbook: LogbookFields {
            flown_on: draft
                .takeoff
                .and_then(|f| at(Some(f)))
                .map(jst_date)
                .unwrap_or(day),
            pilot: operator.to_owned(),
            drone_reg_no: drone_reg_no.to_owned(),
            takeoff_at: at(draft.takeoff),
            takeoff_lat: draft.takeoff.map(|f| f.lat),
            takeoff_lon: draft.takeoff.map(|f| f.lon),
            takeoff_place: place(&place_name),
            landing_at: at(draft.landing),
            landing_lat: draft.landing.map(|f| f.lat),
            landing_lon: draft.landing.map(|f| f.lon),
            landing_place: if draft.landing.is_some() {
                place(&place_name)
            } else {
                String::new()
            },
            flight_s: draft.flight_s,
            purpose: SPRAY_PURPOSE.to_owned(),
            events_json: serde_json::to_string(draft).unwrap_or_else(|_| "{}".into()),
            notes: String::new(),
        },
    }
}

/// What the first drafts of a flight's spray record and logbook entry are made from: read
/// before the transaction that stores them, which then reads nothing else from the pool.
#[derive(Debug, Clone)]
pub struct DraftSource {
    field: Option<crate::storage::FieldRow>,
    farm_address: String,
    rate_l_per_10a: Option<f64>,
    drone_reg_no: String,
    operator: String,
    draft: telemetry::LogbookDraft,
}

impl DraftSource {
    /// Reads the field, farm address, planned rate and drone behind a flight of `farm_id`;
    /// `operator` is who recorded it, `draft` what its `.tlog` says (see [`logbook_draft`]).
    ///
    /// # Errors
    /// The database failed.
    pub async fn read(
        db: &Db,
        farm_id: i64,
        field_id: Option<i64>,
        plan_id: Option<i64>,
        flight_id: Option<i64>,
        operator: &str,
        draft: telemetry::LogbookDraft,
    ) -> Result<DraftSource, AppError> {
        let field = match field_id {
            Some(id) => Some(db.field(id).await?),
            None => None,
        };
        let farm = db.farm(farm_id).await?;
        // A prescription plan has no one rate: the record then takes the flight's own
        // average (its litres, zone by zone, over its sprayed area).
        let rate_l_per_10a = match plan_id {
            Some(p) if db.plan_prescription(p, farm_id).await?.is_none() => {
                let plan = db.plan(p).await?;
                serde_json::from_str::<Value>(&plan.config_json)
                    .ok()
                    .and_then(|c| c["rate_l_per_10a"].as_f64())
            }
            _ => None,
        };
        let drone_reg_no = match flight_id {
            Some(id) => db
                .vehicle_registration_of_flight(id)
                .await?
                .unwrap_or_default(),
            None => String::new(),
        };
        Ok(DraftSource {
            field,
            farm_address: farm.address,
            rate_l_per_10a,
            drone_reg_no,
            operator: operator.to_owned(),
            draft,
        })
    }

    /// Stores the drafts of `flight` in `tx` unless it has them, and feeds the reports.
    ///
    /// # Errors
    /// The database failed, or the record holds a value the reports refuse.
    pub async fn store(&self, tx: &mut Tx, flight: &FlightRow) -> Result<(), AppError> {
        let p = prefill(
            flight,
            self.field.as_ref(),
            &self.farm_address,
            self.rate_l_per_10a,
            &self.operator,
            &self.drone_reg_no,
            &self.draft,
        );
        tx.create_spray_record(flight.id, flight.farm_id, &p.record)
            .await?;
        tx.checkpoint("records.after_spray_record").await?;
        feed_reports(tx, flight).await?;
        tx.create_logbook(flight.id, flight.farm_id, &p.logbook)
            .await?;
        Ok(())
    }
}

/// Takeoff, landing and events of a `.tlog` for its logbook draft (blocking work).
pub fn logbook_draft(tlog: &[u8]) -> telemetry::LogbookDraft {
    telemetry::logbook_draft(&telemetry::parse_tlog(tlog).0)
}

/// The versions of a flight's spray record, drafting them first (by [`draft_records`]) for a
/// flight recorded before records existed (the operator is then left for the farm to fill in).
///
/// # Errors
/// The database failed.
pub async fn record_versions(db: &Db, f: &FlightRow) -> Result<Vec<SprayRecord>, AppError> {
    let mut v = db.spray_record_versions(f.id).await?;
    if v.is_empty() {
        draft_records(db, f, "").await?;
        v = db.spray_record_versions(f.id).await?;
    }
    Ok(v)
}

/// The versions of a flight's logbook entry, drafting them first as [`record_versions`] does.
///
/// # Errors
/// The database failed.
pub async fn logbook_versions(db: &Db, f: &FlightRow) -> Result<Vec<LogbookEntry>, AppError> {
    let mut v = db.logbook_versions(f.id).await?;
    if v.is_empty() {
        draft_records(db, f, "").await?;
        v = db.logbook_versions(f.id).await?;
    }
    Ok(v)
}

/// Stores the first drafts of a flight's spray record and logbook entry unless it has them,
/// in one transaction, from its stored `.tlog` (a flight recorded before records existed).
/// `operator` is who recorded the flight.
///
/// # Errors
/// The database failed.
pub async fn draft_records(db: &Db, flight: &FlightRow, operator: &str) -> Result<(), AppError> {
    let draft = match db.flight_tlog(flight.id).await? {
        Some(bytes) => tokio::task::spawn_blocking(move || logbook_draft(&bytes))
            .await
            .map_err(|e| AppError::Internal(format!("logbook task failed: {e}")))?,
        None => telemetry::LogbookDraft::default(),
    };
    let source = DraftSource::read(
        db,
        flight.farm_id,
        flight.field_id,
        flight.plan_id,
        Some(flight.id),
        operator,
        draft,
    )
    .await?;
    let mut tx = db.begin().await?;
    source.store(&mut tx, flight).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives the regional reports the figures of the flight's newest spray record (area, litres,
/// pesticide), replacing what they counted for the flight before, in `tx`.
///
/// # Errors
/// The database failed, or the record holds a value the reports refuse.
pub async fn feed_reports(tx: &mut Tx, flight: &FlightRow) -> Result<(), AppError> {
    let Some(newest) = tx.spray_record_versions(flight.id).await?.pop() else {
        return Ok(());
    };
    let r = &newest.fields;
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    tx.upsert_flight_fact(&crate::storage::FlightFact {
        flight_id: flight.id,
        farm_id: flight.farm_id,
        flown_at: flight.started_at.unwrap_or(flight.created_at),
        area_m2: r.area_m2.or(flight.sprayed_area_m2).unwrap_or(0.0),
        litres: r.litres.or(flight.litres).unwrap_or(0.0),
        pesticide_name: non_empty(&r.pesticide_name),
        pesticide_reg_no: non_empty(&r.pesticide_reg_no),
    })
    .await?;
    Ok(())
}

/// Decimals people read an area in: whole square metres.
pub const AREA_DECIMALS: usize = 0;

/// Decimals people read a volume in: 0.1 L.
pub const LITRE_DECIMALS: usize = 1;

/// The stored value when the submitted one is that value as the form showed it (rounded to
/// `decimals` for people), so saving an untouched form keeps full precision; otherwise the
/// submission.
pub fn keep_precision(submitted: Option<f64>, stored: Option<f64>, decimals: usize) -> Option<f64> {
    let shown = |v: f64| format!("{v:.decimals$}");
    match (submitted, stored) {
        (Some(s), Some(v)) if shown(v) == shown(s) => Some(v),
        _ => submitted,
    }
}

/// Maps a storage conflict (signed or superseded) to a message in the person's language.
pub fn frozen(lang: Lang) -> impl Fn(StorageError) -> AppError {
    move |e| match e {
        StorageError::Conflict { .. } => AppError::Conflict(Msg::RecFrozen.text(lang).to_owned()),
        other => other.into(),
    }
}

/// Saves `fields` as the draft of flight `flight_id`'s spray record over `version`, keeping the
/// stored litres and area where the submission is them as shown, and gives the reports the
/// new figures, in one transaction.
///
/// # Errors
/// [`AppError::Conflict`] (in `lang`) when the version is signed or superseded; the database
/// failed.
pub async fn save_record(
    db: &Db,
    flight_id: i64,
    version: i64,
    mut fields: RecordFields,
    lang: Lang,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if let Some(before) = tx.spray_record_versions(flight_id).await?.pop() {
        fields.litres = keep_precision(fields.litres, before.fields.litres, LITRE_DECIMALS);
        fields.area_m2 = keep_precision(fields.area_m2, before.fields.area_m2, AREA_DECIMALS);
    }
    tx.update_spray_record(flight_id, version, &fields)
        .await
        .map_err(frozen(lang))?;
    let flight = tx.flight(flight_id).await?;
    feed_reports(&mut tx, &flight).await?;
    tx.commit().await?;
    Ok(())
}

/// Signs `version` of flight `flight_id`'s spray record as `signer` unless it lacks an item
/// [`missing_for_signing`] names, and gives the reports the signed figures, in one transaction.
///
/// # Errors
/// [`AppError::BadInput`] naming the missing items (in `lang`); [`AppError::Conflict`] when
/// the version is signed or superseded; the database failed.
pub async fn sign_record(
    db: &Db,
    flight_id: i64,
    version: i64,
    signer: &str,
    lang: Lang,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if let Some(cur) = tx
        .spray_record_versions(flight_id)
        .await?
        .into_iter()
        .last()
    {
        let missing = missing_for_signing(&cur.fields);
        if !missing.is_empty() && cur.version == version {
            let names: Vec<&str> = missing.iter().map(|m| m.text(lang)).collect();
            return Err(AppError::BadInput(format!(
                "{} {}",
                Msg::SignNeeds.text(lang),
                names.join(match lang {
                    Lang::Ja => "、",
                    Lang::En => ", ",
                })
            )));
        }
    }
    tx.sign_spray_record(flight_id, version, signer)
        .await
        .map_err(frozen(lang))?;
    let flight = tx.flight(flight_id).await?;
    feed_reports(&mut tx, &flight).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::missing_for_signing;
    use crate::i18n::Msg;
    use crate::storage::RecordFields;

    #[test]
    fn the_legal_items_of_a_record_are_required_for_signing() {
        let full = RecordFields {
            sprayed_on: "2026-06-10".into(),
            place: "北の田".into(),
            crop: "水稲".into(),
            pesticide_name: "ブラシン粉剤".into(),
            l_per_10a: Some(3.0),
            litres: Some(5.6),
            ..RecordFields::default()
        };
        assert!(missing_for_signing(&full).is_empty());
        let diluted = RecordFields {
            l_per_10a: None,
            dilution: Some(1000.0),
            ..full.clone()
        };
        assert!(
            missing_for_signing(&diluted).is_empty(),
            "dilution instead of rate"
        );
        assert_eq!(
            missing_for_signing(&RecordFields::default()),
            [
                Msg::RecDate,
                Msg::RecPlace,
                Msg::RecCrop,
                Msg::RecPesticide,
                Msg::RecRate,
                Msg::RecLitres
            ]
        );
    }
}
