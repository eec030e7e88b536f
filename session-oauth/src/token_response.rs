//! [`RawTokenResponse`]: the token endpoint's answer as the `oauth2` crate
//! sees it, parsed leniently and turned into a core [`TokenSet`] by
//! session-core's one parser (odd `expires_in`, JWT `exp` fallback, ID token).

use std::fmt;
use std::time::Duration;

use oauth2::basic::BasicTokenType;
use oauth2::{AccessToken, RefreshToken, Scope, TokenResponse};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use session_core::TokenSet;
use session_core::time::OffsetDateTime;

/// A token endpoint's JSON answer, kept whole.
///
/// `Debug` never shows a token.
#[derive(Clone)]
pub struct RawTokenResponse {
    value: Value,
    access_token: AccessToken,
    token_type: BasicTokenType,
    refresh_token: Option<RefreshToken>,
    scopes: Option<Vec<Scope>>,
}

impl RawTokenResponse {
    /// The answer as a [`TokenSet`], its expiry counted from `sent_at`.
    pub(crate) fn into_token_set(self, sent_at: OffsetDateTime) -> crate::Result<TokenSet> {
        TokenSet::from_response_value(&self.value, sent_at).map_err(|e| {
            crate::Error::InvalidResponse {
                reason: e.to_string(),
            }
        })
    }
}

impl fmt::Debug for RawTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawTokenResponse")
            .field("token_type", &self.token_type)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl<'de> Deserialize<'de> for RawTokenResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let access = match value.get("access_token") {
            Some(Value::String(s)) if !s.is_empty() => AccessToken::new(s.clone()),
            _ => {
                return Err(D::Error::custom(
                    "access_token is missing or not a non-empty string",
                ));
            }
        };
        let token_type = match value.get("token_type").and_then(Value::as_str) {
            Some(t) if t.eq_ignore_ascii_case("bearer") => BasicTokenType::Bearer,
            Some(t) if t.eq_ignore_ascii_case("mac") => BasicTokenType::Mac,
            Some(t) => BasicTokenType::Extension(t.to_owned()),
            None => BasicTokenType::Bearer,
        };
        let refresh_token = value
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| RefreshToken::new(s.to_owned()));
        let scopes = value.get("scope").and_then(Value::as_str).map(|s| {
            s.split_whitespace()
                .map(|p| Scope::new(p.to_owned()))
                .collect()
        });
        Ok(Self {
            value,
            access_token: access,
            token_type,
            refresh_token,
            scopes,
        })
    }
}

impl Serialize for RawTokenResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl TokenResponse for RawTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    /// Plain positive integers only; the [`TokenSet`] conversion is lenient.
    fn expires_in(&self) -> Option<Duration> {
        self.value
            .get("expires_in")
            .and_then(Value::as_u64)
            .map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}
