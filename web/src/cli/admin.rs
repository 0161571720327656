//! `agriops user|farm|token …`: administration from the shell (the same as the admin pages).

use std::io::BufRead;

use anyhow::{Context, bail};

use super::serve::DbArgs;
use crate::services::accounts;
use crate::storage::{NewUser, Role};

/// `agriops user …`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// What to do with users.
    #[command(subcommand)]
    pub action: UserAction,
}

/// User actions.
#[derive(Debug, clap::Subcommand)]
pub enum UserAction {
    /// Create a user; the password is read from stdin (one line) or generated and printed.
    Add {
        /// Sign-in name.
        username: String,
        /// admin, staff, farmer or dairy.
        #[arg(long)]
        role: String,
        /// Farm id (required for farmer and dairy).
        #[arg(long)]
        farm: Option<i64>,
        /// Name shown in the pages (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Preferred language, ja or en.
        #[arg(long, default_value = "ja")]
        lang: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Set a user's password (read from stdin, or generated and printed); ends their sessions.
    Passwd {
        /// Sign-in name.
        username: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: they cannot sign in and their sessions end.
    Disable {
        /// Sign-in name.
        username: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Sign-in name.
        username: String,
    },
}

/// A password from stdin's first line, or a generated one (`true` when generated).
fn read_or_make_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    let (password, generated) = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (
            crate::services::credentials::new_token()[..16].to_owned(),
            true,
        )
    };
    if password.chars().count() < crate::http::routes::account::MIN_PASSWORD_CHARS {
        bail!("the password must have at least 8 characters");
    }
    Ok((password, generated))
}

/// `agriops farm …`.
#[derive(Debug, clap::Args)]
pub struct FarmArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// What to do with farms.
    #[command(subcommand)]
    pub action: FarmAction,
}

/// Farm actions.
#[derive(Debug, clap::Subcommand)]
pub enum FarmAction {
    /// Register a farm in a district.
    Add {
        /// Farm name.
        name: String,
        /// District code: kuroiso, nishinasuno or shiobara.
        #[arg(long)]
        district: String,
        /// crop, dairy or mixed.
        #[arg(long)]
        kind: String,
        /// Address.
        #[arg(long, default_value = "")]
        address: String,
    },
    /// List farms.
    List,
}

/// `agriops token …`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// What to do with bridge tokens.
    #[command(subcommand)]
    pub action: TokenAction,
}

