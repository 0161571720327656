//! Web Push subscriptions: a user's browser subscribed to a farm's alerts. Each one is a
//! `webpush` channel of the farm (sent to through the outbox like every channel) with one
//! `push_subscriptions` row holding the push service's endpoint and the browser's keys.
//! Every query names the farm, so one farm's requests never reach another farm's rows.

use chrono::{DateTime, Utc};

use super::{Db, StorageError, Tx, on_exec};

/// The channel kind of a Web Push subscription.
pub const WEBPUSH: &str = "webpush";

/// A subscription as the push service gave it to the browser (already validated).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPushSubscription<'a> {
    /// The push service's URL for this browser.
    pub endpoint: &'a str,
    /// The browser's P-256 public key, base64url without padding (65 bytes decoded).
    pub p256dh: &'a str,
    /// The browser's auth secret, base64url without padding (16 bytes decoded).
    pub auth: &'a str,
    /// What the channel list shows for it (the push service's origin).
    pub label: &'a str,
}

/// A stored subscription, with who made it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PushSubscriptionRow {
    /// Row id.
    pub id: i64,
    /// The farm.
    pub farm_id: i64,
    /// The user who subscribed the browser.
    pub user_id: i64,
    /// That user's sign-in name.
    pub username: String,
    /// The farm's `webpush` channel this subscription is.
    pub channel_id: i64,
    /// The push service's URL.
    pub endpoint: String,
    /// The browser's public key (base64url).
    pub p256dh: String,
    /// The browser's auth secret (base64url).
    pub auth: String,
    /// Whether its channel is switched on.
    pub enabled: bool,
    /// When it was made (or last renewed).
    pub created_at: DateTime<Utc>,
}

/// Where a claimed outbox message on a `webpush` channel goes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PushTarget {
    /// The subscription row.
    pub id: i64,
    /// The push service's URL.
    pub endpoint: String,
    /// The browser's public key (base64url).
    pub p256dh: String,
    /// The browser's auth secret (base64url).
    pub auth: String,
}

