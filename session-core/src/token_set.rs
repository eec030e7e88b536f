//! [`TokenSet`]: an access token with its refresh token, type, scopes, optional
//! ID token, and expiry — and how to build one from a token endpoint's answer.
//!
//! # Where the expiry comes from
//!
//! 1. `expires_in` from the response, counted from the instant the request was
//!    **sent** (not when the answer arrived: a slow answer must not stretch
//!    the token's life). Integers, decimals and numeric strings are accepted;
//!    values are capped at [`TokenSet::MAX_LIFETIME`] (ten years) so absurd
//!    numbers cannot overflow.
//! 2. Otherwise — `expires_in` missing, zero, negative, or not a number — the
//!    access token's own `exp` claim when it is a readable JWT.
//! 3. Otherwise the expiry is unknown: the token is never expired by time and
//!    is refreshed when the server answers 401.
//!
//! Zero and negative `expires_in` are treated as "no usable lifetime" rather
//! than "already expired": some providers send `0` to mean "does not expire",
//! and treating it as expired would refresh before every request.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::claims::Claims;
use crate::error::{Error, Result};
use crate::expiry::{Expiry, ExpiryPolicy};
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// Where a token stands relative to its expiry, under an [`ExpiryPolicy`].
///
/// ```
/// assert_eq!(session_core::TokenStatus::RefreshDue.to_string(), "REFRESH DUE");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenStatus {
    /// Usable and not yet due for refresh (also: expiry unknown).
    Valid,
    /// Still usable, but inside the refresh window.
    RefreshDue,
    /// Inside the expiry buffer or past expiry: do not send it.
    Expired,
}

impl fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Valid => "VALID",
            Self::RefreshDue => "REFRESH DUE",
            Self::Expired => "EXPIRED",
        })
    }
}

/// A set of tokens issued together.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session_core::{ExpiryPolicy, TokenSet, TokenStatus};
///
/// let sent_at = time::macros::datetime!(2030-01-01 12:00 UTC);
/// let body = br#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"read write"}"#;
/// let tokens = TokenSet::from_json_response(body, sent_at)?;
///
/// assert_eq!(tokens.access_token().expose_secret(), "at");
/// assert_eq!(tokens.scopes(), ["read", "write"]);
/// assert_eq!(tokens.expires_at(), Some(sent_at + Duration::from_secs(3600)));
///
/// let policy = ExpiryPolicy::default();
/// assert_eq!(tokens.status(sent_at, &policy), TokenStatus::Valid);
/// assert_eq!(tokens.status(sent_at + Duration::from_secs(2820), &policy), TokenStatus::RefreshDue);
/// assert_eq!(tokens.status(sent_at + Duration::from_secs(3300), &policy), TokenStatus::Expired);
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    access_token: AccessToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(default = "default_token_type")]
    token_type: String,
    #[serde(flatten)]
    expiry: Expiry,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<IdToken>,
}

fn default_token_type() -> String {
    "Bearer".to_owned()
}

impl TokenSet {
    /// The longest lifetime accepted from `expires_in`: ten years.
    pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

    /// A token set holding only an access token, of type `Bearer`, with
    /// unknown expiry.
    ///
    /// ```
    /// let t = session_core::TokenSet::new("at");
    /// assert_eq!(t.token_type(), "Bearer");
    /// assert!(t.expires_at().is_none());
    /// ```
    pub fn new(access_token: impl Into<AccessToken>) -> Self {
        Self {
            access_token: access_token.into(),
            refresh_token: None,
            token_type: default_token_type(),
            expiry: Expiry::unknown(),
            scopes: Vec::new(),
            id_token: None,
        }
    }

    /// Parses a token endpoint's JSON answer (RFC 6749 §5.1), anchoring
    /// `expires_in` to `sent_at`, the instant the request was sent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTokenResponse`] when the body is not a JSON object, or
    /// `access_token` is missing, empty or not a string. The error never
    /// contains the body.
    ///
    /// ```
    /// use session_core::{Error, TokenSet};
    /// let t0 = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let err = TokenSet::from_json_response(br#"{"token_type":"Bearer"}"#, t0).unwrap_err();
    /// assert!(matches!(err, Error::InvalidTokenResponse { .. }));
    /// ```
    pub fn from_json_response(body: &[u8], sent_at: OffsetDateTime) -> Result<Self> {
        let value: Value =
            serde_json::from_slice(body).map_err(|_| Error::InvalidTokenResponse {
                reason: "the body is not JSON",
            })?;
        Self::from_response_value(&value, sent_at)
    }

