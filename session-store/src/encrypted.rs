//! [`EncryptedFileStore`]: the file store, encrypted with XChaCha20-Poly1305
//! under a 32-byte key or a passphrase stretched with Argon2id.
//!
//! File layout: `SKENC` magic and version (8 bytes), key kind (1 byte: 0 raw
//! key, 1 Argon2id passphrase), salt (16 bytes), nonce (24 bytes), then the
//! ciphertext. The header is authenticated with the data, and every write
//! uses a fresh random nonce. A wrong key (or an altered file) is reported as
//! [`Error::WrongKey`] and the file is left untouched.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon2::Argon2;
use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use session_core::{SessionStore, SharedClock, StoreRecord};

use crate::error::{Error, Result};
use crate::file::{Codec, Decoded, FileBackend, file_store_impl};
use crate::record::StoredRecord;

const MAGIC: &[u8; 8] = b"SKENC\0\0\x01";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = MAGIC.len() + 1 + SALT_LEN + NONCE_LEN;

/// How the encryption key is obtained.
///
/// `Debug` never shows the key or passphrase.
///
/// ```
/// let key = session_store::EncryptionKey::from_bytes([7u8; 32]);
/// let pass = session_store::EncryptionKey::passphrase("correct horse battery staple");
/// assert!(!format!("{key:?} {pass:?}").contains("horse"));
/// ```
pub enum EncryptionKey {
    /// A random 32-byte key (keep it in a secret manager).
    Raw(SecretBox<[u8; 32]>),
    /// A passphrase, stretched with Argon2id and a per-file salt.
    Passphrase(SecretString),
}

impl EncryptionKey {
    /// A raw 32-byte key.
    ///
    /// ```
    /// let _ = session_store::EncryptionKey::from_bytes([0u8; 32]);
    /// ```
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self::Raw(SecretBox::new(Box::new(key)))
    }

    /// A passphrase.
    ///
    /// ```
    /// let _ = session_store::EncryptionKey::passphrase("pw");
    /// ```
    pub fn passphrase(passphrase: impl Into<String>) -> Self {
        Self::Passphrase(SecretString::from(passphrase.into()))
    }

    fn kind(&self) -> u8 {
        match self {
            Self::Raw(_) => 0,
            Self::Passphrase(_) => 1,
        }
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Raw(_) => f.write_str("EncryptionKey::Raw([redacted])"),
            Self::Passphrase(_) => f.write_str("EncryptionKey::Passphrase([redacted])"),
        }
    }
}

/// A key derived from the passphrase for one salt.
type DerivedKey = ([u8; SALT_LEN], SecretBox<[u8; 32]>);

struct Sealed {
    key: EncryptionKey,
    /// The key derived for a salt, so Argon2 runs once per salt.
    derived: Mutex<Option<DerivedKey>>,
}

impl Sealed {
    fn cipher(&self, salt: &[u8; SALT_LEN]) -> Result<XChaCha20Poly1305> {
        let bytes: [u8; 32] = match &self.key {
            EncryptionKey::Raw(key) => *key.expose_secret(),
            EncryptionKey::Passphrase(pass) => {
                let mut cache = self.derived.lock();
                match cache.as_ref() {
                    Some((cached_salt, key)) if cached_salt == salt => *key.expose_secret(),
                    _ => {
                        let mut out = [0u8; 32];
                        Argon2::default()
                            .hash_password_into(pass.expose_secret().as_bytes(), salt, &mut out)
                            .map_err(|_| {
                                Error::InvalidSetting("the passphrase can't be used as a key")
                            })?;
                        *cache = Some((*salt, SecretBox::new(Box::new(out))));
                        out
                    }
                }
            }
        };
        Ok(XChaCha20Poly1305::new(&Key::from(bytes)))
    }

    fn current_salt(&self) -> [u8; SALT_LEN] {
        if let Some((salt, _)) = self.derived.lock().as_ref() {
            return *salt;
        }
        match self.key {
            EncryptionKey::Raw(_) => [0; SALT_LEN],
            EncryptionKey::Passphrase(_) => {
                let random = XNonce::generate();
                let mut salt = [0u8; SALT_LEN];
                salt.copy_from_slice(&random[..SALT_LEN]);
                salt
            }
        }
    }
}

