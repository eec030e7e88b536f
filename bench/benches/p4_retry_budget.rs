//! P4: attempts per request while the server fails every request (503),
//! through a `Session` with three retries and backoff capped at 1 ms, with the default
//! retry budget and with none. Requests go one after another, so the bucket
//! drains and then stays empty.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use session_auth::Session;
use session_kit_bench::{report, runtime, serve};
use session_retry::RetryPolicy;

const REQUESTS: u64 = 1_000;
/// Requests after which the default bucket (100 tokens, 5 per retry) is
/// certainly empty.
const DRAINED_AFTER: u64 = 100;

async fn failing(State(hits): State<Arc<AtomicU64>>) -> StatusCode {
    hits.fetch_add(1, Ordering::SeqCst);
    StatusCode::SERVICE_UNAVAILABLE
}

/// Sends the requests; returns attempts per request overall and after the
/// first `DRAINED_AFTER`.
async fn run(policy: RetryPolicy) -> (f64, f64) {
    let hits = Arc::new(AtomicU64::new(0));
    let addr = serve(
        Router::new()
            .route("/", get(failing))
            .with_state(hits.clone()),
    )
    .await;
    let session = Session::builder()
        .base_url(format!("http://{addr}/"))
        .retry(policy)
        .build()
        .expect("a session");
    let mut drained_at = 0;
    for i in 0..REQUESTS {
        if i == DRAINED_AFTER {
            drained_at = hits.load(Ordering::SeqCst);
        }
        let response = session.get("").send().await.expect("a response");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let total = hits.load(Ordering::SeqCst);
    (
        total as f64 / REQUESTS as f64,
        (total - drained_at) as f64 / (REQUESTS - DRAINED_AFTER) as f64,
    )
}

fn main() {
    let rt = runtime();
    rt.block_on(async {
        let base = || {
            RetryPolicy::builder()
                .retries(3)
                .backoff_factor(0.001)
                .max_backoff(Duration::from_millis(1))
                .status_forcelist([503])
        };
        let (budget_all, budget_drained) = run(base().build().expect("a policy")).await;
        let (none_all, none_drained) = run(base().no_budget().build().expect("a policy")).await;
        println!(
            "P4: attempts per request at 100% failure — default budget {budget_all:.3} overall, \
             {budget_drained:.3} once drained; no budget {none_all:.3} overall, {none_drained:.3}"
        );
        report(
            "P4",
            &[
                ("requests", REQUESTS.to_string()),
                ("budget_overall", format!("{budget_all:.3}")),
                ("budget_drained", format!("{budget_drained:.3}")),
                ("none_overall", format!("{none_all:.3}")),
                ("none_drained", format!("{none_drained:.3}")),
            ],
        );
    });
}
