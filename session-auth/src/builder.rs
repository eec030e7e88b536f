//! [`SessionBuilder`]: every setting of a [`Session`], checked at `build()`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use parking_lot::Mutex;
use session_core::{
    Authenticate, ExpiryPolicy, SharedAuthenticator, SharedClock, SharedSessionStore,
};
use session_retry::RetryPolicy;
use tokio::sync::OnceCell;
use url::Url;

use crate::bearer::BearerAuth;
use crate::error::{Error, Result};
use crate::live_jar::LiveJar;
use crate::pipeline::Rules;
use crate::session::{Activity, Inner, NO_CALL, Session};
use crate::state::SessionState;
use crate::striped::StripedCounter;
use crate::token_manager::TokenManager;
use crate::url::{check_transport, parse_base};
use crate::url_cache::UrlCache;

/// The default `User-Agent`.
const USER_AGENT: &str = concat!("session-kit/", env!("CARGO_PKG_VERSION"));

/// Builds a [`Session`]. Setters never fail; the first invalid setting is
/// reported by [`build`](Self::build).
///
/// # Defaults
///
/// No base URL, no authentication, the default retry policy (5 retries, factor
/// 2.0, forcelist 429/500/502/503/504), up to 10 redirects followed by the
/// session itself, a cookie jar per session, `User-Agent: session-kit/<version>`,
/// credentials refused over plain http except to loopback hosts.
///
/// ```
/// use std::time::Duration;
/// use session_auth::{ApiKeyAuth, Session};
///
/// let session = Session::builder()
///     .base_url("https://api.example.com/v1/")
///     .auth(ApiKeyAuth::header("X-Api-Key", "k-123"))
///     .header("Accept", "application/json")
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// # Ok::<(), session_auth::Error>(())
/// ```
#[must_use]
#[derive(Debug)]
pub struct SessionBuilder {
    base_url: Option<Url>,
    client: Option<reqwest::Client>,
    auth: Option<SharedAuthenticator>,
    tokens: Option<TokenManager>,
    retry: Option<RetryPolicy>,
    headers: HeaderMap,
    allow_insecure_http: bool,
    https_only: bool,
    max_redirects: usize,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    identity: Option<reqwest::Identity>,
    root_certificates: Vec<reqwest::Certificate>,
    user_agent: Option<String>,
    cookies: bool,
    store: Option<(SharedSessionStore, String)>,
    state: Option<SessionState>,
    clock: SharedClock,
    error: Option<Error>,
}

impl Default for SessionBuilder {
    fn default() -> Self {
        Self {
            base_url: None,
            client: None,
            auth: None,
            tokens: None,
            retry: Some(RetryPolicy::default()),
            headers: HeaderMap::new(),
            allow_insecure_http: false,
            https_only: false,
            max_redirects: 10,
            timeout: None,
            connect_timeout: None,
            read_timeout: None,
            identity: None,
            root_certificates: Vec::new(),
            user_agent: Some(USER_AGENT.to_owned()),
            cookies: true,
            store: None,
            state: None,
            clock: SharedClock::default(),
            error: None,
        }
    }
}

