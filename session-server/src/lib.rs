//! Server-side sessions for axum and tower.
//!
//! - [`SessionManager`]: create (timeout validated), get, record activity
//!   (sliding, throttled), extend (clamped), rotate, invalidate one or all of
//!   a user's, list, stats; a per-user maximum that evicts the oldest; an
//!   absolute lifetime; background cleanup. On any
//!   [`SessionStore`](session_core::SessionStore): SQLite by default, memory,
//!   Redis, PostgreSQL.
//! - Ids: 256 bits from the OS, URL-safe; only their SHA-256 is stored.
//! - [`SessionConfig`]: the `SESSION_*` environment variables.
//! - [`SessionLayer`] (tower), extractors [`RequiredSession`],
//!   [`OptionalSession`], [`RequireRole`], [`RequirePermission`], and
//!   [`SessionRoutes`], the REST endpoints.
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
mod id;
mod layer;
mod manager;
mod routes;
mod session;
mod session_cookie;

pub use authorize_create::{AuthorizeCreate, CreateRequest};
pub use config::{SameSite, SessionConfig, SessionConfigBuilder};
pub use error::{Error, Result};
pub use extract::{
    Admin, CurrentSession, Developer, OptionalSession, PermissionName, Read, RequirePermission,
    RequireRole, RequiredSession, RoleName, SessionRejection, Write,
};
pub use id::SessionId;
pub use layer::{SessionLayer, SessionService};
pub use manager::{SessionManager, SessionStats};
pub use routes::SessionRoutes;
pub use session::ServerSession;
