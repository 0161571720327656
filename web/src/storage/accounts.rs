//! Districts, farms, users and sign-in sessions.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, On, StorageError, Tx, on_exec, on_pool, on_tx};

/// Browsers remembered per user for the sign-in limiter; older ones are forgotten.
pub const MAX_KNOWN_DEVICES: i64 = 20;

/// A district of Nasushiobara (黒磯, 西那須野, 塩原 …).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct District {
    /// Row id.
    pub id: i64,
    /// Stable ASCII code (`kuroiso`).
    pub code: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
}

/// A farm (crop, dairy or both) in a district.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Farm {
    /// Row id.
    pub id: i64,
    /// The district it belongs to.
    pub district_id: i64,
    /// Farm name, unique within its district.
    pub name: String,
    /// `crop`, `dairy` or `mixed`.
    pub kind: String,
    /// Postal address, free text.
    pub address: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

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
struct UserRow {
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

/// One district's figures for the staff overview.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DistrictOverview {
    /// District id.
    pub id: i64,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Farms registered.
    pub farms: i64,
    /// Fields registered.
    pub fields: i64,
    /// Their area, hectares.
    pub field_ha: f64,
    /// Spray plans made.
    pub plans: i64,
    /// Rotary parlors reporting.
    pub parlors: i64,
    /// Cows milked in the day bucket asked for.
    pub cows_day: f64,
    /// Milk in that day, kg.
    pub milk_kg_day: f64,
}

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

/// The columns of [`UserRow`], as a literal for `concat!`.
macro_rules! user_cols {
    () => {
        "id, username, display_name, password_hash, role, farm_id, lang, \
         (disabled_at IS NOT NULL) AS disabled"
    };
}