impl SessionBuilder {
    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    /// The URL that relative paths are joined onto. A missing trailing `/` is
    /// added, so `https://api.example.com/v2` + `customers` gives
    /// `https://api.example.com/v2/customers`. A URL holding a user name or
    /// password (`https://ada:pw@…`), here or as a request's target, is
    /// refused with [`Error::InvalidUrl`]: credentials come from the auth
    /// strategy, never from a URL.
    ///
    /// ```
    /// let s = session_auth::Session::builder().base_url("https://api.example.com/v2").build()?;
    /// assert_eq!(s.base_url().unwrap().path(), "/v2/");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        match parse_base(url.as_ref()) {
            Ok(url) => self.base_url = Some(url),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Uses your own reqwest client (proxies, TLS, pools): authentication and
    /// retries still apply.
    ///
    /// The session follows redirects itself only if the client doesn't: build
    /// the client with `reqwest::redirect::Policy::none()` so credentials,
    /// custom API-key headers included, never follow a redirect to another
    /// origin (reqwest's own redirect handling removes only `Authorization`
    /// and cookies). The session's cookie jar and `timeout` default are not
    /// installed into your client.
    ///
    /// ```
    /// let client = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()
    ///     .unwrap();
    /// let _ = session_auth::Session::builder().client(client).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// A TLS client certificate and key for every connection (mutual TLS):
    /// servers that authenticate clients by certificate, and
    /// certificate-bound tokens (RFC 8705). Not installed into a client
    /// given with [`client`](Self::client).
    ///
    /// ```no_run
    /// let pem = std::fs::read("client.pem")?; // certificate chain and private key
    /// let _ = session_auth::Session::builder()
    ///     .identity(reqwest::Identity::from_pem(&pem)?)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn identity(mut self, identity: reqwest::Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Trusts `certificate` as a root, besides the system's (a private CA).
    /// Not installed into a client given with [`client`](Self::client).
    ///
    /// ```no_run
    /// let pem = std::fs::read("internal-ca.pem")?;
    /// let _ = session_auth::Session::builder()
    ///     .root_certificate(reqwest::Certificate::from_pem(&pem)?)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// Authenticates every request with `auth` (any [`Authenticate`]).
    ///
    /// ```
    /// let _ = session_auth::Session::builder().auth(session_auth::BasicAuth::new("u", "p")).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    ///
    /// A strategy is only an authenticator to the session: to have the
    /// session refresh, persist and sign out tokens, give it the
    /// [`TokenManager`] with [`tokens`](Self::tokens).
    pub fn auth(mut self, auth: impl Authenticate + 'static) -> Self {
        self.tokens = None;
        self.auth = Some(SharedAuthenticator::new(auth));
        self
    }

