//! Retrying `reqwest` requests (feature `reqwest`): [`send`], the error
//! mapping [`error_kind`], and [`ReqwestClassifier`].

use std::error::Error as StdError;

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
///
/// ```
/// let policy = session_retry::RetryPolicy::default();
/// let _classifier = session_retry::reqwest::ReqwestClassifier::new(&policy);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReqwestClassifier<'a> {
    policy: &'a RetryPolicy,
}

impl<'a> ReqwestClassifier<'a> {
    /// A classifier for `policy`.
    ///
    /// ```
    /// # let policy = session_retry::RetryPolicy::default();
    /// let _ = session_retry::reqwest::ReqwestClassifier::new(&policy);
    /// ```
    pub fn new(policy: &'a RetryPolicy) -> Self {
        Self { policy }
    }
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
///
/// ```
/// let url = reqwest::Url::parse("https://user:pw@api.example.com:443/v1?q=secret").unwrap();
/// assert_eq!(session_retry::reqwest::partition(&url), "api.example.com");
/// let url = reqwest::Url::parse("http://127.0.0.1:8080/").unwrap();
/// assert_eq!(session_retry::reqwest::partition(&url), "127.0.0.1:8080");
/// ```
pub fn partition(url: &reqwest::Url) -> &str {
    &url[url::Position::BeforeHost..url::Position::AfterPort]
}

/// A fresh `Idempotency-Key` value: 128 random bits as hex.
///
/// ```
/// let key = session_retry::reqwest::generate_idempotency_key();
/// assert_eq!(key.len(), 32);
/// ```
pub fn generate_idempotency_key() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// Adds a generated `Idempotency-Key` to a POST or PATCH without one, when
/// the policy asks for it.
///
/// ```
/// let policy = session_retry::RetryPolicy::builder().add_idempotency_key(true).build()?;
/// let mut headers = http::HeaderMap::new();
/// session_retry::reqwest::ensure_idempotency_key(&policy, &http::Method::POST, &mut headers);
/// assert!(headers.contains_key("idempotency-key"));
/// # Ok::<(), session_retry::Error>(())
/// ```
pub fn ensure_idempotency_key(
    policy: &RetryPolicy,
    method: &Method,
    headers: &mut http::HeaderMap,
) {
    if policy.adds_idempotency_key()
        && (method == Method::POST || method == Method::PATCH)
        && !headers.contains_key(IDEMPOTENCY_KEY)
    {
        let key = HeaderValue::from_str(&generate_idempotency_key())
            .expect("hex is a valid header value");
        headers.insert(IDEMPOTENCY_KEY, key);
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
    mut request: reqwest::Request,
) -> RetryOutcome<reqwest::Response, reqwest::Error> {
    let method = request.method().clone();
    ensure_idempotency_key(policy, &method, request.headers_mut());
    let replayable = policy.is_replayable(&method, request.headers());
    let partition = partition(request.url()).to_owned();
    let classifier = ReqwestClassifier::new(policy);

    let Some(template) = request.try_clone() else {
        let result = client.execute(request).await;
        let stop = match classifier.classify(&result) {
            Verdict::Success => {
                if let Some(budget) = policy.budget() {
                    budget.refill(&partition);
                }
                Stop::Success
            }
            Verdict::Retry { .. } => Stop::NotCloneable,
            _ => Stop::NotRetryable,
        };
        return RetryOutcome::single(result, stop);
    };

    let mut first = Some(request);
    let scope = RetryScope::new(&partition).replayable(replayable);
    retry_with(policy, scope, &classifier, |_| {
        let request = first.take().unwrap_or_else(|| {
            template
                .try_clone()
                .expect("a request that cloned once clones again")
        });
        client.execute(request)
    })
    .await
}
