//! [`Session`]: the HTTP client users hold all day — cheap to clone, shared by
//! every API client, closed for all at once — with its statistics and
//! metadata.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use http::Method;
use parking_lot::Mutex;
use reqwest::{Request, Response};
use session_core::time::OffsetDateTime;
use session_core::{CookieJar, ExpiryPolicy, SessionData, SessionMetadata, SharedClock};
use tokio::sync::OnceCell;
use tracing::Instrument as _;
use url::Url;

use crate::builder::SessionBuilder;
use crate::error::{Error, Result};
use crate::live_jar::LiveJar;
use crate::pipeline::Rules;
use crate::request::RequestBuilder;
use crate::state::SessionState;
use crate::striped::StripedCounter;
use crate::token_manager::TokenManager;
use crate::url_cache::UrlCache;

/// An authenticated, retrying HTTP session.
///
/// Clone it freely and hand it to every API client: clones share the
/// connection pool, credentials, cookies, statistics and the closed state.
///
/// # Examples
///
/// ```no_run
/// use session_auth::{BearerAuth, Session};
/// use session_retry::RetryPolicy;
///
/// # #[derive(serde::Deserialize)] struct Customer;
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let session = Session::builder()
///     .base_url("https://api.example.com/v2/")
///     .auth(BearerAuth::new("token"))
///     .retry(RetryPolicy::builder().retries(3).backoff_factor(1.0).build()?)
///     .build()?;
/// let customers: Vec<Customer> = session.get("customers").send().await?.json().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: reqwest::Client,
    pub(crate) base_url: Option<Url>,
    /// Targets resolved against `base_url` lately, so they aren't parsed again.
    pub(crate) urls: UrlCache,
    /// What the one pipeline enforces for this session.
    pub(crate) rules: Rules,
    pub(crate) tokens: Option<TokenManager>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) clock: SharedClock,
    pub(crate) jar: Option<Arc<LiveJar>>,
    /// The owner of the session's data; the jar and the bookkeeping below
    /// are live views of it, written back by `save` and `close`.
    pub(crate) state: SessionState,
    pub(crate) user_agent: Option<String>,
    pub(crate) closed: AtomicBool,
    /// Set by `sign_out`, cleared by `sign_in`. A token manager keeps its
    /// own flag too (it may be shared by several sessions).
    pub(crate) signed_out: AtomicBool,
    /// Whether the jar and bookkeeping were filled from the state.
    pub(crate) restored: OnceCell<()>,
    pub(crate) requests: StripedCounter,
    pub(crate) retries: AtomicU64,
    /// When the last call started, in Unix nanoseconds (`NO_CALL`: never).
    /// Written at most once a millisecond, so cores sending at once don't
    /// keep stealing its cache line.
    pub(crate) last_call: AtomicI64,
    /// A hash of `activity.current_api_server`, checked before locking.
    pub(crate) server_hash: AtomicU64,
    pub(crate) activity: Mutex<Activity>,
}

/// `last_call` before any call.
pub(crate) const NO_CALL: i64 = i64::MIN;

/// How stale `last_call` may get before it is written again.
const LAST_CALL_RESOLUTION: i64 = 1_000_000;

pub(crate) struct Activity {
    pub(crate) created_at: OffsetDateTime,
    pub(crate) current_api_server: Option<String>,
}

