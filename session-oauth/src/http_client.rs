//! [`OAuthHttp`]: how the OAuth client talks to its provider. Every call —
//! token, discovery, JWKS, revocation, introspection, device — is sent
//! through one `session_auth::Session`, so the rules are the session's:
//! https (or a loopback host) only, for every request; no redirects
//! followed; no cookies; connect and read timeouts by default; URLs
//! stripped from errors.

use std::time::Duration;

use oauth2::{HttpRequest, HttpResponse};
use session_auth::{RequestBuilder, Session};

use crate::error::Error;

/// Default limit for connecting to an OAuth endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit for one read from an OAuth endpoint (a server that accepts
/// the request and never answers).
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit for a whole exchange with an OAuth endpoint.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTP side of an OAuth client.
///
/// ```
/// let http = session_oauth::OAuthHttp::new()?;
/// # let _ = http;
/// # Ok::<(), session_oauth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OAuthHttp {
    session: Session,
}

/// The error of a failed exchange with an OAuth endpoint, as the `oauth2`
/// crate sees it (it becomes an [`Error`] before reaching you).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request could not be completed.
    #[error("the HTTP request to the authorization server failed")]
    Send(#[source] session_auth::Error),
    /// The client could not authenticate the request (no usable key).
    #[error("the client could not authenticate its request")]
    Client(#[source] Box<Error>),
    /// The server answered with a 5xx status.
    #[error("the authorization server answered with status {0}")]
    ServerStatus(u16),
    /// The answer was larger than any OAuth answer should be
    /// ([`MAX_ANSWER_BYTES`]).
    #[error("the authorization server's answer is too large")]
    TooLarge,
}

/// The largest answer read from an OAuth endpoint (token, revocation,
/// introspection, device, discovery, JWKS, user info): 1 MiB, far above any
/// real one, and a bound on what a broken or hostile endpoint can make the
/// client hold in memory. A larger answer is
/// [`Error::InvalidResponse`](crate::Error::InvalidResponse).
///
/// ```
/// assert_eq!(session_oauth::MAX_ANSWER_BYTES, 1 << 20);
/// ```
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Reads an OAuth endpoint's answer, up to [`MAX_ANSWER_BYTES`]: the one
/// place every answer's body is read. A declared length over the limit is
/// refused before reading; a body that grows past it, as soon as it does.
pub(crate) async fn read_answer(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(HttpError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpError::Send(e.into()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl HttpError {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Self::TooLarge => Error::InvalidResponse {
                reason: "the answer is larger than 1 MiB".into(),
            },
            Self::Send(error) => send_error(error),
            Self::Client(error) => *error,
            Self::ServerStatus(_) => Error::Transport {
                retryable: true,
                source: Some(Box::new(self)),
            },
        }
    }
}

/// A session error in OAuth terms: a refused transport is named as such;
/// everything else is a transport failure, retryable when it is transient.
pub(crate) fn send_error(error: session_auth::Error) -> Error {
    match error {
        session_auth::Error::InsecureTransport { host } => Error::InsecureTransport { host },
        error => Error::Transport {
            retryable: error.is_retryable() || error.is_timeout(),
            source: Some(Box::new(error)),
        },
    }
}

impl OAuthHttp {
    /// The default: https (or loopback) only, no redirects, connect timeout
    /// 10 s, read timeout 30 s, 60 s for a whole exchange.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when TLS can't be initialised.
    ///
    /// ```
    /// let _ = session_oauth::OAuthHttp::new()?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// Starts a builder.
    ///
    /// ```
    /// use std::time::Duration;
    /// let http = session_oauth::OAuthHttp::builder().timeout(Duration::from_secs(20)).build()?;
    /// # let _ = http;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn builder() -> OAuthHttpBuilder {
        OAuthHttpBuilder::default()
    }

    /// Sends a request built on [`session`](Self::session).
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, Error> {
        request.send().await.map_err(send_error)
    }

    /// The session every OAuth request goes through.
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }
}

/// Builds an [`OAuthHttp`].
///
/// ```
/// let http = session_oauth::OAuthHttp::builder()
///     .allow_insecure_http(true) // a test provider on a private network
///     .build()?;
/// # let _ = http;
/// # Ok::<(), session_oauth::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct OAuthHttpBuilder {
    client: Option<reqwest::Client>,
    timeout: Duration,
    connect_timeout: Duration,
    read_timeout: Duration,
    allow_insecure_http: bool,
    identity: Option<reqwest::Identity>,
    root_certificates: Vec<reqwest::Certificate>,
}

