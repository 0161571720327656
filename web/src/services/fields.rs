//! Fields: the fields of one imported file are stored together or not at all.

use crate::error::AppError;
use crate::storage::{Db, FieldRow, NewField};

/// Stores `fields` in one transaction; returns them as stored, in order.
///
/// # Errors
/// A name is taken in the farm, or the database failed; nothing is stored then.
pub async fn import_fields(db: &Db, fields: &[NewField<'_>]) -> Result<Vec<FieldRow>, AppError> {
    let mut imported = Vec::with_capacity(fields.len());
    let mut tx = db.begin().await?;
    for f in fields {
        imported.push(tx.create_field(f).await?);
        tx.checkpoint("fields.after_field").await?;
    }
    tx.commit().await?;
    Ok(imported)
}