    /// Authenticates with bearer tokens from `tokens`, which the session
    /// refreshes and (with [`store`](Self::store)) persists.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let tokens = session_auth::TokenManager::builder(Login).build();
    /// let session = session_auth::Session::builder().tokens(tokens).build()?;
    /// assert!(session.tokens().is_some());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn tokens(mut self, tokens: TokenManager) -> Self {
        self.auth = Some(SharedAuthenticator::new(BearerAuth::from_manager(
            tokens.clone(),
        )));
        self.tokens = Some(tokens);
        self
    }

    /// The retry policy (default: [`RetryPolicy::default`]).
    ///
    /// ```
    /// let retry = session_retry::RetryPolicy::builder().retries(3).backoff_factor(1.0).build().unwrap();
    /// let _ = session_auth::Session::builder().retry(retry).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Sends every request once.
    ///
    /// ```
    /// let _ = session_auth::Session::builder().no_retry().build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn no_retry(mut self) -> Self {
        self.retry = None;
        self
    }

    /// A header sent with every request (unless the request sets it). Mark a
    /// credential-carrying value sensitive (or use a strategy) so it is
    /// never sent to another origin after a redirect.
    ///
    /// ```
    /// let _ = session_auth::Session::builder().header("X-Client", "reports/1.2").build()?;
    /// assert!(session_auth::Session::builder().header("Bad Name", "v").build().is_err());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name = HeaderName::from_bytes(name.as_ref().as_bytes());
        let value = HeaderValue::from_str(value.as_ref());
        match (name, value) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            _ => self.fail(Error::InvalidSetting {
                setting: "header",
                reason: "the name or value is not valid in an HTTP header",
            }),
        }
        self
    }

    /// Headers sent with every request (unless the request sets them).
    ///
    /// ```
    /// let _ = session_auth::Session::builder().headers(http::HeaderMap::new()).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers.extend(headers);
        self
    }

    /// Allows credentials over plain `http://` to any host (default: only to
    /// loopback hosts). For test environments behind a trusted network.
    ///
    /// ```
    /// let _ = session_auth::Session::builder()
    ///     .base_url("http://internal.example/")
    ///     .auth(session_auth::BearerAuth::new("t"))
    ///     .allow_insecure_http(true)
    ///     .build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Holds every request to the credential transport rule, not only the
    /// ones a strategy authenticates: for clients whose bodies carry secrets
    /// (token endpoints) or whose answers must not be tampered with
    /// (discovery documents, key sets). Plain http then works only to
    /// loopback hosts, or anywhere with
    /// [`allow_insecure_http`](Self::allow_insecure_http).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let session = session_auth::Session::builder().https_only(true).build()?;
    /// let err = session.get("http://id.example.com/token").send().await.unwrap_err();
    /// assert!(matches!(err, session_auth::Error::InsecureTransport { .. }));
    /// # Ok::<(), session_auth::Error>(()) }).unwrap();
    /// ```
    pub fn https_only(mut self, enabled: bool) -> Self {
        self.https_only = enabled;
        self
    }

    /// How many redirects to follow (default 10; 0 returns 3xx responses).
    ///
    /// ```
    /// let _ = session_auth::Session::builder().max_redirects(0).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn max_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// A timeout for each attempt (default none).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let _ = session_auth::Session::builder().timeout(Duration::from_secs(30)).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long connecting may take (default: no limit). Only with the
    /// session's own client.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let _ = session_auth::Session::builder().connect_timeout(Duration::from_secs(10)).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long a read from the connection may take (default: no limit).
    /// Only with the session's own client.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let _ = session_auth::Session::builder().read_timeout(Duration::from_secs(30)).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// The `User-Agent` header (default `session-kit/<version>`).
    ///
    /// ```
    /// let _ = session_auth::Session::builder().user_agent("reports/1.2").build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// Whether the session keeps its own cookie jar (default yes; only with
    /// the session's own client). The jar keeps what servers set within
    /// [`CookieJar`](session_core::CookieJar)'s limits (4 096 bytes a
    /// cookie, 50 a domain, 3 000 in all), so no server can grow a session
    /// without bound.
    ///
    /// ```
    /// let s = session_auth::Session::builder().cookies(false).build()?;
    /// assert!(s.cookie_jar().is_none());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn cookies(mut self, enabled: bool) -> Self {
        self.cookies = enabled;
        self
    }

    /// Persists the session (tokens, cookies, metadata) under `key` in
    /// `store`, and restores it on first use: stored tokens that are still
    /// valid are used without signing in.
    ///
    /// ```
    /// use session_core::{MemoryStore, SharedSessionStore};
    /// let store = SharedSessionStore::new(MemoryStore::new());
    /// let _ = session_auth::Session::builder().store(store, "default").build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn store(mut self, store: SharedSessionStore, key: impl Into<String>) -> Self {
        self.store = Some((store, key.into()));
        self
    }

    /// Keeps the session's data in `state` — shared with whatever else uses
    /// it (a registry, or your own code through [`SessionState`]'s methods). Takes the
    /// place of [`store`](Self::store).
    ///
    /// ```
    /// use session_core::{MemoryStore, SharedSessionStore};
    /// let state = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k").build();
    /// let session = session_auth::Session::builder().state(state.clone()).build()?;
    /// assert_eq!(session.state().key(), Some("k"));
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn state(mut self, state: SessionState) -> Self {
        self.state = Some(state);
        self
    }

    /// The clock for metadata and expiry (default: the system clock).
    ///
    /// ```
    /// let _ = session_auth::Session::builder().clock(session_core::SharedClock::default()).build()?;
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the session.
    ///
    /// # Errors
    ///
    /// The first invalid setting; [`Error::UnusableCredential`] for an unusable
    /// credential (empty token, key or username, or a value a header can't
    /// carry); [`Error::InsecureTransport`] for an `http://` base URL to a
    /// non-loopback host when credentials are configured.
    ///
    /// ```
    /// use session_auth::{BearerAuth, Error, Session};
    /// let err = Session::builder()
    ///     .base_url("http://api.example.com/")
    ///     .auth(BearerAuth::new("t"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::InsecureTransport { .. }));
    /// ```
    pub fn build(self) -> Result<Session> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if let Some(auth) = &self.auth {
            auth.check().map_err(Error::UnusableCredential)?;
        }
        if (self.auth.is_some() || self.https_only)
            && let Some(base) = &self.base_url
        {
            check_transport(base, self.allow_insecure_http)?;
        }
        let mut headers = self.headers;
        if let Some(agent) = &self.user_agent
            && !headers.contains_key(http::header::USER_AGENT)
        {
            let value = HeaderValue::from_str(agent).map_err(|_| Error::InvalidSetting {
                setting: "user_agent",
                reason: "the value is not valid in an HTTP header",
            })?;
            headers.insert(http::header::USER_AGENT, value);
        }
        let (client, jar) = match self.client {
            Some(client) => (client, None),
            None => {
                let mut builder =
                    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
                let jar = self.cookies.then(|| Arc::new(LiveJar::default()));
                if let Some(jar) = &jar {
                    builder = builder.cookie_provider(jar.clone());
                }
                if let Some(timeout) = self.connect_timeout {
                    builder = builder.connect_timeout(timeout);
                }
                if let Some(timeout) = self.read_timeout {
                    builder = builder.read_timeout(timeout);
                }
                if let Some(identity) = self.identity {
                    builder = builder.identity(identity);
                }
                for certificate in self.root_certificates {
                    builder = builder.add_root_certificate(certificate);
                }
                let client = builder.build().map_err(|_| Error::InvalidSetting {
                    setting: "client",
                    reason: "the HTTP client could not be initialised (TLS setup failed)",
                })?;
                (client, jar)
            }
        };
        let conflict = Error::InvalidSetting {
            setting: "store",
            reason: "the token manager already keeps its tokens in another session state; give the session that one",
        };
        // One owner: the token manager and the session share one state.
        let state = match (&self.tokens, self.state, self.store) {
            (Some(tokens), Some(state), _) => {
                if !tokens.attach_state(&state) {
                    return Err(conflict);
                }
                state
            }
            (Some(tokens), None, Some((store, key))) => match tokens.existing_state() {
                Some(own) if own.is_stored_at(&store, &key) => own.clone(),
                Some(_) => return Err(conflict),
                None => {
                    let state = SessionState::builder(store, key)
                        .clock(self.clock.clone())
                        .build();
                    tokens.attach_state(&state);
                    state
                }
            },
            (Some(tokens), None, None) => tokens.state().clone(),
            (None, Some(state), _) => state,
            (None, None, Some((store, key))) => SessionState::builder(store, key)
                .clock(self.clock.clone())
                .build(),
            (None, None, None) => SessionState::memory(self.clock.clone(), ExpiryPolicy::default()),
        };
        let created_at = self.clock.now();
        Ok(Session {
            inner: Arc::new(Inner {
                client,
                base_url: self.base_url,
                urls: UrlCache::new(),
                rules: Rules {
                    auth: self.auth,
                    retry: self.retry,
                    headers,
                    allow_insecure_http: self.allow_insecure_http,
                    https_only: self.https_only,
                    max_redirects: self.max_redirects,
                },
                tokens: self.tokens,
                timeout: self.timeout,
                clock: self.clock,
                jar,
                state,
                user_agent: self.user_agent,
                closed: AtomicBool::new(false),
                signed_out: AtomicBool::new(false),
                restored: OnceCell::new(),
                requests: StripedCounter::new(),
                retries: AtomicU64::new(0),
                last_call: AtomicI64::new(NO_CALL),
                server_hash: AtomicU64::new(0),
                activity: Mutex::new(Activity {
                    created_at,
                    current_api_server: None,
                }),
            }),
        })
    }
}
