//! OAuth 2.0 and OpenID Connect for session-kit, on the `oauth2` crate.
//!
//! - the authorization code flow with PKCE (S256 only), `state` and the OIDC
//!   `nonce`, with a [`LoopbackRedirect`] listener for native apps (RFC 8252);
//! - client credentials (`client_secret_basic` with RFC 6749 §2.3.1 encoding,
//!   or `client_secret_post`), password, and refresh with rotation;
//! - revocation (RFC 7009), introspection (RFC 7662), the device grant (RFC 8628);
//! - ID-token validation against the provider's JWKS ([`IdTokenVerifier`]);
//! - discovery ([`ProviderMetadata::discover`]);
//! - [`OAuthTokenProvider`], so a `session_auth::Session` refreshes itself,
//!   and [`OAuth`], sign-in, refresh, sign-out and the code flow on one type.
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
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod device;
mod error;
mod facade;
mod http_client;
mod id_token;
mod loopback;
mod metadata;
mod provider;
mod sign_in;
mod token_response;

pub use client::{
    ClientAuth, Introspection, OAuthClient, OAuthClientBuilder, PendingAuthorization,
};
pub use device::DeviceAuthorization;
pub use error::{Error, Result};
pub use facade::{AuthorizationUrl, OAuth};
pub use http_client::{HttpError, OAuthHttp, OAuthHttpBuilder};
pub use id_token::IdTokenVerifier;
pub use loopback::LoopbackRedirect;
pub use metadata::ProviderMetadata;
pub use provider::{Grant, OAuthTokenProvider};
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
