//! Every flow end to end against the strict loopback authorization server.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use session_core::{MemoryStore, SessionStore, SharedSessionStore};
use session_oauth::{
    ClientAuth, Error, Grant, OAuth, OAuthClient, OAuthTokenProvider, ProviderMetadata,
};
use support::{AuthServer, IssParam, SVC_SECRET, Tweak, USER, follow_in_browser};

async fn discovered(issuer: &str) -> ProviderMetadata {
    let http = session_oauth::OAuthHttp::new().unwrap();
    ProviderMetadata::discover(&http, issuer).await.unwrap()
}

async fn native(issuer: &str, scopes: &[&str]) -> OAuthClient {
    OAuthClient::builder(discovered(issuer).await, "native-app")
        .scopes(scopes.iter().copied())
        .build()
        .unwrap()
}

async fn svc(issuer: &str, auth: ClientAuth) -> OAuthClient {
    OAuthClient::builder(discovered(issuer).await, "svc")
        .client_secret(SVC_SECRET)
        .client_auth(auth)
        .build()
        .unwrap()
}

#[tokio::test]
async fn discovery_finds_every_endpoint() {
    let (_server, issuer) = AuthServer::start().await;
    let metadata = discovered(&issuer).await;
    assert_eq!(metadata.issuer.as_deref(), Some(issuer.as_str()));
    for endpoint in [
        &metadata.authorization_endpoint,
        &metadata.revocation_endpoint,
        &metadata.introspection_endpoint,
        &metadata.device_authorization_endpoint,
        &metadata.jwks_uri,
    ] {
        assert!(endpoint.is_some());
    }
}

