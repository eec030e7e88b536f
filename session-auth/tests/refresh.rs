//! Token refresh against a loopback identity provider: single flight,
//! 401 handling, slow and failing refreshes, cancellation, re-login,
//! persistence and sign-out.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::Mutex;
use session_auth::{Session, SignInCredentials, SignInProvider, TokenManager};
use session_core::{
    Clock, Expiry, MemoryStore, SessionStore, SharedClock, SharedSessionStore, SystemClock,
    TokenSet,
};
use support::{Idp, IdpLogin};

/// Tokens issued an hour ago that are already past expiry.
fn expired(access: &str, refresh: &str) -> TokenSet {
    let now = SystemClock.now();
    TokenSet::new(access)
        .with_refresh_token(refresh)
        .with_expiry(Expiry::new(
            Some(now - Duration::from_secs(7200)),
            Some(now - Duration::from_secs(60)),
        ))
}

/// Tokens inside the refresh window (10 minutes left of an hour) but valid.
fn due(access: &str, refresh: &str) -> TokenSet {
    let now = SystemClock.now();
    TokenSet::new(access)
        .with_refresh_token(refresh)
        .with_expiry(Expiry::new(
            Some(now - Duration::from_secs(3000)),
            Some(now + Duration::from_secs(600)),
        ))
}

fn fresh(access: &str, refresh: &str) -> TokenSet {
    TokenSet::new(access)
        .with_refresh_token(refresh)
        .with_expires_in(Duration::from_secs(3600), SystemClock.now())
}

struct Setup {
    idp: Idp,
    session: Session,
    tokens: TokenManager,
}

async fn setup(initial: Option<TokenSet>, credentials: Option<SignInCredentials>) -> Setup {
    let idp = Idp::new();
    let url = idp.start().await;
    if let Some(t) = &initial {
        idp.issue(
            t.access_token().expose_secret(),
            t.refresh_token().map(|r| r.expose_secret()),
        );
    }
    let provider = SignInProvider::new(IdpLogin::new(&url), credentials);
    let mut builder = TokenManager::builder(provider).no_retry();
    if let Some(t) = initial {
        builder = builder.initial_tokens(t);
    }
    let tokens = builder.build();
    let session = Session::builder()
        .base_url(format!("{url}/api/"))
        .tokens(tokens.clone())
        .build()
        .unwrap();
    Setup {
        idp,
        session,
        tokens,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_meeting_an_expired_token_refresh_once() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(expired("at-0", "rt-0")), None).await;
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            session
                .get(&format!("items/{i}"))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(
        idp.token_calls(),
        1,
        "exactly one call at the token endpoint"
    );
    assert_eq!(tokens.refreshes(), 1);
    assert_eq!(
        tokens.current().unwrap().access_token().expose_secret(),
        "at-1"
    );
    assert!(
        idp.0
            .seen
            .lock()
            .iter()
            .all(|h| h["authorization"] == "Bearer at-1")
    );
}

#[tokio::test]
async fn a_401_refreshes_once_and_replays_once() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(fresh("at-0", "rt-0")), None).await;
    idp.revoke("at-0"); // the server forgot the token early
    let response = session.get("me").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(idp.api_hits(), 2, "the first try and one replay");
    assert_eq!(idp.token_calls(), 1);
    assert_eq!(
        tokens.current().unwrap().access_token().expose_secret(),
        "at-1"
    );
    assert_eq!(session.stats().retries, 0, "a replay is not a retry");
}

#[tokio::test]
async fn a_401_that_persists_goes_back_after_two_attempts() {
    let Setup { idp, session, .. } = setup(Some(fresh("at-0", "rt-0")), None).await;
    idp.0.always_401.store(true, Ordering::SeqCst);
    let response = session.get("me").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(idp.api_hits(), 2, "never a loop");
    assert_eq!(idp.token_calls(), 1);
}

