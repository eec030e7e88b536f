//! [`Authenticate`]: the capability to put credentials on an outgoing request
//! and to react when the server answers 401 — plus [`SharedAuthenticator`].
//!
//! The trait speaks `http` and `url` types, not any HTTP client's, so strategies
//! can be written once and used by every client.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use url::Url;

use crate::error::{Error, Result};

/// The parts of an outgoing request a strategy may read and change.
///
/// ```
/// use http::{HeaderMap, HeaderValue, Method};
/// use session_core::AuthRequest;
///
/// let method = Method::GET;
/// let mut url = url::Url::parse("https://api.example.com/items")?;
/// let mut headers = HeaderMap::new();
/// let mut request = AuthRequest::new(&method, &mut url, &mut headers);
/// request.set_header(http::header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
/// request.append_query_pair("api_key", "k");
/// assert_eq!(url.query(), Some("api_key=k"));
/// assert!(headers.contains_key("authorization"));
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Debug)]
pub struct AuthRequest<'a> {
    method: &'a Method,
    url: &'a mut Url,
    headers: &'a mut HeaderMap,
}

impl<'a> AuthRequest<'a> {
    /// Borrows a request's method, URL and headers.
    ///
    /// ```
    /// # let method = http::Method::GET;
    /// # let mut url = url::Url::parse("https://a.example/").unwrap();
    /// # let mut headers = http::HeaderMap::new();
    /// let request = session_core::AuthRequest::new(&method, &mut url, &mut headers);
    /// assert_eq!(request.method(), http::Method::GET);
    /// ```
    pub fn new(method: &'a Method, url: &'a mut Url, headers: &'a mut HeaderMap) -> Self {
        Self {
            method,
            url,
            headers,
        }
    }

    /// The request method.
    ///
    /// ```
    /// # let method = http::Method::POST;
    /// # let mut url = url::Url::parse("https://a.example/").unwrap();
    /// # let mut headers = http::HeaderMap::new();
    /// # let request = session_core::AuthRequest::new(&method, &mut url, &mut headers);
    /// assert_eq!(request.method(), "POST");
    /// ```
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The request URL.
    ///
    /// ```
    /// # let method = http::Method::GET;
    /// # let mut url = url::Url::parse("https://a.example/x").unwrap();
    /// # let mut headers = http::HeaderMap::new();
    /// # let request = session_core::AuthRequest::new(&method, &mut url, &mut headers);
    /// assert_eq!(request.url().path(), "/x");
    /// ```
    pub fn url(&self) -> &Url {
        self.url
    }

    /// The request URL, mutably.
    ///
    /// ```
    /// # let method = http::Method::GET;
    /// # let mut url = url::Url::parse("https://a.example/x").unwrap();
    /// # let mut headers = http::HeaderMap::new();
    /// # let mut request = session_core::AuthRequest::new(&method, &mut url, &mut headers);
    /// request.url_mut().set_fragment(None);
    /// ```
    pub fn url_mut(&mut self) -> &mut Url {
        self.url
    }

    /// The request headers.
    ///
    /// ```
    /// # let method = http::Method::GET;
    /// # let mut url = url::Url::parse("https://a.example/x").unwrap();
    /// # let mut headers = http::HeaderMap::new();
    /// # let request = session_core::AuthRequest::new(&method, &mut url, &mut headers);
    /// assert!(request.headers().is_empty());
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        self.headers
    }

    /// The request headers, mutably.
    ///
    /// ```
    /// # let method = http::Method::GET;
    /// # let mut url = url::Url::parse("https://a.example/x").unwrap();
    /// # let mut headers = http::HeaderMap::new();
    /// # let mut request = session_core::AuthRequest::new(&method, &mut url, &mut headers);
    /// request.headers_mut().clear();
    /// ```
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers
    }

    /// Sets a header, replacing any previous value.
    ///
    /// ```
    /// # let method = http::Method::GET;
    /// # let mut url = url::Url::parse("https://a.example/x").unwrap();
    /// # let mut headers = http::HeaderMap::new();
    /// # let mut request = session_core::AuthRequest::new(&method, &mut url, &mut headers);
    /// request.set_header(http::HeaderName::from_static("x-api-key"), http::HeaderValue::from_static("k"));
    /// assert_eq!(request.headers()["x-api-key"], "k");
    /// ```
    pub fn set_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.insert(name, value);
    }

    /// Appends a query parameter (percent-encoded).
    ///
    /// ```
    /// # let method = http::Method::GET;
    /// # let mut url = url::Url::parse("https://a.example/x?a=1").unwrap();
    /// # let mut headers = http::HeaderMap::new();
    /// # let mut request = session_core::AuthRequest::new(&method, &mut url, &mut headers);
    /// request.append_query_pair("key", "a b");
    /// assert_eq!(request.url().query(), Some("a=1&key=a+b"));
    /// ```
    pub fn append_query_pair(&mut self, name: &str, value: &str) {
        self.url.query_pairs_mut().append_pair(name, value);
    }
}

