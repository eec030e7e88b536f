//! Pluggable persistence for session-kit client and server sessions.
//!
//! Every backend implements core's one [`SessionStore`] trait, so a client
//! session's state (`session_auth::SessionState`) and the server session
//! layer run on any of them. This crate is about backends only: what a
//! session holds in memory and when it is saved is decided by its owner.
//!
//! | Backend | Feature | For |
//! |---|---|---|
//! | [`MemoryStore`] | — | tests, one process |
//! | `JsonFileStore` | `file` | a CLI or desktop app's own sessions |
//! | `EncryptedFileStore` | `encrypted` | the same, sealed with a key or passphrase |
//! | `SqliteStore` | `sqlite` | one machine; the server default |
//! | `PostgresStore` | `postgres` | a fleet sharing one database |
//! | `RedisStore` | `redis` | a fleet sharing one cache |
//!
//! # Example
//!
//! Any store behind the one trait; records carry an owner and an expiry:
//!
//! ```
//! # #[cfg(feature = "file")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use serde_json::json;
//! use session_core::{SessionStore, SharedSessionStore, StoreRecord};
//! use session_store::JsonFileStore;
//!
//! let dir = std::env::temp_dir().join(format!("session-store-doc-{}", std::process::id()));
//! let store = SharedSessionStore::new(JsonFileStore::new(dir.join("sessions.json")));
//! store.save("ada", &StoreRecord::new(json!({"theme": "dark"})).with_owner("ada")).await?;
//! assert_eq!(store.load("ada").await?.unwrap().data["theme"], "dark");
//! assert_eq!(store.list_by_owner("ada").await?.len(), 1);
//! // Swap in SqliteStore::open(path), PostgresStore::connect(url) or
//! // RedisStore::connect(url): the calls above stay the same.
//! # std::fs::remove_dir_all(dir).ok();
//! # Ok::<(), session_core::Error>(()) }).unwrap();
//! ```
//!
//! # MSRV
//!
//! Rust 1.95. Raising it is a minor (not a patch) change.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod record;

#[cfg(feature = "encrypted")]
mod encrypted;
#[cfg(feature = "file")]
mod file;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "file")]
mod private_files;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_reader;

pub use error::{Error, Result};
pub use session_core::{MemoryStore, SessionStore, SharedSessionStore, StoreRecord};

#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
pub use encrypted::{EncryptedFileStore, EncryptionKey};
#[cfg(feature = "file")]
#[cfg_attr(docsrs, doc(cfg(feature = "file")))]
pub use file::JsonFileStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;
