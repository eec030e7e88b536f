//! Server-side sessions for axum and tower.
//!
//! This crate will hold the server session manager (secure ids stored only as
//! hashes, timeouts, per-user limits, cleanup) on any
//! [`session_core::SessionStore`], a tower layer, axum extractors for required
//! and optional sessions, roles and permissions, and the REST management
//! endpoints, configured from `SESSION_*` environment variables.
//!
//! It is being built; today it only re-exports the core store trait it uses.
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]

pub use session_core::SessionStore;
