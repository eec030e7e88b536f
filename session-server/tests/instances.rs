//! Many server instances on one store: two managers, each with its own
//! connection, lock stripes and cache, stand for two processes. The
//! per-user maximum holds across them, and a revocation on one is refused
//! by the other on its next request (cache off) or within the cache's
//! time to live.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use session_core::{ManualClock, SharedClock, SharedSessionStore};
use session_server::{SessionConfig, SessionManager};

static N: AtomicUsize = AtomicUsize::new(0);

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh store on `backend`, and a function that opens another
/// connection to the same one.
async fn open(backend: &str, name: &str, clock: &ManualClock) -> SharedSessionStore {
    let clock = SharedClock::new(clock.clone());
    match backend {
        "postgres" => SharedSessionStore::new(
            session_store::PostgresStore::connect_table(PG, name)
                .await
                .expect("PostgreSQL on 127.0.0.1:5432, database test")
                .with_clock(clock),
        ),
        "redis" => SharedSessionStore::new(
            session_store::RedisStore::connect("redis://127.0.0.1:6379/")
                .await
                .expect("Redis on 127.0.0.1:6379")
                .with_prefix(format!("{name}:"))
                .with_clock(clock),
        ),
        other => panic!("{other}"),
    }
}

fn config(cache_ttl: u64) -> SessionConfig {
    SessionConfig::builder()
        .max_per_user(3)
        .cache_ttl(Duration::from_secs(cache_ttl))
        .build()
        .unwrap()
}

async fn two_instances(backend: &str) {
    let clock = ManualClock::new(session_core::time::macros::datetime!(2030-01-01 12:00 UTC));
    let name = unique("instances");
    let pair = |ttl: u64| {
        let (clock, name) = (clock.clone(), name.clone());
        async move {
            let a = SessionManager::new(open(backend, &name, &clock).await, config(ttl))
                .unwrap()
                .with_clock(SharedClock::new(clock.clone()));
            let b = SessionManager::new(open(backend, &name, &clock).await, config(ttl))
                .unwrap()
                .with_clock(SharedClock::new(clock.clone()));
            (a, b)
        }
    };
    let (a, b) = pair(0).await;

    // 20 concurrent creates for one user, split across the instances, in
    // a few rounds so an interleaving that breaks the limit shows up.
    let mut ids = Vec::new();
    for _round in 0..5 {
        let creates: Vec<_> = (0..20)
            .map(|i| {
                let manager = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { manager.create("ada", None, json!({})).await })
            })
            .collect();
        for create in creates {
            let (id, _) = create.await.unwrap().expect("every create succeeds");
            ids.push(id);
        }
        let live = a.list_user("ada").await.unwrap().len();
        assert!(
            live <= 3,
            "{backend}: {live} live sessions for a maximum of 3"
        );
    }
    let live_a = a.list_user("ada").await.unwrap().len();
    let live_b = b.list_user("ada").await.unwrap().len();
    assert_eq!(
        (live_a, live_b),
        (3, 3),
        "{backend}: the maximum holds across instances"
    );
    let mut reachable = 0;
    for id in &ids {
        if b.get(id.as_str()).await.unwrap().is_some() {
            reachable += 1;
        }
    }
    assert_eq!(
        reachable, 3,
        "{backend}: exactly the three kept sessions work"
    );

    // Revoked on A: refused by B at once with the cache off…
    let (id, _) = a.create("bob", None, json!({})).await.unwrap();
    assert!(b.get(id.as_str()).await.unwrap().is_some());
    assert!(a.invalidate(id.as_str()).await.unwrap());
    assert!(
        b.get(id.as_str()).await.unwrap().is_none(),
        "{backend}: revocation is seen on the next request"
    );

    // …and within the cache's time to live with it on.
    let (a, b) = pair(5).await;
    let (id, _) = a.create("cy", None, json!({})).await.unwrap();
    assert!(b.get(id.as_str()).await.unwrap().is_some(), "cached by B");
    assert!(a.invalidate(id.as_str()).await.unwrap());
    clock.advance(Duration::from_secs(5));
    assert!(
        b.get(id.as_str()).await.unwrap().is_none(),
        "{backend}: refused once B's copy is older than the cache TTL"
    );

    if backend == "postgres" {
        let pool = sqlx::PgPool::connect(PG).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
            .execute(&pool)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis() {
    two_instances("redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres() {
    two_instances("postgres").await;
}