    /// Like [`from_json_response`](Self::from_json_response), from parsed JSON.
    ///
    /// # Errors
    ///
    /// As [`from_json_response`](Self::from_json_response).
    ///
    /// ```
    /// let t0 = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let v = serde_json::json!({"access_token": "at", "expires_in": "120"});
    /// let t = session_core::TokenSet::from_response_value(&v, t0)?;
    /// assert_eq!(t.expires_at(), Some(t0 + std::time::Duration::from_secs(120)));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn from_response_value(value: &Value, sent_at: OffsetDateTime) -> Result<Self> {
        let obj = value.as_object().ok_or(Error::InvalidTokenResponse {
            reason: "the body is not a JSON object",
        })?;
        let access = match obj.get("access_token") {
            Some(Value::String(s)) if !s.is_empty() => AccessToken::new(s.as_str()),
            Some(Value::String(_)) => {
                return Err(Error::InvalidTokenResponse {
                    reason: "access_token is empty",
                });
            }
            Some(_) => {
                return Err(Error::InvalidTokenResponse {
                    reason: "access_token is not a string",
                });
            }
            None => {
                return Err(Error::InvalidTokenResponse {
                    reason: "access_token is missing",
                });
            }
        };
        let mut set = Self::new(access);
        if let Some(Value::String(t)) = obj.get("token_type")
            && !t.is_empty()
        {
            set.token_type = t.clone();
        }
        if let Some(Value::String(r)) = obj.get("refresh_token")
            && !r.is_empty()
        {
            set.refresh_token = Some(RefreshToken::new(r.as_str()));
        }
        if let Some(Value::String(i)) = obj.get("id_token")
            && !i.is_empty()
        {
            set.id_token = Some(IdToken::new(i.as_str()));
        }
        set.scopes = match obj.get("scope") {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        match obj.get("expires_in").and_then(parse_expires_in) {
            Some(lifetime) => set = set.with_expires_in(lifetime, sent_at),
            None => set = set.with_expiry_from_jwt(sent_at),
        }
        Ok(set)
    }

    /// Sets the expiry to `sent_at + lifetime` (capped at [`Self::MAX_LIFETIME`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let t0 = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let t = session_core::TokenSet::new("at").with_expires_in(Duration::from_secs(60), t0);
    /// assert_eq!(t.expires_at(), Some(t0 + Duration::from_secs(60)));
    /// assert_eq!(t.issued_at(), Some(t0));
    /// ```
    #[must_use]
    pub fn with_expires_in(mut self, lifetime: Duration, sent_at: OffsetDateTime) -> Self {
        let lifetime = lifetime.min(Self::MAX_LIFETIME);
        self.expiry = Expiry::new(
            Some(sent_at),
            sent_at.checked_add(lifetime.try_into().unwrap_or(time::Duration::MAX)),
        );
        self
    }

    /// Sets an explicit expiry.
    ///
    /// ```
    /// let t0 = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let t = session_core::TokenSet::new("at")
    ///     .with_expiry(session_core::Expiry::new(None, Some(t0)));
    /// assert_eq!(t.expires_at(), Some(t0));
    /// ```
    #[must_use]
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// When the access token is a JWT with an `exp` claim, takes the expiry
    /// from it (and the issue time from `iat`, else `received_at`). Otherwise
    /// leaves the expiry unknown.
    ///
    /// ```
    /// let t0 = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let t = session_core::TokenSet::new("opaque").with_expiry_from_jwt(t0);
    /// assert!(t.expires_at().is_none());
    /// ```
    #[must_use]
    pub fn with_expiry_from_jwt(mut self, received_at: OffsetDateTime) -> Self {
        self.expiry = match Claims::decode_unverified(self.access_token.expose_secret()) {
            Ok(claims) => match claims.expires_at() {
                Some(exp) => {
                    Expiry::new(Some(claims.issued_at().unwrap_or(received_at)), Some(exp))
                }
                None => Expiry::unknown(),
            },
            Err(_) => Expiry::unknown(),
        };
        self
    }

