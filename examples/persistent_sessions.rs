//! A SessionState with file persistence: auto-save versus manual save,
//! several named sessions and switching between them, the summary line.
//!
//! Run with `cargo run --example persistent_sessions`.

use std::time::Duration;

use session_kit::auth::{SessionRegistry, SessionState};
use session_kit::store::JsonFileStore;
use session_kit::{SharedClock, SharedSessionStore, TokenSet};
use session_kit_examples::step;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("session-kit-persistent-{}", std::process::id()));
    let store = SharedSessionStore::new(JsonFileStore::new(dir.join("sessions.json")));
    let now = SharedClock::default().now();
    let tokens = |access: &str| {
        TokenSet::new(access)
            .with_refresh_token("r")
            .with_expires_in(Duration::from_secs(3600), now)
    };

    step("Auto-save: every change is written (bursts coalesced, one write per second)");
    let auto = SessionState::builder(store.clone(), "trading")
        .open()
        .await?;
    auto.create_session(
        tokens("t-1"),
        Some(serde_json::json!({"name": "Ada"})),
        None,
    );
    for i in 2..=50 {
        auto.update_tokens(tokens(&format!("t-{i}")));
    }
    auto.mark_api_call(Some("api.example.com"));
    auto.close().await?;
    println!("50 token updates cost {} write(s)", auto.writes());

    step("Manual save: nothing is written until save()");
    let manual = SessionState::builder(store.clone(), "monitoring")
        .auto_save(false)
        .open()
        .await?;
    manual.create_session(tokens("m-1"), None, None);
    println!(
        "before save: stored = {}",
        SessionState::builder(store.clone(), "monitoring")
            .open()
            .await?
            .is_valid()
    );
    manual.save().await?;
    println!(
        "after save:  stored = {}",
        SessionState::builder(store.clone(), "monitoring")
            .open()
            .await?
            .is_valid()
    );

    step("A new program run loads the session on creation");
    let again = SessionState::builder(store.clone(), "trading")
        .open()
        .await?;
    println!("trading: {}", again.summary());

    step("Several named sessions, one active");
    let registry = SessionRegistry::new(store.clone());
    for name in ["alpha", "beta", "gamma"] {
        registry.add(name).await?;
    }
    registry
        .get("alpha")
        .unwrap()
        .create_session(tokens("a"), None, None);
    registry
        .get("beta")
        .unwrap()
        .create_session(tokens("b"), None, None);
    registry.switch("beta")?;
    let active = registry.active().unwrap();
    println!(
        "active: {:?} with token {}",
        registry.active_name().unwrap(),
        active.access_token().unwrap().expose_secret()
    );
    println!("sessions: {:?}", registry.list());
    println!("cleaned up: {:?}", registry.cleanup_invalid().await?);
    if let Err(e) = registry.switch("delta") {
        println!("switch to an unknown name: {e}");
    }
    for name in ["alpha", "beta"] {
        registry.get(name).unwrap().close().await?;
    }

    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
