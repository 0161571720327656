//! The bridges' tokens: each acts for one farm, stored only as its SHA-256.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::storage::{Db, On, StorageError, Tx, on_exec, on_pool};

/// A bridge token as the admin page lists it (its hash is never read back).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BridgeTokenRow {
    /// Row id.
    pub id: i64,
    /// The farm whose parlors it may report.
    pub farm_id: i64,
    /// Name given when it was made.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Db {
    /// The (token id, farm id) of an unrevoked bridge token with this hash.
    ///
    /// # Errors
    /// The database failed.
    pub async fn bridge_token(&self, token_hash: &str) -> Result<Option<(i64, i64)>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, i64)>(
            "SELECT id, farm_id FROM bridge_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash).fetch_optional(pool).await?))
    }

    /// Every bridge token (never the token itself), newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn bridge_tokens(&self) -> Result<Vec<BridgeTokenRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, BridgeTokenRow>(
            "SELECT id, farm_id, name, created_at, revoked_at FROM bridge_tokens ORDER BY id DESC")
            .fetch_all(pool).await?))
    }
}

impl On<'_> {
    /// Registers a bridge token for a farm; only its hash is stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm or a token that exists.
    async fn create_bridge_token(
        self,
        farm_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<i64, StorageError> {
        let now = Utc::now();
        on_exec!(self, pool => sqlx::query_scalar::<_, i64>(
            "INSERT INTO bridge_tokens (farm_id, name, token_hash, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(farm_id).bind(name).bind(token_hash).bind(now)
            .fetch_one(pool).await)
        .map_err(|e| StorageError::conflict("bridge token", e))
    }

    /// Revokes a bridge token.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown token.
    async fn revoke_bridge_token(self, id: i64) -> Result<(), StorageError> {
        let now = Utc::now();
        let n = on_exec!(self, pool => sqlx::query(
            "UPDATE bridge_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now).bind(id).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StorageError::NotFound {
                what: "bridge token",
            });
        }
        Ok(())
    }
}

impl Db {
    /// Registers a bridge token for a farm; only its hash is stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm or a token that exists.
    pub async fn create_bridge_token(
        &self,
        farm_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<i64, StorageError> {
        self.on()
            .create_bridge_token(farm_id, name, token_hash)
            .await
    }

    /// Revokes a bridge token.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown token.
    pub async fn revoke_bridge_token(&self, id: i64) -> Result<(), StorageError> {
        self.on().revoke_bridge_token(id).await
    }
}

impl Tx {
    /// Registers a bridge token for a farm; only its hash is stored.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for an unknown farm or a token that exists.
    pub async fn create_bridge_token(
        &mut self,
        farm_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<i64, StorageError> {
        self.on()
            .create_bridge_token(farm_id, name, token_hash)
            .await
    }

    /// Revokes a bridge token.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown token.
    pub async fn revoke_bridge_token(&mut self, id: i64) -> Result<(), StorageError> {
        self.on().revoke_bridge_token(id).await
    }
}
