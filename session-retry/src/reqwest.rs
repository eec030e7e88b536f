//! Retrying `reqwest` requests (feature `reqwest`): [`send_with`], the one
//! loop that sends a logical request ([`Prepared`]: the idempotency key and
//! the source every attempt is copied from; then the replay rules, budget
//! partition and retries) — used by [`send`] and by every sender in
//! session-kit — and the error mapping [`error_kind`].

use std::error::Error as StdError;
use std::future::Future;

use http::{HeaderValue, Method};

use crate::classify::{Classify, ErrorKind, HttpAttempt, Verdict};
use crate::engine::{RetryOutcome, RetryScope, Stop, retry_with};
use crate::policy::{IDEMPOTENCY_KEY, RetryPolicy};

/// Maps a reqwest error to an [`ErrorKind`].
///
/// Connect failures (refused, DNS, connect timeout) are [`ErrorKind::Connect`];
/// other timeouts [`ErrorKind::Timeout`]; resets and aborted connections
/// [`ErrorKind::Reset`]; a connection closed mid-response
/// [`ErrorKind::IncompleteMessage`]; everything else [`ErrorKind::Other`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Nothing listens on port 9 of the loopback address.
/// let err = reqwest::get("http://127.0.0.1:9/").await.unwrap_err();
/// assert_eq!(session_retry::reqwest::error_kind(&err), session_retry::ErrorKind::Connect);
/// # }
/// ```
pub fn error_kind(err: &reqwest::Error) -> ErrorKind {
    if err.is_connect() {
        return ErrorKind::Connect;
    }
    if err.is_timeout() {
        return ErrorKind::Timeout;
    }
    if err.is_builder() || err.is_redirect() || err.is_decode() {
        return ErrorKind::Other;
    }
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && hyper.is_incomplete_message()
        {
            return ErrorKind::IncompleteMessage;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as Io;
            match io.kind() {
                Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => {
                    return ErrorKind::Reset;
                }
                Io::UnexpectedEof => return ErrorKind::IncompleteMessage,
                Io::TimedOut => return ErrorKind::Timeout,
                Io::ConnectionRefused => return ErrorKind::Connect,
                _ => {}
            }
        }
        source = cause.source();
    }
    ErrorKind::Other
}

/// Classifies reqwest results with a policy's HTTP rules.
struct ReqwestClassifier<'a> {
    policy: &'a RetryPolicy,
}

impl Classify<reqwest::Response, reqwest::Error> for ReqwestClassifier<'_> {
    fn classify(&self, result: &Result<reqwest::Response, reqwest::Error>) -> Verdict {
        match result {
            Ok(response) => self.policy.classify_http(&HttpAttempt::Response {
                status: response.status(),
                headers: response.headers(),
            }),
            Err(error) => self.policy.classify_http(&HttpAttempt::Error {
                kind: error_kind(error),
                error,
            }),
        }
    }
}

/// The retry budget partition of a URL: its host, with the port when it is
/// not the scheme's default (`api.example.com`, `127.0.0.1:8080`). Borrowed
/// from the URL, so finding it costs nothing; credentials in the URL are
/// never part of it.
fn partition(url: &reqwest::Url) -> &str {
    &url[url::Position::BeforeHost..url::Position::AfterPort]
}

/// A fresh `Idempotency-Key` value: 128 random bits as hex.
fn generate_idempotency_key() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// Adds a generated `Idempotency-Key` to a POST or PATCH without one, when
/// the policy asks for it.
fn ensure_idempotency_key(policy: &RetryPolicy, request: &mut reqwest::Request) {
    if policy.adds_idempotency_key()
        && (request.method() == Method::POST || request.method() == Method::PATCH)
        && !request.headers().contains_key(IDEMPOTENCY_KEY)
    {
        let key = HeaderValue::from_str(&generate_idempotency_key())
            .expect("hex is a valid header value");
        request.headers_mut().insert(IDEMPOTENCY_KEY, key);
    }
}

