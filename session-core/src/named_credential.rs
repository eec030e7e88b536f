//! [`NamedCredential`]: an extra named credential kept beside the main tokens, with
//! its own expiry and refresh window (a wallet session, cloud keys, …).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::expiry::{Expiry, ExpiryPolicy};

/// An extra credential stored in a session under a name.
///
/// The secret is zeroized on drop and never printed; non-secret details go in
/// `attributes`. Its refresh window, when set, replaces the policy's (for
/// example, refresh a wallet session an hour before it expires).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use session_core::{NamedCredential, ExpiryPolicy};
///
/// let now = time::macros::datetime!(2030-01-01 12:00 UTC);
/// let wallet = NamedCredential::new("wallet-key")
///     .with_attribute("organization", "org-1")
///     .with_expires_at(now + Duration::from_secs(50 * 60))
///     .with_refresh_window(Duration::from_secs(3600));
///
/// assert!(wallet.needs_refresh(now, &ExpiryPolicy::default()));
/// assert!(!wallet.is_expired(now, &ExpiryPolicy::default()));
/// assert!(!format!("{wallet:?}").contains("wallet-key"));
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct NamedCredential {
    #[serde(serialize_with = "ser_secret", deserialize_with = "de_secret")]
    secret: SecretString,
    /// Non-secret details (ids, regions, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Issue and expiry times.
    #[serde(flatten)]
    pub expiry: Expiry,
    /// Refresh this long before expiry, instead of the policy's window.
    #[serde(default, with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub refresh_window: Option<Duration>,
}

impl NamedCredential {
    /// A credential with this secret and unknown expiry.
    ///
    /// ```
    /// let c = session_core::NamedCredential::new("k");
    /// assert_eq!(c.expose_secret(), "k");
    /// ```
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: SecretString::from(secret.into()),
            attributes: BTreeMap::new(),
            expiry: Expiry::unknown(),
            refresh_window: None,
        }
    }

    /// The secret.
    ///
    /// # Security
    ///
    /// Don't log or display the returned value.
    ///
    /// ```
    /// assert_eq!(session_core::NamedCredential::new("k").expose_secret(), "k");
    /// ```
    pub fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }

    /// Adds a non-secret attribute.
    ///
    /// ```
    /// let c = session_core::NamedCredential::new("k").with_attribute("region", "eu");
    /// assert_eq!(c.attributes["region"], "eu");
    /// ```
    #[must_use]
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the expiry time.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// assert_eq!(session_core::NamedCredential::new("k").with_expires_at(t).expiry.expires_at, Some(t));
    /// ```
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: OffsetDateTime) -> Self {
        self.expiry.expires_at = Some(expires_at);
        self
    }

    /// Sets the full expiry (issue and expiry times).
    ///
    /// ```
    /// let c = session_core::NamedCredential::new("k").with_expiry(session_core::Expiry::unknown());
    /// assert!(c.expiry.expires_at.is_none());
    /// ```
    #[must_use]
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// Sets this credential's own refresh window.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let c = session_core::NamedCredential::new("k").with_refresh_window(Duration::from_secs(3600));
    /// assert_eq!(c.refresh_window, Some(Duration::from_secs(3600)));
    /// ```
    #[must_use]
    pub fn with_refresh_window(mut self, window: Duration) -> Self {
        self.refresh_window = Some(window);
        self
    }

    /// Whether it counts as expired at `now`.
    ///
    /// ```
    /// let now = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// assert!(!session_core::NamedCredential::new("k").is_expired(now, &Default::default()));
    /// ```
    pub fn is_expired(&self, now: OffsetDateTime, policy: &ExpiryPolicy) -> bool {
        policy.is_expired(&self.expiry, now)
    }

    /// Whether it is due for a refresh at `now` (using its own window if set).
    ///
    /// ```
    /// let now = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// assert!(!session_core::NamedCredential::new("k").needs_refresh(now, &Default::default()));
    /// ```
    pub fn needs_refresh(&self, now: OffsetDateTime, policy: &ExpiryPolicy) -> bool {
        match self.refresh_window {
            Some(window) => policy.needs_refresh_within(&self.expiry, now, window),
            None => policy.needs_refresh(&self.expiry, now),
        }
    }
}

impl fmt::Debug for NamedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedCredential")
            .field("secret", &"[redacted]")
            .field("attributes", &self.attributes)
            .field("expiry", &self.expiry)
            .field("refresh_window", &self.refresh_window)
            .finish()
    }
}

fn ser_secret<S: Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose_secret())
}

fn de_secret<'de, D: Deserializer<'de>>(de: D) -> Result<SecretString, D::Error> {
    String::deserialize(de).map(SecretString::from)
}

mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}