impl Codec for Sealed {
    fn encode(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let salt = self.current_salt();
        let cipher = self.cipher(&salt)?;
        let nonce = XNonce::generate();
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + 16);
        out.extend_from_slice(MAGIC);
        out.push(self.key.kind());
        out.extend_from_slice(&salt);
        out.extend_from_slice(&nonce);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &out,
                },
            )
            .map_err(|_| Error::InvalidSetting("encryption failed"))?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn decode(&self, bytes: &[u8]) -> Decoded {
        if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return Decoded::Corrupt;
        }
        let kind = bytes[MAGIC.len()];
        if kind > 1 {
            return Decoded::Corrupt;
        }
        if kind != self.key.kind() {
            return Decoded::WrongKey;
        }
        let header = &bytes[..HEADER_LEN];
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[MAGIC.len() + 1..MAGIC.len() + 1 + SALT_LEN]);
        let nonce_bytes = &bytes[MAGIC.len() + 1 + SALT_LEN..HEADER_LEN];
        let Ok(nonce) = XNonce::try_from(nonce_bytes) else {
            return Decoded::Corrupt;
        };
        let Ok(cipher) = self.cipher(&salt) else {
            return Decoded::WrongKey;
        };
        match cipher.decrypt(
            &nonce,
            Payload {
                msg: &bytes[HEADER_LEN..],
                aad: header,
            },
        ) {
            Ok(plain) => Decoded::Plain(plain),
            Err(_) => Decoded::WrongKey,
        }
    }
}

/// Sessions in one encrypted file (feature `encrypted`).
///
/// Same guarantees as [`JsonFileStore`](crate::JsonFileStore) — locking,
/// atomic 0600 writes, corrupted files moved aside — plus authenticated
/// encryption.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use session_core::{SessionStore, StoreRecord};
/// use session_store::{EncryptedFileStore, EncryptionKey};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("session-kit-enc-doc-{}", std::process::id()));
/// let store = EncryptedFileStore::new(dir.join("sessions.bin"), EncryptionKey::from_bytes([42; 32]));
/// store.save("default", &StoreRecord::new(json!({"token": "secret"}))).await?;
/// assert!(!std::fs::read(dir.join("sessions.bin")).unwrap().windows(6).any(|w| w == b"secret"));
///
/// let wrong = EncryptedFileStore::new(dir.join("sessions.bin"), EncryptionKey::from_bytes([1; 32]));
/// assert!(wrong.load("default").await.is_err());
/// # std::fs::remove_dir_all(dir).ok();
/// # Ok::<(), session_core::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct EncryptedFileStore {
    backend: FileBackend,
}

impl EncryptedFileStore {
    /// A store in the file at `path`, sealed with `key`.
    ///
    /// ```
    /// let _ = session_store::EncryptedFileStore::new("s.bin", session_store::EncryptionKey::passphrase("pw"));
    /// ```
    pub fn new(path: impl Into<PathBuf>, key: EncryptionKey) -> Self {
        let codec = Sealed {
            key,
            derived: Mutex::new(None),
        };
        Self {
            backend: FileBackend::new(path.into(), Arc::new(codec), SharedClock::default()),
        }
    }

    /// This store, deciding expiry with `clock`.
    ///
    /// ```
    /// let key = session_store::EncryptionKey::from_bytes([0; 32]);
    /// let _ = session_store::EncryptedFileStore::new("s.bin", key).with_clock(session_core::SharedClock::default());
    /// ```
    #[must_use]
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self {
            backend: self.backend.with_clock(clock),
        }
    }

    /// The file's path.
    ///
    /// ```
    /// let s = session_store::EncryptedFileStore::new("s.bin", session_store::EncryptionKey::from_bytes([0; 32]));
    /// assert_eq!(s.path(), std::path::Path::new("s.bin"));
    /// ```
    pub fn path(&self) -> &Path {
        self.backend.path()
    }
}

impl fmt::Debug for EncryptedFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedFileStore")
            .field("path", &self.path())
            .finish()
    }
}

file_store_impl!(EncryptedFileStore);
