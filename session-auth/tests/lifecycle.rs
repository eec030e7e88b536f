//! The session's lifecycle on its side paths: sign-out ends the session,
//! a stalled identity provider can't hang a request, sign-in failures are
//! told apart, and a stored session is used without asking for a password.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use session_auth::{Session, SignInCredentials, SignInProvider, TokenManager};
use session_core::{
    Clock, MemoryStore, SessionData, SessionStore, SharedSessionStore, StoreRecord, SystemClock,
    TokenSet,
};
use support::{Idp, IdpLogin};

fn password() -> Option<SignInCredentials> {
    Some(SignInCredentials::password("ada", "correct horse"))
}

fn session_for(url: &str, tokens: &TokenManager) -> Session {
    Session::builder()
        .base_url(format!("{url}/api/"))
        .tokens(tokens.clone())
        .no_retry()
        .build()
        .unwrap()
}

/// The error of the first request to the API at `api` when signing in at
/// `idp` with `credentials`.
async fn first_request_error(
    api: &str,
    idp: &str,
    credentials: Option<SignInCredentials>,
) -> session_auth::Error {
    let tokens = TokenManager::builder(SignInProvider::new(IdpLogin::new(idp), credentials))
        .no_retry()
        .build();
    session_for(api, &tokens).get("a").send().await.unwrap_err()
}

#[tokio::test]
async fn after_sign_out_requests_fail_without_touching_the_token_endpoint() {
    let idp = Idp::new();
    let url = idp.start().await;
    let tokens =
        TokenManager::builder(SignInProvider::new(IdpLogin::new(&url), password())).build();
    let session = session_for(&url, &tokens);
    let api_client = session.clone();
    assert_eq!(session.get("a").send().await.unwrap().status(), 200);
    assert_eq!(idp.token_calls(), 1);

    session.sign_out().await.unwrap();
    assert!(session.is_signed_out());
    let calls = idp.token_calls();
    let hits = idp.api_hits();
    for _ in 0..3 {
        let err = api_client.get("a").send().await.unwrap_err();
        assert!(err.is_signed_out(), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the session was signed out; sign in again to make requests"
        );
    }
    let err = tokens.token().await.unwrap_err();
    assert!(err.is_signed_out(), "{err:?}");
    assert!(tokens.refresh().await.unwrap_err().is_signed_out());
    assert_eq!(idp.token_calls(), calls, "no silent re-login");
    assert_eq!(idp.api_hits(), hits, "nothing sent after sign-out");

    // Only an explicit sign-in brings the session back.
    session.sign_in().await.unwrap();
    assert!(!session.is_signed_out());
    assert_eq!(idp.token_calls(), calls + 1);
    assert_eq!(api_client.get("a").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn sign_out_of_a_session_without_tokens_ends_it_too() {
    let idp = Idp::new();
    let url = idp.start().await;
    idp.issue("static", None);
    let session = Session::builder()
        .base_url(format!("{url}/api/"))
        .auth(session_auth::BearerAuth::new("static"))
        .build()
        .unwrap();
    assert_eq!(session.get("a").send().await.unwrap().status(), 200);
    session.sign_out().await.unwrap();
    assert!(session.get("a").send().await.unwrap_err().is_signed_out());
    assert_eq!(idp.api_hits(), 1);
    session.sign_in().await.unwrap();
    assert_eq!(session.get("a").send().await.unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_token_endpoint_that_never_answers_times_out_with_the_request() {
    let idp = Idp::new();
    let url = idp.start().await;
    let _gate = idp.close_gate(); // /token accepts and never answers
    let tokens = TokenManager::builder(SignInProvider::new(IdpLogin::new(&url), password()))
        .no_retry()
        .fetch_timeout(Duration::from_secs(20))
        .build();
    let session = Session::builder()
        .base_url(format!("{url}/api/"))
        .tokens(tokens.clone())
        .timeout(Duration::from_secs(1))
        .no_retry()
        .build()
        .unwrap();

    let started = tokio::time::Instant::now();
    let err = session.get("a").send().await.unwrap_err();
    let waited = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        matches!(err, session_auth::Error::Timeout { .. }),
        "{err:?}"
    );
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(1100),
        "{waited:?}"
    );

    // A request's own timeout bounds its wait the same way.
    let started = tokio::time::Instant::now();
    let err = session
        .get("a")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(400));

    // The stalled fetch itself gives up after the manager's fetch timeout,
    // so the next caller starts a new one instead of joining a dead one.
    let err = tokens.token().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(idp.token_calls(), 1);
    let err = tokens.token().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(idp.token_calls(), 2, "a new fetch, not the stalled one");
}

#[tokio::test]
async fn sign_in_failures_are_told_apart() {
    // Wrong password.
    let idp = Idp::new();
    let url = idp.start().await;
    let wrong = Some(SignInCredentials::password("ada", "wrong"));
    let tokens = TokenManager::builder(SignInProvider::new(IdpLogin::new(&url), wrong))
        .no_retry()
        .build();
    let session = session_for(&url, &tokens);
    let err = session.sign_in().await.unwrap_err();
    assert!(err.is_invalid_credentials(), "{err:?}");
    assert_eq!(err.to_string(), "the sign-in credentials were rejected");
    let err = session.get("a").send().await.unwrap_err();
    assert!(err.is_invalid_credentials(), "{err:?}");
    assert!(!err.is_refresh_token_dead() && !err.is_provider_unreachable());

    // A dead refresh token, nothing to sign in with.
    let expired = TokenSet::new("at-0")
        .with_refresh_token("rt-0")
        .with_expires_in(
            Duration::from_secs(1),
            SystemClock.now() - Duration::from_secs(60),
        );
    let tokens = TokenManager::builder(SignInProvider::new(IdpLogin::new(&url), None))
        .initial_tokens(expired)
        .no_retry()
        .build();
    let err = session_for(&url, &tokens)
        .get("a")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_refresh_token_dead(), "{err:?}");
    assert!(!err.is_invalid_credentials());

    // Nobody listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let err = first_request_error(&url, &closed, password()).await;
    assert!(err.is_provider_unreachable(), "{err:?}");
    assert!(!err.is_invalid_credentials() && !err.is_provider_error());

    // The provider answers with an error of its own.
    let idp = Idp::new();
    let url = idp.start().await;
    *idp.0.fail_with.lock() = Some(400);
    let err = first_request_error(&url, &url, password()).await;
    assert!(err.is_provider_error(), "{err:?}");
    assert!(!err.is_invalid_credentials() && !err.is_provider_unreachable());
}