impl Tx {
    /// Stores a browser's subscription for a user of a farm: a new `webpush` channel and its
    /// row, or, when the farm already has this endpoint, the row renewed (new keys, this user)
    /// and its channel switched on again. Returns the channel id.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when a check refuses the row; the database failed.
    pub async fn upsert_push_subscription(
        &mut self,
        farm_id: i64,
        user_id: i64,
        s: &NewPushSubscription<'_>,
    ) -> Result<i64, StorageError> {
        let now = Utc::now();
        let existing = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "SELECT channel_id FROM push_subscriptions WHERE farm_id = $1 AND endpoint = $2")
            .bind(farm_id).bind(s.endpoint).fetch_optional(e).await?);
        if let Some(channel_id) = existing {
            on_exec!(self.on(), e => sqlx::query(
                "UPDATE push_subscriptions SET p256dh = $3, auth = $4, user_id = $5, \
                 created_at = $6 WHERE farm_id = $1 AND endpoint = $2")
                .bind(farm_id).bind(s.endpoint).bind(s.p256dh).bind(s.auth).bind(user_id)
                .bind(now).execute(e).await.map(|r| r.rows_affected()))
            .map_err(|err| StorageError::conflict("push subscription", err))?;
            on_exec!(self.on(), e => sqlx::query(
                "UPDATE alert_channels SET enabled = TRUE, target = $3 \
                 WHERE farm_id = $1 AND id = $2")
                .bind(farm_id).bind(channel_id).bind(s.label).execute(e).await
                .map(|r| r.rows_affected())?);
            return Ok(channel_id);
        }
        let channel_id = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "INSERT INTO alert_channels (farm_id, kind, target, enabled, created_at) \
             VALUES ($1, $2, $3, TRUE, $4) RETURNING id")
            .bind(farm_id).bind(WEBPUSH).bind(s.label).bind(now).fetch_one(e).await)
        .map_err(|err| StorageError::conflict("alert channel", err))?;
        on_exec!(self.on(), e => sqlx::query(
            "INSERT INTO push_subscriptions \
             (farm_id, user_id, channel_id, endpoint, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(farm_id).bind(user_id).bind(channel_id).bind(s.endpoint).bind(s.p256dh)
            .bind(s.auth).bind(now).execute(e).await.map(|r| r.rows_affected()))
        .map_err(|err| StorageError::conflict("push subscription", err))?;
        Ok(channel_id)
    }

    /// Replaces a user's own subscription on a farm by the browser's new one (the push
    /// service ended the old: `pushsubscriptionchange`): the row keeps its channel, so the
    /// alerts and attempts that name it stay with it. Returns the channel id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when this user has no subscription with `old` on the farm;
    /// [`StorageError::Conflict`] when the farm already has the new endpoint.
    pub async fn replace_push_subscription(
        &mut self,
        farm_id: i64,
        user_id: i64,
        old: &str,
        s: &NewPushSubscription<'_>,
    ) -> Result<i64, StorageError> {
        let channel = on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
            "UPDATE push_subscriptions SET endpoint = $4, p256dh = $5, auth = $6, \
               created_at = $7 \
             WHERE farm_id = $1 AND user_id = $2 AND endpoint = $3 RETURNING channel_id")
            .bind(farm_id).bind(user_id).bind(old).bind(s.endpoint).bind(s.p256dh)
            .bind(s.auth).bind(Utc::now()).fetch_optional(e).await)
        .map_err(|err| StorageError::conflict("push subscription", err))?
        .ok_or(StorageError::NotFound {
            what: "push subscription",
        })?;
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE alert_channels SET enabled = TRUE, target = $3 \
             WHERE farm_id = $1 AND id = $2")
            .bind(farm_id).bind(channel).bind(s.label).execute(e).await
            .map(|r| r.rows_affected())?);
        Ok(channel)
    }

    /// Removes a farm's subscription (by endpoint or by row id) and switches its channel
    /// off; the channel stays for the alerts and attempts that name it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when the farm has no such subscription.
    pub async fn remove_push_subscription(
        &mut self,
        farm_id: i64,
        which: PushWhich<'_>,
    ) -> Result<(), StorageError> {
        let channel = match which {
            PushWhich::Endpoint(endpoint) => on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "DELETE FROM push_subscriptions WHERE farm_id = $1 AND endpoint = $2 \
                 RETURNING channel_id")
                .bind(farm_id).bind(endpoint).fetch_optional(e).await?),
            PushWhich::Id(id) => on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "DELETE FROM push_subscriptions WHERE farm_id = $1 AND id = $2 \
                 RETURNING channel_id")
                .bind(farm_id).bind(id).fetch_optional(e).await?),
            PushWhich::Channel(ch) => on_exec!(self.on(), e => sqlx::query_scalar::<_, i64>(
                "DELETE FROM push_subscriptions WHERE farm_id = $1 AND channel_id = $2 \
                 RETURNING channel_id")
                .bind(farm_id).bind(ch).fetch_optional(e).await?),
        };
        let channel = channel.ok_or(StorageError::NotFound {
            what: "push subscription",
        })?;
        on_exec!(self.on(), e => sqlx::query(
            "UPDATE alert_channels SET enabled = FALSE WHERE farm_id = $1 AND id = $2")
            .bind(farm_id).bind(channel).execute(e).await.map(|r| r.rows_affected())?);
        Ok(())
    }
}

/// Which subscription of a farm to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushWhich<'a> {
    /// The browser's endpoint (its own unsubscribe).
    Endpoint(&'a str),
    /// The row (the settings page's remove button).
    Id(i64),
    /// Its channel (the push service said the subscription is gone).
    Channel(i64),
}

