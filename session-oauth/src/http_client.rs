//! [`OAuthHttp`]: the `oauth2` crate's HTTP client trait over our reqwest
//! 0.13 client, so only one reqwest is built. It never follows redirects:
//! a token endpoint that redirects is answered as it stands.

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::error::Error;

/// An HTTP client for OAuth endpoints.
///
/// ```
/// let http = session_oauth::OAuthHttp::new()?;
/// # let _ = http;
/// # Ok::<(), session_oauth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OAuthHttp {
    client: reqwest::Client,
}

/// The error of a failed exchange with an OAuth endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request could not be completed.
    #[error("the HTTP request to the authorization server failed")]
    Transport(#[source] reqwest::Error),
    /// The server answered with a 5xx status.
    #[error("the authorization server answered with status {0}")]
    ServerStatus(u16),
}

impl HttpError {
    pub(crate) fn into_error(self) -> Error {
        let retryable = match &self {
            Self::Transport(e) => e.is_connect() || e.is_timeout() || e.is_request(),
            Self::ServerStatus(_) => true,
        };
        Error::Transport {
            retryable,
            source: Some(Box::new(self)),
        }
    }
}

impl OAuthHttp {
    /// A client that never follows redirects.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when TLS can't be initialised.
    ///
    /// ```
    /// let _ = session_oauth::OAuthHttp::new()?;
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| Error::Configuration {
                reason: "the HTTP client could not be initialised".into(),
            })?;
        Ok(Self { client })
    }

    /// Uses your reqwest client. Build it with `redirect::Policy::none()`:
    /// token endpoints must not be followed through redirects.
    ///
    /// ```
    /// let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    /// let _ = session_oauth::OAuthHttp::with_client(client);
    /// ```
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// The reqwest client (for discovery and JWKS fetches).
    ///
    /// ```
    /// let http = session_oauth::OAuthHttp::new()?;
    /// let _client: &reqwest::Client = http.client();
    /// # Ok::<(), session_oauth::Error>(())
    /// ```
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError::Transport(e.without_url()))?;
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|e| HttpError::Transport(e.without_url()))?;
            if response.status().is_server_error() {
                // 5xx is an outage, not an OAuth error: make it retryable.
                return Err(HttpError::ServerStatus(response.status().as_u16()));
            }
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| HttpError::Transport(e.without_url()))?;
            Ok(builder
                .body(body.to_vec())
                .expect("status and headers came from a response"))
        })
    }
}
