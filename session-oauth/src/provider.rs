//! [`OAuthTokenProvider`]: an OAuth client as a session-core token provider,
//! so a `Session` refreshes itself, persists rotated tokens and revokes on
//! sign-out.

use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;
use session_core::{ProvideToken, TokenSet};

use crate::client::OAuthClient;
use crate::jwt_bearer::JwtBearer;
use crate::token_exchange::TokenExchange;

/// How the provider signs in when it has no usable tokens.
#[derive(Clone)]
#[non_exhaustive]
pub enum Grant {
    /// Client credentials (service to service).
    ClientCredentials,
    /// Resource owner password (first-party apps only).
    Password {
        /// The username.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// Interactive sign-in only (authorization code, device flow): once the
    /// refresh token dies, the user must sign in again.
    Interactive,
    /// The JWT-bearer grant: a new assertion for every sign-in.
    JwtBearer(JwtBearer),
    /// Token exchange: the subject token traded again for every sign-in
    /// (while the subject token lasts).
    TokenExchange(TokenExchange),
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientCredentials => f.write_str("ClientCredentials"),
            Self::Password { username, .. } => write!(
                f,
                "Password {{ username: {username:?}, password: [redacted] }}"
            ),
            Self::Interactive => f.write_str("Interactive"),
            Self::JwtBearer(grant) => f.debug_tuple("JwtBearer").field(grant).finish(),
            Self::TokenExchange(request) => f.debug_tuple("TokenExchange").field(request).finish(),
        }
    }
}

/// Obtains tokens with a [`Grant`], refreshes with rotation, and revokes
/// both tokens on sign-out.
///
/// ```no_run
/// use session_auth::{Session, TokenManager};
/// use session_oauth::{Grant, OAuthClient, OAuthTokenProvider, ProviderMetadata};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = OAuthClient::builder(ProviderMetadata::new("https://id.example.com/token")?, "svc")
///     .client_secret("s3cret")
///     .build()?;
/// let tokens = TokenManager::builder(OAuthTokenProvider::new(client, Grant::ClientCredentials)).build();
/// let session = Session::builder().base_url("https://api.example.com/").tokens(tokens).build()?;
/// # let _ = session; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OAuthTokenProvider {
    client: OAuthClient,
    grant: Grant,
}

impl OAuthTokenProvider {
    /// A provider for `client` signing in with `grant`.
    ///
    /// ```no_run
    /// # fn f(client: session_oauth::OAuthClient) {
    /// let provider = session_oauth::OAuthTokenProvider::new(client, session_oauth::Grant::ClientCredentials);
    /// let tokens = session_auth::TokenManager::builder(provider).build();
    /// # let _ = tokens; }
    /// ```
    pub fn new(client: OAuthClient, grant: Grant) -> Self {
        Self { client, grant }
    }
}

#[async_trait]
impl ProvideToken for OAuthTokenProvider {
    async fn provide_token(&self) -> session_core::Result<TokenSet> {
        match &self.grant {
            Grant::ClientCredentials => self.client.client_credentials().await,
            Grant::Password { username, password } => {
                self.client.password(username, password).await
            }
            Grant::JwtBearer(grant) => self.client.jwt_bearer(grant).await,
            Grant::TokenExchange(request) => self.client.exchange_token(request).await,
            Grant::Interactive => {
                return Err(session_core::Error::NotAuthenticated {
                    reason: "an interactive sign-in is needed",
                });
            }
        }
        .map_err(crate::Error::into_core)
    }

    async fn refresh_token(&self, current: &TokenSet) -> session_core::Result<TokenSet> {
        if current.refresh_token().is_none() {
            return self.provide_token().await;
        }
        self.client
            .refresh(current)
            .await
            .map_err(crate::Error::into_core)
    }

    async fn revoke_token(&self, tokens: &TokenSet) -> session_core::Result<()> {
        if self.client.metadata().revocation_endpoint.is_none() {
            return Ok(());
        }
        self.client
            .revoke(tokens)
            .await
            .map_err(crate::Error::into_core)
    }
}
