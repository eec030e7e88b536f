//! Pluggable persistence for session-kit sessions.
//!
//! This crate will hold backends for [`session_core::SessionStore`] — JSON
//! file, encrypted file, SQLite, PostgreSQL and Redis, each behind its own
//! feature (`file`, `encrypted`, `sqlite`, `postgres`, `redis`) — and the
//! client `SessionManager` with auto-save and several named sessions.
//!
//! It is being built; today it re-exports the in-memory store from core. The
//! backend features exist so the facade's feature table is stable, and enable
//! nothing yet.
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]

pub use session_core::{MemoryStore, SessionStore, SharedSessionStore, StoreRecord};