    /// Sets the refresh token.
    ///
    /// ```
    /// let t = session_core::TokenSet::new("at").with_refresh_token("rt");
    /// assert_eq!(t.refresh_token().unwrap().expose_secret(), "rt");
    /// ```
    #[must_use]
    pub fn with_refresh_token(mut self, token: impl Into<RefreshToken>) -> Self {
        self.refresh_token = Some(token.into());
        self
    }

    /// Sets the token type (`Bearer` by default).
    ///
    /// ```
    /// let t = session_core::TokenSet::new("at").with_token_type("DPoP");
    /// assert_eq!(t.token_type(), "DPoP");
    /// ```
    #[must_use]
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// Sets the granted scopes.
    ///
    /// ```
    /// let t = session_core::TokenSet::new("at").with_scopes(["read"]);
    /// assert_eq!(t.scopes(), ["read"]);
    /// ```
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the ID token.
    ///
    /// ```
    /// let t = session_core::TokenSet::new("at").with_id_token("h.p.s");
    /// assert!(t.id_token().is_some());
    /// ```
    #[must_use]
    pub fn with_id_token(mut self, token: impl Into<IdToken>) -> Self {
        self.id_token = Some(token.into());
        self
    }

    /// After a refresh: keeps `previous`'s refresh token when this set has none
    /// (RFC 6749 §6 lets a server omit it when it does not rotate).
    ///
    /// ```
    /// use session_core::TokenSet;
    /// let old = TokenSet::new("a1").with_refresh_token("r1");
    /// let new = TokenSet::new("a2").inherit_refresh_token(&old);
    /// assert_eq!(new.refresh_token().unwrap().expose_secret(), "r1");
    /// ```
    #[must_use]
    pub fn inherit_refresh_token(mut self, previous: &TokenSet) -> Self {
        if self.refresh_token.is_none() {
            self.refresh_token = previous.refresh_token.clone();
        }
        self
    }

    /// The access token.
    ///
    /// ```
    /// assert_eq!(session_core::TokenSet::new("at").access_token().expose_secret(), "at");
    /// ```
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The refresh token, if any.
    ///
    /// ```
    /// assert!(session_core::TokenSet::new("at").refresh_token().is_none());
    /// ```
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// The token type, e.g. `Bearer`.
    ///
    /// ```
    /// assert_eq!(session_core::TokenSet::new("at").token_type(), "Bearer");
    /// ```
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The `Authorization` value that presents the access token, marked
    /// sensitive: `Bearer <token>` (however the provider spelled `bearer`),
    /// or `<token_type> <token>` for other types such as `DPoP`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTokenResponse`] when the token can't be sent in a
    /// header (the message never quotes it).
    ///
    /// ```
    /// let tokens = session_core::TokenSet::new("at").with_token_type("dpop");
    /// assert_eq!(tokens.authorization_value()?, "dpop at");
    /// assert_eq!(session_core::TokenSet::new("at").authorization_value()?, "Bearer at");
    /// # Ok::<(), session_core::Error>(())
    /// ```
    #[cfg(feature = "session")]
    pub fn authorization_value(&self) -> Result<http::HeaderValue> {
        let scheme = if self.token_type.eq_ignore_ascii_case("bearer") {
            "Bearer"
        } else {
            self.token_type.as_str()
        };
        crate::sensitive_header_value(&format!("{scheme} {}", self.access_token.expose_secret()))
            .map_err(|_| Error::InvalidTokenResponse {
                reason: "the access token can't be sent in a header",
            })
    }

    /// The granted scopes.
    ///
    /// ```
    /// assert!(session_core::TokenSet::new("at").scopes().is_empty());
    /// ```
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The ID token, if any.
    ///
    /// ```
    /// assert!(session_core::TokenSet::new("at").id_token().is_none());
    /// ```
    pub fn id_token(&self) -> Option<&IdToken> {
        self.id_token.as_ref()
    }

