//! Sign-in sessions and the browsers a user signed in from.

use chrono::{DateTime, Utc};

use super::User;
use super::users::UserRow;
use crate::storage::{Db, On, StorageError, Tx, on_exec, on_pool, on_tx};

/// Browsers remembered per user for the sign-in limiter; older ones are forgotten.
pub const MAX_KNOWN_DEVICES: i64 = 20;

/// A live sign-in session with its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The signed-in user.
    pub user: User,
    /// The session's CSRF token for forms.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

impl Db {
    /// The user a known browser (by its token's hash) belongs to.
    ///
    /// # Errors
    /// The database failed.
    pub async fn known_device_user(&self, token_hash: &str) -> Result<Option<i64>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT user_id FROM known_devices WHERE token_hash = $1")
            .bind(token_hash).fetch_optional(pool).await?))
    }

    /// The unexpired session with this token hash, with its user.
    ///
    /// # Errors
    /// The database failed.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StorageError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            csrf_token: String,
            expires_at: DateTime<Utc>,
        }
        let now = Utc::now();
        let row = on_pool!(self, pool => sqlx::query_as::<_, Row>(
            "SELECT u.id, u.username, u.display_name, u.password_hash, u.role, u.farm_id, u.lang, \
                    (u.disabled_at IS NOT NULL) AS disabled, s.csrf_token, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL")
            .bind(token_hash).bind(now).fetch_optional(pool).await?);
        row.map(|r| {
            Ok(SessionRow {
                user: r.user.try_into()?,
                csrf_token: r.csrf_token,
                expires_at: r.expires_at,
            })
        })
        .transpose()
    }

    /// Ends a session.
    ///
    /// # Errors
    /// The database failed.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StorageError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash).execute(pool).await.map(|r| r.rows_affected())?);
        Ok(())
    }
}

impl On<'_> {
    /// Stores a session keyed by the hash of its cookie token.
    ///
    /// # Errors
    /// The database failed.
    async fn create_session(
        self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let now = Utc::now();
        on_exec!(self, pool => sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash).bind(user_id).bind(csrf_token).bind(now).bind(expires_at)
            .execute(pool).await.map(|r| r.rows_affected())?);
        Ok(())
    }
}

impl Db {
    /// Stores a session keyed by the hash of its cookie token.
    ///
    /// # Errors
    /// The database failed.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.on()
            .create_session(token_hash, user_id, csrf_token, expires_at)
            .await
    }
}

impl Tx {
    /// Remembers a browser `user_id` signed in from (by its token's hash), forgetting that
    /// user's browsers beyond the newest `MAX_KNOWN_DEVICES`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn add_known_device(
        &mut self,
        token_hash: &str,
        user_id: i64,
    ) -> Result<(), StorageError> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO known_devices (token_hash, user_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (token_hash) DO NOTHING")
                .bind(token_hash).bind(user_id).bind(Utc::now())
                .execute(&mut *c).await?;
            sqlx::query(
                "DELETE FROM known_devices WHERE user_id = $1 AND token_hash NOT IN \
                 (SELECT token_hash FROM known_devices WHERE user_id = $1 \
                  ORDER BY created_at DESC LIMIT $2)")
                .bind(user_id).bind(MAX_KNOWN_DEVICES)
                .execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Stores a session keyed by the hash of its cookie token.
    ///
    /// # Errors
    /// The database failed.
    pub async fn create_session(
        &mut self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.on()
            .create_session(token_hash, user_id, csrf_token, expires_at)
            .await
    }
}
