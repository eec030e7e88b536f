//! session-kit's authentication and retries as `reqwest_middleware`
//! middleware (feature `middleware`), for programs that already build a
//! `reqwest_middleware::ClientWithMiddleware` stack.
//!
//! Both are thin adapters over the same pipeline a
//! [`Session`](crate::Session) sends through: the same transport rule,
//! credential handling, 401 replay, retry schedule, replay rules and budget.
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

use std::future::Future;

use async_trait::async_trait;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use session_core::{Authenticate, SharedAuthenticator};
use session_retry::RetryPolicy;

use crate::error::Error;
use crate::pipeline::{Hop, Rules};

/// The rest of a middleware stack, as one hop of the pipeline. Each hop gets
/// its own copy of the extensions.
struct NextHop<'a> {
    next: Next<'a>,
    extensions: Extensions,
}

impl Hop for NextHop<'_> {
    fn send(&self, request: Request) -> impl Future<Output = crate::Result<Response>> + Send {
        let next = self.next.clone();
        let mut extensions = self.extensions.clone();
        async move {
            next.run(request, &mut extensions)
                .await
                .map_err(|error| match error {
                    reqwest_middleware::Error::Reqwest(e) => Error::transport(e),
                    reqwest_middleware::Error::Middleware(e) => Error::Middleware(e.into()),
                })
        }
    }
}

/// Runs the pipeline with `rules` over the rest of the stack.
async fn run(
    rules: &Rules,
    request: Request,
    extensions: &mut Extensions,
    next: Next<'_>,
) -> reqwest_middleware::Result<Response> {
    let hop = NextHop {
        next,
        extensions: extensions.clone(),
    };
    let (result, _) = rules.send(&hop, request).await;
    result.map_err(|error| match error {
        Error::Transport(e) => reqwest_middleware::Error::Reqwest(e.0),
        other => reqwest_middleware::Error::middleware(other),
    })
}

/// Authenticates each request with a strategy and replays once after a 401
/// when the strategy renewed its credentials.
///
/// The same transport rule as a [`Session`](crate::Session): credentials go
/// over https, or plain http to a loopback host; anything else fails with
/// [`Error::InsecureTransport`] before a connection is made, unless
/// [`allow_insecure_http`](Self::allow_insecure_http).
///
/// ```
/// let _ = session_auth::middleware::AuthMiddleware::new(session_auth::BasicAuth::new("u", "p"));
/// ```
#[derive(Debug, Clone)]
pub struct AuthMiddleware {
    rules: Rules,
}

impl AuthMiddleware {
    /// Middleware around `auth`.
    ///
    /// ```
    /// let _ = session_auth::middleware::AuthMiddleware::new(session_auth::BearerAuth::new("t"));
    /// ```
    pub fn new(auth: impl Authenticate + 'static) -> Self {
        Self {
            rules: Rules {
                auth: Some(SharedAuthenticator::new(auth)),
                ..Rules::default()
            },
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
        self.rules.allow_insecure_http = allow;
        self
    }
}

#[async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        run(&self.rules, req, extensions, next).await
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
    rules: Rules,
}

impl RetryMiddleware {
    /// Middleware retrying with `policy`.
    ///
    /// ```
    /// let _ = session_auth::middleware::RetryMiddleware::new(session_retry::RetryPolicy::default());
    /// ```
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            rules: Rules {
                retry: Some(policy),
                ..Rules::default()
            },
        }
    }
}

#[async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        run(&self.rules, req, extensions, next).await
    }
}
