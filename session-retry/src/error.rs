//! The retry crate's error: invalid configuration, one variant per setting.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A retry setting was invalid. Each message says what was wrong and what is
/// allowed.
///
/// # Examples
///
/// ```
/// use session_retry::{Error, RetryPolicy};
///
/// let err = RetryPolicy::builder().retries(0).build().unwrap_err();
/// assert!(matches!(err, Error::InvalidRetry { .. }));
/// assert_eq!(
///     err.to_string(),
///     "invalid retries `0`: retries must be a positive integer (1 or more)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `retries` was not a positive integer.
    #[error("invalid retries `{value}`: retries must be a positive integer (1 or more)")]
    InvalidRetry {
        /// The value given, as text.
        value: String,
    },

    /// `backoff_factor` was zero, negative, NaN or infinite.
    #[error(
        "invalid backoff factor `{value}`: the backoff factor must be a finite number greater than 0"
    )]
    InvalidBackoffFactor {
        /// The value given, as text.
        value: String,
    },

    /// A status in `status_forcelist` was not an HTTP status code.
    #[error(
        "invalid status `{value}` in the status forcelist: every entry must be an HTTP status code from 100 to 599"
    )]
    InvalidStatusForcelist {
        /// The offending entry, as text.
        value: String,
    },

    /// Another setting was out of range.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// What is allowed.
        reason: &'static str,
    },
}
