//! [`DpopKey`]: proof of possession for sender-constrained tokens (DPoP,
//! RFC 9449). The key pair (ES256) belongs to one session; every request
//! that carries a DPoP-bound token also carries a fresh proof signed with
//! it — `htm` and `htu` of that request, `iat`, a unique `jti`, the hash of
//! the access token (`ath`) for resource requests, and the server's latest
//! `DPoP-Nonce` when it asked for one.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use parking_lot::Mutex;
use serde_json::json;
use session_core::{NamedCredential, SharedClock};
use url::Url;
use zeroize::Zeroizing;

use crate::state::SessionState;

/// The request header that carries a proof.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The response header that carries a server's nonce.
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The named credential a session keeps its DPoP key under.
const CREDENTIAL: &str = "dpop_key";

fn unusable(reason: &'static str) -> session_core::Error {
    session_core::Error::UnusableCredential { reason }
}

/// A session's DPoP key pair (P-256, ES256), with the nonces servers gave
/// it.
///
/// Cheap to clone; clones share the key and the nonces. The private key is
/// wiped when the last clone is dropped; `Debug` shows only the key's
/// thumbprint.
///
/// # Examples
///
/// ```
/// use session_auth::DpopKey;
///
/// let key = DpopKey::generate()?;
/// let url = url::Url::parse("https://api.example.com/orders?page=2")?;
/// let proof = key.proof(&http::Method::GET, &url, Some("access-token"))?;
/// assert_eq!(proof.to_str()?.split('.').count(), 3, "a compact JWS");
/// assert!(format!("{key:?}").contains(key.thumbprint()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DpopKey {
    inner: Arc<Inner>,
}

struct Inner {
    pair: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    /// The public key as a JWK (`kty`, `crv`, `x`, `y`).
    jwk: serde_json::Value,
    /// RFC 7638 thumbprint of `jwk`, base64url SHA-256.
    thumbprint: String,
    /// The latest nonce each origin asked for.
    nonces: Mutex<HashMap<String, String>>,
    clock: SharedClock,
}