#[tokio::test]
async fn a_401_after_someone_else_refreshed_just_replays() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(fresh("at-0", "rt-0")), None).await;
    // Another request already rotated the token; this one carried the old one.
    let old = session.get("me").build().unwrap();
    tokens.refresh().await.unwrap();
    idp.revoke("at-0");
    assert_eq!(idp.token_calls(), 1);
    let response = session.execute(old).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(idp.token_calls(), 1, "no second refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_refresh_does_not_delay_requests_with_a_valid_token() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(due("at-0", "rt-0")), None).await;
    let gate = idp.close_gate();
    let entered = idp.0.entered.notified();
    // The token is due: this request starts a background refresh, which is
    // held at the token endpoint, and still completes with the old token.
    let response = tokio::time::timeout(Duration::from_secs(20), session.get("a").send())
        .await
        .expect("the request must not wait for the refresh")
        .unwrap();
    assert_eq!(response.status(), 200);
    entered.await;
    assert_eq!(idp.token_calls(), 1);
    // More requests while the refresh is still held: no wait, no new refresh.
    for _ in 0..5 {
        assert_eq!(session.get("b").send().await.unwrap().status(), 200);
    }
    assert!(
        idp.0
            .seen
            .lock()
            .iter()
            .all(|h| h["authorization"] == "Bearer at-0")
    );
    gate.add_permits(1);
    // The background refresh now completes; wait for its token.
    let mut rounds = 0;
    while tokens.current().unwrap().access_token().expose_secret() != "at-1" {
        rounds += 1;
        assert!(rounds < 100_000, "the background refresh never landed");
        tokio::task::yield_now().await;
    }
    assert_eq!(session.get("c").send().await.unwrap().status(), 200);
    assert_eq!(
        idp.0.seen.lock().last().unwrap()["authorization"],
        "Bearer at-1"
    );
    assert_eq!(idp.token_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_caller_that_started_the_refresh_does_not_cancel_it() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(expired("at-0", "rt-0")), None).await;
    let gate = idp.close_gate();
    let entered = idp.0.entered.notified();
    let leader = {
        let session = session.clone();
        tokio::spawn(async move { session.get("a").send().await })
    };
    entered.await; // the leader's refresh reached the token endpoint
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    let follower = {
        let session = session.clone();
        tokio::spawn(async move { session.get("b").send().await })
    };
    gate.add_permits(1);
    let response = follower.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(idp.token_calls(), 1);
    assert_eq!(
        tokens.current().unwrap().access_token().expose_secret(),
        "at-1"
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_valid_token() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(due("at-0", "rt-0")), None).await;
    *idp.0.fail_with.lock() = Some(503);
    let err = tokens.refresh().await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(
        tokens.current().unwrap().access_token().expose_secret(),
        "at-0"
    );
    let response = session.get("a").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        idp.0.seen.lock().last().unwrap()["authorization"],
        "Bearer at-0"
    );
}

#[tokio::test]
async fn transient_token_endpoint_failures_are_retried() {
    let idp = Idp::new();
    let url = idp.start().await;
    idp.issue("at-0", Some("rt-0"));
    *idp.0.fail_with.lock() = Some(503);
    let retry = session_retry::RetryPolicy::builder()
        .retries(3)
        .backoff_factor(0.001)
        .no_budget()
        .build()
        .unwrap();
    let tokens = TokenManager::builder(SignInProvider::new(IdpLogin::new(&url), None))
        .initial_tokens(expired("at-0", "rt-0"))
        .retry(retry)
        .build();
    let idp2 = idp.clone();
    let healer = tokio::spawn(async move {
        // Heal the endpoint after its second failure.
        while idp2.token_calls() < 2 {
            tokio::task::yield_now().await;
        }
        *idp2.0.fail_with.lock() = None;
    });
    let token = tokens.token().await.unwrap();
    healer.await.unwrap();
    assert_eq!(token.access_token().expose_secret(), "at-1");
    assert!(idp.token_calls() >= 2);
}

#[tokio::test]
async fn a_dead_refresh_token_falls_back_to_a_fresh_sign_in() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(
        Some(expired("at-0", "rt-0")),
        Some(SignInCredentials::password("ada", "correct horse")),
    )
    .await;
    idp.0.live_refresh_clear();
    let response = session.get("a").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(idp.0.refresh_grants.load(Ordering::SeqCst), 1);
    assert_eq!(idp.0.password_grants.load(Ordering::SeqCst), 1);
    assert_eq!(
        tokens.current().unwrap().access_token().expose_secret(),
        "at-1"
    );
}

#[tokio::test]
async fn a_dead_refresh_token_without_credentials_is_not_authenticated() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(expired("at-0", "rt-0")), None).await;
    idp.0.live_refresh_clear();
    let err = session.get("a").send().await.unwrap_err();
    assert!(err.is_not_authenticated(), "{err:?}");
    assert_eq!(idp.api_hits(), 0, "never sent without credentials");
    assert!(
        tokens.current().is_some(),
        "the old token is not thrown away by a failed refresh"
    );
}