/// Sends `request` with `client`, retrying under `policy`.
///
/// A request whose body can't be cloned (a stream) is sent once; if that
/// attempt would have been retried, the outcome says [`Stop::NotCloneable`].
///
/// # Examples
///
/// ```no_run
/// use session_retry::RetryPolicy;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = reqwest::Client::new();
/// let policy = RetryPolicy::builder().retries(3).backoff_factor(1.0).build()?;
/// let request = client.get("https://api.example.com/customers").build()?;
/// let outcome = session_retry::reqwest::send(&policy, &client, request).await;
/// eprintln!("{} attempt(s), waited {:?}", outcome.attempts, outcome.total_wait);
/// let customers = outcome.result?.text().await?;
/// # let _ = customers; Ok(()) }
/// ```
pub async fn send(
    policy: &RetryPolicy,
    client: &reqwest::Client,
    request: reqwest::Request,
) -> RetryOutcome<reqwest::Response, reqwest::Error> {
    let mut prepared = Prepared::new(Some(policy), request, false);
    send_with(
        &mut prepared,
        &ReqwestClassifier { policy },
        |request, _| client.execute(request),
    )
    .await
}

/// A logical request made ready for its attempts: the retry policy it is
/// sent under, and the request every attempt is made from.
///
/// [`Prepared::new`] adds the policy's `Idempotency-Key` to a POST or PATCH
/// before anything is sent, so every attempt carries the same key. With a
/// policy, or when the caller may have to resend within an attempt (a
/// redirect, a replay after a 401: `keep_copy`), the request is kept as the
/// source and each attempt sends a copy of it; otherwise it is sent once, as
/// it is. A request whose body is a stream can't be copied and is sent once.
/// [`send_with`] sends it, lending the source to each attempt. The request
/// is boxed: it stays put for the whole exchange, and the exchange's future
/// (part of every request's) stays small.
///
/// ```
/// use session_retry::{RetryPolicy, reqwest::Prepared};
///
/// let policy = RetryPolicy::builder().add_idempotency_key(true).build()?;
/// let request = reqwest::Client::new().post("https://api.example.com/orders").body("{}").build()?;
/// let prepared = Prepared::new(Some(&policy), request, false);
/// let source = prepared.source().expect("a body in memory is copied");
/// assert_eq!(source.headers()["idempotency-key"].len(), 32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Prepared<'p> {
    policy: Option<&'p RetryPolicy>,
    request: Held,
}

/// How a prepared request is held.
#[derive(Debug)]
enum Held {
    /// Kept as the source: every attempt sends a copy.
    Source(Box<reqwest::Request>),
    /// Sent once, as it is (`None` once sent).
    Once(Option<Box<reqwest::Request>>),
}

impl<'p> Prepared<'p> {
    /// Prepares `request` to be sent under `policy` (`None`: once), keeping
    /// it as the source of copies when there is a policy or `keep_copy` asks
    /// for it and its body can be copied. A request already boxed is kept in
    /// its box.
    ///
    /// ```
    /// let request = reqwest::Client::new().get("https://api.example.com/").build()?;
    /// let prepared = session_retry::reqwest::Prepared::new(None, request, false);
    /// assert!(prepared.source().is_none(), "sent once, as it is");
    /// # Ok::<(), reqwest::Error>(())
    /// ```
    pub fn new(
        policy: Option<&'p RetryPolicy>,
        request: impl Into<Box<reqwest::Request>>,
        keep_copy: bool,
    ) -> Self {
        let mut request = request.into();
        if let Some(policy) = policy {
            ensure_idempotency_key(policy, &mut request);
        }
        let request = if (policy.is_some() || keep_copy) && is_copyable(&request) {
            Held::Source(request)
        } else {
            Held::Once(Some(request))
        };
        Self { policy, request }
    }

