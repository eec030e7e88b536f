//! Property tests where a round trip or an invariant says more than a crash
//! does: stored session data survives encode/decode unchanged, the backoff
//! schedule stays within its bounds, and the retry budget never spends what
//! it doesn't have.

use std::time::Duration;

use proptest::prelude::*;
use session_core::time::{Duration as TimeDuration, OffsetDateTime};
use session_core::{SessionData, TokenSet};
use session_retry::{Jitter, RetryBudget, RetryPolicy};

fn instant(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + TimeDuration::seconds(seconds)
}

fn tokens() -> impl Strategy<Value = Option<TokenSet>> {
    proptest::option::of(
        (
            "\\PC{1,40}",
            proptest::option::of("\\PC{1,40}"),
            proptest::option::of(1u64..10_000_000),
            proptest::collection::vec("[a-z:]{1,12}", 0..4),
            0i64..4_000_000_000,
        )
            .prop_map(|(access, refresh, lifetime, scopes, sent)| {
                let mut set = TokenSet::new(access).with_scopes(scopes);
                if let Some(refresh) = refresh {
                    set = set.with_refresh_token(refresh);
                }
                if let Some(lifetime) = lifetime {
                    set = set.with_expires_in(Duration::from_secs(lifetime), instant(sent));
                }
                set
            }),
    )
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("\\PC{0,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever a session holds is what it holds after being stored and read.
    #[test]
    fn session_data_survives_a_round_trip(
        created in 0i64..4_000_000_000,
        tokens in tokens(),
        user_info in proptest::option::of(json_value()),
        agent in proptest::option::of("\\PC{0,30}"),
        calls in proptest::collection::vec((0i64..4_000_000_000, proptest::option::of("[a-z.]{1,20}")), 0..4),
    ) {
        let mut data = SessionData::new(instant(created));
        data.tokens = tokens;
        data.user_info = user_info;
        for (at, server) in calls {
            data.metadata.mark_api_call(instant(at), server.as_deref());
        }
        data.metadata.user_agent = agent;
        let first = data.to_json().unwrap();
        let again = SessionData::from_json(&first).unwrap();
        prop_assert_eq!(&again.to_json().unwrap(), &first);
        let value = data.to_value().unwrap();
        prop_assert_eq!(SessionData::from_value(value).unwrap().to_json().unwrap(), first);
    }

    /// Each wait is within the cap; without jitter the waits never shrink.
    #[test]
    fn backoff_stays_within_its_bounds(
        retries in 1i64..12,
        factor in 0.0f64..10.0,
        cap_ms in 1u64..600_000,
        jitter in prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal)],
    ) {
        let cap = Duration::from_millis(cap_ms);
        let policy = RetryPolicy::builder()
            .retries(retries)
            .backoff_factor(factor)
            .max_backoff(cap)
            .jitter(jitter)
            .build()
            .unwrap();
        let schedule = policy.schedule();
        prop_assert_eq!(schedule.len() as i64, retries);
        for (i, wait) in schedule.iter().enumerate() {
            prop_assert!(*wait <= cap, "retry {}: {:?} over the cap {:?}", i + 1, wait, cap);
        }
        if jitter == Jitter::None {
            prop_assert!(schedule.windows(2).all(|w| w[0] <= w[1]), "{:?}", schedule);
        }
        for retry in 1..=retries as u32 {
            prop_assert!(policy.delay_for(retry) <= cap);
        }
    }

    /// The budget spends only what it has, in whole retry costs, and never
    /// holds more than its capacity.
    #[test]
    fn the_retry_budget_never_overspends(
        capacity in 0u32..200,
        cost in 1u32..20,
        refill in 0u32..10,
        ops in proptest::collection::vec((any::<bool>(), 0usize..3), 0..300),
    ) {
        let budget = RetryBudget::new(capacity, cost, refill);
        for (spend, partition) in ops {
            let partition = ["a", "b", "c"][partition];
            let before = budget.available(partition);
            prop_assert!(before <= capacity);
            if spend {
                let spent = budget.try_spend(partition);
                let after = budget.available(partition);
                prop_assert_eq!(spent, before >= cost);
                prop_assert_eq!(after, if spent { before - cost } else { before });
            } else {
                budget.refill(partition);
                let after = budget.available(partition);
                prop_assert!(after >= before && after <= capacity);
            }
        }
    }
}
