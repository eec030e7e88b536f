//! [`RetryPolicy`] and its builder: every retry setting, validated, with
//! urllib3-style defaults (5 retries, factor 2.0, the usual transient statuses).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use session_core::SharedClock;

use crate::backoff::{Jitter, backoff_delay};
use crate::budget::RetryBudget;
use crate::classify::{ClassifyHttp, HttpAttempt, RetryReason, SharedHttpClassifier, Verdict};
use crate::error::{Error, Result};
use crate::retry_after::RetryAfter;
use crate::sleep::{AsyncSleep, SharedAsyncSleep};

/// The `Idempotency-Key` header.
pub const IDEMPOTENCY_KEY: http::HeaderName = http::HeaderName::from_static("idempotency-key");

/// How to retry: how often, how long to wait, on which answers.
///
/// Cheap to clone; clones share one [`RetryBudget`].
///
/// # Defaults
///
/// | setting | default |
/// |---|---|
/// | `retries` | 5 |
/// | `backoff_factor` | 2.0 (waits 2, 4, 8, 16, 32 s) |
/// | `status_forcelist` | 429, 500, 502, 503, 504 |
/// | `max_backoff` | 120 s |
/// | `jitter` | none |
/// | `max_retry_after` | 120 s |
/// | non-idempotent methods | not retried once sent |
/// | `budget` | 100 tokens per host, 5 per retry, 1 back per success |
/// | `deadline` | none |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session_retry::RetryPolicy;
///
/// let policy = RetryPolicy::builder().retries(3).backoff_factor(1.0).build()?;
/// assert_eq!(policy.schedule(), [1, 2, 4].map(Duration::from_secs));
///
/// let defaults = RetryPolicy::default();
/// assert_eq!(defaults.schedule(), [2, 4, 8, 16, 32].map(Duration::from_secs));
/// # Ok::<(), session_retry::Error>(())
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    inner: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    retries: u32,
    backoff_factor: f64,
    status_forcelist: Vec<StatusCode>,
    max_backoff: Duration,
    jitter: Jitter,
    max_retry_after: Duration,
    retry_non_idempotent: bool,
    add_idempotency_key: bool,
    deadline: Option<Duration>,
    budget: Option<RetryBudget>,
    classifier: Option<SharedHttpClassifier>,
    sleep: Option<SharedAsyncSleep>,
    clock: SharedClock,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retries: RetryPolicy::DEFAULT_RETRIES,
            backoff_factor: RetryPolicy::DEFAULT_BACKOFF_FACTOR,
            status_forcelist: RetryPolicy::DEFAULT_STATUS_FORCELIST
                .iter()
                .map(|s| StatusCode::from_u16(*s).expect("valid status"))
                .collect(),
            max_backoff: RetryPolicy::DEFAULT_MAX_BACKOFF,
            jitter: Jitter::None,
            max_retry_after: RetryPolicy::DEFAULT_MAX_RETRY_AFTER,
            retry_non_idempotent: false,
            add_idempotency_key: false,
            deadline: None,
            budget: Some(RetryBudget::default()),
            classifier: None,
            #[cfg(feature = "tokio")]
            sleep: Some(SharedAsyncSleep::tokio()),
            #[cfg(not(feature = "tokio"))]
            sleep: None,
            clock: SharedClock::default(),
        }
    }
}

#[cfg(feature = "tokio")]
impl Default for RetryPolicy {
    /// 5 retries, factor 2.0 (waits of 2, 4, 8, 16, 32 s), forcelist
    /// 429/500/502/503/504.
    fn default() -> Self {
        Self {
            inner: Arc::new(Settings::default()),
        }
    }
}

impl RetryPolicy {
    /// Default number of retries.
    pub const DEFAULT_RETRIES: u32 = 5;
    /// Default backoff factor, in seconds.
    pub const DEFAULT_BACKOFF_FACTOR: f64 = 2.0;
    /// Default statuses that trigger a retry.
    pub const DEFAULT_STATUS_FORCELIST: [u16; 5] = [429, 500, 502, 503, 504];
    /// Default cap on one computed wait.
    pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(120);
    /// Default longest `Retry-After` that is waited for.
    pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

