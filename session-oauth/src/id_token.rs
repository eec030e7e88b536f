//! [`IdTokenVerifier`]: OpenID Connect ID-token validation with
//! `jsonwebtoken` — signature against the provider's JWKS (cached; refetched
//! when an unknown `kid` appears, at most once a minute), `iss` and `aud`
//! (both required), `sub`, `azp` (us, when present; required with several
//! audiences), `exp` and `iat` with leeway on the injected clock, and the
//! `nonce`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use session_core::time::OffsetDateTime;
use session_core::{Claims, SharedClock, TokenSet};
use url::Url;

use crate::error::{Error, Result};
use crate::http_client::{HttpError, OAuthHttp, read_answer};

/// Validates ID tokens from one issuer for one client.
///
/// Cheap to clone; clones share the key cache.
#[derive(Clone)]
pub struct IdTokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    http: OAuthHttp,
    jwks_uri: Url,
    issuer: String,
    client_id: String,
    /// The key for tokens signed with HMAC (OpenID Connect Core §10.1):
    /// only a confidential client has one; without it they are refused.
    client_secret: Option<SecretString>,
    clock: SharedClock,
    leeway: Duration,
    min_refetch: Duration,
    keys: Mutex<Option<JwkSet>>,
    last_fetch: Mutex<Option<OffsetDateTime>>,
    fetches: AtomicU64,
}

fn invalid(reason: &str) -> Error {
    Error::InvalidIdToken {
        reason: reason.to_owned(),
    }
}

impl IdTokenVerifier {
    /// A verifier for tokens that `issuer` signs with the keys at `jwks_uri`,
    /// for `client_id`. Leeway 60 s; unknown keys refetched at most once a minute.
    ///
    /// ```
    /// let verifier = session_oauth::IdTokenVerifier::new(
    ///     session_oauth::OAuthHttp::new()?,
    ///     url::Url::parse("https://id.example.com/jwks").unwrap(),
    ///     "https://id.example.com".into(),
    ///     "my-app".into(),
    ///     session_core::SharedClock::default(),
    /// );
    /// assert_eq!(verifier.fetches(), 0);
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn new(
        http: OAuthHttp,
        jwks_uri: Url,
        issuer: String,
        client_id: String,
        clock: SharedClock,
    ) -> Self {
        Self::with_secret(http, jwks_uri, issuer, client_id, None, clock)
    }

    /// As [`new`](Self::new), for a client whose secret also verifies
    /// HMAC-signed (`HS256`…) tokens.
    pub(crate) fn with_secret(
        http: OAuthHttp,
        jwks_uri: Url,
        issuer: String,
        client_id: String,
        client_secret: Option<SecretString>,
        clock: SharedClock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                jwks_uri,
                issuer,
                client_id,
                client_secret,
                clock,
                leeway: Duration::from_secs(60),
                min_refetch: Duration::from_secs(60),
                keys: Mutex::new(None),
                last_fetch: Mutex::new(None),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// How many times the JWKS was fetched.
    ///
    /// ```no_run
    /// # fn f(v: session_oauth::IdTokenVerifier) {
    /// println!("JWKS fetched {} times", v.fetches());
    /// # }
    /// ```
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Verifies `token` and returns its claims. It must be signed by one of
    /// the provider's keys (its JWKS) or, for an HMAC (`HS256`…), with the
    /// client's secret (OpenID Connect Core §10.1; only the verifier of a
    /// client with a secret has one).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidIdToken`] naming the failed check: malformed, unknown
    /// key, an HMAC without a client secret, bad signature, wrong or no
    /// issuer, wrong or no audience, no subject, issued to another client
    /// (`azp`, required when there are several audiences), expired, issued
    /// in the future, nonce mismatch; transport errors fetching the JWKS.
    ///
    /// ```no_run
    /// # async fn run(v: session_oauth::IdTokenVerifier) -> Result<(), session_oauth::Error> {
    /// let claims = v.verify("eyJ…", Some("the-nonce-sent")).await?;
    /// println!("signed in as {:?}", claims.sub);
    /// # Ok(()) }
    /// ```
    pub async fn verify(&self, token: &str, nonce: Option<&str>) -> Result<Claims> {
        let data = self.verify_signed(token).await?;
        let claims: Claims = serde_json::from_value(data.clone())
            .map_err(|_| invalid("its claims are malformed"))?;
        let now = self.inner.clock.now().unix_timestamp();
        let leeway = i64::try_from(self.inner.leeway.as_secs()).unwrap_or(i64::MAX);
        match claims.exp {
            Some(exp) if exp.saturating_add(leeway) > now => {}
            Some(_) => return Err(invalid("it has expired")),
            None => return Err(invalid("it has no expiry (exp)")),
        }
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(invalid("it was issued in the future (iat)"));
        }
        if claims.aud.is_empty() {
            return Err(invalid("it names no audience (aud)"));
        }
        if claims.sub.as_deref().is_none_or(str::is_empty) {
            return Err(invalid("it names no subject (sub)"));
        }
        // OpenID Connect Core §3.1.3.7: a token for several audiences must
        // name the party it was issued to, and that party must be us.
        match data.get("azp") {
            Some(Value::String(azp)) if *azp == self.inner.client_id => {}
            None if claims.aud.len() == 1 => {}
            None => {
                return Err(invalid(
                    "it names several audiences but no authorized party (azp)",
                ));
            }
            Some(_) => return Err(invalid("it was issued to another client (azp)")),
        }
        if let Some(expected) = nonce
            && data.get("nonce").and_then(Value::as_str) != Some(expected)
        {
            return Err(invalid("its nonce does not match the request"));
        }
        Ok(claims)
    }

