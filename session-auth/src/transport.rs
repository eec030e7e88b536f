//! Sending one logical request: retries around attempts; each attempt
//! authenticates, follows redirects (credentials only to the original
//! origin), and replays once after a 401 when the strategy renewed them.

use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION,
    TRANSFER_ENCODING,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use reqwest::{Request, Response, Url};
use session_core::{AuthRequest, Authenticate, Rejection, Replay, SharedAuthenticator};
use session_retry::{
    Classify, HttpAttempt, RetryPolicy, RetryReason, RetryScope, Verdict, retry_with,
};
use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::session::Session;
use crate::url::check_transport;

/// Classifies attempt results for the retry engine.
struct SessionClassifier<'a>(&'a RetryPolicy);

impl Classify<Response, Error> for SessionClassifier<'_> {
    fn classify(&self, result: &Result<Response>) -> Verdict {
        match result {
            Ok(response) => self.0.classify_http(&HttpAttempt::Response {
                status: response.status(),
                headers: response.headers(),
            }),
            Err(Error::Transport(error)) => self.0.classify_http(&HttpAttempt::Error {
                kind: session_retry::reqwest::error_kind(error),
                error,
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

impl Session {
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
    /// let request = session.client().get("https://api.example.com/health").build().map_err(session_auth::Error::Transport)?;
    /// let response = session.execute(request).await?;
    /// # let _ = response; Ok(()) }
    /// ```
    pub async fn execute(&self, request: Request) -> Result<Response> {
        // The work below is a large future (retries, redirects, replays):
        // boxed once here, it isn't copied at every level that awaits it.
        Box::pin(self.execute_inner(request)).await
    }

    async fn execute_inner(&self, mut request: Request) -> Result<Response> {
        let inner = &self.inner;
        if inner.is_closed() {
            return Err(Error::SessionClosed);
        }
        if inner.signed_out.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::SignedOut);
        }
        self.ensure_restored().await?;
        // reqwest keeps the timeout in the request's extensions: only touch
        // them when there is a timeout to set.
        if let Some(timeout) = inner.timeout
            && request.timeout().is_none()
        {
            *request.timeout_mut() = Some(timeout);
        }
        if let Some(policy) = &inner.retry {
            let method = request.method().clone();
            session_retry::reqwest::ensure_idempotency_key(policy, &method, request.headers_mut());
        }
        let span = tracing::info_span!(
            target: "session_auth",
            "session.request",
            method = %request.method(),
            host = request.url().host_str().unwrap_or_default(),
            path = request.url().path(),
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        inner.note_call(request.url().host_str());
        async move {
            let (result, attempts) = match (&inner.retry, request.try_clone()) {
                (Some(policy), Some(template)) => {
                    let replayable = policy.is_replayable(template.method(), template.headers());
                    let partition = session_retry::reqwest::partition(template.url());
                    let scope = RetryScope::new(partition).replayable(replayable);
                    let mut first = Some(request);
                    let outcome = retry_with(policy, scope, &SessionClassifier(policy), |_| {
                        let request = first.take().unwrap_or_else(|| {
                            template
                                .try_clone()
                                .expect("a request that cloned once clones again")
                        });
                        self.attempt(request, Some(&template))
                    })
                    .await;
                    (outcome.result, outcome.attempts)
                }
                (_, template) => (self.attempt(request, template.as_ref()).await, 1),
            };
            let span = tracing::Span::current();
            span.record("attempts", attempts);
            if let Ok(response) = &result {
                span.record("status", response.status().as_u16());
            }
            inner.record_call(attempts);
            result
        }
        .instrument(span)
        .await
    }

    /// One attempt: send (following redirects), and replay once after a 401
    /// if the strategy renewed its credentials.
    async fn attempt(&self, request: Request, template: Option<&Request>) -> Result<Response> {
        let mut request = request;
        let mut replayed = false;
        loop {
            let (response, sent) = self.follow_redirects(request, template).await?;
            if response.status() == StatusCode::UNAUTHORIZED
                && !replayed
                && let (Some(auth), Some(template)) = (&self.inner.auth, template)
            {
                let method = template.method().clone();
                let sent = sent.to_headers();
                let rejection = Rejection::new(
                    &method,
                    response.url(),
                    &sent,
                    StatusCode::UNAUTHORIZED,
                    response.headers(),
                );
                if auth
                    .on_unauthorized(rejection)
                    .await
                    .map_err(Error::from_core)?
                    == Replay::Yes
                {
                    replayed = true;
                    request = template
                        .try_clone()
                        .expect("a request that cloned once clones again");
                    continue;
                }
            }
            return Ok(response);
        }
    }

    /// Sends `request`, following redirects itself so credentials are added
    /// only on hops to the original origin (the template's: without a
    /// template no redirect is followed). Returns the final response and the
    /// credentials the last hop carried.
    async fn follow_redirects(
        &self,
        request: Request,
        template: Option<&Request>,
    ) -> Result<(Response, SentCredentials)> {
        let inner = &self.inner;
        let mut request = request;
        inner.add_static_headers(request.headers_mut());
        let mut hops = 0;
        loop {
            let credentials_go_here = inner.auth.is_some()
                && template.is_none_or(|t| same_origin(t.url(), request.url()));
            if credentials_go_here || inner.https_only {
                check_transport(request.url(), inner.allow_insecure_http)?;
            }
            if let Some(auth) = &inner.auth
                && credentials_go_here
            {
                authenticate(auth, &mut request)
                    .await
                    .map_err(Error::from_core)?;
            }
            let sent = if inner.auth.is_some() {
                SentCredentials::capture(request.headers())
            } else {
                SentCredentials::None
            };
            let method = request.method().clone();
            let response = inner
                .client
                .execute(request)
                .await
                .map_err(Error::transport)?;
            let status = response.status();
            let follow =
                matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) && inner.max_redirects > 0;
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| response.url().join(l).ok());
            let (Some(template), Some(location), true) = (template, location, follow) else {
                return Ok((response, sent));
            };
            if !matches!(location.scheme(), "http" | "https") {
                return Ok((response, sent));
            }
            hops += 1;
            if hops > inner.max_redirects {
                return Err(Error::TooManyRedirects {
                    limit: inner.max_redirects,
                });
            }
            let Some(mut next) = template.try_clone() else {
                return Ok((response, sent));
            };
            inner.add_static_headers(next.headers_mut());
            *next.url_mut() = location;
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
            request = next;
        }
    }
}

/// Runs `auth` on a reqwest request (its URL and headers are borrowed
/// together by moving the headers out and back): without waiting when the
/// credentials are at hand, else through the async path — for no longer
/// than the request's own timeout, so a token endpoint that never answers
/// can't hold the request past it.
pub(crate) async fn authenticate(
    auth: &SharedAuthenticator,
    request: &mut Request,
) -> session_core::Result<()> {
    let method = request.method().clone();
    let limit = request.timeout().copied();
    let mut headers = std::mem::take(request.headers_mut());
    let mut auth_request = AuthRequest::new(&method, request.url_mut(), &mut headers);
    let outcome = match auth.authenticate_now(&mut auth_request) {
        Some(outcome) => outcome,
        None => match limit {
            Some(limit) => tokio::time::timeout(limit, auth.authenticate(&mut auth_request))
                .await
                .unwrap_or(Err(session_core::Error::Timeout {
                    waiting_for: "credentials",
                })),
            None => auth.authenticate(&mut auth_request).await,
        },
    };
    *request.headers_mut() = headers;
    outcome
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