#[tokio::test]
async fn first_use_signs_in_with_credentials() {
    let Setup { idp, session, .. } = setup(
        None,
        Some(SignInCredentials::password("ada", "correct horse")),
    )
    .await;
    assert_eq!(session.get("a").send().await.unwrap().status(), 200);
    assert_eq!(idp.0.password_grants.load(Ordering::SeqCst), 1);
    // Wrong password: a typed error, nothing sent to the API.
    let Setup { idp, session, .. } =
        setup(None, Some(SignInCredentials::password("ada", "wrong"))).await;
    let err = session.get("a").send().await.unwrap_err();
    assert!(err.is_invalid_credentials(), "{err:?}");
    assert!(!err.is_refresh_token_dead(), "{err:?}");
    assert_eq!(idp.api_hits(), 0);
}

#[tokio::test]
async fn tokens_are_persisted_restored_and_wiped() {
    let idp = Idp::new();
    let url = idp.start().await;
    let store = SharedSessionStore::new(MemoryStore::new());
    let changes: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = changes.clone();
    let creds = || Some(SignInCredentials::password("ada", "correct horse"));

    // First program run: signs in, the token is saved.
    let tokens = TokenManager::builder(SignInProvider::new(IdpLogin::new(&url), creds()))
        .on_change(move |t| {
            seen.lock()
                .push(t.access_token().expose_secret().to_owned())
        })
        .build();
    let session = Session::builder()
        .base_url(format!("{url}/api/"))
        .tokens(tokens)
        .store(store.clone(), "device-cloud")
        .build()
        .unwrap();
    assert_eq!(session.get("a").send().await.unwrap().status(), 200);
    session.close().await.unwrap();
    assert_eq!(*changes.lock(), ["at-1"]);
    let saved = store.load("device-cloud").await.unwrap().expect("saved");
    assert_eq!(saved.data["tokens"]["access_token"], "at-1");
    assert!(saved.data["metadata"]["last_api_call_at"].is_string());

    // Second run: restores, skips sign-in while the token is valid.
    let tokens = TokenManager::builder(SignInProvider::new(IdpLogin::new(&url), creds())).build();
    let session = Session::builder()
        .base_url(format!("{url}/api/"))
        .tokens(tokens.clone())
        .store(store.clone(), "device-cloud")
        .build()
        .unwrap();
    assert_eq!(session.get("b").send().await.unwrap().status(), 200);
    assert_eq!(idp.token_calls(), 1, "no second sign-in");
    assert!(
        session
            .summary()
            .starts_with("Session: VALID | Tokens: VALID")
    );

    // Sign-out revokes on the server, then wipes memory and store.
    session.sign_out().await.unwrap();
    assert_eq!(idp.0.revocations.load(Ordering::SeqCst), 1);
    assert!(tokens.current().is_none());
    assert!(store.load("device-cloud").await.unwrap().is_none());
}

#[tokio::test]
async fn a_rotated_refresh_token_is_what_gets_saved() {
    let idp = Idp::new();
    let url = idp.start().await;
    idp.issue("at-0", Some("rt-0"));
    let store = SharedSessionStore::new(MemoryStore::new());
    let state = session_auth::SessionState::builder(store.clone(), "k")
        .auto_save(false)
        .build();
    let tokens = TokenManager::builder(SignInProvider::new(IdpLogin::new(&url), None))
        .initial_tokens(expired("at-0", "rt-0"))
        .state(state)
        .no_retry()
        .build();
    tokens.refresh().await.unwrap();
    // Written through before the refresh returns, even with auto-save off:
    // another process must never find the rotated-away refresh token.
    let saved = store.load("k").await.unwrap().expect("saved");
    assert_eq!(saved.data["tokens"]["refresh_token"], "rt-1");
}

#[tokio::test]
async fn saving_cookies_never_puts_back_a_refresh_token_another_process_rotated() {
    let store = SharedSessionStore::new(MemoryStore::new());
    let ours = session_auth::SessionState::builder(store.clone(), "k")
        .open()
        .await
        .unwrap();
    ours.create_session(fresh("at-1", "rt-1"), None, None);
    ours.save().await.unwrap();
    // Another process refreshes under the lease and stores rt-2.
    let theirs = session_auth::SessionState::builder(store.clone(), "k")
        .open()
        .await
        .unwrap();
    theirs.update_tokens(fresh("at-2", "rt-2"));
    theirs.save().await.unwrap();
    // This process saves something else: the stored tokens stay theirs.
    ours.mark_api_call(Some("api.example.com"));
    ours.save().await.unwrap();
    let saved = store.load("k").await.unwrap().unwrap();
    assert_eq!(saved.data["tokens"]["refresh_token"], "rt-2");
    assert!(saved.data["metadata"]["last_api_call_at"].is_string());
    assert_eq!(ours.refresh_token().unwrap().expose_secret(), "rt-2");
}

