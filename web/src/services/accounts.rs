//! Changes an administrator makes to farms, users and bridge tokens. Each change and its
//! `account_audit` row are one transaction: no change is stored without the row saying who
//! made it, and no row is written for a change that failed. `actor` is the administrator's
//! user id.
//!
//! Checking the input (names, roles, the password rules) is the caller's part; so is hashing a
//! password ([`crate::services::credentials::hash_password`]) or making a token.

use crate::error::AppError;
use crate::storage::{Db, Farm, NewUser, Role, User};

/// What an administrator may change of a user.
#[derive(Debug, Clone, Copy)]
pub struct UserChange<'a> {
    /// The name shown on pages and records.
    pub display_name: &'a str,
    /// The role.
    pub role: Role,
    /// The farm of a farmer or dairy operator.
    pub farm_id: Option<i64>,
    /// The language of the pages (`ja` or `en`).
    pub lang: &'a str,
}

/// What an administrator may set of a farm.
#[derive(Debug, Clone, Copy)]
pub struct FarmChange<'a> {
    /// The district it lies in.
    pub district_id: i64,
    /// Its name.
    pub name: &'a str,
    /// `crop`, `dairy` or `mixed`.
    pub kind: &'a str,
    /// Its address, for the records.
    pub address: &'a str,
}

/// Changes user `id`; the audit row names the role, farm and language before and after.
///
/// # Errors
/// No such user, or the database failed.
pub async fn edit_user(
    db: &Db,
    actor: i64,
    id: i64,
    change: UserChange<'_>,
) -> Result<User, AppError> {
    let mut tx = db.begin().await?;
    let before = tx.user(id).await?;
    let after = tx
        .update_user(
            id,
            change.display_name,
            change.role,
            change.farm_id,
            change.lang,
        )
        .await?;
    let detail = format!(
        "role {} → {}, farm {:?} → {:?}, lang {} → {}",
        before.role.as_str(),
        after.role.as_str(),
        before.farm_id,
        after.farm_id,
        before.lang,
        after.lang
    );
    tx.audit(Some(actor), "user.edit", &after.username, &detail)
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// Gives user `id` the password behind `password_hash`, ending all their sessions.
///
/// # Errors
/// No such user, or the database failed.
pub async fn reset_password(
    db: &Db,
    actor: i64,
    id: i64,
    password_hash: &str,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let target = tx.user(id).await?;
    tx.set_password(id, password_hash, None).await?;
    tx.audit(Some(actor), "user.password", &target.username, "reset")
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Disables or enables user `id`.
///
/// # Errors
/// No such user, or the database failed.
pub async fn set_disabled(db: &Db, actor: i64, id: i64, disabled: bool) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let target = tx.user(id).await?;
    tx.set_user_disabled(id, disabled).await?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    tx.audit(Some(actor), action, &target.username, "").await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a user.
///
/// # Errors
/// The name is taken ([`AppError::Conflict`]), or the database failed.
pub async fn add_user(db: &Db, actor: i64, user: &NewUser<'_>) -> Result<User, AppError> {
    let mut tx = db.begin().await?;
    let created = tx.create_user(user).await?;
    tx.audit_user_added(Some(actor), &created).await?;
    tx.commit().await?;
    Ok(created)
}

/// Changes farm `id`; the audit row names the name, kind and district before and after.
///
/// # Errors
/// No such farm or district, or the database failed.
pub async fn edit_farm(
    db: &Db,
    actor: i64,
    id: i64,
    change: FarmChange<'_>,
) -> Result<Farm, AppError> {
    let mut tx = db.begin().await?;
    let before = tx.farm(id).await?;
    let farm = tx
        .update_farm(
            id,
            change.district_id,
            change.name,
            change.kind,
            change.address,
        )
        .await?;
    let detail = format!(
        "{} → {}, {} → {}, district {} → {}",
        before.name, farm.name, before.kind, farm.kind, before.district_id, farm.district_id
    );
    tx.audit(Some(actor), "farm.edit", &format!("farm {id}"), &detail)
        .await?;
    tx.commit().await?;
    Ok(farm)
}

/// Creates a farm.
///
/// # Errors
/// The name is taken, no such district, or the database failed.
pub async fn add_farm(db: &Db, actor: i64, farm: FarmChange<'_>) -> Result<Farm, AppError> {
    let mut tx = db.begin().await?;
    let created = tx
        .create_farm(farm.district_id, farm.name, farm.kind, farm.address)
        .await?;
    tx.audit_farm_added(Some(actor), &created).await?;
    tx.commit().await?;
    Ok(created)
}

/// Stores a bridge token of `farm_id` by its hash; returns its id.
///
/// # Errors
/// No such farm, or the database failed.
pub async fn add_token(
    db: &Db,
    actor: i64,
    farm_id: i64,
    name: &str,
    token_hash: &str,
) -> Result<i64, AppError> {
    let mut tx = db.begin().await?;
    let id = tx.create_bridge_token(farm_id, name, token_hash).await?;
    tx.audit_token_added(Some(actor), id, farm_id, name).await?;
    tx.commit().await?;
    Ok(id)
}

/// Revokes bridge token `id`.
///
/// # Errors
/// No such token, or the database failed.
pub async fn revoke_token(db: &Db, actor: i64, id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.revoke_bridge_token(id).await?;
    tx.audit_token_revoked(Some(actor), id).await?;
    tx.commit().await?;
    Ok(())
}
