//! [`ShardedHeader`]: copies of one header value, each behind its own
//! reference count on its own cache lines, so threads that clone the value
//! at the same time don't fight over one counter.
//!
//! A `HeaderValue` clone is an atomic increment on a shared count. One count
//! read by every core bounces between their caches (a clone costs several
//! times more at two threads than at one); one copy per thread slot keeps
//! each count mostly on one core.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::HeaderValue;

/// How many copies: more threads than this share copies, which is still
/// correct, only slower.
const SHARDS: usize = 8;

/// Owns one copy's bytes; the alignment puts each copy's reference count
/// (stored just before the owner) on cache lines of its own.
#[repr(align(128))]
struct Padded(Vec<u8>);

impl AsRef<[u8]> for Padded {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// One header value, copied per thread slot.
pub(crate) struct ShardedHeader {
    copies: Box<[HeaderValue]>,
}

impl ShardedHeader {
    /// Copies `value` (keeping its sensitivity) into every slot.
    pub(crate) fn new(value: &HeaderValue) -> Self {
        let copies = (0..SHARDS)
            .map(|_| {
                let bytes = Bytes::from_owner(Padded(value.as_bytes().to_vec()));
                let mut copy =
                    HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| value.clone());
                copy.set_sensitive(value.is_sensitive());
                copy
            })
            .collect();
        Self { copies }
    }

    /// The calling thread's copy.
    pub(crate) fn get(&self) -> HeaderValue {
        self.copies[slot() % self.copies.len()].clone()
    }
}

/// The calling thread's slot: threads take consecutive slots as they first
/// ask, so threads working at the same time rarely share one.
fn slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|slot| *slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_is_the_value_and_stays_sensitive() {
        let mut value = HeaderValue::from_static("Bearer abc");
        value.set_sensitive(true);
        let sharded = ShardedHeader::new(&value);
        assert_eq!(sharded.copies.len(), SHARDS);
        for copy in sharded.copies.iter() {
            assert_eq!(copy, &value);
            assert!(copy.is_sensitive());
        }
        assert_eq!(sharded.get(), value);
    }

    #[test]
    fn threads_take_different_slots() {
        let here = slot();
        let there = std::thread::spawn(slot).join().unwrap();
        assert_ne!(here, there);
        assert_eq!(here, slot(), "a thread keeps its slot");
    }
}
