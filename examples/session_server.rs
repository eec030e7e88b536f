//! The seed's session server, on session-kit: `/api/chat` (required
//! session), `/public/info` (optional), `/admin` and `/developer` (roles),
//! `/write` (permission), `/health`, and the session REST endpoints.
//!
//! Run with `cargo run --example session_server --features server`. It reads the `SESSION_*`
//! environment (SQLite at `SESSION_DB_PATH`, default `data/sessions.db`;
//! protected paths `/api/chat,/developer,/tasks` and excluded paths
//! `/docs,/health,/sessions/create` unless `SESSION_PROTECTED_PATHS` and
//! `SESSION_EXCLUDED_PATHS` say otherwise; logs at `SESSION_LOG_LEVEL`),
//! listens on `SESSION_BIND` (default 127.0.0.1:8000), and prints curl
//! commands to try. Creating sessions needs `Authorization: Bearer
//! $SESSION_ADMIN_TOKEN`; without one set, a random token is made and printed.

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use session_kit::server::{
    Admin, Developer, OptionalSession, RequirePermission, RequireRole, RequiredSession,
    SessionConfig, SessionLayer, SessionManager, SessionRoutes, Write,
};

#[derive(Deserialize)]
struct ChatMessage {
    message: String,
}

fn app(manager: SessionManager) -> Router {
    Router::new()
        .route(
            "/api/chat",
            get(|RequiredSession(current): RequiredSession| async move {
                Json(json!({"response": format!("Hello {}!", current.session.user_id)}))
            })
            .post(|RequiredSession(current): RequiredSession, Json(body): Json<ChatMessage>| async move {
                Json(json!({
                    "response": format!("Hello {}! You said: {}", current.session.user_id, body.message)
                }))
            }),
        )
        .route(
            "/public/info",
            get(|OptionalSession(current): OptionalSession| async move {
                Json(match current {
                    Some(c) => json!({"message": format!("Hello {}!", c.session.user_id)}),
                    None => json!({"message": "Hello anonymous user!"}),
                })
            }),
        )
        .route(
            "/admin",
            get(|RequireRole(current, ..): RequireRole<Admin>| async move {
                Json(json!({"admin": current.session.user_id}))
            }),
        )
        .route(
            "/developer",
            get(|RequireRole(current, ..): RequireRole<Developer>| async move {
                Json(json!({"developer": current.session.user_id}))
            }),
        )
        .route(
            "/write",
            get(|_: RequirePermission<Write>| async { Json(json!({"message": "Write access granted"})) }),
        )
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(SessionRoutes::new(manager.clone()).into_router())
        .layer(SessionLayer::new(manager))
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // This app's paths, then whatever the environment says.
    let mut vars: Vec<(String, String)> = vec![
        (
            "SESSION_PROTECTED_PATHS".into(),
            "/api/chat,/developer,/tasks".into(),
        ),
        (
            "SESSION_EXCLUDED_PATHS".into(),
            "/docs,/health,/sessions/create".into(),
        ),
    ];
    vars.extend(std::env::vars().filter(|(k, _)| k.starts_with("SESSION_")));
    let mut config = SessionConfig::from_vars(vars)?;
    tracing_subscriber::fmt()
        .with_max_level(config.tracing_level())
        .with_writer(std::io::stderr)
        .init();
    if config.admin_token.is_none() {
        config.admin_token = Some(random_token());
    }
    let token = config.admin_token.clone().unwrap_or_default();
    let bind = std::env::var("SESSION_BIND").unwrap_or_else(|_| "127.0.0.1:8000".to_owned());
    let manager = SessionManager::sqlite(config.clone()).await?;
    manager.start_cleanup();

    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let url = format!("http://{}", listener.local_addr()?);
    println!(
        "session server on {url} (sessions in {})",
        config.db_path.display()
    );
    println!("admin token: {token}\n");
    println!("# create a session (admin token required)");
    println!(
        "curl -X POST {url}/sessions/create -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n  -d '{{\"user_id\": \"user123\", \"timeout\": 3600, \"metadata\": {{\"role\": \"admin\", \"permissions\": [\"read\", \"write\"]}}}}'"
    );
    println!("# use it");
    println!("curl {url}/api/chat -H 'X-Session-ID: <session_id>'");
    println!(
        "curl -X POST {url}/sessions/<session_id>/extend -H 'X-Session-ID: <session_id>' -H 'Content-Type: application/json' -d '{{\"additional_seconds\": 1800}}'"
    );
    println!("curl {url}/sessions/stats -H 'Authorization: Bearer {token}'");

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    axum::serve(listener, app(manager))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
