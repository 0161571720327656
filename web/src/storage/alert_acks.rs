//! What the alerts page and the acknowledge links need: the server's signing key, one alert,
//! the rule kinds of a farm, and acknowledging without a signed-in user.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{AlertRow, Db, StorageError, on_exec};

impl Db {
    /// The server's key `name` (32 bytes), made at random on first use; every server on the
    /// database gets the same one.
    ///
    /// # Errors
    /// The database failed.
    pub async fn server_key(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let fresh = hex::encode(rand::random::<[u8; 32]>());
        on_exec!(self.on(), e => sqlx::query(
            "INSERT INTO server_keys (name, key_hex) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name).bind(&fresh).execute(e).await.map(|r| r.rows_affected())?);
        let key = on_exec!(self.on(), e => sqlx::query_scalar::<_, String>(
            "SELECT key_hex FROM server_keys WHERE name = $1")
            .bind(name).fetch_one(e).await?);
        Ok(hex::decode(key).unwrap_or_default())
    }

    /// One alert, of whichever farm (the caller checks who may see it).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown alert.
    pub async fn alert(&self, alert_id: i64) -> Result<AlertRow, StorageError> {
        on_exec!(self.on(), e => sqlx::query_as::<_, AlertRow>(
            "SELECT id, farm_id, rule_id, condition_key, parlor_id, opened_at, resolved_at, \
             acknowledged_at, acknowledged_by, detail FROM alerts WHERE id = $1")
            .bind(alert_id).fetch_optional(e).await?)
        .ok_or(StorageError::NotFound { what: "alert" })
    }

    /// The kind of every rule of a farm, enabled or not, by rule id.
    ///
    /// # Errors
    /// The database failed.
    pub async fn alert_rule_kinds(
        &self,
        farm_id: i64,
    ) -> Result<HashMap<i64, String>, StorageError> {
        let rows = on_exec!(self.on(), e => sqlx::query_as::<_, (i64, String)>(
            "SELECT id, kind FROM alert_rules WHERE farm_id = $1")
            .bind(farm_id).fetch_all(e).await?);
        Ok(rows.into_iter().collect())
    }

    /// Marks an alert acknowledged from a signed link (no user; the first acknowledgement
    /// counts); returns whether this call acknowledged it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown alert.
    pub async fn acknowledge_alert_by_link(
        &self,
        alert_id: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.alert(alert_id).await?;
        let n = on_exec!(self.on(), e => sqlx::query(
            "UPDATE alerts SET acknowledged_at = $2 WHERE id = $1 AND acknowledged_at IS NULL")
            .bind(alert_id).bind(at).execute(e).await?.rows_affected());
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdb::both_backends;
    use super::*;

    both_backends!(the_server_key_is_made_once_and_kept, |db| {
        let a = db.server_key("alert_ack").await.unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(db.server_key("alert_ack").await.unwrap(), a);
        assert_ne!(db.server_key("other").await.unwrap(), a);
        assert!(matches!(
            db.acknowledge_alert_by_link(999, Utc::now()).await,
            Err(StorageError::NotFound { .. })
        ));
    });
}
