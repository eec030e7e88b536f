//! The session-kit `Session`: an HTTP client on reqwest that authenticates
//! every request, retries transient failures, keeps tokens fresh, and is
//! shared by every API client in a program.
//!
//! - **Strategies**: [`BearerAuth`] (fixed, or refreshed by a
//!   [`TokenManager`]), [`BasicAuth`], [`ApiKeyAuth`] (header or query), static
//!   headers, and any [`Authenticate`](session_core::Authenticate) of your
//!   own — all with the same retries.
//! - **Refresh**: before expiry and once after a 401, single-flight across
//!   concurrent requests, never blocking requests whose token is still valid,
//!   re-login when the refresh token is dead.
//! - **Sender-constrained tokens** (DPoP, RFC 9449): with a [`DpopKey`]
//!   (kept with the session by [`DpopKey::for_state`]), every request with a
//!   DPoP-bound token carries a fresh proof for that request, and a server's
//!   nonce challenge is answered once.
//! - **Sign-in flows** for APIs with their own login endpoints: [`SignIn`],
//!   [`SignInCredentials`], [`SignInProvider`] (credentials held, or asked
//!   for by a callback only when a sign-in is actually needed).
//! - **One owner of a session's data**: [`SessionState`] keeps tokens,
//!   cookies, user info, named credentials and metadata in memory and in its
//!   store (coalesced auto-save or manual saves, one restore, the lease that
//!   keeps processes sharing a store from refreshing at once). The session,
//!   its token manager, the [`SessionRegistry`] and the OAuth facade read and
//!   write through it.
//! - **One request pipeline**: the [`Session`], the reqwest-middleware
//!   adapters (feature `middleware`) and the OAuth client's own calls send
//!   through the same code, so every rule below holds on every path.
//! - **Lifecycle**: [`Session::sign_out`] revokes, wipes memory and store,
//!   and ends the session — later requests fail with [`Error::SignedOut`]
//!   until [`Session::sign_in`]; [`Session::close`] ends it for every clone.
//!   A request's timeout bounds its wait for credentials too. Sign-in
//!   failures are told apart: [`Error::is_invalid_credentials`],
//!   [`Error::is_refresh_token_dead`], [`Error::is_provider_unreachable`],
//!   [`Error::is_provider_error`].
//! - **Security**: credentials refused over plain http (except loopback;
//!   `allow_insecure_http` is the one explicit opt-out), never sent to
//!   another origin after a redirect, never in logs or errors.
//!
//! # Example
//!
//! ```no_run
//! use session_auth::{BearerAuth, Session};
//! use session_retry::RetryPolicy;
//!
//! # #[derive(serde::Deserialize)] struct Customer;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let session = Session::builder()
//!     .base_url("https://api.example.com/v2/")
//!     .auth(BearerAuth::new("token"))
//!     .retry(RetryPolicy::builder().retries(3).backoff_factor(1.0).build()?)
//!     .build()?;
//! let customers: Vec<Customer> = session.get("customers").send().await?.json().await?;
//! println!("{}", session.summary());
//! # Ok(()) }
//! ```
//!
//! # A custom strategy
//!
//! ```
//! use async_trait::async_trait;
//! use session_auth::Session;
//! use session_core::{AuthRequest, Authenticate, Result, sensitive_header_value};
//!
//! #[derive(Debug)]
//! struct TenantKey(http::HeaderValue);
//!
//! #[async_trait]
//! impl Authenticate for TenantKey {
//!     async fn authenticate(&self, request: &mut AuthRequest<'_>) -> Result<()> {
//!         request.set_header(http::HeaderName::from_static("x-tenant-key"), self.0.clone());
//!         Ok(())
//!     }
//! }
//!
//! let session = Session::builder()
//!     .base_url("https://api.example.com/")
//!     .auth(TenantKey(sensitive_header_value("k-123")?))
//!     .build()?; // retries included
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Logging
//!
//! One `tracing` span per request (`session.request`: method, host, path
//! without query, status, attempts); retry events from `session_retry`;
//! refresh failures at WARN. No credential, header value or query string is
//! ever logged.
//!
//! # Features
//!
//! | Feature | What it enables | Default? |
//! |---|---|---|
//! | `middleware` | [`middleware`]: our auth and retry as `reqwest_middleware::Middleware` | no |
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api_key;
mod basic;
mod bearer;
mod builder;
mod dpop;
mod error;
mod live_jar;
mod pipeline;
mod registry;
mod request;
mod session;
mod sign_in;
mod state;
mod striped;
mod thread_header;
mod token_manager;
mod url;
mod url_cache;

#[cfg(feature = "middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
pub mod middleware;

pub use api_key::ApiKeyAuth;
pub use basic::BasicAuth;
pub use bearer::BearerAuth;
pub use builder::SessionBuilder;
pub use dpop::{DPOP, DPOP_NONCE, DpopKey};
pub use error::{Error, Result, TransportError};
pub use registry::SessionRegistry;
pub use request::RequestBuilder;
pub use session::{ClientStats, Session};
pub use sign_in::{SignIn, SignInCredentials, SignInProvider};
pub use state::{LoginResult, SessionState, SessionStateBuilder};
pub use token_manager::{TokenManager, TokenManagerBuilder};
