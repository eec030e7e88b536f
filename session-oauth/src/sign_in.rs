//! [`OAuthClient`] as a [`SignIn`] endpoint: the password and
//! client-credentials grants, refresh and revocation behind session-auth's
//! sign-in flows — in particular [`SignInProvider::prompting`], which asks
//! for a password only when no stored or refreshable token can serve.
//!
//! ```no_run
//! use session_auth::{SignInCredentials, SignInProvider, TokenManager};
//! use session_oauth::{OAuthClient, ProviderMetadata};
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = OAuthClient::builder(ProviderMetadata::new("https://id.example.com/token")?, "my-app")
//!     .build()?;
//! let provider = SignInProvider::prompting(client, || async {
//!     Ok(SignInCredentials::password("ada", std::env::var("APP_PASSWORD").unwrap_or_default()))
//! });
//! let tokens = TokenManager::builder(provider).build();
//! # let _ = tokens; Ok(()) }
//! ```
//!
//! [`SignInProvider::prompting`]: session_auth::SignInProvider::prompting

use async_trait::async_trait;
use secrecy::SecretString;
use session_auth::SignIn;
use session_core::TokenSet;

use crate::OAuthClient;

#[async_trait]
impl SignIn for OAuthClient {
    /// The password grant (RFC 6749 §4.3) as this client.
    async fn sign_in_with_password(
        &self,
        username: &str,
        password: &str,
    ) -> session_core::Result<TokenSet> {
        self.password(username, &SecretString::from(password))
            .await
            .map_err(crate::Error::into_core)
    }

    /// The client-credentials grant as `client_id` (this client's provider
    /// and HTTP settings, the given id and secret).
    async fn sign_in_with_client(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> session_core::Result<TokenSet> {
        let client = self
            .for_client(client_id, client_secret)
            .map_err(crate::Error::into_core)?;
        client
            .client_credentials()
            .await
            .map_err(crate::Error::into_core)
    }

    /// The refresh grant, keeping the old refresh token if none is issued.
    async fn refresh(&self, tokens: &TokenSet) -> session_core::Result<TokenSet> {
        OAuthClient::refresh(self, tokens)
            .await
            .map_err(crate::Error::into_core)
    }

    /// Revokes the tokens (RFC 7009) when the provider has a revocation
    /// endpoint; without one, signing out only forgets them.
    async fn sign_out(&self, tokens: &TokenSet) -> session_core::Result<()> {
        if self.metadata().revocation_endpoint.is_none() {
            return Ok(());
        }
        self.revoke(tokens).await.map_err(crate::Error::into_core)
    }
}
