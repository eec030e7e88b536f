//! Our auth and retry inside a reqwest-middleware stack.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use session_auth::middleware::{AuthMiddleware, RetryMiddleware};
use session_auth::{ApiKeyAuth, SignInCredentials, SignInProvider, TokenManager};
use session_retry::RetryPolicy;
use support::{Idp, IdpLogin, serve};

#[tokio::test]
async fn retries_and_auth_run_inside_reqwest_middleware() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let router = Router::new().fallback(move |headers: HeaderMap| {
        let h = h.clone();
        async move {
            assert_eq!(headers["x-api-key"], "k-1");
            if h.fetch_add(1, Ordering::SeqCst) < 2 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        }
    });
    let url = serve(router).await;
    let policy = RetryPolicy::builder()
        .backoff_factor(0.001)
        .no_budget()
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(policy))
        .with(AuthMiddleware::new(ApiKeyAuth::header("X-Api-Key", "k-1")))
        .build();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn the_auth_middleware_refreshes_and_replays_after_a_401() {
    let idp = Idp::new();
    let url = idp.start().await;
    let provider = SignInProvider::new(
        IdpLogin::new(&url),
        Some(SignInCredentials::password("ada", "correct horse")),
    );
    let tokens = TokenManager::builder(provider).no_retry().build();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(session_auth::BearerAuth::from_manager(
            tokens.clone(),
        )))
        .build();
    assert_eq!(
        client
            .get(format!("{url}/api/a"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    idp.revoke("at-1");
    assert_eq!(
        client
            .get(format!("{url}/api/b"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(idp.api_hits(), 3);
    assert_eq!(
        tokens.current().unwrap().access_token().expose_secret(),
        "at-2"
    );
}

#[tokio::test]
async fn the_auth_middleware_refuses_plain_http_to_a_remote_host() {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(session_auth::BearerAuth::new(
            "secret-token",
        )))
        .build();
    // Refused before any connection: the host doesn't even resolve.
    let err = client
        .get("http://api.example.invalid/v1")
        .send()
        .await
        .unwrap_err();
    let auth_error = match &err {
        reqwest_middleware::Error::Middleware(e) => e.downcast_ref::<session_auth::Error>(),
        _ => None,
    };
    assert!(
        matches!(auth_error, Some(session_auth::Error::InsecureTransport { host }) if host == "api.example.invalid"),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("secret-token"));

    // Loopback is fine, and so is a remote host once allowed explicitly.
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let url = serve(Router::new().fallback(move |headers: HeaderMap| {
        let h = h.clone();
        async move {
            assert_eq!(headers["authorization"], "Bearer secret-token");
            h.fetch_add(1, Ordering::SeqCst);
            StatusCode::OK
        }
    }))
    .await;
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let lenient = AuthMiddleware::new(session_auth::BearerAuth::new("secret-token"))
        .allow_insecure_http(true);
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(lenient)
        .build();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}
