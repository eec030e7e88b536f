//! [`RetryBudget`]: a token bucket, partitioned per host, that caps how much
//! extra traffic retries may add.
//!
//! # The numbers
//!
//! Each partition holds up to 100 tokens and starts full. A retry costs 5
//! tokens; a successful attempt (any answer that is not retried) returns 1.
//!
//! - **Normal operation stays on the schedule.** A request that needs the
//!   whole default schedule (5 retries) spends 25 tokens; a full bucket covers
//!   four such requests back to back, or twenty single retries, and 25
//!   successes pay one back.
//! - **An outage can't multiply traffic.** Without successes nothing refills:
//!   once the bucket is empty, each request gets exactly one attempt. With
//!   some successes, retries can be sustained at one per five successes, so
//!   attempts per request stay at or below 1.2 once the initial 100 tokens are
//!   spent — instead of the 6 that retries=5 would allow.
//!
//! Budgets are shared by every clone of a [`RetryPolicy`](crate::RetryPolicy):
//! every client built from one policy draws from the same buckets.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// A per-host token bucket for retries.
///
/// # Examples
///
/// ```
/// use session_retry::RetryBudget;
///
/// let budget = RetryBudget::new(10, 5, 1);
/// assert!(budget.try_spend("api.example.com"));
/// assert!(budget.try_spend("api.example.com"));
/// assert!(!budget.try_spend("api.example.com")); // empty
/// assert!(budget.try_spend("other.example.com")); // its own bucket
/// budget.refill("api.example.com");
/// assert_eq!(budget.available("api.example.com"), 1);
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    config: BudgetConfig,
    buckets: Arc<Buckets>,
}

/// The buckets below capacity (a full one is not kept: it is the same as
/// one never drawn from), and how many there are. The count lets a success
/// — every request's path — return at once, without the lock, while every
/// bucket is full.
#[derive(Default)]
struct Buckets {
    below_capacity: AtomicUsize,
    tokens: Mutex<HashMap<String, u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BudgetConfig {
    capacity: u32,
    retry_cost: u32,
    success_refill: u32,
}

impl RetryBudget {
    /// The default capacity: 100 tokens per host.
    pub const DEFAULT_CAPACITY: u32 = 100;
    /// The default cost of one retry: 5 tokens.
    pub const DEFAULT_RETRY_COST: u32 = 5;
    /// The default refill per success: 1 token.
    pub const DEFAULT_SUCCESS_REFILL: u32 = 1;

    /// A budget with these numbers. Buckets start full.
    ///
    /// ```
    /// let budget = session_retry::RetryBudget::new(50, 5, 1);
    /// assert_eq!(budget.available("h"), 50);
    /// ```
    pub fn new(capacity: u32, retry_cost: u32, success_refill: u32) -> Self {
        Self {
            config: BudgetConfig {
                capacity,
                retry_cost,
                success_refill,
            },
            buckets: Arc::default(),
        }
    }

    /// The capacity of each bucket.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryBudget::default().capacity(), 100);
    /// ```
    pub fn capacity(&self) -> u32 {
        self.config.capacity
    }

    /// Tokens one retry costs.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryBudget::default().retry_cost(), 5);
    /// ```
    pub fn retry_cost(&self) -> u32 {
        self.config.retry_cost
    }

    /// Tokens one success returns.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryBudget::default().success_refill(), 1);
    /// ```
    pub fn success_refill(&self) -> u32 {
        self.config.success_refill
    }

    /// Takes the cost of one retry from `partition`'s bucket, if it has enough.
    ///
    /// ```
    /// let budget = session_retry::RetryBudget::new(5, 5, 1);
    /// assert!(budget.try_spend("h"));
    /// assert!(!budget.try_spend("h"));
    /// ```
    pub fn try_spend(&self, partition: &str) -> bool {
        let capacity = self.config.capacity;
        let cost = self.config.retry_cost;
        let mut buckets = self.buckets.tokens.lock();
        match buckets.get_mut(partition) {
            Some(tokens) if *tokens >= cost => {
                *tokens -= cost;
                true
            }
            Some(_) => false,
            None if capacity >= cost => {
                if cost > 0 {
                    buckets.insert(partition.to_owned(), capacity - cost);
                    // Counted under the lock, so the count is exact.
                    self.buckets.below_capacity.fetch_add(1, Ordering::Release);
                }
                true
            }
            None => false,
        }
    }