/// What the server said when it refused a request with 401.
///
/// ```
/// use http::{HeaderMap, Method, StatusCode};
/// use session_core::Rejection;
///
/// let url = url::Url::parse("https://api.example.com/items")?;
/// let (sent, received) = (HeaderMap::new(), HeaderMap::new());
/// let rejection = Rejection::new(&Method::GET, &url, &sent, StatusCode::UNAUTHORIZED, &received);
/// assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Rejection<'a> {
    method: &'a Method,
    url: &'a Url,
    request_headers: &'a HeaderMap,
    status: StatusCode,
    response_headers: &'a HeaderMap,
}

impl<'a> Rejection<'a> {
    /// Describes a rejected request.
    ///
    /// ```
    /// # let url = url::Url::parse("https://a.example/").unwrap();
    /// # let h = http::HeaderMap::new();
    /// let r = session_core::Rejection::new(&http::Method::GET, &url, &h, http::StatusCode::UNAUTHORIZED, &h);
    /// assert_eq!(r.url().host_str(), Some("a.example"));
    /// ```
    pub fn new(
        method: &'a Method,
        url: &'a Url,
        request_headers: &'a HeaderMap,
        status: StatusCode,
        response_headers: &'a HeaderMap,
    ) -> Self {
        Self {
            method,
            url,
            request_headers,
            status,
            response_headers,
        }
    }

    /// The rejected request's method.
    ///
    /// ```
    /// # let url = url::Url::parse("https://a.example/").unwrap();
    /// # let h = http::HeaderMap::new();
    /// # let r = session_core::Rejection::new(&http::Method::GET, &url, &h, http::StatusCode::UNAUTHORIZED, &h);
    /// assert_eq!(r.method(), http::Method::GET);
    /// ```
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The rejected request's URL.
    ///
    /// ```
    /// # let url = url::Url::parse("https://a.example/").unwrap();
    /// # let h = http::HeaderMap::new();
    /// # let r = session_core::Rejection::new(&http::Method::GET, &url, &h, http::StatusCode::UNAUTHORIZED, &h);
    /// assert_eq!(r.url().scheme(), "https");
    /// ```
    pub fn url(&self) -> &'a Url {
        self.url
    }

    /// The headers the rejected request carried (to see which credential was
    /// refused). Sessions pass the credential headers, those marked
    /// sensitive, which is what a strategy compares.
    ///
    /// ```
    /// # let url = url::Url::parse("https://a.example/").unwrap();
    /// # let h = http::HeaderMap::new();
    /// # let r = session_core::Rejection::new(&http::Method::GET, &url, &h, http::StatusCode::UNAUTHORIZED, &h);
    /// assert!(r.request_headers().get("authorization").is_none());
    /// ```
    pub fn request_headers(&self) -> &'a HeaderMap {
        self.request_headers
    }

    /// The response status (normally 401).
    ///
    /// ```
    /// # let url = url::Url::parse("https://a.example/").unwrap();
    /// # let h = http::HeaderMap::new();
    /// # let r = session_core::Rejection::new(&http::Method::GET, &url, &h, http::StatusCode::UNAUTHORIZED, &h);
    /// assert_eq!(r.status().as_u16(), 401);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers (e.g. `WWW-Authenticate`).
    ///
    /// ```
    /// # let url = url::Url::parse("https://a.example/").unwrap();
    /// # let h = http::HeaderMap::new();
    /// # let r = session_core::Rejection::new(&http::Method::GET, &url, &h, http::StatusCode::UNAUTHORIZED, &h);
    /// assert!(r.response_headers().is_empty());
    /// ```
    pub fn response_headers(&self) -> &'a HeaderMap {
        self.response_headers
    }
}

