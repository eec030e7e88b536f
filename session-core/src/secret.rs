//! Secret token newtypes: [`AccessToken`], [`RefreshToken`], [`IdToken`].
//!
//! Each wraps a [`secrecy::SecretString`]: the value is zeroized when dropped,
//! `Debug` prints `Name([redacted])`, there is no `Display`, and the value is
//! reached only through `expose_secret()`. They implement serde so a session
//! can be persisted on purpose; serializing writes the secret in clear text.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

macro_rules! secret_token {
    ($(#[$meta:meta])* $name:ident, $example:literal) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value.
            ///
            /// ```
            #[doc = concat!("let token = session_core::", stringify!($name), "::new(\"", $example, "\");")]
            #[doc = concat!("assert_eq!(format!(\"{token:?}\"), \"", stringify!($name), "([redacted])\");")]
            /// ```
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The secret value.
            ///
            /// # Security
            ///
            /// Anything you do with the returned string (log it, put it in a
            /// URL or an error) can leak it. Use it only to put it on the wire.
            ///
            /// ```
            #[doc = concat!("let token = session_core::", stringify!($name), "::new(\"", $example, "\");")]
            #[doc = concat!("assert_eq!(token.expose_secret(), \"", $example, "\");")]
            /// ```
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }

            /// Whether the value is the empty string.
            ///
            /// ```
            #[doc = concat!("assert!(session_core::", stringify!($name), "::new(\"\").is_empty());")]
            /// ```
            pub fn is_empty(&self) -> bool {
                self.0.expose_secret().is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        /// Equality runs in constant time for values of equal length.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(self.expose_secret().as_bytes(), other.expose_secret().as_bytes())
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        /// Serializes the secret **in clear text**, so a session can be persisted.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.expose_secret())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

secret_token!(
    /// An OAuth-style access token, sent with each request.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_core::AccessToken;
    ///
    /// let token = AccessToken::new("eyJhbGciOi...");
    /// assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
    /// assert_eq!(token.expose_secret(), "eyJhbGciOi...");
    /// ```
    AccessToken,
    "access-123"
);

secret_token!(
    /// A refresh token, exchanged for new access tokens. Protect it like a password.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_core::RefreshToken;
    ///
    /// let token = RefreshToken::new("r-1");
    /// assert_eq!(format!("{token:?}"), "RefreshToken([redacted])");
    /// ```
    RefreshToken,
    "refresh-123"
);

secret_token!(
    /// An OpenID Connect ID token (a JWT describing the signed-in user).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_core::IdToken;
    ///
    /// let token = IdToken::new("header.payload.signature");
    /// assert_eq!(format!("{token:?}"), "IdToken([redacted])");
    /// ```
    IdToken,
    "id-123"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let a = AccessToken::new("s3cr3t-value");
        let r = RefreshToken::new("s3cr3t-value");
        let i = IdToken::new("s3cr3t-value");
        for text in [
            format!("{a:?}"),
            format!("{r:?}"),
            format!("{i:?}"),
            format!("{a:#?}"),
        ] {
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(text.ends_with("([redacted])"), "{text}");
        }
    }

    #[test]
    fn serde_round_trip_keeps_the_value() {
        let a = AccessToken::new("abc");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"abc\"");
        let back: AccessToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn equality() {
        assert_eq!(AccessToken::new("a"), AccessToken::new("a"));
        assert_ne!(AccessToken::new("a"), AccessToken::new("b"));
        assert_ne!(AccessToken::new("a"), AccessToken::new("ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
