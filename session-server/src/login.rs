//! [`Login`]: who a new session is for, and the roles, permissions,
//! metadata and timeout it starts with.

use serde_json::{Map, Value};

/// What [`SessionHandle::login`](crate::SessionHandle::login) creates.
///
/// ```
/// use session_server::Login;
/// let login = Login::user("ada").role("admin").permission("read").permission("write").timeout(1800);
/// assert_eq!(login.metadata()["role"], "admin");
/// assert_eq!(login.metadata()["permissions"], serde_json::json!(["read", "write"]));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Login {
    user_id: String,
    timeout: Option<u64>,
    metadata: Map<String, Value>,
}

impl Login {
    /// A session for `user_id`, with no role or permissions and the
    /// default timeout.
    ///
    /// ```
    /// let login = session_server::Login::user("ada");
    /// assert_eq!(login.metadata(), serde_json::json!({}));
    /// ```
    pub fn user(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            timeout: None,
            metadata: Map::new(),
        }
    }

    /// Its role (what [`RequireRole`](crate::RequireRole) checks).
    ///
    /// ```
    /// let login = session_server::Login::user("ada").role("developer");
    /// assert_eq!(login.metadata()["role"], "developer");
    /// ```
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.metadata
            .insert("role".to_owned(), Value::String(role.into()));
        self
    }

    /// Adds a permission (what [`RequirePermission`](crate::RequirePermission) checks).
    ///
    /// ```
    /// let login = session_server::Login::user("ada").permission("write");
    /// assert_eq!(login.metadata()["permissions"], serde_json::json!(["write"]));
    /// ```
    pub fn permission(mut self, permission: impl Into<String>) -> Self {
        let entry = self
            .metadata
            .entry("permissions")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(permission.into()));
        }
        self
    }

    /// Another metadata entry (fixed for the session's life).
    ///
    /// ```
    /// let login = session_server::Login::user("ada").metadata_entry("tenant", "acme");
    /// assert_eq!(login.metadata()["tenant"], "acme");
    /// ```
    pub fn metadata_entry(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The idle timeout in seconds (within the configured bounds).
    ///
    /// ```
    /// let login = session_server::Login::user("ada").timeout(600);
    /// # let _ = login;
    /// ```
    pub fn timeout(mut self, seconds: u64) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// The metadata the session will carry.
    ///
    /// ```
    /// assert!(session_server::Login::user("ada").metadata().is_object());
    /// ```
    pub fn metadata(&self) -> Value {
        Value::Object(self.metadata.clone())
    }

    pub(crate) fn into_parts(self) -> (String, Option<u64>, Value) {
        (self.user_id, self.timeout, Value::Object(self.metadata))
    }
}