    /// Starts a builder with the defaults.
    ///
    /// ```
    /// let policy = session_retry::RetryPolicy::builder().retries(2).build()?;
    /// assert_eq!(policy.retries(), 2);
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder {
            settings: Settings::default(),
            error: None,
        }
    }

    /// How many times a failed attempt is retried.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryPolicy::default().retries(), 5);
    /// ```
    pub fn retries(&self) -> u32 {
        self.inner.retries
    }

    /// The backoff factor, in seconds.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryPolicy::default().backoff_factor(), 2.0);
    /// ```
    pub fn backoff_factor(&self) -> f64 {
        self.inner.backoff_factor
    }

    /// The statuses that are retried.
    ///
    /// ```
    /// let p = session_retry::RetryPolicy::default();
    /// assert_eq!(p.status_forcelist().iter().map(|s| s.as_u16()).collect::<Vec<_>>(), [429, 500, 502, 503, 504]);
    /// ```
    pub fn status_forcelist(&self) -> &[StatusCode] {
        &self.inner.status_forcelist
    }

    /// The cap on one computed wait.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryPolicy::default().max_backoff().as_secs(), 120);
    /// ```
    pub fn max_backoff(&self) -> Duration {
        self.inner.max_backoff
    }

    /// The jitter applied to computed waits.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryPolicy::default().jitter(), session_retry::Jitter::None);
    /// ```
    pub fn jitter(&self) -> Jitter {
        self.inner.jitter
    }

    /// The longest `Retry-After` that is waited for; longer ones hand the
    /// response to the caller.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryPolicy::default().max_retry_after().as_secs(), 120);
    /// ```
    pub fn max_retry_after(&self) -> Duration {
        self.inner.max_retry_after
    }

    /// The total deadline, if any.
    ///
    /// ```
    /// assert!(session_retry::RetryPolicy::default().deadline().is_none());
    /// ```
    pub fn deadline(&self) -> Option<Duration> {
        self.inner.deadline
    }

    /// The retry budget, if any.
    ///
    /// ```
    /// assert!(session_retry::RetryPolicy::default().budget().is_some());
    /// ```
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.inner.budget.as_ref()
    }

    /// Whether POSTs and PATCHes get a generated `Idempotency-Key` header.
    ///
    /// ```
    /// assert!(!session_retry::RetryPolicy::default().adds_idempotency_key());
    /// ```
    pub fn adds_idempotency_key(&self) -> bool {
        self.inner.add_idempotency_key
    }

    /// The sleeper used between attempts.
    pub(crate) fn sleeper(&self) -> &SharedAsyncSleep {
        self.inner
            .sleep
            .as_ref()
            .expect("build() refuses a policy without a sleeper")
    }

    /// The wall clock used to read `Retry-After` dates.
    ///
    /// ```
    /// let _now = session_retry::RetryPolicy::default().clock().now();
    /// ```
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The exact waits before each retry: the backoff schedule capped at
    /// `max_backoff`, without jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = session_retry::RetryPolicy::builder()
    ///     .max_backoff(Duration::from_secs(10))
    ///     .build()?;
    /// assert_eq!(p.schedule(), [2, 4, 8, 10, 10].map(Duration::from_secs));
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn schedule(&self) -> Vec<Duration> {
        (1..=self.inner.retries)
            .map(|n| backoff_delay(self.inner.backoff_factor, n).min(self.inner.max_backoff))
            .collect()
    }

    /// The wait before retry `n` (1-based): capped, with jitter applied.
    ///
    /// ```
    /// let p = session_retry::RetryPolicy::default();
    /// assert_eq!(p.delay_for(3).as_secs(), 8);
    /// ```
    pub fn delay_for(&self, retry: u32) -> Duration {
        let delay = backoff_delay(self.inner.backoff_factor, retry).min(self.inner.max_backoff);
        self.inner.jitter.apply(delay)
    }

    /// Whether a request may be replayed after it may have reached the server:
    /// idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) always;
    /// others when they carry an `Idempotency-Key` header or the policy opts in.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, Method};
    /// let p = session_retry::RetryPolicy::default();
    /// assert!(p.is_replayable(&Method::GET, &HeaderMap::new()));
    /// assert!(!p.is_replayable(&Method::POST, &HeaderMap::new()));
    /// let mut h = HeaderMap::new();
    /// h.insert("idempotency-key", HeaderValue::from_static("k-1"));
    /// assert!(p.is_replayable(&Method::POST, &h));
    /// ```
    pub fn is_replayable(&self, method: &Method, headers: &HeaderMap) -> bool {
        method.is_idempotent()
            || self.inner.retry_non_idempotent
            || headers.contains_key(IDEMPOTENCY_KEY)
    }

    /// The built-in HTTP classification, after the custom hook if one is set.
    ///
    /// - a status in the forcelist is retried; on 429 and 503 the
    ///   `Retry-After` header is read;
    /// - any other status is a success (the server answered);
    /// - transient transport errors are retried, others are fatal.
    ///
    /// ```
    /// use http::{HeaderMap, StatusCode};
    /// use session_retry::{HttpAttempt, RetryPolicy, Verdict};
    ///
    /// let p = RetryPolicy::default();
    /// let h = HeaderMap::new();
    /// assert!(p.classify_http(&HttpAttempt::Response { status: StatusCode::BAD_GATEWAY, headers: &h }).is_retry());
    /// assert_eq!(p.classify_http(&HttpAttempt::Response { status: StatusCode::BAD_REQUEST, headers: &h }), Verdict::Success);
    /// ```
    pub fn classify_http(&self, attempt: &HttpAttempt<'_>) -> Verdict {
        if let Some(hook) = &self.inner.classifier
            && let Some(verdict) = hook.classify(attempt)
        {
            return verdict;
        }
        match *attempt {
            HttpAttempt::Response { status, headers } => {
                if !self.inner.status_forcelist.contains(&status) {
                    return Verdict::Success;
                }
                let retry_after = (status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE)
                    .then(|| headers.get(http::header::RETRY_AFTER))
                    .flatten()
                    .map(|v| RetryAfter::parse_bytes(v.as_bytes(), self.inner.clock.now()));
                Verdict::Retry {
                    reason: RetryReason::Status(status),
                    may_have_reached_server: true,
                    retry_after,
                }
            }
            HttpAttempt::Error { kind, .. } if kind.is_transient() => Verdict::Retry {
                reason: RetryReason::Error(kind),
                may_have_reached_server: kind.may_have_reached_server(),
                retry_after: None,
            },
            HttpAttempt::Error { .. } => Verdict::Fatal,
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner;
        f.debug_struct("RetryPolicy")
            .field("retries", &s.retries)
            .field("backoff_factor", &s.backoff_factor)
            .field("status_forcelist", &s.status_forcelist)
            .field("max_backoff", &s.max_backoff)
            .field("jitter", &s.jitter)
            .field("max_retry_after", &s.max_retry_after)
            .field("retry_non_idempotent", &s.retry_non_idempotent)
            .field("add_idempotency_key", &s.add_idempotency_key)
            .field("deadline", &s.deadline)
            .field("budget", &s.budget)
            .field("classifier", &s.classifier)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RetryPolicy`]. Setters never fail; the first invalid value is
/// kept and returned by [`build`](Self::build).
///
/// ```
/// use session_retry::{Error, RetryPolicy};
///
/// let err = RetryPolicy::builder()
///     .backoff_factor(f64::NAN)
///     .status_forcelist([503, 700])
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, Error::InvalidBackoffFactor { .. })); // the first one
/// ```
#[must_use]
pub struct RetryPolicyBuilder {
    settings: Settings,
    error: Option<Error>,
}

