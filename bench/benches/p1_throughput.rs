//! P1: loopback keep-alive GET throughput with 64 requests in flight, side by
//! side in one process: raw reqwest (the limit), session-kit's `Session`
//! (bearer token from a `TokenManager`, retries armed, no failures), and
//! reqwest-middleware with reqwest-retry and a bearer middleware.
//!
//! Cookies are off in the `Session` so all three send the same bytes.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::routing::get;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::HeaderValue;
use parking_lot::RwLock;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::RetryTransientMiddleware;
use retry_policies::policies::ExponentialBackoff;
use session_auth::{Session, TokenManager};
use session_kit_bench::{HourToken, TOKEN, hour_token, runtime, serve};
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

    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client");
    let bearer = HeaderValue::from_str(&format!("Bearer {TOKEN}")).expect("a header value");

    let tokens = TokenManager::builder(HourToken)
        .initial_tokens(hour_token())
        .build();
    let session = Session::builder()
        .tokens(tokens)
        .retry(RetryPolicy::default())
        .cookies(false)
        .build()
        .expect("a session");

    let middleware = ClientBuilder::new(
        reqwest::Client::builder()
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

fn p1(c: &mut Criterion) {
    let rt = runtime();
    let (url, clients) = clients(&rt);
    let mut group = c.benchmark_group("P1");
    group.throughput(Throughput::Elements((IN_FLIGHT * PER_TASK) as u64));
    group.sample_size(40);
    for (name, client) in &clients {
        rt.block_on(batch(client, &url)); // warm the connection pool
        group.bench_function(*name, |b| b.to_async(&rt).iter(|| batch(client, &url)));
    }
    group.finish();
}

criterion_group!(benches, p1);
criterion_main!(benches);
