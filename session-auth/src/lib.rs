//! The session-kit `Session` HTTP client.
//!
//! This crate will hold the `Session` client on reqwest: Bearer, Basic,
//! API-key and custom authentication strategies (implementations of
//! [`session_core::Authenticate`]), single-flight token refresh before expiry
//! and after a 401, sign-in and sign-out flows, and one session shared by many
//! API clients, with retries from `session-retry`.
//!
//! It is being built; today it only re-exports the core traits it implements.
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]

pub use session_core::{Authenticate, ProvideToken};
