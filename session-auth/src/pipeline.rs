//! The one request pipeline: sending one logical request. Every sender in
//! session-kit goes through [`Rules::send`] — the [`Session`](crate::Session),
//! the reqwest-middleware adapters and the OAuth client's own calls — so
//! each rule is kept in one place:
//!
//! - the transport rule (credentials over https or to loopback only, every
//!   request with `https_only`), checked on every hop;
//! - credentials added per hop, and only on hops to the original origin;
//!   everything credential-like stripped before a hop to another origin;
//! - retries with the budget, deadline, replay and idempotency rules (one
//!   loop, `session_retry::reqwest::send_with`);
//! - one replay after a 401, only when our credentials were sent and the
//!   strategy renewed them.
//!
//! What sends a hop is a [`Hop`]: a reqwest client, or the rest of a
//! middleware stack.
//!
//! The shape keeps the common request cheap. The request is boxed once and
//! kept as the source when it may be sent again (each attempt sends a copy);
//! otherwise it is sent as it is. An attempt's future holds only the hop in
//! flight ([`HopFuture`]): credentials at hand are added before it is made,
//! and waiting for a token is boxed. Redirect and replay state is built, and
//! boxed, only when a 3xx or a 401 arrives. A whole request fits in one
//! allocation of under a kilobyte.

use std::future::Future;

use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION,
    TRANSFER_ENCODING,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use reqwest::{Request, Response, Url};
use session_core::{AuthRequest, Authenticate, Rejection, Replay, SharedAuthenticator};
use session_retry::reqwest::Prepared;
use session_retry::{Classify, HttpAttempt, RetryPolicy, RetryReason, Verdict};

use crate::error::{Error, Result};
use crate::url::check_transport;

/// Sends one hop of a request.
pub(crate) trait Hop: Sync {
    /// Sends `request` as it is.
    fn send(&self, request: Request) -> impl Future<Output = Result<Response>> + Send;
}

impl Hop for reqwest::Client {
    fn send(&self, request: Request) -> impl Future<Output = Result<Response>> + Send {
        Transport {
            sending: self.execute(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// reqwest's send, its error in this crate's type.
    struct Transport<F> {
        #[pin]
        sending: F,
    }
}

impl<F: Future<Output = reqwest::Result<Response>>> Future for Transport<F> {
    type Output = Result<Response>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<Response>> {
        self.project()
            .sending
            .poll(cx)
            .map(|result| result.map_err(Error::transport))
    }
}

/// What the pipeline enforces for one sender.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    /// Adds credentials to each hop to the original origin.
    pub(crate) auth: Option<SharedAuthenticator>,
    /// Retries; `None` sends once.
    pub(crate) retry: Option<RetryPolicy>,
    /// Headers added to every hop that doesn't set them.
    pub(crate) headers: HeaderMap,
    /// The explicit opt-out of the transport rule.
    pub(crate) allow_insecure_http: bool,
    /// The transport rule for every request, not only authenticated ones.
    pub(crate) https_only: bool,
    /// Redirects followed by the pipeline itself (0: 3xx is the answer).
    pub(crate) max_redirects: usize,
}

/// Classifies attempt results for the retry engine: the policy's HTTP
/// rules, over this crate's error type.
struct Classifier<'a>(Option<&'a RetryPolicy>);

impl Classify<Response, Error> for Classifier<'_> {
    fn classify(&self, result: &Result<Response>) -> Verdict {
        let Some(policy) = self.0 else {
            return match result {
                Ok(_) => Verdict::Success,
                Err(_) => Verdict::Fatal,
            };
        };
        match result {
            Ok(response) => policy.classify_http(&HttpAttempt::Response {
                status: response.status(),
                headers: response.headers(),
            }),
            Err(Error::Transport(error)) => policy.classify_http(&HttpAttempt::Error {
                kind: error.kind(),
                error: &error.0,
            }),
            // A token endpoint that is down: nothing was sent yet.
            Err(error) if error.is_retryable() => Verdict::Retry {
                reason: RetryReason::Custom("credentials unavailable"),
                may_have_reached_server: false,
                retry_after: None,
            },
            Err(_) => Verdict::Fatal,
        }
    }
}