impl Db {
    /// Every district, in id order.
    ///
    /// # Errors
    /// The database failed.
    pub async fn districts(&self) -> Result<Vec<District>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, District>(
            "SELECT id, code, name_ja, name_en FROM districts ORDER BY id")
            .fetch_all(pool).await?))
    }

    /// Per-district counts and the milking totals of the day starting at `day_start`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn district_overview(
        &self,
        day_start: DateTime<Utc>,
    ) -> Result<Vec<DistrictOverview>, StorageError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, DistrictOverview>(
            "SELECT d.id, d.name_ja, d.name_en, \
               (SELECT COUNT(*) FROM farms f WHERE f.district_id = d.id) AS farms, \
               (SELECT COUNT(*) FROM fields fl JOIN farms f ON f.id = fl.farm_id \
                  WHERE f.district_id = d.id) AS fields, \
               (SELECT COALESCE(SUM(fl.area_ha), 0.0) FROM fields fl JOIN farms f ON f.id = fl.farm_id \
                  WHERE f.district_id = d.id) AS field_ha, \
               (SELECT COUNT(*) FROM plans pl JOIN fields fl ON fl.id = pl.field_id \
                  JOIN farms f ON f.id = fl.farm_id WHERE f.district_id = d.id) AS plans, \
               (SELECT COUNT(*) FROM parlors p JOIN farms f ON f.id = p.farm_id \
                  WHERE f.district_id = d.id) AS parlors, \
               (SELECT COALESCE(SUM(r.cows), 0.0) FROM parlor_rollups r \
                  JOIN parlors p ON p.id = r.parlor_id JOIN farms f ON f.id = p.farm_id \
                  WHERE f.district_id = d.id AND r.granularity = 'day' AND r.bucket_start = $1) AS cows_day, \
               (SELECT COALESCE(SUM(r.milk_kg), 0.0) FROM parlor_rollups r \
                  JOIN parlors p ON p.id = r.parlor_id JOIN farms f ON f.id = p.farm_id \
                  WHERE f.district_id = d.id AND r.granularity = 'day' AND r.bucket_start = $1) AS milk_kg_day \
             FROM districts d ORDER BY d.id")
            .bind(day_start).fetch_all(pool).await?),
        )
    }

    /// Every farm, by district then name.
    ///
    /// # Errors
    /// The database failed.
    pub async fn farms(&self) -> Result<Vec<Farm>, StorageError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Farm>(
            "SELECT id, district_id, name, kind, address, created_at FROM farms \
             ORDER BY district_id, name")
            .fetch_all(pool).await?))
    }

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
    /// Registers a farm and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a duplicate name in the district or an unknown district.
    async fn create_farm(
        self,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        let now = Utc::now();
        on_exec!(self, pool => sqlx::query_as::<_, Farm>(
            "INSERT INTO farms (district_id, name, kind, address, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, district_id, name, kind, address, created_at")
            .bind(district_id).bind(name).bind(kind).bind(address).bind(now)
            .fetch_one(pool).await)
        .map_err(|e| StorageError::conflict("farm", e))
    }

    /// One farm by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such farm.
    async fn farm(self, id: i64) -> Result<Farm, StorageError> {
        on_exec!(self, pool => sqlx::query_as::<_, Farm>(
            "SELECT id, district_id, name, kind, address, created_at FROM farms WHERE id = $1")
            .bind(id).fetch_optional(pool).await?)
        .ok_or(StorageError::NotFound { what: "farm" })
    }

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

    /// Changes a farm's district, name, kind and address and returns it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown farm; [`StorageError::Conflict`] for a
    /// duplicate name in the district, an unknown district or a bad kind.
    async fn update_farm(
        self,
        id: i64,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        on_exec!(self, pool => sqlx::query_as::<_, Farm>(
            "UPDATE farms SET district_id = $1, name = $2, kind = $3, address = $4 WHERE id = $5 \
             RETURNING id, district_id, name, kind, address, created_at")
            .bind(district_id).bind(name).bind(kind).bind(address).bind(id)
            .fetch_optional(pool).await)
        .map_err(|e| StorageError::conflict("farm", e))?
        .ok_or(StorageError::NotFound { what: "farm" })
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
    /// Registers a farm and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a duplicate name in the district or an unknown district.
    pub async fn create_farm(
        &self,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        self.on()
            .create_farm(district_id, name, kind, address)
            .await
    }

    /// One farm by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such farm.
    pub async fn farm(&self, id: i64) -> Result<Farm, StorageError> {
        self.on().farm(id).await
    }

    /// Creates a user and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a taken username, a farmer without a farm or an unknown farm.
    pub async fn create_user(&self, u: &NewUser<'_>) -> Result<User, StorageError> {
        self.on().create_user(u).await
    }

    /// Changes a farm's district, name, kind and address and returns it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown farm; [`StorageError::Conflict`] for a
    /// duplicate name in the district, an unknown district or a bad kind.
    pub async fn update_farm(
        &self,
        id: i64,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        self.on()
            .update_farm(id, district_id, name, kind, address)
            .await
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

    /// Registers a farm and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a duplicate name in the district or an unknown district.
    pub async fn create_farm(
        &mut self,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        self.on()
            .create_farm(district_id, name, kind, address)
            .await
    }

    /// One farm by id.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when there is no such farm.
    pub async fn farm(&mut self, id: i64) -> Result<Farm, StorageError> {
        self.on().farm(id).await
    }

    /// Creates a user and returns it.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] for a taken username, a farmer without a farm or an unknown farm.
    pub async fn create_user(&mut self, u: &NewUser<'_>) -> Result<User, StorageError> {
        self.on().create_user(u).await
    }

    /// Changes a farm's district, name, kind and address and returns it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown farm; [`StorageError::Conflict`] for a
    /// duplicate name in the district, an unknown district or a bad kind.
    pub async fn update_farm(
        &mut self,
        id: i64,
        district_id: i64,
        name: &str,
        kind: &str,
        address: &str,
    ) -> Result<Farm, StorageError> {
        self.on()
            .update_farm(id, district_id, name, kind, address)
            .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testdb::both_backends;

    both_backends!(farms_and_users, |db| {
        let districts = db.districts().await.unwrap();
        let names: Vec<_> = districts.iter().map(|d| d.name_ja.as_str()).collect();
        assert_eq!(names, ["黒磯", "西那須野", "塩原"]);

        let farm = db
            .create_farm(districts[0].id, "高林牧場", "dairy", "那須塩原市高林")
            .await
            .unwrap();
        assert_eq!(db.farm(farm.id).await.unwrap(), farm);
        let dup = db
            .create_farm(districts[0].id, "高林牧場", "dairy", "")
            .await;
        assert!(matches!(dup, Err(StorageError::Conflict { .. })), "{dup:?}");
        let bad_kind = db.create_farm(districts[0].id, "x", "fishery", "").await;
        assert!(
            matches!(bad_kind, Err(StorageError::Conflict { .. })),
            "{bad_kind:?}"
        );

        let u = db
            .create_user(&NewUser {
                username: "tanaka",
                display_name: "田中",
                password_hash: "$argon2id$x",
                role: Role::Dairy,
                farm_id: Some(farm.id),
                lang: "ja",
            })
            .await
            .unwrap();
        assert_eq!(
            db.user_by_username("tanaka").await.unwrap(),
            Some(u.clone())
        );
        assert_eq!(db.user_by_username("nobody").await.unwrap(), None);
        // A farmer without a farm is refused by the schema.
        let orphan = db
            .create_user(&NewUser {
                username: "orphan",
                display_name: "o",
                password_hash: "h",
                role: Role::Farmer,
                farm_id: None,
                lang: "ja",
            })
            .await;
        assert!(
            matches!(orphan, Err(StorageError::Conflict { .. })),
            "{orphan:?}"
        );

        let exp = Utc::now() + chrono::Duration::hours(1);
        db.create_session("h1", u.id, "csrf1", exp).await.unwrap();
        let s = db.session("h1").await.unwrap().expect("session");
        assert_eq!(s.user, u);
        assert_eq!(s.csrf_token, "csrf1");
        db.create_session(
            "h2",
            u.id,
            "csrf2",
            Utc::now() - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
        assert!(
            db.session("h2").await.unwrap().is_none(),
            "expired session must not load"
        );
        db.delete_session("h1").await.unwrap();
        assert!(db.session("h1").await.unwrap().is_none());

        let o = db.district_overview(Utc::now()).await.unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!((o[0].farms, o[0].fields, o[0].parlors), (1, 0, 0));
        assert_eq!(o[0].field_ha, 0.0);
        assert_eq!(o[1].farms, 0);

        db.set_user_lang(u.id, "en").await.unwrap();
        assert_eq!(
            db.user_by_username("tanaka").await.unwrap().unwrap().lang,
            "en"
        );
        assert!(db.set_user_lang(u.id, "fr").await.is_err());
    });
}
