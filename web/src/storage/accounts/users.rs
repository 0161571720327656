//! Users: their roles, passwords, language and whether they may sign in.

use chrono::Utc;
use serde::Serialize;

use crate::storage::{Db, On, StorageError, Tx, on_exec, on_pool, on_tx};

/// What a user may see and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages farms and users; sees everything.
    Admin,
    /// Agriculture-division staff: reads every farm, reports.
    Staff,
    /// A farmer: own farm's fields, plans and flights.
    Farmer,
    /// A dairy operator: own farm's parlors.
    Dairy,
}

impl Role {
    /// The role's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Farmer => "farmer",
            Role::Dairy => "dairy",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            "farmer" => Some(Role::Farmer),
            "dairy" => Some(Role::Dairy),
            _ => None,
        }
    }

    /// True for roles that read every farm's data.
    pub fn sees_all_farms(self) -> bool {
        matches!(self, Role::Admin | Role::Staff)
    }
}

/// A signed-up user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Sign-in name.
    pub username: String,
    /// Name shown in the pages.
    pub display_name: String,
    /// The argon2 PHC string of the password.
    #[serde(skip)]
    pub password_hash: String,
    /// What the user may do.
    pub role: Role,
    /// The user's farm (required for farmers and dairy operators).
    pub farm_id: Option<i64>,
    /// Preferred language, `ja` or `en`.
    pub lang: String,
    /// Disabled by an administrator: cannot sign in.
    pub disabled: bool,
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    password_hash: String,
    role: String,
    farm_id: Option<i64>,
    lang: String,
    disabled: bool,
}

impl TryFrom<UserRow> for User {
    type Error = StorageError;

    fn try_from(r: UserRow) -> Result<User, StorageError> {
        let role = Role::parse(&r.role).ok_or(StorageError::NotFound { what: "user role" })?;
        Ok(User {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            password_hash: r.password_hash,
            role,
            farm_id: r.farm_id,
            lang: r.lang,
            disabled: r.disabled,
        })
    }
}

/// What is needed to create a user (the password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Sign-in name.
    pub username: &'a str,
    /// Name shown in the pages.
    pub display_name: &'a str,
    /// argon2 PHC string.
    pub password_hash: &'a str,
    /// Role.
    pub role: Role,
    /// Farm, required for farmer and dairy roles.
    pub farm_id: Option<i64>,
    /// `ja` or `en`.
    pub lang: &'a str,
}

/// The columns of [`UserRow`], as a literal for `concat!`.
macro_rules! user_cols {
    () => {
        "id, username, display_name, password_hash, role, farm_id, lang, \
         (disabled_at IS NOT NULL) AS disabled"
    };
}

impl Db {
    /// The user with this sign-in name, if any.
    ///
    /// # Errors
    /// The database failed.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, StorageError> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ", user_cols!(), " FROM users WHERE username = $1"))
            .bind(username).fetch_optional(pool).await?);
        row.map(User::try_from).transpose()
    }

    /// Every user, by username.
    ///
    /// # Errors
    /// The database failed.
    pub async fn users(&self) -> Result<Vec<User>, StorageError> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ", user_cols!(), " FROM users ORDER BY username"))
            .fetch_all(pool).await?);
        rows.into_iter().map(User::try_from).collect()
    }

    /// Replaces a user's password hash and ends their sessions, except the one hashed `keep`.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown user.
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        tx.set_password(user_id, password_hash, keep).await?;
        tx.commit().await
    }

    /// Disables (ending every session) or re-enables a user.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown user.
    pub async fn set_user_disabled(
        &self,
        user_id: i64,
        disabled: bool,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        tx.set_user_disabled(user_id, disabled).await?;
        tx.commit().await
    }

    /// Changes a user's preferred language.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a language other than `ja`/`en`.
    pub async fn set_user_lang(&self, user_id: i64, lang: &str) -> Result<(), StorageError> {
        on_pool!(self, pool => sqlx::query("UPDATE users SET lang = $1 WHERE id = $2")
            .bind(lang).bind(user_id).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(|e| StorageError::conflict("language", e))?;
        Ok(())
    }
}

