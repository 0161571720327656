//! Fresh databases for tests: a temporary SQLite file, and a throw-away PostgreSQL database.

use super::Db;

/// A test database that is removed when dropped.
pub(crate) struct TestDb {
    pub(crate) db: Db,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A fresh SQLite database in a temporary directory.
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open_data_dir(dir.path()).await.expect("open sqlite");
        TestDb {
            db,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    /// A fresh PostgreSQL database on `AGRIOPS_TEST_PG` (default: local server, user postgres).
    pub(crate) async fn postgres() -> TestDb {
        let admin_url = admin_url();
        let name = format!(
            "agriops_test_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let admin = Db::connect_admin(&admin_url).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("CREATE DATABASE (is PostgreSQL running on 127.0.0.1:5432?)");
        admin.close().await;
        let url = format!("{}/{}", admin_url.rsplit_once('/').expect("url").0, name);
        let db = Db::connect(&url).await.expect("open postgres");
        TestDb {
            db,
            _dir: None,
            pg_name: Some(name),
        }
    }
}

impl TestDb {
    /// A fresh SQLite database migrated only up to `version`, for upgrade tests.
    pub(crate) async fn sqlite_at(version: i64) -> TestDb {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("old.db"))
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .expect("open sqlite");
        sqlx::migrate!("migrations/sqlite")
            .run_to(version, &pool)
            .await
            .expect("migrate sqlite");
        TestDb {
            db: Db::Sqlite(pool, super::WriteQueue::default()),
            _dir: Some(dir),
            pg_name: None,
        }
    }

    /// A fresh PostgreSQL database migrated only up to `version`, for upgrade tests.
    pub(crate) async fn postgres_at(version: i64) -> TestDb {
        let admin_url = admin_url();
        let name = format!(
            "agriops_test_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let admin = Db::connect_admin(&admin_url).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("CREATE DATABASE (is PostgreSQL running on 127.0.0.1:5432?)");
        admin.close().await;
        let url = format!("{}/{}", admin_url.rsplit_once('/').expect("url").0, name);
        let pool = Db::connect_admin(&url).await;
        sqlx::migrate!("migrations/postgres")
            .run_to(version, &pool)
            .await
            .expect("migrate postgres");
        TestDb {
            db: Db::Postgres(pool),
            _dir: None,
            pg_name: Some(name),
        }
    }

    /// Applies every migration not applied yet, as a server starting on the new version does.
    pub(crate) async fn migrate(&self) {
        match &self.db {
            Db::Sqlite(pool, _) => sqlx::migrate!("migrations/sqlite").run(pool).await,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
        }
        .expect("migrate");
    }
}

fn admin_url() -> String {
    std::env::var("AGRIOPS_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl Db {
    async fn connect_admin(url: &str) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .expect("connect to PostgreSQL (is it running on 127.0.0.1:5432?)")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop the database from a fresh runtime-free connection in a helper thread.
            let url = admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
                        .max_connections(1)
                        .connect(&url)
                        .await
                    {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&pool)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Runs `$body` as two async tests, `sqlite` and `postgres`, each with a fresh `$db: &Db`.
macro_rules! both_backends {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let t = $crate::storage::testdb::TestDb::sqlite().await;
                let $db = &t.db;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let t = $crate::storage::testdb::TestDb::postgres().await;
                let $db = &t.db;
                $body
                t.db.close().await;
            }
        }
    };
}
pub(crate) use both_backends;