impl Inner {
    /// Sends one request through the session: the checks, the timeout, the
    /// bookkeeping and the pipeline. `owner` is the session's state,
    /// borrowed ([`Session::execute`]) or owned (a request builder's
    /// `'static` future). The request is boxed once, here at the start, and
    /// stays in its box until an attempt is copied from it.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would keep the request twice in its future"
    )]
    pub(crate) fn send<O>(
        owner: O,
        request: Result<Box<Request>>,
    ) -> impl Future<Output = Result<Response>> + Send
    where
        O: std::borrow::Borrow<Inner> + Send + Sync,
    {
        async move {
            let this: &Inner = owner.borrow();
            let mut request = request?;
            if this.is_closed() {
                return Err(Error::SessionClosed);
            }
            if this.signed_out.load(Ordering::Acquire) {
                return Err(Error::SignedOut);
            }
            if !this.restored.initialized() {
                // Once per session: boxed, so its state doesn't swell every
                // request's future.
                Box::pin(this.ensure_restored()).await?;
            }
            // reqwest keeps the timeout in the request's extensions: only touch
            // them when there is a timeout to set.
            if let Some(timeout) = this.timeout
                && request.timeout().is_none()
            {
                *request.timeout_mut() = Some(timeout);
            }
            this.note_call(request.url().host_str());
            let (result, attempts) = if tracing::enabled!(target: "session_auth", tracing::Level::INFO)
            {
                let span = tracing::info_span!(
                    target: "session_auth",
                    "session.request",
                    method = %request.method(),
                    host = request.url().host_str().unwrap_or_default(),
                    path = request.url().path(),
                    status = tracing::field::Empty,
                    attempts = tracing::field::Empty,
                );
                let sent = this
                    .rules
                    .send(&this.client, request)
                    .instrument(span.clone())
                    .await;
                span.record("attempts", sent.1);
                if let Ok(response) = &sent.0 {
                    span.record("status", response.status().as_u16());
                }
                sent
            } else {
                this.rules.send(&this.client, request).await
            };
            this.record_call(attempts);
            result
        }
    }

    /// Restores the state once, on first use, and fills the live cookie
    /// jar and bookkeeping from it.
    pub(crate) async fn ensure_restored(&self) -> Result<()> {
        if self.restored.initialized() {
            return Ok(());
        }
        self.restored
            .get_or_try_init(|| async {
                self.state.restore().await.map_err(Error::Store)?;
                let Some(data) = self.state.session() else {
                    return Ok(());
                };
                if let Some(jar) = &self.jar {
                    *jar.lock() = data.cookies;
                }
                let mut activity = self.activity.lock();
                activity.created_at = data.metadata.created_at;
                activity.current_api_server = data.metadata.current_api_server;
                self.server_hash.store(0, Ordering::Relaxed);
                if let Some(at) = data.metadata.last_api_call_at {
                    let nanos = i64::try_from(at.unix_timestamp_nanos()).unwrap_or(NO_CALL);
                    self.last_call.store(nanos, Ordering::Relaxed);
                }
                Ok::<(), Error>(())
            })
            .await
            .map(|_| ())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn is_signed_out(&self) -> bool {
        self.signed_out.load(Ordering::Acquire)
            || self
                .tokens
                .as_ref()
                .is_some_and(TokenManager::is_signed_out)
    }

    /// Records a call starting now to `host`. In the common case (same
    /// host, same millisecond as the last write) this only reads shared
    /// state.
    pub(crate) fn note_call(&self, host: Option<&str>) {
        let now = i64::try_from(self.clock.unix_nanos()).unwrap_or(i64::MAX);
        let last = self.last_call.load(Ordering::Relaxed);
        if last == NO_CALL || now.abs_diff(last) >= LAST_CALL_RESOLUTION.unsigned_abs() {
            self.last_call.store(now, Ordering::Relaxed);
        }
        if let Some(host) = host {
            let hash = host_hash(host);
            if self.server_hash.load(Ordering::Relaxed) != hash {
                let mut activity = self.activity.lock();
                if activity.current_api_server.as_deref() != Some(host) {
                    activity.current_api_server = Some(host.to_owned());
                }
                self.server_hash.store(hash, Ordering::Relaxed);
            }
        }
    }

    /// Counts a finished logical request.
    pub(crate) fn record_call(&self, attempts: u32) {
        self.requests.add(1);
        if attempts > 1 {
            self.retries
                .fetch_add(u64::from(attempts - 1), Ordering::Relaxed);
        }
    }

    /// When the last call started.
    fn last_api_call_at(&self) -> Option<OffsetDateTime> {
        match self.last_call.load(Ordering::Relaxed) {
            NO_CALL => None,
            nanos => OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok(),
        }
    }
}

