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
            .arg(format!("*{prefix}*"))
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

/// A one-node Redis Cluster of our own (every slot on one node): a script
/// that touches keys of two hash slots fails there as on a real cluster.
#[cfg(feature = "redis")]
struct ClusterNode {
    child: std::process::Child,
    dir: std::path::PathBuf,
    port: u16,
}

#[cfg(feature = "redis")]
impl ClusterNode {
    async fn start() -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let dir = temp_dir("redis_cluster");
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH (.ci/run installs it)");
        let node = Self { child, dir, port };
        let client = redis::Client::open(node.url()).unwrap();
        let mut conn = None;
        for _ in 0..100 {
            if let Ok(c) = client.get_multiplexed_async_connection().await {
                conn = Some(c);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let mut conn = conn.expect("the cluster node answers");
        let _: () = redis::cmd("CLUSTER")
            .arg("ADDSLOTSRANGE")
            .arg(0)
            .arg(16383)
            .query_async(&mut conn)
            .await
            .unwrap();
        for _ in 0..100 {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut conn)
                .await
                .unwrap();
            if info.contains("cluster_state:ok") {
                return node;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the one-node cluster never came up");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

#[cfg(feature = "redis")]
impl Drop for ClusterNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster() {
    let node = ClusterNode::start().await;
    let url = node.url();
    session_core::conformance::run(move |clock| {
        let url = url.clone();
        async move {
            let store = session_store::RedisStore::connect(&url)
                .await
                .expect("the cluster node")
                .with_prefix(unique("cluster"))
                .with_clock(SharedClock::new(clock));
            SharedSessionStore::new(store)
        }
    })
    .await;
}

/// A sweep larger than one delete batch removes every expired record and
/// nothing else.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sweeps_many_expired_records_in_batches() {
    use session_core::{SessionStore, StoreRecord};
    let store = session_store::SqliteStore::memory().await.unwrap();
    let now = SharedClock::default().now();
    let soon = now + std::time::Duration::from_secs(60);
    for i in 0..1_234 {
        let mut record = StoreRecord::new(serde_json::json!(i));
        record.expires_at = Some(soon);
        store.save(&format!("old-{i}"), &record).await.unwrap();
    }
    for i in 0..7 {
        store
            .save(
                &format!("keep-{i}"),
                &StoreRecord::new(serde_json::json!(i)),
            )
            .await
            .unwrap();
    }
    let later = soon + std::time::Duration::from_secs(1);
    assert_eq!(store.delete_expired(later).await.unwrap(), 1_234);
    assert_eq!(store.delete_expired(later).await.unwrap(), 0);
    assert!(store.load("keep-3").await.unwrap().is_some());
    assert!(store.load("old-600").await.unwrap().is_none());
}
