//! [`JwtBearer`]: the JWT-bearer grant (RFC 7523 §2.1) — a service signs an
//! assertion about itself (or a user it may act for) and trades it for an
//! access token; what service-account key files are for.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client_auth::random_id;
use crate::error::{Error, Result};
use crate::signing_key::SigningKey;

/// How long a signed assertion is valid.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

type AssertionFn = Arc<dyn Fn() -> Result<String> + Send + Sync>;

/// Where the grant's assertions come from: signed here with a key, or made
/// by a closure of yours (an assertion from a workload identity, say).
///
/// Send it with [`OAuthClient::jwt_bearer`](crate::OAuthClient::jwt_bearer),
/// or use it as a [`Grant`](crate::Grant): the session then asks for a new
/// token with a new assertion whenever the last one runs out.
///
/// # Examples
///
/// ```
/// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
/// use session_oauth::JwtBearer;
///
/// // Signed here: `iss` is the service, `sub` the user it acts for.
/// let grant = JwtBearer::new(key, "reports@svc.example.com").subject("ada@example.com");
/// // Or made elsewhere.
/// let grant = JwtBearer::from_fn(|| Ok(std::fs::read_to_string("/var/run/identity/token")?));
/// # let _ = grant; Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtBearer {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Key {
        key: SigningKey,
        issuer: String,
        subject: Option<String>,
        audience: Option<String>,
        /// Scopes carried in the assertion itself (service-account files).
        scope_claim: Option<String>,
    },
    Fn(AssertionFn),
}

/// The fields of a service-account key file this grant needs.
#[derive(Deserialize)]
struct ServiceAccount {
    client_email: String,
    private_key: SecretString,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

impl JwtBearer {
    /// Assertions signed with `key`, issued by (and, unless
    /// [`subject`](Self::subject) says otherwise, about) `issuer`, addressed
    /// to the token endpoint unless [`audience`](Self::audience) says
    /// otherwise. Each is valid for five minutes and has its own `jti`.
    ///
    /// ```
    /// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// let grant = session_oauth::JwtBearer::new(key, "svc@example.com");
    /// # let _ = grant; Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn new(key: SigningKey, issuer: impl Into<String>) -> Self {
        Self {
            source: Source::Key {
                key,
                issuer: issuer.into(),
                subject: None,
                audience: None,
                scope_claim: None,
            },
        }
    }

    /// Assertions signed with a service-account key file (JSON with
    /// `client_email`, `private_key` in PEM, `private_key_id` and
    /// `token_uri`): issued by the account, addressed to its `token_uri`,
    /// with the client's scopes also in a `scope` claim, as such providers
    /// expect.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when the file lacks those fields or its key
    /// is unusable (the message never quotes the file).
    ///
    /// ```
    /// assert!(session_oauth::JwtBearer::from_service_account_json("{}").is_err());
    /// ```
    pub fn from_service_account_json(json: &str) -> Result<Self> {
        let account: ServiceAccount =
            serde_json::from_str(json).map_err(|_| Error::Configuration {
                reason: "the service-account file lacks client_email or private_key".into(),
            })?;
        let mut key = SigningKey::from_pem(account.private_key.expose_secret().as_bytes())?;
        if let Some(kid) = account.private_key_id {
            key = key.with_key_id(kid);
        }
        Ok(Self {
            source: Source::Key {
                key,
                issuer: account.client_email,
                subject: None,
                audience: account.token_uri,
                scope_claim: Some(String::new()),
            },
        })
    }

    /// Assertions made by `make` (called once per token request).
    ///
    /// ```
    /// let grant = session_oauth::JwtBearer::from_fn(|| Ok("eyJ…".to_owned()));
    /// # let _ = grant;
    /// ```
    pub fn from_fn(
        make: impl Fn() -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            source: Source::Fn(Arc::new(move || {
                make().map_err(|_| Error::Configuration {
                    reason: "the assertion source failed".into(),
                })
            })),
        }
    }

    /// The user (or other principal) the token is for, when not the issuer.
    /// No effect on [`from_fn`](Self::from_fn) assertions.
    ///
    /// ```
    /// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// let grant = session_oauth::JwtBearer::new(key, "svc@example.com").subject("ada@example.com");
    /// # let _ = grant; Ok::<(), session_oauth::Error>(())
    /// ```
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        if let Source::Key { subject: s, .. } = &mut self.source {
            *s = Some(subject.into());
        }
        self
    }

    /// The assertion's `aud`, when the provider wants something other than
    /// its token endpoint (its issuer, say). No effect on
    /// [`from_fn`](Self::from_fn) assertions.
    ///
    /// ```
    /// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// let grant = session_oauth::JwtBearer::new(key, "svc").audience("https://id.example.com");
    /// # let _ = grant; Ok::<(), session_oauth::Error>(())
    /// ```
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        if let Source::Key { audience: a, .. } = &mut self.source {
            *a = Some(audience.into());
        }
        self
    }

    /// The token endpoint a service-account file names, if this grant came
    /// from one.
    ///
    /// ```
    /// let grant = session_oauth::JwtBearer::from_fn(|| Ok("a".into()));
    /// assert!(grant.token_uri().is_none());
    /// ```
    pub fn token_uri(&self) -> Option<&str> {
        match &self.source {
            Source::Key {
                audience,
                scope_claim: Some(_),
                ..
            } => audience.as_deref(),
            _ => None,
        }
    }

    /// A fresh assertion, for a token request to `token_endpoint` asking
    /// for `scopes`; `now` in Unix seconds.
    pub(crate) fn assertion(
        &self,
        token_endpoint: &str,
        scopes: &[String],
        now: i64,
    ) -> Result<String> {
        match &self.source {
            Source::Fn(make) => make(),
            Source::Key {
                key,
                issuer,
                subject,
                audience,
                scope_claim,
            } => {
                let mut claims = json!({
                    "iss": issuer,
                    "sub": subject.as_deref().unwrap_or(issuer),
                    "aud": audience.as_deref().unwrap_or(token_endpoint),
                    "jti": random_id()?,
                    "iat": now,
                    "exp": now + ASSERTION_LIFETIME.as_secs() as i64,
                });
                if scope_claim.is_some() && !scopes.is_empty() {
                    claims["scope"] = Value::String(scopes.join(" "));
                }
                key.sign(&claims)
            }
        }
    }
}

impl fmt::Debug for JwtBearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Key {
                key,
                issuer,
                subject,
                ..
            } => f
                .debug_struct("JwtBearer")
                .field("key", key)
                .field("issuer", issuer)
                .field("subject", subject)
                .finish_non_exhaustive(),
            Source::Fn(_) => f.write_str("JwtBearer(from_fn)"),
        }
    }
}
