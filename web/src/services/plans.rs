//! Plans: a plan and the prescription it was made with are stored together or not at all.

use crate::error::AppError;
use crate::storage::{Db, NewPlan, NewPrescription, NewRxZone};

/// The prescription of a plan to store: the farm of the plan's field, the map's settings and
/// its zones in order.
#[derive(Debug, Clone)]
pub struct PlanRx<'a> {
    /// The farm of the plan's field.
    pub farm_id: i64,
    /// The file and its settings.
    pub prescription: NewPrescription<'a>,
    /// The zones, the gap last.
    pub zones: Vec<NewRxZone<'a>>,
}

/// Stores `plan` and, if given, its prescription in one transaction; returns the plan's id.
///
/// # Errors
/// An unknown field, a prescription for another farm's field, or the database failed;
/// nothing is stored then.
pub async fn store_plan(
    db: &Db,
    plan: &NewPlan<'_>,
    rx: Option<&PlanRx<'_>>,
) -> Result<i64, AppError> {
    let mut tx = db.begin().await?;
    let id = tx.create_plan(plan).await?;
    tx.checkpoint("plans.after_plan").await?;
    if let Some(rx) = rx {
        tx.create_prescription(id, rx.farm_id, &rx.prescription, &rx.zones)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}
