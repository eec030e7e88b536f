//! [`AuthorizeCreate`]: the application's decision on who may create a
//! session through the REST endpoint, and [`CreateRequest`], everything the
//! caller asked for, which that decision sees.

use std::fmt;

use async_trait::async_trait;
use http::HeaderMap;
use serde_json::Value;

/// What a caller of `POST /sessions/create` asked for.
///
/// ```
/// let request = session_server::CreateRequest::new("ada", None, serde_json::json!({"role": "admin"}));
/// assert_eq!(request.role(), Some("admin"));
/// assert!(request.grants_privileges());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreateRequest {
    /// Whose session it would be.
    pub user_id: String,
    /// The idle timeout asked for, in seconds.
    pub timeout: Option<u64>,
    /// The metadata asked for (`role`, `permissions` and anything else).
    pub metadata: Value,
}

impl CreateRequest {
    /// A request for `user_id`'s session.
    ///
    /// ```
    /// let request = session_server::CreateRequest::new("ada", Some(600), serde_json::json!({}));
    /// assert_eq!(request.timeout, Some(600));
    /// ```
    pub fn new(user_id: impl Into<String>, timeout: Option<u64>, metadata: Value) -> Self {
        Self {
            user_id: user_id.into(),
            timeout,
            metadata,
        }
    }

    /// The `role` asked for.
    ///
    /// ```
    /// let request = session_server::CreateRequest::new("ada", None, serde_json::json!({}));
    /// assert_eq!(request.role(), None);
    /// ```
    pub fn role(&self) -> Option<&str> {
        self.metadata.get("role").and_then(Value::as_str)
    }

    /// The `permissions` asked for.
    ///
    /// ```
    /// let request = session_server::CreateRequest::new("ada", None, serde_json::json!({"permissions": ["read"]}));
    /// assert_eq!(request.permissions(), ["read"]);
    /// ```
    pub fn permissions(&self) -> Vec<&str> {
        self.metadata
            .get("permissions")
            .and_then(Value::as_array)
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether the session would carry a role or permissions (any value
    /// under `role` or `permissions`, well-formed or not).
    ///
    /// ```
    /// let plain = session_server::CreateRequest::new("ada", None, serde_json::json!({"theme": "dark"}));
    /// assert!(!plain.grants_privileges());
    /// ```
    pub fn grants_privileges(&self) -> bool {
        self.metadata.get("role").is_some() || self.metadata.get("permissions").is_some()
    }
}

/// The application's decision on who may create a session (for example:
/// the request carries that user's verified credentials). The admin token
/// may always; anyone else needs this hook's consent.
///
/// Roles and permissions are privileges the caller grants itself, so they
/// are a second decision: by default a caller the hook admits may create a
/// session without any, and is refused (403) when it asks for a role or
/// permissions. Override [`may_grant`](Self::may_grant) to allow some.
///
/// ```
/// use session_server::{AuthorizeCreate, CreateRequest};
///
/// /// Users sign in with a verified header; they may be readers, never admins.
/// #[derive(Debug)]
/// struct VerifiedUsers;
///
/// #[async_trait::async_trait]
/// impl AuthorizeCreate for VerifiedUsers {
///     async fn may_create(&self, headers: &http::HeaderMap, request: &CreateRequest) -> bool {
///         headers.get("x-verified-user").is_some_and(|v| v == request.user_id.as_str())
///     }
///     async fn may_grant(&self, _headers: &http::HeaderMap, request: &CreateRequest) -> bool {
///         request.role().is_none_or(|r| r == "reader")
///             && request.permissions().iter().all(|p| *p == "read")
///     }
/// }
/// ```
#[async_trait]
pub trait AuthorizeCreate: Send + Sync + fmt::Debug {
    /// Whether the request may create a session for `request.user_id`.
    async fn may_create(&self, headers: &HeaderMap, request: &CreateRequest) -> bool;

    /// Whether the caller may have the session carry the role and
    /// permissions in `request.metadata`. The default grants none.
    async fn may_grant(&self, headers: &HeaderMap, request: &CreateRequest) -> bool {
        let _ = headers;
        !request.grants_privileges()
    }
}
