//! Per-thread striping for what every request touches: [`ShardedHeader`]
//! (copies of one header value) and [`StripedCounter`], each stripe on cache
//! lines of its own, picked by the calling thread's slot.
//!
//! One atomic written by every core bounces between their caches: a
//! `HeaderValue` clone (an increment on a shared count) or a counter bump
//! costs several times more at two threads than at one. One stripe per
//! thread slot keeps each mostly on one core.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use http::HeaderValue;

/// How many stripes: more threads than this share stripes, which is still
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

/// A counter whose increments from different threads land on different
/// cache lines; reading sums the stripes.
pub(crate) struct StripedCounter {
    stripes: [PaddedCount; SHARDS],
}

#[repr(align(128))]
#[derive(Default)]
struct PaddedCount(AtomicU64);

impl StripedCounter {
    pub(crate) fn new() -> Self {
        Self {
            stripes: Default::default(),
        }
    }

    /// Adds `n` on the calling thread's stripe.
    pub(crate) fn add(&self, n: u64) {
        self.stripes[slot() % SHARDS]
            .0
            .fetch_add(n, Ordering::Relaxed);
    }

    /// The total.
    pub(crate) fn get(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// The calling thread's slot: threads take consecutive slots as they first
/// ask, so threads working at the same time rarely share one.
fn slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        // Const-initialised: reading it needs no lazy-init check.
        static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SLOT.with(|slot| {
        let mut taken = slot.get();
        if taken == usize::MAX {
            taken = NEXT.fetch_add(1, Ordering::Relaxed) % (usize::MAX - 1);
            slot.set(taken);
        }
        taken
    })
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
    fn a_striped_counter_sums_every_thread() {
        let counter = std::sync::Arc::new(StripedCounter::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counter.add(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        counter.add(5);
        assert_eq!(counter.get(), 4005);
    }

    #[test]
    fn threads_take_different_slots() {
        let here = slot();
        let there = std::thread::spawn(slot).join().unwrap();
        assert_ne!(here, there);
        assert_eq!(here, slot(), "a thread keeps its slot");
    }
}
