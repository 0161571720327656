//! Fields: the fields of one imported file are stored together or not at all; what a field's
//! own farm may change of it (name, crop, address, 地番) and within which limits; and the
//! field's history of plans and flights.

use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::i18n::fields::FieldMsg;
use crate::i18n::{Lang, Msg};
use crate::storage::{Db, FieldEdit, FieldRow, FlightRow, NewField, PlanRow};
use crate::validate::{Lines, MAX_NAME, check_text};

/// Longest crop name, in characters.
pub const MAX_CROP: usize = 50;
/// Longest address, in characters.
pub const MAX_ADDRESS: usize = 200;
/// Longest 地番, in characters.
pub const MAX_CHIBAN: usize = 100;

/// Stores `fields` in one transaction; returns them as stored, in order.
///
/// # Errors
/// A name is taken in the farm, or the database failed; nothing is stored then.
pub async fn import_fields(db: &Db, fields: &[NewField<'_>]) -> Result<Vec<FieldRow>, AppError> {
    let mut imported = Vec::with_capacity(fields.len());
    let mut tx = db.begin().await?;
    for chunk in fields.chunks(crate::storage::FIELDS_PER_INSERT) {
        imported.extend(tx.create_fields(chunk).await?);
        tx.checkpoint("fields.after_field").await?;
    }
    tx.commit().await?;
    Ok(imported)
}

/// A field's changeable values as the form sent them, unchecked.
#[derive(Debug, Clone, Copy)]
pub struct FieldInput<'a> {
    /// Its name (required).
    pub name: &'a str,
    /// Its crop.
    pub crop: &'a str,
    /// Its address.
    pub address: &'a str,
    /// Its 地番.
    pub chiban: &'a str,
}

/// The form's values checked, trimmed; [`AppError::BadInput`] in `lang` names the first bad one.
fn checked(
    form: &FieldInput<'_>,
    lang: Lang,
) -> Result<(String, String, String, String), AppError> {
    let name = form.name.trim();
    if name.is_empty() {
        return Err(AppError::BadInput(
            FieldMsg::NameRequired.text(lang).to_owned(),
        ));
    }
    check_text(lang, Msg::Name.text(lang), name, MAX_NAME, Lines::One)?;
    let crop = form.crop.trim();
    check_text(lang, Msg::Crop.text(lang), crop, MAX_CROP, Lines::One)?;
    let address = form.address.trim();
    check_text(
        lang,
        Msg::Address.text(lang),
        address,
        MAX_ADDRESS,
        Lines::One,
    )?;
    let chiban = form.chiban.trim();
    check_text(
        lang,
        FieldMsg::Chiban.text(lang),
        chiban,
        MAX_CHIBAN,
        Lines::One,
    )?;
    Ok((
        name.to_owned(),
        crop.to_owned(),
        address.to_owned(),
        chiban.to_owned(),
    ))
}

/// Changes field `id` of farm `farm_id` to `input`, trimmed.
///
/// # Errors
/// [`AppError::BadInput`] (only) for a value that is refused, naming it in `lang`; another
/// farm's or an unknown field; the database failed.
pub async fn edit_field(
    db: &Db,
    lang: Lang,
    farm_id: i64,
    id: i64,
    input: &FieldInput<'_>,
) -> Result<(), AppError> {
    let (name, crop, address, chiban) = checked(input, lang)?;
    let edit = FieldEdit {
        name: &name,
        crop: &crop,
        address: &address,
        chiban: &chiban,
    };
    db.update_field(farm_id, id, &edit).await?;
    Ok(())
}

/// One thing that happened to a field.
#[derive(Debug, Clone)]
pub enum FieldEvent {
    /// A plan was made.
    Plan(PlanRow),
    /// A flight, with whether its spray record is signed (`None`: no record).
    Flight(FlightRow, Option<bool>),
}

impl FieldEvent {
    /// When it happened: the plan made, the flight started (else recorded).
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            FieldEvent::Plan(p) => p.created_at,
            FieldEvent::Flight(f, _) => f.started_at.unwrap_or(f.created_at),
        }
    }
}

/// The field's plans and flights (with their spray records' state), newest first.
///
/// # Errors
/// The database failed.
pub async fn history(db: &Db, field_id: i64) -> Result<Vec<FieldEvent>, AppError> {
    let plans = db.plans_of_field(field_id).await?;
    let mut events = Vec::new();
    for p in &plans {
        for f in db.flights_of_plan(p.id).await? {
            let signed = db
                .spray_record_versions(f.id)
                .await?
                .last()
                .map(|r| r.signed_at.is_some());
            events.push(FieldEvent::Flight(f, signed));
        }
    }
    events.extend(plans.into_iter().map(FieldEvent::Plan));
    events.sort_by_key(|e| std::cmp::Reverse(e.at()));
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;

    /// Features of the largest file the CLI's limits (`FieldLimits::DEFAULT`) take, as the
    /// probe's 157 000-placemark KML had.
    const N_FIELDS: usize = 157_000;

    both_backends!(three_imports_of_a_village_at_once_are_all_stored, |db| {
        let d = db.districts().await.unwrap();
        let geojson = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"p","kind":"field"},"geometry":{"type":"Polygon","coordinates":[[[139.9,36.9],[139.90005,36.9],[139.90005,36.90005],[139.9,36.90005],[139.9,36.9]]]}}]}"#;
        let names: Vec<String> = (0..N_FIELDS).map(|i| format!("p{i}")).collect();
        let mut farms = Vec::new();
        for copy in 0..3 {
            farms.push(
                db.create_farm(d[0].id, &format!("village-{copy}"), "crop", "")
                    .await
                    .unwrap()
                    .id,
            );
        }
        let started = std::time::Instant::now();
        let imports = farms.iter().map(|&farm_id| {
            let rows: Vec<NewField> = names
                .iter()
                .map(|name| NewField {
                    farm_id,
                    name,
                    crop: "",
                    fude_polygon_id: None,
                    land_type: None,
                    geojson,
                    area_ha: 0.002,
                })
                .collect();
            let db = db.clone();
            async move { import_fields(&db, &rows).await.map(|v| v.len()) }
        });
        let results = futures::future::join_all(imports).await;
        eprintln!(
            "{:?}: three imports of {N_FIELDS} fields in {:.1} s",
            db.backend(),
            started.elapsed().as_secs_f64()
        );
        for r in results {
            assert_eq!(r.unwrap(), N_FIELDS);
        }
    });
}
