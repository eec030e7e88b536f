//! [`StripedCounter`]: a counter every request bumps, striped per thread
//! slot, each stripe on cache lines of its own.
//!
//! One atomic written by every core bounces between their caches: a counter
//! bump costs several times more at two threads than at one. One stripe per
//! thread slot keeps each mostly on one core.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How many stripes: more threads than this share stripes, which is still
/// correct, only slower.
pub(crate) const SHARDS: usize = 8;

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
pub(crate) fn slot() -> usize {
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