    /// The request every attempt is a copy of, if it is kept as one.
    ///
    /// ```
    /// let policy = session_retry::RetryPolicy::default();
    /// let request = reqwest::Client::new().get("https://api.example.com/").build()?;
    /// let prepared = session_retry::reqwest::Prepared::new(Some(&policy), request, false);
    /// assert_eq!(prepared.source().unwrap().url().as_str(), "https://api.example.com/");
    /// # Ok::<(), reqwest::Error>(())
    /// ```
    pub fn source(&self) -> Option<&reqwest::Request> {
        match &self.request {
            Held::Source(request) => Some(request),
            Held::Once(_) => None,
        }
    }
}

/// Sends one logical request: the one loop behind [`send`], a session-kit
/// `Session` and its middleware adapters.
///
/// With a policy, each attempt sends a fresh copy of the prepared source,
/// and the replay rules, the host's budget and the deadline apply. Without
/// a policy the request is sent once. A request whose body can't be copied
/// is sent once; if that attempt would have been retried, the outcome says
/// [`Stop::NotCloneable`].
///
/// `attempt` sends one request. It is lent the source (when the request is
/// kept as one) for as long as `prepared` is borrowed, so its futures may
/// keep it — to follow a redirect or replay within the attempt.
///
/// # Panics
///
/// When a request prepared to be sent once, as it is, is sent a second time.
///
/// ```no_run
/// use session_retry::RetryPolicy;
/// use session_retry::reqwest::{Prepared, send_with};
/// # #[derive(Clone, Copy)] struct ByStatus;
/// # impl session_retry::Classify<reqwest::Response, reqwest::Error> for ByStatus {
/// #     fn classify(&self, r: &Result<reqwest::Response, reqwest::Error>) -> session_retry::Verdict {
/// #         session_retry::Verdict::Success
/// #     }
/// # }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = reqwest::Client::new();
/// let policy = RetryPolicy::default();
/// let request = client.get("https://api.example.com/customers").build()?;
/// let mut prepared = Prepared::new(Some(&policy), request, false);
/// let outcome = send_with(&mut prepared, &ByStatus, |request, _source| {
///     client.execute(request)
/// })
/// .await;
/// # let _ = outcome; Ok(()) }
/// ```
pub async fn send_with<'a, T, E, C, F, Fut>(
    prepared: &'a mut Prepared<'_>,
    classify: &C,
    mut attempt: F,
) -> RetryOutcome<T, E>
where
    C: Classify<T, E>,
    F: FnMut(reqwest::Request, Option<&'a reqwest::Request>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let policy = prepared.policy;
    let source = match &mut prepared.request {
        Held::Source(source) => &**source,
        Held::Once(request) => {
            let request = request
                .take()
                .expect("a request prepared to be sent once is sent once");
            let partition = policy.map(|_| partition(request.url()).to_owned());
            let result = attempt(*request, None).await;
            let stop = match (classify.classify(&result), policy) {
                (Verdict::Success, Some(policy)) => {
                    if let (Some(budget), Some(partition)) = (policy.budget(), &partition) {
                        budget.refill(partition);
                    }
                    Stop::Success
                }
                (Verdict::Success, None) => Stop::Success,
                (Verdict::Retry { .. }, Some(_)) => Stop::NotCloneable,
                _ => Stop::NotRetryable,
            };
            return RetryOutcome::single(result, stop);
        }
    };
    let copy = || copy_request(source).expect("a body in memory copies");
    let Some(policy) = policy else {
        let result = attempt(copy(), Some(source)).await;
        let stop = match classify.classify(&result) {
            Verdict::Success => Stop::Success,
            _ => Stop::NotRetryable,
        };
        return RetryOutcome::single(result, stop);
    };
    let replayable = policy.is_replayable(source.method(), source.headers());
    let scope = RetryScope::new(partition(source.url())).replayable(replayable);
    retry_with(policy, scope, classify, |_| attempt(copy(), Some(source))).await
}

