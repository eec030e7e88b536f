//! Client authentication, in one place: [`ClientAuth`] says how the client
//! proves who it is, and [`Authenticated`] applies it to every request that
//! needs it — token (every grant), refresh, revocation, introspection,
//! device authorization and pushed authorization requests. The `oauth2`
//! crate is told nothing about the secret: each request it builds carries
//! only the client id, and the proof is added here on its way out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde_json::json;
use url::Url;

use crate::client::Inner;
use crate::error::{Error, Result};
use crate::http_client::HttpError;

/// How long a client assertion is valid: long enough for one request.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
const JWT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client authenticates at the provider's endpoints.
///
/// ```
/// assert_eq!(session_oauth::ClientAuth::default(), session_oauth::ClientAuth::Basic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the id and secret
    /// form-urlencoded first (RFC 6749 §2.3.1), so `:`, `%`, `+` and spaces
    /// survive.
    #[default]
    Basic,
    /// `client_secret_post`: id and secret in the form body.
    Post,
    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT
    /// signed with the client's [`SigningKey`](crate::SigningKey), fresh for
    /// every request (its own `jti`, valid for 60 seconds). Set the key with
    /// [`OAuthClientBuilder::private_key_jwt`](crate::OAuthClientBuilder::private_key_jwt).
    PrivateKeyJwt,
    /// Mutual TLS (RFC 8705 `tls_client_auth` or
    /// `self_signed_tls_client_auth`): the TLS client certificate set with
    /// [`OAuthHttpBuilder::identity`](crate::OAuthHttpBuilder::identity)
    /// proves the client; requests carry only its id. Tokens the provider
    /// binds to the certificate work with a session that presents it too
    /// ([`SessionBuilder::identity`](session_auth::SessionBuilder::identity)).
    TlsClientAuth,
}

/// Who a client assertion is addressed to (its `aud`).
///
/// ```
/// assert_eq!(session_oauth::AssertionAudience::default(), session_oauth::AssertionAudience::Issuer);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The provider's issuer identifier (the token endpoint when the
    /// metadata names no issuer).
    #[default]
    Issuer,
    /// The token endpoint, for providers that want it.
    TokenEndpoint,
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1), marked
/// sensitive.
fn basic_credentials(client_id: &str, secret: &str) -> http::HeaderValue {
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", encode(client_id), encode(secret));
    let mut value = http::HeaderValue::from_str(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    ))
    .expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

/// A form POST to one of the provider's endpoints, before authentication.
pub(crate) fn form_request(url: &Url, params: &[(&str, &str)]) -> Result<HttpRequest> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    http::Request::builder()
        .method(http::Method::POST)
        .uri(url.as_str())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(body.into_bytes())
        .map_err(|_| Error::Configuration {
            reason: "the endpoint URL can't be used in a request".into(),
        })
}

impl Inner {
    /// Adds the client's proof to `request`, whose form body names at most
    /// the client id: Basic credentials, the secret in the body, or a fresh
    /// client assertion.
    fn authenticate(&self, mut request: HttpRequest) -> Result<HttpRequest> {
        let mut form: Vec<(String, String)> = url::form_urlencoded::parse(request.body())
            .into_owned()
            .filter(|(name, _)| !matches!(name.as_str(), "client_id" | "client_secret"))
            .collect();
        let id = self.client_id.clone();
        match (self.auth, &self.secret, &self.signing_key) {
            (ClientAuth::PrivateKeyJwt, _, Some(key)) => {
                let now = self.clock.now().unix_timestamp();
                let assertion = key.sign(&json!({
                    "iss": id,
                    "sub": id,
                    "aud": self.assertion_audience(),
                    "jti": random_id()?,
                    "iat": now,
                    "exp": now + ASSERTION_LIFETIME.as_secs() as i64,
                }))?;
                form.push(("client_id".into(), id));
                form.push(("client_assertion_type".into(), JWT_ASSERTION.into()));
                form.push(("client_assertion".into(), assertion));
            }
            (ClientAuth::PrivateKeyJwt, _, None) => {
                return Err(Error::Configuration {
                    reason: "private_key_jwt needs a signing key".into(),
                });
            }
            (ClientAuth::TlsClientAuth, _, _) => form.push(("client_id".into(), id)),
            (ClientAuth::Basic, Some(secret), _) => {
                request.headers_mut().insert(
                    AUTHORIZATION,
                    basic_credentials(&id, secret.expose_secret()),
                );
            }
            (_, secret, _) => {
                form.push(("client_id".into(), id));
                if let Some(secret) = secret {
                    form.push(("client_secret".into(), secret.expose_secret().to_owned()));
                }
            }
        }
        *request.body_mut() = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish()
            .into_bytes();
        Ok(request)
    }

    /// The `aud` of this client's assertions.
    fn assertion_audience(&self) -> String {
        let token_endpoint = || self.metadata.token_endpoint.to_string();
        match self.assertion_audience {
            AssertionAudience::Issuer => {
                self.metadata.issuer.clone().unwrap_or_else(token_endpoint)
            }
            AssertionAudience::TokenEndpoint => token_endpoint(),
        }
    }
}

/// 128 random bits, base64url: a JWT id no two assertions share.
pub(crate) fn random_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::Configuration {
        reason: "the system's random source failed".into(),
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A copy of a request the `oauth2` crate built (method, URI, headers, body).
fn copy_request(request: &HttpRequest) -> HttpRequest {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// Sends requests to the provider as the client: every request goes out
/// with the client's proof added by [`Inner::authenticate`].
pub(crate) struct Authenticated(pub(crate) Arc<Inner>);

impl<'c> AsyncHttpClient<'c> for Authenticated {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let inner = &*self.0;
            let client_error = |e| HttpError::Client(Box::new(e));
            let endpoint = &inner.metadata.token_endpoint;
            let to_token_endpoint = *request.uri() == endpoint.as_str();
            let Some(key) = inner.dpop.as_ref().filter(|_| to_token_endpoint) else {
                let request = inner.authenticate(request).map_err(client_error)?;
                return inner.http.call(request).await;
            };
            // DPoP: a proof on every try; a server asking for a nonce gets
            // one more try with it (and a fresh client assertion).
            let mut answered_nonce = false;
            loop {
                let mut attempt = inner
                    .authenticate(copy_request(&request))
                    .map_err(client_error)?;
                let proof = key
                    .proof(&http::Method::POST, endpoint, None)
                    .map_err(|e| {
                        client_error(Error::Configuration {
                            reason: format!("DPoP: {e}"),
                        })
                    })?;
                attempt.headers_mut().insert(session_auth::DPOP, proof);
                let response = inner.http.call(attempt).await?;
                let asks_for_nonce = response.status() == http::StatusCode::BAD_REQUEST
                    && serde_json::from_slice::<serde_json::Value>(response.body())
                        .is_ok_and(|body| body["error"] == "use_dpop_nonce");
                let new_nonce = key.take_nonce(endpoint, response.status(), response.headers());
                if asks_for_nonce && new_nonce && !answered_nonce {
                    answered_nonce = true;
                    continue;
                }
                return Ok(response);
            }
        })
    }
}