impl Default for OAuthHttpBuilder {
    fn default() -> Self {
        Self {
            client: None,
            timeout: TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
            allow_insecure_http: false,
            identity: None,
            root_certificates: Vec::new(),
        }
    }
}

impl OAuthHttpBuilder {
    /// Uses your reqwest client (proxies, TLS roots). Build it with
    /// `redirect::Policy::none()`: token endpoints must not be followed
    /// through redirects. Its own timeouts apply instead of the connect and
    /// read timeouts here; [`timeout`](Self::timeout) still does.
    ///
    /// ```
    /// let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    /// let _ = session_oauth::OAuthHttp::builder().client(client).build()?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The limit for a whole exchange with an endpoint (default 60 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let _ = session_oauth::OAuthHttp::builder().timeout(Duration::from_secs(15)).build()?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The limit for connecting (default 10 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let _ = session_oauth::OAuthHttp::builder().connect_timeout(Duration::from_secs(5)).build()?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The limit for one read, e.g. waiting for the answer (default 30 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let _ = session_oauth::OAuthHttp::builder().read_timeout(Duration::from_secs(10)).build()?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// A TLS client certificate and key for every connection to the
    /// provider: mutual-TLS client authentication
    /// ([`ClientAuth::TlsClientAuth`](crate::ClientAuth::TlsClientAuth),
    /// RFC 8705). Ignored with [`client`](Self::client).
    ///
    /// ```no_run
    /// let pem = std::fs::read("client.pem")?; // certificate chain and private key
    /// let _ = session_oauth::OAuthHttp::builder().identity(reqwest::Identity::from_pem(&pem)?).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn identity(mut self, identity: reqwest::Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Trusts `certificate` as a root, besides the system's (a provider
    /// behind a private CA). Ignored with [`client`](Self::client).
    ///
    /// ```no_run
    /// let pem = std::fs::read("internal-ca.pem")?;
    /// let _ = session_oauth::OAuthHttp::builder().root_certificate(reqwest::Certificate::from_pem(&pem)?).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// Allows plain `http://` to any host (default: only to loopback
    /// hosts). Tokens, secrets and discovery documents then cross the
    /// network unprotected: for test environments only.
    ///
    /// ```
    /// let _ = session_oauth::OAuthHttp::builder().allow_insecure_http(true).build()?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Builds it.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when TLS can't be initialised.
    ///
    /// ```
    /// let _ = session_oauth::OAuthHttp::builder().build()?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn build(self) -> Result<OAuthHttp, Error> {
        let mut builder = Session::builder()
            .no_retry()
            .cookies(false)
            .max_redirects(0)
            .https_only(true)
            .allow_insecure_http(self.allow_insecure_http)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout);
        if let Some(client) = self.client {
            builder = builder.client(client);
        }
        if let Some(identity) = self.identity {
            builder = builder.identity(identity);
        }
        for certificate in self.root_certificates {
            builder = builder.root_certificate(certificate);
        }
        let session = builder.build().map_err(|_| Error::Configuration {
            reason: "the HTTP client could not be initialised".into(),
        })?;
        Ok(OAuthHttp { session })
    }
}

/// Sends the requests the `oauth2` crate builds: only through
/// [`Authenticated`](crate::client_auth::Authenticated), which adds the
/// client's proof first, so no client-authenticated call can skip it.
impl OAuthHttp {
    /// Sends one request: a 5xx is an error (an outage, not an OAuth
    /// error: retryable), anything else the answer.
    pub(crate) async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(|_| {
            HttpError::Send(session_auth::Error::InvalidUrl {
                reason: "the OAuth request could not be built",
            })
        })?;
        let response = self
            .session
            .execute(request)
            .await
            .map_err(HttpError::Send)?;
        if response.status().is_server_error() {
            return Err(HttpError::ServerStatus(response.status().as_u16()));
        }
        let mut builder = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body = read_answer(response).await?;
        Ok(builder
            .body(body)
            .expect("status and headers came from a response"))
    }
}