impl RetryPolicyBuilder {
    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    /// How many times to retry (1 or more; default 5). Zero, negative and
    /// values above `u32::MAX` give [`Error::InvalidRetry`].
    ///
    /// ```
    /// # use session_retry::*;
    /// assert!(matches!(RetryPolicy::builder().retries(-1).build(), Err(Error::InvalidRetry { .. })));
    /// ```
    pub fn retries(mut self, retries: i64) -> Self {
        match u32::try_from(retries) {
            Ok(n) if n > 0 => self.settings.retries = n,
            _ => self.fail(Error::InvalidRetry {
                value: retries.to_string(),
            }),
        }
        self
    }

    /// The backoff factor in seconds (finite, above 0; default 2.0).
    ///
    /// ```
    /// # use session_retry::*;
    /// for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
    ///     assert!(matches!(RetryPolicy::builder().backoff_factor(bad).build(), Err(Error::InvalidBackoffFactor { .. })));
    /// }
    /// ```
    pub fn backoff_factor(mut self, factor: f64) -> Self {
        if factor.is_finite() && factor > 0.0 {
            self.settings.backoff_factor = factor;
        } else {
            self.fail(Error::InvalidBackoffFactor {
                value: factor.to_string(),
            });
        }
        self
    }

    /// The statuses to retry (each 100–599; default 429, 500, 502, 503, 504).
    ///
    /// ```
    /// # use session_retry::*;
    /// let p = RetryPolicy::builder().status_forcelist([503]).build()?;
    /// assert_eq!(p.status_forcelist().len(), 1);
    /// assert!(matches!(RetryPolicy::builder().status_forcelist([99]).build(), Err(Error::InvalidStatusForcelist { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn status_forcelist(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        let mut list = Vec::new();
        for status in statuses {
            match StatusCode::from_u16(status) {
                Ok(code) if (100..=599).contains(&status) => {
                    if !list.contains(&code) {
                        list.push(code);
                    }
                }
                _ => {
                    self.fail(Error::InvalidStatusForcelist {
                        value: status.to_string(),
                    });
                    return self;
                }
            }
        }
        self.settings.status_forcelist = list;
        self
    }

    /// Caps each computed wait (above 0; default 120 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = session_retry::RetryPolicy::builder().max_backoff(Duration::from_secs(5)).build()?;
    /// assert_eq!(p.max_backoff(), Duration::from_secs(5));
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn max_backoff(mut self, cap: Duration) -> Self {
        if cap.is_zero() {
            self.fail(Error::InvalidSetting {
                setting: "max_backoff",
                reason: "the cap on a wait must be longer than zero",
            });
        } else {
            self.settings.max_backoff = cap;
        }
        self
    }

    /// Adds jitter to computed waits (default none).
    ///
    /// ```
    /// let p = session_retry::RetryPolicy::builder().jitter(session_retry::Jitter::Full).build()?;
    /// assert_eq!(p.jitter(), session_retry::Jitter::Full);
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.settings.jitter = jitter;
        self
    }

    /// The longest `Retry-After` to wait for (default 120 s). A longer one
    /// hands the response to the caller at once. Zero never waits for one.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = session_retry::RetryPolicy::builder().max_retry_after(Duration::from_secs(30)).build()?;
    /// assert_eq!(p.max_retry_after(), Duration::from_secs(30));
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.settings.max_retry_after = max;
        self
    }

    /// Replay non-idempotent requests (POST, PATCH, …) even when they may have
    /// reached the server. Off by default: a POST could be applied twice.
    ///
    /// ```
    /// let p = session_retry::RetryPolicy::builder().retry_non_idempotent(true).build()?;
    /// assert!(p.is_replayable(&http::Method::POST, &http::HeaderMap::new()));
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.settings.retry_non_idempotent = yes;
        self
    }

    /// Give POST and PATCH requests without one a generated `Idempotency-Key`
    /// header (the same on every attempt), which makes them safe to replay on
    /// servers that honour it.
    ///
    /// ```
    /// let p = session_retry::RetryPolicy::builder().add_idempotency_key(true).build()?;
    /// assert!(p.adds_idempotency_key());
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn add_idempotency_key(mut self, yes: bool) -> Self {
        self.settings.add_idempotency_key = yes;
        self
    }

    /// Stop retrying when the next wait would end after `deadline` from the
    /// first attempt (above 0).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = session_retry::RetryPolicy::builder().deadline(Duration::from_secs(10)).build()?;
    /// assert_eq!(p.deadline(), Some(Duration::from_secs(10)));
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        if deadline.is_zero() {
            self.fail(Error::InvalidSetting {
                setting: "deadline",
                reason: "the deadline must be longer than zero",
            });
        } else {
            self.settings.deadline = Some(deadline);
        }
        self
    }

    /// Uses this retry budget (see [`RetryBudget`] for the defaults).
    ///
    /// ```
    /// let p = session_retry::RetryPolicy::builder()
    ///     .budget(session_retry::RetryBudget::new(10, 5, 1))
    ///     .build()?;
    /// assert_eq!(p.budget().unwrap().capacity(), 10);
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        if budget.retry_cost() == 0 {
            self.fail(Error::InvalidSetting {
                setting: "budget",
                reason: "a retry must cost at least one token",
            });
        } else {
            self.settings.budget = Some(budget);
        }
        self
    }

    /// Turns the retry budget off: every request may use all its retries.
    ///
    /// ```
    /// let p = session_retry::RetryPolicy::builder().no_budget().build()?;
    /// assert!(p.budget().is_none());
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn no_budget(mut self) -> Self {
        self.settings.budget = None;
        self
    }

    /// Adds a custom HTTP classification hook.
    ///
    /// ```
    /// # use session_retry::*;
    /// # #[derive(Debug)] struct Never;
    /// # impl ClassifyHttp for Never { fn classify(&self, _: &HttpAttempt<'_>) -> Option<Verdict> { None } }
    /// let _ = RetryPolicy::builder().classifier(Never).build()?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn classifier(mut self, hook: impl ClassifyHttp + 'static) -> Self {
        self.settings.classifier = Some(SharedHttpClassifier::new(hook));
        self
    }

    /// Uses this sleeper between attempts (default: tokio's timer).
    ///
    /// ```
    /// let _ = session_retry::RetryPolicy::builder().sleep(session_retry::TokioSleep).build()?;
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn sleep(mut self, sleep: impl AsyncSleep + 'static) -> Self {
        self.settings.sleep = Some(SharedAsyncSleep::new(sleep));
        self
    }

    /// Reads `Retry-After` dates with this clock (default: the system clock).
    ///
    /// ```
    /// let _ = session_retry::RetryPolicy::builder().clock(session_core::SharedClock::default()).build()?;
    /// # Ok::<(), session_retry::Error>(())
    /// ```
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.settings.clock = clock;
        self
    }

    /// Builds the policy.
    ///
    /// # Errors
    ///
    /// The first invalid setting: [`Error::InvalidRetry`],
    /// [`Error::InvalidBackoffFactor`], [`Error::InvalidStatusForcelist`] or
    /// [`Error::InvalidSetting`].
    ///
    /// ```
    /// assert!(session_retry::RetryPolicy::builder().build().is_ok());
    /// ```
    pub fn build(self) -> Result<RetryPolicy> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.settings.sleep.is_none() {
            return Err(Error::InvalidSetting {
                setting: "sleep",
                reason: "no sleeper: enable the `tokio` feature or set one with `sleep()`",
            });
        }
        Ok(RetryPolicy {
            inner: Arc::new(self.settings),
        })
    }
}