impl On<'_> {
    /// Creates a user and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a taken username, a farmer without a farm or an unknown farm.
    async fn create_user(self, u: &NewUser<'_>) -> Result<User, StorageError> {
        let now = Utc::now();
        let row = on_exec!(self, pool => sqlx::query_as::<_, UserRow>(concat!(
            "INSERT INTO users (username, display_name, password_hash, role, farm_id, lang, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ", user_cols!()))
            .bind(u.username).bind(u.display_name).bind(u.password_hash)
            .bind(u.role.as_str()).bind(u.farm_id).bind(u.lang).bind(now)
            .fetch_one(pool).await)
        .map_err(|e| StorageError::conflict("user", e))?;
        row.try_into()
    }

    /// One user by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such user.
    async fn user(self, id: i64) -> Result<User, StorageError> {
        let row = on_exec!(self, pool => sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ", user_cols!(), " FROM users WHERE id = $1"))
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StorageError::NotFound { what: "user" })?
            .try_into()
    }

    /// Changes a user's display name, role, farm and language and returns the user.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown user; [`StorageError::Conflict`] for a farmer
    /// or dairy operator without a farm, an unknown farm or a bad language.
    async fn update_user(
        self,
        id: i64,
        display_name: &str,
        role: Role,
        farm_id: Option<i64>,
        lang: &str,
    ) -> Result<User, StorageError> {
        let row = on_exec!(self, pool => sqlx::query_as::<_, UserRow>(concat!(
            "UPDATE users SET display_name = $1, role = $2, farm_id = $3, lang = $4 WHERE id = $5 \
             RETURNING ", user_cols!()))
            .bind(display_name).bind(role.as_str()).bind(farm_id).bind(lang).bind(id)
            .fetch_optional(pool).await)
        .map_err(|e| StorageError::conflict("user", e))?;
        row.ok_or(StorageError::NotFound { what: "user" })?
            .try_into()
    }
}

impl Db {
    /// Creates a user and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a taken username, a farmer without a farm or an unknown farm.
    pub async fn create_user(&self, u: &NewUser<'_>) -> Result<User, StorageError> {
        self.on().create_user(u).await
    }

    /// One user by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such user.
    pub async fn user(&self, id: i64) -> Result<User, StorageError> {
        self.on().user(id).await
    }

    /// Changes a user's display name, role, farm and language and returns the user.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown user; [`StorageError::Conflict`] for a farmer
    /// or dairy operator without a farm, an unknown farm or a bad language.
    pub async fn update_user(
        &self,
        id: i64,
        display_name: &str,
        role: Role,
        farm_id: Option<i64>,
        lang: &str,
    ) -> Result<User, StorageError> {
        self.on()
            .update_user(id, display_name, role, farm_id, lang)
            .await
    }
}

impl Tx {
    /// Replaces a user's password hash and ends their sessions, except the one hashed `keep`.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown user.
    pub async fn set_password(
        &mut self,
        user_id: i64,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StorageError> {
        on_tx!(self, tx => {
            let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash).bind(user_id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StorageError::NotFound { what: "user" });
            }
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user_id).bind(keep.unwrap_or("")).execute(&mut *tx).await?;
            Ok(())
        })
    }

    /// Disables (ending every session) or re-enables a user.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown user.
    pub async fn set_user_disabled(
        &mut self,
        user_id: i64,
        disabled: bool,
    ) -> Result<(), StorageError> {
        let at = disabled.then(Utc::now);
        on_tx!(self, tx => {
            let n = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
                .bind(at).bind(user_id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StorageError::NotFound { what: "user" });
            }
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id).execute(&mut *tx).await?;
            }
            Ok(())
        })
    }

    /// Creates a user and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a taken username, a farmer without a farm or an unknown farm.
    pub async fn create_user(&mut self, u: &NewUser<'_>) -> Result<User, StorageError> {
        self.on().create_user(u).await
    }

    /// One user by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such user.
    pub async fn user(&mut self, id: i64) -> Result<User, StorageError> {
        self.on().user(id).await
    }

    /// Changes a user's display name, role, farm and language and returns the user.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown user; [`StorageError::Conflict`] for a farmer
    /// or dairy operator without a farm, an unknown farm or a bad language.
    pub async fn update_user(
        &mut self,
        id: i64,
        display_name: &str,
        role: Role,
        farm_id: Option<i64>,
        lang: &str,
    ) -> Result<User, StorageError> {
        self.on()
            .update_user(id, display_name, role, farm_id, lang)
            .await
    }
}
