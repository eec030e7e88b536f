//! The backoff schedule: `delay(n) = backoff_factor × 2^(n−1)` for retry
//! n = 1, 2, …, capped, with optional [`Jitter`].
//!
//! With the defaults (factor 2.0) the waits are 2, 4, 8, 16 and 32 seconds.
//! Unlike urllib3, which retries the first time without waiting, every retry
//! here waits — the first one `backoff_factor` seconds.

use std::time::Duration;

/// Randomness added to each wait so many clients don't retry in lockstep.
///
/// Off by default so the schedule is exact.
///
/// ```
/// use std::time::Duration;
/// use session_retry::Jitter;
///
/// let d = Duration::from_secs(8);
/// assert_eq!(Jitter::None.apply(d), d);
/// assert!(Jitter::Full.apply(d) <= d);
/// assert!(Jitter::Equal.apply(d) >= d / 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// The exact schedule.
    #[default]
    None,
    /// A uniformly random wait between zero and the computed delay.
    Full,
    /// Half the computed delay plus a random part of the other half.
    Equal,
}

impl Jitter {
    /// Applies the jitter to a computed delay.
    ///
    /// ```
    /// use std::time::Duration;
    /// let d = session_retry::Jitter::Equal.apply(Duration::from_secs(2));
    /// assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(2));
    /// ```
    pub fn apply(self, delay: Duration) -> Duration {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        match self {
            Self::None => delay,
            Self::Full => Duration::from_nanos(fastrand::u64(0..=nanos)),
            Self::Equal => {
                let half = nanos / 2;
                Duration::from_nanos(half + fastrand::u64(0..=nanos - half))
            }
        }
    }
}

/// The wait before retry `retry` (1-based): `backoff_factor × 2^(retry−1)`
/// seconds, before any cap or jitter. Retry 0 waits nothing. Saturates
/// instead of overflowing.
///
/// ```
/// use std::time::Duration;
/// use session_retry::backoff_delay;
///
/// let waits: Vec<u64> = (1..=5).map(|n| backoff_delay(2.0, n).as_secs()).collect();
/// assert_eq!(waits, [2, 4, 8, 16, 32]);
/// assert_eq!(backoff_delay(0.5, 1), Duration::from_millis(500));
/// ```
pub fn backoff_delay(backoff_factor: f64, retry: u32) -> Duration {
    if retry == 0 || !backoff_factor.is_finite() || backoff_factor <= 0.0 {
        return Duration::ZERO;
    }
    let exponent = i32::try_from(retry - 1).unwrap_or(i32::MAX);
    let secs = backoff_factor * 2f64.powi(exponent);
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(factor: f64) -> Vec<f64> {
        (1..=5)
            .map(|n| backoff_delay(factor, n).as_secs_f64())
            .collect()
    }

    #[test]
    fn seed_schedules() {
        assert_eq!(secs(2.0), [2.0, 4.0, 8.0, 16.0, 32.0]);
        assert_eq!(secs(1.0), [1.0, 2.0, 4.0, 8.0, 16.0]);
        assert_eq!(secs(0.5), [0.5, 1.0, 2.0, 4.0, 8.0]);
    }

    #[test]
    fn saturates() {
        assert_eq!(backoff_delay(2.0, u32::MAX), Duration::MAX);
        assert_eq!(backoff_delay(f64::MAX, 3), Duration::MAX);
        assert_eq!(backoff_delay(2.0, 0), Duration::ZERO);
    }

    #[test]
    fn jitter_bounds() {
        let d = Duration::from_millis(1000);
        for _ in 0..2000 {
            let full = Jitter::Full.apply(d);
            assert!(full <= d);
            let equal = Jitter::Equal.apply(d);
            assert!(equal >= d / 2 && equal <= d, "{equal:?}");
        }
        // Full jitter actually spreads: not every sample is the same.
        let samples: std::collections::HashSet<_> =
            (0..50).map(|_| Jitter::Full.apply(d)).collect();
        assert!(samples.len() > 10);
        assert_eq!(Jitter::Full.apply(Duration::ZERO), Duration::ZERO);
        let _ = Jitter::Equal.apply(Duration::MAX);
    }
}