impl Rules {
    /// Sends one logical request through `hop`: the result and how many
    /// attempts it took.
    ///
    /// Not an `async fn`, nor are the steps under it: their arguments would
    /// be stored twice in the future, and a request is large. The request
    /// is prepared (and copied, when it may be sent again) right here.
    pub(crate) fn send<'a, H: Hop>(
        &'a self,
        hop: &'a H,
        request: impl Into<Box<Request>>,
    ) -> impl Future<Output = (Result<Response>, u32)> + Send + 'a {
        // A copy is kept only when an attempt may have to resend.
        let keep_copy = self.auth.is_some() || self.max_redirects > 0;
        let mut prepared = Prepared::new(self.retry.as_ref(), request, keep_copy);
        async move {
            let classify = Classifier(self.retry.as_ref());
            let outcome =
                session_retry::reqwest::send_with(&mut prepared, &classify, |request, source| {
                    self.attempt(hop, request, source)
                })
                .await;
            (outcome.result, outcome.attempts)
        }
    }

    /// Adds the static headers a request doesn't set itself.
    fn add_static_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            if let http::header::Entry::Vacant(slot) = headers.entry(name) {
                slot.insert(value.clone());
            }
        }
    }

    /// One attempt: its first hop and — only when the answer asks for it —
    /// the follow-up (redirects, the one replay after a 401), built then
    /// and boxed. The common attempt's future holds just the hop in flight.
    fn attempt<'a, H: Hop>(
        &'a self,
        hop: &'a H,
        mut request: Request,
        template: Option<&'a Request>,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        self.add_static_headers(request.headers_mut());
        let first = self.hop(hop, request, template, 0);
        async move {
            // The answer is looked at in a scope of its own, so the future
            // keeps no room for it while a follow-up runs.
            let follow_up = match (first.await?, template) {
                ((response, sent), Some(template))
                    if self.needs_follow_up(&response, sent.as_ref()) =>
                {
                    Box::pin(self.follow_up(hop, template, response, sent))
                }
                ((response, _), _) => return Ok(response),
            };
            follow_up.await
        }
    }

    /// Whether an answer needs more than itself: a redirect to follow, or a
    /// 401 to credentials of ours. (A 401 from an origin our credentials
    /// never went to says nothing about them.)
    fn needs_follow_up(&self, response: &Response, sent: Option<&SentCredentials>) -> bool {
        let status = response.status();
        if is_redirect(status) {
            return self.max_redirects > 0;
        }
        status == StatusCode::UNAUTHORIZED && self.auth.is_some() && sent.is_some()
    }

    /// One hop: the transport rule and credentials — added only on hops to
    /// the template's origin (the first hop goes where the request was
    /// addressed) — then the send. Credentials at hand are added right
    /// away, so the hop's future holds only the send in flight; waiting for
    /// them (a token being fetched) is boxed.
    fn hop<'a, H: Hop>(
        &'a self,
        hop: &'a H,
        mut request: Request,
        template: Option<&'a Request>,
        hops: usize,
    ) -> HopFuture<impl Future<Output = Result<Response>> + Send + 'a, BoxedHop<'a>> {
        let credentials_go_here = self.auth.is_some()
            && (hops == 0 || template.is_none_or(|t| same_origin(t.url(), request.url())));
        let checked = if credentials_go_here || self.https_only {
            check_transport(request.url(), self.allow_insecure_http)
        } else {
            Ok(())
        };
        match (checked, self.auth.as_ref().filter(|_| credentials_go_here)) {
            (Err(error), _) => HopFuture::refused(error),
            (Ok(()), None) => HopFuture::sending(hop.send(request), None),
            (Ok(()), Some(auth)) => match authenticate_now(auth, &mut request) {
                Some(Ok(())) => {
                    let sent = SentCredentials::capture(request.headers());
                    HopFuture::sending(hop.send(request), Some(sent))
                }
                Some(Err(error)) => HopFuture::refused(Error::from_core(error)),
                None => HopFuture::Waiting {
                    waiting: Box::pin(async move {
                        authenticate_waiting(auth, &mut request)
                            .await
                            .map_err(Error::from_core)?;
                        let sent = SentCredentials::capture(request.headers());
                        Ok((hop.send(request).await?, Some(sent)))
                    }),
                },
            },
        }
    }

    /// What follows an answer that asks for it: redirects (each hop built
    /// from the template), and one replay after a 401 if the strategy
    /// renewed the credentials.
    async fn follow_up<H: Hop>(
        &self,
        hop: &H,
        template: &Request,
        mut response: Response,
        mut sent: Option<SentCredentials>,
    ) -> Result<Response> {
        let mut method = template.method().clone();
        let mut hops = 0;
        let mut replayed = false;
        loop {
            let status = response.status();
            if self.max_redirects > 0
                && is_redirect(status)
                && let Some(next) = self.redirect(template, &response, &method, hops)?
            {
                hops += 1;
                method = next.method().clone();
                (response, sent) = self.hop(hop, next, Some(template), hops).await?;
                continue;
            }
            if status != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            let (Some(auth), Some(credentials)) = (&self.auth, &sent) else {
                return Ok(response);
            };
            let credentials = credentials.to_headers();
            let rejection = Rejection::new(
                template.method(),
                response.url(),
                &credentials,
                StatusCode::UNAUTHORIZED,
                response.headers(),
            );
            if replayed {
                // The renewed credentials were refused as well: say so, so
                // they are renewed again for the requests that follow.
                auth.on_replay_rejected(rejection);
                return Ok(response);
            }
            if auth
                .on_unauthorized(rejection)
                .await
                .map_err(Error::from_core)?
                != Replay::Yes
            {
                return Ok(response);
            }
            replayed = true;
            hops = 0;
            let mut again = template
                .try_clone()
                .expect("a request that cloned once clones again");
            self.add_static_headers(again.headers_mut());
            method = again.method().clone();
            (response, sent) = self.hop(hop, again, Some(template), 0).await?;
        }
    }

    /// The next hop of a redirect to the response's `Location`, built from
    /// the template; `None` when there is nowhere (else) to go and the
    /// redirect is the answer.
    fn redirect(
        &self,
        template: &Request,
        response: &Response,
        method: &Method,
        hops: usize,
    ) -> Result<Option<Request>> {
        let Some(location) = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| response.url().join(l).ok())
        else {
            return Ok(None);
        };
        if !matches!(location.scheme(), "http" | "https") {
            return Ok(None);
        }
        if hops >= self.max_redirects {
            return Err(Error::TooManyRedirects {
                limit: self.max_redirects,
            });
        }
        let Some(mut next) = template.try_clone() else {
            return Ok(None);
        };
        self.add_static_headers(next.headers_mut());
        *next.url_mut() = location;
        let status = response.status();
        if status == StatusCode::SEE_OTHER
            || (matches!(status.as_u16(), 301 | 302) && method == Method::POST)
        {
            *next.method_mut() = Method::GET;
            *next.body_mut() = None;
            for name in [CONTENT_TYPE, CONTENT_LENGTH, TRANSFER_ENCODING] {
                next.headers_mut().remove(name);
            }
        }
        if !same_origin(template.url(), next.url()) {
            strip_credentials(next.headers_mut());
        }
        Ok(Some(next))
    }
}

