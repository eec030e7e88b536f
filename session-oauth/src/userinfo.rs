//! The OpenID Connect user-info endpoint: the signed-in user's claims, as
//! JSON or — when the provider signs them — as a JWT verified like an ID
//! token.

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Map, Value};
use session_core::{Claims, TokenSet};

use crate::client::OAuthClient;
use crate::error::{Error, Result};
use crate::http_client::{HttpError, read_answer};

impl OAuthClient {
    /// The claims the provider holds about the user `tokens` belong to.
    /// A DPoP-bound token is sent as `DPoP`, with a proof by the client's
    /// key ([`OAuthClientBuilder::dpop`](crate::OAuthClientBuilder::dpop)).
    ///
    /// A signed answer (`application/jwt`) must verify against the
    /// provider's keys and name this client as audience. When `tokens`
    /// carries an ID token, the answer must be about the same user (`sub`).
    ///
    /// # Errors
    ///
    /// [`Error::MissingEndpoint`] without a user-info endpoint;
    /// [`Error::Server`] (`invalid_token`) when the access token is refused;
    /// [`Error::InvalidIdToken`] for a signed answer that doesn't verify;
    /// [`Error::InvalidResponse`] for an answer about someone else or not
    /// a JSON object; transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient, tokens: session_core::TokenSet) -> Result<(), session_oauth::Error> {
    /// let claims = client.userinfo(&tokens).await?;
    /// println!("signed in as {}", claims["email"]);
    /// # Ok(()) }
    /// ```
    pub async fn userinfo(&self, tokens: &TokenSet) -> Result<Map<String, Value>> {
        let inner = &self.inner;
        let url = inner
            .metadata
            .userinfo_endpoint
            .as_ref()
            .ok_or(Error::MissingEndpoint {
                endpoint: "userinfo",
            })?;
        let authorization = tokens
            .authorization_value()
            .map_err(|e| Error::Configuration {
                reason: e.to_string(),
            })?;
        let mut request = inner
            .http
            .session()
            .get(url.as_str())
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json, application/jwt");
        // A DPoP-bound token goes with a proof for this request.
        if let Some(key) = &inner.dpop
            && tokens.token_type().eq_ignore_ascii_case("dpop")
        {
            let proof = key
                .proof(
                    &http::Method::GET,
                    url,
                    Some(tokens.access_token().expose_secret()),
                )
                .map_err(|e| Error::Configuration {
                    reason: format!("DPoP: {e}"),
                })?;
            request = request.header(session_auth::DPOP, proof);
        }
        let response = inner.http.send(request).await?;
        let status = response.status();
        if status.is_server_error() {
            return Err(Error::Transport {
                retryable: true,
                source: None,
            });
        }
        if !status.is_success() {
            return Err(Error::from_code(
                if matches!(status.as_u16(), 401 | 403) {
                    "invalid_token"
                } else {
                    "invalid_request"
                },
                None,
            ));
        }
        let signed = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/jwt"));
        let body = read_answer(response).await.map_err(HttpError::into_error)?;
        let claims = if signed {
            let verifier = inner.id_tokens.as_ref().ok_or(Error::InvalidResponse {
                reason: "a signed user-info answer needs the provider's keys (jwks_uri)".into(),
            })?;
            let token = std::str::from_utf8(&body).map_err(|_| Error::InvalidResponse {
                reason: "the signed user-info answer is not text".into(),
            })?;
            let claims = verifier.verify_signed(token.trim()).await?;
            let exp = claims.get("exp").and_then(Value::as_i64);
            if exp.is_some_and(|exp| exp <= inner.clock.now().unix_timestamp()) {
                return Err(Error::InvalidIdToken {
                    reason: "the signed user-info answer has expired".into(),
                });
            }
            claims
        } else {
            serde_json::from_slice(&body).map_err(|_| Error::InvalidResponse {
                reason: "the user-info answer is not JSON".into(),
            })?
        };
        let Value::Object(claims) = claims else {
            return Err(Error::InvalidResponse {
                reason: "the user-info answer is not a JSON object".into(),
            });
        };
        let sub = claims.get("sub").and_then(Value::as_str);
        if sub.is_none() {
            return Err(Error::InvalidResponse {
                reason: "the user-info answer names no subject (sub)".into(),
            });
        }
        if let Some(id_token) = tokens.id_token()
            && let Ok(id) = Claims::decode_unverified(id_token.expose_secret())
            && id.sub.as_deref() != sub
        {
            return Err(Error::InvalidResponse {
                reason: "the user-info answer is about another user (sub)".into(),
            });
        }
        Ok(claims)
    }

    /// Where to send the user's browser to end their session at the
    /// provider (OpenID Connect RP-Initiated Logout): the end-session
    /// endpoint with `client_id`, the ID token in `tokens` as
    /// `id_token_hint` (when there is one), and `post_logout_redirect_uri`
    /// and `state` when given.
    ///
    /// The URL carries the ID token, as the specification has it: open it
    /// in the user's browser; don't log it.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEndpoint`] without an end-session endpoint;
    /// [`Error::Configuration`] for a redirect URI that is not a URL.
    ///
    /// ```
    /// # let provider = session_oauth::ProviderMetadata::new("https://id.example.com/token")?
    /// #     .with_end_session_endpoint("https://id.example.com/logout")?;
    /// # let client = session_oauth::OAuthClient::builder(provider, "web").build()?;
    /// let url = client.end_session_url(None, Some("https://app.example.com/bye"), Some("xyz"))?;
    /// assert_eq!(
    ///     url.as_str(),
    ///     "https://id.example.com/logout?client_id=web&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=xyz"
    /// );
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn end_session_url(
        &self,
        tokens: Option<&TokenSet>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<url::Url> {
        let mut url =
            self.inner
                .metadata
                .end_session_endpoint
                .clone()
                .ok_or(Error::MissingEndpoint {
                    endpoint: "end session",
                })?;
        if let Some(uri) = post_logout_redirect_uri
            && url::Url::parse(uri).is_err()
        {
            return Err(Error::Configuration {
                reason: "the post-logout redirect URI is not a valid URL".into(),
            });
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(id_token) = tokens.and_then(TokenSet::id_token) {
                query.append_pair("id_token_hint", id_token.expose_secret());
            }
            query.append_pair("client_id", &self.inner.client_id);
            if let Some(uri) = post_logout_redirect_uri {
                query.append_pair("post_logout_redirect_uri", uri);
            }
            if let Some(state) = state {
                query.append_pair("state", state);
            }
        }
        Ok(url)
    }
}
