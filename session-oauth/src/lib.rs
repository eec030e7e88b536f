//! OAuth 2.0 and OpenID Connect for session-kit.
//!
//! This crate will hold, on the `oauth2` crate: the authorization code flow
//! with PKCE and a loopback redirect listener, client credentials, password
//! grant, refresh with rotation, revocation, introspection, the device flow,
//! discovery and ID-token validation — and a [`session_core::ProvideToken`]
//! implementation so a `Session` refreshes itself.
//!
//! It is being built; today it only re-exports the core trait it implements.
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]

pub use session_core::ProvideToken;