    /// Issue and expiry times.
    ///
    /// ```
    /// assert_eq!(session_core::TokenSet::new("at").expiry(), session_core::Expiry::unknown());
    /// ```
    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// When the access token expires, if known.
    ///
    /// ```
    /// assert!(session_core::TokenSet::new("at").expires_at().is_none());
    /// ```
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expiry.expires_at
    }

    /// When the token was issued (the request's send time), if known.
    ///
    /// ```
    /// assert!(session_core::TokenSet::new("at").issued_at().is_none());
    /// ```
    pub fn issued_at(&self) -> Option<OffsetDateTime> {
        self.expiry.issued_at
    }

    /// Whether the access token counts as expired at `now`.
    ///
    /// ```
    /// let now = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// assert!(!session_core::TokenSet::new("at").is_expired(now, &Default::default()));
    /// ```
    pub fn is_expired(&self, now: OffsetDateTime, policy: &ExpiryPolicy) -> bool {
        policy.is_expired(&self.expiry, now)
    }

    /// Whether the access token is due for a refresh at `now`.
    ///
    /// ```
    /// let now = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// assert!(!session_core::TokenSet::new("at").needs_refresh(now, &Default::default()));
    /// ```
    pub fn needs_refresh(&self, now: OffsetDateTime, policy: &ExpiryPolicy) -> bool {
        policy.needs_refresh(&self.expiry, now)
    }

    /// [`TokenStatus`] at `now`.
    ///
    /// ```
    /// use session_core::{TokenSet, TokenStatus};
    /// let now = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// assert_eq!(TokenSet::new("at").status(now, &Default::default()), TokenStatus::Valid);
    /// ```
    pub fn status(&self, now: OffsetDateTime, policy: &ExpiryPolicy) -> TokenStatus {
        if self.is_expired(now, policy) {
            TokenStatus::Expired
        } else if self.needs_refresh(now, policy) {
            TokenStatus::RefreshDue
        } else {
            TokenStatus::Valid
        }
    }
}

