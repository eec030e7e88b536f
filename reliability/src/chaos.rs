//! The fault-injecting API and identity provider the chaos suite runs in its
//! own process (`chaos-server`).
//!
//! Every API attempt draws one fault: a 503, a dropped connection, a stall
//! far past any client timeout, or none. Drops and stalls on `POST` happen
//! *after* the request was applied — the case where a client must not resend
//! a request it can't prove unapplied. Every `revoke_every` successful calls
//! the presented access token is revoked, so requests meet 401s and the
//! session must refresh and replay. `GET /stats` reports what the server saw.
//!
//! - `POST /token` — client-credentials grant (`chaos` / `chaos-secret`).
//! - `GET /items/{id}` — idempotent read.
//! - `POST /orders` — JSON `{"order": id}` with an `Idempotency-Key`; a key
//!   seen before answers its first result without applying again.
//! - `POST /notes` — JSON `{"note": id}`, no key: every arrival is applied.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Extension, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::{Router, extract::Path};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

/// How often each fault happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Share of API attempts answered 503 (before anything is applied).
    pub unavailable: f64,
    /// Share of API attempts whose connection is dropped without an answer.
    pub dropped: f64,
    /// Share of API attempts that never answer.
    pub stalled: f64,
    /// Revoke the presented access token after this many successful calls
    /// (0: never).
    pub revoke_every: u64,
    /// Seed of the fault draws.
    pub seed: u64,
}

impl Default for Faults {
    /// 30 % 503, 10 % dropped, 5 % stalled, a revocation every 200 calls.
    fn default() -> Self {
        Self {
            unavailable: 0.30,
            dropped: 0.10,
            stalled: 0.05,
            revoke_every: 200,
            seed: 7,
        }
    }
}

impl Faults {
    /// Reads `--unavailable`, `--dropped`, `--stalled`, `--revoke-every` and
    /// `--seed` from command-line arguments, over the defaults.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut faults = Self::default();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let share = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| (0.0..=1.0).contains(v))
                    .ok_or_else(|| format!("{flag}: a share between 0 and 1"))
            };
            match flag.as_str() {
                "--unavailable" => faults.unavailable = share()?,
                "--dropped" => faults.dropped = share()?,
                "--stalled" => faults.stalled = share()?,
                "--revoke-every" => {
                    faults.revoke_every = value.parse().map_err(|_| format!("{flag}: a count"))?;
                }
                "--seed" => faults.seed = value.parse().map_err(|_| format!("{flag}: a number"))?,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        Ok(faults)
    }
}

/// What the server saw, as `GET /stats` reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Calls to `/token`.
    pub token_calls: u64,
    /// API attempts of any kind.
    pub attempts: u64,
    /// Attempts answered 503 / dropped / stalled / 401.
    pub unavailable: u64,
    /// Connections dropped.
    pub dropped: u64,
    /// Attempts stalled.
    pub stalled: u64,
    /// Attempts refused with 401.
    pub unauthorized: u64,
    /// Access tokens revoked.
    pub revocations: u64,
    /// Attempts per request id (`x-chaos-request`).
    pub attempts_per_request: HashMap<String, u32>,
    /// Orders applied, by order id, and the idempotency keys that applied
    /// them (more than one key per order: applied twice).
    pub orders_applied: HashMap<String, u32>,
    /// Attempts that reached `/orders` with a key already applied.
    pub orders_deduplicated: u64,
    /// Arrivals per note id (a note without a key must arrive at most once).
    pub notes_received: HashMap<String, u32>,
}

#[derive(Default)]
struct Book {
    stats: Stats,
    /// Idempotency key → order id it applied.
    keys: HashMap<String, String>,
    live: HashSet<String>,
    uses: HashMap<String, u64>,
}

struct Server {
    faults: Faults,
    rng: Mutex<fastrand::Rng>,
    next_token: AtomicU64,
    book: Mutex<Book>,
}

#[derive(Clone)]
struct Dropper(Arc<Notify>);

enum Fault {
    None,
    Unavailable,
    Dropped,
    Stalled,
}

impl Server {
    fn draw(&self) -> Fault {
        let r = self.rng.lock().f64();
        let f = &self.faults;
        if r < f.unavailable {
            Fault::Unavailable
        } else if r < f.unavailable + f.dropped {
            Fault::Dropped
        } else if r < f.unavailable + f.dropped + f.stalled {
            Fault::Stalled
        } else {
            Fault::None
        }
    }

