//! [`ProviderMetadata`]: where an authorization server's endpoints are, given
//! explicitly or discovered (OpenID Connect Discovery, RFC 8414).

use serde::Deserialize;
use url::Url;

use crate::error::{Error, Result};
use crate::http_client::{HttpError, OAuthHttp, read_answer};

/// An authorization server's endpoints.
///
/// # Examples
///
/// ```
/// use session_oauth::ProviderMetadata;
///
/// let provider = ProviderMetadata::new("https://id.example.com/oauth/token")?
///     .with_authorization_endpoint("https://id.example.com/oauth/authorize")?
///     .with_revocation_endpoint("https://id.example.com/oauth/revoke")?;
/// assert!(provider.introspection_endpoint.is_none());
/// # Ok::<(), session_oauth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier (checked against ID tokens).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Where users authorize (authorization code flow).
    #[serde(default)]
    pub authorization_endpoint: Option<Url>,
    /// Where tokens are issued.
    pub token_endpoint: Url,
    /// RFC 7009 revocation.
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    /// RFC 7662 introspection.
    #[serde(default)]
    pub introspection_endpoint: Option<Url>,
    /// RFC 8628 device authorization.
    #[serde(default)]
    pub device_authorization_endpoint: Option<Url>,
    /// The signing keys for ID tokens.
    #[serde(default)]
    pub jwks_uri: Option<Url>,
    /// OpenID Connect user info.
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    /// OpenID Connect RP-initiated logout: where to send the user's browser
    /// to end their session at the provider.
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    /// Pushed authorization requests (RFC 9126).
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<Url>,
    /// Whether the provider takes authorization requests only when pushed.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Whether the provider names itself (`iss`) in every authorization
    /// response (RFC 9207); when it does, a response without it is refused.
    /// An `iss` that is present is compared with [`issuer`](Self::issuer)
    /// either way.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

fn parse(url: &str, what: &'static str) -> Result<Url> {
    Url::parse(url).map_err(|_| Error::Configuration {
        reason: format!("the {what} endpoint is not a valid URL"),
    })
}

