//! [`SessionData`]: everything a client session persists — tokens, cookies,
//! user info, extra named credentials, [`SessionMetadata`] — and its
//! one-line [`summary`](SessionData::summary).
//!
//! # Format and versions
//!
//! The JSON form carries `schema_version`. Readers ignore fields they don't
//! know (so a newer writer's additions don't break older readers), fill
//! missing optional fields with defaults (so older files load), and refuse a
//! `schema_version` newer than [`SessionData::SCHEMA_VERSION`], which is only
//! raised for incompatible changes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::cookies::CookieJar;
use crate::error::{Error, Result};
use crate::expiry::ExpiryPolicy;
use crate::named_credential::NamedCredential;
use crate::token_set::{TokenSet, TokenStatus};

/// Facts about a session that are not credentials.
///
/// ```
/// let now = time::macros::datetime!(2030-01-01 12:00 UTC);
/// let meta = session_core::SessionMetadata::new(now);
/// assert_eq!(meta.created_at, now);
/// assert!(meta.last_api_call_at.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionMetadata {
    /// When the session was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its tokens were last refreshed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_refreshed_at: Option<OffsetDateTime>,
    /// When it was last used for an API call.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_api_call_at: Option<OffsetDateTime>,
    /// The API server (host) it last talked to.
    #[serde(default)]
    pub current_api_server: Option<String>,
    /// The `User-Agent` it sends.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The client's IP address, when known.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// A fingerprint of the client, when used.
    #[serde(default)]
    pub client_fingerprint: Option<String>,
}

impl SessionMetadata {
    /// Metadata for a session created at `now`.
    ///
    /// ```
    /// let now = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// assert!(session_core::SessionMetadata::new(now).user_agent.is_none());
    /// ```
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            created_at: now,
            last_refreshed_at: None,
            last_api_call_at: None,
            current_api_server: None,
            user_agent: None,
            ip_address: None,
            client_fingerprint: None,
        }
    }

    /// How old the session is at `now`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let meta = session_core::SessionMetadata::new(t);
    /// assert_eq!(meta.age(t + Duration::from_secs(60)), Duration::from_secs(60));
    /// ```
    pub fn age(&self, now: OffsetDateTime) -> Duration {
        Duration::try_from(now - self.created_at).unwrap_or(Duration::ZERO)
    }

    /// How long since the last API call, if there was one.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// assert!(session_core::SessionMetadata::new(t).since_last_api_call(t).is_none());
    /// ```
    pub fn since_last_api_call(&self, now: OffsetDateTime) -> Option<Duration> {
        self.last_api_call_at
            .map(|at| Duration::try_from(now - at).unwrap_or(Duration::ZERO))
    }

    /// Records an API call to `server` at `now`.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let mut meta = session_core::SessionMetadata::new(t);
    /// meta.mark_api_call(t, Some("api.example.com"));
    /// assert_eq!(meta.current_api_server.as_deref(), Some("api.example.com"));
    /// ```
    pub fn mark_api_call(&mut self, now: OffsetDateTime, server: Option<&str>) {
        self.last_api_call_at = Some(now);
        if let Some(server) = server
            && self.current_api_server.as_deref() != Some(server)
        {
            self.current_api_server = Some(server.to_owned());
        }
    }
}

/// A client session as it is kept in memory and persisted.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session_core::{ExpiryPolicy, SessionData, TokenSet};
///
/// let t0 = time::macros::datetime!(2030-01-01 12:00 UTC);
/// let mut session = SessionData::new(t0);
/// session.tokens = Some(TokenSet::new("at").with_expires_in(Duration::from_secs(3600), t0));
/// session.metadata.mark_api_call(t0 + Duration::from_secs(43 * 60), Some("api.example.com"));
///
/// let now = t0 + Duration::from_secs(45 * 60);
/// assert_eq!(
///     session.summary(now, &ExpiryPolicy::default()),
///     "Session: VALID | Tokens: REFRESH DUE | Cookies: NONE | Age: 45m | Last API: 2m ago"
/// );
///
/// let json = session.to_json()?;
/// let back = SessionData::from_json(&json)?;
/// assert_eq!(back.tokens, session.tokens);
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionData {
    /// The format version this data was written with.
    #[serde(default = "first_schema")]
    pub schema_version: u32,
    /// The main token set, if signed in.
    #[serde(default)]
    pub tokens: Option<TokenSet>,
    /// Cookies received by the session.
    #[serde(default)]
    pub cookies: CookieJar,
    /// What the API said about the user (free-form JSON).
    #[serde(default)]
    pub user_info: Option<Value>,
    /// Non-credential facts.
    pub metadata: SessionMetadata,
    /// Extra named credentials, each with its own expiry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, NamedCredential>,
}