/// Reads `expires_in` leniently: a positive integer, decimal or numeric
/// string, capped at ten years. Anything else means "not given".
fn parse_expires_in(value: &Value) -> Option<Duration> {
    let secs: f64 = match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                return (u > 0).then(|| Duration::from_secs(u).min(TokenSet::MAX_LIFETIME));
            }
            n.as_f64()?
        }
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !secs.is_finite() || secs < 1.0 {
        return None;
    }
    let max = TokenSet::MAX_LIFETIME.as_secs_f64();
    Some(Duration::from_secs_f64(secs.floor().min(max)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::encode_unsigned;
    use serde_json::json;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

    fn expires(v: Value) -> Option<OffsetDateTime> {
        let body = json!({"access_token": "at", "expires_in": v});
        TokenSet::from_response_value(&body, T0)
            .unwrap()
            .expires_at()
    }

    #[test]
    fn expires_in_is_anchored_to_send_time() {
        assert_eq!(expires(json!(3600)), Some(T0 + Duration::from_secs(3600)));
        let t = TokenSet::from_response_value(&json!({"access_token": "at", "expires_in": 60}), T0)
            .unwrap();
        assert_eq!(t.issued_at(), Some(T0));
    }

    #[test]
    fn odd_expires_in_values() {
        // Numeric string and decimal.
        assert_eq!(expires(json!("120")), Some(T0 + Duration::from_secs(120)));
        assert_eq!(expires(json!(" 90 ")), Some(T0 + Duration::from_secs(90)));
        assert_eq!(expires(json!(59.9)), Some(T0 + Duration::from_secs(59)));
        // Not usable: unknown expiry (the token is opaque, no JWT fallback).
        assert_eq!(expires(json!(0)), None);
        assert_eq!(expires(json!(-30)), None);
        assert_eq!(expires(json!(0.5)), None);
        assert_eq!(expires(json!("soon")), None);
        assert_eq!(expires(json!(null)), None);
        assert_eq!(expires(json!(true)), None);
        assert_eq!(expires(json!({"s": 1})), None);
        // Absurdly large: capped, never a panic.
        let cap = Some(T0 + TokenSet::MAX_LIFETIME);
        assert_eq!(expires(json!(u64::MAX)), cap);
        assert_eq!(expires(json!(1e300)), cap);
        assert_eq!(expires(json!("1e400")), None); // parses to infinity
        assert_eq!(expires(json!(i64::MIN)), None);
    }

    #[test]
    fn missing_expires_in_falls_back_to_jwt_exp() {
        let exp = T0.unix_timestamp() + 600;
        let iat = T0.unix_timestamp() - 60;
        let jwt = encode_unsigned(&json!({"exp": exp, "iat": iat}));
        let t = TokenSet::from_response_value(&json!({"access_token": jwt}), T0).unwrap();
        assert_eq!(t.expires_at().unwrap().unix_timestamp(), exp);
        assert_eq!(t.issued_at().unwrap().unix_timestamp(), iat);
        // Zero also falls back to the JWT.
        let t = TokenSet::from_response_value(&json!({"access_token": jwt, "expires_in": 0}), T0)
            .unwrap();
        assert_eq!(t.expires_at().unwrap().unix_timestamp(), exp);
        // A JWT without exp: unknown.
        let jwt = encode_unsigned(&json!({"sub": "x"}));
        let t = TokenSet::from_response_value(&json!({"access_token": jwt}), T0).unwrap();
        assert_eq!(t.expires_at(), None);
    }

    #[test]
    fn unknown_expiry_is_never_expired() {
        let t = TokenSet::new("at");
        let p = ExpiryPolicy::default();
        assert_eq!(
            t.status(datetime!(9999-12-31 0:00 UTC), &p),
            TokenStatus::Valid
        );
    }

    #[test]
    fn response_fields() {
        let body = json!({
            "access_token": "at", "token_type": "bearer", "refresh_token": "rt",
            "id_token": "h.p.s", "scope": ["a", "b"], "expires_in": 10
        });
        let t = TokenSet::from_response_value(&body, T0).unwrap();
        assert_eq!(t.token_type(), "bearer");
        assert_eq!(t.refresh_token().unwrap().expose_secret(), "rt");
        assert_eq!(t.id_token().unwrap().expose_secret(), "h.p.s");
        assert_eq!(t.scopes(), ["a", "b"]);
        // Empty refresh token is ignored.
        let t =
            TokenSet::from_response_value(&json!({"access_token": "at", "refresh_token": ""}), T0)
                .unwrap();
        assert!(t.refresh_token().is_none());
    }

    #[test]
    fn bad_responses_are_typed_and_secret_free() {
        let cases: [(&[u8], &str); 5] = [
            (b"<html>", "the body is not JSON"),
            (b"[]", "the body is not a JSON object"),
            (br#"{"refresh_token":"sekrit"}"#, "access_token is missing"),
            (br#"{"access_token":""}"#, "access_token is empty"),
            (br#"{"access_token":42}"#, "access_token is not a string"),
        ];
        for (body, want) in cases {
            let err = TokenSet::from_json_response(body, T0).unwrap_err();
            match &err {
                Error::InvalidTokenResponse { reason } => assert_eq!(*reason, want),
                other => panic!("{other:?}"),
            }
            assert!(!err.to_string().contains("sekrit"));
        }
    }

    #[test]
    fn debug_hides_every_secret() {
        let t = TokenSet::new("at-SECRET")
            .with_refresh_token("rt-SECRET")
            .with_id_token("id-SECRET");
        let text = format!("{t:?}");
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn serde_round_trip() {
        let t = TokenSet::new("at")
            .with_refresh_token("rt")
            .with_scopes(["a"])
            .with_expires_in(Duration::from_secs(60), T0);
        let json = serde_json::to_string(&t).unwrap();
        let back: TokenSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn rotation_keeps_old_refresh_token_only_when_none_issued() {
        let old = TokenSet::new("a1").with_refresh_token("r1");
        let rotated = TokenSet::new("a2")
            .with_refresh_token("r2")
            .inherit_refresh_token(&old);
        assert_eq!(rotated.refresh_token().unwrap().expose_secret(), "r2");
    }
}
