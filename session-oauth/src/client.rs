//! [`OAuthClient`]: every grant against one authorization server — the
//! authorization code with PKCE, client credentials, password, refresh with
//! rotation — plus revocation and introspection.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AsyncHttpClient as _, AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl,
    EndpointMaybeSet, ErrorResponse, IntrospectionUrl, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, RevocationUrl,
    Scope, StandardRevocableToken, TokenIntrospectionResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use session_auth::DpopKey;
use session_core::{SharedClock, TokenSet};
use url::Url;

use crate::authorization_response::ExpectedResponse;
use crate::client_auth::{AssertionAudience, Authenticated, ClientAuth, form_request};
use crate::error::{Error, Result};
use crate::http_client::{HttpError, OAuthHttp};
use crate::id_token::{IdTokenVerifier, same_identity};
use crate::jwt_bearer::JwtBearer;
use crate::metadata::ProviderMetadata;
use crate::signing_key::SigningKey;
use crate::token_exchange::TokenExchange;
use crate::token_response::RawTokenResponse;

pub(crate) type Oauth2Client = oauth2::Client<
    BasicErrorResponse,
    RawTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointMaybeSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An authorization request in progress: the URL to open, and what the
/// answer is checked against. Keep it until the redirect arrives.
///
/// `Debug` never shows the verifier, state or nonce.
pub struct PendingAuthorization {
    /// The URL to open in a browser.
    pub url: Url,
    pub(crate) state: CsrfToken,
    pub(crate) verifier: PkceCodeVerifier,
    pub(crate) nonce: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    /// The provider's issuer identifier, when known.
    pub(crate) issuer: Option<String>,
    /// Whether the provider names itself (`iss`) in every response.
    pub(crate) iss_required: bool,
}

impl PendingAuthorization {
    /// The `state` sent (compare it with the redirect's).
    ///
    /// ```no_run
    /// # fn f(p: session_oauth::PendingAuthorization) {
    /// let state = p.state();
    /// # let _ = state; }
    /// ```
    pub fn state(&self) -> &str {
        self.state.secret()
    }

    /// The PKCE code verifier.
    ///
    /// # Security
    ///
    /// Keep it with the pending request only; it must not leave the client.
    ///
    /// ```no_run
    /// # fn f(p: session_oauth::PendingAuthorization) {
    /// let verifier = p.code_verifier();
    /// # let _ = verifier; }
    /// ```
    pub fn code_verifier(&self) -> &str {
        self.verifier.secret()
    }

    /// The OpenID Connect nonce, when `openid` was requested.
    ///
    /// ```no_run
    /// # fn f(p: session_oauth::PendingAuthorization) {
    /// let nonce = p.nonce();
    /// # let _ = nonce; }
    /// ```
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// What the authorization response must show.
    pub(crate) fn expected_response(&self) -> ExpectedResponse {
        ExpectedResponse::new(self.state(), self.issuer.as_deref(), self.iss_required)
    }
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("url_host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

/// What introspection (RFC 7662) says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// The client it was issued to.
    pub client_id: Option<String>,
    /// The user it was issued for.
    pub username: Option<String>,
    /// Its subject.
    pub sub: Option<String>,
}

/// An OAuth 2.0 / OpenID Connect client of one authorization server.
///
/// Cheap to clone.
///
/// # Examples
///
/// ```no_run
/// use session_oauth::{OAuthClient, ProviderMetadata};
///
/// # async fn run() -> Result<(), session_oauth::Error> {
/// let provider = ProviderMetadata::new("https://id.example.com/oauth/token")?;
/// let client = OAuthClient::builder(provider, "reporting-service")
///     .client_secret("s3cret")
///     .scopes(["reports:read"])
///     .build()?;
/// let tokens = client.client_credentials().await?;
/// # let _ = tokens; Ok(()) }
/// ```
#[derive(Clone)]
pub struct OAuthClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) oauth: Oauth2Client,
    pub(crate) http: OAuthHttp,
    pub(crate) metadata: ProviderMetadata,
    pub(crate) client_id: String,
    pub(crate) secret: Option<SecretString>,
    pub(crate) auth: ClientAuth,
    pub(crate) signing_key: Option<SigningKey>,
    pub(crate) assertion_audience: AssertionAudience,
    /// Push authorization requests even when the provider doesn't require it.
    pub(crate) push_authorization_requests: bool,
    /// Proves possession of this key at the token endpoint (DPoP).
    pub(crate) dpop: Option<DpopKey>,
    pub(crate) has_secret: bool,
    pub(crate) scopes: Vec<String>,
    pub(crate) redirect_uri: Option<Url>,
    pub(crate) clock: SharedClock,
    pub(crate) id_tokens: Option<IdTokenVerifier>,
}