    /// Returns one success's worth of tokens to `partition`'s bucket.
    ///
    /// ```
    /// let budget = session_retry::RetryBudget::new(5, 5, 1);
    /// budget.try_spend("h");
    /// budget.refill("h");
    /// assert_eq!(budget.available("h"), 1);
    /// ```
    pub fn refill(&self, partition: &str) {
        // Every bucket full: nothing to return to. (A refill that races a
        // spend here acts as if it came first, when the bucket was full.)
        if self.buckets.below_capacity.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut buckets = self.buckets.tokens.lock();
        // A partition never drawn from is full already.
        let Some(tokens) = buckets.get_mut(partition) else {
            return;
        };
        *tokens = tokens
            .saturating_add(self.config.success_refill)
            .min(self.config.capacity);
        if *tokens == self.config.capacity {
            buckets.remove(partition);
            self.buckets.below_capacity.fetch_sub(1, Ordering::Release);
        }
    }

    /// Tokens left in `partition`'s bucket.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryBudget::default().available("new-host"), 100);
    /// ```
    pub fn available(&self, partition: &str) -> u32 {
        self.buckets
            .tokens
            .lock()
            .get(partition)
            .copied()
            .unwrap_or(self.config.capacity)
    }
}

impl Default for RetryBudget {
    /// 100 tokens per host, 5 per retry, 1 back per success.
    fn default() -> Self {
        Self::new(
            Self::DEFAULT_CAPACITY,
            Self::DEFAULT_RETRY_COST,
            Self::DEFAULT_SUCCESS_REFILL,
        )
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("capacity", &self.config.capacity)
            .field("retry_cost", &self.config.retry_cost)
            .field("success_refill", &self.config.success_refill)
            .field("partitions_drawn", &self.buckets.tokens.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_and_refills() {
        let budget = RetryBudget::default();
        let mut retries = 0;
        while budget.try_spend("h") {
            retries += 1;
        }
        assert_eq!(retries, 20);
        for _ in 0..4 {
            budget.refill("h");
        }
        assert!(
            !budget.try_spend("h"),
            "4 successes are not enough for a retry"
        );
        budget.refill("h");
        assert!(budget.try_spend("h"), "5 successes pay for one retry");
    }

    #[test]
    fn never_exceeds_capacity() {
        let budget = RetryBudget::new(10, 5, 3);
        budget.try_spend("h");
        for _ in 0..10 {
            budget.refill("h");
        }
        assert_eq!(budget.available("h"), 10);
    }

    #[test]
    fn clones_share_buckets() {
        let a = RetryBudget::new(5, 5, 1);
        let b = a.clone();
        assert!(a.try_spend("h"));
        assert!(!b.try_spend("h"));
    }

    #[test]
    fn a_bucket_back_at_capacity_is_forgotten_and_others_still_refill() {
        let budget = RetryBudget::new(10, 5, 5);
        assert!(budget.try_spend("a"));
        assert!(budget.try_spend("b"));
        assert!(budget.try_spend("b"));
        assert_eq!(budget.buckets.below_capacity.load(Ordering::Relaxed), 2);
        budget.refill("a");
        assert_eq!(budget.available("a"), 10);
        assert_eq!(budget.buckets.below_capacity.load(Ordering::Relaxed), 1);
        assert!(!budget.buckets.tokens.lock().contains_key("a"));
        budget.refill("a");
        assert_eq!(budget.available("a"), 10, "a full bucket stays full");
        budget.refill("b");
        assert_eq!(budget.available("b"), 5, "b still refills");
        budget.refill("b");
        assert_eq!(budget.available("b"), 10);
        assert_eq!(budget.buckets.below_capacity.load(Ordering::Relaxed), 0);
        // Spent again after being forgotten: a full bucket again.
        assert!(budget.try_spend("a") && budget.try_spend("a"));
        assert!(!budget.try_spend("a"));
    }

    #[test]
    fn free_retries_and_unaffordable_ones_keep_no_bucket() {
        let free = RetryBudget::new(10, 0, 1);
        assert!((0..100).all(|_| free.try_spend("h")));
        assert_eq!(free.available("h"), 10);
        let dear = RetryBudget::new(3, 5, 1);
        assert!(!dear.try_spend("h"));
        assert_eq!(dear.available("h"), 3);
        for budget in [free, dear] {
            assert_eq!(budget.buckets.below_capacity.load(Ordering::Relaxed), 0);
            assert!(budget.buckets.tokens.lock().is_empty());
        }
    }

    #[test]
    fn the_count_stays_exact_under_threads() {
        let budget = RetryBudget::new(20, 5, 1);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let budget = &budget;
                scope.spawn(move || {
                    let host = format!("h{}", t % 2);
                    for _ in 0..1000 {
                        budget.try_spend(&host);
                        budget.refill(&host);
                        budget.refill(&host);
                    }
                });
            }
        });
        let drawn = budget.buckets.tokens.lock().len();
        assert_eq!(budget.buckets.below_capacity.load(Ordering::Relaxed), drawn);
        for host in ["h0", "h1"] {
            for _ in 0..20 {
                budget.refill(host);
            }
            assert_eq!(budget.available(host), 20);
        }
        assert_eq!(budget.buckets.below_capacity.load(Ordering::Relaxed), 0);
    }
}
