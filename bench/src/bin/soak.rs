//! The load/soak run behind `cargo xtask soak` (not part of CI).
//!
//! Usage: `soak [requests] [sessions] [db-path]` (default 1 000 000 requests,
//! 100 000 sessions).
//!
//! 1. **Client**: `requests` GETs through one `Session` (bearer from a token
//!    manager whose token lives 5 s, so it refreshes throughout; a cookie set
//!    on every answer, so the jar churns) from 64 concurrent workers against
//!    a loopback server. The process's resident memory is sampled every
//!    50 000 requests: it must stay flat (the last sample within 16 MiB of
//!    the one at 20 %).
//! 2. **Server**: `sessions` sessions created in a SQLite store (half of them
//!    with a 2 s timeout), cleanup running every second, then 200 000
//!    validations of random ids through the session layer by 8 workers:
//!    p50/p99/max latency of the ones that are still valid, and what cleanup
//!    removed meanwhile.
//!
//! Prints a Markdown section between `<!-- soak -->` markers, which
//! `cargo xtask soak` puts into BENCHMARKS.md; exits 1 if memory grew.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use session_auth::{Session, TokenManager};
use session_core::{ProvideToken, SharedClock, SharedSessionStore, SharedTokenProvider, TokenSet};
use session_kit_bench::{TOKEN, percentile, runtime, serve};
use session_server::{RequiredSession, SessionConfig, SessionLayer, SessionManager};
use session_store::SqliteStore;
use tower::ServiceExt as _;

const WORKERS: usize = 64;
const SAMPLE_EVERY: u64 = 50_000;
const GROWTH_LIMIT_KIB: u64 = 16 * 1024;

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Hands out the bench token with a 5 s lifetime, counting its calls.
#[derive(Debug, Default)]
struct ShortToken(AtomicU64);

#[async_trait::async_trait]
impl ProvideToken for ShortToken {
    async fn provide_token(&self) -> session_core::Result<TokenSet> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(TokenSet::new(TOKEN)
            .with_expires_in(Duration::from_secs(5), SharedClock::default().now()))
    }
}

async fn answer(headers: HeaderMap) -> impl IntoResponse {
    static N: AtomicU64 = AtomicU64::new(0);
    let ok = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == format!("Bearer {TOKEN}").as_bytes());
    if !ok {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let n = N.fetch_add(1, Ordering::Relaxed) % 100;
    (
        [(header::SET_COOKIE, format!("visit=v{n}; Path=/; HttpOnly"))],
        "ok",
    )
        .into_response()
}

struct ClientReport {
    requests: u64,
    failures: u64,
    token_calls: u64,
    seconds: f64,
    samples: Vec<(u64, u64)>,
}

async fn client_soak(requests: u64) -> ClientReport {
    let addr = serve(Router::new().route("/ok", get(answer))).await;
    let provider = Arc::new(ShortToken::default());
    let tokens =
        TokenManager::builder_shared(SharedTokenProvider::from_arc(provider.clone())).build();
    let session = Session::builder()
        .base_url(format!("http://{addr}/"))
        .tokens(tokens)
        .build()
        .expect("a session");
    let sent = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(parking_lot::Mutex::new(vec![(0, rss_kib())]));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (session, sent, failures, samples) = (
            session.clone(),
            sent.clone(),
            failures.clone(),
            samples.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let n = sent.fetch_add(1, Ordering::Relaxed) + 1;
                if n > requests {
                    break;
                }
                match session.get("ok").send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if n % SAMPLE_EVERY == 0 {
                    samples.lock().push((n, rss_kib()));
                }
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a worker finished");
    }
    let samples = samples.lock().clone();
    ClientReport {
        requests,
        failures: failures.load(Ordering::Relaxed),
        token_calls: provider.0.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        samples,
    }
}

struct ServerReport {
    sessions: usize,
    create_seconds: f64,
    validations: usize,
    valid: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    cleaned: u64,
    active_after: u64,
}