impl DpopKey {
    /// A new key pair.
    ///
    /// # Errors
    ///
    /// When the system's random source fails.
    ///
    /// ```
    /// let key = session_auth::DpopKey::generate()?;
    /// assert_eq!(key.thumbprint().len(), 43);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn generate() -> session_core::Result<Self> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| unusable("no DPoP key could be generated"))?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// The key pair in `der` (PKCS#8, P-256).
    ///
    /// # Errors
    ///
    /// When `der` is not a P-256 private key (the message never quotes it).
    ///
    /// ```
    /// assert!(session_auth::DpopKey::from_pkcs8(b"not a key").is_err());
    /// ```
    pub fn from_pkcs8(der: &[u8]) -> session_core::Result<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| unusable("the DPoP key is not a P-256 private key"))?;
        let point = pair.public_key().as_ref();
        // An uncompressed point: 0x04, then x and y, 32 bytes each.
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        // RFC 7638: the required members, in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let thumbprint = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            canonical.as_bytes(),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                pair,
                pkcs8: Zeroizing::new(der.to_vec()),
                jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                thumbprint,
                nonces: Mutex::default(),
                clock: SharedClock::default(),
            }),
        })
    }

    /// The session's key: the one kept with `state` (restoring the state
    /// first), or a new one, which is then kept with it — so a restored
    /// session still proves possession of the key its tokens are bound to.
    ///
    /// # Errors
    ///
    /// The store's error on restore; a kept key that is not a key.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let state = session_auth::SessionState::in_memory();
    /// let key = session_auth::DpopKey::for_state(&state).await?;
    /// let again = session_auth::DpopKey::for_state(&state).await?;
    /// assert_eq!(key.thumbprint(), again.thumbprint());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn for_state(state: &SessionState) -> session_core::Result<Self> {
        state.restore().await?;
        let kept = state.read(|data| {
            data.and_then(|d| d.credentials.get(CREDENTIAL))
                .map(|c| Zeroizing::new(c.expose_secret().to_owned()))
        });
        if let Some(kept) = kept {
            let der = Zeroizing::new(
                URL_SAFE_NO_PAD
                    .decode(kept.as_bytes())
                    .map_err(|_| unusable("the kept DPoP key is not base64url"))?,
            );
            return Self::from_pkcs8(&der);
        }
        let key = Self::generate()?;
        let encoded = Zeroizing::new(URL_SAFE_NO_PAD.encode(&*key.inner.pkcs8));
        state.update(|data| {
            data.credentials
                .insert(CREDENTIAL.into(), NamedCredential::new(encoded.as_str()))
        });
        Ok(key)
    }

    /// The clock for `iat` (default: the system clock).
    ///
    /// ```
    /// let key = session_auth::DpopKey::generate()?.with_clock(session_core::SharedClock::default());
    /// # let _ = key; Ok::<(), session_core::Error>(())
    /// ```
    #[must_use]
    pub fn with_clock(self, clock: SharedClock) -> Self {
        let Ok(mut copy) = Self::from_pkcs8(&self.inner.pkcs8) else {
            return self;
        };
        if let Some(fresh) = Arc::get_mut(&mut copy.inner) {
            fresh.clock = clock;
            *fresh.nonces.get_mut() = self.inner.nonces.lock().clone();
        }
        copy
    }

    /// The RFC 7638 thumbprint of the public key (what a server binds
    /// tokens to, `cnf.jkt`).
    ///
    /// ```
    /// let key = session_auth::DpopKey::generate()?;
    /// assert_eq!(key.thumbprint(), key.clone().thumbprint());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// A fresh proof for `method` on `url` (its query and fragment left
    /// out), bound to `access_token` (`ath`) when given, with the latest
    /// nonce `url`'s origin asked for.
    ///
    /// # Errors
    ///
    /// When signing fails.
    ///
    /// ```
    /// let key = session_auth::DpopKey::generate()?;
    /// let url = url::Url::parse("https://id.example.com/token")?;
    /// let proof = key.proof(&http::Method::POST, &url, None)?;
    /// assert!(proof.is_sensitive());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn proof(
        &self,
        method: &Method,
        url: &Url,
        access_token: Option<&str>,
    ) -> session_core::Result<HeaderValue> {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).map_err(|_| unusable("no randomness for a DPoP proof"))?;
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method.as_str(),
            "htu": htu.as_str(),
            "iat": self.inner.clock.now().unix_timestamp(),
        });
        if let Some(token) = access_token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                token.as_bytes(),
            )));
        }
        if let Some(nonce) = self.inner.nonces.lock().get(&origin(url)) {
            claims["nonce"] = json!(nonce);
        }
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.inner.jwk});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .inner
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| unusable("the DPoP proof could not be signed"))?;
        let mut value = HeaderValue::try_from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
        .map_err(|_| unusable("the DPoP proof is not a header value"))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Keeps the nonce a server's answer carries (`DPoP-Nonce`), for the
    /// next proofs to that origin. Whether the answer was a challenge to
    /// retry with it: a 400 (`use_dpop_nonce` in the body, for a token
    /// endpoint, checked by the caller) or a 401 whose `WWW-Authenticate`
    /// says `use_dpop_nonce`.
    ///
    /// ```
    /// let key = session_auth::DpopKey::generate()?;
    /// let url = url::Url::parse("https://api.example.com/orders")?;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("dpop-nonce", "n-1".parse()?);
    /// headers.insert("www-authenticate", r#"DPoP error="use_dpop_nonce""#.parse()?);
    /// assert!(key.take_nonce(&url, http::StatusCode::UNAUTHORIZED, &headers));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_nonce(&self, url: &Url, status: StatusCode, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(DPOP_NONCE)
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= 512)
        else {
            return false;
        };
        let changed = self
            .inner
            .nonces
            .lock()
            .insert(origin(url), nonce.to_owned())
            .is_none_or(|old| old != nonce);
        let challenged = match status {
            StatusCode::BAD_REQUEST => true,
            StatusCode::UNAUTHORIZED => headers
                .get_all(http::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("use_dpop_nonce")),
            _ => false,
        };
        challenged && changed
    }
}

/// `scheme://host:port`, the key nonces are kept under.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("thumbprint", &self.inner.thumbprint)
            .finish_non_exhaustive()
    }
}
