//! Expiry rules: [`ExpiryPolicy`] (buffer, refresh window, leeway) and
//! [`Expiry`] (when something was issued and when it expires).
//!
//! A credential is *expired* once `now + leeway >= expires_at - buffer`, and
//! *needs a refresh* once `now + leeway >= expires_at - window`. The defaults
//! come from long-lived API sessions: a 5-minute buffer and a 15-minute window.
//!
//! Short-lived tokens would make those defaults useless: with a 5-minute token
//! a 15-minute window means every call refreshes. So when the lifetime is known
//! (issue time and expiry both known) the buffer is clamped to **a quarter** of
//! the lifetime and the window to **half** of it. A 5-minute token is refreshed
//! after 2½ minutes and treated as expired in its last 75 seconds; a 1-hour
//! token keeps the full 15 and 5 minutes.
//!
//! Something with an unknown expiry is never expired by time; it is refreshed
//! when the server rejects it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How close to its expiry a credential counts as expired, or due for refresh.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session_core::ExpiryPolicy;
///
/// let policy = ExpiryPolicy::default()
///     .with_refresh_window(Duration::from_secs(600))
///     .with_leeway(Duration::from_secs(30));
/// assert_eq!(policy.expiry_buffer(), Duration::from_secs(300));
/// assert_eq!(policy.refresh_window(), Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryPolicy {
    expiry_buffer: Duration,
    refresh_window: Duration,
    leeway: Duration,
}

impl Default for ExpiryPolicy {
    /// A 5-minute expiry buffer, a 15-minute refresh window and no leeway.
    fn default() -> Self {
        Self {
            expiry_buffer: Duration::from_secs(5 * 60),
            refresh_window: Duration::from_secs(15 * 60),
            leeway: Duration::ZERO,
        }
    }
}

impl ExpiryPolicy {
    /// The default expiry buffer: 5 minutes.
    pub const DEFAULT_EXPIRY_BUFFER: Duration = Duration::from_secs(5 * 60);
    /// The default refresh window: 15 minutes.
    pub const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(15 * 60);

    /// Sets how long before its expiry a credential is treated as expired.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = session_core::ExpiryPolicy::default().with_expiry_buffer(Duration::from_secs(60));
    /// assert_eq!(p.expiry_buffer(), Duration::from_secs(60));
    /// ```
    #[must_use]
    pub fn with_expiry_buffer(mut self, buffer: Duration) -> Self {
        self.expiry_buffer = buffer;
        self
    }

    /// Sets how long before its expiry a credential should be refreshed.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = session_core::ExpiryPolicy::default().with_refresh_window(Duration::from_secs(3600));
    /// assert_eq!(p.refresh_window(), Duration::from_secs(3600));
    /// ```
    #[must_use]
    pub fn with_refresh_window(mut self, window: Duration) -> Self {
        self.refresh_window = window;
        self
    }

    /// Sets an allowance for our clock running behind the server's: "now" is
    /// taken to be this much later.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = session_core::ExpiryPolicy::default().with_leeway(Duration::from_secs(30));
    /// assert_eq!(p.leeway(), Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The configured expiry buffer.
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(session_core::ExpiryPolicy::default().expiry_buffer(), Duration::from_secs(300));
    /// ```
    pub fn expiry_buffer(&self) -> Duration {
        self.expiry_buffer
    }

    /// The configured refresh window.
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(session_core::ExpiryPolicy::default().refresh_window(), Duration::from_secs(900));
    /// ```
    pub fn refresh_window(&self) -> Duration {
        self.refresh_window
    }

    /// The configured clock-skew leeway.
    ///
    /// ```
    /// assert!(session_core::ExpiryPolicy::default().leeway().is_zero());
    /// ```
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// The buffer applied to something with this lifetime: the configured
    /// buffer, at most a quarter of the lifetime.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = session_core::ExpiryPolicy::default();
    /// assert_eq!(p.effective_buffer(Some(Duration::from_secs(300))), Duration::from_secs(75));
    /// assert_eq!(p.effective_buffer(Some(Duration::from_secs(3600))), Duration::from_secs(300));
    /// assert_eq!(p.effective_buffer(None), Duration::from_secs(300));
    /// ```
    pub fn effective_buffer(&self, lifetime: Option<Duration>) -> Duration {
        match lifetime {
            Some(lifetime) => self.expiry_buffer.min(lifetime / 4),
            None => self.expiry_buffer,
        }
    }