impl ProviderMetadata {
    /// Metadata with only a token endpoint (enough for client credentials,
    /// password and refresh grants).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn new(token_endpoint: &str) -> Result<Self> {
        Ok(Self {
            issuer: None,
            authorization_endpoint: None,
            token_endpoint: parse(token_endpoint, "token")?,
            revocation_endpoint: None,
            introspection_endpoint: None,
            device_authorization_endpoint: None,
            jwks_uri: None,
            userinfo_endpoint: None,
            end_session_endpoint: None,
            pushed_authorization_request_endpoint: None,
            require_pushed_authorization_requests: false,
            authorization_response_iss_parameter_supported: false,
        })
    }

    /// Sets the issuer identifier.
    ///
    /// ```
    /// let p = session_oauth::ProviderMetadata::new("https://id.example.com/token")?.with_issuer("https://id.example.com");
    /// assert_eq!(p.issuer.as_deref(), Some("https://id.example.com"));
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the authorization endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://a/t")?.with_authorization_endpoint("https://a/auth")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn with_authorization_endpoint(mut self, url: &str) -> Result<Self> {
        self.authorization_endpoint = Some(parse(url, "authorization")?);
        Ok(self)
    }

    /// Sets the revocation endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://a/t")?.with_revocation_endpoint("https://a/revoke")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn with_revocation_endpoint(mut self, url: &str) -> Result<Self> {
        self.revocation_endpoint = Some(parse(url, "revocation")?);
        Ok(self)
    }

    /// Sets the introspection endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://a/t")?.with_introspection_endpoint("https://a/introspect")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn with_introspection_endpoint(mut self, url: &str) -> Result<Self> {
        self.introspection_endpoint = Some(parse(url, "introspection")?);
        Ok(self)
    }

    /// Sets the device authorization endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://a/t")?.with_device_authorization_endpoint("https://a/device")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn with_device_authorization_endpoint(mut self, url: &str) -> Result<Self> {
        self.device_authorization_endpoint = Some(parse(url, "device authorization")?);
        Ok(self)
    }

    /// Sets the JWKS URI.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://a/t")?.with_jwks_uri("https://a/jwks")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn with_jwks_uri(mut self, url: &str) -> Result<Self> {
        self.jwks_uri = Some(parse(url, "JWKS")?);
        Ok(self)
    }

    /// Sets the user-info endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://a/t")?.with_userinfo_endpoint("https://a/userinfo")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn with_userinfo_endpoint(mut self, url: &str) -> Result<Self> {
        self.userinfo_endpoint = Some(parse(url, "userinfo")?);
        Ok(self)
    }

    /// Sets the pushed authorization request endpoint (RFC 9126).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://a/t")?.with_pushed_authorization_request_endpoint("https://a/par")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn with_pushed_authorization_request_endpoint(mut self, url: &str) -> Result<Self> {
        self.pushed_authorization_request_endpoint =
            Some(parse(url, "pushed authorization request")?);
        Ok(self)
    }

    /// Sets the end-session (logout) endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid URL.
    ///
    /// ```
    /// let _ = session_oauth::ProviderMetadata::new("https://a/t")?.with_end_session_endpoint("https://a/logout")?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn with_end_session_endpoint(mut self, url: &str) -> Result<Self> {
        self.end_session_endpoint = Some(parse(url, "end session")?);
        Ok(self)
    }

    /// Reads a discovery document (OpenID Connect Discovery or RFC 8414)
    /// fetched for `issuer`; its `issuer` must equal the one asked for
    /// (trailing slashes aside). What [`discover`](Self::discover) does with
    /// the document it fetched.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidResponse`] when the bytes are not provider metadata
    /// or name another issuer; the reason never quotes the document.
    ///
    /// ```
    /// use session_oauth::ProviderMetadata;
    /// let doc = br#"{"issuer": "https://id.example.com", "token_endpoint": "https://id.example.com/token"}"#;
    /// let provider = ProviderMetadata::from_discovery_document("https://id.example.com/", doc)?;
    /// assert_eq!(provider.token_endpoint.as_str(), "https://id.example.com/token");
    /// assert!(ProviderMetadata::from_discovery_document("https://other.example.com", doc).is_err());
    /// assert!(ProviderMetadata::from_discovery_document("https://id.example.com", b"{").is_err());
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn from_discovery_document(issuer: &str, document: &[u8]) -> Result<Self> {
        let metadata: Self =
            serde_json::from_slice(document).map_err(|_| Error::InvalidResponse {
                reason: "the discovery document is not valid provider metadata".into(),
            })?;
        let found = metadata.issuer.as_deref().map(|i| i.trim_end_matches('/'));
        if found != Some(issuer.trim_end_matches('/')) {
            return Err(Error::InvalidResponse {
                reason: "the discovery document names another issuer".into(),
            });
        }
        Ok(metadata)
    }

    /// Discovers the endpoints of `issuer`: OpenID Connect Discovery
    /// (`<issuer>/.well-known/openid-configuration`) first, then RFC 8414
    /// (`<origin>/.well-known/oauth-authorization-server<path>`). The document's
    /// `issuer` must equal the one asked for.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when the server can't be reached;
    /// [`Error::InvalidResponse`] when neither document is found, or the
    /// issuer doesn't match.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_oauth::Error> {
    /// let http = session_oauth::OAuthHttp::new()?;
    /// let provider = session_oauth::ProviderMetadata::discover(&http, "https://accounts.example.com").await?;
    /// # let _ = provider; Ok(()) }
    /// ```
    pub async fn discover(http: &OAuthHttp, issuer: &str) -> Result<Self> {
        let base = Url::parse(issuer).map_err(|_| Error::Configuration {
            reason: "the issuer is not a valid URL".into(),
        })?;
        let trimmed = issuer.trim_end_matches('/');
        let oidc = format!("{trimmed}/.well-known/openid-configuration");
        let path = base.path().trim_end_matches('/');
        let rfc8414 = format!(
            "{}/.well-known/oauth-authorization-server{path}",
            base.origin().ascii_serialization()
        );
        for candidate in [oidc, rfc8414] {
            let response = http.send(http.session().get(&candidate)).await?;
            if !response.status().is_success() {
                continue;
            }
            let document = read_answer(response).await.map_err(HttpError::into_error)?;
            return Self::from_discovery_document(issuer, &document);
        }
        Err(Error::InvalidResponse {
            reason: "no discovery document was found for the issuer".into(),
        })
    }
}
