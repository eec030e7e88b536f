//! The server session manager on every backend: timeouts on the manual clock,
//! per-user eviction under parallel creates, logout against concurrent
//! activity, cleanup, and ids never stored raw.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use session_core::{ManualClock, MemoryStore, SessionStore, SharedClock, SharedSessionStore};
use session_server::{Error, SessionConfig, SessionManager};

static N: AtomicUsize = AtomicUsize::new(0);

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// This process's PostgreSQL table (one suite uses it).
fn pg_table() -> String {
    format!("server_suite_{}", std::process::id())
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn config() -> SessionConfig {
    SessionConfig::from_vars([
        ("SESSION_DEFAULT_TIMEOUT", "600"),
        ("SESSION_MIN_TIMEOUT", "60"),
        ("SESSION_MAX_TIMEOUT", "3600"),
        ("SESSION_ABSOLUTE_TIMEOUT", "7200"),
        ("SESSION_MAX_PER_USER", "3"),
        ("SESSION_ACTIVITY_THROTTLE", "10"),
    ])
    .unwrap()
}

async fn store_for(backend: &str, clock: &ManualClock) -> SharedSessionStore {
    let clock = SharedClock::new(clock.clone());
    match backend {
        "memory" => SharedSessionStore::new(MemoryStore::new().with_clock(clock)),
        "sqlite" => SharedSessionStore::new(
            session_store::SqliteStore::memory()
                .await
                .unwrap()
                .with_clock(clock),
        ),
        "postgres" => SharedSessionStore::new(
            session_store::PostgresStore::connect_table(PG, &pg_table())
                .await
                .unwrap()
                .with_clock(clock),
        ),
        "redis" => SharedSessionStore::new(
            session_store::RedisStore::connect("redis://127.0.0.1:6379/")
                .await
                .unwrap()
                .with_prefix(format!("{}:", unique("server")))
                .with_clock(clock),
        ),
        other => panic!("{other}"),
    }
}

async fn suite(backend: &str) {
    let clock = ManualClock::new(session_core::time::macros::datetime!(2030-01-01 12:00 UTC));
    let store = store_for(backend, &clock).await;
    let manager = SessionManager::new(store.clone(), config())
        .unwrap()
        .with_clock(SharedClock::new(clock.clone()));

    // Bad input is refused the same way on every backend, before the store.
    for user in ["", "a\0b", "tab\there", &"x".repeat(257)] {
        assert!(
            matches!(
                manager.create(user, None, json!({})).await,
                Err(Error::InvalidUserId)
            ),
            "{backend}: {user:?}"
        );
        assert!(matches!(
            manager.list_user(user).await,
            Err(Error::InvalidUserId)
        ));
        assert!(matches!(
            manager.invalidate_user(user).await,
            Err(Error::InvalidUserId)
        ));
    }
    for metadata in [
        json!({"note": "a\0b"}),
        json!({"a\0b": 1}),
        json!({"tags": ["ok", "n\0ul"]}),
    ] {
        assert!(
            matches!(
                manager.create("ada", None, metadata.clone()).await,
                Err(Error::InvalidMetadata)
            ),
            "{backend}: {metadata}"
        );
    }

    // Timeout bounds.
    assert!(matches!(
        manager.create("ada", Some(59), json!({})).await,
        Err(Error::TimeoutOutOfRange { .. })
    ));
    assert!(matches!(
        manager.create("ada", Some(3601), json!({})).await,
        Err(Error::TimeoutOutOfRange { .. })
    ));
    assert!(matches!(
        manager.create("", None, json!({})).await,
        Err(Error::InvalidUserId)
    ));

    // Idle expiry, sliding, throttle.
    let (id, s) = manager
        .create("ada", None, json!({"role": "admin"}))
        .await
        .unwrap();
    assert_eq!(s.timeout_secs, 600);
    clock.advance(Duration::from_secs(599));
    assert!(
        manager.get(id.as_str()).await.unwrap().is_some(),
        "{backend}: live at 599 s"
    );
    manager.touch(id.as_str()).await.unwrap(); // slides: now expires 600 s from here
    clock.advance(Duration::from_secs(599));
    assert!(
        manager.get(id.as_str()).await.unwrap().is_some(),
        "{backend}: slid"
    );
    clock.advance(Duration::from_secs(1));
    assert!(
        manager.get(id.as_str()).await.unwrap().is_none(),
        "{backend}: idle timeout"
    );
    assert!(matches!(
        manager.touch(id.as_str()).await,
        Err(Error::NotFound)
    ));

    // Extend is clamped to the maximum, and the absolute cap wins.
    let (id, _) = manager.create("bob", Some(60), json!({})).await.unwrap();
    let s = manager.extend(id.as_str(), 100_000).await.unwrap();
    assert_eq!(s.timeout_secs, 3600, "{backend}: clamped");
    for _ in 0..3 {
        clock.advance(Duration::from_secs(1800));
        manager.touch(id.as_str()).await.unwrap();
    }
    // 5400 s in; active all along, but the absolute cap is 7200 s.
    clock.advance(Duration::from_secs(1800));
    assert!(
        manager.get(id.as_str()).await.unwrap().is_none(),
        "{backend}: absolute cap"
    );

    // Malformed ids never reach the store.
    assert!(matches!(
        manager.get("short").await,
        Err(Error::MalformedId)
    ));
    assert!(matches!(
        manager.get(&"x".repeat(5000)).await,
        Err(Error::MalformedId)
    ));

    // Per-user maximum under parallel creates: exactly 3 remain, the newest.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let m = manager.clone();
        let c = clock.clone();
        tasks.push(tokio::spawn(async move {
            let _ = c;
            m.create("carol", None, json!({ "n": i })).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().0);
    }
    assert_eq!(
        manager.list_user("carol").await.unwrap().len(),
        3,
        "{backend}: exactly the maximum"
    );
    let live = futures_count(&manager, &ids).await;
    assert_eq!(live, 3, "{backend}");

    // Logout can't be undone by a concurrent activity update.
    for round in 0..10 {
        clock.advance(Duration::from_secs(11)); // past the activity throttle
        let (id, _) = manager
            .create(&format!("dave{round}"), None, json!({}))
            .await
            .unwrap();
        let (a, b) = (manager.clone(), manager.clone());
        let (i1, i2) = (id.as_str().to_owned(), id.as_str().to_owned());
        clock.advance(Duration::from_secs(11));
        let touch = tokio::spawn(async move { a.touch(&i1).await });
        let logout = tokio::spawn(async move { b.invalidate(&i2).await });
        let _ = touch.await.unwrap();
        assert!(logout.await.unwrap().unwrap());
        assert!(
            manager.get(id.as_str()).await.unwrap().is_none(),
            "{backend}: round {round} resurrected"
        );
    }

    // Revoke all, stats, cleanup.
    assert_eq!(manager.invalidate_user("carol").await.unwrap(), 3);
    let (_e, _) = manager.create("erin", Some(60), json!({})).await.unwrap();
    clock.advance(Duration::from_secs(61));
    assert!(manager.cleanup().await.unwrap() >= 1, "{backend}");
    let stats = manager.stats().await.unwrap();
    assert!(
        stats.created >= 15 && stats.evicted == 9,
        "{backend}: {stats:?}"
    );
    assert!(stats.cleaned >= 1);

    // Rotation: the old id stops working.
    let (old, _) = manager
        .create("fay", None, json!({"role": "user"}))
        .await
        .unwrap();
    let (new, s) = manager
        .rotate(old.as_str(), Some(json!({"role": "admin"})))
        .await
        .unwrap();
    assert!(manager.get(old.as_str()).await.unwrap().is_none());
    assert!(s.has_role("admin"));
    assert!(
        manager
            .get(new.as_str())
            .await
            .unwrap()
            .unwrap()
            .has_role("admin")
    );

    // Leave nothing behind on shared servers: every session has an expiry.
    let far = session_core::time::macros::datetime!(2100-01-01 0:00 UTC);
    store.delete_expired(far).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 0);
}

async fn futures_count(manager: &SessionManager, ids: &[session_server::SessionId]) -> usize {
    let mut live = 0;
    for id in ids {
        if manager.get(id.as_str()).await.unwrap().is_some() {
            live += 1;
        }
    }
    live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend() {
    suite("memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend() {
    suite("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend() {
    suite("postgres").await;
    let pool = sqlx::PgPool::connect(PG).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS {}",
        pg_table()
    )))
    .execute(&pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend() {
    suite("redis").await;
}

#[tokio::test(start_paused = true)]
async fn the_cleanup_task_runs_on_its_interval_and_stops_with_the_manager() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let store =
        SharedSessionStore::new(MemoryStore::new().with_clock(SharedClock::new(clock.clone())));
    let manager = SessionManager::new(
        store.clone(),
        SessionConfig::from_vars([
            ("SESSION_MIN_TIMEOUT", "60"),
            ("SESSION_CLEANUP_INTERVAL", "300"),
        ])
        .unwrap(),
    )
    .unwrap()
    .with_clock(SharedClock::new(clock.clone()));
    manager.start_cleanup();
    manager.create("ada", Some(60), json!({})).await.unwrap();
    clock.advance(Duration::from_secs(120));
    assert_eq!(manager.stats().await.unwrap().cleaned, 0);
    tokio::time::sleep(Duration::from_secs(301)).await;
    assert_eq!(manager.stats().await.unwrap().cleaned, 1);
    // Expired sessions never validate, even before a sweep.
    let (id, _) = manager.create("bob", Some(60), json!({})).await.unwrap();
    clock.advance(Duration::from_secs(61));
    assert!(manager.get(id.as_str()).await.unwrap().is_none());
    drop(manager);
    tokio::time::sleep(Duration::from_secs(301)).await; // the task ended with the manager
}

#[tokio::test]
async fn the_sqlite_file_never_contains_a_raw_id() {
    let dir = std::env::temp_dir().join(unique("server_sqlite"));
    let config =
        SessionConfig::from_vars([("SESSION_DB_PATH", dir.join("sessions.db").to_str().unwrap())])
            .unwrap();
    let manager = SessionManager::sqlite(config).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            manager
                .create(&format!("user{i}"), None, json!({"role": "user"}))
                .await
                .unwrap()
                .0,
        );
    }
    drop(manager);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(bytes.windows(5).any(|w| w == b"user0"), "the data is there");
    for id in &ids {
        assert!(
            !bytes
                .windows(id.as_str().len())
                .any(|w| w == id.as_str().as_bytes()),
            "a raw id was stored"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn changes_by_another_process_are_seen_within_the_cache_ttl() {
    for (ttl, seen_at_once) in [("1", false), ("0", true)] {
        let clock = ManualClock::at_unix(1_900_000_000);
        let store =
            SharedSessionStore::new(MemoryStore::new().with_clock(SharedClock::new(clock.clone())));
        let config = SessionConfig::from_vars([("SESSION_CACHE_TTL", ttl)]).unwrap();
        // Two managers on one store stand for two processes.
        let ours = SessionManager::new(store.clone(), config.clone())
            .unwrap()
            .with_clock(SharedClock::new(clock.clone()));
        let theirs = SessionManager::new(store, config)
            .unwrap()
            .with_clock(SharedClock::new(clock.clone()));
        let (id, _) = ours.create("ada", None, json!({})).await.unwrap();
        assert!(ours.get(id.as_str()).await.unwrap().is_some());
        assert!(theirs.get(id.as_str()).await.unwrap().is_some());

        assert!(theirs.invalidate(id.as_str()).await.unwrap());
        assert!(
            theirs.get(id.as_str()).await.unwrap().is_none(),
            "the process that revoked it sees that at once"
        );
        assert_eq!(ours.get(id.as_str()).await.unwrap().is_none(), seen_at_once);
        clock.advance(Duration::from_secs(1));
        assert!(ours.get(id.as_str()).await.unwrap().is_none());
    }
    assert!(matches!(
        SessionConfig::from_vars([("SESSION_CACHE_TTL", "soon")]),
        Err(Error::Config {
            variable: "SESSION_CACHE_TTL",
            ..
        })
    ));
}

#[tokio::test]
async fn activity_written_by_this_process_is_what_the_next_read_sees() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let store =
        SharedSessionStore::new(MemoryStore::new().with_clock(SharedClock::new(clock.clone())));
    let manager = SessionManager::new(store, config())
        .unwrap()
        .with_clock(SharedClock::new(clock.clone()));
    let (id, _) = manager.create("ada", None, json!({})).await.unwrap();
    let before = manager.get(id.as_str()).await.unwrap().unwrap();
    clock.advance(Duration::from_secs(10)); // the throttle
    let touched = manager.touch(id.as_str()).await.unwrap();
    assert!(touched.last_activity > before.last_activity);
    let read = manager.get(id.as_str()).await.unwrap().unwrap();
    assert_eq!(
        read.last_activity, touched.last_activity,
        "not the cached copy"
    );
    let extended = manager.extend(id.as_str(), 60).await.unwrap();
    assert_eq!(
        manager
            .get(id.as_str())
            .await
            .unwrap()
            .unwrap()
            .timeout_secs,
        extended.timeout_secs
    );
    let (new, _) = manager.rotate(id.as_str(), None).await.unwrap();
    assert!(
        manager.get(id.as_str()).await.unwrap().is_none(),
        "the old id is gone at once"
    );
    assert!(manager.get(new.as_str()).await.unwrap().is_some());
    assert_eq!(manager.invalidate_user("ada").await.unwrap(), 1);
    assert!(manager.get(new.as_str()).await.unwrap().is_none());
}
