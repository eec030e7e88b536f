//! [`RequestBuilder`]: one request through a [`Session`].

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use reqwest::Response;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::session::{Inner, Session};

/// A request being built; [`send`](Self::send) sends it through the session.
///
/// ```no_run
/// # async fn run(session: session_auth::Session) -> Result<(), session_auth::Error> {
/// let response = session
///     .post("orders")
///     .header("Idempotency-Key", "order-42")
///     .json(&serde_json::json!({"sku": "A-1", "qty": 2}))
///     .send()
///     .await?;
/// # let _ = response; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct RequestBuilder {
    session: Session,
    inner: Result<reqwest::RequestBuilder>,
}

impl RequestBuilder {
    pub(crate) fn new(session: Session, inner: Result<reqwest::RequestBuilder>) -> Self {
        Self { session, inner }
    }

    fn map(mut self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        self.inner = self.inner.map(f);
        self
    }

    /// Adds a header. An invalid name or value is reported by `send`.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.get("x").header("Accept", "application/json").build()?;
    /// assert_eq!(request.headers()["accept"], "application/json");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|b| b.header(name, value))
    }

    /// Adds query parameters (serialized with serde).
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.get("x").query(&[("page", "2")]).build()?;
    /// assert_eq!(request.url().query(), Some("page=2"));
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.map(|b| b.query(query))
    }

    /// Sends `json` as the body, with `Content-Type: application/json`.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.post("x").json(&serde_json::json!({"a": 1})).build()?;
    /// assert_eq!(request.headers()["content-type"], "application/json");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.map(|b| b.json(json))
    }

    /// Sends `form` as a URL-encoded body.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.post("x").form(&[("a", "1")]).build()?;
    /// assert_eq!(request.headers()["content-type"], "application/x-www-form-urlencoded");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        self.map(|b| b.form(form))
    }

    /// Sets the body. A streaming body can't be replayed, so it gets one attempt.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.post("x").body("raw").build()?;
    /// assert!(request.body().is_some());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        self.map(|b| b.body(body))
    }

    /// A timeout for each attempt of this request.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.get("x").timeout(Duration::from_secs(5)).build()?;
    /// assert_eq!(request.timeout(), Some(&Duration::from_secs(5)));
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// Builds the request without sending it (and without credentials, which
    /// are added as it is sent).
    ///
    /// # Errors
    ///
    /// An invalid URL, header or body.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().build()?;
    /// assert!(session.get("relative/without/base").build().is_err());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn build(self) -> Result<reqwest::Request> {
        self.inner?.build().map_err(Error::transport)
    }

    /// Sends the request through the session.
    ///
    /// # Errors
    ///
    /// See [`Session::execute`].
    ///
    /// ```no_run
    /// # async fn run(session: session_auth::Session) -> Result<(), session_auth::Error> {
    /// let text = session.get("status").send().await?.text().await?;
    /// # let _ = text; Ok(()) }
    /// ```
    pub fn send(self) -> impl Future<Output = Result<Response>> + Send + 'static {
        let Self { session, inner } = self;
        let request =
            inner.and_then(|builder| builder.build().map(Box::new).map_err(Error::transport));
        // Boxed once, with the session it goes through: the request's whole
        // state (retries, redirects, the replay) lives in one allocation and
        // never moves; the caller holds a pointer.
        Box::pin(Inner::send(session.inner, request))
    }
}
