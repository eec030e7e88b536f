//! P2: reading the cached token (the `Authorization` value a request gets)
//! at 1 and 2 threads: session-kit's `TokenManager::cached_authorization`,
//! side by side with the two usual hand-written caches, `RwLock<Arc<_>>` +
//! clone and `ArcSwap::load_full`, and with the floor of any read that
//! hands out an owned `HeaderValue`: cloning (and dropping) a value the
//! thread owns, with a reference count on cache lines of its own — no
//! lookup, no expiry decision, no shared count.
//!
//! With 2 threads both read the same cache at once; the time is per read.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use http::HeaderValue;
use parking_lot::RwLock;
use session_auth::TokenManager;
use session_kit_bench::{HourToken, TOKEN, hour_token};

/// Runs `read` `iters` times on each of `threads` threads at once and
/// returns the slowest thread's time.
fn contended<F: Fn() + Sync>(threads: usize, iters: u64, read: &F) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        read();
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a reader thread"))
            .max()
            .unwrap_or_default()
    })
}

/// The floor's bytes, aligned so their reference count (kept with them)
/// sits on cache lines of its own: two threads' counts never share one,
/// whatever the allocator puts next to each other.
#[repr(align(128))]
struct Padded(Vec<u8>);

impl AsRef<[u8]> for Padded {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

thread_local! {
    /// The floor's value: this thread's own bytes and count (copied from
    /// the text, so not shared with any other thread).
    static OWN: HeaderValue = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(Padded(
        format!("Bearer {TOKEN}").into_bytes(),
    )))
    .expect("a header value");
}

/// One contender: `read` timed on `threads` threads at once.
fn contender<F: Fn() + Sync>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    threads: usize,
    read: F,
) {
    group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
        b.iter_custom(|iters| contended(threads, iters, &read))
    });
}

fn p2(c: &mut Criterion) {
    let rt = session_kit_bench::runtime();
    let _guard = rt.enter();
    let manager = TokenManager::builder(HourToken)
        .initial_tokens(hour_token())
        .build();
    assert!(manager.cached_authorization().is_some());
    let value = HeaderValue::from_str(&format!("Bearer {TOKEN}")).expect("a header value");
    let rwlock = RwLock::new(Arc::new(value.clone()));
    let swap = ArcSwap::from_pointee(value);

    let mut group = c.benchmark_group("P2");
    for threads in [1usize, 2] {
        contender(
            &mut group,
            "session-kit cached_authorization",
            threads,
            || {
                black_box(manager.cached_authorization());
            },
        );
        contender(&mut group, "RwLock<Arc> + clone", threads, || {
            black_box(rwlock.read().clone());
        });
        contender(
            &mut group,
            "floor: clone of a thread's own value",
            threads,
            || {
                OWN.with(|own| black_box(own.clone()));
            },
        );
        contender(&mut group, "ArcSwap load_full", threads, || {
            black_box(swap.load_full());
        });
    }
    group.finish();
}

criterion_group!(benches, p2);
criterion_main!(benches);
