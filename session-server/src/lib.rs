//! Server-side sessions for axum and tower.
//!
//! - [`SessionManager`]: create (timeout validated), get, record activity
//!   (sliding, throttled), extend (clamped), rotate, invalidate one or all of
//!   a user's, list, stats; a per-user maximum that evicts the oldest; an
//!   absolute lifetime; background cleanup. On any
//!   [`SessionStore`](session_core::SessionStore): SQLite by default, memory,
//!   Redis, PostgreSQL.
//! - Ids: 256 bits from the OS, URL-safe; only their SHA-256 is stored.
//! - [`SessionConfig`]: the `SESSION_*` environment variables, or
//!   [`SessionConfig::builder`]; both validate.
//! - [`SessionLayer`] (tower, any body types): the session id from a header
//!   or a cookie, protected paths, https enforcement, cross-site request
//!   refusal for cookie-carried sessions, request logs without ids.
//! - [`SessionHandle`], for your own handlers: typed values in and out,
//!   [`login`](SessionHandle::login), [`cycle_id`](SessionHandle::cycle_id),
//!   [`logout`](SessionHandle::logout); the layer sets and clears the
//!   cookie and writes changes once per request.
//! - Extractors [`RequiredSession`], [`OptionalSession`], [`RequireRole`],
//!   [`RequirePermission`], and [`SessionRoutes`], the REST endpoints, with
//!   creation gated by an admin token or an [`AuthorizeCreate`] hook.
//!
//! # Example
//!
//! ```
//! use axum::{Router, routing::post};
//! use session_server::{Login, SessionConfig, SessionHandle, SessionLayer, SessionManager};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! async fn login(session: SessionHandle) -> Result<String, session_server::Error> {
//!     session.login(Login::user("ada").role("customer")).await?;
//!     session.insert("greeting", "hello").await?;
//!     Ok("welcome".into())
//! }
//!
//! let manager = SessionManager::memory(SessionConfig::builder().cookie_name("sid").build()?)?;
//! let app = Router::new()
//!     .route("/login", post(login))
//!     .layer(SessionLayer::new(manager.clone()));
//!
//! use tower::ServiceExt as _;
//! let response = app
//!     .oneshot(http::Request::post("/login").body(axum::body::Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! let cookie = response.headers()["set-cookie"].to_str().unwrap();
//! assert!(cookie.starts_with("sid=") && cookie.contains("HttpOnly"));
//! # Ok::<(), session_server::Error>(()) }).unwrap();
//! ```
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorize_create;
mod cache;
mod config;
mod config_builder;
mod csrf;
mod error;
mod extract;
mod handle;
mod id;
mod layer;
mod login;
mod manager;
mod routes;
mod session;
mod session_cookie;
mod user_lock;

pub use authorize_create::{AuthorizeCreate, CreateRequest};
pub use config::{SameSite, SessionConfig, SessionConfigBuilder};
pub use error::{Error, Result};
pub use extract::{
    Admin, CurrentSession, Developer, OptionalSession, PermissionName, Read, RequirePermission,
    RequireRole, RequiredSession, RoleName, SessionRejection, Write,
};
pub use handle::SessionHandle;
pub use id::SessionId;
pub use layer::{SessionLayer, SessionService};
pub use login::Login;
pub use manager::{SessionManager, SessionStats};
pub use routes::SessionRoutes;
pub use session::ServerSession;