/// What to do after a 401.
///
/// ```
/// assert_ne!(session_core::Replay::Yes, session_core::Replay::No);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Replay {
    /// Credentials changed: send the request once more.
    Yes,
    /// Give the 401 to the caller.
    No,
}

/// Puts credentials on outgoing requests.
///
/// Implementations must be cheap to call: `authenticate` runs before every
/// attempt. Static strategies do no I/O; refreshing ones may await a refresh.
///
/// # Examples
///
/// A strategy that sends an API key in a header:
///
/// ```
/// use async_trait::async_trait;
/// use http::{HeaderName, HeaderValue};
/// use session_core::{AuthRequest, Authenticate, Error, Result, SharedAuthenticator};
///
/// #[derive(Debug)]
/// struct ApiKey(HeaderValue);
///
/// #[async_trait]
/// impl Authenticate for ApiKey {
///     async fn authenticate(&self, request: &mut AuthRequest<'_>) -> Result<()> {
///         request.set_header(HeaderName::from_static("x-api-key"), self.0.clone());
///         Ok(())
///     }
/// }
///
/// let mut key = HeaderValue::from_static("k-123");
/// key.set_sensitive(true);
/// let auth = SharedAuthenticator::new(ApiKey(key));
/// # let _ = auth;
/// ```
#[async_trait]
pub trait Authenticate: Send + Sync + fmt::Debug {
    /// Adds credentials to `request`.
    ///
    /// # Errors
    ///
    /// When no credentials can be had (e.g. [`Error::NotAuthenticated`]).
    async fn authenticate(&self, request: &mut AuthRequest<'_>) -> Result<()>;

    /// Adds credentials without waiting, when they are at hand (a fixed
    /// key, a cached token that is still valid). `None` means "I would have
    /// to wait": the caller then awaits [`authenticate`](Self::authenticate).
    /// Sessions try this first, so the common case costs no future and no
    /// allocation. The default always answers `None`.
    ///
    /// ```
    /// use http::{HeaderMap, Method};
    /// use session_core::{AuthRequest, Authenticate, Result};
    ///
    /// #[derive(Debug)]
    /// struct Anonymous;
    ///
    /// #[async_trait::async_trait]
    /// impl Authenticate for Anonymous {
    ///     async fn authenticate(&self, _: &mut AuthRequest<'_>) -> Result<()> { Ok(()) }
    /// }
    ///
    /// let mut url = url::Url::parse("https://api.example.com/")?;
    /// let mut headers = HeaderMap::new();
    /// let mut request = AuthRequest::new(&Method::GET, &mut url, &mut headers);
    /// assert!(Anonymous.authenticate_now(&mut request).is_none());
    /// # Ok::<(), url::ParseError>(())
    /// ```
    fn authenticate_now(&self, request: &mut AuthRequest<'_>) -> Option<Result<()>> {
        let _ = request;
        None
    }

    /// Reports unusable configuration (an empty token, a value that can't be
    /// a header) once, when a session is built, so it fails there instead of
    /// on the first request. The default accepts everything.
    ///
    /// # Errors
    ///
    /// [`Error::UnusableCredential`] describing what is wrong.
    fn check(&self) -> Result<()> {
        Ok(())
    }

    /// Called when the server answered 401. Return [`Replay::Yes`] when the
    /// credentials were renewed and the request should be sent once more.
    /// The default gives the 401 to the caller.
    ///
    /// # Errors
    ///
    /// When renewing credentials failed for good.
    async fn on_unauthorized(&self, rejection: Rejection<'_>) -> Result<Replay> {
        let _ = rejection;
        Ok(Replay::No)
    }

    /// Called when the one replay after a 401 was rejected too: the renewed
    /// credentials are no good either. Don't wait here (the caller already
    /// has its answer); start renewing them for the requests that follow.
    /// The default does nothing.
    fn on_replay_rejected(&self, rejection: Rejection<'_>) {
        let _ = rejection;
    }
}

/// A cheaply cloneable, shareable [`Authenticate`] implementation.
///
/// ```
/// # use session_core::*;
/// # #[derive(Debug)] struct NoAuth;
/// # #[async_trait::async_trait] impl Authenticate for NoAuth {
/// #     async fn authenticate(&self, _: &mut AuthRequest<'_>) -> Result<()> { Ok(()) }
/// # }
/// let shared = SharedAuthenticator::new(NoAuth);
/// let clone = shared.clone();
/// # let _ = clone;
/// ```
#[derive(Clone)]
pub struct SharedAuthenticator(Arc<dyn Authenticate>);

impl SharedAuthenticator {
    /// Wraps a strategy.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct NoAuth;
    /// # #[async_trait::async_trait] impl Authenticate for NoAuth {
    /// #     async fn authenticate(&self, _: &mut AuthRequest<'_>) -> Result<()> { Ok(()) }
    /// # }
    /// let _ = SharedAuthenticator::new(NoAuth);
    /// ```
    pub fn new(auth: impl Authenticate + 'static) -> Self {
        Self(Arc::new(auth))
    }