#[tokio::test]
async fn the_session_the_token_manager_and_the_seed_api_share_one_state() {
    let idp = Idp::new();
    let url = idp.start().await;
    let backing = SharedSessionStore::new(MemoryStore::new());
    let state = session_auth::SessionState::builder(backing.clone(), "device")
        .open()
        .await
        .unwrap();
    let tokens = TokenManager::builder(SignInProvider::new(
        IdpLogin::new(&url),
        Some(SignInCredentials::password("ada", "correct horse")),
    ))
    .build();
    let session = Session::builder()
        .base_url(format!("{url}/api/"))
        .tokens(tokens.clone())
        .state(state.clone())
        .build()
        .unwrap();
    assert!(session.state().same_session(&state));
    assert!(tokens.state().same_session(&state));
    for i in 0..20 {
        assert_eq!(
            session
                .get(&format!("n/{i}"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    session.save().await.unwrap();
    assert_eq!(state.access_token().unwrap().expose_secret(), "at-1");
    assert!(state.summary().starts_with("Session: VALID"));
    let stored = backing.load("device").await.unwrap().unwrap();
    assert_eq!(stored.data["tokens"]["access_token"], "at-1");
    assert!(state.writes() <= 3, "{} writes", state.writes());

    // A change made through the seed-style API is what the next request
    // sends: the token manager holds a view, not a copy.
    idp.issue("at-from-elsewhere", None);
    state.update_tokens(TokenSet::new("at-from-elsewhere"));
    session.get("after").send().await.unwrap();
    let seen = idp.0.seen.lock().last().cloned().unwrap();
    assert_eq!(seen["authorization"], "Bearer at-from-elsewhere");

    // Clearing the state is seen by the token manager too.
    state.clear().await.unwrap();
    assert!(tokens.current().is_none());
}

#[tokio::test]
async fn a_second_state_for_the_same_token_manager_is_refused() {
    let store = SharedSessionStore::new(MemoryStore::new());
    let first = session_auth::SessionState::builder(store.clone(), "a").build();
    let tokens = TokenManager::builder(NoLogin).state(first).build();
    let err = Session::builder()
        .tokens(tokens)
        .store(store, "b")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            session_auth::Error::InvalidSetting {
                setting: "store",
                ..
            }
        ),
        "{err:?}"
    );
}

#[derive(Debug)]
struct NoLogin;

#[async_trait::async_trait]
impl session_core::ProvideToken for NoLogin {
    async fn provide_token(&self) -> session_core::Result<TokenSet> {
        Err(session_core::Error::NotAuthenticated {
            reason: "no login in this test",
        })
    }
}

#[test]
fn the_cached_value_expires_exactly_at_the_buffer_on_the_clock() {
    let clock = session_core::ManualClock::at_unix(1_700_000_000);
    let tokens = TokenManager::builder(NoLogin)
        .clock(SharedClock::new(clock.clone()))
        .initial_tokens(TokenSet::new("a").with_expires_in(Duration::from_secs(3600), clock.now()))
        .build();
    assert_eq!(tokens.cached_authorization().unwrap(), "Bearer a");
    // The default buffer is five minutes: valid until 55 minutes in.
    clock.advance(Duration::from_secs(55 * 60 - 1));
    assert!(tokens.cached_authorization().is_some());
    clock.advance(Duration::from_secs(1));
    assert!(tokens.cached_authorization().is_none());
    clock.rewind(Duration::from_secs(30 * 60));
    assert!(
        tokens.cached_authorization().is_some(),
        "a clock that goes back sees it valid again"
    );
}

#[tokio::test]
async fn a_401_from_an_origin_our_credentials_never_reached_refreshes_nothing() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(fresh("at-0", "rt-0")), None).await;
    // Another origin that answers 401 to everyone.
    let foreign = support::serve(
        axum::Router::new().fallback(|| async { axum::http::StatusCode::UNAUTHORIZED }),
    )
    .await;
    let redirector = support::serve(axum::Router::new().fallback(move || {
        let to = format!("{foreign}/elsewhere");
        async move { axum::response::Redirect::temporary(&to) }
    }))
    .await;
    let response = session
        .get(&format!("{redirector}/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(idp.token_calls(), 0, "no refresh for a foreign 401");
    assert_eq!(tokens.refreshes(), 0);
}

#[tokio::test(start_paused = true)]
async fn on_the_system_clock_a_timer_moves_the_token_through_its_phases() {
    // 20 minutes to live: due for a refresh after 10, expired after 15
    // (window and buffer clamped to half and a quarter of the lifetime).
    let tokens = TokenManager::builder(NoLogin)
        .initial_tokens(
            TokenSet::new("at").with_expires_in(Duration::from_secs(20 * 60), SystemClock.now()),
        )
        .build();
    assert_eq!(tokens.cached_authorization().unwrap(), "Bearer at");
    // Only tokio's (paused) time moves: the wall clock says the token is
    // fresh, so what follows is the timer's doing.
    tokio::time::advance(Duration::from_secs(11 * 60)).await;
    tokio::task::yield_now().await;
    assert_eq!(tokens.cached_authorization().unwrap(), "Bearer at");
    tokio::time::advance(Duration::from_secs(5 * 60)).await;
    tokio::task::yield_now().await;
    assert!(
        tokens.cached_authorization().is_none(),
        "expired by the timer"
    );
}

#[tokio::test(start_paused = true)]
async fn a_thread_that_sent_a_token_sends_the_next_one_and_none_after_sign_out() {
    let hour = |token: &str| {
        TokenSet::new(token).with_expires_in(Duration::from_secs(3600), SystemClock.now())
    };
    let tokens = TokenManager::builder(NoLogin)
        .initial_tokens(hour("at-1"))
        .build();
    // The second read finds this thread's copy of the header.
    for _ in 0..2 {
        assert_eq!(tokens.cached_authorization().unwrap(), "Bearer at-1");
    }
    tokens.set_tokens(hour("at-2")).await.unwrap();
    assert_eq!(tokens.cached_authorization().unwrap(), "Bearer at-2");
    // A write to the state from elsewhere reaches the next read as well.
    tokens.state().update_tokens(hour("at-3"));
    assert_eq!(tokens.cached_authorization().unwrap(), "Bearer at-3");
    // A second manager on this thread keeps its own token.
    let other = TokenManager::builder(NoLogin)
        .initial_tokens(hour("other"))
        .build();
    assert_eq!(other.cached_authorization().unwrap(), "Bearer other");
    assert_eq!(tokens.cached_authorization().unwrap(), "Bearer at-3");
    tokens.sign_out().await.unwrap();
    assert!(
        tokens.cached_authorization().is_none(),
        "nothing to send after sign-out"
    );
    assert_eq!(other.cached_authorization().unwrap(), "Bearer other");
}

#[tokio::test(start_paused = true)]
async fn an_injected_clock_is_read_instead_of_timers() {
    let clock = session_core::ManualClock::new(SystemClock.now());
    let tokens = TokenManager::builder(NoLogin)
        .clock(SharedClock::new(clock.clone()))
        .initial_tokens(
            TokenSet::new("at").with_expires_in(Duration::from_secs(20 * 60), clock.now()),
        )
        .build();
    assert!(tokens.cached_authorization().is_some());
    // tokio time alone changes nothing for a manual clock...
    tokio::time::advance(Duration::from_secs(30 * 60)).await;
    assert!(tokens.cached_authorization().is_some());
    // ...moving the clock does.
    clock.advance(Duration::from_secs(16 * 60));
    assert!(tokens.cached_authorization().is_none());
}

#[tokio::test]
async fn a_rejected_replay_renews_the_token_for_the_next_request() {
    let Setup {
        idp,
        session,
        tokens,
    } = setup(Some(fresh("at-0", "rt-0")), None).await;
    idp.0.always_401.store(true, Ordering::SeqCst);
    let response = session.get("a").send().await.unwrap();
    assert_eq!(
        response.status(),
        401,
        "one replay, then the 401 is the answer"
    );
    // The replay's token was refused too: a refresh starts without anyone
    // waiting for it.
    for _ in 0..10_000 {
        if tokens.current().unwrap().access_token().expose_secret() == "at-2" {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(idp.token_calls(), 2);
    assert_eq!(
        tokens.current().unwrap().access_token().expose_secret(),
        "at-2"
    );
    // The next request goes out with the renewed token and succeeds at once.
    idp.0.always_401.store(false, Ordering::SeqCst);
    let hits = idp.api_hits();
    assert_eq!(session.get("b").send().await.unwrap().status(), 200);
    assert_eq!(idp.api_hits(), hits + 1);
    assert_eq!(idp.token_calls(), 2);
}
