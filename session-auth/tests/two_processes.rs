//! Two processes sharing one store and one rotating refresh token: the
//! refresh lease makes them take turns, and the one that waited uses the
//! winner's tokens — the token server never sees a reused refresh token.

mod support;

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use session_auth::{SessionState, SignInProvider, TokenManager};
use session_core::{
    Clock, Expiry, SessionData, SessionStore, SharedSessionStore, StoreRecord, SystemClock,
    TokenSet,
};
use session_store::JsonFileStore;
use support::{Idp, IdpLogin};

const KEY: &str = "shared";

fn manager(url: &str, path: &str) -> TokenManager {
    let store = SharedSessionStore::new(JsonFileStore::new(path));
    TokenManager::builder(SignInProvider::new(IdpLogin::new(url), None))
        .no_retry()
        .state(SessionState::builder(store, KEY).build())
        .build()
}

/// Run in a child process: refreshes again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by two_processes_never_reuse_a_refresh_token in child processes"]
async fn rotation_child() {
    let url = std::env::var("SESSION_KIT_TEST_IDP").unwrap();
    let path = std::env::var("SESSION_KIT_TEST_FILE").unwrap();
    let tokens = manager(&url, &path);
    for round in 0..15 {
        tokens
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_reuse_a_refresh_token() {
    let idp = Idp::new();
    let url = idp.start().await;
    let dir = std::env::temp_dir().join(format!("session-kit-two-proc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sessions.json");

    // Both processes start from the same stored, expired tokens.
    idp.issue("at-0", Some("rt-0"));
    let now = SystemClock.now();
    let stale = TokenSet::new("at-0")
        .with_refresh_token("rt-0")
        .with_expiry(Expiry::new(
            Some(now - Duration::from_secs(7200)),
            Some(now - Duration::from_secs(60)),
        ));
    let store = JsonFileStore::new(&path);
    let data = SessionData::with_tokens(stale, now);
    store
        .save(KEY, &StoreRecord::new(data.to_value().unwrap()))
        .await
        .unwrap();

    let me = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&me)
                .args(["--exact", "rotation_child", "--ignored", "--quiet"])
                .env("SESSION_KIT_TEST_IDP", &url)
                .env("SESSION_KIT_TEST_FILE", &path)
                .spawn()
                .unwrap()
        })
        .collect();
    let statuses: Vec<_> = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|mut c| c.wait().unwrap())
            .collect()
    })
    .await
    .unwrap();
    for status in statuses {
        assert!(status.success(), "a child failed to refresh");
    }

    assert_eq!(
        idp.0.invalid_grants.load(Ordering::SeqCst),
        0,
        "no refresh token was used twice"
    );
    assert!(idp.0.refresh_grants.load(Ordering::SeqCst) >= 15);
    let stored = store.load(KEY).await.unwrap().unwrap();
    let access = stored.data["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(idp.is_live(&access), "the stored token is the newest one");
    std::fs::remove_dir_all(dir).ok();
}