/// Bridge-token actions.
#[derive(Debug, clap::Subcommand)]
pub enum TokenAction {
    /// Create a bridge token for a farm; it is printed once and stored only as a hash.
    Add {
        /// Farm id.
        #[arg(long)]
        farm: i64,
        /// A name to recognise the bridge by.
        #[arg(long)]
        name: String,
    },
    /// Revoke a bridge token by id.
    Revoke {
        /// Token id.
        id: i64,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

/// Disables or enables `username`, with an audit entry.
async fn set_disabled(
    db: &crate::storage::Db,
    username: &str,
    disable: bool,
) -> anyhow::Result<()> {
    let u = db
        .user_by_username(username)
        .await?
        .with_context(|| format!("no user {username:?}"))?;
    accounts::set_disabled(db, None, u.id, disable).await?;
    println!(
        "{} {}",
        u.username,
        if disable {
            "disabled; their sessions ended"
        } else {
            "enabled"
        }
    );
    Ok(())
}

/// Runs `agriops user …`.
///
/// # Errors
/// Bad options, a taken username, or a database failure.
pub fn run_user(args: UserArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let db = args.db.open().await?;
        match args.action {
            UserAction::Add {
                username,
                role,
                farm,
                display_name,
                lang,
                password_stdin,
            } => {
                let role = Role::parse(&role).with_context(|| {
                    format!("unknown role {role:?}: admin, staff, farmer or dairy")
                })?;
                if !role.sees_all_farms() && farm.is_none() {
                    bail!("a {} needs --farm ID", role.as_str());
                }
                if lang != "ja" && lang != "en" {
                    bail!("--lang must be ja or en");
                }
                let (password, generated) = read_or_make_password(password_stdin)?;
                let hash = crate::services::credentials::hash_password(&password)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let display = display_name.unwrap_or_else(|| username.clone());
                let u = accounts::add_user(
                    &db,
                    None,
                    &NewUser {
                        username: &username,
                        display_name: &display,
                        password_hash: &hash,
                        role,
                        farm_id: farm,
                        lang: &lang,
                    },
                )
                .await?;
                println!(
                    "user {} (id {}) created as {}",
                    u.username,
                    u.id,
                    role.as_str()
                );
                if generated {
                    println!("password: {password}");
                }
            }
            UserAction::Passwd {
                username,
                password_stdin,
            } => {
                let u = db
                    .user_by_username(&username)
                    .await?
                    .with_context(|| format!("no user {username:?}"))?;
                let (password, generated) = read_or_make_password(password_stdin)?;
                let hash = crate::services::credentials::hash_password(&password)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                accounts::reset_password(&db, None, u.id, &hash).await?;
                println!("password of {} changed; their sessions ended", u.username);
                if generated {
                    println!("password: {password}");
                }
            }
            UserAction::Disable { username } => set_disabled(&db, &username, true).await?,
            UserAction::Enable { username } => set_disabled(&db, &username, false).await?,
            UserAction::List => {
                for u in db.users().await? {
                    let farm = u
                        .farm_id
                        .map(|f| f.to_string())
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "{}\t{}\t{}\tfarm {}\t{}{}",
                        u.id,
                        u.username,
                        u.role.as_str(),
                        farm,
                        u.display_name,
                        if u.disabled { "\t(disabled)" } else { "" }
                    );
                }
            }
        }
        db.close().await;
        Ok(())
    })
}

/// Runs `agriops farm …`.
///
/// # Errors
/// An unknown district, a duplicate farm, or a database failure.
pub fn run_farm(args: FarmArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let db = args.db.open().await?;
        match args.action {
            FarmAction::Add {
                name,
                district,
                kind,
                address,
            } => {
                let districts = db.districts().await?;
                let d = districts
                    .iter()
                    .find(|d| d.code == district || d.name_ja == district)
                    .with_context(|| {
                        let codes: Vec<_> = districts.iter().map(|d| d.code.as_str()).collect();
                        format!("unknown district {district:?}; one of {}", codes.join(", "))
                    })?;
                let f = accounts::add_farm(
                    &db,
                    None,
                    accounts::FarmChange {
                        district_id: d.id,
                        name: &name,
                        kind: &kind,
                        address: &address,
                    },
                )
                .await?;
                println!("farm {} (id {}) created in {}", f.name, f.id, d.name_ja);
            }
            FarmAction::List => {
                for f in db.farms().await? {
                    println!(
                        "{}\t{}\t{}\tdistrict {}",
                        f.id, f.name, f.kind, f.district_id
                    );
                }
            }
        }
        db.close().await;
        Ok(())
    })
}

/// Runs `agriops token …`.
///
/// # Errors
/// An unknown farm or token, or a database failure.
pub fn run_token(args: TokenArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let db = args.db.open().await?;
        match args.action {
            TokenAction::Add { farm, name } => {
                db.farm(farm).await?;
                let token = crate::services::credentials::new_token();
                let id = accounts::add_token(
                    &db,
                    None,
                    farm,
                    &name,
                    &crate::services::credentials::token_hash(&token),
                )
                .await?;
                println!("bridge token {id} for farm {farm}: {token}");
                println!("(shown once; put it in the bridge's config as `token`)");
            }
            TokenAction::Revoke { id } => {
                accounts::revoke_token(&db, None, id).await?;
                println!("bridge token {id} revoked");
            }
        }
        db.close().await;
        Ok(())
    })
}
