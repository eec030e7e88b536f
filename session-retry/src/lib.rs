//! The session-kit retry engine.
//!
//! This crate will hold `RetryPolicy`-style configuration (`retries`,
//! `backoff_factor`, `status_forcelist`) with typed validation errors, the
//! exponential backoff schedule, `Retry-After` handling, jitter and caps,
//! idempotency rules and a retry budget — generic over the operation, with
//! an HTTP classifier behind a `reqwest` feature.
//!
//! It is being built; today it only re-exports the core vocabulary it uses.
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]

pub use session_core::Clock;