/// FNV-1a of a host name; never 0 (which means "no host yet").
fn host_hash(host: &str) -> u64 {
    let hash = host.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    hash.max(1)
}

/// Counters kept by a session.
///
/// ```
/// let stats = session_auth::Session::builder().build()?.stats();
/// assert_eq!(stats.requests, 0);
/// # Ok::<(), session_auth::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// Logical requests sent (each may have taken several attempts).
    pub requests: u64,
    /// Retries made across all requests.
    pub retries: u64,
    /// Token refreshes and sign-ins.
    pub refreshes: u64,
}

impl Session {
    /// Starts a builder.
    ///
    /// ```
    /// let session = session_auth::Session::builder().build()?;
    /// # let _ = session;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// A request with `method` to `target`: a path under the base URL (a
    /// leading `/` is ignored) or an absolute `http(s)` URL.
    ///
    /// The session remembers the target each thread resolved last, so
    /// sending to the same target again doesn't parse it again.
    ///
    /// ```
    /// let session = session_auth::Session::builder().base_url("https://api.example.com/v2").build()?;
    /// let request = session.request(http::Method::GET, "customers").build()?;
    /// assert_eq!(request.url().as_str(), "https://api.example.com/v2/customers");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn request(&self, method: Method, target: &str) -> RequestBuilder {
        let request = self
            .inner
            .urls
            .resolve(self.inner.base_url.as_ref(), target)
            .map(|url| Request::new(method, url));
        RequestBuilder::new(self.clone(), request)
    }

    /// A GET request; see [`request`](Self::request).
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let _ = session.get("items");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn get(&self, target: &str) -> RequestBuilder {
        self.request(Method::GET, target)
    }

    /// A POST request; see [`request`](Self::request).
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let _ = session.post("items");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn post(&self, target: &str) -> RequestBuilder {
        self.request(Method::POST, target)
    }

    /// A PUT request; see [`request`](Self::request).
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let _ = session.put("items/1");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn put(&self, target: &str) -> RequestBuilder {
        self.request(Method::PUT, target)
    }

    /// A PATCH request; see [`request`](Self::request).
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let _ = session.patch("items/1");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn patch(&self, target: &str) -> RequestBuilder {
        self.request(Method::PATCH, target)
    }

    /// A DELETE request; see [`request`](Self::request).
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let _ = session.delete("items/1");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn delete(&self, target: &str) -> RequestBuilder {
        self.request(Method::DELETE, target)
    }

    /// A HEAD request; see [`request`](Self::request).
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let _ = session.head("items");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn head(&self, target: &str) -> RequestBuilder {
        self.request(Method::HEAD, target)
    }

    /// Sends a request built elsewhere through the session: static headers,
    /// authentication, retries, redirects and bookkeeping all apply.
    ///
    /// # Errors
    ///
    /// [`Error::SessionClosed`] after [`close`](Session::close); authentication,
    /// transport and redirect errors otherwise. HTTP error statuses are not
    /// errors: check the response.
    ///
    /// ```no_run
    /// # async fn run(session: session_auth::Session) -> Result<(), session_auth::Error> {
    /// let request = session.client().get("https://api.example.com/health").build()?;
    /// let response = session.execute(request).await?;
    /// # let _ = response; Ok(()) }
    /// ```
    pub fn execute(&self, request: Request) -> impl Future<Output = Result<Response>> + Send + '_ {
        // Boxed once, where it is made: the request's whole state (retries,
        // redirects, the replay) lives in one allocation and never moves.
        Box::pin(Inner::send(&*self.inner, Ok(Box::new(request))))
    }

    /// The underlying reqwest client.
    ///
    /// ```
    /// let session = session_auth::Session::builder().build()?;
    /// let _client: &reqwest::Client = session.client();
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// The base URL, if set.
    ///
    /// ```
    /// let session = session_auth::Session::builder().base_url("https://a.example/v1").build()?;
    /// assert_eq!(session.base_url().unwrap().as_str(), "https://a.example/v1/");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn base_url(&self) -> Option<&Url> {
        self.inner.base_url.as_ref()
    }

    /// The token manager, when the session authenticates with one.
    ///
    /// ```
    /// assert!(session_auth::Session::builder().build()?.tokens().is_none());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn tokens(&self) -> Option<&TokenManager> {
        self.inner.tokens.as_ref()
    }

    /// Ends the session for every clone: later requests fail with
    /// [`Error::SessionClosed`]. Saves cookies and metadata first when the
    /// session is persisted.
    ///
    /// # Errors
    ///
    /// The store's error if the final save failed (the session is closed anyway).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let api_client = session.clone();
    /// session.close().await?;
    /// let err = api_client.get("x").send().await.unwrap_err();
    /// assert!(err.is_closed());
    /// assert_eq!(err.to_string(), "the session is closed; create a new session to make requests");
    /// # Ok::<(), session_auth::Error>(()) }).unwrap();
    /// ```
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.save().await
    }

    /// Whether [`close`](Self::close) was called on any clone.
    ///
    /// ```
    /// assert!(!session_auth::Session::builder().build()?.is_closed());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Saves cookies and metadata to the session's store (tokens are saved by
    /// the token manager whenever they change). Does nothing without a store.
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// session_auth::Session::builder().build()?.save().await?;
    /// # Ok::<(), session_auth::Error>(()) }).unwrap();
    /// ```
    pub async fn save(&self) -> Result<()> {
        // Never overwrite the stored session with a blank one.
        self.ensure_restored().await?;
        let cookies = self.cookie_jar();
        let metadata = self.metadata();
        self.inner.state.update(|data| {
            if let Some(cookies) = cookies {
                data.cookies = cookies;
            }
            let created_at = data.metadata.created_at.min(metadata.created_at);
            let last_refreshed_at = data.metadata.last_refreshed_at;
            data.metadata = metadata;
            data.metadata.created_at = created_at;
            data.metadata.last_refreshed_at = last_refreshed_at;
        });
        self.inner.state.save().await.map_err(Error::Store)
    }

    /// The session's state: the one owner of its tokens, cookies, user info
    /// and metadata, in memory and in its store.
    ///
    /// ```
    /// let session = session_auth::Session::builder().build()?;
    /// assert!(!session.state().is_persisted());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn state(&self) -> &SessionState {
        &self.inner.state
    }

    /// Signs out: revokes the tokens where the server supports it, forgets
    /// tokens and cookies, deletes the stored session, and ends the session
    /// for every clone. Later requests fail with [`Error::SignedOut`] without
    /// contacting anyone — no silent sign-in with held credentials — until
    /// [`sign_in`](Self::sign_in) is called.
    ///
    /// # Errors
    ///
    /// The revocation or store error, after the local wipe (the session is
    /// signed out anyway).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// session.sign_out().await?;
    /// assert!(session.get("x").send().await.unwrap_err().is_signed_out());
    /// # Ok::<(), session_auth::Error>(()) }).unwrap();
    /// ```
    pub async fn sign_out(&self) -> Result<()> {
        self.inner.signed_out.store(true, Ordering::Release);
        if let Some(jar) = &self.inner.jar {
            jar.lock().clear();
        }
        // The token manager shares the state: its sign-out clears it.
        match &self.inner.tokens {
            Some(tokens) => tokens.sign_out().await.map_err(Error::from_core),
            None => self.inner.state.clear().await.map_err(Error::Store),
        }
    }

    /// Signs in explicitly: with a token manager, a fresh sign-in through its
    /// provider (credentials held or prompted for); then the session accepts
    /// requests again. The way back after [`sign_out`](Self::sign_out).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] for wrong credentials; the provider's
    /// error otherwise (see the `is_*` predicates of [`Error`]). The session
    /// stays signed out if the sign-in failed.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let session = session_auth::Session::builder().build()?;
    /// session.sign_out().await?;
    /// session.sign_in().await?;
    /// assert!(!session.is_signed_out());
    /// # Ok::<(), session_auth::Error>(()) }).unwrap();
    /// ```
    pub async fn sign_in(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::SessionClosed);
        }
        if let Some(tokens) = &self.inner.tokens {
            tokens.sign_in().await.map_err(Error::from_core)?;
        }
        self.inner.signed_out.store(false, Ordering::Release);
        Ok(())
    }

    /// Whether the session is signed out (by [`sign_out`](Self::sign_out)
    /// on any clone, or on its token manager).
    ///
    /// ```
    /// assert!(!session_auth::Session::builder().build()?.is_signed_out());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn is_signed_out(&self) -> bool {
        self.inner.is_signed_out()
    }

    /// Counters: requests, retries, refreshes.
    ///
    /// ```
    /// assert_eq!(session_auth::Session::builder().build()?.stats().retries, 0);
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.inner.requests.get(),
            retries: self.inner.retries.load(Ordering::Relaxed),
            refreshes: self
                .inner
                .tokens
                .as_ref()
                .map_or(0, TokenManager::refreshes),
        }
    }

    /// A snapshot of the session's metadata.
    ///
    /// ```
    /// let meta = session_auth::Session::builder().build()?.metadata();
    /// assert!(meta.last_api_call_at.is_none());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn metadata(&self) -> SessionMetadata {
        let activity = self.inner.activity.lock();
        let mut meta = SessionMetadata::new(activity.created_at);
        meta.last_api_call_at = self.inner.last_api_call_at();
        meta.current_api_server = activity.current_api_server.clone();
        meta.user_agent = self.inner.user_agent.clone();
        meta.last_refreshed_at = self
            .inner
            .state
            .read(|d| d.and_then(|d| d.metadata.last_refreshed_at));
        meta
    }

    /// A copy of the session's cookies (when it manages its own jar).
    ///
    /// ```
    /// let jar = session_auth::Session::builder().build()?.cookie_jar().unwrap();
    /// assert!(jar.is_empty());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn cookie_jar(&self) -> Option<CookieJar> {
        Some(self.inner.jar.as_ref()?.lock().clone())
    }

    /// The session as [`SessionData`]: tokens, cookies, metadata.
    ///
    /// ```
    /// let data = session_auth::Session::builder().build()?.snapshot();
    /// assert!(data.tokens.is_none());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn snapshot(&self) -> SessionData {
        let created_at = self.inner.activity.lock().created_at;
        let mut data = self
            .inner
            .state
            .session()
            .unwrap_or_else(|| SessionData::new(created_at));
        if let Some(cookies) = self.cookie_jar() {
            data.cookies = cookies;
        }
        data.metadata = self.metadata();
        data
    }

    /// The one-line summary, e.g.
    /// `Session: VALID | Tokens: VALID | Cookies: PRESENT | Age: 45m | Last API: 2m ago`.
    ///
    /// ```
    /// let line = session_auth::Session::builder().build()?.summary();
    /// assert!(line.starts_with("Session: INVALID | Tokens: NONE"));
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn summary(&self) -> String {
        let policy = self
            .inner
            .tokens
            .as_ref()
            .map_or_else(ExpiryPolicy::default, |t| *t.expiry_policy());
        self.snapshot().summary(self.inner.clock.now(), &policy)
    }

    /// Restores the state once, on first use; see [`Inner::ensure_restored`].
    pub(crate) async fn ensure_restored(&self) -> Result<()> {
        self.inner.ensure_restored().await
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("base_url", &self.inner.base_url.as_ref().map(Url::as_str))
            .field("auth", &self.inner.rules.auth)
            .field("retry", &self.inner.rules.retry)
            .field("closed", &self.is_closed())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