    /// Counts the attempt and draws its fault: the live token presented and
    /// the fault to play once the request is applied, or the status that
    /// refuses it first (503 before anything is applied, 401 for a token
    /// that isn't live).
    fn enter(&self, headers: &HeaderMap) -> Result<(String, Fault), StatusCode> {
        let fault = self.draw();
        let mut book = self.book.lock();
        book.stats.attempts += 1;
        if let Some(id) = headers.get("x-chaos-request").and_then(|v| v.to_str().ok()) {
            *book
                .stats
                .attempts_per_request
                .entry(id.to_owned())
                .or_default() += 1;
        }
        if matches!(fault, Fault::Unavailable) {
            book.stats.unavailable += 1;
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        if !book.live.contains(&token) {
            book.stats.unauthorized += 1;
            return Err(StatusCode::UNAUTHORIZED);
        }
        Ok((token, fault))
    }

    /// Counts one successful use of `token`, revoking it on the n-th.
    fn used(&self, token: &str) {
        if self.faults.revoke_every == 0 {
            return;
        }
        let mut book = self.book.lock();
        let uses = book.uses.entry(token.to_owned()).or_default();
        *uses += 1;
        if *uses >= self.faults.revoke_every && book.live.remove(token) {
            book.stats.revocations += 1;
        }
    }

    /// Plays `fault` once the request has been applied: drops the
    /// connection or stalls; returns for no fault.
    async fn play(&self, fault: Fault, dropper: &Dropper) {
        match fault {
            Fault::None | Fault::Unavailable => {}
            Fault::Dropped => {
                self.book.lock().stats.dropped += 1;
                dropper.0.notify_one();
                std::future::pending().await
            }
            Fault::Stalled => {
                self.book.lock().stats.stalled += 1;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        }
    }
}

type Shared = Arc<Server>;

async fn token(
    State(server): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let _ = form;
    let n = server.next_token.fetch_add(1, Ordering::SeqCst) + 1;
    let access = format!("chaos-at-{n}");
    {
        let mut book = server.book.lock();
        book.stats.token_calls += 1;
        book.live.insert(access.clone());
    }
    Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600}))
        .into_response()
}

async fn item(
    State(server): State<Shared>,
    Extension(dropper): Extension<Dropper>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (token, fault) = match server.enter(&headers) {
        Ok(admitted) => admitted,
        Err(status) => return status.into_response(),
    };
    server.play(fault, &dropper).await;
    server.used(&token);
    Json(json!({"item": id})).into_response()
}

#[derive(Deserialize)]
struct Order {
    order: Value,
}

async fn order(
    State(server): State<Shared>,
    Extension(dropper): Extension<Dropper>,
    headers: HeaderMap,
    Json(body): Json<Order>,
) -> Response {
    let (token, fault) = match server.enter(&headers) {
        Ok(admitted) => admitted,
        Err(status) => return status.into_response(),
    };
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return (StatusCode::BAD_REQUEST, "an Idempotency-Key is required").into_response();
    };
    let order = body.order.to_string();
    {
        let mut book = server.book.lock();
        let book = &mut *book;
        match book.keys.entry(key) {
            Entry::Occupied(_) => book.stats.orders_deduplicated += 1,
            Entry::Vacant(slot) => {
                slot.insert(order.clone());
                *book.stats.orders_applied.entry(order.clone()).or_default() += 1;
            }
        }
    }
    server.play(fault, &dropper).await;
    server.used(&token);
    (StatusCode::CREATED, Json(json!({"order": order}))).into_response()
}

#[derive(Deserialize)]
struct Note {
    note: Value,
}

async fn note(
    State(server): State<Shared>,
    Extension(dropper): Extension<Dropper>,
    headers: HeaderMap,
    Json(body): Json<Note>,
) -> Response {
    let (token, fault) = match server.enter(&headers) {
        Ok(admitted) => admitted,
        Err(status) => return status.into_response(),
    };
    *server
        .book
        .lock()
        .stats
        .notes_received
        .entry(body.note.to_string())
        .or_default() += 1;
    server.play(fault, &dropper).await;
    server.used(&token);
    (StatusCode::CREATED, "noted").into_response()
}

async fn stats(State(server): State<Shared>) -> Json<Stats> {
    Json(server.book.lock().stats.clone())
}

/// Serves the chaos API on `listener` until the process ends.
///
/// Each connection is served by hyper directly so that a handler can drop
/// its own connection (the "dropped" fault) without answering.
pub async fn serve(listener: TcpListener, faults: Faults) -> std::io::Result<()> {
    let server = Arc::new(Server {
        faults,
        rng: Mutex::new(fastrand::Rng::with_seed(faults.seed)),
        next_token: AtomicU64::new(0),
        book: Mutex::new(Book::default()),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/items/{id}", get(item))
        .route("/orders", post(order))
        .route("/notes", post(note))
        .route("/stats", get(stats))
        .with_state(server);
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let drop_it = Arc::new(Notify::new());
            let dropper = Dropper(drop_it.clone());
            let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
                request.extensions_mut().insert(dropper.clone());
                app.clone().oneshot(request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = drop_it.notified() => {}
            }
        });
    }
}

/// Binds a loopback port and serves on it in the background; the address.
pub async fn spawn(faults: Faults) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, faults));
    Ok(addr)
}