impl Db {
    /// Every subscription of a farm, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn push_subscriptions(
        &self,
        farm_id: i64,
    ) -> Result<Vec<PushSubscriptionRow>, StorageError> {
        Ok(
            on_exec!(self.on(), e => sqlx::query_as::<_, PushSubscriptionRow>(
            "SELECT p.id, p.farm_id, p.user_id, u.username, p.channel_id, p.endpoint, \
               p.p256dh, p.auth, c.enabled, p.created_at FROM push_subscriptions p \
             JOIN users u ON u.id = p.user_id \
             JOIN alert_channels c ON c.id = p.channel_id AND c.farm_id = p.farm_id \
             WHERE p.farm_id = $1 ORDER BY p.id")
            .bind(farm_id).fetch_all(e).await?),
        )
    }

    /// The subscription behind a channel of a farm, if it still exists.
    ///
    /// # Errors
    /// The database failed.
    pub async fn push_target(
        &self,
        farm_id: i64,
        channel_id: i64,
    ) -> Result<Option<PushTarget>, StorageError> {
        Ok(on_exec!(self.on(), e => sqlx::query_as::<_, PushTarget>(
            "SELECT id, endpoint, p256dh, auth FROM push_subscriptions \
             WHERE farm_id = $1 AND channel_id = $2")
            .bind(farm_id).bind(channel_id).fetch_optional(e).await?))
    }

    /// Forgets the subscription behind a channel that its push service says is gone (404 or
    /// 410), in one transaction; a second call finds nothing and does nothing.
    ///
    /// # Errors
    /// The database failed.
    pub async fn drop_gone_push_subscription(
        &self,
        farm_id: i64,
        channel_id: i64,
    ) -> Result<bool, StorageError> {
        let mut tx = self.begin().await?;
        match tx
            .remove_push_subscription(farm_id, PushWhich::Channel(channel_id))
            .await
        {
            Ok(()) => {
                tx.commit().await?;
                Ok(true)
            }
            Err(StorageError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;
    use crate::storage::{NewUser, Role};

    const KEY: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    fn sub(endpoint: &str) -> NewPushSubscription<'_> {
        NewPushSubscription {
            endpoint,
            p256dh: KEY,
            auth: AUTH,
            label: "https://push.example.jp",
        }
    }

    both_backends!(a_farm_reaches_only_its_own_subscriptions, |db| {
        let district = db.districts().await.unwrap()[0].id;
        let a = db
            .create_farm(district, "押し農場A", "dairy", "")
            .await
            .unwrap()
            .id;
        let b = db
            .create_farm(district, "押し農場B", "dairy", "")
            .await
            .unwrap()
            .id;
        let user = |username: &'static str, farm: i64| NewUser {
            username,
            display_name: username,
            password_hash: "x",
            role: Role::Dairy,
            farm_id: Some(farm),
            lang: "ja",
        };
        let ua = db.create_user(&user("push-a", a)).await.unwrap().id;
        let ub = db.create_user(&user("push-b", b)).await.unwrap().id;
        let ep = "https://push.example.jp/send/abc";
        let mut tx = db.begin().await.unwrap();
        let ch_a = tx.upsert_push_subscription(a, ua, &sub(ep)).await.unwrap();
        // The same endpoint sent with farm B's credentials is B's own row.
        let ch_b = tx.upsert_push_subscription(b, ub, &sub(ep)).await.unwrap();
        // Again on farm A: renewed, not doubled.
        assert_eq!(
            tx.upsert_push_subscription(a, ua, &sub(ep)).await.unwrap(),
            ch_a
        );
        tx.commit().await.unwrap();
        assert_ne!(ch_a, ch_b);
        assert_eq!(db.push_subscriptions(a).await.unwrap().len(), 1);
        assert_eq!(
            db.push_subscriptions(a).await.unwrap()[0].username,
            "push-a"
        );
        // B cannot reach A's rows by id or channel.
        let a_row = db.push_subscriptions(a).await.unwrap()[0].id;
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            tx.remove_push_subscription(b, PushWhich::Id(a_row)).await,
            Err(StorageError::NotFound { .. })
        ));
        drop(tx);
        assert!(db.push_target(b, ch_a).await.unwrap().is_none());
        assert!(!db.drop_gone_push_subscription(b, ch_a).await.unwrap());
        assert_eq!(db.push_subscriptions(a).await.unwrap().len(), 1);
        // Gone: the row goes, the channel is switched off and stays.
        assert!(db.drop_gone_push_subscription(a, ch_a).await.unwrap());
        assert!(db.push_subscriptions(a).await.unwrap().is_empty());
        assert!(db.alert_channels(a).await.unwrap().is_empty());
        assert_eq!(db.alert_channel_rows(a).await.unwrap().len(), 1);
        assert_eq!(db.push_subscriptions(b).await.unwrap().len(), 1);
        // A malformed key is refused by the table too.
        let mut tx = db.begin().await.unwrap();
        let bad = NewPushSubscription {
            p256dh: "short",
            ..sub("https://push.example.jp/send/x")
        };
        assert!(matches!(
            tx.upsert_push_subscription(a, ua, &bad).await,
            Err(StorageError::Conflict { .. })
        ));
    });
}
