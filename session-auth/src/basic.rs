//! [`BasicAuth`]: HTTP Basic authentication (RFC 7617).

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use session_core::{AuthRequest, Authenticate, Result, sensitive_header_value};

/// Sends `Authorization: Basic base64(username:password)` with every request.
///
/// # Security
///
/// Basic authentication sends the password (or web-service key) with every
/// request, merely encoded. Use it only over https and only when the API
/// offers nothing token-based; prefer [`BearerAuth`](crate::BearerAuth).
///
/// # Examples
///
/// ```
/// use session_auth::{BasicAuth, Session};
///
/// let session = Session::builder()
///     .base_url("https://erp.example.com/api/")
///     .auth(BasicAuth::new("alice", "web-service-key"))
///     .build()?;
/// # Ok::<(), session_auth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BasicAuth {
    value: std::result::Result<HeaderValue, &'static str>,
}

impl BasicAuth {
    /// Credentials for Basic authentication. An empty username, or one with a
    /// `:`, is reported when the session is built. The password may be empty.
    ///
    /// ```
    /// let auth = session_auth::BasicAuth::new("alice", "secret");
    /// assert!(!format!("{auth:?}").contains("secret"));
    /// ```
    pub fn new(username: impl AsRef<str>, password: impl AsRef<str>) -> Self {
        let (user, pass) = (username.as_ref(), password.as_ref());
        let value = if user.is_empty() {
            Err("the username is empty")
        } else if user.contains(':') {
            Err("a Basic username can't contain ':'")
        } else {
            let encoded = STANDARD.encode(format!("{user}:{pass}"));
            sensitive_header_value(&format!("Basic {encoded}"))
                .map_err(|_| "the credentials can't be sent in a header")
        };
        Self { value }
    }
}

#[async_trait]
impl Authenticate for BasicAuth {
    async fn authenticate(&self, request: &mut AuthRequest<'_>) -> Result<()> {
        self.authenticate_now(request).unwrap_or(Ok(()))
    }

    fn authenticate_now(&self, request: &mut AuthRequest<'_>) -> Option<Result<()>> {
        Some(match &self.value {
            Ok(value) => {
                request.set_header(AUTHORIZATION, value.clone());
                Ok(())
            }
            Err(reason) => Err(session_core::Error::UnusableCredential { reason }),
        })
    }

    fn check(&self) -> Result<()> {
        self.value
            .as_ref()
            .map(|_| ())
            .map_err(|reason| session_core::Error::UnusableCredential { reason })
    }
}
