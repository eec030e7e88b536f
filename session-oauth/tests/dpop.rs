//! Sender-constrained tokens (DPoP, RFC 9449) end to end: the token
//! endpoint binds tokens to the session's key, the resource refuses them
//! without a proof for the very request, nonces are answered once, refresh
//! stays bound, a restored session keeps its key, and an authorization
//! code (asked for directly or pushed) is redeemed only with the key that
//! asked for it.

mod support;

use std::sync::atomic::Ordering;

use session_auth::{DpopKey, Session, SessionState, TokenManager};
use session_core::{MemoryStore, SharedSessionStore, TokenSet};
use session_oauth::{Error, Grant, OAuthClient, OAuthTokenProvider, ProviderMetadata};
use support::{AuthServer, USER};

async fn client(issuer: &str, key: &DpopKey) -> OAuthClient {
    let http = session_oauth::OAuthHttp::new().unwrap();
    let provider = ProviderMetadata::discover(&http, issuer).await.unwrap();
    OAuthClient::builder(provider, "native-app")
        .dpop(key.clone())
        .build()
        .unwrap()
}

fn password() -> Grant {
    Grant::Password {
        username: USER.0.into(),
        password: USER.1.to_owned().into(),
    }
}

/// A session whose tokens come from the password grant, bound to `key`.
async fn bound_session(
    issuer: &str,
    key: &DpopKey,
    state: SessionState,
) -> (Session, TokenManager) {
    let tokens = TokenManager::builder(OAuthTokenProvider::new(
        client(issuer, key).await,
        password(),
    ))
    .state(state)
    .dpop(key.clone())
    .build();
    let session = Session::builder()
        .base_url(format!("{issuer}/"))
        .tokens(tokens.clone())
        .build()
        .unwrap();
    (session, tokens)
}

