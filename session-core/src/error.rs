//! The error type shared by session-core and the traits it defines.

use std::error::Error as StdError;
use std::sync::Arc;

/// A boxed error that can cross threads; used for causes from other layers.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in session-core, and the common failures that
/// implementations of its traits report.
///
/// The `Display` text describes this layer only and never contains a secret;
/// the underlying cause, when there is one, is available through
/// [`std::error::Error::source`].
///
/// # Examples
///
/// ```
/// use session_core::{Claims, Error};
///
/// let err = Claims::decode_unverified("not-a-jwt").unwrap_err();
/// assert!(matches!(err, Error::MalformedToken { .. }));
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A token that should have been a JWT could not be read.
    #[error("malformed token: {reason}")]
    MalformedToken {
        /// What was wrong with it.
        reason: &'static str,
    },

    /// A token endpoint's response could not be turned into a token set.
    #[error("invalid token response: {reason}")]
    InvalidTokenResponse {
        /// What was wrong with it.
        reason: &'static str,
    },

    /// A credential given to a builder or constructor was unusable (empty, or
    /// not valid in an HTTP header).
    #[error("invalid credential: {reason}")]
    UnusableCredential {
        /// What was wrong with it (never the credential itself).
        reason: &'static str,
    },

    /// Session data could not be encoded or decoded.
    #[error("session data could not be {operation}")]
    Serialization {
        /// `"encoded"` or `"decoded"`.
        operation: &'static str,
        /// The underlying serializer error.
        #[source]
        source: BoxError,
    },

    /// Stored session data was written by a newer, incompatible schema.
    #[error(
        "session data has schema version {found}; this version of session-kit reads up to {supported}"
    )]
    UnsupportedSchema {
        /// The version found in the data.
        found: u32,
        /// The newest version this build understands.
        supported: u32,
    },

    /// A session store operation failed.
    #[error("session store could not {operation}{}", if *retryable { " (temporary; retrying may help)" } else { "" })]
    Store {
        /// What the store was doing, e.g. `"load the record"`.
        operation: &'static str,
        /// Whether trying again may succeed (a server that is down, a locked database).
        retryable: bool,
        /// The backend's error.
        #[source]
        source: Option<BoxError>,
    },

    /// There are no usable credentials and none can be obtained.
    #[error("not authenticated: {reason}")]
    NotAuthenticated {
        /// Why not.
        reason: &'static str,
    },

    /// The server rejected the refresh token or grant (`invalid_grant`): it is
    /// dead, and only a fresh sign-in can replace it.
    #[error("the grant or refresh token was rejected as invalid or expired")]
    InvalidGrant {
        /// The server's `error_description`, when it gave one.
        description: Option<String>,
    },

    /// The credentials a sign-in presented (a password, a client secret)
    /// were rejected: signing in again with the same ones will fail too.
    #[error("the sign-in credentials were rejected{}", describe(description))]
    InvalidCredentials {
        /// The server's `error_description`, when it gave one.
        description: Option<String>,
    },

    /// The session was signed out. Nothing is sent, and no sign-in happens
    /// by itself, until the application signs in again.
    #[error("the session was signed out; sign in again to make requests")]
    SignedOut,

    /// Waiting took longer than allowed (a token endpoint that never answers).
    #[error("timed out waiting for {waiting_for}")]
    Timeout {
        /// What was being waited for, e.g. `"the token endpoint"`.
        waiting_for: &'static str,
    },

    /// Credentials would have gone over plain `http://` to a host that is
    /// not loopback.
    #[error(
        "refusing to send credentials over plain http to {host}; use https or allow it explicitly"
    )]
    InsecureTransport {
        /// The host.
        host: String,
    },

    /// One failure shared by several waiters (a single-flight refresh reports
    /// the same error to everyone who waited for it).
    #[error(transparent)]
    Shared(Arc<Error>),

    /// A token provider failed for another reason.
    #[error("token provider failed: {message}{}", if *retryable { " (temporary; retrying may help)" } else { "" })]
    TokenProvider {
        /// A short description that never contains a secret.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
        /// The cause.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// Builds a [`Error::Store`] error.
    ///
    /// ```
    /// let err = session_core::Error::store("save the record", true, std::io::Error::other("down"));
    /// assert!(err.is_retryable());
    /// assert_eq!(err.to_string(), "session store could not save the record (temporary; retrying may help)");
    /// ```
    pub fn store(operation: &'static str, retryable: bool, source: impl Into<BoxError>) -> Self {
        Self::Store {
            operation,
            retryable,
            source: Some(source.into()),
        }
    }

    /// Builds a [`Error::TokenProvider`] error.
    ///
    /// ```
    /// let err = session_core::Error::token_provider("token endpoint unreachable", true, None);
    /// assert!(err.is_retryable());
    /// ```
    pub fn token_provider(
        message: impl Into<String>,
        retryable: bool,
        source: Option<BoxError>,
    ) -> Self {
        Self::TokenProvider {
            message: message.into(),
            retryable,
            source,
        }
    }

    /// Whether the operation may succeed if tried again.
    ///
    /// ```
    /// assert!(!session_core::Error::InvalidGrant { description: None }.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store { retryable, .. } | Self::TokenProvider { retryable, .. } => *retryable,
            Self::Shared(inner) => inner.is_retryable(),
            Self::Timeout { .. } => true,
            _ => false,
        }
    }

    /// Whether the refresh token or grant was rejected as dead (`invalid_grant`).
    ///
    /// ```
    /// assert!(session_core::Error::InvalidGrant { description: None }.is_invalid_grant());
    /// ```
    pub fn is_invalid_grant(&self) -> bool {
        match self {
            Self::InvalidGrant { .. } => true,
            Self::Shared(inner) => inner.is_invalid_grant(),
            _ => false,
        }
    }

    /// Whether there are no usable credentials.
    ///
    /// ```
    /// let err = session_core::Error::NotAuthenticated { reason: "no token" };
    /// assert!(err.is_not_authenticated());
    /// ```
    pub fn is_not_authenticated(&self) -> bool {
        match self {
            Self::NotAuthenticated { .. } => true,
            Self::Shared(inner) => inner.is_not_authenticated(),
            _ => false,
        }
    }

    /// The error itself, or the one shared by a single-flight refresh.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let shared = session_core::Error::Shared(Arc::new(session_core::Error::SignedOut));
    /// assert!(matches!(shared.root(), session_core::Error::SignedOut));
    /// ```
    pub fn root(&self) -> &Self {
        match self {
            Self::Shared(inner) => inner.root(),
            other => other,
        }
    }

    /// Whether a sign-in's credentials were rejected (wrong password or
    /// client secret).
    ///
    /// ```
    /// assert!(session_core::Error::InvalidCredentials { description: None }.is_invalid_credentials());
    /// assert!(!session_core::Error::InvalidGrant { description: None }.is_invalid_credentials());
    /// ```
    pub fn is_invalid_credentials(&self) -> bool {
        matches!(self.root(), Self::InvalidCredentials { .. })
    }

    /// Whether the session was signed out.
    ///
    /// ```
    /// assert!(session_core::Error::SignedOut.is_signed_out());
    /// ```
    pub fn is_signed_out(&self) -> bool {
        matches!(self.root(), Self::SignedOut)
    }

    /// Whether waiting timed out.
    ///
    /// ```
    /// assert!(session_core::Error::Timeout { waiting_for: "the token endpoint" }.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self.root(), Self::Timeout { .. })
    }

    #[cfg(feature = "session")]
    pub(crate) fn encode(source: serde_json::Error) -> Self {
        Self::Serialization {
            operation: "encoded",
            source: Box::new(source),
        }
    }

    /// A decoding error whose source says where the data was wrong but
    /// never quotes it: serde's own message can repeat a stored value — an
    /// access token, a named credential — and error chains get printed.
    #[cfg(feature = "session")]
    pub(crate) fn decode(source: serde_json::Error) -> Self {
        Self::Serialization {
            operation: "decoded",
            source: Box::new(DecodeError {
                category: match source.classify() {
                    serde_json::error::Category::Io => "unreadable",
                    serde_json::error::Category::Syntax => "not valid JSON",
                    serde_json::error::Category::Data => "not the expected shape",
                    serde_json::error::Category::Eof => "cut short",
                },
                line: source.line(),
                column: source.column(),
            }),
        }
    }
}

/// `": description"`, or nothing.
fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

/// Where stored data failed to decode, without any of the data.
#[cfg(feature = "session")]
#[derive(Debug)]
struct DecodeError {
    category: &'static str,
    line: usize,
    column: usize,
}

#[cfg(feature = "session")]
impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the data is {}", self.category)?;
        if self.line > 0 {
            write!(f, " (line {}, column {})", self.line, self.column)?;
        }
        Ok(())
    }
}

#[cfg(feature = "session")]
impl StdError for DecodeError {}
