//! The store crate's error: what a backend can fail with, and whether
//! retrying may help.
//!
//! Backends implement [`SessionStore`](session_core::SessionStore), whose
//! methods return [`session_core::Error::Store`]; its source is a
//! [`Error`], reachable with [`Error::find`].

use std::path::PathBuf;

use session_core::BoxError;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation failed.
///
/// # Examples
///
/// ```
/// use session_store::Error;
///
/// let err = Error::WrongKey.into_core("load the session file");
/// assert!(matches!(Error::find(&err), Some(Error::WrongKey)));
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session file could not be decoded. It was moved aside, never
    /// overwritten; the store starts empty.
    #[error("the session file was corrupted and has been moved to {moved_to}")]
    Corrupted {
        /// Where the bad file now is.
        moved_to: PathBuf,
    },

    /// An encrypted file could not be decrypted: wrong key or passphrase, or
    /// the file was altered. The file is left untouched.
    #[error(
        "the session file can't be decrypted: wrong key or passphrase, or the file was altered"
    )]
    WrongKey,

    /// The path is a directory.
    #[error("{path} is a directory, not a session file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },

    /// The operating system refused access.
    #[error("permission denied for {path}")]
    PermissionDenied {
        /// The path.
        path: PathBuf,
    },

    /// Another file-system failure.
    #[error("file system error on {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The database is locked or busy; retrying later may succeed.
    #[error("the database is busy")]
    Busy(#[source] BoxError),

    /// The server could not be reached; retrying later may succeed.
    #[error("the store server is unreachable")]
    Unavailable(#[source] BoxError),

    /// The database or server reported an error.
    #[error("the store reported an error")]
    Backend(#[source] BoxError),

    /// The file was written by a newer, incompatible version.
    #[error(
        "the session file has format version {found}, newer than this version of session-kit reads"
    )]
    NewerFormat {
        /// The version found.
        found: u32,
    },

    /// A stored record could not be read back.
    #[error("a stored record is malformed")]
    MalformedRecord,

    /// A store setting was invalid.
    #[error("invalid store setting: {0}")]
    InvalidSetting(&'static str),
}

impl Error {
    /// Whether retrying may help.
    ///
    /// ```
    /// let err = session_store::Error::Busy("locked".into());
    /// assert!(err.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Busy(_) | Self::Unavailable(_))
    }

    /// Wraps this error as the core store error for `operation`.
    ///
    /// ```
    /// let err = session_store::Error::MalformedRecord.into_core("load the record");
    /// assert_eq!(err.to_string(), "session store could not load the record");
    /// ```
    pub fn into_core(self, operation: &'static str) -> session_core::Error {
        let retryable = self.is_retryable();
        session_core::Error::store(operation, retryable, self)
    }

    /// The store error inside a core error, if it has one.
    ///
    /// ```
    /// let core = session_store::Error::WrongKey.into_core("load");
    /// assert!(session_store::Error::find(&core).is_some());
    /// ```
    pub fn find(error: &session_core::Error) -> Option<&Error> {
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            if let Some(found) = cause.downcast_ref::<Error>() {
                return Some(found);
            }
            source = cause.source();
        }
        None
    }

    #[cfg(any(feature = "file", feature = "sqlite"))]
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        match source.kind() {
            std::io::ErrorKind::PermissionDenied => Self::PermissionDenied {
                path: path.to_owned(),
            },
            std::io::ErrorKind::IsADirectory => Self::NotAFile {
                path: path.to_owned(),
            },
            _ => Self::Io {
                path: path.to_owned(),
                source,
            },
        }
    }
}
