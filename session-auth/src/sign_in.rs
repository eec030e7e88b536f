//! Sign-in flows for APIs with their own login endpoints: the [`SignIn`]
//! trait, [`SignInCredentials`], and [`SignInProvider`], which turns them into a
//! token provider for a [`TokenManager`](crate::TokenManager).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use session_core::{Error as CoreError, ProvideToken, Result, TokenSet};

/// An API's login endpoint. Implement the methods it supports; the others
/// answer "not supported".
///
/// # Examples
///
/// ```
/// use async_trait::async_trait;
/// use session_auth::SignIn;
/// use session_core::{Result, TokenSet};
///
/// #[derive(Debug)]
/// struct DeviceCloud { http: reqwest::Client, base: String }
///
/// #[async_trait]
/// impl SignIn for DeviceCloud {
///     async fn sign_in_with_password(&self, username: &str, password: &str) -> Result<TokenSet> {
///         let sent_at = session_core::SharedClock::default().now();
///         let body = self.http.post(format!("{}/auth/sign-in", self.base))
///             .json(&serde_json::json!({ "userId": username, "password": password }))
///             .send().await
///             .map_err(|e| session_core::Error::token_provider("sign-in failed", true, Some(e.without_url().into())))?
///             .bytes().await
///             .map_err(|e| session_core::Error::token_provider("sign-in failed", true, Some(e.without_url().into())))?;
///         TokenSet::from_json_response(&body, sent_at)
///     }
///
///     async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet> {
///         // POST the refresh token to the API's refresh endpoint; here, pretend
///         // the server said it is dead.
///         let _ = tokens;
///         Err(session_core::Error::InvalidGrant { description: None })
///     }
/// }
/// ```
#[async_trait]
pub trait SignIn: Send + Sync + fmt::Debug {
    /// Signs in with a username (or email) and password.
    ///
    /// # Errors
    ///
    /// [`CoreError::NotAuthenticated`] when the credentials are wrong or the
    /// endpoint doesn't support this; transport failures as retryable
    /// [`CoreError::TokenProvider`].
    async fn sign_in_with_password(&self, username: &str, password: &str) -> Result<TokenSet> {
        let _ = (username, password);
        Err(CoreError::NotAuthenticated {
            reason: "this endpoint does not support password sign-in",
        })
    }

    /// Signs in with a client id and secret.
    ///
    /// # Errors
    ///
    /// As [`sign_in_with_password`](Self::sign_in_with_password).
    async fn sign_in_with_client(&self, client_id: &str, client_secret: &str) -> Result<TokenSet> {
        let _ = (client_id, client_secret);
        Err(CoreError::NotAuthenticated {
            reason: "this endpoint does not support client sign-in",
        })
    }

    /// Exchanges the refresh token in `tokens` for new tokens.
    ///
    /// # Errors
    ///
    /// [`CoreError::InvalidGrant`] when the refresh token is dead.
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet>;

    /// Signs out on the server, invalidating `tokens`. The default does
    /// nothing (for APIs without a sign-out endpoint).
    ///
    /// # Errors
    ///
    /// When the server refused or could not be reached.
    async fn sign_out(&self, tokens: &TokenSet) -> Result<()> {
        let _ = tokens;
        Ok(())
    }
}

/// What to sign in with.
///
/// `Debug` never shows the password or secret.
///
/// ```
/// let creds = session_auth::SignInCredentials::password("ada@example.com", "hunter2");
/// assert!(!format!("{creds:?}").contains("hunter2"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum SignInCredentials {
    /// A username (or email) and password.
    Password {
        /// The username.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// A client id and secret.
    Client {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: SecretString,
    },
}

impl SignInCredentials {
    /// Username and password.
    ///
    /// ```
    /// let _ = session_auth::SignInCredentials::password("u", "p");
    /// ```
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Password {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// Client id and secret.
    ///
    /// ```
    /// let _ = session_auth::SignInCredentials::client("id", "secret");
    /// ```
    pub fn client(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self::Client {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

impl fmt::Debug for SignInCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"[redacted]")
                .finish(),
            Self::Client { client_id, .. } => f
                .debug_struct("Client")
                .field("client_id", client_id)
                .field("client_secret", &"[redacted]")
                .finish(),
        }
    }
}

/// Asks for credentials when a sign-in is needed.
type Prompt =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<SignInCredentials>> + Send>> + Send + Sync>;

/// Where a [`SignInProvider`] gets credentials from.
#[derive(Clone)]
enum Source {
    Held(Option<SignInCredentials>),
    Prompt(Prompt),
}