/// GET /resource with exactly these headers.
async fn raw_get(issuer: &str, headers: &[(&str, String)]) -> u16 {
    let mut request = reqwest::Client::new().get(format!("{issuer}/resource"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_bound_token_works_only_with_a_proof_for_this_very_request() {
    let (server, issuer) = AuthServer::start().await;
    let key = DpopKey::generate().unwrap();
    let (session, tokens) = bound_session(&issuer, &key, SessionState::in_memory()).await;
    let answer = session.get("resource").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), USER.0);
    let issued: TokenSet = tokens.current().unwrap();
    assert_eq!(issued.token_type(), "DPoP");
    let token = issued.access_token().expose_secret().to_owned();
    assert_eq!(server.bound_to(&token).as_deref(), Some(key.thumbprint()));
    assert_eq!(
        server
            .bound_to(issued.refresh_token().unwrap().expose_secret())
            .as_deref(),
        Some(key.thumbprint()),
        "the refresh token is bound too"
    );

    // User info with the bound token: sent as DPoP, with a proof, by the
    // OAuth client holding the key.
    let oauth = client(&issuer, &key).await;
    assert_eq!(oauth.userinfo(&issued).await.unwrap()["sub"], USER.0);
    let keyless = OAuthClient::builder(oauth.metadata().clone(), "native-app")
        .build()
        .unwrap();
    assert!(
        keyless.userinfo(&issued).await.is_err(),
        "without the key the bound token is refused"
    );

    let resource = url::Url::parse(&format!("{issuer}/resource")).unwrap();
    let authorization = ("authorization", format!("DPoP {token}"));
    let proof = |method: &http::Method, url: &url::Url, token: &str| {
        key.proof(method, url, Some(token))
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    // The attacker holds the token, not the key.
    assert_eq!(
        raw_get(&issuer, std::slice::from_ref(&authorization)).await,
        401,
        "no proof"
    );
    assert_eq!(
        raw_get(&issuer, &[("authorization", format!("Bearer {token}"))]).await,
        401,
        "as a bearer token"
    );
    let elsewhere = url::Url::parse(&format!("{issuer}/other")).unwrap();
    assert_eq!(
        raw_get(
            &issuer,
            &[
                authorization.clone(),
                ("dpop", proof(&http::Method::GET, &elsewhere, &token))
            ]
        )
        .await,
        401,
        "a proof for another URL"
    );
    assert_eq!(
        raw_get(
            &issuer,
            &[
                authorization.clone(),
                ("dpop", proof(&http::Method::POST, &resource, &token))
            ]
        )
        .await,
        401,
        "a proof for another method"
    );
    assert_eq!(
        raw_get(
            &issuer,
            &[
                authorization.clone(),
                ("dpop", proof(&http::Method::GET, &resource, "other-token"))
            ]
        )
        .await,
        401,
        "a proof for another token"
    );
    let stranger = DpopKey::generate().unwrap();
    let foreign = stranger
        .proof(&http::Method::GET, &resource, Some(&token))
        .unwrap();
    assert_eq!(
        raw_get(
            &issuer,
            &[
                authorization.clone(),
                ("dpop", foreign.to_str().unwrap().to_owned())
            ]
        )
        .await,
        401,
        "a proof by another key"
    );
    let good = proof(&http::Method::GET, &resource, &token);
    assert_eq!(
        raw_get(&issuer, &[authorization.clone(), ("dpop", good.clone())]).await,
        200
    );
    assert_eq!(
        raw_get(&issuer, &[authorization, ("dpop", good)]).await,
        401,
        "a proof works once"
    );
}

#[tokio::test]
async fn nonce_challenges_are_answered_once_at_the_token_endpoint_and_the_resource() {
    let (server, issuer) = AuthServer::start().await;
    *server.0.as_nonce.lock() = Some("as-nonce-1".into());
    *server.0.rs_nonce.lock() = Some("rs-nonce-1".into());
    let key = DpopKey::generate().unwrap();
    let (session, tokens) = bound_session(&issuer, &key, SessionState::in_memory()).await;
    for _ in 0..3 {
        let answer = session.get("resource").send().await.unwrap();
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(
        server.0.as_challenges.load(Ordering::SeqCst),
        1,
        "the token endpoint asked once"
    );
    assert_eq!(
        server.0.rs_challenges.load(Ordering::SeqCst),
        1,
        "the resource asked once"
    );
    assert_eq!(
        server.0.token_calls.load(Ordering::SeqCst),
        2,
        "the sign-in and its retry"
    );
    assert_eq!(tokens.refreshes(), 1);

    // A server that keeps refusing the nonce it handed out: one retry, then
    // its answer stands (no loop).
    *server.0.rs_nonce.lock() = Some("rs-nonce-2".into());
    let before = server.0.rs_challenges.load(Ordering::SeqCst);
    let answer = session.get("resource").send().await.unwrap();
    assert_eq!(answer.status(), 200, "the new nonce is answered");
    assert_eq!(server.0.rs_challenges.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn refresh_stays_bound_and_a_restored_session_keeps_its_key() {
    let (server, issuer) = AuthServer::start().await;
    let store = SharedSessionStore::new(MemoryStore::new());
    let state = SessionState::builder(store.clone(), "ada").build();
    let key = DpopKey::for_state(&state).await.unwrap();
    let (session, tokens) = bound_session(&issuer, &key, state.clone()).await;
    assert_eq!(session.get("resource").send().await.unwrap().status(), 200);
    state.save().await.unwrap();
    let first = tokens.current().unwrap();

    // Another process: the same store gives the same key, and the stored
    // tokens work without signing in again.
    let restored_state = SessionState::builder(store.clone(), "ada").build();
    let restored_key = DpopKey::for_state(&restored_state).await.unwrap();
    assert_eq!(restored_key.thumbprint(), key.thumbprint());
    let calls = server.0.token_calls.load(Ordering::SeqCst);
    let (restored, restored_tokens) = bound_session(&issuer, &restored_key, restored_state).await;
    assert_eq!(restored.get("resource").send().await.unwrap().status(), 200);
    assert_eq!(
        server.0.token_calls.load(Ordering::SeqCst),
        calls,
        "no new sign-in"
    );

    // Refresh proves the same key; the new tokens are bound to it.
    let fresh = restored_tokens.refresh().await.unwrap();
    assert_eq!(
        server
            .bound_to(fresh.access_token().expose_secret())
            .as_deref(),
        Some(key.thumbprint())
    );
    assert_eq!(restored.get("resource").send().await.unwrap().status(), 200);

    // A refresh token stolen with the tokens but without the key is useless.
    let stolen = client(&issuer, &DpopKey::generate().unwrap())
        .await
        .refresh(&fresh)
        .await
        .unwrap_err();
    assert!(matches!(stolen, Error::InvalidGrant { .. }), "{stolen:?}");
    assert_ne!(
        first.access_token().expose_secret(),
        fresh.access_token().expose_secret()
    );
}

/// Plays the browser on `url` (an authorization URL) and returns the code
/// the provider sent back.
async fn code_for(url: &url::Url) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url.clone()).send().await.unwrap();
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code comes back")
}

/// Through `client` (holding `key`): a code that leaks can't be redeemed
/// with another key, even with the right verifier, and the code the key
/// asked for is, its tokens bound to it. Returns the URLs the browser saw.
async fn codes_are_redeemed_only_with(
    server: &AuthServer,
    issuer: &str,
    client: &OAuthClient,
    key: &DpopKey,
) -> Vec<url::Url> {
    let redirect = url::Url::parse("http://127.0.0.1:9/callback").unwrap();
    let thief = self::client(issuer, &DpopKey::generate().unwrap()).await;
    let pending = client.start_authorization(Some(&redirect)).await.unwrap();
    let code = code_for(&pending.url).await;
    let refused = thief.exchange_code(&code, &pending).await.unwrap_err();
    assert!(matches!(refused, Error::InvalidGrant { .. }), "{refused:?}");

    let honest = client.start_authorization(Some(&redirect)).await.unwrap();
    let code = code_for(&honest.url).await;
    let tokens = client.exchange_code(&code, &honest).await.unwrap();
    assert_eq!(
        server
            .bound_to(tokens.access_token().expose_secret())
            .as_deref(),
        Some(key.thumbprint())
    );
    vec![pending.url, honest.url]
}

#[tokio::test]
async fn an_authorization_code_is_redeemed_only_with_the_key_that_asked_for_it() {
    let (server, issuer) = AuthServer::start().await;
    let key = DpopKey::generate().unwrap();
    let client = client(&issuer, &key).await;
    for opened in codes_are_redeemed_only_with(&server, &issuer, &client, &key).await {
        let jkt: Vec<_> = opened
            .query_pairs()
            .filter(|(k, _)| k == "dpop_jkt")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(jkt, [key.thumbprint()], "the request names the key");
    }

    // A client without a key names none.
    let plain = OAuthClient::builder(
        ProviderMetadata::discover(&session_oauth::OAuthHttp::new().unwrap(), &issuer)
            .await
            .unwrap(),
        "native-app",
    )
    .build()
    .unwrap();
    let redirect = url::Url::parse("http://127.0.0.1:9/callback").unwrap();
    let pending = plain.authorization_request(Some(&redirect)).unwrap();
    assert!(!pending.url.query_pairs().any(|(k, _)| k == "dpop_jkt"));
}

#[tokio::test]
async fn a_pushed_authorization_request_binds_its_code_to_the_key_too() {
    let (server, issuer) = AuthServer::start().await;
    let key = DpopKey::generate().unwrap();
    let http = session_oauth::OAuthHttp::new().unwrap();
    let provider = ProviderMetadata::discover(&http, &issuer).await.unwrap();
    let client = OAuthClient::builder(provider, "native-app")
        .dpop(key.clone())
        .pushed_authorization_requests(true)
        .build()
        .unwrap();
    for opened in codes_are_redeemed_only_with(&server, &issuer, &client, &key).await {
        assert!(
            !opened.query_pairs().any(|(k, _)| k == "dpop_jkt"),
            "the browser sees only the request_uri"
        );
    }
}
