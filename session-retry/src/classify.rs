//! Deciding what an attempt's result means: [`Verdict`], [`RetryReason`],
//! [`ErrorKind`], the generic [`Classify`] trait, and the HTTP hook
//! [`ClassifyHttp`] over [`HttpAttempt`].

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, StatusCode};

use crate::retry_after::RetryAfter;

/// What kind of transport failure an attempt hit.
///
/// ```
/// use session_retry::ErrorKind;
/// assert!(!ErrorKind::Connect.may_have_reached_server());
/// assert!(ErrorKind::Timeout.is_transient());
/// assert!(!ErrorKind::Other.is_transient());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection could not be made (refused, DNS failure, connect
    /// timeout): nothing was sent.
    Connect,
    /// The request timed out after it may have been sent.
    Timeout,
    /// The connection was reset or aborted.
    Reset,
    /// The connection closed before a whole response arrived.
    IncompleteMessage,
    /// Anything else (body, decode, redirect, builder errors): not retried.
    Other,
}

impl ErrorKind {
    /// Whether retrying may help.
    ///
    /// ```
    /// assert!(session_retry::ErrorKind::Reset.is_transient());
    /// ```
    pub fn is_transient(self) -> bool {
        !matches!(self, Self::Other)
    }

    /// Whether the request may have reached the server (so replaying a
    /// non-idempotent request could repeat its effect).
    ///
    /// ```
    /// assert!(session_retry::ErrorKind::IncompleteMessage.may_have_reached_server());
    /// ```
    pub fn may_have_reached_server(self) -> bool {
        !matches!(self, Self::Connect)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect error",
            Self::Timeout => "timeout",
            Self::Reset => "connection reset",
            Self::IncompleteMessage => "incomplete message",
            Self::Other => "error",
        })
    }
}

/// Why an attempt is being retried (for logs and outcomes).
///
/// ```
/// use session_retry::{ErrorKind, RetryReason};
/// assert_eq!(RetryReason::Status(http::StatusCode::SERVICE_UNAVAILABLE).to_string(), "status 503");
/// assert_eq!(RetryReason::Error(ErrorKind::Timeout).to_string(), "timeout");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// The response status is in the forcelist.
    Status(StatusCode),
    /// A transient transport error.
    Error(ErrorKind),
    /// A reason given by a custom classifier.
    Custom(&'static str),
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(s) => write!(f, "status {}", s.as_u16()),
            Self::Error(k) => k.fmt(f),
            Self::Custom(r) => f.write_str(r),
        }
    }
}

/// The decision about one attempt's result.
///
/// ```
/// use session_retry::{RetryReason, Verdict};
/// let v = Verdict::retry(RetryReason::Custom("queue full"));
/// assert!(v.is_retry());
/// assert!(!Verdict::Success.is_retry());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Done, and the service is healthy (refills the retry budget).
    Success,
    /// Done: retrying would not help.
    Fatal,
    /// Transient: retry if the policy allows.
    Retry {
        /// Why.
        reason: RetryReason,
        /// Whether the request may have reached the server.
        may_have_reached_server: bool,
        /// What the server's `Retry-After` asked for, if anything.
        retry_after: Option<RetryAfter>,
    },
}

impl Verdict {
    /// A retry verdict for a request that may have reached the server.
    ///
    /// ```
    /// let v = session_retry::Verdict::retry(session_retry::RetryReason::Custom("busy"));
    /// assert!(matches!(v, session_retry::Verdict::Retry { may_have_reached_server: true, .. }));
    /// ```
    pub fn retry(reason: RetryReason) -> Self {
        Self::Retry {
            reason,
            may_have_reached_server: true,
            retry_after: None,
        }
    }

    /// Whether this verdict asks for a retry.
    ///
    /// ```
    /// assert!(!session_retry::Verdict::Fatal.is_retry());
    /// ```
    pub fn is_retry(&self) -> bool {
        matches!(self, Self::Retry { .. })
    }
}

