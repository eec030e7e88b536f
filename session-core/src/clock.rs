//! The injectable wall clock: [`Clock`], [`SystemClock`], [`SharedClock`] and,
//! with the `test-util` feature, [`ManualClock`].
//!
//! Every time computation in session-kit asks a clock for "now", so tests can
//! move time by hand instead of sleeping. This is the only module that reads
//! the system time.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

/// A source of the current wall-clock time, in UTC.
///
/// # Examples
///
/// ```
/// use session_core::{Clock, SystemClock};
///
/// let now = SystemClock.now();
/// assert!(now.year() >= 2024);
/// ```
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;

    /// The current time as nanoseconds since the Unix epoch: the same
    /// instant as [`now`](Clock::now), for hot paths that only compare
    /// instants. Override it when your clock can answer faster than
    /// building an `OffsetDateTime`.
    ///
    /// ```
    /// use session_core::{Clock, SystemClock};
    /// assert!(SystemClock.unix_nanos() > 1_700_000_000_000_000_000);
    /// ```
    fn unix_nanos(&self) -> i128 {
        self.now().unix_timestamp_nanos()
    }

    /// Whether this clock is the system's own, so that monotonic timers
    /// (which follow the system's time, not an injected one) can stand in
    /// for reading it. `false` unless a clock says otherwise.
    ///
    /// ```
    /// use session_core::{Clock, SystemClock};
    /// assert!(SystemClock.is_system());
    /// ```
    fn is_system(&self) -> bool {
        false
    }
}

/// The operating system's clock.
///
/// ```
/// use session_core::{Clock, SystemClock};
/// let a = SystemClock.now();
/// assert!(SystemClock.now() >= a - std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system time
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[allow(clippy::disallowed_methods)] // the one place that reads the system time
    fn unix_nanos(&self) -> i128 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => since.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        }
    }

    fn is_system(&self) -> bool {
        true
    }
}

/// A cheaply cloneable handle to any [`Clock`].
///
/// Defaults to the [`SystemClock`].
///
/// ```
/// use session_core::SharedClock;
///
/// let clock = SharedClock::default();
/// let _now = clock.now();
/// ```
#[derive(Clone)]
pub struct SharedClock(Arc<dyn Clock>);

impl SharedClock {
    /// Wraps a clock.
    ///
    /// ```
    /// use session_core::{SharedClock, SystemClock};
    /// let clock = SharedClock::new(SystemClock);
    /// # let _ = clock;
    /// ```
    pub fn new(clock: impl Clock) -> Self {
        Self(Arc::new(clock))
    }

    /// The current time according to the wrapped clock.
    ///
    /// ```
    /// let _ = session_core::SharedClock::default().now();
    /// ```
    pub fn now(&self) -> OffsetDateTime {
        self.0.now()
    }

    /// The current time as nanoseconds since the Unix epoch.
    ///
    /// ```
    /// let clock = session_core::SharedClock::default();
    /// let (a, b) = (clock.unix_nanos(), clock.now().unix_timestamp_nanos());
    /// assert!(b >= a && b - a < 1_000_000_000);
    /// ```
    pub fn unix_nanos(&self) -> i128 {
        self.0.unix_nanos()
    }

    /// Whether the shared clock is the system's own.
    ///
    /// ```
    /// assert!(session_core::SharedClock::default().is_system());
    /// ```
    pub fn is_system(&self) -> bool {
        self.0.is_system()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self::new(SystemClock)
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedClock").field(&self.0).finish()
    }
}

impl Clock for SharedClock {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }

    fn unix_nanos(&self) -> i128 {
        self.0.unix_nanos()
    }

    fn is_system(&self) -> bool {
        self.0.is_system()
    }
}

#[cfg(feature = "test-util")]
pub use manual::ManualClock;

#[cfg(feature = "test-util")]
mod manual {
    use std::sync::Arc;
    use std::time::Duration;

    use parking_lot::Mutex;
    use time::OffsetDateTime;

    use super::Clock;

    /// A clock that only moves when told to. Clones share the same time.
    ///
    /// Available with the `test-util` feature.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::at_unix(1_700_000_000);
    /// let before = clock.now();
    /// clock.advance(Duration::from_secs(90));
    /// assert_eq!(clock.now() - before, time::Duration::seconds(90));
    /// ```
    #[derive(Debug, Clone)]
    pub struct ManualClock {
        now: Arc<Mutex<OffsetDateTime>>,
    }

    impl ManualClock {
        /// A clock stopped at `start`.
        ///
        /// ```
        /// use session_core::{Clock, ManualClock};
        /// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
        /// assert_eq!(ManualClock::new(t).now(), t);
        /// ```
        pub fn new(start: OffsetDateTime) -> Self {
            Self {
                now: Arc::new(Mutex::new(start)),
            }
        }

        /// A clock stopped at `secs` seconds after the Unix epoch.
        ///
        /// # Panics
        ///
        /// Panics if `secs` is outside the range of dates `time` can represent.
        ///
        /// ```
        /// use session_core::{Clock, ManualClock};
        /// assert_eq!(ManualClock::at_unix(0).now().unix_timestamp(), 0);
        /// ```
        pub fn at_unix(secs: i64) -> Self {
            Self::new(OffsetDateTime::from_unix_timestamp(secs).expect("timestamp in range"))
        }

        /// Moves the clock forward.
        ///
        /// ```
        /// use std::time::Duration;
        /// use session_core::{Clock, ManualClock};
        /// let clock = ManualClock::at_unix(0);
        /// clock.advance(Duration::from_secs(5));
        /// assert_eq!(clock.now().unix_timestamp(), 5);
        /// ```
        pub fn advance(&self, by: Duration) {
            let mut now = self.now.lock();
            *now += by;
        }

        /// Moves the clock backward (to simulate a clock that jumped).
        ///
        /// ```
        /// use std::time::Duration;
        /// use session_core::{Clock, ManualClock};
        /// let clock = ManualClock::at_unix(10);
        /// clock.rewind(Duration::from_secs(4));
        /// assert_eq!(clock.now().unix_timestamp(), 6);
        /// ```
        pub fn rewind(&self, by: Duration) {
            let mut now = self.now.lock();
            *now -= by;
        }

        /// Sets the clock to `to`.
        ///
        /// ```
        /// use session_core::{Clock, ManualClock};
        /// let clock = ManualClock::at_unix(0);
        /// clock.set(time::macros::datetime!(2031-05-06 7:08 UTC));
        /// assert_eq!(clock.now().year(), 2031);
        /// ```
        pub fn set(&self, to: OffsetDateTime) {
            *self.now.lock() = to;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> OffsetDateTime {
            *self.now.lock()
        }
    }
}