    /// The refresh window applied to something with this lifetime: the
    /// configured window, at most half the lifetime, never shorter than the
    /// effective buffer.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let p = session_core::ExpiryPolicy::default();
    /// assert_eq!(p.effective_window(Some(Duration::from_secs(300))), Duration::from_secs(150));
    /// assert_eq!(p.effective_window(Some(Duration::from_secs(3600))), Duration::from_secs(900));
    /// ```
    pub fn effective_window(&self, lifetime: Option<Duration>) -> Duration {
        let window = match lifetime {
            Some(lifetime) => self.refresh_window.min(lifetime / 2),
            None => self.refresh_window,
        };
        window.max(self.effective_buffer(lifetime))
    }

    /// Whether something with this expiry counts as expired at `now`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{Expiry, ExpiryPolicy};
    ///
    /// let now = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let expiry = Expiry::new(Some(now - Duration::from_secs(3600)), Some(now + Duration::from_secs(300)));
    /// assert!(ExpiryPolicy::default().is_expired(&expiry, now)); // inside the 5-minute buffer
    /// assert!(!ExpiryPolicy::default().is_expired(&Expiry::unknown(), now));
    /// ```
    pub fn is_expired(&self, expiry: &Expiry, now: OffsetDateTime) -> bool {
        self.reached(expiry, now, self.effective_buffer(expiry.lifetime()))
    }

    /// Whether something with this expiry is due for a refresh at `now`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{Expiry, ExpiryPolicy};
    ///
    /// let now = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let expiry = Expiry::new(Some(now - Duration::from_secs(3600)), Some(now + Duration::from_secs(600)));
    /// assert!(ExpiryPolicy::default().needs_refresh(&expiry, now));
    /// assert!(!ExpiryPolicy::default().is_expired(&expiry, now));
    /// ```
    pub fn needs_refresh(&self, expiry: &Expiry, now: OffsetDateTime) -> bool {
        self.reached(expiry, now, self.effective_window(expiry.lifetime()))
    }

    /// Like [`needs_refresh`](Self::needs_refresh), with a window chosen by the
    /// caller (still clamped to half the lifetime).
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{Expiry, ExpiryPolicy};
    ///
    /// let now = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let expiry = Expiry::new(Some(now - Duration::from_secs(86_400)), Some(now + Duration::from_secs(3000)));
    /// let hour = Duration::from_secs(3600);
    /// assert!(ExpiryPolicy::default().needs_refresh_within(&expiry, now, hour));
    /// ```
    pub fn needs_refresh_within(
        &self,
        expiry: &Expiry,
        now: OffsetDateTime,
        window: Duration,
    ) -> bool {
        let lifetime = expiry.lifetime();
        let window = match lifetime {
            Some(lifetime) => window.min(lifetime / 2),
            None => window,
        };
        self.reached(expiry, now, window.max(self.effective_buffer(lifetime)))
    }

    fn reached(&self, expiry: &Expiry, now: OffsetDateTime, margin: Duration) -> bool {
        match expiry.expires_at {
            None => false,
            Some(expires_at) => {
                // Saturate instead of overflowing on absurd dates.
                let threshold = expires_at
                    .checked_sub(to_time(margin))
                    .unwrap_or(expires_at);
                let now = now.checked_add(to_time(self.leeway)).unwrap_or(now);
                now >= threshold
            }
        }
    }
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

/// When a credential was issued and when it expires; either may be unknown.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session_core::Expiry;
///
/// let issued = time::macros::datetime!(2030-01-01 12:00 UTC);
/// let expiry = Expiry::new(Some(issued), Some(issued + Duration::from_secs(300)));
/// assert_eq!(expiry.lifetime(), Some(Duration::from_secs(300)));
/// assert!(Expiry::unknown().expires_at.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Expiry {
    /// When it was issued (or requested), if known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub issued_at: Option<OffsetDateTime>,
    /// When it expires, if known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl Expiry {
    /// Builds an expiry.
    ///
    /// ```
    /// let e = session_core::Expiry::new(None, None);
    /// assert_eq!(e, session_core::Expiry::unknown());
    /// ```
    pub fn new(issued_at: Option<OffsetDateTime>, expires_at: Option<OffsetDateTime>) -> Self {
        Self {
            issued_at,
            expires_at,
        }
    }

    /// An expiry that is not known: never expired by time.
    ///
    /// ```
    /// assert!(session_core::Expiry::unknown().lifetime().is_none());
    /// ```
    pub fn unknown() -> Self {
        Self::default()
    }

    /// The full lifetime, when both ends are known and in order.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let backwards = session_core::Expiry::new(Some(t), Some(t - Duration::from_secs(1)));
    /// assert_eq!(backwards.lifetime(), None);
    /// ```
    pub fn lifetime(&self) -> Option<Duration> {
        let (issued, expires) = (self.issued_at?, self.expires_at?);
        Duration::try_from(expires - issued).ok()
    }

