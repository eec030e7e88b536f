//! Per-thread copies of the `Authorization` value a token manager hands to
//! every request.
//!
//! A request needs an owned `HeaderValue`; handing one out costs a reference
//! count going up (and down again when the request is done). Were that count
//! shared by every thread, each request would move its cache line between
//! cores. So each thread keeps its own copy of the values it sends — its own
//! bytes, its own count, on cache lines of their own — found by the id of
//! the token view it was made from. Ids are numbered process-wide and never
//! reused, so a copy can't be taken for another view's.
//!
//! A thread keeps copies of its last [`WAYS`] views; a replaced copy is
//! wiped when the last request holding it is done, and so is every copy of a
//! thread when the thread ends. A thread that never sends again keeps its
//! copies until it ends.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::HeaderValue;
use zeroize::Zeroize;

/// How many views one thread keeps a copy of: one per token manager it
/// sends through, the oldest replaced first.
const WAYS: usize = 4;

/// A fresh view id, never 0 (0 stands for "no view").
pub(crate) fn next_view_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Owns one copy's bytes and wipes them when dropped; the alignment puts the
/// copy's reference count (stored with the owner) on cache lines of its own.
#[repr(align(128))]
struct Wiped(Vec<u8>);

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// One thread's copies.
struct Copies {
    ids: [u64; WAYS],
    values: [Option<HeaderValue>; WAYS],
    next: usize,
}

thread_local! {
    // Const-initialised: reading it needs no lazy-init check.
    static COPIES: RefCell<Copies> = const {
        RefCell::new(Copies {
            ids: [0; WAYS],
            values: [const { None }; WAYS],
            next: 0,
        })
    };
}

/// This thread's copy of view `id`'s value, if it has made one.
#[inline]
pub(crate) fn get(id: u64) -> Option<HeaderValue> {
    COPIES
        .try_with(|copies| {
            let copies = copies.try_borrow().ok()?;
            let way = copies.ids.iter().position(|&held| held == id)?;
            copies.values[way].clone()
        })
        .ok()
        .flatten()
}

/// This thread's copy of view `id`'s `value`, made now if it has none.
pub(crate) fn get_or_copy(id: u64, value: &HeaderValue) -> HeaderValue {
    if let Some(copy) = get(id) {
        return copy;
    }
    let copy = own_copy(value);
    let _ = COPIES.try_with(|copies| {
        if let Ok(mut copies) = copies.try_borrow_mut() {
            let way = copies.next;
            copies.ids[way] = id;
            copies.values[way] = Some(copy.clone());
            copies.next = (way + 1) % WAYS;
        }
    });
    copy
}

/// A copy of `value` with bytes (and a reference count) of its own.
fn own_copy(value: &HeaderValue) -> HeaderValue {
    let bytes = Bytes::from_owner(Wiped(value.as_bytes().to_vec()));
    let mut copy = HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| value.clone());
    copy.set_sensitive(value.is_sensitive());
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &'static str) -> HeaderValue {
        let mut value = HeaderValue::from_static(text);
        value.set_sensitive(true);
        value
    }

    #[test]
    fn a_copy_is_the_value_stays_sensitive_and_is_found_by_its_id() {
        let id = next_view_id();
        assert!(get(id).is_none(), "nothing copied yet");
        let copy = get_or_copy(id, &secret("Bearer abc"));
        assert_eq!(copy, "Bearer abc");
        assert!(copy.is_sensitive());
        let again = get(id).expect("the thread keeps its copy");
        assert_eq!(again, "Bearer abc");
        assert!(again.is_sensitive());
        assert_eq!(
            again.as_bytes().as_ptr(),
            copy.as_bytes().as_ptr(),
            "the same bytes, not a new copy"
        );
    }

    #[test]
    fn each_thread_has_its_own_bytes() {
        let id = next_view_id();
        let here = get_or_copy(id, &secret("Bearer abc"));
        let there = std::thread::spawn(move || {
            assert!(get(id).is_none(), "another thread starts without a copy");
            get_or_copy(id, &secret("Bearer abc"))
        })
        .join()
        .unwrap();
        assert_eq!(here, there);
        assert_ne!(here.as_bytes().as_ptr(), there.as_bytes().as_ptr());
    }

    #[test]
    fn the_oldest_copy_makes_room_and_ids_never_repeat() {
        let ids: Vec<u64> = (0..=WAYS).map(|_| next_view_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for &id in &ids {
            get_or_copy(id, &secret("Bearer abc"));
        }
        assert!(get(ids[0]).is_none(), "the oldest was replaced");
        assert!(ids[1..].iter().all(|&id| get(id).is_some()));
        assert!(get(0).is_none(), "0 is never a view");
    }
}
