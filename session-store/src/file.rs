//! File backends: [`JsonFileStore`] and the shared engine that also drives
//! the encrypted store.
//!
//! Every operation takes an exclusive advisory lock on `<file>.lock`, so
//! processes sharing the file never interleave a read-modify-write. Writes go
//! to a temporary file only its owner may read (mode 0600 on Unix; see
//! `private_files` for other platforms), are fsynced, renamed over the old
//! file, and the folder is fsynced where the platform allows: a crash leaves
//! either the old or the new file, never a torn one.
//!
//! A file that can't be decoded is moved aside to `<file>.corrupt` (or
//! `.corrupt.N`) and reported as [`Error::Corrupted`]; it is never
//! overwritten. A missing file is an empty store.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use session_core::time::OffsetDateTime;
use session_core::{SessionStore, SharedClock, StoreRecord};

use crate::error::{Error, Result};
use crate::private_files;
use crate::record::StoredRecord;

/// The format version of session files.
const FILE_SCHEMA: u32 = 1;

/// What a [`Codec`] found in a file.
#[cfg_attr(not(feature = "encrypted"), allow(dead_code))]
pub(crate) enum Decoded {
    Plain(Vec<u8>),
    Corrupt,
    WrongKey,
}

/// Turns document bytes into file bytes and back.
pub(crate) trait Codec: Send + Sync + 'static {
    fn encode(&self, plain: &[u8]) -> Result<Vec<u8>>;
    fn decode(&self, bytes: &[u8]) -> Decoded;
}

struct PlainJson;

impl Codec for PlainJson {
    fn encode(&self, plain: &[u8]) -> Result<Vec<u8>> {
        Ok(plain.to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Decoded {
        Decoded::Plain(bytes.to_vec())
    }
}

/// Everything a session file holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Document {
    #[serde(default = "first_schema")]
    pub(crate) schema_version: u32,
    #[serde(default)]
    pub(crate) records: BTreeMap<String, StoredRecord>,
}

fn first_schema() -> u32 {
    FILE_SCHEMA
}

impl Default for Document {
    /// A new file: the current schema, no records.
    fn default() -> Self {
        Self {
            schema_version: FILE_SCHEMA,
            records: BTreeMap::new(),
        }
    }
}

impl Document {
    pub(crate) fn live(&self, key: &str, now: OffsetDateTime) -> Option<&StoredRecord> {
        self.records
            .get(key)
            .filter(|r| r.expires_at.is_none_or(|at| now < at))
    }
}

/// The locked read-modify-write engine behind the file stores.
#[derive(Clone)]
pub(crate) struct FileBackend {
    inner: Arc<BackendInner>,
}

struct BackendInner {
    path: PathBuf,
    lock_path: PathBuf,
    codec: Arc<dyn Codec>,
    clock: SharedClock,
    seq: AtomicU64,
    /// Whether this store has swept temporary files a crashed writer left.
    swept: AtomicBool,
}

impl FileBackend {
    /// The same file and codec, deciding expiry with `clock`.
    pub(crate) fn with_clock(&self, clock: SharedClock) -> Self {
        Self::new(self.inner.path.clone(), self.inner.codec.clone(), clock)
    }

    pub(crate) fn new(path: PathBuf, codec: Arc<dyn Codec>, clock: SharedClock) -> Self {
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        Self {
            inner: Arc::new(BackendInner {
                path,
                lock_path: lock_path.into(),
                codec,
                clock,
                seq: AtomicU64::new(0),
                swept: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Writes `record` under `key` only if a live record is there
    /// (`want_live`) or is not (`!want_live`). Returns whether it wrote.
    pub(crate) async fn write_if(
        &self,
        key: &str,
        record: &StoreRecord,
        want_live: bool,
    ) -> Result<bool> {
        let (key, record) = (key.to_owned(), StoredRecord::from(record));
        self.with_document(move |doc, now| {
            if doc.live(&key, now).is_some() != want_live {
                return (false, false);
            }
            doc.records.insert(key, record);
            (true, true)
        })
        .await
    }

    /// Runs `f` on the document under a lock; writes the document back when
    /// `f` says it changed it.
    pub(crate) async fn with_document<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Document, OffsetDateTime) -> (R, bool) + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.locked(f))
            .await
            .map_err(|e| Error::Backend(Box::new(e)))?
    }
}

impl BackendInner {
    fn locked<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Document, OffsetDateTime) -> (R, bool),
    {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            private_files::folder_builder()
                .create(parent)
                .map_err(|e| Error::io(parent, e))?;
        }
        let lock = private_files::owner_only(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .open(&self.lock_path)
        .map_err(|e| Error::io(&self.lock_path, e))?;
        lock.lock().map_err(|e| Error::io(&self.lock_path, e))?;
        if !self.swept.swap(true, Ordering::AcqRel) {
            self.sweep_temporary_files();
        }

        let mut document = self.read_document()?;
        let now = self.clock.now();
        let (result, changed) = f(&mut document, now);
        if changed {
            self.write_document(&document)?;
        }
        drop(lock);
        Ok(result)
    }