    /// Time left until the hard expiry (ignoring any buffer); zero once past,
    /// `None` when unknown.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let e = session_core::Expiry::new(None, Some(t + Duration::from_secs(10)));
    /// assert_eq!(e.remaining(t), Some(Duration::from_secs(10)));
    /// assert_eq!(e.remaining(t + Duration::from_secs(60)), Some(Duration::ZERO));
    /// ```
    pub fn remaining(&self, now: OffsetDateTime) -> Option<Duration> {
        let expires = self.expires_at?;
        Some(Duration::try_from(expires - now).unwrap_or(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const HOUR: Duration = Duration::from_secs(3600);
    const SEC: Duration = Duration::from_secs(1);

    fn hour_token(issued: OffsetDateTime) -> Expiry {
        Expiry::new(Some(issued), Some(issued + HOUR))
    }

    #[test]
    fn expired_exactly_at_the_buffer_and_not_one_second_before() {
        let issued = datetime!(2030-01-01 12:00 UTC);
        let e = hour_token(issued);
        let p = ExpiryPolicy::default();
        let at_buffer = issued + HOUR - Duration::from_secs(300);
        assert!(!p.is_expired(&e, at_buffer - SEC));
        assert!(p.is_expired(&e, at_buffer));
        assert!(p.is_expired(&e, at_buffer + SEC));
    }

    #[test]
    fn refresh_due_exactly_at_the_window_and_not_one_second_before() {
        let issued = datetime!(2030-01-01 12:00 UTC);
        let e = hour_token(issued);
        let p = ExpiryPolicy::default();
        let at_window = issued + HOUR - Duration::from_secs(900);
        assert!(!p.needs_refresh(&e, at_window - SEC));
        assert!(p.needs_refresh(&e, at_window));
        assert!(p.needs_refresh(&e, at_window + SEC));
        assert!(!p.is_expired(&e, at_window));
    }

    #[test]
    fn short_lived_tokens_are_clamped() {
        let issued = datetime!(2030-01-01 12:00 UTC);
        let five_min = Expiry::new(Some(issued), Some(issued + Duration::from_secs(300)));
        let p = ExpiryPolicy::default();
        // Fresh: no refresh yet (an unclamped 15-minute window would say yes).
        assert!(!p.needs_refresh(&five_min, issued));
        assert!(!p.needs_refresh(&five_min, issued + Duration::from_secs(149)));
        assert!(p.needs_refresh(&five_min, issued + Duration::from_secs(150)));
        // Expired only in the last quarter.
        assert!(!p.is_expired(&five_min, issued + Duration::from_secs(224)));
        assert!(p.is_expired(&five_min, issued + Duration::from_secs(225)));
    }

    #[test]
    fn unknown_lifetime_uses_full_margins() {
        let exp = datetime!(2030-01-01 12:00 UTC);
        let e = Expiry::new(None, Some(exp));
        let p = ExpiryPolicy::default();
        assert!(!p.needs_refresh(&e, exp - Duration::from_secs(901)));
        assert!(p.needs_refresh(&e, exp - Duration::from_secs(900)));
    }

    #[test]
    fn unknown_expiry_never_expires_by_time() {
        let p = ExpiryPolicy::default();
        let far = datetime!(9999-01-01 0:00 UTC);
        assert!(!p.is_expired(&Expiry::unknown(), far));
        assert!(!p.needs_refresh(&Expiry::unknown(), far));
    }

    #[test]
    fn leeway_moves_now_forward() {
        let issued = datetime!(2030-01-01 12:00 UTC);
        let e = hour_token(issued);
        let p = ExpiryPolicy::default().with_leeway(Duration::from_secs(30));
        let at_buffer = issued + HOUR - Duration::from_secs(300);
        assert!(!p.is_expired(&e, at_buffer - Duration::from_secs(31)));
        assert!(p.is_expired(&e, at_buffer - Duration::from_secs(30)));
    }

    #[test]
    fn custom_window_for_named_credentials() {
        let issued = datetime!(2030-01-01 0:00 UTC);
        let day = Expiry::new(Some(issued), Some(issued + Duration::from_secs(86_400)));
        let p = ExpiryPolicy::default();
        let before = issued + Duration::from_secs(86_400) - HOUR;
        assert!(!p.needs_refresh_within(&day, before - SEC, HOUR));
        assert!(p.needs_refresh_within(&day, before, HOUR));
    }

    #[test]
    fn huge_margins_do_not_panic() {
        let t = datetime!(2030-01-01 0:00 UTC);
        let e = Expiry::new(None, Some(t));
        let p = ExpiryPolicy::default()
            .with_expiry_buffer(Duration::MAX)
            .with_leeway(Duration::MAX);
        let _ = p.is_expired(&e, t);
        let _ = p.needs_refresh(&e, t);
    }
}
