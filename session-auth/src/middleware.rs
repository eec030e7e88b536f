//! session-kit's authentication and retries as `reqwest_middleware`
//! middleware (feature `middleware`), for programs that already build a
//! `reqwest_middleware::ClientWithMiddleware` stack.
//!
//! ```
//! use session_auth::BearerAuth;
//! use session_auth::middleware::{AuthMiddleware, RetryMiddleware};
//! use session_retry::RetryPolicy;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryMiddleware::new(RetryPolicy::default()))
//!     .with(AuthMiddleware::new(BearerAuth::new("token")))
//!     .build();
//! # let _ = client;
//! ```
//!
//! Put `RetryMiddleware` first (outermost) so each retry is authenticated
//! afresh. Redirects are followed by the inner reqwest client; build it with
//! `redirect::Policy::none()` if custom credential headers must never follow
//! a redirect.

use async_trait::async_trait;
use http::{Extensions, StatusCode};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use session_core::{Authenticate, Rejection, Replay, SharedAuthenticator};
use session_retry::{Classify, HttpAttempt, RetryPolicy, RetryScope, Verdict, retry_with};

/// Authenticates each request with a strategy and replays once after a 401
/// when the strategy renewed its credentials.
///
/// The same transport rule as a [`Session`](crate::Session): credentials go
/// over https, or plain http to a loopback host; anything else fails with
/// [`Error::InsecureTransport`](crate::Error::InsecureTransport) before a
/// connection is made, unless [`allow_insecure_http`](Self::allow_insecure_http).
///
/// ```
/// let _ = session_auth::middleware::AuthMiddleware::new(session_auth::BasicAuth::new("u", "p"));
/// ```
#[derive(Debug, Clone)]
pub struct AuthMiddleware {
    auth: SharedAuthenticator,
    allow_insecure_http: bool,
}

impl AuthMiddleware {
    /// Middleware around `auth`.
    ///
    /// ```
    /// let _ = session_auth::middleware::AuthMiddleware::new(session_auth::BearerAuth::new("t"));
    /// ```
    pub fn new(auth: impl Authenticate + 'static) -> Self {
        Self {
            auth: SharedAuthenticator::new(auth),
            allow_insecure_http: false,
        }
    }

    /// Allows credentials over plain `http://` to any host (default: only
    /// to loopback hosts). For test environments behind a trusted network.
    ///
    /// ```
    /// let _ = session_auth::middleware::AuthMiddleware::new(session_auth::BearerAuth::new("t"))
    ///     .allow_insecure_http(true);
    /// ```
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    async fn authenticate(&self, request: &mut Request) -> reqwest_middleware::Result<()> {
        let middleware_error =
            |e| reqwest_middleware::Error::middleware(crate::Error::from_core(e));
        session_core::check_transport(request.url(), self.allow_insecure_http)
            .map_err(middleware_error)?;
        crate::transport::authenticate(&self.auth, request)
            .await
            .map_err(middleware_error)
    }
}

#[async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let template = req.try_clone();
        self.authenticate(&mut req).await?;
        let sent = req.headers().clone();
        let method = req.method().clone();
        let response = next.clone().run(req, extensions).await?;
        let Some(mut replay) = template else {
            return Ok(response);
        };
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let rejection = Rejection::new(
            &method,
            response.url(),
            &sent,
            StatusCode::UNAUTHORIZED,
            response.headers(),
        );
        let decision = self
            .auth
            .on_unauthorized(rejection)
            .await
            .map_err(|e| reqwest_middleware::Error::middleware(crate::Error::from_core(e)))?;
        if decision != Replay::Yes {
            return Ok(response);
        }
        self.authenticate(&mut replay).await?;
        next.run(replay, extensions).await
    }
}

/// Retries with a [`RetryPolicy`]: the same schedule, Retry-After handling,
/// replay rules and budget as a [`Session`](crate::Session).
///
/// ```
/// let _ = session_auth::middleware::RetryMiddleware::new(session_retry::RetryPolicy::default());
/// ```
#[derive(Debug, Clone)]
pub struct RetryMiddleware {
    policy: RetryPolicy,
}

impl RetryMiddleware {
    /// Middleware retrying with `policy`.
    ///
    /// ```
    /// let _ = session_auth::middleware::RetryMiddleware::new(session_retry::RetryPolicy::default());
    /// ```
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy }
    }
}

struct MiddlewareClassifier<'a>(&'a RetryPolicy);

impl Classify<Response, reqwest_middleware::Error> for MiddlewareClassifier<'_> {
    fn classify(&self, result: &reqwest_middleware::Result<Response>) -> Verdict {
        match result {
            Ok(response) => self.0.classify_http(&HttpAttempt::Response {
                status: response.status(),
                headers: response.headers(),
            }),
            Err(reqwest_middleware::Error::Reqwest(error)) => {
                self.0.classify_http(&HttpAttempt::Error {
                    kind: session_retry::reqwest::error_kind(error),
                    error,
                })
            }
            Err(_) => Verdict::Fatal,
        }
    }
}

#[async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let method = req.method().clone();
        session_retry::reqwest::ensure_idempotency_key(&self.policy, &method, req.headers_mut());
        let Some(template) = req.try_clone() else {
            return next.run(req, extensions).await;
        };
        let replayable = self.policy.is_replayable(&method, template.headers());
        let partition = session_retry::reqwest::partition(template.url());
        let scope = RetryScope::new(partition).replayable(replayable);
        let mut first = Some(req);
        // Each attempt gets its own copy of the extensions.
        let base_extensions = extensions.clone();
        retry_with(
            &self.policy,
            scope,
            &MiddlewareClassifier(&self.policy),
            |_| {
                let request = first.take().unwrap_or_else(|| {
                    template
                        .try_clone()
                        .expect("a request that cloned once clones again")
                });
                let next = next.clone();
                let mut extensions = base_extensions.clone();
                async move { next.run(request, &mut extensions).await }
            },
        )
        .await
        .result
    }
}
