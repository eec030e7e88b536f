//! SessionState and the registry: lifecycle, persistence, coalesced
//! auto-save (counted on paused time), isolation of named sessions.

use std::time::Duration;

use session_auth::{LoginResult, SessionRegistry, SessionState};
use session_core::url::Url;
use session_core::{
    Clock, CookieJar, CountingStore, ManualClock, MemoryStore, NamedCredential, SessionStore,
    SharedClock, SharedSessionStore, TokenSet,
};

fn tokens(clock: &ManualClock, access: &str) -> TokenSet {
    TokenSet::new(access)
        .with_refresh_token(format!("r-{access}"))
        .with_expires_in(Duration::from_secs(3600), clock.now())
}

#[tokio::test]
async fn the_seed_lifecycle() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let store = SharedSessionStore::new(MemoryStore::new());
    let open = || {
        SessionState::builder(store.clone(), "axiom")
            .clock(SharedClock::new(clock.clone()))
            .open()
    };
    let manager = open().await.unwrap();
    assert!(!manager.is_valid());
    assert_eq!(manager.summary(), "Session: NONE");

    let url = Url::parse("https://api.example.com/").unwrap();
    let mut jar = CookieJar::default();
    jar.insert_set_cookie("auth-access-token=c1; Path=/", &url);
    manager.create_session_from_login(
        LoginResult::new(tokens(&clock, "a1")).with_user_info(serde_json::json!({"id": "u1"})),
        Some(jar),
    );
    assert!(manager.is_valid());
    assert!(!manager.needs_refresh());
    assert_eq!(manager.access_token().unwrap().expose_secret(), "a1");
    assert_eq!(manager.refresh_token().unwrap().expose_secret(), "r-a1");
    assert_eq!(
        manager.cookie_header(&url).as_deref(),
        Some("auth-access-token=c1")
    );

    clock.advance(Duration::from_secs(50 * 60));
    assert!(manager.needs_refresh());
    manager
        .update_tokens(TokenSet::new("a2").with_expires_in(Duration::from_secs(3600), clock.now()));
    assert_eq!(
        manager.refresh_token().unwrap().expose_secret(),
        "r-a1",
        "kept when not rotated"
    );
    manager.mark_api_call(Some("api.axiom.trade"));
    clock.advance(Duration::from_secs(120));
    assert_eq!(
        manager.summary(),
        "Session: VALID | Tokens: VALID | Cookies: PRESENT | Age: 52m | Last API: 2m ago"
    );
    manager.close().await.unwrap();

    // A new program run loads it on creation.
    let again = open().await.unwrap();
    assert!(again.is_valid());
    assert_eq!(again.access_token().unwrap().expose_secret(), "a2");
    assert_eq!(again.session().unwrap().user_info.unwrap()["id"], "u1");

    again.clear().await.unwrap();
    assert!(again.session().is_none());
    assert!(store.load("axiom").await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn auto_save_coalesces_bursts() {
    let store = CountingStore::new();
    let manager = SessionState::builder(SharedSessionStore::new(store.clone()), "k")
        .save_interval(Duration::from_secs(1))
        .open()
        .await
        .unwrap();
    // 1000 token updates over ten (virtual) seconds: 100 per second.
    for i in 0..1000 {
        manager.update_tokens(TokenSet::new(format!("a{i}")));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    manager.close().await.unwrap();
    let writes = store.saves();
    assert!(writes <= 12, "{writes} writes for 1000 updates in 10 s");
    assert!(writes >= 10, "{writes}: about one per interval");
    assert_eq!(manager.writes(), writes);
    let stored = store.load("k").await.unwrap().unwrap();
    assert_eq!(
        stored.data["tokens"]["access_token"], "a999",
        "the last update was written"
    );
}

#[tokio::test(start_paused = true)]
async fn manual_save_writes_only_when_asked() {
    let store = CountingStore::new();
    let manager = SessionState::builder(SharedSessionStore::new(store.clone()), "k")
        .auto_save(false)
        .open()
        .await
        .unwrap();
    for i in 0..10 {
        manager.update_tokens(TokenSet::new(format!("a{i}")));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(store.saves(), 0);
    manager.save().await.unwrap();
    assert_eq!(store.saves(), 1);
    assert_eq!(
        store.load("k").await.unwrap().unwrap().data["tokens"]["access_token"],
        "a9"
    );
}

#[tokio::test]
async fn dropping_the_last_handle_flushes() {
    let store = CountingStore::new();
    let manager = SessionState::builder(SharedSessionStore::new(store.clone()), "k")
        .auto_save(false)
        .open()
        .await
        .unwrap();
    manager.update_tokens(TokenSet::new("pending"));
    drop(manager);
    for _ in 0..1000 {
        if store.load("k").await.unwrap().is_some() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        store.load("k").await.unwrap().unwrap().data["tokens"]["access_token"],
        "pending"
    );
}

#[tokio::test]
async fn named_credentials_are_kept_with_their_own_window() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let store = SharedSessionStore::new(MemoryStore::new());
    let manager = SessionState::builder(store, "k")
        .clock(SharedClock::new(clock.clone()))
        .open()
        .await
        .unwrap();
    manager.create_session(tokens(&clock, "a"), None, None);
    manager.update(|data| {
        data.credentials.insert(
            "wallet".into(),
            NamedCredential::new("w-secret")
                .with_expires_at(clock.now() + Duration::from_secs(24 * 3600))
                .with_refresh_window(Duration::from_secs(3600)),
        )
    });
    manager.save().await.unwrap();
    assert!(!manager.needs_refresh());
    clock.advance(Duration::from_secs(23 * 3600));
    assert!(manager.needs_refresh(), "the wallet's one-hour window");
}

#[tokio::test]
async fn the_registry_keeps_sessions_apart() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let store = SharedSessionStore::new(MemoryStore::new());
    let registry = SessionRegistry::new(store.clone()).with_clock(SharedClock::new(clock.clone()));
    let trading = registry.add("trading").await.unwrap();
    let monitoring = registry.add("monitoring").await.unwrap();
    let idle = registry.add("idle").await.unwrap();
    assert_eq!(registry.active_name().as_deref(), Some("trading"));

    trading.create_session(tokens(&clock, "t"), None, None);
    monitoring.create_session(tokens(&clock, "m"), None, None);
    monitoring.mark_api_call(Some("monitor.example.com"));
    assert!(
        trading
            .session()
            .unwrap()
            .metadata
            .current_api_server
            .is_none()
    );

    registry.switch("monitoring").unwrap();
    assert_eq!(
        registry
            .active()
            .unwrap()
            .access_token()
            .unwrap()
            .expose_secret(),
        "m"
    );
    assert!(matches!(
        registry.switch("nope"),
        Err(session_auth::Error::UnknownSession { .. })
    ));
    let mut names = registry.list();
    names.sort();
    assert_eq!(
        names,
        [
            ("idle".into(), false),
            ("monitoring".into(), true),
            ("trading".into(), true)
        ]
    );

    assert_eq!(registry.cleanup_invalid().await.unwrap(), ["idle"]);
    drop(idle);
    assert!(registry.remove("monitoring").await.unwrap());
    assert!(registry.active().is_none());
    trading.close().await.unwrap();

    // Stored apart: a new registry over the same store finds "trading" only.
    let again = SessionRegistry::new(store.clone());
    assert!(again.add("trading").await.unwrap().is_valid());
    assert!(!again.add("monitoring").await.unwrap().is_valid());
}
