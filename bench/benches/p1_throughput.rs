//! P1: loopback keep-alive GET throughput with 64 requests in flight, side by
//! side in one process: raw reqwest (the limit), session-kit's `Session`
//! (bearer token from a `TokenManager`, retries armed, no failures), and
//! reqwest-middleware with reqwest-retry and a bearer middleware.
//!
//! Cookies are off in the `Session`, and all three send the same
//! `User-Agent`, so all three send the same bytes.
//!
//! The three run interleaved: each round times a few batches of each, in an
//! order that rotates from round to round, so drift on the machine hits all
//! three alike; the ratios reported are medians of the per-round ratios.
//!
//! For profiling, `P1_ONLY=<0|1|2>` runs one client alone and `P1_ROUNDS`
//! sets the rounds, e.g. `P1_ONLY=1 P1_ROUNDS=1 valgrind --tool=callgrind …`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::routing::get;
use http::HeaderValue;
use parking_lot::RwLock;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::RetryTransientMiddleware;
use retry_policies::policies::ExponentialBackoff;
use session_auth::{Session, TokenManager};
use session_kit_bench::{HourToken, TOKEN, hour_token, report, runtime, serve};
use session_retry::RetryPolicy;

const IN_FLIGHT: usize = 64;
const PER_TASK: usize = 16;

async fn api(headers: HeaderMap) -> (StatusCode, &'static str) {
    match headers.get(AUTHORIZATION) {
        Some(value) if value.as_bytes().starts_with(b"Bearer ") => (StatusCode::OK, "ok"),
        _ => (StatusCode::UNAUTHORIZED, "no"),
    }
}

/// The bearer middleware a reqwest-middleware user writes: read the current
/// token and build the header for each request.
struct BearerMiddleware {
    token: Arc<RwLock<String>>,
}

#[async_trait::async_trait]
impl Middleware for BearerMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let value = HeaderValue::from_str(&format!("Bearer {}", self.token.read()))
            .map_err(reqwest_middleware::Error::middleware)?;
        req.headers_mut().insert(AUTHORIZATION, value);
        next.run(req, extensions).await
    }
}

#[derive(Clone)]
enum Client {
    Raw(reqwest::Client, HeaderValue),
    Session(Session),
    Middleware(ClientWithMiddleware),
}

impl Client {
    async fn get(&self, url: &str) {
        let response = match self {
            Client::Raw(client, bearer) => client
                .get(url)
                .header(AUTHORIZATION, bearer.clone())
                .send()
                .await
                .expect("raw request"),
            Client::Session(session) => session.get(url).send().await.expect("session request"),
            Client::Middleware(client) => client.get(url).send().await.expect("middleware request"),
        };
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes().await.expect("body");
        assert_eq!(&body[..], b"ok");
    }
}

async fn batch(client: &Client, url: &Arc<str>) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            for _ in 0..PER_TASK {
                client.get(&url).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a request task");
    }
}

fn clients(rt: &tokio::runtime::Runtime) -> (Arc<str>, Vec<(&'static str, Client)>) {
    let addr = rt.block_on(serve(Router::new().route("/", get(api))));
    let url: Arc<str> = format!("http://{addr}/").into();

    // A session sends a User-Agent by default; the others send the same.
    let agent = "session-kit/0.1.0";
    let raw = reqwest::Client::builder()
        .user_agent(agent)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client");
    let bearer = HeaderValue::from_str(&format!("Bearer {TOKEN}")).expect("a header value");

    let tokens = TokenManager::builder(HourToken)
        .initial_tokens(hour_token())
        .build();
    let session = Session::builder()
        .user_agent(agent)
        .tokens(tokens)
        .retry(RetryPolicy::default())
        .cookies(false)
        .build()
        .expect("a session");

    let middleware = ClientBuilder::new(
        reqwest::Client::builder()
            .user_agent(agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client"),
    )
    .with(RetryTransientMiddleware::new_with_policy(
        ExponentialBackoff::builder().build_with_max_retries(3),
    ))
    .with(BearerMiddleware {
        token: Arc::new(RwLock::new(TOKEN.to_owned())),
    })
    .build();

    (
        url,
        vec![
            ("raw reqwest", Client::Raw(raw, bearer)),
            ("session-kit Session", Client::Session(session)),
            (
                "reqwest-middleware + retry + bearer",
                Client::Middleware(middleware),
            ),
        ],
    )
}

/// Rounds measured (after the warm-up rounds), and batches per variant per
/// round. The ratios are medians over the rounds; separate runs still
/// differ by about a percent (three runs of one build: 0.974, 0.983, 0.979).
const ROUNDS: usize = 100;

/// `P1_ROUNDS` overrides the rounds (e.g. 1 under callgrind).
fn rounds() -> usize {
    std::env::var("P1_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS)
}
const WARMUP_ROUNDS: usize = 3;
const BATCHES: usize = 4;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn main() {
    let rt = runtime();
    let (url, mut clients) = clients(&rt);
    // `P1_ONLY=<index>` runs one client alone, for profiling it.
    if let Some(only) = std::env::var("P1_ONLY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|i| *i < clients.len())
    {
        clients = vec![clients.swap_remove(only)];
    }
    let n = clients.len();
    // times[variant][round]: seconds for BATCHES batches.
    let rounds = rounds();
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..WARMUP_ROUNDS + rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let client = &clients[i].1;
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..BATCHES {
                    batch(client, &url).await;
                }
            });
            if round >= WARMUP_ROUNDS {
                times[i].push(start.elapsed().as_secs_f64());
            }
        }
    }
    if n < 3 {
        return;
    }
    let requests = (BATCHES * IN_FLIGHT * PER_TASK) as f64;
    let per_second: Vec<f64> = times.iter().map(|t| requests / median(t.clone())).collect();
    let ratio = |i: usize| {
        median(
            times[0]
                .iter()
                .zip(&times[i])
                .map(|(raw, other)| raw / other)
                .collect(),
        )
    };
    let (session, middleware) = (ratio(1), ratio(2));
    for ((name, _), rps) in clients.iter().zip(&per_second) {
        println!("P1: {name}: {rps:.0} requests/s (median of {rounds} rounds)");
    }
    println!("P1: Session {session:.3} × raw reqwest, middleware stack {middleware:.3} × raw");
    report(
        "P1",
        &[
            ("raw_rps", format!("{:.0}", per_second[0])),
            ("session_rps", format!("{:.0}", per_second[1])),
            ("middleware_rps", format!("{:.0}", per_second[2])),
            ("session_ratio", format!("{session:.3}")),
            ("middleware_ratio", format!("{middleware:.3}")),
            ("rounds", rounds.to_string()),
        ],
    );
}
