//! [`SigningKey`]: a private key that signs the JWTs a client sends — the
//! client assertions of `private_key_jwt` (RFC 7523 §2.2) and the assertions
//! of the JWT-bearer grant (RFC 7523 §2.1). RS256, ES256 or EdDSA (Ed25519),
//! from PEM or from a private JWK.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A private key for signing client JWTs.
///
/// The key's bytes are wiped when it is dropped; `Debug` shows only the
/// algorithm and key id.
///
/// # Examples
///
/// ```
/// // A private JWK (here an Ed25519 test key); the `kid` comes along.
/// let key = session_oauth::SigningKey::from_jwk(r#"{
///     "kty": "OKP", "crv": "Ed25519", "kid": "svc-2026",
///     "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// }"#)?;
/// assert_eq!(key.key_id(), Some("svc-2026"));
/// assert!(!format!("{key:?}").contains("nWGx"));
/// # Ok::<(), session_oauth::Error>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    /// PKCS#8 (EC, Ed25519) or PKCS#1 (RSA) DER, as `jsonwebtoken` takes it.
    der: Zeroizing<Vec<u8>>,
    kid: Option<String>,
}

fn unusable(reason: &str) -> Error {
    Error::Configuration {
        reason: format!("the signing key is unusable: {reason}"),
    }
}

impl SigningKey {
    /// A key from PEM: RSA (`RSA PRIVATE KEY` or PKCS#8) signs RS256, a
    /// P-256 EC key (PKCS#8) ES256, an Ed25519 key (PKCS#8) EdDSA.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when the PEM holds no private key of those
    /// kinds (the message never quotes the key).
    ///
    /// ```
    /// assert!(session_oauth::SigningKey::from_pem(b"not a key").is_err());
    /// ```
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let parsed = [
            (Algorithm::RS256, EncodingKey::from_rsa_pem(pem)),
            (Algorithm::ES256, EncodingKey::from_ec_pem(pem)),
            (Algorithm::EdDSA, EncodingKey::from_ed_pem(pem)),
        ];
        let (algorithm, key) = parsed
            .into_iter()
            .find_map(|(algorithm, key)| key.ok().map(|key| (algorithm, key)))
            .ok_or_else(|| unusable("no RSA, P-256 or Ed25519 private key in the PEM"))?;
        Self::checked(algorithm, Zeroizing::new(key.as_bytes().to_vec()), None)
    }

    /// A key from a private JWK (JSON): `kty` `RSA`, `EC` with `crv`
    /// `P-256`, or `OKP` with `crv` `Ed25519`; its `kid`, when present,
    /// goes into every JWT's header.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for a public-only, malformed or unsupported
    /// key.
    ///
    /// ```
    /// let public_only = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    /// assert!(session_oauth::SigningKey::from_jwk(public_only).is_err());
    /// ```
    pub fn from_jwk(json: &str) -> Result<Self> {
        let jwk: PrivateJwk =
            serde_json::from_str(json).map_err(|_| unusable("it is not a JWK"))?;
        let field = |value: &Option<SecretString>, name: &str| -> Result<Zeroizing<Vec<u8>>> {
            let value = value
                .as_ref()
                .ok_or_else(|| unusable(&format!("the JWK has no `{name}`")))?;
            URL_SAFE_NO_PAD
                .decode(value.expose_secret().as_bytes())
                .map(Zeroizing::new)
                .map_err(|_| unusable(&format!("the JWK's `{name}` is not base64url")))
        };
        let der = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("EC", Some("P-256")) => {
                use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
                let (d, x, y) = (
                    field(&jwk.d, "d")?,
                    field(&jwk.x, "x")?,
                    field(&jwk.y, "y")?,
                );
                let mut public = Vec::with_capacity(65);
                public.push(4);
                public.extend_from_slice(&x);
                public.extend_from_slice(&y);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &d,
                    &public,
                )
                .map_err(|_| unusable("the EC key's parts don't make a P-256 key pair"))?;
                let pkcs8 = pair
                    .to_pkcs8v1()
                    .map_err(|_| unusable("the EC key can't be encoded"))?;
                (Algorithm::ES256, Zeroizing::new(pkcs8.as_ref().to_vec()))
            }
            ("OKP", Some("Ed25519")) => {
                let (d, x) = (field(&jwk.d, "d")?, field(&jwk.x, "x")?);
                let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                    .map_err(|_| {
                    unusable("the OKP key's parts don't make an Ed25519 key pair")
                })?;
                let pkcs8 = pair
                    .to_pkcs8()
                    .map_err(|_| unusable("the Ed25519 key can't be encoded"))?;
                (Algorithm::EdDSA, Zeroizing::new(pkcs8.as_ref().to_vec()))
            }
            ("RSA", _) => {
                let parts = [
                    (&jwk.n, "n"),
                    (&jwk.e, "e"),
                    (&jwk.d, "d"),
                    (&jwk.p, "p"),
                    (&jwk.q, "q"),
                    (&jwk.dp, "dp"),
                    (&jwk.dq, "dq"),
                    (&jwk.qi, "qi"),
                ]
                .iter()
                .map(|(value, name)| field(value, name))
                .collect::<Result<Vec<_>>>()?;
                (Algorithm::RS256, rsa_private_key_der(&parts))
            }
            _ => return Err(unusable("only RSA, EC P-256 and OKP Ed25519 keys sign")),
        };
        Self::checked(der.0, der.1, jwk.kid)
    }

    /// Sets (or replaces) the key id sent in each JWT's `kid` header.
    ///
    /// ```
    /// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// assert_eq!(key.with_key_id("k1").key_id(), Some("k1"));
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    #[must_use]
    pub fn with_key_id(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if any.
    ///
    /// ```
    /// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// assert_eq!(key.key_id(), None);
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWS algorithm the key signs with (`RS256`, `ES256` or `EdDSA`).
    ///
    /// ```
    /// # let key = session_oauth::SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// assert_eq!(key.algorithm(), "EdDSA");
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn algorithm(&self) -> &'static str {
        match self.algorithm {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
            _ => "EdDSA",
        }
    }

    /// Signs once before handing the key out, so a key that parses but
    /// can't sign fails at configuration, not at the first request.
    fn checked(algorithm: Algorithm, der: Zeroizing<Vec<u8>>, kid: Option<String>) -> Result<Self> {
        let key = Self {
            algorithm,
            der,
            kid,
        };
        key.sign(&serde_json::json!({ "probe": true }))?;
        Ok(key)
    }

    /// `claims` as a compact JWS signed with this key.
    pub(crate) fn sign(&self, claims: &Value) -> Result<String> {
        let key = match self.algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_der(&self.der),
            Algorithm::ES256 => EncodingKey::from_ec_der(&self.der),
            _ => EncodingKey::from_ed_der(&self.der),
        };
        let mut header = Header::new(self.algorithm);
        header.kid.clone_from(&self.kid);
        jsonwebtoken::encode(&header, claims, &key).map_err(|_| unusable("signing failed"))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The private JWK members we read; every key part is wiped on drop.
