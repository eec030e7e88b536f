//! The server session error type.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong managing server sessions.
///
/// ```
/// let err = session_server::Error::MalformedId;
/// assert_eq!(err.to_string(), "the session id is malformed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value was invalid (from the environment or code).
    #[error("invalid value {value:?} for {variable}: expected {expected}")]
    Config {
        /// The variable (e.g. `SESSION_DEFAULT_TIMEOUT`).
        variable: &'static str,
        /// The value found.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A requested timeout was outside the configured bounds.
    #[error("timeout {requested}s is outside the allowed {min}s to {max}s")]
    TimeoutOutOfRange {
        /// The timeout asked for.
        requested: u64,
        /// The minimum.
        min: u64,
        /// The maximum.
        max: u64,
    },
    /// The user id was empty, too long, or held control characters.
    #[error("the user id must be 1 to 256 characters, none of them control characters")]
    InvalidUserId,
    /// The metadata held a NUL character (in a key or a string), which not
    /// every store can keep.
    #[error("the metadata can't hold NUL characters")]
    InvalidMetadata,
    /// A session id was not the right shape (checked before the store).
    #[error("the session id is malformed")]
    MalformedId,
    /// The session does not exist (or expired).
    #[error("no such session")]
    NotFound,
    /// The request has no session to keep a value in (log the user in
    /// first).
    #[error("there is no session: log in first")]
    NoSession,
    /// A session value couldn't be stored (it isn't JSON, or holds a NUL)
    /// or isn't of the type asked for. The value itself is never quoted.
    #[error("the session value under {key:?} is not valid for this use")]
    InvalidValue {
        /// The key.
        key: String,
    },
    /// The store failed.
    #[error("the session store failed")]
    Store(#[source] session_core::Error),
}

impl Error {
    /// Whether retrying later may help (a store that is down or busy).
    ///
    /// ```
    /// assert!(!session_server::Error::NotFound.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_retryable())
    }
}

impl From<session_core::Error> for Error {
    fn from(e: session_core::Error) -> Self {
        Self::Store(e)
    }
}

/// A handler may return this error: a JSON `{"detail": …}` with the status
/// the failure calls for (401 without a session, 404 for a session that is
/// gone, 422 for bad input, 500 otherwise, logged without details sent).
///
/// ```
/// use axum::response::IntoResponse;
/// let response = session_server::Error::NoSession.into_response();
/// assert_eq!(response.status(), 401);
/// ```
impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        use http::StatusCode;
        let status = match &self {
            Self::NoSession | Self::MalformedId => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::TimeoutOutOfRange { .. } | Self::InvalidUserId | Self::InvalidMetadata => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Config { .. } | Self::InvalidValue { .. } | Self::Store(_) => {
                tracing::error!(target: "session_server", error = %self, "session handling failed");
                return crate::extract::rejection(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                );
            }
        };
        crate::extract::rejection(status, &self.to_string())
    }
}
