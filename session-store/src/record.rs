//! The serialized form of a [`StoreRecord`] in files and text columns.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use session_core::StoreRecord;
use session_core::time::OffsetDateTime;

/// A record as it is written to a file (times as RFC 3339 text).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredRecord {
    pub(crate) data: Value,
    #[serde(
        default,
        with = "session_core::time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) expires_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<String>,
}

impl From<&StoreRecord> for StoredRecord {
    fn from(r: &StoreRecord) -> Self {
        Self {
            data: r.data.clone(),
            expires_at: r.expires_at,
            owner: r.owner.clone(),
        }
    }
}

impl From<StoredRecord> for StoreRecord {
    fn from(r: StoredRecord) -> Self {
        let mut record = StoreRecord::new(r.data);
        record.expires_at = r.expires_at;
        record.owner = r.owner;
        record
    }
}

/// Milliseconds since the Unix epoch, UTC: how databases store times.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_millis`].
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn from_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}