fn first_schema() -> u32 {
    1
}

impl SessionData {
    /// The schema version this build writes and the newest it reads.
    pub const SCHEMA_VERSION: u32 = 1;

    /// An empty session created at `now`.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let s = session_core::SessionData::new(t);
    /// assert!(s.tokens.is_none());
    /// assert_eq!(s.schema_version, session_core::SessionData::SCHEMA_VERSION);
    /// ```
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            schema_version: Self::SCHEMA_VERSION,
            tokens: None,
            cookies: CookieJar::default(),
            user_info: None,
            metadata: SessionMetadata::new(now),
            credentials: BTreeMap::new(),
        }
    }

    /// A session created at `now` holding `tokens`.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let s = session_core::SessionData::with_tokens(session_core::TokenSet::new("at"), t);
    /// assert!(s.tokens.is_some());
    /// ```
    pub fn with_tokens(tokens: TokenSet, now: OffsetDateTime) -> Self {
        let mut data = Self::new(now);
        data.tokens = Some(tokens);
        data
    }

    /// Whether the session has tokens that are not expired at `now`.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// assert!(!session_core::SessionData::new(t).is_valid(t, &Default::default()));
    /// ```
    pub fn is_valid(&self, now: OffsetDateTime, policy: &ExpiryPolicy) -> bool {
        self.tokens
            .as_ref()
            .is_some_and(|t| !t.is_expired(now, policy))
    }

    /// Whether the tokens (or any named credential) are due for a refresh.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// assert!(!session_core::SessionData::new(t).needs_refresh(t, &Default::default()));
    /// ```
    pub fn needs_refresh(&self, now: OffsetDateTime, policy: &ExpiryPolicy) -> bool {
        self.tokens
            .as_ref()
            .is_some_and(|t| t.needs_refresh(now, policy))
            || self
                .credentials
                .values()
                .any(|c| c.needs_refresh(now, policy))
    }

    /// Replaces the tokens after a refresh, keeping the old refresh token
    /// when the new set has none, and stamps `last_refreshed_at`.
    ///
    /// ```
    /// use session_core::{SessionData, TokenSet};
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let mut s = SessionData::with_tokens(TokenSet::new("a1").with_refresh_token("r1"), t);
    /// s.update_tokens(TokenSet::new("a2"), t);
    /// let tokens = s.tokens.as_ref().unwrap();
    /// assert_eq!(tokens.access_token().expose_secret(), "a2");
    /// assert_eq!(tokens.refresh_token().unwrap().expose_secret(), "r1");
    /// assert_eq!(s.metadata.last_refreshed_at, Some(t));
    /// ```
    pub fn update_tokens(&mut self, tokens: TokenSet, now: OffsetDateTime) {
        let tokens = match &self.tokens {
            Some(previous) => tokens.inherit_refresh_token(previous),
            None => tokens,
        };
        self.tokens = Some(tokens);
        self.metadata.last_refreshed_at = Some(now);
    }

    /// Encodes the session as JSON (secrets included, in clear text).
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] if encoding fails (user info that cannot be
    /// represented, in practice never).
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let json = session_core::SessionData::new(t).to_json()?;
    /// assert!(json.contains("\"schema_version\":1"));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(Error::encode)
    }

    /// Encodes the session as a JSON value.
    ///
    /// # Errors
    ///
    /// As [`to_json`](Self::to_json).
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let v = session_core::SessionData::new(t).to_value()?;
    /// assert_eq!(v["schema_version"], 1);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn to_value(&self) -> Result<Value> {
        serde_json::to_value(self).map_err(Error::encode)
    }

    /// Decodes a session from JSON text.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedSchema`] for data from a newer, incompatible
    /// schema; [`Error::Serialization`] for anything that is not session data.
    ///
    /// ```
    /// use session_core::{Error, SessionData};
    /// let err = SessionData::from_json(r#"{"schema_version": 99}"#).unwrap_err();
    /// assert!(matches!(err, Error::UnsupportedSchema { found: 99, .. }));
    /// ```
    pub fn from_json(json: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(json).map_err(Error::decode)?;
        Self::from_value(value)
    }

    /// Decodes a session from a JSON value.
    ///
    /// # Errors
    ///
    /// As [`from_json`](Self::from_json).
    ///
    /// ```
    /// let v = serde_json::json!({"metadata": {"created_at": "2030-01-01T00:00:00Z"}});
    /// let s = session_core::SessionData::from_value(v)?;
    /// assert_eq!(s.schema_version, 1);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn from_value(value: Value) -> Result<Self> {
        let found = value
            .get("schema_version")
            .and_then(Value::as_u64)
            .map_or(1, |v| u32::try_from(v).unwrap_or(u32::MAX));
        if found > Self::SCHEMA_VERSION {
            return Err(Error::UnsupportedSchema {
                found,
                supported: Self::SCHEMA_VERSION,
            });
        }
        let mut data: Self = serde_json::from_value(value).map_err(Error::decode)?;
        data.schema_version = Self::SCHEMA_VERSION;
        Ok(data)
    }

    /// A one-line, secret-free description, e.g.
    /// `Session: VALID | Tokens: VALID | Cookies: PRESENT | Age: 45m | Last API: 2m ago`.
    ///
    /// Named credentials are appended as `| name: ACTIVE` (or `REFRESH DUE`,
    /// `EXPIRED`).
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// assert_eq!(
    ///     session_core::SessionData::new(t).summary(t, &Default::default()),
    ///     "Session: INVALID | Tokens: NONE | Cookies: NONE | Age: 0s | Last API: never"
    /// );
    /// ```
    pub fn summary(&self, now: OffsetDateTime, policy: &ExpiryPolicy) -> String {
        let session = if self.is_valid(now, policy) {
            "VALID"
        } else {
            "INVALID"
        };
        let tokens = match &self.tokens {
            Some(t) => t.status(now, policy).to_string(),
            None => "NONE".to_owned(),
        };
        let cookies = if self.cookies.is_empty() {
            "NONE"
        } else {
            "PRESENT"
        };
        let mut out = format!(
            "Session: {session} | Tokens: {tokens} | Cookies: {cookies} | Age: {}",
            human_duration(self.metadata.age(now))
        );
        match self.metadata.since_last_api_call(now) {
            Some(ago) => {
                let _ = write!(out, " | Last API: {} ago", human_duration(ago));
            }
            None => out.push_str(" | Last API: never"),
        }
        for (name, credential) in &self.credentials {
            let state = if credential.is_expired(now, policy) {
                TokenStatus::Expired.to_string()
            } else if credential.needs_refresh(now, policy) {
                TokenStatus::RefreshDue.to_string()
            } else {
                "ACTIVE".to_owned()
            };
            let _ = write!(out, " | {name}: {state}");
        }
        out
    }
}

