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
/// assert!(matches!(err, Error::UnusableCredential { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session was closed; every clone of it refuses further requests.
    #[error("the session is closed; create a new session to make requests")]
    SessionClosed,

    /// The session was signed out: nothing is sent and no sign-in happens by
    /// itself until [`Session::sign_in`](crate::Session::sign_in).
    #[error("the session was signed out; sign in again to make requests")]
    SignedOut,

    /// The sign-in credentials (password, client secret) were rejected.
    #[error("the sign-in credentials were rejected")]
    InvalidCredentials(#[source] session_core::Error),

    /// The request's timeout passed while waiting for credentials (a token
    /// endpoint that doesn't answer).
    #[error("timed out waiting for {waiting_for}")]
    Timeout {
        /// What was being waited for.
        waiting_for: &'static str,
    },

    /// A credential given to a strategy was unusable.
    #[error("invalid credential")]
    UnusableCredential(#[source] session_core::Error),

    /// A builder setting was invalid.
    #[error("invalid session setting {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// What is allowed.
        reason: &'static str,
    },

    /// A request URL could not be built.
    #[error("invalid request URL: {reason}")]
    InvalidUrl {
        /// What was wrong (never the URL itself, which may hold secrets).
        reason: &'static str,
    },

    /// A request could not be built: an invalid header name or value, or a
    /// query, form or JSON body that did not serialize.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What was wrong (never a header value, which may be a secret).
        reason: &'static str,
        /// The parser's or serializer's error.
        #[source]
        source: session_core::BoxError,
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
    Transport(#[source] TransportError),

    /// A layer below the session (another middleware) failed.
    #[error("a middleware below the session failed")]
    Middleware(#[source] session_core::BoxError),

    /// More redirects than allowed.
    #[error("too many redirects (more than {limit})")]
    TooManyRedirects {
        /// The configured limit.
        limit: usize,
    },

    /// No session of that name is registered.
    #[error("no session named {name:?}")]
    UnknownSession {
        /// The name asked for.
        name: String,
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
        matches!(self, Self::Timeout { .. })
            || matches!(self, Self::Transport(e) if e.0.is_timeout())
    }

    /// Whether the session was signed out.
    ///
    /// ```
    /// assert!(session_auth::Error::SignedOut.is_signed_out());
    /// ```
    pub fn is_signed_out(&self) -> bool {
        matches!(self, Self::SignedOut)
    }

    /// Whether a sign-in was refused because the credentials are wrong.
    ///
    /// ```
    /// let err = session_auth::Error::InvalidCredentials(session_core::Error::InvalidCredentials { description: None });
    /// assert!(err.is_invalid_credentials());
    /// assert!(!err.is_refresh_token_dead());
    /// ```
    pub fn is_invalid_credentials(&self) -> bool {
        matches!(self, Self::InvalidCredentials(_))
    }

    /// Whether the refresh token was rejected (`invalid_grant`) and no new
    /// sign-in could replace it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let err = session_auth::Error::Refresh(Arc::new(session_core::Error::InvalidGrant { description: None }));
    /// assert!(err.is_refresh_token_dead());
    /// ```
    pub fn is_refresh_token_dead(&self) -> bool {
        matches!(self, Self::Refresh(e) if e.is_invalid_grant())
    }

    /// Whether the identity provider could not be reached or was
    /// temporarily unavailable (connection refused, 5xx).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let down = session_core::Error::token_provider("token endpoint unreachable", true, None);
    /// assert!(session_auth::Error::Refresh(Arc::new(down)).is_provider_unreachable());
    /// ```
    pub fn is_provider_unreachable(&self) -> bool {
        match self {
            Self::Refresh(e) => is_unreachable(e),
            Self::Auth(e) => is_unreachable(e),
            _ => false,
        }
    }

    /// Whether the identity provider answered with an error that is neither
    /// wrong credentials nor a dead refresh token (a refused grant type, a
    /// malformed token response).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let refused = session_core::Error::token_provider("token request refused", false, None);
    /// assert!(session_auth::Error::Refresh(Arc::new(refused)).is_provider_error());
    /// ```
    pub fn is_provider_error(&self) -> bool {
        match self {
            Self::Refresh(e) => is_provider_error(e),
            Self::Auth(e) => is_provider_error(e),
            _ => false,
        }
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
            Self::Transport(e) => e.kind().is_transient(),
            Self::Refresh(e) => e.is_retryable(),
            Self::Auth(e) | Self::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// Wraps a core error from a strategy or provider in the right variant.
    pub(crate) fn from_core(err: session_core::Error) -> Self {
        use session_core::Error as Core;
        match err.root() {
            Core::SignedOut => return Self::SignedOut,
            &Core::Timeout { waiting_for } => return Self::Timeout { waiting_for },
            Core::InsecureTransport { host } => {
                return Self::InsecureTransport { host: host.clone() };
            }
            Core::InvalidCredentials { .. } => return Self::InvalidCredentials(err),
            _ => {}
        }
        if err.is_not_authenticated() {
            return Self::NotAuthenticated(err);
        }
        match err {
            e @ session_core::Error::UnusableCredential { .. } => Self::UnusableCredential(e),
            session_core::Error::Shared(shared) => Self::Refresh(shared),
            e => Self::Auth(e),
        }
    }

    /// A transport error without its URL (which may carry a query secret).
    pub(crate) fn invalid_request(reason: &'static str, source: session_core::BoxError) -> Self {
        Self::InvalidRequest { reason, source }
    }

    pub(crate) fn transport(err: reqwest::Error) -> Self {
        Self::Transport(TransportError(err.without_url()))
    }
}

fn is_unreachable(err: &session_core::Error) -> bool {
    matches!(
        err.root(),
        session_core::Error::TokenProvider {
            retryable: true,
            ..
        }
    )
}

fn is_provider_error(err: &session_core::Error) -> bool {
    matches!(
        err.root(),
        session_core::Error::TokenProvider {
            retryable: false,
            ..
        } | session_core::Error::InvalidTokenResponse { .. }
    )
}

impl From<reqwest::Error> for Error {
    /// A transport error, stripped of its URL (which may carry a secret).
    fn from(err: reqwest::Error) -> Self {
        Self::transport(err)
    }
}

/// Why sending a request or reading its answer failed — connect, timeout,
/// reset, a connection closed mid-answer — without the URL. The underlying
/// `reqwest::Error` is its [`source`](std::error::Error::source).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Nothing listens on port 9 of the loopback address.
/// let err = session_auth::Session::builder().build().unwrap()
///     .get("http://127.0.0.1:9/").send().await.unwrap_err();
/// let session_auth::Error::Transport(cause) = &err else { panic!("{err:?}") };
/// assert_eq!(cause.kind(), session_retry::ErrorKind::Connect);
/// assert_eq!(cause.to_string(), "could not connect");
/// # }
/// ```
#[derive(Debug)]
pub struct TransportError(pub(crate) reqwest::Error);

impl TransportError {
    /// What kind of failure it was, as the retry engine sees it.
    ///
    /// ```
    /// # let _ = |e: &session_auth::TransportError| e.kind();
    /// ```
    pub fn kind(&self) -> session_retry::ErrorKind {
        session_retry::reqwest::error_kind(&self.0)
    }

    /// Whether it was a timeout.
    ///
    /// ```
    /// # let _ = |e: &session_auth::TransportError| e.is_timeout();
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.0.is_timeout()
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use session_retry::ErrorKind;
        f.write_str(match self.kind() {
            ErrorKind::Connect => "could not connect",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Reset => "the connection was reset",
            ErrorKind::IncompleteMessage => "the connection closed before the answer was complete",
            _ => "the exchange failed",
        })
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
