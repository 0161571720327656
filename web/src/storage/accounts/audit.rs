//! The account audit log: who changed which farm, user or bridge token.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Farm, User};
use crate::storage::{Db, On, StorageError, Tx, on_exec, on_pool};

/// One entry of the account audit log.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (username), `None` for the command line or a deleted user.
    pub actor: Option<String>,
    /// What (`farm.add`, `farm.edit`, `user.add`, `user.edit`, `user.password`, `user.disable`,
    /// `user.enable`, `token.add`, `token.revoke`).
    pub action: String,
    /// Which account or farm.
    pub target: String,
    /// What changed, briefly.
    pub detail: String,
}

impl Db {
    /// The newest `limit` audit entries, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AuditRow>(
            "SELECT a.at, u.username AS actor, a.action, a.target, a.detail \
             FROM account_audit a LEFT JOIN users u ON u.id = a.actor_id \
             ORDER BY a.id DESC LIMIT $1")
            .bind(limit).fetch_all(pool).await?))
    }
}

impl On<'_> {
    /// Records who (`actor_id`, `None` for the command line) did `action` to `target`.
    ///
    /// # Errors
    /// The database failed.
    async fn audit(
        self,
        actor_id: Option<i64>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), StorageError> {
        let now = Utc::now();
        on_exec!(self, pool => sqlx::query(
            "INSERT INTO account_audit (at, actor_id, action, target, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(now).bind(actor_id).bind(action).bind(target).bind(detail)
            .execute(pool).await.map(|r| r.rows_affected())?);
        Ok(())
    }

    /// Records that `actor_id` created farm `f`.
    ///
    /// # Errors
    /// The database failed.
    async fn audit_farm_added(self, actor_id: Option<i64>, f: &Farm) -> Result<(), StorageError> {
        let detail = format!("{}, {}, district {}", f.name, f.kind, f.district_id);
        self.audit(actor_id, "farm.add", &format!("farm {}", f.id), &detail)
            .await
    }

    /// Records that `actor_id` created user `u`.
    ///
    /// # Errors
    /// The database failed.
    async fn audit_user_added(self, actor_id: Option<i64>, u: &User) -> Result<(), StorageError> {
        let detail = format!("role {}, farm {:?}", u.role.as_str(), u.farm_id);
        self.audit(actor_id, "user.add", &u.username, &detail).await
    }

    /// Records that `actor_id` created bridge token `id` named `name` for farm `farm_id`
    /// (never the token itself).
    ///
    /// # Errors
    /// The database failed.
    async fn audit_token_added(
        self,
        actor_id: Option<i64>,
        id: i64,
        farm_id: i64,
        name: &str,
    ) -> Result<(), StorageError> {
        let detail = format!("farm {farm_id}, {name}");
        self.audit(
            actor_id,
            "token.add",
            &format!("bridge token {id}"),
            &detail,
        )
        .await
    }

    /// Records that `actor_id` revoked bridge token `id`.
    ///
    /// # Errors
    /// The database failed.
    async fn audit_token_revoked(self, actor_id: Option<i64>, id: i64) -> Result<(), StorageError> {
        self.audit(actor_id, "token.revoke", &format!("bridge token {id}"), "")
            .await
    }
}

impl Db {
    /// Records who (`actor_id`, `None` for the command line) did `action` to `target`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit(
        &self,
        actor_id: Option<i64>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), StorageError> {
        self.on().audit(actor_id, action, target, detail).await
    }

    /// Records that `actor_id` created farm `f`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_farm_added(
        &self,
        actor_id: Option<i64>,
        f: &Farm,
    ) -> Result<(), StorageError> {
        self.on().audit_farm_added(actor_id, f).await
    }

    /// Records that `actor_id` created user `u`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_user_added(
        &self,
        actor_id: Option<i64>,
        u: &User,
    ) -> Result<(), StorageError> {
        self.on().audit_user_added(actor_id, u).await
    }

    /// Records that `actor_id` created bridge token `id` named `name` for farm `farm_id`
    /// (never the token itself).
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_token_added(
        &self,
        actor_id: Option<i64>,
        id: i64,
        farm_id: i64,
        name: &str,
    ) -> Result<(), StorageError> {
        self.on()
            .audit_token_added(actor_id, id, farm_id, name)
            .await
    }

    /// Records that `actor_id` revoked bridge token `id`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_token_revoked(
        &self,
        actor_id: Option<i64>,
        id: i64,
    ) -> Result<(), StorageError> {
        self.on().audit_token_revoked(actor_id, id).await
    }
}

impl Tx {
    /// Records who (`actor_id`, `None` for the command line) did `action` to `target`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit(
        &mut self,
        actor_id: Option<i64>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), StorageError> {
        self.on().audit(actor_id, action, target, detail).await
    }

    /// Records that `actor_id` created farm `f`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_farm_added(
        &mut self,
        actor_id: Option<i64>,
        f: &Farm,
    ) -> Result<(), StorageError> {
        self.on().audit_farm_added(actor_id, f).await
    }

    /// Records that `actor_id` created user `u`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_user_added(
        &mut self,
        actor_id: Option<i64>,
        u: &User,
    ) -> Result<(), StorageError> {
        self.on().audit_user_added(actor_id, u).await
    }

    /// Records that `actor_id` created bridge token `id` named `name` for farm `farm_id`
    /// (never the token itself).
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_token_added(
        &mut self,
        actor_id: Option<i64>,
        id: i64,
        farm_id: i64,
        name: &str,
    ) -> Result<(), StorageError> {
        self.on()
            .audit_token_added(actor_id, id, farm_id, name)
            .await
    }

    /// Records that `actor_id` revoked bridge token `id`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn audit_token_revoked(
        &mut self,
        actor_id: Option<i64>,
        id: i64,
    ) -> Result<(), StorageError> {
        self.on().audit_token_revoked(actor_id, id).await
    }
}
