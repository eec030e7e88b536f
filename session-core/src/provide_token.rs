//! [`ProvideToken`]: the capability to obtain a token set and refresh it — plus
//! [`SharedTokenProvider`].
//!
//! A provider talks to a token endpoint (a login API, an OAuth server). It does
//! not cache: caching, single-flight refresh and retry policy belong to the
//! session that uses it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::token_set::TokenSet;

/// Obtains and refreshes tokens.
///
/// # Examples
///
/// ```
/// use async_trait::async_trait;
/// use session_core::{ProvideToken, Result, SharedTokenProvider, TokenSet};
///
/// #[derive(Debug)]
/// struct Fixed;
///
/// #[async_trait]
/// impl ProvideToken for Fixed {
///     async fn provide_token(&self) -> Result<TokenSet> {
///         Ok(TokenSet::new("static-token"))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let provider = SharedTokenProvider::new(Fixed);
/// let tokens = provider.refresh_token(&TokenSet::new("old")).await?;
/// assert_eq!(tokens.access_token().expose_secret(), "static-token");
/// # Ok::<(), session_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait ProvideToken: Send + Sync + fmt::Debug {
    /// Obtains a fresh token set (signs in).
    ///
    /// # Errors
    ///
    /// [`Error::NotAuthenticated`](crate::Error::NotAuthenticated) when no
    /// credentials are held; [`Error::TokenProvider`](crate::Error::TokenProvider)
    /// for endpoint failures (with `retryable` set for transient ones).
    async fn provide_token(&self) -> Result<TokenSet>;

    /// Exchanges `current` for a new token set. The default signs in again.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGrant`](crate::Error::InvalidGrant) when the refresh
    /// token is dead; otherwise as [`provide_token`](Self::provide_token).
    async fn refresh_token(&self, current: &TokenSet) -> Result<TokenSet> {
        let _ = current;
        self.provide_token().await
    }

    /// Invalidates `tokens` on the server, if it supports that. The default
    /// does nothing.
    ///
    /// # Errors
    ///
    /// When the server refused or could not be reached.
    async fn revoke_token(&self, tokens: &TokenSet) -> Result<()> {
        let _ = tokens;
        Ok(())
    }
}

/// A cheaply cloneable, shareable [`ProvideToken`] implementation.
///
/// ```
/// # use session_core::*;
/// # #[derive(Debug)] struct Fixed;
/// # #[async_trait::async_trait] impl ProvideToken for Fixed {
/// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
/// # }
/// let provider = SharedTokenProvider::new(Fixed);
/// let _clone = provider.clone();
/// ```
#[derive(Clone)]
pub struct SharedTokenProvider(Arc<dyn ProvideToken>);

impl SharedTokenProvider {
    /// Wraps a provider.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Fixed;
    /// # #[async_trait::async_trait] impl ProvideToken for Fixed {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let _ = SharedTokenProvider::new(Fixed);
    /// ```
    pub fn new(provider: impl ProvideToken + 'static) -> Self {
        Self(Arc::new(provider))
    }

    /// Wraps an already shared provider.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Fixed;
    /// # #[async_trait::async_trait] impl ProvideToken for Fixed {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let arc: Arc<dyn ProvideToken> = Arc::new(Fixed);
    /// let _ = SharedTokenProvider::from_arc(arc);
    /// ```
    pub fn from_arc(provider: Arc<dyn ProvideToken>) -> Self {
        Self(provider)
    }
}

impl fmt::Debug for SharedTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedTokenProvider").field(&self.0).finish()
    }
}

#[async_trait]
impl ProvideToken for SharedTokenProvider {
    async fn provide_token(&self) -> Result<TokenSet> {
        self.0.provide_token().await
    }

    async fn refresh_token(&self, current: &TokenSet) -> Result<TokenSet> {
        self.0.refresh_token(current).await
    }

    async fn revoke_token(&self, tokens: &TokenSet) -> Result<()> {
        self.0.revoke_token(tokens).await
    }
}