/// Maps the `oauth2` crate's request error to ours.
pub(crate) fn map_request_error<T: ErrorResponse + 'static>(
    error: RequestTokenError<HttpError, T>,
    code_of: impl FnOnce(&T) -> (String, Option<String>),
) -> Error {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let (code, description) = code_of(&response);
            Error::from_code(&code, description)
        }
        RequestTokenError::Request(e) => e.into_error(),
        RequestTokenError::Parse(_, _) => Error::InvalidResponse {
            reason: "the answer could not be parsed".into(),
        },
        RequestTokenError::Other(reason) => Error::InvalidResponse { reason },
    }
}

/// The OAuth error in a provider's non-2xx answer (`invalid_request` when
/// the body names none).
pub(crate) fn error_answer(response: &oauth2::HttpResponse) -> Error {
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
    let code = body["error"].as_str().unwrap_or("invalid_request");
    let description = body["error_description"].as_str().map(str::to_owned);
    Error::from_code(code, description)
}

fn basic_code(r: &BasicErrorResponse) -> (String, Option<String>) {
    (
        r.error().as_ref().to_owned(),
        r.error_description().cloned(),
    )
}

impl OAuthClient {
    /// Starts a builder for the client `client_id` of `provider`.
    ///
    /// ```
    /// let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let _ = session_oauth::OAuthClient::builder(provider, "my-app");
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn builder(provider: ProviderMetadata, client_id: impl Into<String>) -> OAuthClientBuilder {
        OAuthClientBuilder {
            provider,
            client_id: client_id.into(),
            secret: None,
            auth: ClientAuth::Basic,
            signing_key: None,
            assertion_audience: AssertionAudience::Issuer,
            push_authorization_requests: false,
            dpop: None,
            redirect_uri: None,
            scopes: Vec::new(),
            http: None,
            clock: SharedClock::default(),
            error: None,
        }
    }

    /// The same provider, HTTP settings, scopes and clock for another
    /// client id and secret.
    pub(crate) fn for_client(&self, client_id: &str, client_secret: &str) -> Result<Self> {
        let inner = &self.inner;
        let mut builder = OAuthClient::builder(inner.metadata.clone(), client_id)
            .client_secret(client_secret)
            .client_auth(inner.auth)
            .scopes(inner.scopes.clone())
            .http(inner.http.clone())
            .clock(inner.clock.clone());
        if let Some(uri) = &inner.redirect_uri {
            builder = builder.redirect_uri(uri.as_str());
        }
        if let Some(key) = &inner.dpop {
            builder = builder.dpop(key.clone());
        }
        builder.build()
    }

