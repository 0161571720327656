use std::time::Duration;

use super::testdb::{TestDb, both_backends};
use super::{Db, StorageError};

/// 16 write transactions at once that each read, pause, then write.
async fn read_then_write_concurrently(db: &Db) -> Vec<Result<(), StorageError>> {
    let district = db.districts().await.unwrap()[0].id;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await?;
                let n: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM farms")
                    .fetch_one(&mut *c).await?);
                tokio::time::sleep(Duration::from_millis(5)).await;
                tx.create_farm(district, &format!("farm {i} after {n}"), "crop", "")
                    .await?;
                tx.commit().await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

both_backends!(
    concurrent_write_transactions_wait_instead_of_failing,
    |db| {
        let before = db.farms().await.unwrap().len();
        for r in read_then_write_concurrently(db).await {
            r.unwrap();
        }
        assert_eq!(db.farms().await.unwrap().len(), before + 16);
    }
);

/// Why SQLite write transactions begin IMMEDIATE: the same load on deferred transactions
/// fails at once with "database is locked" (SQLITE_BUSY), whatever the busy timeout.
#[tokio::test]
async fn sqlite_deferred_transactions_fail_under_the_same_load() {
    let t = TestDb::sqlite().await;
    let Db::Sqlite(pool, _) = &t.db else {
        panic!("not SQLite")
    };
    let district = t.db.districts().await.unwrap()[0].id;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut tx = pool.begin().await?;
                let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM farms")
                    .fetch_one(&mut *tx)
                    .await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
                sqlx::query(
                    "INSERT INTO farms (district_id, name, kind, address, created_at) \
                     VALUES ($1, $2, 'crop', '', '2026-01-01T00:00:00Z')",
                )
                .bind(district)
                .bind(format!("deferred {i}"))
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            })
        })
        .collect();
    let mut locked = 0;
    for task in tasks {
        if let Err(e) = task.await.expect("task") {
            assert!(e.to_string().contains("database is locked"), "{e}");
            locked += 1;
        }
    }
    assert!(locked > 0, "every deferred transaction went through");
}

both_backends!(a_dropped_transaction_leaves_nothing, |db| {
    let district = db.districts().await.unwrap()[0].id;
    let before = db.farms().await.unwrap().len();
    let mut tx = db.begin().await.unwrap();
    tx.create_farm(district, "never", "crop", "").await.unwrap();
    let farm = tx.create_farm(district, "kept?", "crop", "").await.unwrap();
    tx.audit_farm_added(None, &farm).await.unwrap();
    drop(tx);
    assert_eq!(db.farms().await.unwrap().len(), before);
    assert!(db.audit_log(10).await.unwrap().is_empty());
});

/// PostgreSQL connections run without JIT, whose compile time dwarfed our short queries.
#[tokio::test]
async fn postgres_connections_run_without_jit() {
    let t = TestDb::postgres().await;
    let Db::Postgres(pool) = &t.db else {
        panic!("not PostgreSQL")
    };
    let jit: String = sqlx::query_scalar("SHOW jit")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(jit, "off");
    t.db.close().await;
}