#[tokio::test]
async fn a_stored_valid_session_never_asks_for_the_password() {
    let idp = Idp::new();
    let url = idp.start().await;
    idp.issue("stored-at", Some("stored-rt"));
    let store = SharedSessionStore::new(MemoryStore::new());
    let mut data = SessionData::new(SystemClock.now());
    data.tokens = Some(
        TokenSet::new("stored-at")
            .with_refresh_token("stored-rt")
            .with_expires_in(Duration::from_secs(3600), SystemClock.now()),
    );
    store
        .save("ada", &StoreRecord::new(data.to_value().unwrap()))
        .await
        .unwrap();

    let provider = SignInProvider::prompting(IdpLogin::new(&url), || async {
        panic!("the password was asked for although the stored session is valid")
    });
    let tokens = TokenManager::builder(provider).build();
    let session = Session::builder()
        .base_url(format!("{url}/api/"))
        .tokens(tokens)
        .store(store, "ada")
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(session.get("a").send().await.unwrap().status(), 200);
    }
    assert_eq!(idp.token_calls(), 0);
}

#[tokio::test]
async fn the_password_is_asked_for_only_when_a_sign_in_is_needed() {
    let idp = Idp::new();
    let url = idp.start().await;
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let provider = SignInProvider::prompting(IdpLogin::new(&url), move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(SignInCredentials::password("ada", "correct horse"))
        }
    });
    let tokens = TokenManager::builder(provider).build();
    let session = session_for(&url, &tokens);
    assert_eq!(asked.load(Ordering::SeqCst), 0, "not asked up front");
    for _ in 0..3 {
        assert_eq!(session.get("a").send().await.unwrap().status(), 200);
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(idp.token_calls(), 1);
}
