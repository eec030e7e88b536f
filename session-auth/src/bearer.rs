//! [`BearerAuth`]: `Authorization: Bearer <token>`, from a fixed token or a
//! [`TokenManager`] that refreshes it.

use async_trait::async_trait;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use session_core::{AuthRequest, Authenticate, Rejection, Replay, Result, sensitive_header_value};

use crate::token_manager::TokenManager;

/// Sends a bearer token with every request.
///
/// # Examples
///
/// ```
/// use session_auth::{BearerAuth, Session};
///
/// let session = Session::builder()
///     .base_url("https://api.example.com/v2/")
///     .auth(BearerAuth::new("my-token"))
///     .build()?;
/// # Ok::<(), session_auth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BearerAuth {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Fixed(std::result::Result<HeaderValue, &'static str>),
    Managed(TokenManager),
}

impl BearerAuth {
    /// A fixed token. An empty token, or one that can't be sent in a header,
    /// is reported when the session is built.
    ///
    /// ```
    /// let auth = session_auth::BearerAuth::new("t");
    /// assert!(format!("{auth:?}").contains("Sensitive") || !format!("{auth:?}").contains("\"t\""));
    /// ```
    pub fn new(token: impl AsRef<str>) -> Self {
        let value = sensitive_header_value(&format!("Bearer {}", token.as_ref()))
            .map_err(|_| "the bearer token can't be sent in a header");
        let value = if token.as_ref().is_empty() {
            Err("the bearer token is empty")
        } else {
            value
        };
        Self {
            source: Source::Fixed(value),
        }
    }

    /// A token from a [`TokenManager`], refreshed before it expires and once
    /// after a 401.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let tokens = session_auth::TokenManager::builder(Login).build();
    /// let auth = session_auth::BearerAuth::from_manager(tokens);
    /// # let _ = auth;
    /// ```
    pub fn from_manager(tokens: TokenManager) -> Self {
        Self {
            source: Source::Managed(tokens),
        }
    }

    /// The token manager behind this strategy, if any.
    ///
    /// ```
    /// assert!(session_auth::BearerAuth::new("t").token_manager().is_none());
    /// ```
    pub fn token_manager(&self) -> Option<&TokenManager> {
        match &self.source {
            Source::Managed(m) => Some(m),
            Source::Fixed(_) => None,
        }
    }
}

impl BearerAuth {
    /// With a DPoP-bound token (`Authorization: DPoP …`) and the session's
    /// key: a fresh proof for this request, bound to the token.
    fn prove(&self, request: &mut AuthRequest<'_>, value: &HeaderValue) -> Result<()> {
        let Source::Managed(manager) = &self.source else {
            return Ok(());
        };
        // Checked first: reading the value as text walks the whole token.
        let Some(key) = manager.dpop() else {
            return Ok(());
        };
        let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("DPoP ")) else {
            return Ok(());
        };
        let proof = key.proof(request.method(), request.url(), Some(token))?;
        request.set_header(crate::dpop::DPOP, proof);
        Ok(())
    }
}

#[async_trait]
impl Authenticate for BearerAuth {
    async fn authenticate(&self, request: &mut AuthRequest<'_>) -> Result<()> {
        let value = match &self.source {
            Source::Fixed(Ok(value)) => value.clone(),
            Source::Fixed(Err(reason)) => {
                return Err(session_core::Error::UnusableCredential { reason });
            }
            Source::Managed(manager) => manager.authorization().await?,
        };
        self.prove(request, &value)?;
        request.set_header(AUTHORIZATION, value);
        Ok(())
    }

    fn authenticate_now(&self, request: &mut AuthRequest<'_>) -> Option<Result<()>> {
        let value = match &self.source {
            Source::Fixed(Ok(value)) => value.clone(),
            Source::Fixed(Err(reason)) => {
                return Some(Err(session_core::Error::UnusableCredential { reason }));
            }
            Source::Managed(manager) => manager.authorization_now()?,
        };
        if let Err(error) = self.prove(request, &value) {
            return Some(Err(error));
        }
        request.set_header(AUTHORIZATION, value);
        Some(Ok(()))
    }

    fn check(&self) -> Result<()> {
        match &self.source {
            Source::Fixed(Err(reason)) => Err(session_core::Error::UnusableCredential { reason }),
            _ => Ok(()),
        }
    }

    async fn on_unauthorized(&self, rejection: Rejection<'_>) -> Result<Replay> {
        match &self.source {
            Source::Fixed(_) => Ok(Replay::No),
            Source::Managed(manager) => {
                // A DPoP server asking for a (new) nonce: answer once with
                // it; the token itself was not refused.
                if let Some(key) = manager.dpop()
                    && key.take_nonce(
                        rejection.url(),
                        rejection.status(),
                        rejection.response_headers(),
                    )
                {
                    return Ok(Replay::Yes);
                }
                let rejected = rejection.request_headers().get(AUTHORIZATION);
                manager.after_unauthorized(rejected).await
            }
        }
    }

    fn on_replay_rejected(&self, rejection: Rejection<'_>) {
        if let Source::Managed(manager) = &self.source {
            manager.after_rejected_replay(rejection.request_headers().get(AUTHORIZATION));
        }
    }
}