    /// Removes the temporary files of writes that never finished: writers
    /// make and rename them only while holding the lock, so under the lock
    /// any that exist belong to a writer that died — and may hold tokens in
    /// clear text.
    fn sweep_temporary_files(&self) {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let Some(name) = self.path.file_name().map(|n| n.to_string_lossy()) else {
            return;
        };
        let prefix = format!(".{name}.tmp-");
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => {
                        tracing::info!(target: "session_store", path = %self.path.display(), "removed a write a crashed process left unfinished");
                    }
                    Err(error) => {
                        tracing::warn!(target: "session_store", path = %self.path.display(), error = %error, "could not remove an unfinished write");
                    }
                }
            }
        }
    }

    fn read_document(&self) -> Result<Document> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Document::default()),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let plain = match self.codec.decode(&bytes) {
            Decoded::Plain(plain) => plain,
            Decoded::WrongKey => return Err(Error::WrongKey),
            Decoded::Corrupt => return Err(self.move_aside()),
        };
        match serde_json::from_slice::<Document>(&plain) {
            Ok(doc) if doc.schema_version > FILE_SCHEMA => Err(Error::NewerFormat {
                found: doc.schema_version,
            }),
            Ok(doc) => Ok(doc),
            Err(_) => Err(self.move_aside()),
        }
    }

    /// Moves a corrupted file aside and returns the error saying where.
    fn move_aside(&self) -> Error {
        let mut target = PathBuf::from(format!("{}.corrupt", self.path.display()));
        let mut n = 1;
        while target.exists() {
            target = PathBuf::from(format!("{}.corrupt.{n}", self.path.display()));
            n += 1;
        }
        match fs::rename(&self.path, &target) {
            Ok(()) => {
                tracing::warn!(target: "session_store", path = %self.path.display(), moved_to = %target.display(), "session file corrupted; moved aside");
                Error::Corrupted { moved_to: target }
            }
            Err(e) => Error::io(&self.path, e),
        }
    }

    fn write_document(&self, document: &Document) -> Result<()> {
        let plain = serde_json::to_vec(document).map_err(|e| Error::Backend(Box::new(e)))?;
        let bytes = self.codec.encode(&plain)?;
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut file =
                private_files::owner_only(OpenOptions::new().write(true).create_new(true))
                    .open(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            private_files::sync_folder(dir)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(&self.path, e));
        }
        Ok(())
    }
}

