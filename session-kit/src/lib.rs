//! session-kit: authenticated, resilient, persistent HTTP sessions for API
//! clients, and secure session management for servers.
//!
//! This facade re-exports the session-kit crates. The core vocabulary is
//! always here; everything else sits behind a feature, so a program that only
//! needs retries compiles no database or server code.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use session_kit::{ExpiryPolicy, SessionData, SharedClock, TokenSet, TokenStatus};
//!
//! // A token endpoint answered; the request went out at `sent_at`.
//! let clock = SharedClock::default();
//! let sent_at = clock.now();
//! let tokens = TokenSet::from_json_response(
//!     br#"{"access_token":"at","token_type":"Bearer","expires_in":3600}"#,
//!     sent_at,
//! )?;
//!
//! let policy = ExpiryPolicy::default(); // 5-minute buffer, 15-minute refresh window
//! assert_eq!(tokens.status(sent_at, &policy), TokenStatus::Valid);
//! assert_eq!(tokens.status(sent_at + Duration::from_secs(50 * 60), &policy), TokenStatus::RefreshDue);
//!
//! let session = SessionData::with_tokens(tokens, sent_at);
//! assert!(session.summary(sent_at, &policy).starts_with("Session: VALID | Tokens: VALID"));
//! # Ok::<(), session_kit::Error>(())
//! ```
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
//! | `oauth` | [`oauth`]: OAuth 2.0 and OpenID Connect flows (implies `auth`) | no |
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