/// Classifies an operation's result for the generic engine.
///
/// Implemented for closures `Fn(&Result<T, E>) -> Verdict`.
///
/// ```
/// use session_retry::{Classify, RetryReason, Verdict};
///
/// let only_busy = |r: &Result<u32, &str>| match r {
///     Ok(_) => Verdict::Success,
///     Err("busy") => Verdict::retry(RetryReason::Custom("busy")),
///     Err(_) => Verdict::Fatal,
/// };
/// assert_eq!(only_busy.classify(&Err("nope")), Verdict::Fatal);
/// ```
pub trait Classify<T, E>: Send + Sync {
    /// The verdict for one attempt's result.
    fn classify(&self, result: &Result<T, E>) -> Verdict;
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Verdict + Send + Sync,
{
    fn classify(&self, result: &Result<T, E>) -> Verdict {
        self(result)
    }
}

/// One HTTP attempt's result, in client-neutral terms.
///
/// ```
/// use session_retry::HttpAttempt;
/// let headers = http::HeaderMap::new();
/// let attempt = HttpAttempt::Response { status: http::StatusCode::OK, headers: &headers };
/// # let _ = attempt;
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum HttpAttempt<'a> {
    /// A response arrived.
    Response {
        /// Its status.
        status: StatusCode,
        /// Its headers.
        headers: &'a HeaderMap,
    },
    /// The attempt failed without a response.
    Error {
        /// The kind of failure.
        kind: ErrorKind,
        /// The error itself.
        error: &'a (dyn std::error::Error + 'static),
    },
}

/// A custom HTTP classification hook, consulted before the built-in rules.
///
/// Return `Some(verdict)` to decide, `None` to fall back to the defaults.
///
/// # Examples
///
/// Retry a 409 that an API uses for "try again":
///
/// ```
/// use session_retry::{ClassifyHttp, HttpAttempt, RetryPolicy, RetryReason, Verdict};
///
/// #[derive(Debug)]
/// struct ConflictIsBusy;
///
/// impl ClassifyHttp for ConflictIsBusy {
///     fn classify(&self, attempt: &HttpAttempt<'_>) -> Option<Verdict> {
///         match attempt {
///             HttpAttempt::Response { status, .. } if status.as_u16() == 409 => {
///                 Some(Verdict::retry(RetryReason::Custom("conflict")))
///             }
///             _ => None,
///         }
///     }
/// }
///
/// let policy = RetryPolicy::builder().classifier(ConflictIsBusy).build()?;
/// # Ok::<(), session_retry::Error>(())
/// ```
pub trait ClassifyHttp: Send + Sync + fmt::Debug {
    /// The verdict, or `None` for the default rules.
    fn classify(&self, attempt: &HttpAttempt<'_>) -> Option<Verdict>;
}

/// A cheaply cloneable handle to a [`ClassifyHttp`] hook.
///
/// ```
/// # use session_retry::*;
/// # #[derive(Debug)] struct Never;
/// # impl ClassifyHttp for Never { fn classify(&self, _: &HttpAttempt<'_>) -> Option<Verdict> { None } }
/// let hook = SharedHttpClassifier::new(Never);
/// let _clone = hook.clone();
/// ```
#[derive(Clone)]
pub struct SharedHttpClassifier(Arc<dyn ClassifyHttp>);

impl SharedHttpClassifier {
    /// Wraps a hook.
    ///
    /// ```
    /// # use session_retry::*;
    /// # #[derive(Debug)] struct Never;
    /// # impl ClassifyHttp for Never { fn classify(&self, _: &HttpAttempt<'_>) -> Option<Verdict> { None } }
    /// let _ = SharedHttpClassifier::new(Never);
    /// ```
    pub fn new(hook: impl ClassifyHttp + 'static) -> Self {
        Self(Arc::new(hook))
    }
}

impl ClassifyHttp for SharedHttpClassifier {
    fn classify(&self, attempt: &HttpAttempt<'_>) -> Option<Verdict> {
        self.0.classify(attempt)
    }
}

impl fmt::Debug for SharedHttpClassifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedHttpClassifier")
            .field(&self.0)
            .finish()
    }
}
