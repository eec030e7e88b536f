//! The reliability suites of session-kit, and the pieces they share.
//!
//! The suites themselves are this crate's tests, each driving the public API
//! the way an application would:
//!
//! - `tests/chaos.rs` — many concurrent requests through one `Session`
//!   against [`chaos-server`](chaos), a separate process injecting 503s,
//!   dropped connections, stalls and token revocations;
//! - `tests/crash.rs` — writers SIGKILLed mid-save on every store;
//! - `tests/leaks.rs` — every tracing event and `log` record captured while
//!   the client, the stores and the server run; no secret may appear;
//! - `tests/corpus.rs` — the fuzz corpus (`fuzz/corpus/`) replayed through
//!   [`fuzz`], the functions the fuzz targets drive;
//! - `tests/properties.rs` — property tests of round trips and invariants.
//!
//! `cargo xtask ci` runs them at smoke size; `SESSION_KIT_FULL=1` (what
//! `cargo xtask suites` sets) runs them at full size.

#![forbid(unsafe_code)]

pub mod chaos;
pub mod fuzz;

/// Whether the suites run at full size (`SESSION_KIT_FULL=1`).
pub fn full_size() -> bool {
    std::env::var("SESSION_KIT_FULL").is_ok_and(|v| v == "1")
}
