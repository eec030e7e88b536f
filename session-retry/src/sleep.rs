//! Injected waiting: [`AsyncSleep`], the tokio sleeper, and the
//! [`SharedAsyncSleep`] handle.
//!
//! The engine never calls a timer directly, so tests run in virtual time:
//! either tokio's paused clock (the default sleeper follows it) or a sleeper
//! of their own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A boxed, sendable future that completes after a wait.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Waits, and tells the time on the same (possibly virtual) clock.
///
/// # Examples
///
/// A sleeper that returns at once, for tests that only count waits:
///
/// ```
/// use std::time::{Duration, Instant};
/// use session_retry::{AsyncSleep, SleepFuture};
///
/// #[derive(Debug)]
/// struct NoWait(Instant);
///
/// impl AsyncSleep for NoWait {
///     fn sleep(&self, _: Duration) -> SleepFuture {
///         Box::pin(async {})
///     }
///     fn now(&self) -> Instant {
///         self.0
///     }
/// }
/// ```
pub trait AsyncSleep: Send + Sync + fmt::Debug {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture;

    /// The current instant on this sleeper's clock, used to measure elapsed
    /// time against a deadline.
    fn now(&self) -> Instant;
}

/// Sleeps on tokio's timer; follows tokio's paused clock in tests.
///
/// ```
/// use session_retry::{AsyncSleep, TokioSleep};
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = TokioSleep.now();
/// TokioSleep.sleep(std::time::Duration::from_secs(60)).await; // instant under paused time
/// assert_eq!(TokioSleep.now() - start, std::time::Duration::from_secs(60));
/// # }
/// ```
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleep;

#[cfg(feature = "tokio")]
impl AsyncSleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A cheaply cloneable handle to any [`AsyncSleep`].
///
/// ```
/// use session_retry::{SharedAsyncSleep, TokioSleep};
/// let sleep = SharedAsyncSleep::new(TokioSleep);
/// let _clone = sleep.clone();
/// ```
#[derive(Clone)]
pub struct SharedAsyncSleep(Arc<dyn AsyncSleep>);

impl SharedAsyncSleep {
    /// Wraps a sleeper.
    ///
    /// ```
    /// let _ = session_retry::SharedAsyncSleep::new(session_retry::TokioSleep);
    /// ```
    pub fn new(sleep: impl AsyncSleep + 'static) -> Self {
        Self(Arc::new(sleep))
    }

    /// The default sleeper: tokio's timer.
    ///
    /// ```
    /// let _ = session_retry::SharedAsyncSleep::tokio();
    /// ```
    #[cfg(feature = "tokio")]
    pub fn tokio() -> Self {
        Self::new(TokioSleep)
    }
}

impl AsyncSleep for SharedAsyncSleep {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.0.sleep(duration)
    }

    fn now(&self) -> Instant {
        self.0.now()
    }
}

impl fmt::Debug for SharedAsyncSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedAsyncSleep").field(&self.0).finish()
    }
}
