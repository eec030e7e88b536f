//! The tower-sessions side of P5: the same routes behind tower-sessions'
//! `SessionManagerLayer`, on its `MemoryStore`, on tower-sessions-sqlx-store's
//! SQLite store with the PRAGMAs and pool session-kit's SQLite store uses
//! (WAL, `synchronous = NORMAL`, 5 s busy timeout, 8 connections), or on
//! tower-sessions-redis-store (fred) at 127.0.0.1:6379. `/protected` reads
//! the session; `/rw` reads one value and writes another.
//!
//! Usage: `tower-sessions-peer memory|sqlite|redis [db-path]`. It signs in once
//! through its own `/login` route, prints `READY <addr> <cookie>` and serves
//! until killed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header::SET_COOKIE};
use axum::routing::get;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tower::ServiceExt as _;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::SqliteStore;

async fn login(session: Session) -> StatusCode {
    match session.insert("user", "bench").await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn protected(session: Session) -> Result<String, StatusCode> {
    match session.get::<String>("user").await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(StatusCode::UNAUTHORIZED),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

async fn read_write(session: Session) -> Result<String, StatusCode> {
    let user = match session.get::<String>("user").await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(StatusCode::UNAUTHORIZED),
        Err(_) => return Err(StatusCode::INTERNAL_SERVER_ERROR),
    };
    session
        .insert("last", COUNTER.fetch_add(1, Ordering::Relaxed))
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(user)
}

async fn run<S: SessionStore + Clone>(store: S) {
    let router = Router::new()
        .route("/login", get(login))
        .route("/protected", get(protected))
        .route("/rw", get(read_write))
        .layer(
            SessionManagerLayer::new(store)
                .with_name("session")
                .with_secure(false),
        );
    let response = router
        .clone()
        .oneshot(
            Request::get("/login")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    println!("READY {addr} {cookie}");
    axum::serve(listener, router).await.expect("serve");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "memory".to_owned());
    let db = args
        .next()
        .unwrap_or_else(|| "p5-tower-sessions.db".to_owned());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        match mode.as_str() {
            "memory" => run(MemoryStore::default()).await,
            "sqlite" => {
                let options = SqliteConnectOptions::new()
                    .filename(&db)
                    .create_if_missing(true)
                    .busy_timeout(Duration::from_secs(5))
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal);
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await
                    .expect("open the SQLite database");
                let store = SqliteStore::new(pool);
                store.migrate().await.expect("create the session table");
                run(store).await;
            }
            "redis" => {
                use tower_sessions_redis_store::fred::prelude::{ClientLike as _, Config, Pool};
                let config = Config::from_url("redis://127.0.0.1:6379/").expect("a Redis URL");
                let pool = Pool::new(config, None, None, None, 2).expect("a Redis pool");
                let _connection = pool.connect();
                pool.wait_for_connect()
                    .await
                    .expect("Redis on 127.0.0.1:6379");
                run(tower_sessions_redis_store::RedisStore::new(pool)).await;
            }
            other => panic!("unknown mode {other:?}: use memory, sqlite or redis"),
        }
    });
}