impl fmt::Debug for RetryPolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicyBuilder")
            .field("retries", &self.settings.retries)
            .field("backoff_factor", &self.settings.backoff_factor)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_validation_error() {
        let retry = |n| RetryPolicy::builder().retries(n).build().unwrap_err();
        for n in [0, -1, i64::from(u32::MAX) + 1] {
            assert_eq!(
                retry(n),
                Error::InvalidRetry {
                    value: n.to_string()
                }
            );
        }
        for f in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = RetryPolicy::builder()
                .backoff_factor(f)
                .build()
                .unwrap_err();
            assert!(matches!(err, Error::InvalidBackoffFactor { .. }), "{f}");
        }
        for s in [0u16, 99, 600, 999] {
            let err = RetryPolicy::builder()
                .status_forcelist([500, s])
                .build()
                .unwrap_err();
            assert_eq!(
                err,
                Error::InvalidStatusForcelist {
                    value: s.to_string()
                }
            );
        }
        assert!(matches!(
            RetryPolicy::builder().max_backoff(Duration::ZERO).build(),
            Err(Error::InvalidSetting {
                setting: "max_backoff",
                ..
            })
        ));
        assert!(matches!(
            RetryPolicy::builder().deadline(Duration::ZERO).build(),
            Err(Error::InvalidSetting {
                setting: "deadline",
                ..
            })
        ));
        assert!(matches!(
            RetryPolicy::builder()
                .budget(RetryBudget::new(10, 0, 1))
                .build(),
            Err(Error::InvalidSetting {
                setting: "budget",
                ..
            })
        ));
    }

    #[test]
    fn messages_say_what_is_allowed() {
        let err = RetryPolicy::builder()
            .backoff_factor(-1.0)
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid backoff factor `-1`: the backoff factor must be a finite number greater than 0"
        );
        let err = RetryPolicy::builder()
            .status_forcelist([700])
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid status `700` in the status forcelist: every entry must be an HTTP status code from 100 to 599"
        );
    }

    #[test]
    fn valid_edges() {
        assert!(RetryPolicy::builder().retries(1).build().is_ok());
        assert!(
            RetryPolicy::builder()
                .backoff_factor(f64::MIN_POSITIVE)
                .build()
                .is_ok()
        );
        assert!(
            RetryPolicy::builder()
                .status_forcelist([100, 599])
                .build()
                .is_ok()
        );
        assert!(RetryPolicy::builder().status_forcelist([]).build().is_ok());
        let p = RetryPolicy::builder().backoff_factor(1.0).build().unwrap();
        assert_eq!(p.schedule(), [1, 2, 4, 8, 16].map(Duration::from_secs));
    }

    #[test]
    fn method_rules() {
        let p = RetryPolicy::default();
        let none = HeaderMap::new();
        for m in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::TRACE,
        ] {
            assert!(p.is_replayable(&m, &none), "{m}");
        }
        for m in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!p.is_replayable(&m, &none), "{m}");
        }
        let opted = RetryPolicy::builder()
            .retry_non_idempotent(true)
            .build()
            .unwrap();
        assert!(opted.is_replayable(&Method::PATCH, &none));
    }
}
