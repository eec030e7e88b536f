//! [`TokenExchange`]: an RFC 8693 token exchange request — trade a token
//! you hold (the subject, and optionally an actor) for one meant for
//! another service (on-behalf-of, delegation, narrowing scope).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// What to exchange, and what for. Send it with
/// [`OAuthClient::exchange_token`](crate::OAuthClient::exchange_token), or
/// use it as a [`Grant`](crate::Grant) so a session exchanges again when the
/// issued token runs out.
///
/// `Debug` never shows a token.
///
/// ```
/// use session_oauth::TokenExchange;
///
/// let request = TokenExchange::new("incoming-user-token")
///     .audience("https://orders.internal")
///     .scopes(["orders:read"]);
/// assert!(!format!("{request:?}").contains("incoming-user-token"));
/// ```
#[derive(Clone)]
pub struct TokenExchange {
    pub(crate) subject_token: SecretString,
    pub(crate) subject_token_type: String,
    pub(crate) actor: Option<(SecretString, String)>,
    pub(crate) requested_token_type: Option<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) scopes: Option<Vec<String>>,
}

impl TokenExchange {
    /// The token type URI of an OAuth access token.
    pub const ACCESS_TOKEN: &'static str = "urn:ietf:params:oauth:token-type:access_token";
    /// The token type URI of an OAuth refresh token.
    pub const REFRESH_TOKEN: &'static str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// The token type URI of an OpenID Connect ID token.
    pub const ID_TOKEN: &'static str = "urn:ietf:params:oauth:token-type:id_token";
    /// The token type URI of a JWT.
    pub const JWT: &'static str = "urn:ietf:params:oauth:token-type:jwt";

    /// Exchanges `subject_token`, an access token unless
    /// [`subject_token_type`](Self::subject_token_type) says otherwise.
    ///
    /// ```
    /// let request = session_oauth::TokenExchange::new("t");
    /// # let _ = request;
    /// ```
    pub fn new(subject_token: impl Into<String>) -> Self {
        Self {
            subject_token: SecretString::from(subject_token.into()),
            subject_token_type: Self::ACCESS_TOKEN.to_owned(),
            actor: None,
            requested_token_type: None,
            audiences: Vec::new(),
            resources: Vec::new(),
            scopes: None,
        }
    }

    /// The subject token's type URI.
    ///
    /// ```
    /// use session_oauth::TokenExchange;
    /// let request = TokenExchange::new("eyJ…").subject_token_type(TokenExchange::ID_TOKEN);
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn subject_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.subject_token_type = token_type.into();
        self
    }

    /// The party acting on the subject's behalf (delegation), with its
    /// token's type URI.
    ///
    /// ```
    /// use session_oauth::TokenExchange;
    /// let request = TokenExchange::new("user-token").actor_token("service-token", TokenExchange::ACCESS_TOKEN);
    /// assert!(!format!("{request:?}").contains("service-token"));
    /// ```
    #[must_use]
    pub fn actor_token(mut self, token: impl Into<String>, token_type: impl Into<String>) -> Self {
        self.actor = Some((SecretString::from(token.into()), token_type.into()));
        self
    }

    /// The type of token wanted back.
    ///
    /// ```
    /// use session_oauth::TokenExchange;
    /// let request = TokenExchange::new("t").requested_token_type(TokenExchange::JWT);
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }

    /// A logical name of the service the token is for (repeatable).
    ///
    /// ```
    /// let request = session_oauth::TokenExchange::new("t").audience("orders");
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// A URI of the resource the token is for (repeatable).
    ///
    /// ```
    /// let request = session_oauth::TokenExchange::new("t").resource("https://orders.example.com/");
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// The scopes wanted (default: the client's scopes).
    ///
    /// ```
    /// let request = session_oauth::TokenExchange::new("t").scopes(["orders:read"]);
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The request's form parameters (scope excepted).
    pub(crate) fn params(&self) -> Vec<(&str, &str)> {
        let mut params = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", self.subject_token.expose_secret()),
            ("subject_token_type", self.subject_token_type.as_str()),
        ];
        if let Some((token, token_type)) = &self.actor {
            params.push(("actor_token", token.expose_secret()));
            params.push(("actor_token_type", token_type.as_str()));
        }
        if let Some(wanted) = &self.requested_token_type {
            params.push(("requested_token_type", wanted.as_str()));
        }
        params.extend(self.audiences.iter().map(|a| ("audience", a.as_str())));
        params.extend(self.resources.iter().map(|r| ("resource", r.as_str())));
        params
    }
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchange")
            .field("subject_token_type", &self.subject_token_type)
            .field(
                "actor_token_type",
                &self.actor.as_ref().map(|(_, token_type)| token_type),
            )
            .field("requested_token_type", &self.requested_token_type)
            .field("audiences", &self.audiences)
            .field("resources", &self.resources)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}
