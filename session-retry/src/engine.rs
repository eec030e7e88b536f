//! The retry loop: [`retry`] for any async operation, [`retry_with`] with a
//! classifier and a [`RetryScope`], and the [`RetryOutcome`] they report.

use std::future::Future;
use std::time::Duration;

use crate::classify::{Classify, RetryReason, Verdict};
use crate::policy::RetryPolicy;
use crate::retry_after::RetryAfter;
use crate::sleep::AsyncSleep;

/// Why the engine stopped.
///
/// ```
/// assert_ne!(session_retry::Stop::Success, session_retry::Stop::Exhausted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stop {
    /// The last attempt succeeded.
    Success,
    /// The last result was not retryable.
    NotRetryable,
    /// Every retry was used.
    Exhausted,
    /// The request may have reached the server and is not safe to replay.
    NotReplayable,
    /// The server's `Retry-After` asked for a longer wait than allowed.
    RetryAfterTooLong,
    /// The retry budget for this host is empty.
    BudgetExhausted,
    /// The next wait would cross the deadline.
    Deadline,
    /// The request body could not be cloned, so only one attempt was made.
    NotCloneable,
}

/// What a retried operation produced, and how it got there.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let policy = session_retry::RetryPolicy::default();
/// let outcome = session_retry::retry(&policy, |attempt| async move {
///     if attempt < 3 { Err("flaky") } else { Ok(attempt) }
/// })
/// .await;
/// assert_eq!(outcome.result, Ok(3));
/// assert_eq!(outcome.attempts, 3);
/// assert_eq!(outcome.total_wait.as_secs(), 2 + 4);
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RetryOutcome<T, E> {
    /// The last attempt's result.
    pub result: Result<T, E>,
    /// How many attempts were made (1 + retries).
    pub attempts: u32,
    /// The total time spent waiting between attempts.
    pub total_wait: Duration,
    /// Why the engine stopped.
    pub stop: Stop,
    /// The reason of the last retry, if there was one.
    pub last_retry_reason: Option<RetryReason>,
}

impl<T, E> RetryOutcome<T, E> {
    /// How many retries were made.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let policy = session_retry::RetryPolicy::default();
    /// let outcome = session_retry::retry(&policy, |_| async { Ok::<_, ()>(()) }).await;
    /// assert_eq!(outcome.retries(), 0);
    /// # }
    /// ```
    pub fn retries(&self) -> u32 {
        self.attempts.saturating_sub(1)
    }

    /// The last attempt's result.
    ///
    /// # Errors
    ///
    /// The last attempt's error.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let policy = session_retry::RetryPolicy::default();
    /// let value = session_retry::retry(&policy, |_| async { Ok::<_, ()>(7) }).await.into_result();
    /// assert_eq!(value, Ok(7));
    /// # }
    /// ```
    pub fn into_result(self) -> Result<T, E> {
        self.result
    }

    #[cfg(feature = "reqwest")]
    pub(crate) fn single(result: Result<T, E>, stop: Stop) -> Self {
        Self {
            result,
            attempts: 1,
            total_wait: Duration::ZERO,
            stop,
            last_retry_reason: None,
        }
    }
}

/// What is being retried: its budget partition (usually the host) and whether
/// it may be replayed after it may have reached the server.
///
/// ```
/// let scope = session_retry::RetryScope::new("api.example.com:443").replayable(false);
/// assert!(!scope.is_replayable());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RetryScope<'a> {
    partition: &'a str,
    replayable: bool,
}

impl<'a> RetryScope<'a> {
    /// A replayable scope in this budget partition.
    ///
    /// ```
    /// assert!(session_retry::RetryScope::new("host").is_replayable());
    /// ```
    pub fn new(partition: &'a str) -> Self {
        Self {
            partition,
            replayable: true,
        }
    }

    /// Sets whether the operation may be repeated once it may have had an effect.
    ///
    /// ```
    /// assert!(!session_retry::RetryScope::new("h").replayable(false).is_replayable());
    /// ```
    pub fn replayable(mut self, yes: bool) -> Self {
        self.replayable = yes;
        self
    }

    /// Whether the operation may be repeated once it may have had an effect.
    ///
    /// ```
    /// assert!(session_retry::RetryScope::new("h").is_replayable());
    /// ```
    pub fn is_replayable(&self) -> bool {
        self.replayable
    }

    /// The budget partition.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryScope::new("h").partition(), "h");
    /// ```
    pub fn partition(&self) -> &'a str {
        self.partition
    }
}

