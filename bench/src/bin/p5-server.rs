//! The session-kit side of P5: a protected route served through
//! `session-server`'s session layer (memory or SQLite store), or with no
//! session layer at all.
//!
//! Usage: `p5-server none|memory|sqlite|sqlite-uncached [db-path]`
//! (`sqlite-uncached` turns the session cache off, so every request reads
//! the database). It creates one session,
//! then prints `READY <addr> <cookie>` and serves until killed; `cargo xtask
//! bench` points wrk at `http://<addr>/protected` with that cookie.

use axum::Router;
use axum::routing::get;
use session_server::{RequiredSession, SessionConfig, SessionLayer, SessionManager};

async fn protected(RequiredSession(current): RequiredSession) -> String {
    current.session.user_id
}

async fn open(mode: &str, db: Option<String>) -> Option<SessionManager> {
    let mut config = SessionConfig::default();
    config.cookie_name = Some("session".to_owned());
    config.protected_paths = vec!["/protected".to_owned()];
    config.log_requests = false;
    config.db_path = db.unwrap_or_else(|| "p5-sessions.db".to_owned()).into();
    match mode {
        "none" => None,
        "memory" => Some(SessionManager::memory(config).expect("a valid configuration")),
        "sqlite" | "sqlite-uncached" => {
            if mode == "sqlite-uncached" {
                config.cache_ttl = std::time::Duration::ZERO;
            }
            Some(
                SessionManager::sqlite(config)
                    .await
                    .expect("open the SQLite session store"),
            )
        }
        other => panic!("unknown mode {other:?}: use none, memory, sqlite or sqlite-uncached"),
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
                Router::new().route("/protected", get(|| async { "bench" })),
                "session=none".to_owned(),
            ),
            Some(manager) => {
                let (id, _) = manager
                    .create("bench", None, serde_json::json!({}))
                    .await
                    .expect("create the bench session");
                let router = Router::new()
                    .route("/protected", get(protected))
                    .layer(SessionLayer::new(manager));
                (router, format!("session={}", id.as_str()))
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