    /// The provider's endpoints.
    ///
    /// ```no_run
    /// # fn f(client: session_oauth::OAuthClient) {
    /// println!("{}", client.metadata().token_endpoint);
    /// # }
    /// ```
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.inner.metadata
    }

    /// The client id.
    ///
    /// ```no_run
    /// # fn f(client: session_oauth::OAuthClient) {
    /// println!("{}", client.client_id());
    /// # }
    /// ```
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The ID-token verifier, when the provider has a JWKS URI and issuer.
    ///
    /// ```no_run
    /// # fn f(client: session_oauth::OAuthClient) {
    /// let has_keys = client.id_token_verifier().is_some();
    /// # let _ = has_keys; }
    /// ```
    pub fn id_token_verifier(&self) -> Option<&IdTokenVerifier> {
        self.inner.id_tokens.as_ref()
    }

    /// Starts an authorization code request with PKCE (S256, never `plain`),
    /// a fresh `state`, and — when the scopes include `openid` — a nonce.
    /// `redirect_uri` overrides the configured one (e.g. a loopback
    /// listener's).
    ///
    /// # Errors
    ///
    /// [`Error::MissingEndpoint`] without an authorization endpoint;
    /// [`Error::Configuration`] without any redirect URI, or when requests
    /// must be pushed first (use
    /// [`start_authorization`](Self::start_authorization), which pushes).
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let redirect = url::Url::parse("http://127.0.0.1:8765/callback").unwrap();
    /// let pending = client.authorization_request(Some(&redirect))?;
    /// println!("open {}", pending.url);
    /// # Ok(()) }
    /// ```
    pub fn authorization_request(
        &self,
        redirect_uri: Option<&Url>,
    ) -> Result<PendingAuthorization> {
        if self.pushes_authorization_requests() {
            return Err(Error::Configuration {
                reason: "authorization requests to this provider are pushed first: use start_authorization".into(),
            });
        }
        self.build_authorization_request(redirect_uri)
    }

    /// Starts an authorization code request as
    /// [`authorization_request`](Self::authorization_request) does, pushing
    /// it to the provider first (RFC 9126) when the provider requires that or
    /// the client was built with
    /// [`pushed_authorization_requests`](OAuthClientBuilder::pushed_authorization_requests):
    /// the URL to open then carries only `client_id` and the `request_uri`
    /// the provider handed back. The push is authenticated like every
    /// token-endpoint call.
    ///
    /// # Errors
    ///
    /// As [`authorization_request`](Self::authorization_request);
    /// [`Error::MissingEndpoint`] when pushing without a pushed
    /// authorization request endpoint; the provider's refusal; transport
    /// errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let redirect = url::Url::parse("http://127.0.0.1:8765/callback").unwrap();
    /// let pending = client.start_authorization(Some(&redirect)).await?;
    /// println!("open {}", pending.url);
    /// # Ok(()) }
    /// ```
    pub async fn start_authorization(
        &self,
        redirect_uri: Option<&Url>,
    ) -> Result<PendingAuthorization> {
        let mut pending = self.build_authorization_request(redirect_uri)?;
        if self.pushes_authorization_requests() {
            pending.url = self.push_authorization_request(&pending.url).await?;
        }
        Ok(pending)
    }

    /// Whether authorization requests go to the provider first.
    fn pushes_authorization_requests(&self) -> bool {
        self.inner.push_authorization_requests
            || self.inner.metadata.require_pushed_authorization_requests
    }

    /// Pushes the parameters of `url` (an authorization URL) and returns the
    /// URL that refers to them by `request_uri`.
    async fn push_authorization_request(&self, url: &Url) -> Result<Url> {
        let endpoint = self
            .inner
            .metadata
            .pushed_authorization_request_endpoint
            .as_ref()
            .ok_or(Error::MissingEndpoint {
                endpoint: "pushed authorization request",
            })?;
        let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let response = self
            .authenticated()
            .call(form_request(endpoint, &params)?)
            .await
            .map_err(HttpError::into_error)?;
        if !response.status().is_success() {
            return Err(error_answer(&response));
        }
        let answer: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
        let request_uri = answer["request_uri"]
            .as_str()
            .filter(|u| !u.is_empty())
            .ok_or(Error::InvalidResponse {
                reason: "the pushed request was answered without a request_uri".into(),
            })?;
        let mut short = url.clone();
        short
            .query_pairs_mut()
            .clear()
            .append_pair("client_id", &self.inner.client_id)
            .append_pair("request_uri", request_uri);
        Ok(short)
    }

    /// The authorization request itself: PKCE, state, nonce, scopes, and
    /// the DPoP key's thumbprint.
    fn build_authorization_request(
        &self,
        redirect_uri: Option<&Url>,
    ) -> Result<PendingAuthorization> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let redirect = redirect_uri
            .or(self.inner.redirect_uri.as_ref())
            .ok_or(Error::Configuration {
                reason: "the authorization code flow needs a redirect URI".into(),
            })?
            .to_string();
        let wants_openid = self.inner.scopes.iter().any(|s| s == "openid");
        let nonce = wants_openid.then(|| CsrfToken::new_random().secret().clone());
        let mut request = self
            .inner
            .oauth
            .authorize_url(CsrfToken::new_random)
            .map_err(|_| Error::MissingEndpoint {
                endpoint: "authorization",
            })?
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(RedirectUrl::new(redirect.clone()).map_err(
                |_| Error::Configuration {
                    reason: "the redirect URI is not a valid URL".into(),
                },
            )?));
        for scope in &self.inner.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(nonce) = &nonce {
            request = request.add_extra_param("nonce", nonce.clone());
        }
        if let Some(key) = &self.inner.dpop {
            // Binds the code to the key (RFC 9449 §10): a code that leaks
            // can't be redeemed with another key.
            request = request.add_extra_param("dpop_jkt", key.thumbprint());
        }
        let (url, state) = request.url();
        Ok(PendingAuthorization {
            url,
            state,
            verifier,
            nonce,
            redirect_uri: Some(redirect),
            issuer: self.inner.metadata.issuer.clone(),
            iss_required: self
                .inner
                .metadata
                .authorization_response_iss_parameter_supported,
        })
    }

    /// Exchanges an authorization code, proving possession with the pending
    /// request's verifier; validates the ID token (and its nonce) when one is
    /// returned and the provider publishes keys.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGrant`] for a wrong code or verifier; ID-token and
    /// transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let pending = client.authorization_request(None)?;
    /// // … the browser comes back with ?code=…&state=… (check the state) …
    /// let tokens = client.exchange_code("code-from-redirect", &pending).await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn exchange_code(
        &self,
        code: &str,
        pending: &PendingAuthorization,
    ) -> Result<TokenSet> {
        self.redeem_code(
            code,
            pending.verifier.secret(),
            pending.redirect_uri.as_deref(),
            pending.nonce.as_deref(),
        )
        .await
    }

    /// Exchanges an authorization code with an explicit verifier, for flows
    /// where the verifier was kept outside this process (the counterpart of
    /// [`OAuth`](crate::OAuth)'s URL-plus-verifier step).
    ///
    /// # Errors
    ///
    /// As [`exchange_code`](Self::exchange_code).
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let tokens = client.exchange_code_with_verifier("code", "kept-verifier", None).await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn exchange_code_with_verifier(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: Option<&str>,
    ) -> Result<TokenSet> {
        self.redeem_code(code, verifier, redirect_uri, None).await
    }

    /// Redeems a code; an ID token in the answer is checked (against
    /// `nonce` when the request sent one).
    async fn redeem_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<TokenSet> {
        let mut request = self
            .inner
            .oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| Error::MissingEndpoint { endpoint: "token" })?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        let redirect = redirect_uri
            .map(str::to_owned)
            .or_else(|| self.inner.redirect_uri.as_ref().map(Url::to_string));
        if let Some(redirect) = redirect {
            let redirect = RedirectUrl::new(redirect).map_err(|_| Error::Configuration {
                reason: "the redirect URI is not a valid URL".into(),
            })?;
            request = request.set_redirect_uri(Cow::Owned(redirect));
        }
        let sent_at = self.inner.clock.now();
        let response = request
            .request_async(&self.authenticated())
            .await
            .map_err(|e| map_request_error(e, basic_code))?;
        self.accept(response, sent_at, nonce).await
    }

    /// The client credentials grant, with the configured scopes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClient`] for a wrong secret; transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let tokens = client.client_credentials().await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn client_credentials(&self) -> Result<TokenSet> {
        let mut request = self
            .inner
            .oauth
            .exchange_client_credentials()
            .map_err(|_| Error::MissingEndpoint { endpoint: "token" })?;
        for scope in &self.inner.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let sent_at = self.inner.clock.now();
        let response = request
            .request_async(&self.authenticated())
            .await
            .map_err(|e| map_request_error(e, basic_code))?;
        self.accept(response, sent_at, None).await
    }

    /// The resource owner password grant (for first-party clients only).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] for a wrong username or password;
    /// transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let tokens = client.password("ada@example.com", &"pw".to_owned().into()).await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn password(&self, username: &str, password: &SecretString) -> Result<TokenSet> {
        let user = ResourceOwnerUsername::new(username.to_owned());
        let pass = ResourceOwnerPassword::new(password.expose_secret().to_owned());
        let mut request = self
            .inner
            .oauth
            .exchange_password(&user, &pass)
            .map_err(|_| Error::MissingEndpoint { endpoint: "token" })?;
        for scope in &self.inner.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let sent_at = self.inner.clock.now();
        let response = request
            .request_async(&self.authenticated())
            .await
            .map_err(|e| {
                match map_request_error(e, basic_code) {
                    // To a password grant, `invalid_grant` means wrong credentials.
                    Error::InvalidGrant { description } => {
                        Error::InvalidCredentials { description }
                    }
                    other => other,
                }
            })?;
        self.accept(response, sent_at, None).await
    }

    /// Refreshes `tokens`. The newest refresh token is kept: a rotated one
    /// replaces the old, and the old stays when the server sends none.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGrant`] for a dead (or reused) refresh token;
    /// [`Error::Configuration`] when `tokens` has no refresh token;
    /// [`Error::InvalidIdToken`] when the answer's ID token fails its checks
    /// or names another user than the one in `tokens` (OIDC Core §12.2).
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// # let tokens = session_core::TokenSet::new("at").with_refresh_token("rt");
    /// let fresh = client.refresh(&tokens).await?;
    /// # let _ = fresh; Ok(()) }
    /// ```
    pub async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet> {
        let refresh = tokens.refresh_token().ok_or(Error::Configuration {
            reason: "the tokens carry no refresh token".into(),
        })?;
        let fresh = self.refresh_with(refresh.expose_secret()).await?;
        same_identity(tokens, &fresh)?;
        Ok(fresh.inherit_refresh_token(tokens))
    }

    /// Refreshes with a raw refresh token.
    ///
    /// # Errors
    ///
    /// As [`refresh`](Self::refresh).
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let fresh = client.refresh_with("stored-refresh-token").await?;
    /// # let _ = fresh; Ok(()) }
    /// ```
    pub async fn refresh_with(&self, refresh_token: &str) -> Result<TokenSet> {
        let token = oauth2::RefreshToken::new(refresh_token.to_owned());
        let request = self
            .inner
            .oauth
            .exchange_refresh_token(&token)
            .map_err(|_| Error::MissingEndpoint { endpoint: "token" })?;
        let sent_at = self.inner.clock.now();
        let response = request
            .request_async(&self.authenticated())
            .await
            .map_err(|e| map_request_error(e, basic_code))?;
        let fresh = self.accept(response, sent_at, None).await?;
        Ok(match fresh.refresh_token() {
            Some(_) => fresh,
            None => fresh.with_refresh_token(refresh_token),
        })
    }

    /// Revokes the refresh token, then the access token (RFC 7009). Like
    /// every endpoint, it must use https, except on a loopback host.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEndpoint`] without a revocation endpoint;
    /// [`Error::InsecureTransport`] for plain http to another host; server
    /// and transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// # let tokens = session_core::TokenSet::new("at");
    /// client.revoke(&tokens).await?;
    /// # Ok(()) }
    /// ```
    pub async fn revoke(&self, tokens: &TokenSet) -> Result<()> {
        if let Some(refresh) = tokens.refresh_token() {
            self.revoke_one(refresh.expose_secret(), "refresh_token")
                .await?;
        }
        self.revoke_one(tokens.access_token().expose_secret(), "access_token")
            .await
    }

    async fn revoke_one(&self, token: &str, hint: &str) -> Result<()> {
        let url =
            self.inner
                .metadata
                .revocation_endpoint
                .clone()
                .ok_or(Error::MissingEndpoint {
                    endpoint: "revocation",
                })?;
        let request = form_request(&url, &[("token", token), ("token_type_hint", hint)])?;
        let response = self
            .authenticated()
            .call(request)
            .await
            .map_err(HttpError::into_error)?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(error_answer(&response))
    }

    /// Sends requests as this client (its authentication added).
    pub(crate) fn authenticated(&self) -> Authenticated {
        Authenticated(Arc::clone(&self.inner))
    }

    /// A grant of our own at the token endpoint: `params` (the grant type
    /// and its fields) plus the client's scopes unless `scopes` overrides
    /// them, sent as the client.
    async fn token_grant(
        &self,
        params: &[(&str, &str)],
        scopes: Option<&[String]>,
    ) -> Result<TokenSet> {
        let scope = scopes.unwrap_or(&self.inner.scopes).join(" ");
        let mut params = params.to_vec();
        if !scope.is_empty() {
            params.push(("scope", &scope));
        }
        let request = form_request(&self.inner.metadata.token_endpoint, &params)?;
        let sent_at = self.inner.clock.now();
        let response = self
            .authenticated()
            .call(request)
            .await
            .map_err(HttpError::into_error)?;
        if !response.status().is_success() {
            return Err(error_answer(&response));
        }
        let raw: RawTokenResponse =
            serde_json::from_slice(response.body()).map_err(|_| Error::InvalidResponse {
                reason: "the answer could not be parsed".into(),
            })?;
        self.accept(raw, sent_at, None).await
    }

    /// The JWT-bearer grant (RFC 7523 §2.1): a fresh assertion from `grant`,
    /// traded for tokens, with the client's scopes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGrant`] when the provider refuses the assertion;
    /// [`Error::Configuration`] when no assertion can be made; transport
    /// errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let grant = session_oauth::JwtBearer::from_service_account_json(&std::fs::read_to_string("svc.json")?)?;
    /// let tokens = client.jwt_bearer(&grant).await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn jwt_bearer(&self, grant: &JwtBearer) -> Result<TokenSet> {
        let now = self.inner.clock.now().unix_timestamp();
        let assertion = SecretString::from(grant.assertion(
            self.inner.metadata.token_endpoint.as_str(),
            &self.inner.scopes,
            now,
        )?);
        self.token_grant(
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.expose_secret()),
            ],
            None,
        )
        .await
    }

    /// Token exchange (RFC 8693): trades the request's subject (and actor)
    /// token for a new one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGrant`] when the provider refuses the subject token;
    /// other refusals (such as `invalid_target`) as [`Error::Server`];
    /// transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let request = session_oauth::TokenExchange::new("incoming-user-token").audience("orders");
    /// let tokens = client.exchange_token(&request).await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn exchange_token(&self, request: &TokenExchange) -> Result<TokenSet> {
        self.token_grant(&request.params(), request.scopes.as_deref())
            .await
    }

    /// Asks the server about an access token (RFC 7662).
    ///
    /// # Errors
    ///
    /// [`Error::MissingEndpoint`] without an introspection endpoint; server
    /// and transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let info = client.introspect("access-token").await?;
    /// println!("active: {}", info.active);
    /// # Ok(()) }
    /// ```
    pub async fn introspect(&self, access_token: &str) -> Result<Introspection> {
        let token = oauth2::AccessToken::new(access_token.to_owned());
        let response = self
            .inner
            .oauth
            .introspect(&token)
            .map_err(|_| Error::MissingEndpoint {
                endpoint: "introspection",
            })?
            .request_async(&self.authenticated())
            .await
            .map_err(|e| map_request_error(e, basic_code))?;
        Ok(Introspection {
            active: response.active(),
            scopes: response
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
            client_id: response.client_id().map(|c| c.to_string()),
            username: response.username().map(str::to_owned),
            sub: response.sub().map(str::to_owned),
        })
    }

    /// A token endpoint's answer as tokens: every grant's answer comes
    /// through here, so an ID token in any of them is checked (signature,
    /// issuer, audience, times; the nonce when the request sent one) before
    /// anyone can use it.
    pub(crate) async fn accept(
        &self,
        response: RawTokenResponse,
        sent_at: session_core::time::OffsetDateTime,
        nonce: Option<&str>,
    ) -> Result<TokenSet> {
        let tokens = response.into_token_set(sent_at)?;
        self.check_id_token(&tokens, nonce).await?;
        Ok(tokens)
    }

    /// Validates the ID token in `tokens`, if there is one and the provider
    /// publishes signing keys.
    async fn check_id_token(&self, tokens: &TokenSet, nonce: Option<&str>) -> Result<()> {
        match (tokens.id_token(), &self.inner.id_tokens) {
            (Some(id_token), Some(verifier)) => verifier
                .verify(id_token.expose_secret(), nonce)
                .await
                .map(|_| ()),
            (None, Some(_)) if nonce.is_some() => Err(Error::InvalidIdToken {
                reason: "an openid request was answered without an ID token".into(),
            }),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.inner.client_id)
            .field(
                "token_endpoint",
                &self.inner.metadata.token_endpoint.as_str(),
            )
            .field("has_secret", &self.inner.has_secret)
            .finish_non_exhaustive()
    }
}