    /// Wraps an already shared strategy.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::*;
    /// # #[derive(Debug)] struct NoAuth;
    /// # #[async_trait::async_trait] impl Authenticate for NoAuth {
    /// #     async fn authenticate(&self, _: &mut AuthRequest<'_>) -> Result<()> { Ok(()) }
    /// # }
    /// let arc: Arc<dyn Authenticate> = Arc::new(NoAuth);
    /// let _ = SharedAuthenticator::from_arc(arc);
    /// ```
    pub fn from_arc(auth: Arc<dyn Authenticate>) -> Self {
        Self(auth)
    }
}

impl fmt::Debug for SharedAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedAuthenticator").field(&self.0).finish()
    }
}

#[async_trait]
impl Authenticate for SharedAuthenticator {
    async fn authenticate(&self, request: &mut AuthRequest<'_>) -> Result<()> {
        self.0.authenticate(request).await
    }

    fn authenticate_now(&self, request: &mut AuthRequest<'_>) -> Option<Result<()>> {
        self.0.authenticate_now(request)
    }

    fn check(&self) -> Result<()> {
        self.0.check()
    }

    async fn on_unauthorized(&self, rejection: Rejection<'_>) -> Result<Replay> {
        self.0.on_unauthorized(rejection).await
    }

    fn on_replay_rejected(&self, rejection: Rejection<'_>) {
        self.0.on_replay_rejected(rejection);
    }
}

/// Builds a header value that is marked sensitive (so HTTP libraries don't
/// log it), refusing values that are empty or not valid in a header.
///
/// # Errors
///
/// [`Error::UnusableCredential`] for an empty value or one with characters a
/// header cannot carry (control characters, newlines). The error never
/// contains the value.
///
/// ```
/// let v = session_core::sensitive_header_value("Bearer abc")?;
/// assert!(v.is_sensitive());
/// assert!(session_core::sensitive_header_value("a\nb").is_err());
/// assert!(session_core::sensitive_header_value("").is_err());
/// # Ok::<(), session_core::Error>(())
/// ```
pub fn sensitive_header_value(value: &str) -> Result<HeaderValue> {
    if value.is_empty() {
        return Err(Error::UnusableCredential {
            reason: "the credential is empty",
        });
    }
    let mut header = HeaderValue::from_str(value).map_err(|_| Error::UnusableCredential {
        reason: "the credential contains characters not allowed in an HTTP header",
    })?;
    header.set_sensitive(true);
    Ok(header)
}
