//! Shared pieces of the session-kit benchmarks: loopback servers, a token
//! provider, percentiles, and the `RESULT` lines that the counting benches
//! print for `cargo xtask bench` to collect.
//!
//! The benches themselves live in `benches/`; `src/bin/p5-server.rs` is the
//! session-kit side of P5 (driven by wrk from `cargo xtask bench`).

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Duration;

use session_core::{ProvideToken, SharedClock, TokenSet};

/// The access token every bench server accepts.
pub const TOKEN: &str = "bench-access-token-0123456789abcdef0123456789abcdef";

/// Serves `router` on an ephemeral loopback port of the current runtime.
///
/// # Panics
///
/// When the loopback port can't be bound (a broken machine, not a bench result).
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    addr
}

/// A token set for [`TOKEN`] that stays valid for an hour.
pub fn hour_token() -> TokenSet {
    TokenSet::new(TOKEN).with_expires_in(Duration::from_secs(3600), SharedClock::default().now())
}

/// A provider that hands out [`hour_token`]; benches that must not refresh
/// use it, so any call would show up in the counts.
#[derive(Debug, Default)]
pub struct HourToken;

#[async_trait::async_trait]
impl ProvideToken for HourToken {
    async fn provide_token(&self) -> session_core::Result<TokenSet> {
        Ok(hour_token())
    }
}

/// The `p`-th percentile (0–100) of `sorted` (ascending), nearest rank.
///
/// ```
/// use std::time::Duration;
/// let v: Vec<_> = (1..=100).map(Duration::from_millis).collect();
/// assert_eq!(session_kit_bench::percentile(&v, 50.0), Duration::from_millis(50));
/// assert_eq!(session_kit_bench::percentile(&v, 99.0), Duration::from_millis(99));
/// ```
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints one result line for `cargo xtask bench`:
/// `RESULT <id> key=value key=value …` (values must not contain spaces).
pub fn report(id: &str, fields: &[(&str, String)]) {
    let mut line = format!("RESULT {id}");
    for (key, value) in fields {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        line.push_str(value);
    }
    println!("{line}");
}

/// A multi-threaded runtime with one worker per core of this machine's two.
///
/// # Panics
///
/// When the runtime can't start.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