/// `45s`, `45m`, `3h 5m`, `2d 4h`.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => match (s % 3600) / 60 {
            0 => format!("{}h", s / 3600),
            m => format!("{}h {m}m", s / 3600),
        },
        _ => match (s % 86_400) / 3600 {
            0 => format!("{}d", s / 86_400),
            h => format!("{}d {h}h", s / 86_400),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;
    use url::Url;

    const T0: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

    fn full_session() -> SessionData {
        let mut s = SessionData::with_tokens(
            TokenSet::new("at-SECRET")
                .with_refresh_token("rt-SECRET")
                .with_id_token("id-SECRET")
                .with_expires_in(Duration::from_secs(3600), T0),
            T0,
        );
        let url = Url::parse("https://api.example.com/").unwrap();
        s.cookies
            .insert_set_cookie("sid=cookie-SECRET; Path=/", &url);
        s.user_info = Some(json!({"name": "Ada"}));
        s.metadata.user_agent = Some("agent/1".into());
        s.credentials.insert(
            "wallet".into(),
            NamedCredential::new("wallet-SECRET")
                .with_expires_at(T0 + Duration::from_secs(24 * 3600))
                .with_refresh_window(Duration::from_secs(3600)),
        );
        s
    }

    #[test]
    fn round_trip_through_json() {
        let s = full_session();
        let back = SessionData::from_json(&s.to_json().unwrap()).unwrap();
        assert_eq!(back.tokens, s.tokens);
        assert_eq!(back.user_info, s.user_info);
        assert_eq!(back.metadata, s.metadata);
        assert_eq!(back.cookies.len(), 1);
        assert_eq!(back.credentials["wallet"].expose_secret(), "wallet-SECRET");
        assert_eq!(
            back.credentials["wallet"].refresh_window,
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut v = full_session().to_value().unwrap();
        v["added_later"] = json!({"x": 1});
        v["metadata"]["new_field"] = json!(true);
        v["tokens"]["dpop_key"] = json!("k");
        let back = SessionData::from_value(v).unwrap();
        assert!(back.tokens.is_some());
    }

    #[test]
    fn older_documents_load() {
        // Written before schema_version, credentials and most metadata existed.
        let old = r#"{
            "tokens": {"access_token": "at", "expires_at": "2030-01-01T13:00:00Z"},
            "metadata": {"created_at": "2030-01-01T12:00:00Z"}
        }"#;
        let s = SessionData::from_json(old).unwrap();
        assert_eq!(s.schema_version, SessionData::SCHEMA_VERSION);
        let tokens = s.tokens.unwrap();
        assert_eq!(tokens.token_type(), "Bearer");
        assert_eq!(tokens.expires_at(), Some(datetime!(2030-01-01 13:00 UTC)));
        assert!(s.cookies.is_empty());
        assert!(s.credentials.is_empty());
    }

    #[test]
    fn newer_schema_and_garbage_are_typed_errors() {
        assert!(matches!(
            SessionData::from_json(r#"{"schema_version": 2, "metadata": {}}"#),
            Err(Error::UnsupportedSchema {
                found: 2,
                supported: 1
            })
        ));
        for bad in [
            "",
            "{",
            "[]",
            r#"{"metadata": 5}"#,
            r#"{"tokens": {"access_token": 1}, "metadata": {"created_at": "2030-01-01T12:00:00Z"}}"#,
        ] {
            let err = SessionData::from_json(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Serialization {
                        operation: "decoded",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn decode_errors_never_echo_secrets() {
        let bad = r#"{"tokens": {"access_token": ["at-SECRET"]}, "metadata": {"created_at": "2030-01-01T12:00:00Z"}}"#;
        let err = SessionData::from_json(bad).unwrap_err();
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn summary_lines() {
        let mut s = full_session();
        s.metadata
            .mark_api_call(T0 + Duration::from_secs(43 * 60), Some("api.example.com"));
        assert_eq!(
            s.summary(T0 + Duration::from_secs(45 * 60), &ExpiryPolicy::default()),
            "Session: VALID | Tokens: REFRESH DUE | Cookies: PRESENT | Age: 45m | Last API: 2m ago | wallet: ACTIVE"
        );
        assert_eq!(
            s.summary(T0 + Duration::from_secs(10 * 60), &ExpiryPolicy::default()),
            "Session: VALID | Tokens: VALID | Cookies: PRESENT | Age: 10m | Last API: 0s ago | wallet: ACTIVE"
        );
        let late = T0 + Duration::from_secs(23 * 3600 + 30 * 60);
        assert_eq!(
            s.summary(late, &ExpiryPolicy::default()),
            "Session: INVALID | Tokens: EXPIRED | Cookies: PRESENT | Age: 23h 30m | Last API: 22h 47m ago | wallet: REFRESH DUE"
        );
    }

    #[test]
    fn summary_and_debug_never_show_secrets() {
        let s = full_session();
        let text = format!("{} {:?}", s.summary(T0, &ExpiryPolicy::default()), s);
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_secs(59)), "59s");
        assert_eq!(human_duration(Duration::from_secs(60)), "1m");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(human_duration(Duration::from_secs(3660)), "1h 1m");
        assert_eq!(human_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(human_duration(Duration::from_secs(90_000)), "1d 1h");
    }
}
