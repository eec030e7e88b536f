//! Every backend against the one store conformance suite. Real servers for
//! PostgreSQL and Redis; each run isolates itself (table, key prefix).

use std::sync::atomic::{AtomicUsize, Ordering};

use session_core::{MemoryStore, SharedClock, SharedSessionStore};

static N: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    session_core::conformance::run(|clock| async move {
        SharedSessionStore::new(MemoryStore::new().with_clock(SharedClock::new(clock)))
    })
    .await;
}

#[cfg(feature = "file")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_file() {
    let dir = temp_dir("json_file");
    let d = dir.clone();
    session_core::conformance::run(move |clock| {
        let path = d.join(unique("s")).with_extension("json");
        async move {
            SharedSessionStore::new(
                session_store::JsonFileStore::new(path).with_clock(SharedClock::new(clock)),
            )
        }
    })
    .await;
    std::fs::remove_dir_all(dir).ok();
}

#[cfg(feature = "encrypted")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_file() {
    use session_store::{EncryptedFileStore, EncryptionKey};
    let dir = temp_dir("encrypted_file");
    let d = dir.clone();
    session_core::conformance::run(move |clock| {
        let path = d.join(unique("s")).with_extension("bin");
        async move {
            SharedSessionStore::new(
                EncryptedFileStore::new(path, EncryptionKey::from_bytes([9; 32]))
                    .with_clock(SharedClock::new(clock)),
            )
        }
    })
    .await;
    std::fs::remove_dir_all(dir).ok();
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory() {
    session_core::conformance::run(|clock| async move {
        let store = session_store::SqliteStore::memory()
            .await
            .unwrap()
            .with_clock(SharedClock::new(clock));
        SharedSessionStore::new(store)
    })
    .await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file() {
    let dir = temp_dir("sqlite_file");
    let d = dir.clone();
    session_core::conformance::run(move |clock| {
        let path = d.join(unique("s")).with_extension("db");
        async move {
            let store = session_store::SqliteStore::open(path)
                .await
                .unwrap()
                .with_clock(SharedClock::new(clock));
            SharedSessionStore::new(store)
        }
    })
    .await;
    std::fs::remove_dir_all(dir).ok();
}

#[cfg(feature = "postgres")]
const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let tables = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let t = tables.clone();
    session_core::conformance::run(move |clock| {
        let table = unique("conformance");
        t.lock().push(table.clone());
        async move {
            let store = session_store::PostgresStore::connect_table(PG_URL, &table)
                .await
                .expect("PostgreSQL on 127.0.0.1:5432, database test")
                .with_clock(SharedClock::new(clock));
            SharedSessionStore::new(store)
        }
    })
    .await;
    let pool = sqlx::PgPool::connect(PG_URL).await.unwrap();
    let names: Vec<String> = tables.lock().drain(..).collect();
    for table in names {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
            .execute(&pool)
            .await
            .unwrap();
    }
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    let prefixes = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let p = prefixes.clone();
    session_core::conformance::run(move |clock| {
        let prefix = format!("{}:", unique("conformance"));
        p.lock().push(prefix.clone());
        async move {
            let store = session_store::RedisStore::connect("redis://127.0.0.1:6379/")
                .await
                .expect("Redis on 127.0.0.1:6379")
                .with_prefix(prefix)
                .with_clock(SharedClock::new(clock));
            SharedSessionStore::new(store)
        }
    })
    .await;
    // Leave nothing behind.
    let client = redis::Client::open("redis://127.0.0.1:6379/").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let names: Vec<String> = prefixes.lock().drain(..).collect();
    for prefix in names {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}
