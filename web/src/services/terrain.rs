//! A farm's terrain: elevation models uploaded once (decoded in the planner pool, stored as
//! grid bytes in one transaction) and the model under a field, merged from the farm's
//! stored models, for terrain-following plans and for the terrain a vehicle asks for in
//! flight.

use mission_planner::{Dem, DemLimits};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::i18n::Lang;
use crate::i18n::terrain::TerrainMsg;
use crate::services::planner::{PlannerPool, PoolError};
use crate::storage::{Db, NewDem};

/// The limits of one uploaded model: 4 million cells is a 5 m mesh over 10 km × 10 km, more
/// ground than a farm flies, and 16 MB as stored.
pub const UPLOAD_LIMITS: DemLimits = DemLimits {
    max_cells: 4_000_000,
    max_xml_bytes: 64 << 20,
    max_grids: 1_024,
};

/// What became of an upload.
#[derive(Debug)]
pub enum Upload {
    /// Stored (or found stored already) under this id.
    Stored(i64),
    /// The pool could not run the decoding.
    Busy(PoolError),
}

/// Decodes `files` (name, bytes) in the planner pool and stores the model for `farm_id` in
/// one transaction.
///
/// # Errors
/// [`AppError::BadInput`] in `lang` for no file or a model the loaders refuse; the
/// database failed.
pub async fn upload<B: AsRef<[u8]> + Send + 'static>(
    db: &Db,
    pool: &PlannerPool,
    farm_id: i64,
    name: &str,
    files: Vec<(String, B)>,
    lang: Lang,
) -> Result<Upload, AppError> {
    if files.is_empty() {
        return Err(AppError::BadInput(
            TerrainMsg::NoFiles.text(lang).to_owned(),
        ));
    }
    let names = files
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let job = move || {
        let mut h = Sha256::new();
        for (n, b) in &files {
            h.update((n.len() as u64).to_le_bytes());
            h.update(n.as_bytes());
            h.update((b.as_ref().len() as u64).to_le_bytes());
            h.update(b.as_ref());
        }
        let dem = Dem::from_files(&files, &UPLOAD_LIMITS)?;
        Ok::<_, mission_planner::PlanError>((dem.to_bytes(), hex::encode(h.finalize()), dem))
    };
    let (data, sha, dem) = match pool.run(job).await {
        Ok(r) => r.map_err(|e| AppError::BadInput(dem_error_text(&e, lang)))?,
        Err(e) => return Ok(Upload::Busy(e)),
    };
    let b = dem.bounds();
    let new = NewDem {
        name,
        files: &names,
        cells: dem.cells() as i64,
        cell_m: dem.cell_size_m(),
        bounds: (b.min().y, b.min().x, b.max().y, b.max().x),
        ground: dem.height_range(),
        data: &data,
        sha256: &sha,
    };
    let mut tx = db.begin().await?;
    let id = tx.create_dem(farm_id, &new).await?;
    tx.commit().await?;
    Ok(Upload::Stored(id))
}

/// Deletes one of the farm's models, in one transaction.
///
/// # Errors
/// [`AppError::NotFound`] when the farm has no such model; the database failed.
pub async fn delete(db: &Db, farm_id: i64, id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.delete_dem(farm_id, id).await?;
    tx.commit().await?;
    Ok(())
}

/// The farm's elevation model under the box (south, west, north, east), its stored models
/// merged newest first; `None` when none reaches the box.
///
/// # Errors
/// [`AppError::Internal`] when stored bytes no longer read (they were checked at upload);
/// the database failed.
pub async fn model_over(
    db: &Db,
    farm_id: i64,
    bbox: (f64, f64, f64, f64),
) -> Result<Option<Dem>, AppError> {
    let rows = db.dem_data_over(farm_id, bbox).await?;
    let limits = DemLimits::default();
    let mut out: Option<Dem> = None;
    for (id, bytes) in rows {
        let one = Dem::from_bytes(&bytes, &limits)
            .map_err(|e| AppError::Internal(format!("elevation model {id}: {e}")))?;
        out = Some(match out {
            None => one,
            Some(d) => d
                .merge(one, &limits)
                .map_err(|e| AppError::Internal(e.to_string()))?,
        });
    }
    Ok(out)
}

/// A loader's or the terrain pass's refusal in `lang`.
pub fn dem_error_text(e: &mission_planner::PlanError, lang: Lang) -> String {
    use mission_planner::PlanError as E;
    match e {
        E::Dem { reason } => format!("{} {reason}", TerrainMsg::Unreadable.text(lang)),
        E::DemTooLarge { what, count, limit } => format!(
            "{} {count} / {limit} ({})",
            TerrainMsg::TooLarge.text(lang),
            match *what {
                "grids" => TerrainMsg::Grids.text(lang),
                _ => TerrainMsg::Cells.text(lang),
            }
        ),
        E::TerrainMissing { lat, lon, .. } => format!(
            "{} ({lat:.6}, {lon:.6})",
            TerrainMsg::MissingUnderPath.text(lang)
        ),
        E::AboveLegalHeight {
            agl_m,
            limit_m,
            lat,
            lon,
            ..
        } => format!(
            "{} {agl_m:.1} m > {limit_m} m ({lat:.6}, {lon:.6})",
            TerrainMsg::AboveLegal.text(lang)
        ),
        other => other.to_string(),
    }
}
