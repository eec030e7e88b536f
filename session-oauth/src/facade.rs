//! [`OAuth`]: the whole OAuth life cycle on one small type — sign in with a
//! password or client credentials, refresh, sign out, and the authorization
//! code flow as URL-plus-verifier then code-plus-verifier.

use std::fmt;

use parking_lot::Mutex;
use secrecy::SecretString;
use session_auth::SessionState;
use session_core::TokenSet;
use url::Url;

use crate::client::{OAuthClient, PendingAuthorization};
use crate::error::{Error, Result};

/// An authorization URL and the PKCE verifier to keep for the callback.
pub struct AuthorizationUrl {
    /// Where to send the user.
    pub url: Url,
    /// The verifier; keep it (e.g. in the user's server-side session).
    pub code_verifier: SecretString,
    /// The `state` to compare with the callback's.
    pub state: String,
}

impl fmt::Debug for AuthorizationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationUrl")
            .field("url_host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

/// Sign-in, refresh and sign-out by name, over an [`OAuthClient`].
///
/// Refresh and sign-out authenticate as the client that signed in: the
/// configured one, or the one given to
/// [`sign_in_with_client`](Self::sign_in_with_client). The tokens live in a
/// [`SessionState`] (in memory, or persisted with
/// [`with_state`](Self::with_state)).
pub struct OAuth {
    client: OAuthClient,
    state: SessionState,
    signed_in: Mutex<Option<SignedIn>>,
}

/// Who signed in, and how.
#[derive(Clone)]
struct SignedIn {
    client: OAuthClient,
    client_credentials: bool,
}

impl OAuth {
    /// Wraps a client; the tokens are kept in memory.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// let _ = auth.tokens();
    /// # Ok(()) }
    /// ```
    pub fn new(client: OAuthClient) -> Self {
        Self::with_state(client, SessionState::in_memory())
    }

    /// Wraps a client, keeping the tokens in `state` (and so in its store).
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// use session_core::{MemoryStore, SharedSessionStore};
    /// let state = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "me").build();
    /// let auth = session_oauth::OAuth::with_state(client, state);
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn with_state(client: OAuthClient, state: SessionState) -> Self {
        Self {
            client,
            state,
            signed_in: Mutex::new(None),
        }
    }

    /// The state holding the tokens.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// assert!(!auth.state().is_persisted());
    /// # Ok(()) }
    /// ```
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The current tokens.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// let signed_in = auth.tokens().is_some();
    /// # let _ = signed_in;
    /// # Ok(()) }
    /// ```
    pub fn tokens(&self) -> Option<TokenSet> {
        self.state.tokens()
    }

    /// The client that signed in (the configured one before any sign-in).
    fn active_client(&self) -> OAuthClient {
        self.signed_in
            .lock()
            .as_ref()
            .map_or_else(|| self.client.clone(), |s| s.client.clone())
    }

    /// Records a sign-in by `client`: a new session in the state.
    fn signed_in(
        &self,
        client: OAuthClient,
        tokens: TokenSet,
        client_credentials: bool,
    ) -> TokenSet {
        *self.signed_in.lock() = Some(SignedIn {
            client,
            client_credentials,
        });
        self.state.create_session(tokens.clone(), None, None);
        tokens
    }

    /// Keeps refreshed tokens (a refresh token that wasn't rotated stays).
    fn keep(&self, client: &OAuthClient, tokens: TokenSet) -> TokenSet {
        self.signed_in.lock().get_or_insert_with(|| SignedIn {
            client: client.clone(),
            client_credentials: false,
        });
        self.state.update_tokens(tokens.clone());
        self.state.tokens().unwrap_or(tokens)
    }

    /// Signs in with email (or username) and password.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] for a wrong email or password.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// auth.sign_in_with_password("ada@example.com", "pw").await?;
    /// # Ok(()) }
    /// ```
    pub async fn sign_in_with_password(&self, email: &str, password: &str) -> Result<TokenSet> {
        let tokens = self
            .client
            .password(email, &SecretString::from(password.to_owned()))
            .await?;
        Ok(self.signed_in(self.client.clone(), tokens, false))
    }

    /// Signs in with a client id and secret (client credentials grant).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClient`] for wrong credentials.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// auth.sign_in_with_client("svc", "s3cret").await?;
    /// # Ok(()) }
    /// ```
    pub async fn sign_in_with_client(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<TokenSet> {
        let client = self.client.for_client(client_id, client_secret)?;
        let tokens = client.client_credentials().await?;
        Ok(self.signed_in(client, tokens, true))
    }

    /// Refreshes with `token`, or the current refresh token.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] without any refresh token; [`Error::InvalidGrant`].
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// auth.refresh_token(None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn refresh_token(&self, token: Option<&str>) -> Result<TokenSet> {
        let refresh = match token {
            Some(t) => t.to_owned(),
            None => self
                .tokens()
                .and_then(|t| t.refresh_token().map(|r| r.expose_secret().to_owned()))
                .ok_or(Error::Configuration {
                    reason: "there is no refresh token".into(),
                })?,
        };
        self.refresh_oauth_token(&refresh).await
    }

    /// Refreshes with an explicit refresh token.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGrant`] for a dead or reused token.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// auth.refresh_oauth_token("stored-refresh-token").await?;
    /// # Ok(()) }
    /// ```
    pub async fn refresh_oauth_token(&self, refresh_token: &str) -> Result<TokenSet> {
        let client = self.active_client();
        let tokens = client.refresh_with(refresh_token).await?;
        Ok(self.keep(&client, tokens))
    }

    /// Refreshes the current session the appropriate way: the refresh token
    /// when there is one, else client credentials again.
    ///
    /// # Errors
    ///
    /// As the chosen grant.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// auth.refresh().await?;
    /// # Ok(()) }
    /// ```
    pub async fn refresh(&self) -> Result<TokenSet> {
        let signed_in = self.signed_in.lock().clone();
        let (Some(signed_in), Some(tokens)) = (signed_in, self.state.tokens()) else {
            return Err(Error::Configuration {
                reason: "there is no session to refresh".into(),
            });
        };
        let SignedIn {
            client,
            client_credentials,
        } = signed_in;
        let fresh = if tokens.refresh_token().is_some() {
            client.refresh(&tokens).await?
        } else if client_credentials {
            client.client_credentials().await?
        } else {
            return Err(Error::Configuration {
                reason: "there is no refresh token".into(),
            });
        };
        Ok(self.keep(&client, fresh))
    }

    /// Signs out: revokes refresh and access tokens (when the server can),
    /// then forgets them — even if revocation failed.
    ///
    /// # Errors
    ///
    /// The revocation error, after forgetting the tokens.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// auth.sign_out().await?;
    /// # Ok(()) }
    /// ```
    pub async fn sign_out(&self) -> Result<()> {
        let client = self.active_client();
        self.signed_in.lock().take();
        let tokens = self.state.tokens();
        let cleared = self.state.clear().await;
        let revoked = match tokens {
            Some(tokens) if client.metadata().revocation_endpoint.is_some() => {
                client.revoke(&tokens).await
            }
            _ => Ok(()),
        };
        cleared.map_err(Error::Store)?;
        revoked
    }

    /// Signs out as [`sign_out`](Self::sign_out) does, and returns where to
    /// send the user's browser so the provider ends its session too
    /// (RP-initiated logout, with the ID token as `id_token_hint`), or
    /// `None` when the provider has no end-session endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for a redirect URI that is not a URL
    /// (before anything is signed out); then as [`sign_out`](Self::sign_out).
    ///
    /// ```no_run
    /// # async fn run(auth: session_oauth::OAuth) -> Result<(), session_oauth::Error> {
    /// if let Some(url) = auth.sign_out_and_end_session(Some("https://app.example.com/bye")).await? {
    ///     println!("open {url} to sign out at the provider too");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn sign_out_and_end_session(
        &self,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<Option<url::Url>> {
        let client = self.active_client();
        let url = match client.metadata().end_session_endpoint {
            Some(_) => Some(client.end_session_url(
                self.state.tokens().as_ref(),
                post_logout_redirect_uri,
                None,
            )?),
            None => None,
        };
        self.sign_out().await?;
        Ok(url)
    }

    /// Starts the authorization code flow: the URL and the PKCE verifier.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEndpoint`] or [`Error::Configuration`] (no redirect URI).
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// let start = auth.get_authorization_url_and_code_verifier()?;
    /// println!("open {}", start.url);
    /// # Ok(()) }
    /// ```
    pub fn get_authorization_url_and_code_verifier(&self) -> Result<AuthorizationUrl> {
        let pending: PendingAuthorization = self.client.authorization_request(None)?;
        Ok(AuthorizationUrl {
            url: pending.url.clone(),
            code_verifier: SecretString::from(pending.code_verifier().to_owned()),
            state: pending.state().to_owned(),
        })
    }

    /// Finishes the authorization code flow with the callback's code and the
    /// kept verifier.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGrant`] for a wrong code or verifier.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let auth = session_oauth::OAuth::new(client);
    /// auth.authenticate_with_code_and_verifier("code", "kept-verifier").await?;
    /// # Ok(()) }
    /// ```
    pub async fn authenticate_with_code_and_verifier(
        &self,
        code: &str,
        code_verifier: &str,
    ) -> Result<TokenSet> {
        let tokens = self
            .client
            .exchange_code_with_verifier(code, code_verifier, None)
            .await?;
        Ok(self.signed_in(self.client.clone(), tokens, false))
    }
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("client", &self.client)
            .field("signed_in", &self.signed_in.lock().is_some())
            .finish()
    }
}
