//! The session-auth error type.

use std::sync::Arc;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong using a [`Session`](crate::Session).
///
/// Messages never contain a credential, a header value or a query string;
/// transport errors are stripped of their URL.
///
/// # Examples
///
/// ```
/// use session_auth::{BearerAuth, Error, Session};
///
/// let err = Session::builder().auth(BearerAuth::new("")).build().unwrap_err();
/// assert!(matches!(err, Error::InvalidCredential { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session was closed; every clone of it refuses further requests.
    #[error("the session is closed; create a new session to make requests")]
    SessionClosed,

    /// A credential given to a strategy was unusable.
    #[error("invalid credential")]
    InvalidCredential(#[source] session_core::Error),

    /// A builder setting was invalid.
    #[error("invalid session setting {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// What is allowed.
        reason: &'static str,
    },

    /// The retry settings were invalid.
    #[error("invalid retry settings")]
    InvalidRetry(#[source] session_retry::Error),

    /// A request URL could not be built.
    #[error("invalid request URL: {reason}")]
    InvalidUrl {
        /// What was wrong (never the URL itself, which may hold secrets).
        reason: &'static str,
    },

    /// Credentials would have gone over plain `http://` to a host that is not
    /// loopback; allow it explicitly with `allow_insecure_http(true)`.
    #[error(
        "refusing to send credentials over plain http to {host}; use https or allow it explicitly"
    )]
    InsecureTransport {
        /// The host.
        host: String,
    },

    /// No usable credentials could be had (no token and no way to sign in,
    /// or sign-in was rejected).
    #[error("not authenticated")]
    NotAuthenticated(#[source] session_core::Error),

    /// Obtaining or refreshing a token failed.
    #[error("token refresh failed")]
    Refresh(#[source] Arc<session_core::Error>),

    /// Another authentication failure.
    #[error("authentication failed")]
    Auth(#[source] session_core::Error),

    /// Sending the request failed (connect, timeout, reset, …).
    #[error("the HTTP request failed")]
    Transport(#[source] reqwest::Error),

    /// More redirects than allowed.
    #[error("too many redirects (more than {limit})")]
    TooManyRedirects {
        /// The configured limit.
        limit: usize,
    },

    /// Saving or loading the session failed.
    #[error("could not persist the session")]
    Store(#[source] session_core::Error),
}

impl Error {
    /// Whether the session was closed.
    ///
    /// ```
    /// assert!(session_auth::Error::SessionClosed.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::SessionClosed)
    }

    /// Whether the failure was a timeout.
    ///
    /// ```
    /// assert!(!session_auth::Error::SessionClosed.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Transport(e) if e.is_timeout())
    }

    /// Whether there are no usable credentials.
    ///
    /// ```
    /// let err = session_auth::Error::NotAuthenticated(session_core::Error::NotAuthenticated { reason: "no token" });
    /// assert!(err.is_not_authenticated());
    /// ```
    pub fn is_not_authenticated(&self) -> bool {
        match self {
            Self::NotAuthenticated(_) => true,
            Self::Refresh(e) => e.is_not_authenticated() || e.is_invalid_grant(),
            _ => false,
        }
    }

    /// Whether trying again later may succeed.
    ///
    /// ```
    /// assert!(!session_auth::Error::SessionClosed.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(e) => session_retry::reqwest::error_kind(e).is_transient(),
            Self::Refresh(e) => e.is_retryable(),
            Self::Auth(e) | Self::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// Wraps a core error from a strategy or provider in the right variant.
    pub(crate) fn from_core(err: session_core::Error) -> Self {
        if err.is_not_authenticated() {
            return Self::NotAuthenticated(err);
        }
        match err {
            e @ session_core::Error::InvalidCredential { .. } => Self::InvalidCredential(e),
            session_core::Error::Shared(shared) => Self::Refresh(shared),
            e => Self::Auth(e),
        }
    }

    /// A transport error without its URL (which may carry a query secret).
    pub(crate) fn transport(err: reqwest::Error) -> Self {
        Self::Transport(err.without_url())
    }
}
