//! Reading `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date in
//! any of its three forms (IMF-fixdate, RFC 850, asctime).

use std::time::Duration;

use session_core::time::OffsetDateTime;

/// What a `Retry-After` value asks for.
///
/// ```
/// use std::time::Duration;
/// use session_retry::RetryAfter;
///
/// let now = time::macros::datetime!(2015-10-21 07:28:00 UTC);
/// assert_eq!(RetryAfter::parse("120", now), RetryAfter::Wait(Duration::from_secs(120)));
/// assert_eq!(
///     RetryAfter::parse("Wed, 21 Oct 2015 07:29:00 GMT", now),
///     RetryAfter::Wait(Duration::from_secs(60))
/// );
/// assert_eq!(RetryAfter::parse("soon", now), RetryAfter::Unusable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAfter {
    /// Wait this long before retrying.
    Wait(Duration),
    /// Garbage, negative, or a date already past: use the computed backoff.
    Unusable,
}

impl RetryAfter {
    /// Parses a header value, measuring dates from `now`.
    ///
    /// ```
    /// use session_retry::RetryAfter;
    /// let now = time::macros::datetime!(2015-10-21 07:28:00 UTC);
    /// assert_eq!(RetryAfter::parse("-5", now), RetryAfter::Unusable);
    /// ```
    pub fn parse(value: &str, now: OffsetDateTime) -> Self {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Delay-seconds; absurdly long values saturate (and then exceed any cap).
            return Self::Wait(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
        }
        let Ok(at) = httpdate::parse_http_date(value) else {
            return Self::Unusable;
        };
        let at = OffsetDateTime::from(at);
        match Duration::try_from(at - now) {
            Ok(wait) if !wait.is_zero() => Self::Wait(wait),
            _ => Self::Unusable,
        }
    }

    /// Parses a header value given as raw bytes (non-UTF-8 is unusable).
    ///
    /// ```
    /// use session_retry::RetryAfter;
    /// let now = time::macros::datetime!(2015-10-21 07:28:00 UTC);
    /// assert_eq!(RetryAfter::parse_bytes(b"\xff", now), RetryAfter::Unusable);
    /// ```
    pub fn parse_bytes(value: &[u8], now: OffsetDateTime) -> Self {
        std::str::from_utf8(value).map_or(Self::Unusable, |v| Self::parse(v, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(1994-11-06 08:49:00 UTC);

    #[test]
    fn retry_after_table() {
        let wait = |s| RetryAfter::Wait(Duration::from_secs(s));
        let cases: &[(&str, RetryAfter)] = &[
            ("0", wait(0)),
            ("7", wait(7)),
            (" 30 ", wait(30)),
            ("99999999999999999999999", wait(u64::MAX)),
            // The three HTTP-date forms, 37 seconds ahead.
            ("Sun, 06 Nov 1994 08:49:37 GMT", wait(37)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", wait(37)),
            ("Sun Nov  6 08:49:37 1994", wait(37)),
            // Past and present dates: unusable.
            ("Sun, 06 Nov 1994 08:48:00 GMT", RetryAfter::Unusable),
            ("Sun, 06 Nov 1994 08:49:00 GMT", RetryAfter::Unusable),
            // Garbage and negatives.
            ("-5", RetryAfter::Unusable),
            ("1.5", RetryAfter::Unusable),
            ("", RetryAfter::Unusable),
            ("soon", RetryAfter::Unusable),
            ("+3", RetryAfter::Unusable),
            ("Sun, 32 Nov 1994 08:49:37 GMT", RetryAfter::Unusable),
        ];
        for (value, want) in cases {
            assert_eq!(RetryAfter::parse(value, NOW), *want, "{value:?}");
        }
    }
}
