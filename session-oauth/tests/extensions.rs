//! Client authentication without a shared secret (`private_key_jwt`), the
//! JWT-bearer grant, token exchange, user info and RP-initiated logout,
//! end to end against the strict loopback authorization server.

mod support;

use std::sync::atomic::Ordering;

use session_auth::{Session, TokenManager};
use session_core::TokenSet;
use session_oauth::{
    AssertionAudience, ClientAuth, Error, Grant, JwtBearer, OAuthClient, OAuthTokenProvider,
    ProviderMetadata, SigningKey, TokenExchange,
};
use support::{AuthServer, ED_PRIVATE_JWK, SERVICE_ACCOUNT, SVC_SECRET, Tweak, USER};

async fn discovered(issuer: &str) -> ProviderMetadata {
    let http = session_oauth::OAuthHttp::new().unwrap();
    ProviderMetadata::discover(&http, issuer).await.unwrap()
}

async fn svc(issuer: &str) -> OAuthClient {
    OAuthClient::builder(discovered(issuer).await, "svc")
        .client_secret(SVC_SECRET)
        .build()
        .unwrap()
}

/// A `private_key_jwt` client `keyed-svc`, its key registered at the server.
async fn keyed(server: &AuthServer, issuer: &str) -> OAuthClient {
    let (pem, public) = support::new_ec_pem();
    server.register_key("keyed-svc", public);
    OAuthClient::builder(discovered(issuer).await, "keyed-svc")
        .private_key_jwt(SigningKey::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// Posts `form` to the token endpoint as is.
async fn raw_token_call(issuer: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn private_key_jwt_authenticates_every_call_and_an_assertion_works_once() {
    let (server, issuer) = AuthServer::start().await;
    let client = keyed(&server, &issuer).await;
    let own = client.client_credentials().await.unwrap();
    assert!(server.is_active(own.access_token().expose_secret()));
    let first = server.0.last_client_assertion.lock().clone().unwrap();

    // Every endpoint that authenticates the client gets a fresh assertion.
    let svc_tokens = svc(&issuer).await.client_credentials().await.unwrap();
    client
        .introspect(svc_tokens.access_token().expose_secret())
        .await
        .unwrap();
    client.revoke(&svc_tokens).await.unwrap();
    let authenticated = server.0.authenticated.lock().clone();
    for endpoint in ["token", "revoke"] {
        assert!(
            authenticated.contains(&(endpoint, "keyed-svc".to_owned())),
            "{endpoint}: {authenticated:?}"
        );
    }
    assert_ne!(
        server.0.last_client_assertion.lock().as_deref(),
        Some(first.as_str()),
        "each call signs a new assertion"
    );

    // The attacker's move: replay an assertion seen on the wire.
    let (status, body) = raw_token_call(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "keyed-svc"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &first),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(body["error_description"], "the assertion was used before");

    // A key the server doesn't know is refused as a client error.
    let (stranger, _) = support::new_ec_pem();
    let impostor = OAuthClient::builder(discovered(&issuer).await, "keyed-svc")
        .private_key_jwt(SigningKey::from_pem(stranger.as_bytes()).unwrap())
        .build()
        .unwrap();
    let refused = impostor.client_credentials().await.unwrap_err();
    assert!(
        matches!(refused, Error::InvalidClient { .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_jwk_key_signs_with_its_kid_and_the_audience_can_be_the_token_endpoint() {
    let (server, issuer) = AuthServer::start().await;
    let key = SigningKey::from_jwk(ED_PRIVATE_JWK).unwrap();
    assert_eq!((key.algorithm(), key.key_id()), ("EdDSA", Some("ed-1")));
    let client = |audience| {
        let key = key.clone();
        let issuer = issuer.clone();
        async move {
            OAuthClient::builder(discovered(&issuer).await, "ed-svc")
                .private_key_jwt(key)
                .assertion_audience(audience)
                .build()
                .unwrap()
        }
    };
    let tokens = TokenSet::new("at-unknown");
    // The issuer is the default audience.
    client(AssertionAudience::Issuer)
        .await
        .introspect("at-unknown")
        .await
        .unwrap();
    let assertion = server.0.last_client_assertion.lock().clone().unwrap();
    let header = jsonwebtoken::decode_header(&assertion).unwrap();
    assert_eq!(header.kid.as_deref(), Some("ed-1"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);

    *server.0.assertion_aud_is_token_endpoint.lock() = true;
    let refused = client(AssertionAudience::Issuer)
        .await
        .revoke(&tokens)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::InvalidClient { .. }),
        "{refused:?}"
    );
    client(AssertionAudience::TokenEndpoint)
        .await
        .revoke(&tokens)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_private_key_jwt_client_needs_a_key_and_keys_never_print() {
    let provider = ProviderMetadata::new("https://id.example.com/token").unwrap();
    let missing = OAuthClient::builder(provider, "svc")
        .client_auth(ClientAuth::PrivateKeyJwt)
        .build()
        .unwrap_err();
    assert!(missing.to_string().contains("signing key"), "{missing}");

    let key = SigningKey::from_jwk(ED_PRIVATE_JWK).unwrap();
    let (pem, _) = support::new_rsa_pem();
    let rsa = SigningKey::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(rsa.algorithm(), "RS256");
    let printed = format!(
        "{key:?} {rsa:?} {:?} {:?}",
        Grant::JwtBearer(JwtBearer::new(key.clone(), "svc")),
        Grant::TokenExchange(
            TokenExchange::new("subject-secret").actor_token("actor-secret", TokenExchange::JWT)
        ),
    );
    for secret in ["nWGx", "PRIVATE", "subject-secret", "actor-secret"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }

    // Bad key material is a typed error that never quotes it.
    for bad in [
        "{}",
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        r#"{"kty":"EC","crv":"P-256","d":"c2VjcmV0LWQ","x":"eA","y":"eQ"}"#,
        r#"{"kty":"oct","k":"c2VjcmV0LWQ"}"#,
    ] {
        let error = SigningKey::from_jwk(bad).unwrap_err();
        assert!(matches!(error, Error::Configuration { .. }));
        assert!(!error.to_string().contains("c2VjcmV0"), "{error}");
    }
    let error =
        SigningKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
    assert!(!format!("{error} {error:?}").contains("c2VjcmV0"));
}

#[tokio::test]
async fn jwt_bearer_tokens_drive_a_session_that_renews_them_with_a_new_assertion() {
    let (server, issuer) = AuthServer::start().await;
    let grant = JwtBearer::from_service_account_json(&server.service_account_json()).unwrap();
    assert_eq!(grant.token_uri(), Some(format!("{issuer}/token").as_str()));
    let client = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .scopes(["reports:read"])
        .build()
        .unwrap();
    let direct = client.jwt_bearer(&grant).await.unwrap();
    assert!(direct.refresh_token().is_none());

    let tokens =
        TokenManager::builder(OAuthTokenProvider::new(client, Grant::JwtBearer(grant))).build();
    let session = Session::builder()
        .base_url(format!("{issuer}/"))
        .tokens(tokens.clone())
        .build()
        .unwrap();
    let calls = server.0.token_calls.load(Ordering::SeqCst);
    let answer = session.get("resource").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), SERVICE_ACCOUNT);
    // The provider forgets the token: the 401 renews it with a fresh
    // assertion (a reused one would be refused), and the request replays.
    server.forget_access_tokens();
    let answer = session.get("resource").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(server.0.token_calls.load(Ordering::SeqCst), calls + 2);

    // A key the provider doesn't know: the grant is refused, typed.
    let (other, _) = support::new_rsa_pem();
    let stranger = JwtBearer::new(
        SigningKey::from_pem(other.as_bytes()).unwrap(),
        SERVICE_ACCOUNT,
    );
    let refused = svc(&issuer).await.jwt_bearer(&stranger).await.unwrap_err();
    assert!(matches!(refused, Error::InvalidGrant { .. }), "{refused:?}");

    // An assertion from elsewhere is sent as it is.
    let made = JwtBearer::from_fn(|| Ok("not-a-jwt".to_owned()));
    let refused = svc(&issuer).await.jwt_bearer(&made).await.unwrap_err();
    assert!(matches!(refused, Error::InvalidGrant { .. }), "{refused:?}");
}

#[tokio::test]
async fn token_exchange_trades_a_users_token_for_one_a_session_uses() {
    let (server, issuer) = AuthServer::start().await;
    let user_client = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .build()
        .unwrap();
    let user = user_client
        .password(USER.0, &USER.1.to_owned().into())
        .await
        .unwrap();
    let request = TokenExchange::new(user.access_token().expose_secret())
        .audience("orders")
        .resource("https://orders.example.com/")
        .requested_token_type(TokenExchange::ACCESS_TOKEN)
        .scopes(["orders:read"]);
    let exchanged = svc(&issuer).await.exchange_token(&request).await.unwrap();
    assert_ne!(
        exchanged.access_token().expose_secret(),
        user.access_token().expose_secret()
    );
    let form = server.0.last_exchange.lock().clone().unwrap();
    assert_eq!(form["audience"], "orders");
    assert_eq!(form["resource"], "https://orders.example.com/");
    assert_eq!(form["scope"], "orders:read");
    assert_eq!(form["subject_token"], user.access_token().expose_secret());

    // Behind a session: the exchanged token is what goes out, and it is
    // exchanged again when the provider forgets it.
    let tokens = TokenManager::builder(OAuthTokenProvider::new(
        svc(&issuer).await,
        Grant::TokenExchange(request),
    ))
    .build();
    let tokens_for_session = tokens.clone();
    let session = Session::builder()
        .base_url(format!("{issuer}/"))
        .tokens(tokens_for_session)
        .build()
        .unwrap();
    let answer = session.get("resource").send().await.unwrap();
    assert_eq!(
        answer.text().await.unwrap(),
        USER.0,
        "on behalf of the user"
    );
    // The provider forgets the exchanged token (not the user's): the 401
    // exchanges the subject token again, and the request replays.
    let exchanged_now = tokens.current().unwrap();
    server.forget(exchanged_now.access_token().expose_secret());
    let calls = server.0.token_calls.load(Ordering::SeqCst);
    let answer = session.get("resource").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(server.0.token_calls.load(Ordering::SeqCst), calls + 1);
    assert_ne!(
        tokens.current().unwrap().access_token().expose_secret(),
        exchanged_now.access_token().expose_secret()
    );

    // A subject token the provider doesn't know: refused, typed.
    let refused = svc(&issuer)
        .await
        .exchange_token(&TokenExchange::new("forged"))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::InvalidGrant { .. }), "{refused:?}");
}

#[tokio::test]
async fn userinfo_returns_the_users_claims_plain_or_signed() {
    let (server, issuer) = AuthServer::start().await;
    let client = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .scopes(["openid"])
        .build()
        .unwrap();
    let tokens = client
        .password(USER.0, &USER.1.to_owned().into())
        .await
        .unwrap();
    let claims = client.userinfo(&tokens).await.unwrap();
    assert_eq!(claims["sub"], USER.0);
    assert_eq!(claims["name"], "Ada Lovelace");

    *server.0.sign_userinfo.lock() = true;
    let signed = client.userinfo(&tokens).await.unwrap();
    assert_eq!(signed["email"], USER.0);
    assert_eq!(signed["aud"], "native-app");

    // Signed for another client: refused.
    *server.0.tweak.lock() = Some(Tweak::WrongAud);
    let refused = client.userinfo(&tokens).await.unwrap_err();
    assert!(
        matches!(refused, Error::InvalidIdToken { .. }),
        "{refused:?}"
    );
    *server.0.tweak.lock() = None;

    // About someone other than the ID token's user: refused.
    let with_id = tokens
        .clone()
        .with_id_token(server.id_token("native-app", USER.0, None));
    assert!(client.userinfo(&with_id).await.is_ok());
    *server.0.userinfo_sub.lock() = Some("mallory".into());
    let refused = client.userinfo(&with_id).await.unwrap_err();
    assert!(
        matches!(refused, Error::InvalidResponse { .. }),
        "{refused:?}"
    );

    // A token the provider doesn't know.
    let refused = client.userinfo(&TokenSet::new("forged")).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Server { code, .. } if code == "invalid_token"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_logout_url_carries_the_id_token_hint_and_where_to_return() {
    let (server, issuer) = AuthServer::start().await;
    let client = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .build()
        .unwrap();
    let id_token = server.id_token("native-app", USER.0, None);
    let tokens = TokenSet::new("at").with_id_token(id_token.clone());
    let url = client
        .end_session_url(Some(&tokens), Some("http://127.0.0.1:9/bye"), Some("s-1"))
        .unwrap();
    assert_eq!(url.path(), "/logout");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["id_token_hint"], id_token);
    assert_eq!(query["client_id"], "native-app");
    assert_eq!(query["post_logout_redirect_uri"], "http://127.0.0.1:9/bye");
    assert_eq!(query["state"], "s-1");

    let bare = client.end_session_url(None, None, None).unwrap();
    assert_eq!(bare.query(), Some("client_id=native-app"));
    assert!(
        client
            .end_session_url(None, Some("not a url"), None)
            .is_err()
    );
    let no_endpoint = OAuthClient::builder(
        ProviderMetadata::new(&format!("{issuer}/token")).unwrap(),
        "x",
    )
    .build()
    .unwrap()
    .end_session_url(None, None, None)
    .unwrap_err();
    assert!(matches!(no_endpoint, Error::MissingEndpoint { .. }));
}

#[tokio::test]
async fn signing_out_of_the_facade_hands_back_the_providers_logout_url() {
    let (_server, issuer) = AuthServer::start().await;
    let client = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .scopes(["openid"])
        .build()
        .unwrap();
    let auth = session_oauth::OAuth::new(client);
    let tokens = auth.sign_in_with_password(USER.0, USER.1).await.unwrap();
    let id_token = tokens.id_token().unwrap().expose_secret().to_owned();
    assert!(
        auth.sign_out_and_end_session(Some("not a url"))
            .await
            .is_err(),
        "a bad redirect is refused before anything is signed out"
    );
    assert!(auth.tokens().is_some());
    let url = auth
        .sign_out_and_end_session(Some("http://127.0.0.1:9/bye"))
        .await
        .unwrap()
        .expect("the provider has an end-session endpoint");
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "id_token_hint" && v == id_token)
    );
    assert!(auth.tokens().is_none(), "signed out here as well");
}

/// Signs in through the loopback listener, the test playing the browser;
/// returns the URL the browser was sent to.
async fn sign_in_through_the_browser(client: &OAuthClient) -> (url::Url, TokenSet) {
    let listener = session_oauth::LoopbackRedirect::bind(None, "/callback")
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let browser = tokio::spawn(async move { support::follow_in_browser(rx.await.unwrap()).await });
    let mut opened = None;
    let tokens = client
        .authorize_with_loopback(listener, std::time::Duration::from_secs(30), |url| {
            opened = Some(url.clone());
            tx.send(url.clone()).unwrap();
        })
        .await
        .unwrap();
    assert_eq!(browser.await.unwrap(), 200);
    (opened.unwrap(), tokens)
}

#[tokio::test]
async fn a_provider_that_requires_pushed_requests_gets_them_and_a_request_uri_works_once() {
    let (server, issuer) = AuthServer::start().await;
    *server.0.require_par.lock() = true;
    let client = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .scopes(["openid"])
        .build()
        .unwrap();
    // The synchronous builder can't push: it refuses rather than hand out
    // a URL the provider would reject.
    let redirect = url::Url::parse("http://127.0.0.1:9/callback").unwrap();
    assert!(matches!(
        client.authorization_request(Some(&redirect)),
        Err(Error::Configuration { .. })
    ));

    let (opened, tokens) = sign_in_through_the_browser(&client).await;
    assert!(server.is_active(tokens.access_token().expose_secret()));
    assert_eq!(server.0.pushes.load(Ordering::SeqCst), 1);
    let query: std::collections::HashMap<_, _> = opened.query_pairs().into_owned().collect();
    assert_eq!(
        query
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        ["client_id", "request_uri"].into(),
        "the browser sees no PKCE challenge, state or scope: {opened}"
    );
    // The request_uri was used: replaying it is refused.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(opened)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);
}

#[tokio::test]
async fn pushing_is_opt_in_where_the_provider_allows_both() {
    let (server, issuer) = AuthServer::start().await;
    let plain = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .build()
        .unwrap();
    let (opened, _) = sign_in_through_the_browser(&plain).await;
    assert!(opened.query_pairs().any(|(k, _)| k == "code_challenge"));
    assert_eq!(server.0.pushes.load(Ordering::SeqCst), 0);

    let pushing = OAuthClient::builder(discovered(&issuer).await, "native-app")
        .pushed_authorization_requests(true)
        .build()
        .unwrap();
    let (opened, tokens) = sign_in_through_the_browser(&pushing).await;
    assert!(opened.query_pairs().any(|(k, _)| k == "request_uri"));
    assert!(server.is_active(tokens.access_token().expose_secret()));
    assert_eq!(server.0.pushes.load(Ordering::SeqCst), 1);

    // The push authenticates the client like any token-endpoint call.
    let (pem, public) = support::new_ec_pem();
    server.register_key("keyed-svc", public);
    let keyed = OAuthClient::builder(discovered(&issuer).await, "keyed-svc")
        .private_key_jwt(SigningKey::from_pem(pem.as_bytes()).unwrap())
        .pushed_authorization_requests(true)
        .build()
        .unwrap();
    let pending = keyed
        .start_authorization(Some(
            &url::Url::parse("http://127.0.0.1:9/callback").unwrap(),
        ))
        .await
        .unwrap();
    assert!(pending.url.query_pairs().any(|(k, _)| k == "request_uri"));
    assert_eq!(server.0.pushes.load(Ordering::SeqCst), 2);
}
