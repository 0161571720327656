//! Changes to accounts: what an administrator changes of farms, users and bridge tokens, a
//! person's own password, and a new session. Each change and its `account_audit` row are one
//! transaction: no change is stored without the row saying who made it, and no row is written
//! for a change that failed. `actor` is the administrator's user id, `None` for the command
//! line.
//!
//! Checking the input (names, roles, the password rules) is the caller's part; so is hashing a
//! password ([`crate::services::credentials::hash_password`]) or making a token, except that
//! [`sign_in`] makes the tokens of the session it opens.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::services::credentials::{self, LoginLimiter, token_hash};
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
    actor: Option<i64>,
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
    tx.audit(actor, "user.edit", &after.username, &detail)
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
    actor: Option<i64>,
    id: i64,
    password_hash: &str,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let target = tx.user(id).await?;
    tx.set_password(id, password_hash, None).await?;
    tx.audit(actor, "user.password", &target.username, "reset")
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Disables or enables user `id`.
///
/// # Errors
/// No such user, or the database failed.
pub async fn set_disabled(
    db: &Db,
    actor: Option<i64>,
    id: i64,
    disabled: bool,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let target = tx.user(id).await?;
    tx.set_user_disabled(id, disabled).await?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    tx.audit(actor, action, &target.username, "").await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a user.
///
/// # Errors
/// The name is taken ([`AppError::Conflict`]), or the database failed.
pub async fn add_user(db: &Db, actor: Option<i64>, user: &NewUser<'_>) -> Result<User, AppError> {
    let mut tx = db.begin().await?;
    let created = tx.create_user(user).await?;
    tx.audit_user_added(actor, &created).await?;
    tx.commit().await?;
    Ok(created)
}

/// Changes farm `id`; the audit row names the name, kind and district before and after.
///
/// # Errors
/// No such farm or district, or the database failed.
pub async fn edit_farm(
    db: &Db,
    actor: Option<i64>,
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
    tx.audit(actor, "farm.edit", &format!("farm {id}"), &detail)
        .await?;
    tx.commit().await?;
    Ok(farm)
}

/// Creates a farm.
///
/// # Errors
/// The name is taken, no such district, or the database failed.
pub async fn add_farm(db: &Db, actor: Option<i64>, farm: FarmChange<'_>) -> Result<Farm, AppError> {
    let mut tx = db.begin().await?;
    let created = tx
        .create_farm(farm.district_id, farm.name, farm.kind, farm.address)
        .await?;
    tx.audit_farm_added(actor, &created).await?;
    tx.commit().await?;
    Ok(created)
}

/// Stores a bridge token of `farm_id` by its hash; returns its id.
///
/// # Errors
/// No such farm, or the database failed.
pub async fn add_token(
    db: &Db,
    actor: Option<i64>,
    farm_id: i64,
    name: &str,
    token_hash: &str,
) -> Result<i64, AppError> {
    let mut tx = db.begin().await?;
    let id = tx.create_bridge_token(farm_id, name, token_hash).await?;
    tx.audit_token_added(actor, id, farm_id, name).await?;
    tx.commit().await?;
    Ok(id)
}

/// Revokes bridge token `id`.
///
/// # Errors
/// No such token, or the database failed.
pub async fn revoke_token(db: &Db, actor: Option<i64>, id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.revoke_bridge_token(id).await?;
    tx.audit_token_revoked(actor, id).await?;
    tx.commit().await?;
    Ok(())
}

/// A person's own new password: every other session ends (the one whose token hash is `keep`
/// stays), with its audit row.
///
/// # Errors
/// The database failed.
pub async fn change_own_password(
    db: &Db,
    user: &User,
    password_hash: &str,
    keep: Option<&str>,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    tx.set_password(user.id, password_hash, keep).await?;
    tx.audit(Some(user.id), "user.password", &user.username, "own")
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A session being opened.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// Whose session it is.
    pub user_id: i64,
    /// The SHA-256 of its cookie token (the token itself is never stored).
    pub token_hash: &'a str,
    /// The token every form of the session must carry.
    pub csrf_token: &'a str,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session and, when the browser was not known yet, the hash of the device token
/// that makes it known for the sign-in limiter: one transaction.
///
/// # Errors
/// The database failed.
pub async fn open_session(
    db: &Db,
    session: NewSession<'_>,
    new_device_hash: Option<&str>,
) -> Result<(), AppError> {
    let user_id = session.user_id;
    let mut tx = db.begin().await?;
    tx.create_session(
        session.token_hash,
        user_id,
        session.csrf_token,
        session.expires_at,
    )
    .await?;
    if let Some(device) = new_device_hash {
        tx.add_known_device(device, user_id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A sign-in as the browser sent it.
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    /// The account's name, as typed.
    pub username: &'a str,
    /// The password, as typed.
    pub password: &'a str,
    /// The SHA-256 of the browser's device token, if it sent one.
    pub device_hash: Option<&'a str>,
    /// The address the attempt came from, as the limiter counts it.
    pub source: &'a str,
    /// How long the session lasts.
    pub ttl: chrono::Duration,
}

/// How a sign-in ended.
#[derive(Debug)]
pub enum SignInOutcome {
    /// The source or the account has spent its attempts; the password was not checked.
    TooManyAttempts,
    /// No such account, a wrong password or a disabled account.
    BadCredentials,
    /// A session was opened.
    SignedIn {
        /// The user.
        user: User,
        /// The session's cookie token.
        token: String,
        /// A new device token for a browser the account had not signed in from, else `None`.
        device: Option<String>,
    },
}

/// Signs `s` in: the attempt is counted per source and, unless the browser is one the account
/// signed in from before, per account, before argon2 runs (an unknown name is checked against
/// a dummy hash of the same cost); on success the session, and the browser as a known device,
/// are stored in one transaction by [`open_session`].
///
/// # Errors
/// The database failed.
pub async fn sign_in(
    db: &Db,
    limiter: &Arc<LoginLimiter>,
    s: &SignIn<'_>,
) -> Result<SignInOutcome, AppError> {
    let name = s.username.trim();
    let user = db.user_by_username(name).await?;
    // A browser this account signed in from before is not held by the account's lock, so
    // guesses from elsewhere cannot lock the owner out; the per-address limit still holds.
    let known = match (s.device_hash, &user) {
        (Some(d), Some(u)) => db.known_device_user(d).await? == Some(u.id),
        _ => false,
    };
    let source_key = format!("source:{}", s.source);
    let account_key = format!("account:{}", name.to_lowercase());
    let mut keys = vec![(source_key, limiter.per_source())];
    if !known {
        keys.push((account_key.clone(), limiter.per_account()));
    }
    // Counted now, before the password is checked: concurrent guesses cannot outrun the limit.
    let Some(attempt) = limiter.begin(&keys) else {
        tracing::warn!(message = "Sign-in rate limit hit.", username = %name, known);
        return Ok(SignInOutcome::TooManyAttempts);
    };
    // Unknown names are checked against a dummy hash: the same argon2 work as a known one.
    let ok = attempt
        .verify(s.password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await;
    let Some(user) = user.filter(|u| ok && !u.disabled) else {
        return Ok(SignInOutcome::BadCredentials);
    };
    attempt.succeeded(&[account_key.as_str()]);
    let token = credentials::new_token();
    let csrf = credentials::new_token();
    let device = (!known).then(credentials::new_token);
    open_session(
        db,
        NewSession {
            user_id: user.id,
            token_hash: &token_hash(&token),
            csrf_token: &csrf,
            expires_at: Utc::now() + s.ttl,
        },
        device.as_deref().map(token_hash).as_deref(),
    )
    .await?;
    Ok(SignInOutcome::SignedIn {
        user,
        token,
        device,
    })
}