    /// The claims of `token` once its signature (by one of the provider's
    /// keys, or the client secret for an HMAC), `iss` and `aud` check out;
    /// the time claims are the caller's to check.
    pub(crate) async fn verify_signed(&self, token: &str) -> Result<Value> {
        let header = decode_header(token).map_err(|_| invalid("the token is malformed"))?;
        let key = if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            // An HMAC is keyed with the client's secret (OIDC Core §10.1),
            // never with anything published (so no key from the JWKS can
            // be turned into one).
            let secret = self.inner.client_secret.as_ref().ok_or_else(|| {
                invalid("it is signed with a shared secret, and this client has none")
            })?;
            DecodingKey::from_secret(secret.expose_secret().as_bytes())
        } else {
            let kid = header.kid.clone();
            match self.find(kid.as_deref()) {
                Some(key) => key,
                None => {
                    self.refetch_if_allowed().await?;
                    self.find(kid.as_deref())
                        .ok_or_else(|| invalid("it is signed with an unknown key"))?
                }
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.inner.client_id]);
        validation.set_issuer(&[&self.inner.issuer]);
        validation.validate_exp = false; // the caller checks time, on our clock
        // Checked only when present unless required: a token naming no
        // issuer or audience would otherwise pass both checks.
        validation.set_required_spec_claims(&["iss", "aud"]);
        let data = decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            invalid(match e.kind() {
                K::InvalidAudience => "it was issued for another client (aud)",
                K::InvalidIssuer => "it was issued by another issuer (iss)",
                K::InvalidSignature => "its signature does not verify",
                K::InvalidAlgorithm => "its algorithm does not match the key",
                K::MissingRequiredClaim(claim) if claim == "iss" => "it names no issuer (iss)",
                K::MissingRequiredClaim(_) => "it names no audience (aud)",
                _ => "it could not be decoded",
            })
        })?;
        Ok(data.claims)
    }

    fn find(&self, kid: Option<&str>) -> Option<DecodingKey> {
        let keys = self.inner.keys.lock();
        let set = keys.as_ref()?;
        let jwk = match kid {
            Some(kid) => set.find(kid)?,
            None if set.keys.len() == 1 => &set.keys[0],
            None => return None,
        };
        DecodingKey::from_jwk(jwk).ok()
    }

    async fn refetch_if_allowed(&self) -> Result<()> {
        let now = self.inner.clock.now();
        {
            let mut last = self.inner.last_fetch.lock();
            if let Some(at) = *last
                && now - at < self.inner.min_refetch
            {
                return Ok(()); // rate-limited: keep the cached keys
            }
            *last = Some(now);
        }
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let http = &self.inner.http;
        let response = http
            .send(http.session().get(self.inner.jwks_uri.as_str()))
            .await?;
        if !response.status().is_success() {
            return Err(Error::Transport {
                retryable: response.status().is_server_error(),
                source: None,
            });
        }
        let body = read_answer(response).await.map_err(HttpError::into_error)?;
        let set: JwkSet = serde_json::from_slice(&body).map_err(|_| Error::InvalidResponse {
            reason: "the JWKS is not a valid key set".into(),
        })?;
        *self.inner.keys.lock() = Some(set);
        Ok(())
    }
}

/// OpenID Connect Core §12.2: an ID token that comes with a refresh names
/// the same issuer, subject and audience as the one it follows — a refresh
/// never turns a session into someone else's. (Only when both tokens can be
/// read; the new one has passed its own checks already.)
pub(crate) fn same_identity(before: &TokenSet, after: &TokenSet) -> Result<()> {
    let (Some(old), Some(new)) = (before.id_token(), after.id_token()) else {
        return Ok(());
    };
    let (Ok(old), Ok(new)) = (
        Claims::decode_unverified(old.expose_secret()),
        Claims::decode_unverified(new.expose_secret()),
    ) else {
        return Ok(());
    };
    let audience = |claims: &Claims| {
        let mut aud = claims.aud.clone();
        aud.sort();
        aud
    };
    if old.sub != new.sub {
        Err(invalid(
            "the refreshed ID token names another subject (sub)",
        ))
    } else if old.iss != new.iss {
        Err(invalid("the refreshed ID token names another issuer (iss)"))
    } else if audience(&old) != audience(&new) {
        Err(invalid(
            "the refreshed ID token names other audiences (aud)",
        ))
    } else {
        Ok(())
    }
}

impl fmt::Debug for IdTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenVerifier")
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .field("jwks_uri", &self.inner.jwks_uri.as_str())
            .finish_non_exhaustive()
    }
}