/// Runs `op` until it succeeds, treating every `Err` as transient.
///
/// `op` receives the attempt number (1, 2, …). Waits follow the policy's
/// schedule; the policy's budget is drawn from the partition `""`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let policy = session_retry::RetryPolicy::builder().retries(2).build().unwrap();
/// let outcome = session_retry::retry(&policy, |_| async { Err::<(), _>("down") }).await;
/// assert_eq!(outcome.attempts, 3);
/// assert_eq!(outcome.stop, session_retry::Stop::Exhausted);
/// # }
/// ```
pub async fn retry<T, E, F, Fut>(policy: &RetryPolicy, op: F) -> RetryOutcome<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let any_error = |r: &Result<T, E>| match r {
        Ok(_) => Verdict::Success,
        Err(_) => Verdict::retry(RetryReason::Custom("error")),
    };
    retry_with(policy, RetryScope::new(""), &any_error, op).await
}

/// Runs `op` under `policy`, asking `classifier` what each result means.
///
/// Between attempts it waits the `Retry-After` the server asked for (when
/// usable and within `max_retry_after`) or the policy's computed delay.
/// It stops, returning the last result, when an attempt succeeds or is
/// fatal, the retries are used up, a result that may have reached the server
/// is not replayable, `Retry-After` is too long, the next wait would cross the
/// deadline, or the budget is empty. One `tracing` event is emitted per retry.
///
/// ```
/// use session_retry::{retry_with, RetryPolicy, RetryReason, RetryScope, Stop, Verdict};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let policy = RetryPolicy::default();
/// let classify = |r: &Result<u16, ()>| match r {
///     Ok(503) => Verdict::retry(RetryReason::Custom("busy")),
///     _ => Verdict::Success,
/// };
/// // Not replayable, and the attempt reached the server: no retry.
/// let scope = RetryScope::new("orders").replayable(false);
/// let outcome = retry_with(&policy, scope, &classify, |_| async { Ok(503) }).await;
/// assert_eq!((outcome.attempts, outcome.stop), (1, Stop::NotReplayable));
/// # }
/// ```
pub async fn retry_with<T, E, C, F, Fut>(
    policy: &RetryPolicy,
    scope: RetryScope<'_>,
    classifier: &C,
    mut op: F,
) -> RetryOutcome<T, E>
where
    C: Classify<T, E> + ?Sized,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let sleeper = policy.sleeper();
    // Elapsed time only matters against a deadline.
    let start = policy.deadline().map(|_| sleeper.now());
    let mut total_wait = Duration::ZERO;
    let mut attempt: u32 = 1;
    let mut last_retry_reason = None;
    loop {
        let result = op(attempt).await;
        let stop = match classifier.classify(&result) {
            Verdict::Success => {
                if let Some(budget) = policy.budget() {
                    budget.refill(scope.partition);
                }
                Stop::Success
            }
            Verdict::Fatal => Stop::NotRetryable,
            Verdict::Retry {
                reason,
                may_have_reached_server,
                retry_after,
            } => match next_wait(policy, scope, attempt, may_have_reached_server, retry_after) {
                Err(stop) => stop,
                Ok(delay) => {
                    let over_deadline = match (policy.deadline(), start) {
                        (Some(deadline), Some(start)) => {
                            let elapsed = sleeper.now().saturating_duration_since(start);
                            elapsed.saturating_add(delay) > deadline
                        }
                        _ => false,
                    };
                    if over_deadline {
                        Stop::Deadline
                    } else if policy
                        .budget()
                        .is_some_and(|budget| !budget.try_spend(scope.partition))
                    {
                        Stop::BudgetExhausted
                    } else {
                        tracing::info!(
                            target: "session_retry",
                            retry = attempt,
                            reason = %reason,
                            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                            partition = scope.partition,
                            "retrying",
                        );
                        drop(result);
                        sleeper.sleep(delay).await;
                        total_wait = total_wait.saturating_add(delay);
                        attempt += 1;
                        last_retry_reason = Some(reason);
                        continue;
                    }
                }
            },
        };
        return RetryOutcome {
            result,
            attempts: attempt,
            total_wait,
            stop,
            last_retry_reason,
        };
    }
}

/// The wait before the next attempt, or why there is none.
fn next_wait(
    policy: &RetryPolicy,
    scope: RetryScope<'_>,
    attempt: u32,
    may_have_reached_server: bool,
    retry_after: Option<RetryAfter>,
) -> Result<Duration, Stop> {
    if attempt > policy.retries() {
        return Err(Stop::Exhausted);
    }
    if may_have_reached_server && !scope.replayable {
        return Err(Stop::NotReplayable);
    }
    match retry_after {
        Some(RetryAfter::Wait(wait)) if wait > policy.max_retry_after() => {
            Err(Stop::RetryAfterTooLong)
        }
        Some(RetryAfter::Wait(wait)) => Ok(wait),
        _ => Ok(policy.delay_for(attempt)),
    }
}
