//! The session-kit retry engine.
//!
//! Retries transient failures with exponential backoff, the way users of
//! Python's urllib3-style sessions expect — `retries`, `backoff_factor`,
//! `status_forcelist` and the schedule `backoff_factor × 2^(n−1)` — plus what
//! naive retry lacks:
//!
//! - **Retry-After** on 429 and 503, in seconds or as an HTTP-date; a wait
//!   above `max_retry_after` hands the response back instead of stalling;
//! - **idempotency**: POST and PATCH are not replayed once they may have
//!   reached the server, unless they carry an `Idempotency-Key` (which the
//!   policy can add) or the policy opts in; failures before sending are always
//!   safe to retry;
//! - a per-host **retry budget**, so an outage doesn't multiply traffic;
//! - a cap, optional jitter, and an optional total deadline;
//! - injected sleep, so tests run in virtual time.
//!
//! The engine ([`retry`], [`retry_with`]) works for any async operation;
//! [`reqwest::send`] (feature `reqwest`) retries HTTP requests.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use session_retry::{retry, RetryPolicy, Stop};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), session_retry::Error> {
//! let policy = RetryPolicy::builder().retries(3).backoff_factor(1.0).build()?;
//! assert_eq!(policy.schedule(), [1, 2, 4].map(Duration::from_secs));
//!
//! let outcome = retry(&policy, |attempt| async move {
//!     if attempt < 3 { Err("temporarily unavailable") } else { Ok("done") }
//! })
//! .await;
//! assert_eq!(outcome.result, Ok("done"));
//! assert_eq!(outcome.stop, Stop::Success);
//! assert_eq!(outcome.total_wait, Duration::from_secs(1 + 2));
//! # Ok(())
//! # }
//! ```
//!
//! # Differences from urllib3
//!
//! urllib3 retries the first time immediately and waits
//! `backoff_factor × 2^(n−1)` only from the second retry on. Here every retry
//! waits, the first one `backoff_factor` seconds, so the defaults give 2, 4,
//! 8, 16 and 32 seconds.
//!
//! # Features
//!
//! | Feature | What it enables | Default? |
//! |---|---|---|
//! | `tokio` | [`TokioSleep`], the default sleeper | yes |
//! | `reqwest` | [`reqwest::send`] and the reqwest error mapping | no |
//!
//! # Logging
//!
//! One `tracing` event (target `session_retry`, level INFO) per retry, with
//! the retry number, the reason (a status or an error kind), the delay and the
//! host — never a query string, header or body.
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod budget;
mod classify;
mod engine;
mod error;
mod policy;
mod retry_after;
mod sleep;

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod reqwest;

pub use backoff::{Jitter, backoff_delay};
pub use budget::RetryBudget;
pub use classify::{
    Classify, ClassifyHttp, ErrorKind, HttpAttempt, RetryReason, SharedHttpClassifier, Verdict,
};
pub use engine::{RetryOutcome, RetryScope, Stop, retry, retry_with};
pub use error::{Error, Result};
pub use policy::{IDEMPOTENCY_KEY, RetryPolicy, RetryPolicyBuilder};
pub use retry_after::RetryAfter;
#[cfg(feature = "tokio")]
pub use sleep::TokioSleep;
pub use sleep::{AsyncSleep, SharedAsyncSleep, SleepFuture};
