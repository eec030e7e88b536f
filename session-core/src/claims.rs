//! [`Claims`]: the payload of a JWT, read **without** verifying its signature.
//!
//! Useful to learn when a token expires or whom it names. It proves nothing:
//! anyone can forge these claims. Signature and issuer validation belong to
//! session-oauth.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// The standard claims of a JWT plus any others, **unverified**.
///
/// # Examples
///
/// ```
/// use session_core::Claims;
///
/// // {"alg":"none"} . {"sub":"user-1","exp":1900000000,"aud":["a","b"],"tenant":"t1"}
/// let jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE5MDAwMDAwMDAsImF1ZCI6WyJhIiwiYiJdLCJ0ZW5hbnQiOiJ0MSJ9.";
/// let claims = Claims::decode_unverified(jwt)?;
/// assert_eq!(claims.sub.as_deref(), Some("user-1"));
/// assert_eq!(claims.exp, Some(1_900_000_000));
/// assert_eq!(claims.aud, ["a", "b"]);
/// assert_eq!(claims.extra["tenant"], "t1");
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Claims {
    /// Subject: whom the token is about.
    #[serde(default)]
    pub sub: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the Unix epoch.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Audiences (a single string in the token becomes one entry).
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// Reads the claims of a compact JWT **without verifying it**.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedToken`] when the token is not three dot-separated
    /// parts, the payload is not base64url, not JSON, not an object, or a
    /// standard claim has the wrong type. Encrypted tokens (JWE, five parts)
    /// cannot be read and are reported as such.
    ///
    /// ```
    /// use session_core::{Claims, Error};
    /// assert!(matches!(Claims::decode_unverified("a.b"), Err(Error::MalformedToken { .. })));
    /// ```
    pub fn decode_unverified(token: &str) -> Result<Self> {
        let token = token.trim();
        let parts: Vec<&str> = token.split('.').collect();
        match parts.len() {
            3 => {}
            5 => {
                return Err(Error::MalformedToken {
                    reason: "the token is encrypted (JWE); its claims cannot be read",
                });
            }
            _ => {
                return Err(Error::MalformedToken {
                    reason: "a JWT has three dot-separated parts",
                });
            }
        }
        let payload = parts[1].trim_end_matches('=');
        if payload.is_empty() {
            return Err(Error::MalformedToken {
                reason: "the payload is empty",
            });
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Error::MalformedToken {
                reason: "the payload is not base64url",
            })?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| Error::MalformedToken {
                reason: "the payload is not JSON",
            })?;
        if !value.is_object() {
            return Err(Error::MalformedToken {
                reason: "the payload is not a JSON object",
            });
        }
        serde_json::from_value(value).map_err(|_| Error::MalformedToken {
            reason: "a standard claim (exp, iat, sub, iss, aud) has the wrong type",
        })
    }

    /// The `exp` claim as a time, if present and representable.
    ///
    /// ```
    /// let mut claims = session_core::Claims::default();
    /// claims.exp = Some(0);
    /// assert_eq!(claims.expires_at().unwrap().unix_timestamp(), 0);
    /// ```
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.exp
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
    }

    /// The `iat` claim as a time, if present and representable.
    ///
    /// ```
    /// let mut claims = session_core::Claims::default();
    /// claims.iat = Some(60);
    /// assert_eq!(claims.issued_at().unwrap().unix_timestamp(), 60);
    /// ```
    pub fn issued_at(&self) -> Option<OffsetDateTime> {
        self.iat
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
    }
}

/// NumericDate: an integer or a (possibly fractional) number of seconds.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                // Saturating float-to-int conversion.
                Ok(Some(f.floor() as i64))
            } else {
                Err(de::Error::custom("NumericDate out of range"))
            }
        }
        Some(_) => Err(de::Error::custom("NumericDate must be a number")),
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

#[cfg(test)]
pub(crate) fn encode_unsigned(payload: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap());
    format!("{header}.{body}.sig")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(token: &str) -> &'static str {
        match Claims::decode_unverified(token) {
            Err(Error::MalformedToken { reason }) => reason,
            other => panic!("expected MalformedToken, got {other:?}"),
        }
    }

    #[test]
    fn reads_standard_and_extra_claims() {
        let jwt = encode_unsigned(&json!({
            "sub": "u", "exp": 2_000_000_000, "iat": 1_999_999_000, "iss": "https://issuer",
            "aud": "client", "scope": "a b"
        }));
        let c = Claims::decode_unverified(&jwt).unwrap();
        assert_eq!(c.sub.as_deref(), Some("u"));
        assert_eq!(c.exp, Some(2_000_000_000));
        assert_eq!(c.iat, Some(1_999_999_000));
        assert_eq!(c.iss.as_deref(), Some("https://issuer"));
        assert_eq!(c.aud, vec!["client"]);
        assert_eq!(c.extra["scope"], "a b");
        assert_eq!(c.expires_at().unwrap().unix_timestamp(), 2_000_000_000);
    }

    #[test]
    fn fractional_exp_is_floored() {
        let jwt = encode_unsigned(&json!({"exp": 1_900_000_000.75}));
        assert_eq!(
            Claims::decode_unverified(&jwt).unwrap().exp,
            Some(1_900_000_000)
        );
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        assert_eq!(reason(""), "a JWT has three dot-separated parts");
        assert_eq!(reason("abc"), "a JWT has three dot-separated parts");
        assert_eq!(reason("a.b.c.d"), "a JWT has three dot-separated parts");
        assert!(reason("a.b.c.d.e").contains("encrypted"));
        assert_eq!(reason("a..c"), "the payload is empty");
        assert_eq!(reason("a.!!!.c"), "the payload is not base64url");
        let not_json = format!("a.{}.c", URL_SAFE_NO_PAD.encode("not json"));
        assert_eq!(reason(&not_json), "the payload is not JSON");
        let array = format!("a.{}.c", URL_SAFE_NO_PAD.encode("[1,2]"));
        assert_eq!(reason(&array), "the payload is not a JSON object");
        let bad_exp = encode_unsigned(&json!({"exp": "tomorrow"}));
        assert!(reason(&bad_exp).contains("wrong type"));
        let bad_aud = encode_unsigned(&json!({"aud": 5}));
        assert!(reason(&bad_aud).contains("wrong type"));
    }

    #[test]
    fn error_text_never_contains_the_token() {
        let secret = "eyJzZWNyZXQiOiJ2YWx1ZSJ9";
        let err = Claims::decode_unverified(secret).unwrap_err();
        assert!(!err.to_string().contains(secret));
        assert!(!format!("{err:?}").contains(secret));
    }
}
