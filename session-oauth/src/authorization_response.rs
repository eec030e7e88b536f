//! The authorization response — the redirect a browser comes back with —
//! checked in one place for every way it arrives (the [`LoopbackRedirect`]
//! listener, or an application's own callback through
//! [`PendingAuthorization::code_from_redirect`]): its `state`, its issuer
//! (RFC 9207, against mix-up attacks), the provider's error, and the code.
//!
//! [`LoopbackRedirect`]: crate::LoopbackRedirect

use std::collections::HashMap;
use std::fmt;

use url::Url;

use crate::client::PendingAuthorization;
use crate::error::{Error, Result};

/// What an authorization response must show: the `state` sent, and the
/// issuer the request went to.
#[derive(Clone)]
pub(crate) struct ExpectedResponse {
    state: String,
    /// The provider's issuer identifier, when known.
    issuer: Option<String>,
    /// Whether the provider says it names itself (`iss`) in every response.
    iss_required: bool,
}

impl ExpectedResponse {
    pub(crate) fn new(state: &str, issuer: Option<&str>, iss_required: bool) -> Self {
        Self {
            state: state.to_owned(),
            issuer: issuer.map(str::to_owned),
            iss_required,
        }
    }

    /// The authorization code in a redirect's query, once the redirect
    /// checks out.
    pub(crate) fn code_from_query(&self, query: &str) -> Result<String> {
        let query: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        if query.get("state") != Some(&self.state) {
            return Err(Error::StateMismatch);
        }
        // RFC 9207 §2.4: compared before anything else in the response is
        // used, error responses included.
        match (query.get("iss"), &self.issuer) {
            (Some(iss), Some(issuer)) if iss != issuer => return Err(Error::IssuerMismatch),
            (None, Some(_)) if self.iss_required => return Err(Error::IssuerMismatch),
            _ => {}
        }
        if let Some(error) = query.get("error") {
            let description = query
                .get("error_description")
                .map(|d| d.chars().take(300).collect());
            return Err(Error::from_code(error, description));
        }
        query
            .get("code")
            .filter(|c| !c.is_empty())
            .cloned()
            .ok_or_else(|| Error::InvalidResponse {
                reason: "the redirect carries no authorization code".into(),
            })
    }
}

impl fmt::Debug for ExpectedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpectedResponse")
            .field("issuer", &self.issuer)
            .field("iss_required", &self.iss_required)
            .finish_non_exhaustive()
    }
}

impl PendingAuthorization {
    /// Checks the redirect the browser came back with — its `state`, the
    /// issuer it names (`iss`, RFC 9207: required when the provider says it
    /// sends one, compared whenever present), the provider's error — and
    /// returns the authorization code to pass to
    /// [`exchange_code`](crate::OAuthClient::exchange_code). For
    /// applications that receive the redirect themselves; the
    /// [`LoopbackRedirect`](crate::LoopbackRedirect) listener makes the same
    /// checks.
    ///
    /// # Errors
    ///
    /// [`Error::StateMismatch`] (a possible forgery), [`Error::IssuerMismatch`]
    /// (a possible mix-up attack), the provider's error (e.g.
    /// [`Error::AccessDenied`]), or [`Error::InvalidResponse`] for a redirect
    /// without a code.
    ///
    /// ```no_run
    /// # async fn run(client: session_oauth::OAuthClient, callback: url::Url) -> Result<(), session_oauth::Error> {
    /// let pending = client.authorization_request(None)?;
    /// // … the browser comes back to `callback` (https://app.example.com/cb?code=…&state=…&iss=…) …
    /// let code = pending.code_from_redirect(&callback)?;
    /// let tokens = client.exchange_code(&code, &pending).await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub fn code_from_redirect(&self, redirect: &Url) -> Result<String> {
        self.expected_response()
            .code_from_query(redirect.query().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(required: bool) -> ExpectedResponse {
        ExpectedResponse::new("s1", Some("https://id.example.com"), required)
    }

    #[test]
    fn the_state_comes_first_then_the_issuer_then_the_answer() {
        let ok = "code=c1&state=s1&iss=https%3A%2F%2Fid.example.com";
        assert_eq!(expected(true).code_from_query(ok).unwrap(), "c1");
        assert!(matches!(
            expected(true).code_from_query("code=c1&state=s2&iss=https%3A%2F%2Fid.example.com"),
            Err(Error::StateMismatch)
        ));
        // Another provider's answer, even an error, is refused as such.
        for query in [
            "code=c1&state=s1&iss=https%3A%2F%2Fevil.example",
            "error=access_denied&state=s1&iss=https%3A%2F%2Fevil.example",
        ] {
            for required in [true, false] {
                assert!(matches!(
                    expected(required).code_from_query(query),
                    Err(Error::IssuerMismatch)
                ));
            }
        }
        // No `iss`: refused only when the provider promised one.
        assert!(matches!(
            expected(true).code_from_query("code=c1&state=s1"),
            Err(Error::IssuerMismatch)
        ));
        assert_eq!(
            expected(false).code_from_query("code=c1&state=s1").unwrap(),
            "c1"
        );
        // Not even a trailing slash of difference (RFC 9207 §2.4).
        assert!(matches!(
            expected(false).code_from_query("code=c1&state=s1&iss=https%3A%2F%2Fid.example.com%2F"),
            Err(Error::IssuerMismatch)
        ));
        assert!(matches!(
            expected(false).code_from_query("error=access_denied&state=s1"),
            Err(Error::AccessDenied { .. })
        ));
        assert!(matches!(
            expected(false).code_from_query("code=&state=s1"),
            Err(Error::InvalidResponse { .. })
        ));
    }

    #[test]
    fn debug_never_shows_the_state() {
        assert!(!format!("{:?}", expected(true)).contains("s1"));
    }
}
