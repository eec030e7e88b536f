//! OAuth 2.0 and OpenID Connect for session-kit, on the `oauth2` crate.
//!
//! - the authorization code flow with PKCE (S256 only), `state`, the OIDC
//!   `nonce` and the response's issuer (RFC 9207, against mix-up attacks),
//!   with a [`LoopbackRedirect`] listener for native apps (RFC 8252) or
//!   [`PendingAuthorization::code_from_redirect`] for your own callback;
//! - client credentials (`client_secret_basic` with RFC 6749 §2.3.1 encoding,
//!   or `client_secret_post`), password, and refresh with rotation;
//! - revocation (RFC 7009), introspection (RFC 7662), the device grant (RFC 8628);
//! - ID-token validation against the provider's JWKS ([`IdTokenVerifier`]),
//!   applied to every grant's answer that carries one;
//! - discovery ([`ProviderMetadata::discover`]);
//! - [`OAuthTokenProvider`], so a `session_auth::Session` refreshes itself,
//!   and [`OAuth`], sign-in, refresh, sign-out and the code flow on one type;
//! - client authentication without a shared secret: `private_key_jwt`
//!   (RFC 7523 §2.2) with RS256, ES256 or EdDSA keys from PEM or a JWK
//!   ([`SigningKey`]), or a TLS client certificate (RFC 8705,
//!   [`ClientAuth::TlsClientAuth`] with [`OAuthHttpBuilder::identity`]), on
//!   every call that authenticates the client;
//! - service-to-service grants: JWT-bearer (RFC 7523 §2.1, service-account
//!   key files, [`JwtBearer`]) and token exchange (RFC 8693,
//!   [`TokenExchange`]), both usable as a session's [`Grant`];
//! - sender-constrained tokens (DPoP, RFC 9449): authorization codes and
//!   tokens bound to the session's key, proved on every request
//!   ([`OAuthClientBuilder::dpop`]);
//! - pushed authorization requests (RFC 9126): automatic when the provider
//!   requires them, opt-in otherwise
//!   ([`OAuthClientBuilder::pushed_authorization_requests`]);
//! - OpenID Connect user info (plain or signed) and RP-initiated logout
//!   ([`OAuthClient::end_session_url`]).
//!
//! Every request to the provider goes through [`OAuthHttp`], a
//! `session_auth::Session`: https (or a loopback host) only, no redirects
//! followed, connect and read timeouts by default, no URL or secret in an
//! error.
//!
//! # Example
//!
//! A service signing in with its client credentials; the session refreshes
//! before expiry and after a 401, and revokes on sign-out:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use session_auth::{Session, TokenManager};
//! use session_oauth::{Grant, OAuthClient, OAuthHttp, OAuthTokenProvider, ProviderMetadata};
//!
//! let provider = ProviderMetadata::discover(&OAuthHttp::new()?, "https://id.example.com").await?;
//! let client = OAuthClient::builder(provider, "reports")
//!     .client_secret(std::env::var("REPORTS_CLIENT_SECRET")?)
//!     .scopes(["reports:read"])
//!     .build()?;
//! let tokens = TokenManager::builder(OAuthTokenProvider::new(client, Grant::ClientCredentials)).build();
//! let session = Session::builder().base_url("https://api.example.com/").tokens(tokens).build()?;
//! println!("{}", session.get("reports/today").send().await?.text().await?);
//! session.sign_out().await?;
//! # Ok(()) }
//! ```
//!
//! # Without a shared secret
//!
//! A service that proves who it is with a private key, and a session that
//! acts for a user through token exchange:
//!
//! ```no_run
//! # async fn run(user_token: String) -> Result<(), Box<dyn std::error::Error>> {
//! use session_auth::{Session, TokenManager};
//! use session_oauth::{Grant, OAuthClient, OAuthHttp, OAuthTokenProvider, ProviderMetadata};
//! use session_oauth::{SigningKey, TokenExchange};
//!
//! let provider = ProviderMetadata::discover(&OAuthHttp::new()?, "https://id.example.com").await?;
//! let client = OAuthClient::builder(provider, "orders-gateway")
//!     .private_key_jwt(SigningKey::from_pem(&std::fs::read("gateway-key.pem")?)?)
//!     .build()?;
//! let on_behalf = TokenExchange::new(user_token).audience("orders").scopes(["orders:read"]);
//! let tokens = TokenManager::builder(OAuthTokenProvider::new(client, Grant::TokenExchange(on_behalf))).build();
//! let session = Session::builder().base_url("https://orders.example.com/").tokens(tokens).build()?;
//! println!("{}", session.get("orders").send().await?.text().await?);
//! # Ok(()) }
//! ```
//!
//! A service whose TLS client certificate is its credential (mutual TLS,
//! RFC 8705):
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use session_oauth::{ClientAuth, OAuthClient, OAuthHttp, ProviderMetadata};
//!
//! let identity = reqwest::Identity::from_pem(&std::fs::read("service.pem")?)?; // certificate + key
//! let http = OAuthHttp::builder().identity(identity).build()?;
//! let provider = ProviderMetadata::new("https://mtls.id.example.com/token")?;
//! let client = OAuthClient::builder(provider, "billing")
//!     .client_auth(ClientAuth::TlsClientAuth)
//!     .http(http)
//!     .build()?;
//! let tokens = client.client_credentials().await?;
//! # let _ = tokens; Ok(()) }
//! ```
//!
//! A service account's key file, with the JWT-bearer grant:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use session_oauth::{JwtBearer, OAuthClient, ProviderMetadata};
//!
//! let grant = JwtBearer::from_service_account_json(&std::fs::read_to_string("svc.json")?)?;
//! let provider = ProviderMetadata::new(grant.token_uri().unwrap_or("https://id.example.com/token"))?;
//! let client = OAuthClient::builder(provider, "reports").scopes(["reports:read"]).build()?;
//! let tokens = client.jwt_bearer(&grant).await?;
//! # let _ = tokens; Ok(()) }
//! ```
//!
//! # Sender-constrained tokens, pushed requests, user info and logout
//!
//! A browser sign-in whose tokens are bound to a key kept with the session
//! (DPoP), its authorization request pushed first (PAR); then the user's
//! claims, and the provider's logout URL at sign-out:
//!
//! ```no_run
//! # async fn run(store: session_core::SharedSessionStore) -> Result<(), Box<dyn std::error::Error>> {
//! use session_auth::{DpopKey, Session, SessionState, TokenManager};
//! use session_oauth::{Grant, LoopbackRedirect, OAuthClient, OAuthHttp, OAuthTokenProvider, ProviderMetadata};
//!
//! let state = SessionState::builder(store, "ada").build();
//! let key = DpopKey::for_state(&state).await?; // the same key after a restart
//! let provider = ProviderMetadata::discover(&OAuthHttp::new()?, "https://id.example.com").await?;
//! let client = OAuthClient::builder(provider, "my-cli")
//!     .scopes(["openid", "profile"])
//!     .dpop(key.clone())
//!     .pushed_authorization_requests(true)
//!     .build()?;
//! let listener = LoopbackRedirect::bind(None, "/callback").await?;
//! let tokens = client
//!     .authorize_with_loopback(listener, std::time::Duration::from_secs(300), |url| eprintln!("open {url}"))
//!     .await?;
//! println!("hello {}", client.userinfo(&tokens).await?["name"]);
//! state.update_tokens(tokens.clone());
//! let manager = TokenManager::builder(OAuthTokenProvider::new(client.clone(), Grant::Interactive))
//!     .state(state)
//!     .dpop(key)
//!     .build();
//! let session = Session::builder().base_url("https://api.example.com/").tokens(manager).build()?;
//! session.get("me").send().await?; // Authorization: DPoP …, with a proof
//! println!("to sign out at the provider too, open {}", client.end_session_url(Some(&tokens), None, None)?);
//! # Ok(()) }
//! ```
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorization_response;
mod client;
mod client_auth;
mod device;
mod error;
mod facade;
mod http_client;
mod id_token;
mod jwt_bearer;
mod loopback;
mod metadata;
mod provider;
mod sign_in;
mod signing_key;
mod token_exchange;
mod token_response;
mod userinfo;

pub use client::{Introspection, OAuthClient, OAuthClientBuilder, PendingAuthorization};
pub use client_auth::{AssertionAudience, ClientAuth};
pub use device::DeviceAuthorization;
pub use error::{Error, Result};
pub use facade::{AuthorizationUrl, OAuth};
pub use http_client::{HttpError, MAX_ANSWER_BYTES, OAuthHttp, OAuthHttpBuilder};
pub use id_token::IdTokenVerifier;
pub use jwt_bearer::JwtBearer;
pub use loopback::LoopbackRedirect;
pub use metadata::ProviderMetadata;
pub use provider::{Grant, OAuthTokenProvider};
pub use signing_key::SigningKey;
pub use token_exchange::TokenExchange;
pub use token_response::RawTokenResponse;

/// The secret string type of [`Grant::Password`] and
/// [`OAuthClient::password`], re-exported so callers need no `secrecy`
/// dependency of their own.
///
/// ```
/// let password = session_oauth::SecretString::from("correct horse");
/// let grant = session_oauth::Grant::Password { username: "ada".into(), password };
/// assert!(!format!("{grant:?}").contains("horse"));
/// ```
pub use secrecy::SecretString;