#[derive(Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: Option<String>,
    kid: Option<String>,
    x: Option<SecretString>,
    y: Option<SecretString>,
    n: Option<SecretString>,
    e: Option<SecretString>,
    d: Option<SecretString>,
    p: Option<SecretString>,
    q: Option<SecretString>,
    dp: Option<SecretString>,
    dq: Option<SecretString>,
    qi: Option<SecretString>,
}

/// A PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2) from its eight parts, in
/// order `n e d p q dp dq qi`: a DER SEQUENCE of version 0 and the parts as
/// unsigned INTEGERs.
fn rsa_private_key_der(parts: &[Zeroizing<Vec<u8>>]) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(vec![0x02, 0x01, 0x00]);
    for part in parts {
        let digits = match part.iter().position(|&b| b != 0) {
            Some(first) => &part[first..],
            None => &[0][..],
        };
        let pad = digits[0] & 0x80 != 0;
        body.push(0x02);
        der_length(&mut body, digits.len() + usize::from(pad));
        if pad {
            body.push(0);
        }
        body.extend_from_slice(digits);
    }
    let mut der = Zeroizing::new(Vec::with_capacity(body.len() + 6));
    der.push(0x30);
    der_length(&mut der, body.len());
    der.extend_from_slice(&body);
    der
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    out.push(0x80 | (bytes.len() - first) as u8);
    out.extend_from_slice(&bytes[first..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_use_the_short_and_long_forms() {
        let mut out = Vec::new();
        der_length(&mut out, 5);
        der_length(&mut out, 0x80);
        der_length(&mut out, 0x1234);
        assert_eq!(out, [5, 0x81, 0x80, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn rsa_integers_are_minimal_and_unsigned() {
        let parts: Vec<_> = [
            vec![0, 0, 0x7f],
            vec![0x80],
            vec![],
            vec![1],
            vec![1],
            vec![1],
            vec![1],
            vec![1],
        ]
        .into_iter()
        .map(Zeroizing::new)
        .collect();
        let der = rsa_private_key_der(&parts);
        assert_eq!(
            &der[..],
            &[
                0x30, 28, 0x02, 1, 0, 0x02, 1, 0x7f, 0x02, 2, 0, 0x80, 0x02, 1, 0, 0x02, 1, 1,
                0x02, 1, 1, 0x02, 1, 1, 0x02, 1, 1, 0x02, 1, 1
            ][..]
        );
    }
}
