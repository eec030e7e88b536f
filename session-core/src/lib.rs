//! The core vocabulary of session-kit.
//!
//! Every other session-kit crate speaks these types:
//!
//! - secret tokens — [`AccessToken`], [`RefreshToken`], [`IdToken`] — that
//!   never print and are zeroized on drop;
//! - [`TokenSet`] and the expiry rules of [`ExpiryPolicy`];
//! - [`Claims`], read from a JWT **without** verification;
//! - [`SessionData`]: tokens, [`CookieJar`], user info, [`NamedCredential`]s
//!   and [`SessionMetadata`], with a secret-free [`summary`](SessionData::summary);
//! - the injectable [`Clock`];
//! - the traits the other crates implement: [`Authenticate`] (put credentials
//!   on a request), [`ProvideToken`] (obtain and refresh tokens) and
//!   [`SessionStore`] (persist client and server sessions), each with a
//!   `Shared*` handle; and [`MemoryStore`].
//!
//! The crate has no network dependencies: it uses `http` and `url` types only.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use session_core::{ExpiryPolicy, SessionData, SharedClock, TokenSet};
//!
//! let clock = SharedClock::default();
//! let sent_at = clock.now();
//! let body = br#"{"access_token":"at","expires_in":3600,"refresh_token":"rt"}"#;
//! let tokens = TokenSet::from_json_response(body, sent_at)?;
//!
//! let session = SessionData::with_tokens(tokens, sent_at);
//! let policy = ExpiryPolicy::default();
//! assert!(session.is_valid(clock.now(), &policy));
//! assert!(!session.needs_refresh(clock.now(), &policy));
//! println!("{}", session.summary(clock.now(), &policy));
//! # Ok::<(), session_core::Error>(())
//! ```
//!
//! # Features
//!
//! | Feature | What it enables | Default? |
//! |---|---|---|
//! | `session` | [`SessionData`], [`CookieJar`] and [`Authenticate`] with its request types: everything that needs URLs and cookies (`url`, `cookie_store`) | yes |
//! | `test-util` | [`ManualClock`], [`CountingStore`] and the store conformance suite (`conformance`) | no |
//!
//! Without `session` the crate is the clock, tokens, expiry rules, errors and
//! the store and token-provider traits, and builds far fewer dependencies
//! (what `session-retry` uses).
//!
//! # Features
//!
//! `SessionData`, the cookie jar and `Authenticate` with its request types
//! sit behind the default `session` feature (they need URL and cookie
//! crates). Without it the crate is the clock, the tokens, the expiry rules,
//! the errors and the store and token-provider traits — all that
//! `session-retry` needs. `test-util` adds a manual clock, a store that
//! counts writes, and the store conformance suite.
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "session")]
mod authenticate;
mod claims;
mod clock;
#[cfg(feature = "session")]
mod cookies;
mod error;
mod expiry;
mod memory_store;
mod named_credential;
mod provide_token;
mod secret;
#[cfg(feature = "session")]
mod session_data;
mod store;
mod token_set;
#[cfg(feature = "session")]
mod transport;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod conformance;
#[cfg(feature = "test-util")]
mod counting_store;

#[cfg(feature = "session")]
#[cfg_attr(docsrs, doc(cfg(feature = "session")))]
pub use authenticate::{
    AuthRequest, Authenticate, Rejection, Replay, SharedAuthenticator, sensitive_header_value,
};
pub use claims::Claims;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use clock::ManualClock;
pub use clock::{Clock, SharedClock, SystemClock};
#[cfg(feature = "session")]
#[cfg_attr(docsrs, doc(cfg(feature = "session")))]
pub use cookies::CookieJar;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use counting_store::CountingStore;
pub use error::{BoxError, Error, Result};
pub use expiry::{Expiry, ExpiryPolicy};
pub use memory_store::MemoryStore;
pub use named_credential::NamedCredential;
pub use provide_token::{ProvideToken, SharedTokenProvider};
pub use secret::{AccessToken, IdToken, RefreshToken};
#[cfg(feature = "session")]
#[cfg_attr(docsrs, doc(cfg(feature = "session")))]
pub use session_data::{SessionData, SessionMetadata};
pub use store::{SessionStore, SharedSessionStore, StoreRecord};
pub use token_set::{TokenSet, TokenStatus};
#[cfg(feature = "session")]
#[cfg_attr(docsrs, doc(cfg(feature = "session")))]
pub use transport::{check_transport, is_loopback};

// Re-exported so users name the same versions we do.
pub use http;
pub use time;
#[cfg(feature = "session")]
#[cfg_attr(docsrs, doc(cfg(feature = "session")))]
pub use url;
