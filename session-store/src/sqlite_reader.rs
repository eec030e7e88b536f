//! [`Reader`]: the SQLite store's fast path for loading one record — a
//! couple of connections of its own, each with its statement prepared
//! once, queried right on the calling task.
//!
//! sqlx runs every SQLite statement on a worker thread and hands the
//! answer back through a channel; for a primary-key lookup that the page
//! cache answers in microseconds, the two thread hops cost several times
//! the lookup. In WAL mode a reader never waits for a writer, so these
//! reads don't block the task; a reader that finds the database busy
//! anyway (recovery, a checkpoint's edge) answers [`Fallback`] at once
//! (busy timeout zero), and the store asks through sqlx instead, which
//! waits politely. Writes always go through sqlx.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, OpenFlags, OptionalExtension as _};
use session_core::StoreRecord;

use crate::error::Error;
use crate::record::from_millis;

/// Connections kept for reads: one per core of the machines session-kit
/// is measured on; more only queue.
const CONNECTIONS: usize = 2;

/// Why the fast path didn't answer.
#[derive(Debug)]
pub(crate) enum Miss {
    /// Ask through sqlx instead (busy, or a reader in a bad state).
    Fallback,
    /// The stored record is malformed.
    Malformed,
}

/// Read-only connections for [`load`](Reader::load).
pub(crate) struct Reader {
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
    sql: String,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Opens the reader's connections to the database at `path` (which the
    /// store's pool has created, in WAL mode) for `table`.
    pub(crate) fn open(path: &Path, table: &str) -> Result<Self, Error> {
        let sql = format!(
            "SELECT data, expires_at, owner FROM {table} WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)"
        );
        let mut connections = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let connection = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(backend)?;
            // Never waits, never writes.
            connection
                .busy_timeout(std::time::Duration::ZERO)
                .map_err(backend)?;
            connection
                .pragma_update(None, "query_only", true)
                .map_err(backend)?;
            // Pages read through a memory map: no read() per page.
            connection
                .pragma_update(None, "mmap_size", 64 * 1024 * 1024)
                .map_err(backend)?;
            connection.prepare_cached(&sql).map_err(backend)?;
            connections.push(Mutex::new(connection));
        }
        Ok(Self {
            connections,
            next: AtomicUsize::new(0),
            sql,
        })
    }

    /// The live record under `key` at `now_ms`, if any.
    pub(crate) fn load(&self, key: &str, now_ms: i64) -> Result<Option<StoreRecord>, Miss> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.connections.len();
        // A free connection if there is one, else wait for ours (a lookup
        // is microseconds).
        let guard = (0..n)
            .find_map(|i| self.connections[(start + i) % n].try_lock().ok())
            .map_or_else(|| self.connections[start % n].lock(), Ok)
            .map_err(|_| Miss::Fallback)?;
        let mut statement = guard
            .prepare_cached(&self.sql)
            .map_err(|_| Miss::Fallback)?;
        let row = statement
            .query_row(rusqlite::params![key, now_ms], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<i64>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            })
            .optional()
            .map_err(|_| Miss::Fallback)?;
        let Some((data, expires_at, owner)) = row else {
            return Ok(None);
        };
        let mut record =
            StoreRecord::new(serde_json::from_str(&data).map_err(|_| Miss::Malformed)?);
        record.expires_at = expires_at.and_then(from_millis);
        record.owner = owner;
        Ok(Some(record))
    }
}

fn backend(error: rusqlite::Error) -> Error {
    Error::Backend(Box::new(error))
}
