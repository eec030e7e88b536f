//! [`ApiKeyAuth`]: an API key in a custom header or a query parameter.

use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use session_core::{AuthRequest, Authenticate, Result, sensitive_header_value};

/// Sends an API key in a header (e.g. `X-Api-Key`) or a query parameter.
///
/// Header values are marked sensitive; query keys are added to each request's
/// URL only as it is sent and never logged by session-kit. Prefer a header:
/// URLs end up in server and proxy logs.
///
/// # Examples
///
/// ```
/// use session_auth::{ApiKeyAuth, Session};
///
/// let session = Session::builder()
///     .base_url("https://api.example.com/")
///     .auth(ApiKeyAuth::header("X-Api-Key", "k-123"))
///     .build()?;
/// # Ok::<(), session_auth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ApiKeyAuth {
    place: std::result::Result<Place, &'static str>,
}

#[derive(Clone)]
enum Place {
    Header(HeaderName, HeaderValue),
    Query(String, SecretString),
}

impl std::fmt::Debug for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header(name, _) => write!(f, "Header({name}: [redacted])"),
            Self::Query(name, _) => write!(f, "Query({name}=[redacted])"),
        }
    }
}

impl ApiKeyAuth {
    /// The key in header `name`. An invalid name, or an empty or unsendable
    /// key, is reported when the session is built.
    ///
    /// ```
    /// let auth = session_auth::ApiKeyAuth::header("X-Api-Key", "k-123");
    /// assert!(!format!("{auth:?}").contains("k-123"));
    /// ```
    pub fn header(name: impl AsRef<str>, key: impl AsRef<str>) -> Self {
        let place = HeaderName::from_bytes(name.as_ref().as_bytes())
            .map_err(|_| "the header name is not a valid HTTP header name")
            .and_then(|name| {
                sensitive_header_value(key.as_ref())
                    .map(|value| Place::Header(name, value))
                    .map_err(|_| "the API key is empty or can't be sent in a header")
            });
        Self { place }
    }

    /// The key in query parameter `name`.
    ///
    /// ```
    /// let auth = session_auth::ApiKeyAuth::query("api_key", "k-123");
    /// assert!(!format!("{auth:?}").contains("k-123"));
    /// ```
    pub fn query(name: impl Into<String>, key: impl Into<String>) -> Self {
        let (name, key) = (name.into(), key.into());
        let place = if name.is_empty() {
            Err("the query parameter name is empty")
        } else if key.is_empty() {
            Err("the API key is empty")
        } else {
            Ok(Place::Query(name, SecretString::from(key)))
        };
        Self { place }
    }
}

#[async_trait]
impl Authenticate for ApiKeyAuth {
    async fn authenticate(&self, request: &mut AuthRequest<'_>) -> Result<()> {
        self.authenticate_now(request).unwrap_or(Ok(()))
    }

    fn authenticate_now(&self, request: &mut AuthRequest<'_>) -> Option<Result<()>> {
        match &self.place {
            Ok(Place::Header(name, value)) => request.set_header(name.clone(), value.clone()),
            Ok(Place::Query(name, key)) => request.append_query_pair(name, key.expose_secret()),
            Err(reason) => return Some(Err(session_core::Error::UnusableCredential { reason })),
        }
        Some(Ok(()))
    }

    fn check(&self) -> Result<()> {
        self.place
            .as_ref()
            .map(|_| ())
            .map_err(|reason| session_core::Error::UnusableCredential { reason })
    }
}