/// Whether `request` can be copied: its body, if any, is in memory (a
/// stream can be read only once).
fn is_copyable(request: &reqwest::Request) -> bool {
    request.body().is_none_or(|body| body.as_bytes().is_some())
}

/// A copy of `request` (`None` when its body is a stream: exactly when
/// [`is_copyable`] says no). A request with a
/// body is copied by `reqwest::Request::try_clone`; one without — most of
/// them — gets its method, URL, headers, version and timeout copied here,
/// without the extension map `try_clone` allocates even when there is no
/// timeout (the copy is made for every request that may be sent again, so
/// this is on every request's path).
fn copy_request(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    if !request.headers().is_empty() {
        *copy.headers_mut() = request.headers().clone();
    }
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_the_request_and_a_stream_is_not_copied() {
        let client = reqwest::Client::new();
        let mut request = client
            .post("https://api.example.com/orders?page=2")
            .header("x-trace", "1")
            .body("{}")
            .version(http::Version::HTTP_2)
            .timeout(std::time::Duration::from_secs(7))
            .build()
            .unwrap();
        let copy = copy_request(&request).unwrap();
        assert_eq!(copy.method(), request.method());
        assert_eq!(copy.url(), request.url());
        assert_eq!(copy.headers(), request.headers());
        assert_eq!(copy.version(), http::Version::HTTP_2);
        assert_eq!(copy.timeout(), Some(&std::time::Duration::from_secs(7)));
        assert_eq!(
            copy.body().and_then(reqwest::Body::as_bytes),
            Some(&b"{}"[..])
        );
        let bare = client
            .get("https://api.example.com/")
            .header("x-trace", "2")
            .version(http::Version::HTTP_11)
            .build()
            .unwrap();
        let copy = copy_request(&bare).unwrap();
        assert_eq!(copy.timeout(), None);
        assert_eq!(
            (copy.method(), copy.url(), copy.headers(), copy.version()),
            (bare.method(), bare.url(), bare.headers(), bare.version())
        );
        assert!(copy.body().is_none());
        let plain = client.delete("https://api.example.com/x").build().unwrap();
        let copy = copy_request(&plain).unwrap();
        assert!(copy.headers().is_empty());
        assert_eq!((copy.method(), copy.url()), (plain.method(), plain.url()));
        let chunks =
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from("{}"))]);
        *request.body_mut() = Some(reqwest::Body::wrap_stream(chunks));
        assert!(
            copy_request(&request).is_none(),
            "a stream can't be sent twice"
        );
        assert!(!is_copyable(&request));
        assert!(is_copyable(&bare) && copy_request(&bare).is_some());
    }

    #[test]
    fn the_partition_is_host_and_non_default_port() {
        let url = reqwest::Url::parse("https://user:pw@api.example.com:443/v1?q=secret").unwrap();
        assert_eq!(partition(&url), "api.example.com");
        let url = reqwest::Url::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(partition(&url), "127.0.0.1:8080");
    }

    #[test]
    fn idempotency_keys_are_added_to_post_and_patch_only_when_asked() {
        let policy = RetryPolicy::builder()
            .add_idempotency_key(true)
            .build()
            .unwrap();
        let client = reqwest::Client::new();
        let request = |method: Method| {
            client
                .request(method, "https://api.example.com/orders")
                .build()
                .unwrap()
        };
        for method in [Method::POST, Method::PATCH] {
            let mut post = request(method);
            ensure_idempotency_key(&policy, &mut post);
            assert_eq!(post.headers()[IDEMPOTENCY_KEY].len(), 32);
        }
        let mut get = request(Method::GET);
        ensure_idempotency_key(&policy, &mut get);
        assert!(get.headers().is_empty());
        let mut post = request(Method::POST);
        ensure_idempotency_key(&RetryPolicy::default(), &mut post);
        assert!(post.headers().is_empty());
        assert_ne!(generate_idempotency_key(), generate_idempotency_key());
    }
}