async fn server_soak(sessions: usize, db: &str) -> ServerReport {
    let _ = std::fs::remove_file(db);
    let config = SessionConfig::builder()
        .protected_paths(["/p"])
        .log_requests(false)
        .min_timeout(Duration::from_secs(2))
        .cleanup_interval(Duration::from_secs(1))
        .build()
        .expect("a valid configuration");
    let store = SqliteStore::open(db).await.expect("a SQLite store");
    let manager =
        SessionManager::new(SharedSessionStore::new(store), config).expect("a session manager");
    let started = Instant::now();
    let ids = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(sessions)));
    let next = Arc::new(AtomicUsize::new(0));
    let mut creators = Vec::new();
    for _ in 0..8 {
        let (manager, ids, next) = (manager.clone(), ids.clone(), next.clone());
        creators.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= sessions {
                    break;
                }
                let timeout = if n % 2 == 0 { 2 } else { 3600 };
                let (id, _) = manager
                    .create(&format!("user-{n}"), Some(timeout), serde_json::json!({}))
                    .await
                    .expect("a session is created");
                ids.lock().push(id.as_str().to_owned());
            }
        }));
    }
    for creator in creators {
        creator.await.expect("a creator finished");
    }
    let create_seconds = started.elapsed().as_secs_f64();
    let before = manager.stats().await.expect("stats");
    manager.start_cleanup();

    let app = Router::new()
        .route(
            "/p",
            get(|RequiredSession(c): RequiredSession| async move { c.session.user_id.clone() }),
        )
        .layer(SessionLayer::new(manager.clone()));
    let ids = Arc::new(ids.lock().clone());
    let validations = 200_000;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (app, ids, next) = (app.clone(), ids.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut rng = fastrand::Rng::new();
            while next.fetch_add(1, Ordering::Relaxed) < validations {
                let id = &ids[rng.usize(..ids.len())];
                let request = http::Request::get("/p")
                    .header("X-Session-ID", id.as_str())
                    .body(Body::empty())
                    .expect("a request");
                let t = Instant::now();
                let response = app.clone().oneshot(request).await.expect("infallible");
                let took = t.elapsed();
                if response.status().is_success() {
                    times.push(took);
                }
            }
            times
        }));
    }
    let mut times = Vec::new();
    for worker in workers {
        times.extend(worker.await.expect("a worker finished"));
    }
    times.sort();
    let after = manager.stats().await.expect("stats");
    ServerReport {
        sessions,
        create_seconds,
        validations,
        valid: times.len(),
        p50: percentile(&times, 50.0),
        p99: percentile(&times, 99.0),
        max: times.last().copied().unwrap_or_default(),
        cleaned: after.cleaned.saturating_sub(before.cleaned),
        active_after: after.active,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let requests: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let sessions: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let db = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "soak-sessions.db".to_owned());
    let rt = runtime();

    eprintln!("client: {requests} requests through one Session …");
    let client = rt.block_on(client_soak(requests));
    eprintln!("server: {sessions} sessions, then 200 000 validations …");
    let server = rt.block_on(server_soak(sessions, &db));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }

    let baseline = client
        .samples
        .iter()
        .find(|(n, _)| *n >= requests / 5)
        .map_or(0, |(_, kib)| *kib);
    let last = client.samples.last().map_or(0, |(_, kib)| *kib);
    let flat = last <= baseline + GROWTH_LIMIT_KIB;
    let trace: Vec<String> = client
        .samples
        .iter()
        .filter(|(n, _)| *n == 0 || *n % (requests / 10).max(1) == 0)
        .map(|(n, kib)| format!("{}k: {:.1}", n / 1000, *kib as f64 / 1024.0))
        .collect();

    println!("<!-- soak -->");
    println!("## Soak (`cargo xtask soak`)\n");
    println!(
        "**Client**: {} requests through one `Session` (64 workers, token refreshed every 5 s, \
         a cookie set on every answer) in {:.0} s ({:.0} req/s); {} failed; {} token calls.",
        client.requests,
        client.seconds,
        client.requests as f64 / client.seconds,
        client.failures,
        client.token_calls
    );
    println!(
        "Resident memory (MiB) by requests sent: {}. From 20 % to the end: {:+.1} MiB — **{}** \
         (limit +{} MiB).\n",
        trace.join(", "),
        (last as f64 - baseline as f64) / 1024.0,
        if flat { "flat" } else { "GREW" },
        GROWTH_LIMIT_KIB / 1024
    );
    println!(
        "**Server**: {} sessions created in SQLite in {:.0} s ({:.0}/s; half with a 2 s timeout), \
         cleanup every second; {} validations of random ids through `SessionLayer` (8 workers): \
         {} still valid, p50 {:.1} µs, p99 {:.1} µs, max {:.1} ms; cleanup removed {} meanwhile, \
         {} active after.",
        server.sessions,
        server.create_seconds,
        server.sessions as f64 / server.create_seconds,
        server.validations,
        server.valid,
        server.p50.as_secs_f64() * 1e6,
        server.p99.as_secs_f64() * 1e6,
        server.max.as_secs_f64() * 1e3,
        server.cleaned,
        server.active_after
    );
    println!("<!-- /soak -->");
    if !flat {
        std::process::exit(1);
    }
}