#[tokio::test]
async fn pkce_round_trip_through_the_loopback_listener() {
    let (server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &["openid", "profile"]).await;
    let listener = session_oauth::LoopbackRedirect::bind(None, "/callback")
        .await
        .unwrap();
    assert!(
        listener
            .redirect_uri()
            .as_str()
            .starts_with("http://127.0.0.1:")
    );
    assert!(listener.redirect_uri().as_str().ends_with("/callback"));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let browser = tokio::spawn(async move { follow_in_browser(rx.await.unwrap()).await });
    let tokens = client
        .authorize_with_loopback(listener, Duration::from_secs(30), |url| {
            let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
            assert_eq!(query["code_challenge_method"], "S256");
            assert!(query.contains_key("state") && query.contains_key("nonce"));
            tx.send(url.clone()).unwrap();
        })
        .await
        .unwrap();
    assert_eq!(
        browser.await.unwrap(),
        200,
        "the browser sees the success page"
    );
    assert!(server.is_active(tokens.access_token().expose_secret()));
    assert!(tokens.refresh_token().is_some());
    assert!(
        tokens.id_token().is_some(),
        "the ID token was validated with its nonce"
    );
    assert_eq!(server.0.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn access_denied_at_the_loopback_is_a_typed_error() {
    let (server, issuer) = AuthServer::start().await;
    *server.0.deny.lock() = true;
    let client = native(&issuer, &["profile"]).await;
    let (result, page) = loopback_sign_in(&client).await;
    assert!(
        matches!(&result, Err(Error::AccessDenied { description: Some(d) }) if d == "the user said no"),
        "{result:?}"
    );
    assert_eq!(page, 400, "the browser sees the failure page");
}

/// A sign-in through the loopback listener, with a browser that follows the
/// provider's redirect: its result, and the status of the page the browser
/// was shown.
async fn loopback_sign_in(
    client: &OAuthClient,
) -> (Result<session_core::TokenSet, Error>, reqwest::StatusCode) {
    let listener = session_oauth::LoopbackRedirect::bind(None, "/callback")
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let browser = tokio::spawn(async move { follow_in_browser(rx.await.unwrap()).await });
    let result = client
        .authorize_with_loopback(listener, Duration::from_secs(30), |url| {
            tx.send(url.clone()).unwrap()
        })
        .await;
    (result, browser.await.unwrap())
}

/// A client whose provider is never asked anything (no network needed).
fn offline_client() -> OAuthClient {
    let metadata = ProviderMetadata::new("https://id.example.com/token")
        .unwrap()
        .with_authorization_endpoint("https://id.example.com/authorize")
        .unwrap();
    OAuthClient::builder(metadata, "native-app")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_state_mismatch_is_rejected() {
    let listener = session_oauth::LoopbackRedirect::bind(None, "/callback")
        .await
        .unwrap();
    let pending = offline_client()
        .authorization_request(Some(listener.redirect_uri()))
        .unwrap();
    let forged = format!("{}?code=stolen&state=not-ours", listener.redirect_uri());
    let waiter =
        tokio::spawn(async move { listener.wait(&pending, Duration::from_secs(30)).await });
    let browser = reqwest::Client::new();
    // Another path first: 404, still waiting.
    let other = forged.replace("/callback", "/favicon.ico");
    assert_eq!(browser.get(other).send().await.unwrap().status(), 404);
    assert_eq!(browser.get(forged).send().await.unwrap().status(), 400);
    assert!(matches!(waiter.await.unwrap(), Err(Error::StateMismatch)));
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_a_mix_up_and_refused() {
    let (server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &["profile"]).await;
    assert!(
        client
            .metadata()
            .authorization_response_iss_parameter_supported
    );
    for (iss, refused) in [
        (IssParam::Foreign, true),
        (IssParam::Missing, true),
        (IssParam::Own, false),
    ] {
        *server.0.iss_param.lock() = iss;
        // Through the loopback listener.
        let (result, page) = loopback_sign_in(&client).await;
        // Through an application's own callback.
        let redirect = url::Url::parse(REDIRECT).unwrap();
        let pending = client.authorization_request(Some(&redirect)).unwrap();
        let callback = redirect_for_url(&pending.url).await;
        let code = pending.code_from_redirect(&callback);
        if refused {
            assert!(
                matches!(result, Err(Error::IssuerMismatch)),
                "{iss:?}: {result:?}"
            );
            assert_eq!(page, 400, "{iss:?}");
            assert!(
                matches!(code, Err(Error::IssuerMismatch)),
                "{iss:?}: {code:?}"
            );
        } else {
            assert!(result.is_ok(), "{result:?}");
            assert_eq!(page, 200);
            let tokens = client
                .exchange_code(&code.unwrap(), &pending)
                .await
                .unwrap();
            assert!(!tokens.access_token().expose_secret().is_empty());
        }
    }
    // A forged callback is refused before anything else is read.
    let redirect = url::Url::parse(REDIRECT).unwrap();
    let pending = client.authorization_request(Some(&redirect)).unwrap();
    let forged = url::Url::parse(&format!("{REDIRECT}?code=c&state=not-ours")).unwrap();
    assert!(matches!(
        pending.code_from_redirect(&forged),
        Err(Error::StateMismatch)
    ));
}

#[tokio::test(start_paused = true)]
async fn the_listener_times_out() {
    let listener = session_oauth::LoopbackRedirect::bind(None, "/callback")
        .await
        .unwrap();
    let pending = offline_client()
        .authorization_request(Some(listener.redirect_uri()))
        .unwrap();
    let err = listener
        .wait(&pending, Duration::from_secs(120))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }));
}

#[test]
fn the_rfc_7636_appendix_b_vector() {
    let verifier =
        oauth2::PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
    let challenge = oauth2::PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    assert_eq!(
        challenge.as_str(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_eq!(challenge.method().as_str(), "S256");
}

/// A redirect URI nothing listens on: tests that take the code from the
/// provider's answer themselves use it.
const REDIRECT: &str = "http://127.0.0.1:4567/callback";

/// The code the provider redirects a signed-in browser back with.
async fn code_for(pending: &session_oauth::PendingAuthorization) -> String {
    code_for_url(&pending.url).await
}

/// The code the provider redirects a browser opening `url` back with.
async fn code_for_url(url: &url::Url) -> String {
    redirect_for_url(url)
        .await
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

/// Where the provider redirects a browser opening `url` (signed in).
async fn redirect_for_url(url: &url::Url) -> url::Url {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url.clone()).send().await.unwrap();
    url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_wrong_verifier_is_invalid_grant() {
    let (_server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &["profile"]).await;
    let redirect = url::Url::parse(REDIRECT).unwrap();
    let pending = client.authorization_request(Some(&redirect)).unwrap();
    let code = code_for(&pending).await;
    let wrong = "x".repeat(43);
    let err = client
        .exchange_code_with_verifier(&code, &wrong, Some(redirect.as_str()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidGrant { description: Some(d) } if d.contains("PKCE")),
        "{err:?}"
    );
    assert!(!err.to_string().contains(&wrong));
    // The code is single-use: the right verifier now fails too.
    let err = client.exchange_code(&code, &pending).await.unwrap_err();
    assert!(matches!(err, Error::InvalidGrant { .. }));
}

#[tokio::test]
async fn a_secret_with_reserved_characters_works_both_ways() {
    let (server, issuer) = AuthServer::start().await;
    for auth in [ClientAuth::Basic, ClientAuth::Post] {
        let tokens = svc(&issuer, auth).await.client_credentials().await.unwrap();
        assert!(
            server.is_active(tokens.access_token().expose_secret()),
            "{auth:?}"
        );
    }
    assert_eq!(
        server.0.last_basic_auth.lock().clone().unwrap(),
        ("svc".to_owned(), SVC_SECRET.to_owned())
    );
    let wrong = OAuthClient::builder(discovered(&issuer).await, "svc")
        .client_secret("nope")
        .build()
        .unwrap();
    let err = wrong.client_credentials().await.unwrap_err();
    assert!(matches!(err, Error::InvalidClient { .. }), "{err:?}");
    assert!(!err.to_string().contains("nope"));
}

#[tokio::test]
async fn refresh_rotates_and_an_old_refresh_token_is_rejected() {
    let (server, issuer) = AuthServer::start().await;
    let client = svc(&issuer, ClientAuth::Basic).await;
    let first = client
        .password(USER.0, &USER.1.to_owned().into())
        .await
        .unwrap();
    let second = client.refresh(&first).await.unwrap();
    assert_ne!(second.refresh_token(), first.refresh_token(), "rotated");
    let third = client.refresh(&second).await.unwrap();
    assert!(server.is_active(third.access_token().expose_secret()));
    // Reusing an old refresh token is refused (and revokes the family).
    let err = client.refresh(&first).await.unwrap_err();
    assert!(matches!(&err, Error::InvalidGrant { description: Some(d) } if d.contains("reuse")));
    assert!(
        client.refresh(&third).await.is_err(),
        "the family is dead after reuse"
    );
}

#[tokio::test]
async fn revocation_then_introspection_is_inactive() {
    let (_server, issuer) = AuthServer::start().await;
    let client = svc(&issuer, ClientAuth::Basic).await;
    let tokens = client
        .password(USER.0, &USER.1.to_owned().into())
        .await
        .unwrap();
    let before = client
        .introspect(tokens.access_token().expose_secret())
        .await
        .unwrap();
    assert!(before.active);
    assert_eq!(before.username.as_deref(), Some(USER.0));
    client.revoke(&tokens).await.unwrap();
    assert!(
        !client
            .introspect(tokens.access_token().expose_secret())
            .await
            .unwrap()
            .active
    );
    assert!(matches!(
        client.refresh(&tokens).await,
        Err(Error::InvalidGrant { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn the_device_flow_slows_down_when_told() {
    let (server, issuer) = AuthServer::start().await;
    let client = svc(&issuer, ClientAuth::Basic).await;
    let device = client.device_authorization().await.unwrap();
    assert!(device.user_code().starts_with("WDJB-"));
    assert!(device.verification_uri().ends_with("/activate"));
    assert_eq!(device.interval(), Duration::from_secs(1));
    let started = tokio::time::Instant::now();
    let tokens = client.poll_device(&device).await.unwrap();
    assert!(server.is_active(tokens.access_token().expose_secret()));
    // First poll at once; then 1 s; slow_down adds 5 s: 1 + 6 + 6 = 13 s.
    assert_eq!(started.elapsed(), Duration::from_secs(13));
    for (outcome, check) in [("access_denied", 0), ("expired_token", 1)] {
        *server.0.device_outcome.lock() = Some(outcome);
        *server.0.device_pending_polls.lock() = 0;
        let device = client.device_authorization().await.unwrap();
        let err = client.poll_device(&device).await.unwrap_err();
        match check {
            0 => assert!(matches!(err, Error::AccessDenied { .. }), "{err:?}"),
            _ => assert!(matches!(err, Error::ExpiredToken { .. }), "{err:?}"),
        }
    }
}

#[tokio::test]
async fn jwks_key_rotation_is_picked_up_and_refetches_are_rate_limited() {
    let (server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &["openid"]).await;
    let verifier = client.id_token_verifier().unwrap().clone();
    let first = server.id_token("native-app", "u1", Some("n1"));
    verifier.verify(&first, Some("n1")).await.unwrap();
    assert_eq!(verifier.fetches(), 1);
    verifier.verify(&first, Some("n1")).await.unwrap();
    assert_eq!(verifier.fetches(), 1, "cached");

    server.rotate_key("key-2");
    let rotated = server.id_token("native-app", "u1", Some("n2"));
    // Within the minute after the last fetch, an unknown kid does not refetch.
    let err = verifier.verify(&rotated, Some("n2")).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidIdToken { reason } if reason.contains("unknown key")),
        "{err:?}"
    );
    assert_eq!(verifier.fetches(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_by_a_fresh_verifier() {
    let (server, issuer) = AuthServer::start().await;
    server.rotate_key("key-2");
    let client = native(&issuer, &["openid"]).await;
    let verifier = client.id_token_verifier().unwrap();
    let token = server.id_token("native-app", "u1", None);
    verifier.verify(&token, None).await.unwrap();
    assert_eq!(server.0.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_id_tokens_are_rejected() {
    let (server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &["openid"]).await;
    let verifier = client.id_token_verifier().unwrap();
    let cases = [
        (Tweak::WrongAud, "aud"),
        (Tweak::WrongIss, "iss"),
        (Tweak::WrongNonce, "nonce"),
        (Tweak::Expired, "expired"),
        (Tweak::FutureIat, "future"),
    ];
    for (tweak, word) in cases {
        *server.0.tweak.lock() = Some(tweak);
        let token = server.id_token("native-app", "u1", Some("n"));
        let err = verifier.verify(&token, Some("n")).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidIdToken { reason } if reason.contains(word)),
            "{tweak:?}: {err:?}"
        );
    }
    *server.0.tweak.lock() = None;
    let good = server.id_token("native-app", "u1", Some("n"));
    assert!(verifier.verify(&good, Some("n")).await.is_ok());
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    assert!(verifier.verify(&tampered, Some("n")).await.is_err());
    assert!(matches!(
        verifier.verify("not.a.jwt", None).await,
        Err(Error::InvalidIdToken { .. })
    ));
}

#[tokio::test]
async fn id_tokens_missing_a_required_claim_or_meant_for_another_party_are_rejected() {
    let (server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &["openid"]).await;
    let verifier = client.id_token_verifier().unwrap();
    let now = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .unwrap()
        .as_secs();
    let claims = |changes: serde_json::Value| {
        let mut claims = serde_json::json!({
            "iss": issuer,
            "sub": "u1",
            "aud": "native-app",
            "iat": now,
            "exp": now + 300,
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        server.sign(&claims)
    };
    let refused = [
        (serde_json::json!({"iss": null}), "iss"),
        (serde_json::json!({"sub": null}), "sub"),
        (serde_json::json!({"aud": null}), "aud"),
        // Issued to another client that merely lists us too.
        (serde_json::json!({"azp": "other-app"}), "azp"),
        (
            serde_json::json!({"aud": ["native-app", "other-app"]}),
            "azp",
        ),
        (
            serde_json::json!({"aud": ["native-app", "other-app"], "azp": "other-app"}),
            "azp",
        ),
    ];
    for (changes, word) in refused {
        let err = verifier
            .verify(&claims(changes.clone()), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidIdToken { reason } if reason.contains(word)),
            "{changes}: {err:?}"
        );
    }
    // A nonce was sent: a token without one is refused.
    let err = verifier
        .verify(&claims(serde_json::json!({})), Some("n"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidIdToken { reason } if reason.contains("nonce")));
    // Several audiences are fine when we are the authorized party.
    let ours = claims(serde_json::json!({"aud": ["native-app", "other-app"], "azp": "native-app"}));
    assert_eq!(
        verifier.verify(&ours, None).await.unwrap().sub.as_deref(),
        Some("u1")
    );
    let plain = claims(serde_json::json!({"azp": "native-app"}));
    assert!(verifier.verify(&plain, None).await.is_ok());
}

#[tokio::test]
async fn every_grant_that_returns_an_id_token_has_it_checked() {
    let (server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &["openid"]).await;
    let password = secrecy::SecretString::from(USER.1.to_owned());
    let redirect = url::Url::parse(REDIRECT).unwrap();
    let with_verifier = |pending: session_oauth::PendingAuthorization| {
        let client = client.clone();
        let redirect = redirect.clone();
        async move {
            let code = code_for(&pending).await;
            client
                .exchange_code_with_verifier(
                    &code,
                    pending.code_verifier(),
                    Some(redirect.as_str()),
                )
                .await
        }
    };
    let tokens = client.password(USER.0, &password).await.unwrap();
    assert!(tokens.id_token().is_some());
    let pending = client.authorization_request(Some(&redirect)).unwrap();
    assert!(with_verifier(pending).await.unwrap().id_token().is_some());

    // The provider (or whoever answers in its place) hands out ID tokens
    // meant for another client.
    *server.0.tweak.lock() = Some(Tweak::WrongAud);
    let refused = |err: Error| {
        assert!(
            matches!(&err, Error::InvalidIdToken { reason } if reason.contains("aud")),
            "{err:?}"
        );
    };
    refused(client.password(USER.0, &password).await.unwrap_err());
    let pending = client.authorization_request(Some(&redirect)).unwrap();
    refused(with_verifier(pending).await.unwrap_err());
    // The facade's code flow takes the same path.
    let auth = OAuth::new(
        OAuthClient::builder(discovered(&issuer).await, "native-app")
            .scopes(["openid"])
            .redirect_uri(REDIRECT)
            .build()
            .unwrap(),
    );
    let start = auth.get_authorization_url_and_code_verifier().unwrap();
    let code = code_for_url(&start.url).await;
    let err = auth
        .authenticate_with_code_and_verifier(
            &code,
            secrecy::ExposeSecret::expose_secret(&start.code_verifier),
        )
        .await
        .unwrap_err();
    refused(err);
    assert!(auth.tokens().is_none());
}

#[tokio::test]
async fn a_refreshed_id_token_must_name_the_same_user() {
    let (server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &["openid"]).await;
    let password = secrecy::SecretString::from(USER.1.to_owned());
    let tokens = client.password(USER.0, &password).await.unwrap();
    let fresh = client.refresh(&tokens).await.unwrap();
    assert!(
        fresh.id_token().is_some(),
        "the provider sends one on refresh"
    );
    *server.0.tweak.lock() = Some(Tweak::SwappedSub);
    let err = client.refresh(&fresh).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidIdToken { reason } if reason.contains("sub")),
        "{err:?}"
    );
}

#[tokio::test]
async fn hmac_signed_id_tokens_are_checked_with_the_client_secret_only() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let (_server, issuer) = AuthServer::start().await;
    let now = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .unwrap()
        .as_secs();
    let token = |aud: &str, key: &[u8]| {
        let claims = serde_json::json!({
            "iss": issuer, "sub": "u1", "aud": aud, "iat": now, "exp": now + 300,
        });
        let header = Header::new(Algorithm::HS256);
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key)).unwrap()
    };
    let reason = |err: Error| match err {
        Error::InvalidIdToken { reason } => reason,
        other => panic!("{other:?}"),
    };
    // A confidential client checks them with its secret (OIDC Core 10.1).
    let confidential = svc(&issuer, ClientAuth::Basic).await;
    let verifier = confidential.id_token_verifier().unwrap();
    let claims = verifier
        .verify(&token("svc", SVC_SECRET.as_bytes()), None)
        .await
        .unwrap();
    assert_eq!(claims.sub.as_deref(), Some("u1"));
    // Keyed with anything else — a guess, the provider's published keys —
    // the signature doesn't verify.
    let jwks = reqwest::get(format!("{issuer}/jwks"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    for key in [&b"guessed"[..], &jwks] {
        let err = verifier.verify(&token("svc", key), None).await.unwrap_err();
        assert!(reason(err).contains("signature"));
    }
    // A public client has no secret: such tokens are refused.
    let public = native(&issuer, &["openid"]).await;
    let err = public
        .id_token_verifier()
        .unwrap()
        .verify(&token("native-app", b""), None)
        .await
        .unwrap_err();
    assert!(reason(err).contains("shared secret"));
}

#[tokio::test]
async fn a_session_on_oauth_refreshes_itself_and_signs_out() {
    let (server, issuer) = AuthServer::start().await;
    let api = support_api(&server).await;
    let client = svc(&issuer, ClientAuth::Basic).await;
    let store = SharedSessionStore::new(MemoryStore::new());
    let tokens = session_auth::TokenManager::builder(OAuthTokenProvider::new(
        client.clone(),
        Grant::Password {
            username: USER.0.into(),
            password: USER.1.to_owned().into(),
        },
    ))
    .build();
    let session = session_auth::Session::builder()
        .base_url(&api)
        .tokens(tokens.clone())
        .store(store.clone(), "oauth")
        .build()
        .unwrap();
    assert_eq!(session.get("me").send().await.unwrap().status(), 200);
    let first = tokens.current().unwrap();

    // The server revokes the access token: the session refreshes (rotating
    // the refresh token), replays, and persists the rotated tokens.
    client
        .revoke(&session_core::TokenSet::new(
            first.access_token().expose_secret(),
        ))
        .await
        .unwrap();
    assert_eq!(session.get("me").send().await.unwrap().status(), 200);
    let second = tokens.current().unwrap();
    assert_ne!(second.refresh_token(), first.refresh_token());
    session.close().await.unwrap();
    let stored = store.load("oauth").await.unwrap().unwrap();
    assert_eq!(
        stored.data["tokens"]["refresh_token"],
        second.refresh_token().unwrap().expose_secret()
    );

    // Sign-out revokes both tokens, then wipes memory and store.
    let session = session_auth::Session::builder()
        .base_url(&api)
        .tokens(tokens.clone())
        .store(store.clone(), "oauth")
        .build()
        .unwrap();
    session.sign_out().await.unwrap();
    assert!(!server.is_active(second.access_token().expose_secret()));
    assert!(matches!(
        client.refresh(&second).await,
        Err(Error::InvalidGrant { .. })
    ));
    assert!(store.load("oauth").await.unwrap().is_none());
}

/// An API that accepts the authorization server's live access tokens.
async fn support_api(server: &AuthServer) -> String {
    use axum::http::{HeaderMap, StatusCode};
    let server = server.clone();
    let router = axum::Router::new().fallback(move |headers: HeaderMap| {
        let server = server.clone();
        async move {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if server.is_active(token) {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

#[tokio::test]
async fn the_seed_names_work() {
    let (server, issuer) = AuthServer::start().await;
    let oauth = OAuth::new(
        OAuthClient::builder(discovered(&issuer).await, "svc")
            .client_secret(SVC_SECRET)
            .redirect_uri("http://127.0.0.1:4567/callback")
            .build()
            .unwrap(),
    );
    let t1 = oauth.sign_in_with_password(USER.0, USER.1).await.unwrap();
    let t2 = oauth.refresh_token(None).await.unwrap();
    let t3 = oauth
        .refresh_oauth_token(t2.refresh_token().unwrap().expose_secret())
        .await
        .unwrap();
    let t4 = oauth.refresh().await.unwrap();
    assert!(server.is_active(t4.access_token().expose_secret()));
    assert_ne!(t1.access_token(), t3.access_token());
    let svc_tokens = oauth.sign_in_with_client("svc", SVC_SECRET).await.unwrap();
    assert!(server.is_active(svc_tokens.access_token().expose_secret()));
    let start = oauth.get_authorization_url_and_code_verifier().unwrap();
    assert!(start.url.as_str().contains("code_challenge="));
    assert!(
        !start
            .url
            .as_str()
            .contains(secrecy::ExposeSecret::expose_secret(&start.code_verifier))
    );
    assert!(matches!(
        oauth
            .authenticate_with_code_and_verifier("bogus", "v")
            .await,
        Err(Error::InvalidGrant { .. })
    ));
    oauth.sign_out().await.unwrap();
    assert!(oauth.tokens().is_none());
    assert!(!server.is_active(svc_tokens.access_token().expose_secret()));
}

#[tokio::test]
async fn after_the_rate_limit_window_a_rotated_key_is_fetched() {
    use session_core::Clock as _;
    let (server, issuer) = AuthServer::start().await;
    let clock = session_core::ManualClock::new(session_core::SystemClock.now());
    let client = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .clock(session_core::SharedClock::new(clock.clone()))
        .build()
        .unwrap();
    let verifier = client.id_token_verifier().unwrap();
    verifier
        .verify(&server.id_token("native-app", "u", None), None)
        .await
        .unwrap();
    server.rotate_key("key-2");
    let rotated = server.id_token("native-app", "u", None);
    assert!(
        verifier.verify(&rotated, None).await.is_err(),
        "rate-limited"
    );
    clock.advance(Duration::from_secs(61));
    verifier.verify(&rotated, None).await.unwrap();
    assert_eq!(verifier.fetches(), 2);
    assert_eq!(server.0.jwks_fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn rfc_8414_discovery_and_issuer_checks() {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}/tenant-a");
    let doc = serde_json::json!({"issuer": issuer, "token_endpoint": format!("{issuer}/token")});
    let wrong = serde_json::json!({"issuer": "https://elsewhere.example", "token_endpoint": "https://elsewhere.example/token"});
    let router = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server/tenant-a",
            get(move || {
                let d = doc.clone();
                async move { axum::Json(d) }
            }),
        )
        .route(
            "/.well-known/oauth-authorization-server/tenant-b",
            get(move || {
                let d = wrong.clone();
                async move { axum::Json(d) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = session_oauth::OAuthHttp::new().unwrap();
    let found = ProviderMetadata::discover(&http, &issuer).await.unwrap();
    assert_eq!(found.token_endpoint.as_str(), format!("{issuer}/token"));
    let err = ProviderMetadata::discover(&http, &format!("{base}/tenant-b"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidResponse { reason } if reason.contains("another issuer")));
    let err = ProviderMetadata::discover(&http, &format!("{base}/nobody"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }));
}

#[tokio::test]
async fn the_facade_refreshes_and_revokes_as_the_client_that_signed_in() {
    let (server, issuer) = AuthServer::start().await;
    // Configured as the public app; signs in as the service.
    let oauth = OAuth::new(native(&issuer, &[]).await);
    oauth.sign_in_with_client("svc", SVC_SECRET).await.unwrap();
    server.0.authenticated.lock().clear();

    oauth.refresh().await.unwrap();
    oauth.sign_out().await.unwrap();
    let seen = server.0.authenticated.lock().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|(_, client)| client == "svc"),
        "every call after the sign-in authenticates as svc: {seen:?}"
    );
    assert!(seen.iter().any(|(endpoint, _)| *endpoint == "token"));
    assert!(seen.iter().any(|(endpoint, _)| *endpoint == "revoke"));

    // Signing in with a password goes back to the configured client.
    oauth.sign_in_with_password(USER.0, USER.1).await.unwrap();
    server.0.authenticated.lock().clear();
    oauth.refresh().await.unwrap();
    assert_eq!(
        server.0.authenticated.lock().as_slice(),
        [("token", "native-app".to_owned())]
    );
}

#[tokio::test]
async fn a_wrong_password_is_invalid_credentials() {
    let (_server, issuer) = AuthServer::start().await;
    let client = native(&issuer, &[]).await;
    let err = client
        .password(USER.0, &secrecy::SecretString::from("wrong".to_owned()))
        .await
        .unwrap_err();
    assert!(err.is_invalid_credentials(), "{err:?}");
    assert!(
        err.into_core().is_invalid_credentials(),
        "and in session-core's terms"
    );
    // A dead refresh token stays invalid_grant.
    let err = client.refresh_with("rt-unknown").await.unwrap_err();
    assert!(matches!(err, Error::InvalidGrant { .. }), "{err:?}");
    assert!(!err.is_invalid_credentials());
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_for_every_endpoint() {
    let http = session_oauth::OAuthHttp::new().unwrap();
    // The host doesn't resolve: a refusal must come before any connection.
    let err = ProviderMetadata::discover(&http, "http://id.example.invalid")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InsecureTransport { host } if host == "id.example.invalid"),
        "{err:?}"
    );
    let provider = ProviderMetadata::new("http://id.example.invalid/token")
        .unwrap()
        .with_revocation_endpoint("http://id.example.invalid/revoke")
        .unwrap();
    let client = OAuthClient::builder(provider, "svc")
        .client_secret(SVC_SECRET)
        .build()
        .unwrap();
    let err = client.client_credentials().await.unwrap_err();
    assert!(matches!(err, Error::InsecureTransport { .. }), "{err:?}");
    let err = client.refresh_with("rt").await.unwrap_err();
    assert!(matches!(err, Error::InsecureTransport { .. }), "{err:?}");
    let err = client
        .revoke(&session_core::TokenSet::new("at"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsecureTransport { .. }), "{err:?}");
    assert!(!format!("{err:?}").contains(SVC_SECRET));

    // The explicit opt-out lets it through (to fail resolving the host).
    let lenient = session_oauth::OAuthHttp::builder()
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let err = ProviderMetadata::discover(&lenient, "http://id.example.invalid")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_token_endpoint_that_never_answers_is_a_timeout() {
    let (server, issuer) = AuthServer::start().await;
    let client = svc(&issuer, ClientAuth::Basic).await;
    *server.0.stall_token.lock() = true;
    let started = tokio::time::Instant::now();
    let err = client.client_credentials().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.is_timeout(), "{err:?}");
    // The default: 30 seconds for an exchange with an OAuth endpoint.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "{waited:?}"
    );
}

/// A server that answers every request with `head` (status line and
/// headers) and then `body`, whatever was asked.
async fn raw_server(head: String, body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = std::sync::Arc::new([head.into_bytes(), body].concat());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(&answer).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_answer_too_large_for_an_oauth_endpoint_is_refused() {
    let huge = 2 * session_oauth::MAX_ANSWER_BYTES;
    let declared = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {huge}\r\n\r\n"
    );
    // No length given: the body just keeps coming, in 64 KiB chunks.
    let streamed =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut chunked = Vec::new();
    for _ in 0..huge / 65_536 {
        chunked.extend_from_slice(b"10000\r\n");
        chunked.extend(std::iter::repeat_n(b' ', 65_536));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let too_large = |err: Error| {
        assert!(
            matches!(&err, Error::InvalidResponse { reason } if reason.contains("1 MiB")),
            "{err:?}"
        );
    };
    for (head, body) in [(declared, vec![b' '; huge]), (streamed.to_owned(), chunked)] {
        let url = raw_server(head, body).await;
        let metadata = ProviderMetadata::new(&format!("{url}/token")).unwrap();
        let client = OAuthClient::builder(metadata, "svc")
            .client_secret(SVC_SECRET)
            .build()
            .unwrap();
        too_large(client.client_credentials().await.unwrap_err());
        let http = session_oauth::OAuthHttp::new().unwrap();
        too_large(ProviderMetadata::discover(&http, &url).await.unwrap_err());
    }
}

#[tokio::test]
async fn a_prompting_sign_in_asks_only_when_no_stored_token_serves() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use session_auth::{Session, SessionState, SignInCredentials, SignInProvider, TokenManager};

    let (server, issuer) = AuthServer::start().await;
    let api = support_api(&server).await;
    let store = SharedSessionStore::new(MemoryStore::new());
    let asked = Arc::new(AtomicUsize::new(0));
    let session_for = |password: &'static str| {
        let asked = asked.clone();
        let issuer = issuer.clone();
        let (api, store) = (api.clone(), store.clone());
        async move {
            let client = svc(&issuer, ClientAuth::Basic).await;
            let provider = SignInProvider::prompting(client, move || {
                asked.fetch_add(1, Ordering::SeqCst);
                async move { Ok(SignInCredentials::password(USER.0, password)) }
            });
            let state = SessionState::builder(store, "ada").build();
            let tokens = TokenManager::builder(provider).state(state.clone()).build();
            Session::builder()
                .base_url(&api)
                .tokens(tokens)
                .state(state)
                .build()
                .unwrap()
        }
    };

    // First run: nothing stored, so the password is asked for once.
    let first = session_for(USER.1).await;
    assert_eq!(first.get("me").send().await.unwrap().status(), 200);
    assert_eq!(first.get("me").send().await.unwrap().status(), 200);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    first.close().await.unwrap();

    // A later run restores the stored tokens: the prompt (whose password
    // would now be wrong) is never called.
    let calls = server.0.token_calls.load(Ordering::SeqCst);
    let again = session_for("not the password").await;
    assert_eq!(again.get("me").send().await.unwrap().status(), 200);
    assert_eq!(asked.load(Ordering::SeqCst), 1, "restored, not asked");
    assert_eq!(server.0.token_calls.load(Ordering::SeqCst), calls);

    // Signed out, the next sign-in asks — and a wrong password is
    // InvalidCredentials, not a refresh failure.
    again.sign_out().await.unwrap();
    let err = again.sign_in().await.unwrap_err();
    assert!(err.is_invalid_credentials(), "{err:?}");
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}
