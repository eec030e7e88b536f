//! [`ServerSession`]: what the server knows about one session.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use session_core::time::OffsetDateTime;

/// A server-side session (never includes its id).
///
/// Metadata is free-form JSON; `role` (a string) and `permissions` (an array
/// of strings) drive the role and permission checks. Handlers' own values
/// live apart from it, in [`data`](Self::data), so writing one can never
/// grant a role.
///
/// ```
/// # use session_server::ServerSession;
/// let meta = serde_json::json!({"role": "admin", "permissions": ["read", "write"]});
/// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
/// let s = ServerSession::new("ada".into(), t, 3600, t + std::time::Duration::from_secs(86_400), meta);
/// assert!(s.has_role("admin"));
/// assert!(s.has_permission("write") && !s.has_permission("delete"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerSession {
    /// Whose session it is.
    pub user_id: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last used.
    #[serde(with = "time::serde::rfc3339")]
    pub last_activity: OffsetDateTime,
    /// The idle timeout, in seconds.
    pub timeout_secs: u64,
    /// The hard end of its life, whatever the activity.
    #[serde(with = "time::serde::rfc3339")]
    pub absolute_expires_at: OffsetDateTime,
    /// Role, permissions and other facts fixed when the session was made
    /// (changed only by creating it or cycling its id).
    #[serde(default)]
    pub metadata: Value,
    /// What handlers keep in the session through
    /// [`SessionHandle`](crate::SessionHandle): a cart, a flash message,
    /// the last page. Never shown by the REST endpoints.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, Value>,
}

use session_core::time;

impl ServerSession {
    /// A session created at `now`.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let s = session_server::ServerSession::new("ada".into(), t, 600, t + std::time::Duration::from_secs(3600), serde_json::json!({"role": "admin", "permissions": ["read"]}));
    /// assert_eq!(s.user_id, "ada");
    /// ```
    pub fn new(
        user_id: String,
        now: OffsetDateTime,
        timeout_secs: u64,
        absolute_expires_at: OffsetDateTime,
        metadata: Value,
    ) -> Self {
        Self {
            user_id,
            created_at: now,
            last_activity: now,
            timeout_secs,
            absolute_expires_at,
            metadata,
            data: serde_json::Map::new(),
        }
    }

    /// When it expires: idle timeout after the last activity, capped by the
    /// absolute lifetime.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let s = session_server::ServerSession::new("ada".into(), t, 600, t + std::time::Duration::from_secs(3600), serde_json::json!({"role": "admin", "permissions": ["read"]}));
    /// assert_eq!(s.expires_at(), t + std::time::Duration::from_secs(600));
    /// ```
    pub fn expires_at(&self) -> OffsetDateTime {
        let idle = self.last_activity + std::time::Duration::from_secs(self.timeout_secs);
        idle.min(self.absolute_expires_at)
    }

    /// Whether it has expired at `now`.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let s = session_server::ServerSession::new("ada".into(), t, 600, t + std::time::Duration::from_secs(3600), serde_json::json!({"role": "admin", "permissions": ["read"]}));
    /// assert!(s.is_expired(t + std::time::Duration::from_secs(600)));
    /// ```
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at()
    }

    /// The `role` in the metadata.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let s = session_server::ServerSession::new("ada".into(), t, 600, t + std::time::Duration::from_secs(3600), serde_json::json!({"role": "admin", "permissions": ["read"]}));
    /// assert_eq!(s.role(), Some("admin"));
    /// ```
    pub fn role(&self) -> Option<&str> {
        self.metadata.get("role").and_then(Value::as_str)
    }

    /// Whether the metadata's `role` is `role`.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let s = session_server::ServerSession::new("ada".into(), t, 600, t + std::time::Duration::from_secs(3600), serde_json::json!({"role": "admin", "permissions": ["read"]}));
    /// assert!(s.has_role("admin"));
    /// ```
    pub fn has_role(&self, role: &str) -> bool {
        self.role() == Some(role)
    }

    /// Whether `permission` is in the metadata's `permissions`.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let s = session_server::ServerSession::new("ada".into(), t, 600, t + std::time::Duration::from_secs(3600), serde_json::json!({"role": "admin", "permissions": ["read"]}));
    /// assert!(s.has_permission("read") && !s.has_permission("write"));
    /// ```
    pub fn has_permission(&self, permission: &str) -> bool {
        self.metadata
            .get("permissions")
            .and_then(Value::as_array)
            .is_some_and(|p| p.iter().any(|v| v.as_str() == Some(permission)))
    }
}