/// A [`ProvideToken`] over a [`SignIn`] endpoint: signs in with the held
/// (or prompted-for) credentials, refreshes with the refresh token, and
/// signs out.
///
/// Without credentials (tokens restored from storage only), signing in again
/// answers [`CoreError::NotAuthenticated`]. A sign-in the endpoint refuses
/// with `invalid_grant` answers [`CoreError::InvalidCredentials`]: during a
/// sign-in that code means the password or secret is wrong.
///
/// ```
/// # use session_auth::*;
/// # use session_core::*;
/// # #[derive(Debug)] struct Api;
/// # #[async_trait::async_trait] impl SignIn for Api {
/// #     async fn refresh(&self, _: &TokenSet) -> session_core::Result<TokenSet> { Ok(TokenSet::new("t")) }
/// # }
/// let provider = SignInProvider::new(Api, Some(SignInCredentials::password("ada", "pw")));
/// let tokens = TokenManager::builder(provider).build();
/// # let _ = tokens;
/// ```
#[derive(Clone)]
pub struct SignInProvider {
    endpoint: Arc<dyn SignIn>,
    credentials: Source,
}

impl SignInProvider {
    /// A provider for `endpoint` holding `credentials` (if any).
    ///
    /// ```
    /// # use session_auth::*;
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Api;
    /// # #[async_trait::async_trait] impl SignIn for Api {
    /// #     async fn refresh(&self, _: &TokenSet) -> session_core::Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let _ = SignInProvider::new(Api, None);
    /// ```
    pub fn new(endpoint: impl SignIn + 'static, credentials: Option<SignInCredentials>) -> Self {
        Self {
            endpoint: Arc::new(endpoint),
            credentials: Source::Held(credentials),
        }
    }

    /// A provider that asks `prompt` for credentials each time a sign-in is
    /// actually needed — never while stored or refreshable tokens serve.
    /// Restore a stored session without asking for a password up front.
    ///
    /// ```
    /// # use session_auth::*;
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Api;
    /// # #[async_trait::async_trait] impl SignIn for Api {
    /// #     async fn refresh(&self, _: &TokenSet) -> session_core::Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let provider = SignInProvider::prompting(Api, || async {
    ///     // e.g. read it from the terminal without echo
    ///     Ok(SignInCredentials::password("ada", std::env::var("API_PASSWORD").unwrap_or_default()))
    /// });
    /// let tokens = TokenManager::builder(provider).build();
    /// # let _ = tokens;
    /// ```
    pub fn prompting<F, Fut>(endpoint: impl SignIn + 'static, prompt: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<SignInCredentials>> + Send + 'static,
    {
        Self {
            endpoint: Arc::new(endpoint),
            credentials: Source::Prompt(Arc::new(move || Box::pin(prompt()))),
        }
    }
}

impl fmt::Debug for SignInProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("SignInProvider");
        debug.field("endpoint", &self.endpoint);
        match &self.credentials {
            Source::Held(credentials) => debug.field("credentials", credentials),
            Source::Prompt(_) => debug.field("credentials", &"prompt"),
        };
        debug.finish()
    }
}

#[async_trait]
impl ProvideToken for SignInProvider {
    async fn provide_token(&self) -> Result<TokenSet> {
        let credentials = match &self.credentials {
            Source::Held(credentials) => credentials.clone(),
            Source::Prompt(prompt) => Some(prompt().await?),
        };
        let signed_in = match &credentials {
            Some(SignInCredentials::Password { username, password }) => {
                self.endpoint
                    .sign_in_with_password(username, password.expose_secret())
                    .await
            }
            Some(SignInCredentials::Client {
                client_id,
                client_secret,
            }) => {
                self.endpoint
                    .sign_in_with_client(client_id, client_secret.expose_secret())
                    .await
            }
            None => Err(CoreError::NotAuthenticated {
                reason: "no credentials are held to sign in again",
            }),
        };
        signed_in.map_err(|error| match error {
            // At sign-in, a refused grant means the credentials are wrong.
            CoreError::InvalidGrant { description } => {
                CoreError::InvalidCredentials { description }
            }
            other => other,
        })
    }

    async fn refresh_token(&self, current: &TokenSet) -> Result<TokenSet> {
        self.endpoint.refresh(current).await
    }

    async fn revoke_token(&self, tokens: &TokenSet) -> Result<()> {
        self.endpoint.sign_out(tokens).await
    }
}
