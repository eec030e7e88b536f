//! The device authorization grant (RFC 8628): show the user a code and a
//! URI, then poll at the server's interval, slowing down on `slow_down`.

use std::fmt;
use std::time::Duration;

use oauth2::{DeviceAuthorizationResponse, EmptyExtraDeviceAuthorizationFields, Scope};
use session_core::TokenSet;

use crate::client::{OAuthClient, map_request_error};
use crate::error::{Error, Result};

/// A device authorization in progress: what to show the user.
pub struct DeviceAuthorization {
    inner: DeviceAuthorizationResponse<EmptyExtraDeviceAuthorizationFields>,
}

impl DeviceAuthorization {
    /// The code the user types.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let device = client.device_authorization().await?;
    /// println!("enter {}", device.user_code());
    /// # Ok(()) }
    /// ```
    pub fn user_code(&self) -> &str {
        self.inner.user_code().secret()
    }

    /// Where the user types it.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let device = client.device_authorization().await?;
    /// println!("at {}", device.verification_uri());
    /// # Ok(()) }
    /// ```
    pub fn verification_uri(&self) -> &str {
        self.inner.verification_uri()
    }

    /// A URI with the code filled in, when the server offers one.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let device = client.device_authorization().await?;
    /// let _ = device.verification_uri_complete();
    /// # Ok(()) }
    /// ```
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.inner
            .verification_uri_complete()
            .map(|u| u.secret().as_str())
    }

    /// How long the codes stay valid.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let device = client.device_authorization().await?;
    /// let _ = device.expires_in();
    /// # Ok(()) }
    /// ```
    pub fn expires_in(&self) -> Duration {
        self.inner.expires_in()
    }

    /// How long to wait between polls (5 s when the server says nothing).
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let device = client.device_authorization().await?;
    /// let _ = device.interval();
    /// # Ok(()) }
    /// ```
    pub fn interval(&self) -> Duration {
        self.inner.interval()
    }
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("verification_uri", &self.verification_uri())
            .field("expires_in", &self.expires_in())
            .field("interval", &self.interval())
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// Starts a device authorization.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEndpoint`] without a device endpoint; server and
    /// transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let device = client.device_authorization().await?;
    /// eprintln!("open {} and enter {}", device.verification_uri(), device.user_code());
    /// # Ok(()) }
    /// ```
    pub async fn device_authorization(&self) -> Result<DeviceAuthorization> {
        let mut request =
            self.inner
                .oauth
                .exchange_device_code()
                .map_err(|_| Error::MissingEndpoint {
                    endpoint: "device authorization",
                })?;
        for scope in &self.inner.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let inner = request
            .request_async(&self.authenticated())
            .await
            .map_err(|e| {
                map_request_error(e, |r: &oauth2::basic::BasicErrorResponse| {
                    (
                        r.error().as_ref().to_owned(),
                        r.error_description().cloned(),
                    )
                })
            })?;
        Ok(DeviceAuthorization { inner })
    }

    /// Polls until the user approves, at the server's interval (plus 5 s
    /// after each `slow_down`), sleeping on tokio's timer.
    ///
    /// # Errors
    ///
    /// [`Error::AccessDenied`] when the user refuses, [`Error::ExpiredToken`]
    /// when the codes expire, and transport errors.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient) -> Result<(), session_oauth::Error> {
    /// let device = client.device_authorization().await?;
    /// let tokens = client.poll_device(&device).await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn poll_device(&self, authorization: &DeviceAuthorization) -> Result<TokenSet> {
        let request = self
            .inner
            .oauth
            .exchange_device_access_token(&authorization.inner)
            .map_err(|_| Error::MissingEndpoint { endpoint: "token" })?;
        let sent_at = self.inner.clock.now();
        let response = request
            .request_async(&self.authenticated(), tokio::time::sleep, None)
            .await
            .map_err(|e| {
                map_request_error(e, |r: &oauth2::DeviceCodeErrorResponse| {
                    (
                        r.error().as_ref().to_owned(),
                        r.error_description().cloned(),
                    )
                })
            })?;
        self.accept(response, sent_at, None).await
    }
}
