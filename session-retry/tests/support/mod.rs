//! Test helpers: a sleeper that records waits in virtual time, and loopback
//! HTTP servers that count the attempts they see.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use session_retry::{AsyncSleep, SleepFuture};

/// Returns at once, records every wait, and moves its own clock forward.
#[derive(Debug, Clone)]
pub struct RecordingSleep {
    waits: Arc<Mutex<Vec<Duration>>>,
    now: Arc<Mutex<Instant>>,
}

impl RecordingSleep {
    pub fn new() -> Self {
        Self {
            waits: Arc::default(),
            now: Arc::new(Mutex::new(tokio::time::Instant::now().into_std())),
        }
    }

    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().clone()
    }

    /// Moves the clock as if an operation took `d`.
    pub fn pass(&self, d: Duration) {
        *self.now.lock() += d;
    }
}

impl AsyncSleep for RecordingSleep {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.waits.lock().push(duration);
        *self.now.lock() += duration;
        Box::pin(async {})
    }

    fn now(&self) -> Instant {
        *self.now.lock()
    }
}

/// Counts the requests a server saw.
#[derive(Debug, Clone, Default)]
pub struct Hits(Arc<AtomicUsize>);

impl Hits {
    pub fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A request as the test server saw it.
pub type Request = hyper::Request<hyper::body::Incoming>;
/// A test server's answer.
pub type Response = hyper::Response<http_body_util::Full<bytes::Bytes>>;

/// Builds an answer.
pub fn respond(status: u16, headers: &[(&str, &str)], body: &'static str) -> Response {
    let mut response = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
        body.as_bytes(),
    )));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

/// Serves `handler` over HTTP/1.1 on an ephemeral loopback port; returns
/// the base URL.
pub async fn serve<F>(handler: F) -> String
where
    F: Fn(Request) -> Response + Clone + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let response = handler(req);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A loopback port with nothing listening on it.
pub async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
