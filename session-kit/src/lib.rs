//! session-kit: authenticated, resilient, persistent HTTP sessions for API
//! clients, and secure session management for servers.
//!
//! This facade re-exports the session-kit crates. The core vocabulary is
//! always here; everything else sits behind a feature, so a program that only
//! needs retries compiles no database or server code.
//!
//! # Four jobs
//!
//! Each snippet is complete; the features it needs are in its heading.
//!
//! ## Call an API with a bearer token and retries (`auth`)
//!
//! ```no_run
//! # #[cfg(feature = "auth")]
//! # async fn job() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use session_kit::auth::{BearerAuth, Session};
//! use session_kit::retry::RetryPolicy;
//!
//! let session = Session::builder()
//!     .base_url("https://api.example.com/v1/")
//!     .auth(BearerAuth::new(std::env::var("API_TOKEN")?)) // https only (or loopback)
//!     .retry(RetryPolicy::builder().retries(3).backoff_factor(0.5).build()?)
//!     .timeout(Duration::from_secs(30)) // per attempt
//!     .build()?;
//! // 429/5xx and dropped connections are retried; POSTs only with an Idempotency-Key.
//! let orders = session.get("orders").send().await?.text().await?;
//! println!("{orders}");
//! # Ok(()) }
//! ```
//!
//! ## Sign in with a password and keep the session across restarts (`oauth`, `file`)
//!
//! ```no_run
//! # #[cfg(all(feature = "oauth", feature = "file"))]
//! # async fn job() -> Result<(), Box<dyn std::error::Error>> {
//! use session_kit::SharedSessionStore;
//! use session_kit::auth::{Session, SessionState, SignInCredentials, SignInProvider, TokenManager};
//! use session_kit::oauth::{OAuthClient, ProviderMetadata};
//! use session_kit::store::JsonFileStore;
//!
//! // Tokens, cookies and metadata live in one owner-only file.
//! let store = SharedSessionStore::new(JsonFileStore::new("/home/ada/.config/my-app/sessions.json"));
//! let state = SessionState::builder(store, "default").build();
//! let client = OAuthClient::builder(ProviderMetadata::new("https://id.example.com/token")?, "my-app")
//!     .build()?;
//! // Asked only when no stored or refreshable token serves: not on a restart.
//! let provider = SignInProvider::prompting(client, || async {
//!     Ok(SignInCredentials::password("ada", std::env::var("APP_PASSWORD").unwrap_or_default()))
//! });
//! let tokens = TokenManager::builder(provider).state(state.clone()).build();
//! let session = Session::builder()
//!     .base_url("https://api.example.com/")
//!     .tokens(tokens)
//!     .state(state)
//!     .build()?;
//! println!("{}", session.get("me").send().await?.status()); // refreshed before expiry
//! session.close().await?; // the last change is saved
//! # Ok(()) }
//! ```
//!
//! ## Sign a command-line tool in with OAuth PKCE (`oauth`)
//!
//! ```no_run
//! # #[cfg(feature = "oauth")]
//! # async fn job() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use session_kit::oauth::{LoopbackRedirect, OAuthClient, OAuthHttp, ProviderMetadata};
//!
//! let provider = ProviderMetadata::discover(&OAuthHttp::new()?, "https://id.example.com").await?;
//! let client = OAuthClient::builder(provider, "my-cli").scopes(["openid", "profile"]).build()?;
//! // A one-shot listener on 127.0.0.1 receives the redirect (state and PKCE checked).
//! let listener = LoopbackRedirect::bind(None, "/callback").await?;
//! let tokens = client
//!     .authorize_with_loopback(listener, Duration::from_secs(300), |url| {
//!         eprintln!("Open this URL to sign in:\n{url}");
//!     })
//!     .await?;
//! println!("signed in until {:?}", tokens.expires_at());
//! # Ok(()) }
//! ```
//!
//! ## Sessions in an axum app (`server`)
//!
//! ```no_run
//! # #[cfg(feature = "server")]
//! # async fn job() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::post};
//! use session_kit::server::{Error, Login, SessionConfig, SessionHandle, SessionLayer, SessionManager};
//!
//! async fn login(session: SessionHandle) -> Result<&'static str, Error> {
//!     session.login(Login::user("ada")).await?; // a new id (no fixation), cookie set
//!     Ok("welcome")
//! }
//! async fn add(session: SessionHandle) -> Result<String, Error> {
//!     let mut cart: Vec<String> = session.get("cart").await?.unwrap_or_default();
//!     cart.push("book".into());
//!     session.insert("cart", &cart).await?; // written once, after the handler
//!     Ok(format!("{} items", cart.len()))
//! }
//!
//! let manager = SessionManager::memory(SessionConfig::builder().cookie_name("sid").build()?)?;
//! let app = Router::new()
//!     .route("/login", post(login))
//!     .route("/cart", post(add))
//!     .layer(SessionLayer::new(manager)); // CSRF and https rules on every path
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//! # Ok(()) }
//! ```
//!
//! More: [`examples/`](https://github.com/session-kit/session-kit/tree/main/examples), one per use
//! case, and the guide below.
//!
//! # Guide
//!
//! ## Choosing a store
//!
//! | Store | Feature | For |
//! |---|---|---|
//! | `MemoryStore` | always | tests, and servers whose sessions may die with the process |
//! | `JsonFileStore` | `file` | one user's client sessions on their own machine (owner-only file, locked, atomic writes) |
//! | `EncryptedFileStore` | `encrypted` | the same where the disk may be read by others: sealed with a key or a passphrase |
//! | `SqliteStore` | `sqlite` | one server process, or several on one machine (the server's default) |
//! | `PostgresStore` | `postgres` | many server instances on a database you already run |
//! | `RedisStore` | `redis` | many server instances, sessions expiring by themselves; Redis Cluster works |
//!
//! Every store passes the same conformance suite, so switching is a one-line change.
//!
//! ## Refreshing across processes
//!
//! Several processes sharing one client session (a CLI started twice, workers on one machine) share
//! a store and a key: `SessionState::builder(store, "key")`. A refresh takes a lease in the store,
//! so only one process calls the token endpoint; the others wait for the lease and read the new tokens.
//! A process never writes back tokens another one rotated. Cookies and metadata are last-writer-wins.
//!
//! ## Running many server instances
//!
//! Point every instance at the same PostgreSQL or Redis store. Session ids are checked against the
//! store (as SHA-256 digests; raw ids are never stored or logged). The per-user session limit holds
//! across instances through a lock record in the store. A revocation made on one instance applies on
//! the others within `cache_ttl` (1 s by default; set it to 0 to check the store on every request).
//!
//! ## Security defaults and their opt-outs
//!
//! | Default | Opt-out |
//! |---|---|
//! | Credentials only over https (plain http only to loopback) | `SessionBuilder::allow_insecure_http(true)` |
//! | Credentials never follow a redirect to another origin | none |
//! | A POST is never resent once it may have reached the server | an `Idempotency-Key` header, or `RetryPolicy::builder().retry_non_idempotent(true)` |
//! | After `sign_out()` requests fail with `SignedOut`; no silent re-login | `Session::sign_in()` |
//! | Tokens, passwords, secrets and cookie values never in `Debug`, logs or errors | none |
//! | Server cookies `HttpOnly`, `SameSite=Lax`, `__Host-` prefixed when secure | `SessionConfig::builder().same_site(..)`, `cookie_path`, `cookie_domain` |
//! | Cross-site unsafe requests carrying the session cookie refused (CSRF) | `csrf_allowed_origins` |
//! | Creating a server session needs the admin token or your `AuthorizeCreate` hook, which grants no role | `AuthorizeCreate::may_grant` |
//! | The CLI takes no secret from its arguments | none (environment, stdin or prompt) |
//!
//! # Features
//!
//! | Feature | What it enables | Default? |
//! |---|---|---|
//! | `retry` | [`retry`]: the retry engine, with its reqwest integration | no |
//! | `auth` | [`auth`]: the `Session` HTTP client, auth strategies, token refresh, and `SessionState`, the owner of a client session's data (implies `retry`) | no |
//! | `middleware` | `auth::middleware`: the same pipeline as reqwest-middleware middleware (implies `auth`) | no |
//! | `store` | [`store`]: the storage backends behind client and server sessions | no |
//! | `file` | JSON file store (implies `store`) | no |
//! | `encrypted` | encrypted file store (implies `store`) | no |
//! | `sqlite` | SQLite store, and with `server` the SQLite session server (implies `store`) | no |
//! | `postgres` | PostgreSQL store (implies `store`) | no |
//! | `redis` | Redis store (implies `store`) | no |
//! | `oauth` | [`oauth`]: OAuth 2.0 and OpenID Connect flows — PKCE, client credentials, password, device, refresh, revocation, introspection, ID tokens; DPoP, `private_key_jwt`, mTLS client auth, JWT-bearer, token exchange, PAR, user info, logout URL (implies `auth`) | no |
//! | `server` | [`server`]: server-side sessions for axum and tower, on the memory store or any store feature added (implies `store`; add `sqlite` for the default SQLite server) | no |
//! | `cli` | the `session-kit` command-line tool (login, token, request, status, profiles, logout, serve) | no |
//! | `full` | all of the above | no |
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use session_core::*;

/// The core crate itself, for paths like
/// `session_kit::session_core::conformance` (named after the crate so that
/// `use session_kit::*` never shadows the built-in `core`).
pub use session_core;

#[cfg(feature = "retry")]
#[cfg_attr(docsrs, doc(cfg(feature = "retry")))]
#[doc(inline)]
pub use session_retry as retry;

#[cfg(feature = "auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
#[doc(inline)]
pub use session_auth as auth;

#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
#[doc(inline)]
pub use session_store as store;

#[cfg(feature = "oauth")]
#[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
#[doc(inline)]
pub use session_oauth as oauth;

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
#[doc(inline)]
pub use session_server as server;
