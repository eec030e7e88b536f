//! Helpers shared by the SQL backends: table-name checks and error mapping.

use crate::error::Error;

/// Accepts `[A-Za-z_][A-Za-z0-9_]*`, at most 63 characters (table names are
/// spliced into SQL, so nothing else is allowed).
pub(crate) fn check_table_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && name.len() <= 63 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(Error::InvalidSetting(
            "a table name must be letters, digits and underscores, starting with a letter",
        ))
    }
}

/// Maps a sqlx error, marking busy/locked databases and lost connections
/// as retryable.
pub(crate) fn map_sqlx(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Error::Busy(Box::new(error)),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => Error::Unavailable(Box::new(error)),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // SQLite: 5 BUSY, 6 LOCKED (and their extended codes, which end
            // in the same byte). PostgreSQL: 40001 serialization, 40P01 deadlock,
            // 55P03 lock not available, 57P01..03 shutdown.
            let sqlite_busy = code
                .parse::<i64>()
                .is_ok_and(|c| c & 0xff == 5 || c & 0xff == 6);
            let pg_retry = matches!(
                code.as_str(),
                "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03"
            );
            if sqlite_busy || pg_retry {
                Error::Busy(Box::new(error))
            } else {
                Error::Backend(Box::new(error))
            }
        }
        // A stored value of the wrong type, or text that isn't UTF-8.
        sqlx::Error::ColumnDecode { .. } => Error::MalformedRecord,
        _ => Error::Backend(Box::new(error)),
    }
}

/// How many rows of a `DELETE … RETURNING expires_at` were live at `now_ms`
/// (no expiry, or a later one).
pub(crate) fn count_live<R>(rows: &[R], now_ms: i64) -> u64
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .filter(|r| {
            r.try_get::<Option<i64>, _>(0usize)
                .ok()
                .flatten()
                .is_none_or(|at| at > now_ms)
        })
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for ok in ["sessions", "_t", "t_1", "Sessions2"] {
            assert!(check_table_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1t", "t-1", "t;drop", "t t", "\"t\"", &"x".repeat(64)] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
    }
}