/// What a hop answers: the response, and the credentials it carried when
/// they were ours.
type HopOutput = Result<(Response, Option<SentCredentials>)>;

/// A hop that had to wait for credentials: boxed, as it is rare.
type BoxedHop<'a> = std::pin::Pin<Box<dyn Future<Output = HopOutput> + Send + 'a>>;

pin_project_lite::pin_project! {
    /// One hop in flight: sending already (credentials at hand, or none to
    /// add), waiting for credentials, or refused before anything was sent.
    /// Written out rather than as an `async` block, which would keep what
    /// it holds twice.
    #[project = HopProjection]
    pub(crate) enum HopFuture<S, W> {
        Sending { #[pin] send: S, sent: Option<SentCredentials> },
        Waiting { waiting: W },
        Refused { error: Option<Error> },
    }
}

impl<S, W> HopFuture<S, W> {
    fn sending(send: S, sent: Option<SentCredentials>) -> Self {
        Self::Sending { send, sent }
    }

    fn refused(error: Error) -> Self {
        Self::Refused { error: Some(error) }
    }
}

impl<S, W> Future for HopFuture<S, W>
where
    S: Future<Output = Result<Response>>,
    W: Future<Output = HopOutput> + Unpin,
{
    type Output = HopOutput;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<HopOutput> {
        use std::task::Poll;
        match self.project() {
            HopProjection::Sending { send, sent } => match send.poll(cx) {
                Poll::Ready(Ok(response)) => Poll::Ready(Ok((response, sent.take()))),
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
            HopProjection::Waiting { waiting } => std::pin::Pin::new(waiting).poll(cx),
            HopProjection::Refused { error } => Poll::Ready(Err(error
                .take()
                .expect("a hop is not polled after it finished"))),
        }
    }
}

/// Borrows a request's method, URL and headers together for `auth` (moving
/// the headers out and back).
fn with_auth_request<R>(request: &mut Request, f: impl FnOnce(&mut AuthRequest<'_>) -> R) -> R {
    let method = request.method().clone();
    let mut headers = std::mem::take(request.headers_mut());
    let outcome = f(&mut AuthRequest::new(
        &method,
        request.url_mut(),
        &mut headers,
    ));
    *request.headers_mut() = headers;
    outcome
}

/// The credentials at hand, if `auth` has them without waiting.
fn authenticate_now(
    auth: &SharedAuthenticator,
    request: &mut Request,
) -> Option<session_core::Result<()>> {
    with_auth_request(request, |r| auth.authenticate_now(r))
}

/// Runs `auth` on a request whose credentials are not at hand (a token is
/// being fetched) — for no longer than the request's own timeout, so a
/// token endpoint that never answers can't hold the request past it.
async fn authenticate_waiting(
    auth: &SharedAuthenticator,
    request: &mut Request,
) -> session_core::Result<()> {
    let method = request.method().clone();
    let limit = request.timeout().copied();
    let mut headers = std::mem::take(request.headers_mut());
    let mut auth_request = AuthRequest::new(&method, request.url_mut(), &mut headers);
    let outcome = match limit {
        Some(limit) => tokio::time::timeout(limit, auth.authenticate(&mut auth_request))
            .await
            .unwrap_or(Err(session_core::Error::Timeout {
                waiting_for: "credentials",
            })),
        None => auth.authenticate(&mut auth_request).await,
    };
    *request.headers_mut() = headers;
    outcome
}

/// Whether a status is a redirect the pipeline follows.
fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Whether two URLs share scheme, host and port (their origin), compared
/// without building `Origin` values.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The credential headers (those marked sensitive) one hop carried, kept
/// for the strategy to see if the answer is 401. One header, the usual case,
/// is kept without allocating.
pub(crate) enum SentCredentials {
    None,
    One(HeaderName, HeaderValue),
    Many(HeaderMap),
}

impl SentCredentials {
    fn capture(headers: &HeaderMap) -> Self {
        let mut sent = Self::None;
        for (name, value) in headers.iter().filter(|(_, v)| v.is_sensitive()) {
            sent = match sent {
                Self::None => Self::One(name.clone(), value.clone()),
                Self::One(first, first_value) => {
                    let mut map = HeaderMap::new();
                    map.append(first, first_value);
                    map.append(name.clone(), value.clone());
                    Self::Many(map)
                }
                Self::Many(mut map) => {
                    map.append(name.clone(), value.clone());
                    Self::Many(map)
                }
            };
        }
        sent
    }

    fn to_headers(&self) -> HeaderMap {
        match self {
            Self::None => HeaderMap::new(),
            Self::One(name, value) => {
                let mut map = HeaderMap::new();
                map.insert(name.clone(), value.clone());
                map
            }
            Self::Many(map) => map.clone(),
        }
    }
}

/// Removes everything credential-like before a hop to another origin.
fn strip_credentials(headers: &mut HeaderMap) {
    for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
        headers.remove(name);
    }
    let sensitive: Vec<_> = headers
        .iter()
        .filter(|(_, v)| v.is_sensitive())
        .map(|(k, _)| k.clone())
        .collect();
    for name in sensitive {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn same_origin_means_scheme_host_and_port() {
        let base = url("https://api.example.com/v1/items");
        assert!(same_origin(
            &base,
            &url("https://api.example.com:443/other?q=1")
        ));
        assert!(!same_origin(&base, &url("http://api.example.com/v1/items")));
        assert!(!same_origin(&base, &url("https://api.example.com:8443/v1")));
        assert!(!same_origin(
            &base,
            &url("https://evil.example.com/v1/items")
        ));
        assert!(same_origin(
            &url("http://127.0.0.1:8080/"),
            &url("http://127.0.0.1:8080/x")
        ));
    }

    #[test]
    fn only_sensitive_headers_are_kept_for_a_401() {
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let mut bearer = HeaderValue::from_static("Bearer a");
        bearer.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, bearer.clone());
        let sent = SentCredentials::capture(&headers);
        assert!(matches!(sent, SentCredentials::One(..)));
        let map = sent.to_headers();
        assert_eq!(map.len(), 1);
        assert_eq!(map.get(http::header::AUTHORIZATION), Some(&bearer));

        let mut key = HeaderValue::from_static("k");
        key.set_sensitive(true);
        headers.insert("x-api-key", key);
        assert_eq!(SentCredentials::capture(&headers).to_headers().len(), 2);
        assert!(
            SentCredentials::capture(&HeaderMap::new())
                .to_headers()
                .is_empty()
        );
    }
}
