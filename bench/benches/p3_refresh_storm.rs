//! P3: 10 000 requests start at once and all meet an expired token. The
//! session must call the token endpoint exactly once; every request waits for
//! that one refresh. Prints the token-endpoint calls and the requests' p50 and
//! p99 latency.
//!
//! The client speaks HTTP/2 to the loopback server, so 10 000 requests in
//! flight share one connection instead of 10 000 sockets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::routing::{get, post};
use session_auth::{Session, TokenManager};
use session_core::{ProvideToken, SharedClock, TokenSet};
use session_kit_bench::{percentile, report, runtime, serve};

const REQUESTS: usize = 10_000;
const FRESH: &str = "fresh-token-after-the-storm";

#[derive(Default)]
struct Counters {
    token_calls: AtomicU64,
}

async fn token(State(counters): State<Arc<Counters>>) -> axum::Json<serde_json::Value> {
    counters.token_calls.fetch_add(1, Ordering::SeqCst);
    axum::Json(serde_json::json!({
        "access_token": FRESH,
        "token_type": "Bearer",
        "expires_in": 3600,
    }))
}

async fn api(headers: HeaderMap) -> StatusCode {
    let expected = format!("Bearer {FRESH}");
    match headers.get(AUTHORIZATION) {
        Some(value) if value.as_bytes() == expected.as_bytes() => StatusCode::OK,
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// Fetches a token from the bench server's token endpoint.
#[derive(Debug)]
struct TokenEndpoint {
    client: reqwest::Client,
    url: String,
}

#[async_trait::async_trait]
impl ProvideToken for TokenEndpoint {
    async fn provide_token(&self) -> session_core::Result<TokenSet> {
        let sent_at = SharedClock::default().now();
        let body = self
            .client
            .post(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| {
                session_core::Error::token_provider("token request failed", true, Some(Box::new(e)))
            })?
            .bytes()
            .await
            .map_err(|e| {
                session_core::Error::token_provider(
                    "token response failed",
                    true,
                    Some(Box::new(e)),
                )
            })?;
        TokenSet::from_json_response(&body, sent_at)
    }
}

fn main() {
    let rt = runtime();
    rt.block_on(async {
        let counters = Arc::new(Counters::default());
        let addr = serve(
            Router::new()
                .route("/token", post(token))
                .route("/api", get(api))
                .with_state(counters.clone()),
        )
        .await;
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client");
        let expired = TokenSet::new("expired-token")
            .with_expires_in(Duration::from_secs(3600), SharedClock::default().now() - Duration::from_secs(7200));
        let tokens = TokenManager::builder(TokenEndpoint {
            client: client.clone(),
            url: format!("http://{addr}/token"),
        })
        .initial_tokens(expired)
        .build();
        assert!(tokens.cached_authorization().is_none(), "the token starts expired");
        let session = Session::builder()
            .client(client)
            .base_url(format!("http://{addr}/"))
            .tokens(tokens)
            .build()
            .expect("a session");

        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..REQUESTS {
            let session = session.clone();
            tasks.spawn(async move {
                let sent = Instant::now();
                let response = session.get("api").send().await.expect("a request");
                assert_eq!(response.status(), StatusCode::OK);
                sent.elapsed()
            });
        }
        let mut latencies = Vec::with_capacity(REQUESTS);
        while let Some(latency) = tasks.join_next().await {
            latencies.push(latency.expect("a request task"));
        }
        let wall = start.elapsed();
        latencies.sort_unstable();
        let calls = counters.token_calls.load(Ordering::SeqCst);
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
        println!(
            "P3: {REQUESTS} requests, {calls} token call(s), p50 {} ms, p99 {} ms, all done in {} ms",
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 99.0)),
            ms(wall)
        );
        report(
            "P3",
            &[
                ("requests", REQUESTS.to_string()),
                ("token_calls", calls.to_string()),
                ("p50_ms", ms(percentile(&latencies, 50.0))),
                ("p99_ms", ms(percentile(&latencies, 99.0))),
                ("wall_ms", ms(wall)),
            ],
        );
    });
}
