//! [`SessionId`]: 256 random bits from the operating system, URL-safe
//! base64; only its SHA-256 is stored, so a leaked database can't be replayed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// The length of an encoded id: 32 bytes as unpadded base64url.
const ENCODED_LEN: usize = 43;

/// A session id as the client holds it. `Debug` never shows it.
///
/// ```
/// let id = session_server::SessionId::generate();
/// assert_eq!(id.as_str().len(), 43);
/// assert!(session_server::SessionId::parse(id.as_str()).is_ok());
/// assert!(session_server::SessionId::parse("short").is_err());
/// assert_eq!(format!("{id:?}"), "SessionId([redacted])");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh id from the OS random number generator.
    ///
    /// # Panics
    ///
    /// If the operating system has no random source (it always has on the
    /// platforms session-kit supports).
    ///
    /// ```
    /// let id = session_server::SessionId::generate();
    /// assert_eq!(id.as_str().len(), 43);
    /// ```
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Checks the shape of an id received from a client, before any store
    /// lookup: exactly 43 base64url characters.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedId`] for anything else (including oversized input).
    ///
    /// ```
    /// assert!(session_server::SessionId::parse("too-short").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let ok = text.len() == ENCODED_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::MalformedId)
        }
    }

    /// The id, to send to the client.
    ///
    /// # Security
    ///
    /// Anyone holding it holds the session: send it only to its owner.
    ///
    /// ```
    /// let id = session_server::SessionId::generate();
    /// let header_value = id.as_str();
    /// # let _ = header_value;
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store key: the hex SHA-256 of the id.
    pub(crate) fn storage_key(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut key = String::with_capacity(2 + 64);
        key.push_str("s:");
        for byte in digest {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        key
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let ids: std::collections::HashSet<_> =
            (0..1000).map(|_| SessionId::generate().0).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|i| SessionId::parse(i).is_ok()));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "x",
            &"a".repeat(42),
            &"a".repeat(44),
            &"a".repeat(10_000),
            &format!("{}=", "a".repeat(42)),
            &"é".repeat(43),
        ] {
            assert!(
                matches!(SessionId::parse(bad), Err(Error::MalformedId)),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_storage_key_is_a_hash_not_the_id() {
        let id = SessionId::generate();
        let key = id.storage_key();
        assert!(!key.contains(id.as_str()));
        assert_eq!(key.len(), 66);
        assert_eq!(key, SessionId::parse(id.as_str()).unwrap().storage_key());
        // Lower-case hex of the SHA-256, as stores already hold it.
        let hex: String = Sha256::digest(id.as_str().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(key, format!("s:{hex}"));
    }
}
