//! The session-kit side of P5: routes served through `session-server`'s
//! session layer (memory, SQLite or Redis store), or with no session layer
//! at all.
//!
//! Usage: `p5-server none|memory|sqlite|sqlite-uncached|redis [db-path]`
//! (`sqlite-uncached` turns the session cache off, so every request reads
//! the database; `redis` uses 127.0.0.1:6379 with a prefix of its own and
//! the cache off). It creates one session holding `user = "bench"`, then
//! prints `READY <addr> <cookie>` and serves until killed. `cargo xtask
//! bench` points wrk at `/protected` (reads the session) and `/rw` (reads
//! one value and writes another, so every request writes the store).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use session_core::SharedSessionStore;
use session_server::{RequiredSession, SessionConfig, SessionHandle, SessionLayer, SessionManager};
use tower::ServiceExt as _;

async fn protected(RequiredSession(current): RequiredSession) -> String {
    current.session.user_id.clone()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Reads one value, writes another (a new one each time).
async fn read_write(session: SessionHandle) -> Result<String, session_server::Error> {
    let user: Option<String> = session.get("user").await?;
    session
        .insert("last", &COUNTER.fetch_add(1, Ordering::Relaxed))
        .await?;
    Ok(user.unwrap_or_default())
}

async fn setup(session: SessionHandle) -> Result<(), session_server::Error> {
    session.insert("user", "bench").await
}

async fn open(mode: &str, db: Option<String>) -> Option<SessionManager> {
    let uncached = matches!(mode, "sqlite-uncached" | "redis");
    let config = SessionConfig::builder()
        .cookie_name("session")
        .protected_paths(["/protected", "/rw"])
        .log_requests(false)
        .db_path(db.unwrap_or_else(|| "p5-sessions.db".to_owned()))
        .cache_ttl(if uncached {
            std::time::Duration::ZERO
        } else {
            std::time::Duration::from_secs(1)
        })
        .build()
        .expect("a valid configuration");
    match mode {
        "none" => None,
        "memory" => Some(SessionManager::memory(config).expect("a valid configuration")),
        "sqlite" | "sqlite-uncached" => Some(
            SessionManager::sqlite(config)
                .await
                .expect("open the SQLite session store"),
        ),
        "redis" => {
            let store = session_store::RedisStore::connect("redis://127.0.0.1:6379/")
                .await
                .expect("Redis on 127.0.0.1:6379")
                .with_prefix(format!("p5-{}:", std::process::id()));
            Some(
                SessionManager::new(SharedSessionStore::new(store), config)
                    .expect("a valid configuration"),
            )
        }
        other => {
            panic!("unknown mode {other:?}: use none, memory, sqlite, sqlite-uncached or redis")
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "memory".to_owned());
    let db = args.next();
    session_kit_bench::runtime().block_on(async move {
        let manager = open(&mode, db).await;
        let (router, cookie) = match manager {
            None => (
                Router::new()
                    .route("/protected", get(|| async { "bench" }))
                    .route("/rw", get(|| async { "bench" })),
                "session=none".to_owned(),
            ),
            Some(manager) => {
                let (id, _) = manager
                    .create("bench", None, serde_json::json!({}))
                    .await
                    .expect("create the bench session");
                let cookie = format!("session={}", id.as_str());
                let router = Router::new()
                    .route("/protected", get(protected))
                    .route("/rw", get(read_write))
                    .route("/setup", post(setup))
                    .layer(SessionLayer::new(manager));
                let response = router
                    .clone()
                    .oneshot(
                        http::Request::post("/setup")
                            .header("cookie", &cookie)
                            .body(Body::empty())
                            .expect("a request"),
                    )
                    .await
                    .expect("store the bench value");
                assert!(response.status().is_success(), "{}", response.status());
                (router, cookie)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        println!("READY {addr} {cookie}");
        axum::serve(listener, router).await.expect("serve");
    });
}
