//! [`LoopbackRedirect`]: the redirect listener for native apps (RFC 8252).
//!
//! Binds 127.0.0.1 (an ephemeral port by default), serves the registered
//! path (default `/callback`), checks the redirect (`state`, issuer, the
//! provider's error: see [`crate::authorization_response`]), answers the
//! browser with a short page, and hands back the code or a typed error.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use crate::authorization_response::ExpectedResponse;
use crate::client::{OAuthClient, PendingAuthorization};
use crate::error::{Error, Result};

const SUCCESS_PAGE: &str =
    "<!doctype html><title>Signed in</title><p>You are signed in. You can close this window.</p>";
const FAILURE_PAGE: &str = "<!doctype html><title>Sign-in failed</title><p>Sign-in failed. Return to the application for details.</p>";

/// A one-shot HTTP listener on 127.0.0.1 that receives the authorization
/// redirect.
///
/// ```no_run
/// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
/// let listener = session_oauth::LoopbackRedirect::bind(None, "/callback").await?;
/// let tokens = client
///     .authorize_with_loopback(listener, std::time::Duration::from_secs(300), |url| {
///         eprintln!("Open {url} to sign in");
///     })
///     .await?;
/// # let _ = tokens; Ok(()) }
/// ```
#[derive(Debug)]
pub struct LoopbackRedirect {
    listener: TcpListener,
    path: String,
    redirect_uri: Url,
}

impl LoopbackRedirect {
    /// Binds 127.0.0.1 on `port` (an ephemeral one for `None`), answering at
    /// `path` — providers register exact paths.
    ///
    /// # Errors
    ///
    /// [`Error::Listener`] when the port can't be bound.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_oauth::Error> {
    /// let listener = session_oauth::LoopbackRedirect::bind(None, "/callback").await?;
    /// assert!(listener.redirect_uri().as_str().starts_with("http://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub async fn bind(port: Option<u16>, path: &str) -> Result<Self> {
        let address = SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0)));
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| Error::Listener {
                address: address.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Listener {
            address: address.to_string(),
            source,
        })?;
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let redirect_uri =
            Url::parse(&format!("http://{local}{path}")).map_err(|_| Error::Configuration {
                reason: "the redirect path is not valid in a URL".into(),
            })?;
        Ok(Self {
            listener,
            path,
            redirect_uri,
        })
    }

    /// The redirect URI to register and send: `http://127.0.0.1:<port><path>`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_oauth::Error> {
    /// let listener = session_oauth::LoopbackRedirect::bind(Some(8765), "/oauth/callback").await?;
    /// assert_eq!(listener.redirect_uri().as_str(), "http://127.0.0.1:8765/oauth/callback");
    /// # Ok(()) }
    /// ```
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Waits up to `timeout` for the redirect of `pending`'s request, checks
    /// it (as [`PendingAuthorization::code_from_redirect`] does: `state`,
    /// issuer, the provider's error) and returns the authorization code.
    /// Requests to other paths get a 404 and are otherwise ignored.
    ///
    /// # Errors
    ///
    /// [`Error::StateMismatch`], [`Error::IssuerMismatch`], the provider's
    /// error (e.g. [`Error::AccessDenied`]), [`Error::Timeout`], or
    /// [`Error::InvalidResponse`] for a redirect without a code.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let listener = session_oauth::LoopbackRedirect::bind(None, "/callback").await?;
    /// let pending = client.authorization_request(Some(listener.redirect_uri()))?;
    /// eprintln!("open {}", pending.url);
    /// let code = listener.wait(&pending, std::time::Duration::from_secs(300)).await?;
    /// let tokens = client.exchange_code(&code, &pending).await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn wait(self, pending: &PendingAuthorization, timeout: Duration) -> Result<String> {
        let (tx, rx) = oneshot::channel::<Result<String>>();
        let slot = Arc::new(Mutex::new(Some(tx)));
        let path = Arc::new(self.path);
        let expected = Arc::new(pending.expected_response());
        let listener = self.listener;
        let server = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (slot, path, expected) = (slot.clone(), path.clone(), expected.clone());
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let response = handle(&req, &path, &expected, &slot);
                            async move { Ok::<_, Infallible>(response) }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        let outcome = tokio::time::timeout(timeout, rx).await;
        server.abort();
        match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::InvalidResponse {
                reason: "the redirect listener stopped".into(),
            }),
            Err(_) => Err(Error::Timeout {
                what: "the authorization redirect",
            }),
        }
    }
}

type Slot = Arc<Mutex<Option<oneshot::Sender<Result<String>>>>>;

fn page(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    response
}

fn handle<B>(
    req: &Request<B>,
    path: &str,
    expected: &ExpectedResponse,
    slot: &Slot,
) -> Response<Full<Bytes>> {
    if req.uri().path() != path {
        return page(StatusCode::NOT_FOUND, "<!doctype html><p>Not found.</p>");
    }
    let result = expected.code_from_query(req.uri().query().unwrap_or(""));
    let ok = result.is_ok();
    if let Some(tx) = slot.lock().take() {
        let _ = tx.send(result);
    }
    if ok {
        page(StatusCode::OK, SUCCESS_PAGE)
    } else {
        page(StatusCode::BAD_REQUEST, FAILURE_PAGE)
    }
}

impl OAuthClient {
    /// The whole native-app flow: an authorization request (PKCE, state,
    /// nonce) with the listener's redirect URI, pushed first when the
    /// provider requires it or the client asks for it (see
    /// [`start_authorization`](OAuthClient::start_authorization)); `open` is
    /// given the URL to show or open; the redirect is awaited (up to
    /// `timeout`), checked, and the code exchanged.
    ///
    /// # Errors
    ///
    /// The push's errors, and any error of [`LoopbackRedirect::wait`] or
    /// [`exchange_code`](OAuthClient::exchange_code).
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let listener = session_oauth::LoopbackRedirect::bind(None, "/callback").await?;
    /// let tokens = client
    ///     .authorize_with_loopback(listener, std::time::Duration::from_secs(300), |url| eprintln!("open {url}"))
    ///     .await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn authorize_with_loopback(
        &self,
        listener: LoopbackRedirect,
        timeout: Duration,
        open: impl FnOnce(&Url),
    ) -> Result<session_core::TokenSet> {
        let pending: PendingAuthorization = self
            .start_authorization(Some(listener.redirect_uri()))
            .await?;
        open(&pending.url);
        let code = listener.wait(&pending, timeout).await?;
        self.exchange_code(&code, &pending).await
    }
}