/// Builds an [`OAuthClient`].
#[must_use]
pub struct OAuthClientBuilder {
    provider: ProviderMetadata,
    client_id: String,
    secret: Option<SecretString>,
    auth: ClientAuth,
    signing_key: Option<SigningKey>,
    assertion_audience: AssertionAudience,
    push_authorization_requests: bool,
    dpop: Option<DpopKey>,
    redirect_uri: Option<Url>,
    scopes: Vec<String>,
    http: Option<OAuthHttp>,
    clock: SharedClock,
    error: Option<Error>,
}

impl OAuthClientBuilder {
    /// The client secret (confidential clients).
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let client = session_oauth::OAuthClient::builder(provider, "svc").client_secret("s3cret").build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(SecretString::from(secret.into()));
        self
    }

    /// How to send the secret (default `client_secret_basic`).
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let client = session_oauth::OAuthClient::builder(provider, "svc")
    ///     .client_secret("s3cret")
    ///     .client_auth(session_oauth::ClientAuth::Post)
    ///     .build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Authenticates with `private_key_jwt`: every request to the provider
    /// carries a client assertion signed with `key`.
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// let client = session_oauth::OAuthClient::builder(provider, "svc").private_key_jwt(key).build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn private_key_jwt(mut self, key: SigningKey) -> Self {
        self.auth = ClientAuth::PrivateKeyJwt;
        self.signing_key = Some(key);
        self
    }

    /// Pushes every authorization request to the provider first (RFC 9126),
    /// even when its metadata doesn't require it; the browser then gets a
    /// short URL with only a `request_uri`. (When the provider requires
    /// pushed requests, they are pushed whatever this says.)
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let client = session_oauth::OAuthClient::builder(provider, "app").pushed_authorization_requests(true).build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn pushed_authorization_requests(mut self, push: bool) -> Self {
        self.push_authorization_requests = push;
        self
    }

    /// Sender-constrained tokens (DPoP, RFC 9449): every token-endpoint call
    /// (sign-in, refresh) carries a proof signed with `key`, so the provider
    /// binds the tokens — refresh tokens included — to it; a `use_dpop_nonce`
    /// answer is retried once with the server's nonce. Authorization
    /// requests carry the key's thumbprint (`dpop_jkt`), so the code they
    /// bring back can only be redeemed with this key. Give the same key to
    /// the session's token manager
    /// ([`TokenManagerBuilder::dpop`](session_auth::TokenManagerBuilder::dpop)),
    /// which proves it on every request.
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let key = session_auth::DpopKey::generate()?;
    /// let client = session_oauth::OAuthClient::builder(provider, "app").dpop(key).build()?;
    /// # let _ = client; Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Who client assertions are addressed to (default: the issuer).
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// let client = session_oauth::OAuthClient::builder(provider, "svc")
    ///     .private_key_jwt(key)
    ///     .assertion_audience(session_oauth::AssertionAudience::TokenEndpoint)
    ///     .build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.assertion_audience = audience;
        self
    }

    /// The registered redirect URI.
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let client = session_oauth::OAuthClient::builder(provider, "web").redirect_uri("https://app.example.com/callback").build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn redirect_uri(mut self, uri: &str) -> Self {
        match Url::parse(uri) {
            Ok(url) => self.redirect_uri = Some(url),
            Err(_) => {
                self.error.get_or_insert(Error::Configuration {
                    reason: "the redirect URI is not a valid URL".into(),
                });
            }
        }
        self
    }

    /// Scopes to request.
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let client = session_oauth::OAuthClient::builder(provider, "app").scopes(["openid", "profile"]).build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The HTTP client (default: one that never follows redirects).
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let client = session_oauth::OAuthClient::builder(provider, "app").http(session_oauth::OAuthHttp::new()?).build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn http(mut self, http: OAuthHttp) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock for token expiry and ID-token checks.
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// let client = session_oauth::OAuthClient::builder(provider, "app").clock(session_core::SharedClock::default()).build()?;
    /// # let _ = client; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// The first invalid setting, or an empty client id.
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?;
    /// assert!(session_oauth::OAuthClient::builder(provider, "").build().is_err());
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn build(self) -> Result<OAuthClient> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.client_id.is_empty() {
            return Err(Error::Configuration {
                reason: "the client id is empty".into(),
            });
        }
        let p = &self.provider;
        let bad = |what: &str| Error::Configuration {
            reason: format!("the {what} endpoint is not a valid URL"),
        };
        if self.auth == ClientAuth::PrivateKeyJwt && self.signing_key.is_none() {
            return Err(Error::Configuration {
                reason: "private_key_jwt needs a signing key".into(),
            });
        }
        // The `oauth2` crate sends only the client id; `Authenticated` adds
        // the proof to every request.
        let oauth: Oauth2Client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_type(oauth2::AuthType::RequestBody)
            .set_token_uri_option(Some(
                TokenUrl::new(p.token_endpoint.to_string()).map_err(|_| bad("token"))?,
            ))
            .set_auth_uri_option(
                p.authorization_endpoint
                    .as_ref()
                    .map(|u| AuthUrl::new(u.to_string()).map_err(|_| bad("authorization")))
                    .transpose()?,
            )
            .set_revocation_url_option(
                p.revocation_endpoint
                    .as_ref()
                    .map(|u| RevocationUrl::new(u.to_string()).map_err(|_| bad("revocation")))
                    .transpose()?,
            )
            .set_introspection_url_option(
                p.introspection_endpoint
                    .as_ref()
                    .map(|u| IntrospectionUrl::new(u.to_string()).map_err(|_| bad("introspection")))
                    .transpose()?,
            )
            .set_device_authorization_url_option(
                p.device_authorization_endpoint
                    .as_ref()
                    .map(|u| DeviceAuthorizationUrl::new(u.to_string()).map_err(|_| bad("device")))
                    .transpose()?,
            );
        let http = match self.http {
            Some(http) => http,
            None => OAuthHttp::new()?,
        };
        let id_tokens = match (&p.jwks_uri, &p.issuer) {
            (Some(jwks), Some(issuer)) => Some(IdTokenVerifier::with_secret(
                http.clone(),
                jwks.clone(),
                issuer.clone(),
                self.client_id.clone(),
                self.secret.clone(),
                self.clock.clone(),
            )),
            _ => None,
        };
        Ok(OAuthClient {
            inner: Arc::new(Inner {
                oauth,
                http,
                metadata: self.provider,
                client_id: self.client_id,
                has_secret: self.secret.is_some(),
                secret: self.secret,
                auth: self.auth,
                signing_key: self.signing_key,
                assertion_audience: self.assertion_audience,
                push_authorization_requests: self.push_authorization_requests,
                dpop: self.dpop,
                scopes: self.scopes,
                redirect_uri: self.redirect_uri,
                clock: self.clock,
                id_tokens,
            }),
        })
    }
}

impl fmt::Debug for OAuthClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClientBuilder")
            .field("client_id", &self.client_id)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}
