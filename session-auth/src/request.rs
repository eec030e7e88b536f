//! [`RequestBuilder`]: one request through a [`Session`].

use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue};
use reqwest::{Request, Response};
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
    /// The request so far, or the first error met building it.
    request: Result<Request>,
}

impl RequestBuilder {
    /// Builds on `request` directly — not on a `reqwest::RequestBuilder`,
    /// which would hold (and count) a reference to the client for every
    /// request, a count every thread sending through the session shares.
    pub(crate) fn new(session: Session, request: Result<Request>) -> Self {
        Self { session, request }
    }

    /// Applies `f` to the request, keeping the first error.
    fn map(mut self, f: impl FnOnce(&mut Request) -> Result<()>) -> Self {
        if let Ok(request) = &mut self.request
            && let Err(error) = f(request)
        {
            self.request = Err(error);
        }
        self
    }

    /// Sets the body `encode` makes with `content_type`, unless the request
    /// has a `Content-Type` already. Nothing is encoded for a request that
    /// has failed already.
    fn typed_body(
        self,
        content_type: &'static str,
        encode: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Self {
        self.map(|request| {
            let body = encode()?;
            request
                .headers_mut()
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static(content_type));
            *request.body_mut() = Some(body.into());
            Ok(())
        })
    }

    /// Adds a header (next to any of the same name). An invalid name or
    /// value is reported by `send` (and `build`) as
    /// [`Error::InvalidRequest`], without the value.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.get("x").header("Accept", "application/json").build()?;
    /// assert_eq!(request.headers()["accept"], "application/json");
    /// assert!(session.get("x").header("Accept", "a\nb").build().is_err());
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|request| {
            let invalid = |reason, error: http::Error| Error::invalid_request(reason, error.into());
            let name =
                HeaderName::try_from(name).map_err(|e| invalid("invalid header name", e.into()))?;
            let value = HeaderValue::try_from(value)
                .map_err(|e| invalid("invalid header value", e.into()))?;
            request.headers_mut().append(name, value);
            Ok(())
        })
    }

    /// Adds query parameters (serialized with serde), after any the URL has.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.get("x").query(&[("page", "2")]).build()?;
    /// assert_eq!(request.url().query(), Some("page=2"));
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.map(|request| {
            let url = request.url_mut();
            let outcome = {
                let mut pairs = url.query_pairs_mut();
                query
                    .serialize(serde_urlencoded::Serializer::new(&mut pairs))
                    .map(|_| ())
            };
            // Nothing was added to a URL without a query: no bare `?`.
            if url.query() == Some("") {
                url.set_query(None);
            }
            outcome.map_err(|e| Error::invalid_request("the query did not serialize", e.into()))
        })
    }

    /// Sends `json` as the body, with `Content-Type: application/json`
    /// unless the request sets its own.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.post("x").json(&serde_json::json!({"a": 1})).build()?;
    /// assert_eq!(request.headers()["content-type"], "application/json");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.typed_body("application/json", || {
            serde_json::to_vec(json)
                .map_err(|e| Error::invalid_request("the JSON body did not serialize", e.into()))
        })
    }

    /// Sends `form` as a URL-encoded body, with its `Content-Type` unless the
    /// request sets its own.
    ///
    /// ```
    /// # let session = session_auth::Session::builder().base_url("https://a.example/").build()?;
    /// let request = session.post("x").form(&[("a", "1")]).build()?;
    /// assert_eq!(request.headers()["content-type"], "application/x-www-form-urlencoded");
    /// # Ok::<(), session_auth::Error>(())
    /// ```
    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        self.typed_body("application/x-www-form-urlencoded", || {
            serde_urlencoded::to_string(form)
                .map(String::into_bytes)
                .map_err(|e| Error::invalid_request("the form did not serialize", e.into()))
        })
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
        let body = body.into();
        self.map(|request| {
            *request.body_mut() = Some(body);
            Ok(())
        })
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
        self.map(|request| {
            *request.timeout_mut() = Some(timeout);
            Ok(())
        })
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
    pub fn build(self) -> Result<Request> {
        self.request
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
        let Self { session, request } = self;
        let request = request.map(Box::new);
        // Boxed once, with the session it goes through: the request's whole
        // state (retries, redirects, the replay) lives in one allocation and
        // never moves; the caller holds a pointer.
        // Allocated first, then written: the future is built in its box
        // rather than on the stack and copied in.
        Box::into_pin(Box::write(
            Box::new_uninit(),
            Inner::send(session.inner, request),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn session() -> Session {
        Session::builder()
            .base_url("https://api.example.com/v1/")
            .build()
            .unwrap()
    }

    /// Why a request was refused as invalid (panics on any other error).
    fn refused_because(err: &Error) -> &'static str {
        match err {
            Error::InvalidRequest { reason, .. } => reason,
            other => panic!("not an invalid request: {other:?}"),
        }
    }

    #[test]
    fn a_bad_header_is_a_typed_error_without_its_value_and_the_first_error_is_kept() {
        let err = session()
            .get("x")
            .header("X-Api-Key", "SECRET-VALUE\n")
            .header("Bad Name", "v")
            .query(&[("a", "1")])
            .build()
            .unwrap_err();
        assert_eq!(refused_because(&err), "invalid header value");
        let shown = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
        assert!(!shown.contains("SECRET-VALUE"), "{shown}");
        let err = session()
            .get("x")
            .header("Bad Name", "v")
            .build()
            .unwrap_err();
        assert_eq!(refused_because(&err), "invalid header name");
    }

    #[test]
    fn headers_of_one_name_are_appended() {
        let request = session()
            .get("x")
            .header("Accept", "text/plain")
            .header("Accept", "application/json")
            .build()
            .unwrap();
        let values: Vec<_> = request.headers().get_all("accept").iter().collect();
        assert_eq!(values, ["text/plain", "application/json"]);
    }

    #[test]
    fn query_pairs_follow_the_urls_own_and_nothing_adds_no_question_mark() {
        let request = session()
            .get("items?sort=asc")
            .query(&[("page", "2"), ("q", "a b&c")])
            .build()
            .unwrap();
        assert_eq!(request.url().query(), Some("sort=asc&page=2&q=a+b%26c"));
        let empty: [(&str, &str); 0] = [];
        let request = session().get("items").query(&empty).build().unwrap();
        assert_eq!(request.url().as_str(), "https://api.example.com/v1/items");
        let err = session().get("items").query(&5).build().unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    }

    #[test]
    fn json_and_form_set_their_type_unless_the_request_has_one() {
        let request = session()
            .post("x")
            .json(&serde_json::json!({"a": 1}))
            .build()
            .unwrap();
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(request.body().unwrap().as_bytes(), Some(&b"{\"a\":1}"[..]));

        let request = session()
            .post("x")
            .header("Content-Type", "application/merge-patch+json")
            .json(&serde_json::json!({"a": 1}))
            .build()
            .unwrap();
        let types: Vec<_> = request.headers().get_all(CONTENT_TYPE).iter().collect();
        assert_eq!(types, ["application/merge-patch+json"]);

        let request = session()
            .post("x")
            .form(&[("a", "1"), ("b", "x y")])
            .build()
            .unwrap();
        assert_eq!(
            request.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(request.body().unwrap().as_bytes(), Some(&b"a=1&b=x+y"[..]));
    }

    #[test]
    fn a_body_that_does_not_serialize_is_a_typed_error() {
        let mut keys = BTreeMap::new();
        keys.insert(vec![1u8], 1);
        let err = session().post("x").json(&keys).build().unwrap_err();
        assert_eq!(refused_because(&err), "the JSON body did not serialize");
        let err = session()
            .post("x")
            .form(&serde_json::json!(5))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    }

    #[test]
    fn after_an_error_nothing_is_encoded_and_the_first_error_stays() {
        struct Panics;
        impl Serialize for Panics {
            fn serialize<S: serde::Serializer>(
                &self,
                _: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                panic!("a request that failed already is not encoded");
            }
        }
        let err = session()
            .post("x")
            .header("Bad Name", "v")
            .json(&Panics)
            .form(&Panics)
            .build()
            .unwrap_err();
        assert_eq!(refused_because(&err), "invalid header name");
    }

    #[test]
    fn body_and_timeout_are_set() {
        let request = session()
            .put("x")
            .body("raw")
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        assert_eq!(request.body().unwrap().as_bytes(), Some(&b"raw"[..]));
        assert_eq!(request.timeout(), Some(&Duration::from_secs(3)));
        assert!(request.headers().get(CONTENT_TYPE).is_none());
    }
}
