//! The OAuth error type: RFC 6749 §5.2 errors as variants, transport
//! failures marked retryable, and the client-side failures of each flow.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to an authorization server.
///
/// Messages carry the server's `error_description` when it sent one, and
/// never a token, secret, code or verifier.
///
/// ```
/// let err = session_oauth::Error::InvalidGrant { description: Some("code expired".into()) };
/// assert_eq!(err.to_string(), "the grant is invalid, expired or revoked (invalid_grant): code expired");
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `invalid_grant`: the code, refresh token or credentials are invalid,
    /// expired, revoked, or were issued to another client.
    #[error(
        "the grant is invalid, expired or revoked (invalid_grant){}",
        describe(description)
    )]
    InvalidGrant {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// A password sign-in was refused: the username or password is wrong
    /// (the server's `invalid_grant` to a password grant).
    #[error("the username or password was rejected{}", describe(description))]
    InvalidCredentials {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// `invalid_client`: client authentication failed.
    #[error(
        "client authentication failed (invalid_client){}",
        describe(description)
    )]
    InvalidClient {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// `invalid_scope`.
    #[error(
        "the requested scope is invalid or exceeds what was granted (invalid_scope){}",
        describe(description)
    )]
    InvalidScope {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// `unauthorized_client`.
    #[error(
        "the client may not use this grant type (unauthorized_client){}",
        describe(description)
    )]
    UnauthorizedClient {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// `unsupported_grant_type`.
    #[error(
        "the server does not support this grant type (unsupported_grant_type){}",
        describe(description)
    )]
    UnsupportedGrantType {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// `invalid_request`.
    #[error("the request was malformed (invalid_request){}", describe(description))]
    InvalidRequest {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// The user (or server) refused authorization (`access_denied`).
    #[error("authorization was denied (access_denied){}", describe(description))]
    AccessDenied {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// The device code or authorization expired before the user finished.
    #[error(
        "the authorization expired before it was completed (expired_token){}",
        describe(description)
    )]
    ExpiredToken {
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// Another error code from the server.
    #[error("the authorization server answered {code}{}", describe(description))]
    Server {
        /// The `error` code.
        code: String,
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// The server could not be reached, or answered with a server error.
    #[error("the authorization server could not be reached")]
    Transport {
        /// Whether trying again may help.
        retryable: bool,
        /// The cause.
        #[source]
        source: Option<session_core::BoxError>,
    },
    /// A request to the provider would have gone over plain `http://` to a
    /// host that is not loopback; allow it explicitly with
    /// [`OAuthHttpBuilder::allow_insecure_http`](crate::OAuthHttpBuilder::allow_insecure_http).
    #[error(
        "refusing to talk to the authorization server over plain http at {host}; use https or allow it explicitly"
    )]
    InsecureTransport {
        /// The host.
        host: String,
    },
    /// The server's answer was not what the protocol requires.
    #[error("the authorization server's answer is invalid: {reason}")]
    InvalidResponse {
        /// What was wrong.
        reason: String,
    },
    /// The redirect's `state` did not match the one sent (a possible forgery).
    #[error("the authorization response's state does not match the request (possible forgery)")]
    StateMismatch,
    /// The authorization response names another issuer than the one the
    /// request went to, or none when the provider always names itself
    /// (RFC 9207; a possible mix-up attack).
    #[error(
        "the authorization response comes from another issuer than the request went to (possible mix-up)"
    )]
    IssuerMismatch,
    /// Waiting for the redirect or the user took too long.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What was being waited for.
        what: &'static str,
    },
    /// The flow needs an endpoint the configuration doesn't have.
    #[error("the provider configuration has no {endpoint} endpoint")]
    MissingEndpoint {
        /// Which endpoint.
        endpoint: &'static str,
    },
    /// The configuration is invalid.
    #[error("invalid OAuth configuration: {reason}")]
    Configuration {
        /// What was wrong.
        reason: String,
    },
    /// An ID token failed validation.
    #[error("the ID token is not valid: {reason}")]
    InvalidIdToken {
        /// Which check failed.
        reason: String,
    },
    /// The session holding the tokens could not be saved or deleted.
    #[error("could not update the stored session")]
    Store(#[source] session_core::Error),
    /// The loopback redirect listener could not start.
    #[error("could not listen for the redirect on {address}")]
    Listener {
        /// The address.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl Error {
    /// Whether trying again later may help (network failures, 5xx).
    ///
    /// ```
    /// let err = session_oauth::Error::Transport { retryable: true, source: None };
    /// assert!(err.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Transport {
                retryable: true,
                ..
            }
        )
    }

    /// Whether the credentials were rejected: a wrong username or password,
    /// or a wrong client secret (`invalid_client`).
    ///
    /// ```
    /// assert!(session_oauth::Error::InvalidCredentials { description: None }.is_invalid_credentials());
    /// assert!(!session_oauth::Error::InvalidGrant { description: None }.is_invalid_credentials());
    /// ```
    pub fn is_invalid_credentials(&self) -> bool {
        matches!(
            self,
            Self::InvalidCredentials { .. } | Self::InvalidClient { .. }
        )
    }

    /// Whether waiting timed out: for the redirect or the user, or for a
    /// provider that doesn't answer.
    ///
    /// ```
    /// assert!(session_oauth::Error::Timeout { what: "the redirect" }.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            Self::Transport {
                source: Some(source),
                ..
            } => {
                let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
                while let Some(error) = cause {
                    if let Some(send) = error.downcast_ref::<session_auth::Error>()
                        && send.is_timeout()
                    {
                        return true;
                    }
                    cause = error.source();
                }
                false
            }
            _ => false,
        }
    }

    /// Builds the error for an RFC 6749 error code.
    ///
    /// ```
    /// let err = session_oauth::Error::from_code("invalid_scope", None);
    /// assert!(matches!(err, session_oauth::Error::InvalidScope { .. }));
    /// ```
    pub fn from_code(code: &str, description: Option<String>) -> Self {
        match code {
            "invalid_grant" => Self::InvalidGrant { description },
            "invalid_client" => Self::InvalidClient { description },
            "invalid_scope" => Self::InvalidScope { description },
            "unauthorized_client" => Self::UnauthorizedClient { description },
            "unsupported_grant_type" => Self::UnsupportedGrantType { description },
            "invalid_request" => Self::InvalidRequest { description },
            "access_denied" => Self::AccessDenied { description },
            "expired_token" => Self::ExpiredToken { description },
            other => Self::Server {
                code: other.chars().take(64).collect(),
                description,
            },
        }
    }

    /// This error in session-core's terms, for token providers: dead grants
    /// become `InvalidGrant`, a wrong password or client secret
    /// `InvalidCredentials`, a refused client `NotAuthenticated`, network
    /// failures retryable.
    ///
    /// ```
    /// let core = session_oauth::Error::InvalidGrant { description: None }.into_core();
    /// assert!(core.is_invalid_grant());
    /// ```
    pub fn into_core(self) -> session_core::Error {
        match self {
            Self::InvalidGrant { description } => session_core::Error::InvalidGrant { description },
            Self::InvalidCredentials { description } | Self::InvalidClient { description } => {
                session_core::Error::InvalidCredentials { description }
            }
            Self::InsecureTransport { host } => session_core::Error::InsecureTransport { host },
            Self::UnauthorizedClient { .. } | Self::AccessDenied { .. } => {
                session_core::Error::NotAuthenticated {
                    reason: "the authorization server rejected the client or its credentials",
                }
            }
            e => {
                let retryable = e.is_retryable();
                session_core::Error::token_provider(
                    "OAuth request failed",
                    retryable,
                    Some(Box::new(e)),
                )
            }
        }
    }
}
