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
    buckets: Arc<Mutex<HashMap<String, u32>>>,
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
        let mut buckets = self.buckets.lock();
        let tokens = match buckets.get_mut(partition) {
            Some(tokens) => tokens,
            None => buckets
                .entry(partition.to_owned())
                .or_insert(self.config.capacity),
        };
        if *tokens >= self.config.retry_cost {
            *tokens -= self.config.retry_cost;
            true
        } else {
            false
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
        let mut buckets = self.buckets.lock();
        // A partition never drawn from is full already.
        if let Some(tokens) = buckets.get_mut(partition) {
            *tokens = tokens
                .saturating_add(self.config.success_refill)
                .min(self.config.capacity);
        }
    }

    /// Tokens left in `partition`'s bucket.
    ///
    /// ```
    /// assert_eq!(session_retry::RetryBudget::default().available("new-host"), 100);
    /// ```
    pub fn available(&self, partition: &str) -> u32 {
        self.buckets
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
            .field("partitions", &self.buckets.lock().len())
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
}