/// Implements [`SessionStore`] on a [`FileBackend`].
macro_rules! file_store_impl {
    ($ty:ty) => {
        #[async_trait]
        impl SessionStore for $ty {
            async fn load(&self, key: &str) -> session_core::Result<Option<StoreRecord>> {
                let key = key.to_owned();
                self.backend
                    .with_document(move |doc, now| {
                        (doc.live(&key, now).cloned().map(StoreRecord::from), false)
                    })
                    .await
                    .map_err(|e| e.into_core("load the record"))
            }

            async fn save(&self, key: &str, record: &StoreRecord) -> session_core::Result<()> {
                let (key, record) = (key.to_owned(), StoredRecord::from(record));
                self.backend
                    .with_document(move |doc, _| {
                        doc.records.insert(key, record);
                        ((), true)
                    })
                    .await
                    .map_err(|e| e.into_core("save the record"))
            }

            async fn insert_if_absent(
                &self,
                key: &str,
                record: &StoreRecord,
            ) -> session_core::Result<bool> {
                self.backend
                    .write_if(key, record, false)
                    .await
                    .map_err(|e| e.into_core("insert the record"))
            }

            async fn update_if_exists(
                &self,
                key: &str,
                record: &StoreRecord,
            ) -> session_core::Result<bool> {
                self.backend
                    .write_if(key, record, true)
                    .await
                    .map_err(|e| e.into_core("update the record"))
            }

            async fn delete(&self, key: &str) -> session_core::Result<bool> {
                let key = key.to_owned();
                self.backend
                    .with_document(move |doc, now| {
                        let live = doc.live(&key, now).is_some();
                        let existed = doc.records.remove(&key).is_some();
                        (live, existed)
                    })
                    .await
                    .map_err(|e| e.into_core("delete the record"))
            }

            async fn list_by_owner(
                &self,
                owner: &str,
            ) -> session_core::Result<Vec<(String, StoreRecord)>> {
                let owner = owner.to_owned();
                self.backend
                    .with_document(move |doc, now| {
                        let found = doc
                            .records
                            .iter()
                            .filter(|(k, r)| {
                                r.owner.as_deref() == Some(owner.as_str())
                                    && doc.live(k, now).is_some()
                            })
                            .map(|(k, r)| (k.clone(), StoreRecord::from(r.clone())))
                            .collect();
                        (found, false)
                    })
                    .await
                    .map_err(|e| e.into_core("list the owner's records"))
            }

            async fn delete_by_owner(&self, owner: &str) -> session_core::Result<u64> {
                let owner = owner.to_owned();
                self.backend
                    .with_document(move |doc, now| {
                        let keys: Vec<String> = doc
                            .records
                            .iter()
                            .filter(|(_, r)| r.owner.as_deref() == Some(owner.as_str()))
                            .map(|(k, _)| k.clone())
                            .collect();
                        let live =
                            keys.iter().filter(|k| doc.live(k, now).is_some()).count() as u64;
                        for key in &keys {
                            doc.records.remove(key);
                        }
                        (live, !keys.is_empty())
                    })
                    .await
                    .map_err(|e| e.into_core("delete the owner's records"))
            }

            async fn owner_counts(&self) -> session_core::Result<Vec<(String, u64)>> {
                self.backend
                    .with_document(move |doc, now| {
                        let mut counts = std::collections::BTreeMap::<String, u64>::new();
                        for (key, record) in &doc.records {
                            if let Some(owner) = &record.owner
                                && doc.live(key, now).is_some()
                            {
                                *counts.entry(owner.clone()).or_default() += 1;
                            }
                        }
                        (counts.into_iter().collect(), false)
                    })
                    .await
                    .map_err(|e| e.into_core("count records by owner"))
            }

            async fn delete_expired(
                &self,
                now: session_core::time::OffsetDateTime,
            ) -> session_core::Result<u64> {
                self.backend
                    .with_document(move |doc, _| {
                        let before = doc.records.len();
                        doc.records
                            .retain(|_, r| r.expires_at.is_none_or(|at| now < at));
                        let removed = (before - doc.records.len()) as u64;
                        (removed, removed > 0)
                    })
                    .await
                    .map_err(|e| e.into_core("delete expired records"))
            }

            async fn count(&self) -> session_core::Result<u64> {
                self.backend
                    .with_document(move |doc, now| {
                        let n = doc
                            .records
                            .keys()
                            .filter(|k| doc.live(k, now).is_some())
                            .count() as u64;
                        (n, false)
                    })
                    .await
                    .map_err(|e| e.into_core("count the records"))
            }
        }
    };
}
#[cfg(feature = "encrypted")]
pub(crate) use file_store_impl;

/// Sessions in one JSON file (feature `file`).
///
/// The file holds tokens in clear: only its owner may read it. On Unix it
/// and its folder are created with modes 0600 and 0700; on Windows they
/// inherit the access list of the folder they are in, so keep the file in a
/// folder of the user's own (such as the one `dirs::config_dir` names), or
/// use the encrypted store (feature `encrypted`).
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use session_core::{SessionStore, StoreRecord};
/// use session_store::JsonFileStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("session-kit-doc-{}", std::process::id()));
/// let store = JsonFileStore::new(dir.join("sessions.json"));
/// store.save("default", &StoreRecord::new(json!({"n": 1}))).await?;
/// assert_eq!(store.load("default").await?.unwrap().data["n"], 1);
/// # std::fs::remove_dir_all(dir).ok();
/// # Ok::<(), session_core::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct JsonFileStore {
    backend: FileBackend,
}

impl JsonFileStore {
    /// A store in the file at `path` (created on first write, with its folder).
    ///
    /// ```
    /// let _ = session_store::JsonFileStore::new("data/sessions.json");
    /// ```
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            backend: FileBackend::new(path.into(), Arc::new(PlainJson), SharedClock::default()),
        }
    }

    /// This store, deciding expiry with `clock`.
    ///
    /// ```
    /// let _ = session_store::JsonFileStore::new("s.json").with_clock(session_core::SharedClock::default());
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
    /// assert_eq!(session_store::JsonFileStore::new("s.json").path(), std::path::Path::new("s.json"));
    /// ```
    pub fn path(&self) -> &Path {
        self.backend.path()
    }
}

impl std::fmt::Debug for JsonFileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonFileStore")
            .field("path", &self.path())
            .finish()
    }
}

file_store_impl!(JsonFileStore);
