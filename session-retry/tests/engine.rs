//! The generic engine on virtual time: schedule, caps, Retry-After, deadline,
//! budget, replay rules.

mod support;

use std::time::Duration;

use session_retry::{
    RetryAfter, RetryBudget, RetryPolicy, RetryReason, RetryScope, Stop, Verdict, retry, retry_with,
};
use support::RecordingSleep;

fn secs(v: &[f64]) -> Vec<Duration> {
    v.iter().map(|s| Duration::from_secs_f64(*s)).collect()
}

async fn waits_for(policy_builder: session_retry::RetryPolicyBuilder) -> Vec<Duration> {
    let sleep = RecordingSleep::new();
    let policy = policy_builder
        .sleep(sleep.clone())
        .no_budget()
        .build()
        .unwrap();
    let outcome = retry(&policy, |_| async { Err::<(), _>("down") }).await;
    assert_eq!(outcome.stop, Stop::Exhausted);
    assert_eq!(outcome.attempts, policy.retries() + 1);
    assert_eq!(outcome.total_wait, sleep.waits().iter().sum::<Duration>());
    sleep.waits()
}

#[tokio::test]
async fn schedule_is_exact() {
    assert_eq!(
        waits_for(RetryPolicy::builder()).await,
        secs(&[2., 4., 8., 16., 32.])
    );
    assert_eq!(
        waits_for(RetryPolicy::builder().backoff_factor(1.0)).await,
        secs(&[1., 2., 4., 8., 16.])
    );
    assert_eq!(
        waits_for(RetryPolicy::builder().backoff_factor(0.5)).await,
        secs(&[0.5, 1., 2., 4., 8.])
    );
    assert_eq!(
        waits_for(
            RetryPolicy::builder()
                .retries(7)
                .max_backoff(Duration::from_secs(20))
        )
        .await,
        secs(&[2., 4., 8., 16., 20., 20., 20.])
    );
}

#[tokio::test(start_paused = true)]
async fn tokio_sleeper_follows_paused_time() {
    let policy = RetryPolicy::builder().no_budget().build().unwrap();
    let start = tokio::time::Instant::now();
    let outcome = retry(&policy, |_| async { Err::<(), _>("down") }).await;
    assert_eq!(outcome.attempts, 6);
    assert_eq!(start.elapsed(), Duration::from_secs(62));
    assert_eq!(outcome.total_wait, Duration::from_secs(62));
}

#[tokio::test]
async fn jitter_stays_within_bounds() {
    for jitter in [session_retry::Jitter::Full, session_retry::Jitter::Equal] {
        let waits = waits_for(RetryPolicy::builder().jitter(jitter)).await;
        for (wait, exact) in waits.iter().zip(secs(&[2., 4., 8., 16., 32.])) {
            assert!(*wait <= exact, "{jitter:?}: {wait:?} > {exact:?}");
            if jitter == session_retry::Jitter::Equal {
                assert!(*wait >= exact / 2, "{wait:?} < half of {exact:?}");
            }
        }
    }
}

fn retry_after(value: Option<RetryAfter>) -> impl Fn(&Result<(), ()>) -> Verdict {
    move |r| match r {
        Ok(()) => Verdict::Success,
        Err(()) => Verdict::Retry {
            reason: RetryReason::Custom("busy"),
            may_have_reached_server: true,
            retry_after: value,
        },
    }
}

#[tokio::test]
async fn retry_after_is_honoured_and_capped() {
    let run = |value, max| async move {
        let sleep = RecordingSleep::new();
        let policy = RetryPolicy::builder()
            .retries(2)
            .max_retry_after(max)
            .sleep(sleep.clone())
            .no_budget()
            .build()
            .unwrap();
        let outcome = retry_with(
            &policy,
            RetryScope::new("h"),
            &retry_after(value),
            |_| async { Err(()) },
        )
        .await;
        (outcome.attempts, outcome.stop, sleep.waits())
    };
    let max = Duration::from_secs(120);
    // Asked for 7 s: waits 7 s each time.
    let (attempts, _, waits) = run(Some(RetryAfter::Wait(Duration::from_secs(7))), max).await;
    assert_eq!((attempts, waits), (3, secs(&[7., 7.])));
    // Exactly the cap is still waited for.
    let (_, _, waits) = run(Some(RetryAfter::Wait(max)), max).await;
    assert_eq!(waits, vec![max, max]);
    // Above the cap: no wait, the response goes back.
    let (attempts, stop, waits) =
        run(Some(RetryAfter::Wait(max + Duration::from_secs(1))), max).await;
    assert_eq!(
        (attempts, stop, waits.len()),
        (1, Stop::RetryAfterTooLong, 0)
    );
    // Unusable: the computed schedule.
    let (_, _, waits) = run(Some(RetryAfter::Unusable), max).await;
    assert_eq!(waits, secs(&[2., 4.]));
}

#[tokio::test]
async fn deadline_stops_before_crossing() {
    let sleep = RecordingSleep::new();
    let policy = RetryPolicy::builder()
        .deadline(Duration::from_secs(10))
        .sleep(sleep.clone())
        .no_budget()
        .build()
        .unwrap();
    let outcome = retry(&policy, |_| async { Err::<(), _>("down") }).await;
    // 2 s (t=2), 4 s (t=6); the next 8 s would end at 14 > 10.
    assert_eq!(outcome.stop, Stop::Deadline);
    assert_eq!(outcome.attempts, 3);
    assert_eq!(sleep.waits(), secs(&[2., 4.]));
}

#[tokio::test]
async fn deadline_counts_time_spent_in_attempts() {
    let sleep = RecordingSleep::new();
    let policy = RetryPolicy::builder()
        .deadline(Duration::from_secs(12))
        .sleep(sleep.clone())
        .no_budget()
        .build()
        .unwrap();
    let clock = sleep.clone();
    let outcome = retry(&policy, |_| {
        clock.pass(Duration::from_secs(5)); // each attempt takes 5 s
        async { Err::<(), _>("slow failure") }
    })
    .await;
    // t=5 +2 → 7 ≤ 12; attempt 2 ends at 12, +4 → 16 > 12.
    assert_eq!((outcome.attempts, outcome.stop), (2, Stop::Deadline));
}

#[tokio::test]
async fn fatal_results_are_not_retried() {
    let policy = RetryPolicy::builder()
        .sleep(RecordingSleep::new())
        .build()
        .unwrap();
    let fatal = |_: &Result<(), ()>| Verdict::Fatal;
    let outcome = retry_with(&policy, RetryScope::new("h"), &fatal, |_| async { Err(()) }).await;
    assert_eq!((outcome.attempts, outcome.stop), (1, Stop::NotRetryable));
}

#[tokio::test]
async fn failures_before_sending_are_retried_even_when_not_replayable() {
    let policy = RetryPolicy::builder()
        .retries(2)
        .sleep(RecordingSleep::new())
        .build()
        .unwrap();
    let not_sent = |r: &Result<(), ()>| match r {
        Ok(()) => Verdict::Success,
        Err(()) => Verdict::Retry {
            reason: RetryReason::Error(session_retry::ErrorKind::Connect),
            may_have_reached_server: false,
            retry_after: None,
        },
    };
    let scope = RetryScope::new("h").replayable(false);
    let outcome = retry_with(&policy, scope, &not_sent, |_| async { Err(()) }).await;
    assert_eq!((outcome.attempts, outcome.stop), (3, Stop::Exhausted));

    let sent = |_: &Result<(), ()>| Verdict::retry(RetryReason::Custom("503"));
    let outcome = retry_with(&policy, scope, &sent, |_| async { Err(()) }).await;
    assert_eq!((outcome.attempts, outcome.stop), (1, Stop::NotReplayable));
}

#[tokio::test]
async fn budget_drains_and_refills() {
    let policy = RetryPolicy::builder()
        .budget(RetryBudget::new(10, 5, 1))
        .sleep(RecordingSleep::new())
        .build()
        .unwrap();
    // 10 tokens: two retries, then the bucket is empty.
    let first = retry(&policy, |_| async { Err::<(), _>("down") }).await;
    assert_eq!((first.attempts, first.stop), (3, Stop::BudgetExhausted));
    let second = retry(&policy, |_| async { Err::<(), _>("down") }).await;
    assert_eq!((second.attempts, second.stop), (1, Stop::BudgetExhausted));
    // Five successes pay for one retry.
    for _ in 0..5 {
        let ok = retry(&policy, |_| async { Ok::<_, ()>(()) }).await;
        assert_eq!(ok.stop, Stop::Success);
    }
    let third = retry(&policy, |_| async { Err::<(), _>("down") }).await;
    assert_eq!((third.attempts, third.stop), (2, Stop::BudgetExhausted));
}

#[tokio::test]
async fn budget_is_per_partition_and_shared_by_clones() {
    let policy = RetryPolicy::builder()
        .budget(RetryBudget::new(5, 5, 1))
        .sleep(RecordingSleep::new())
        .build()
        .unwrap();
    let clone = policy.clone();
    let fail = |_: &Result<(), ()>| Verdict::retry(RetryReason::Custom("x"));
    let a = retry_with(&policy, RetryScope::new("a"), &fail, |_| async { Err(()) }).await;
    assert_eq!(a.attempts, 2);
    let a_again = retry_with(&clone, RetryScope::new("a"), &fail, |_| async { Err(()) }).await;
    assert_eq!(a_again.attempts, 1, "the clone shares the drained bucket");
    let b = retry_with(&clone, RetryScope::new("b"), &fail, |_| async { Err(()) }).await;
    assert_eq!(b.attempts, 2, "another host has its own bucket");
}

#[tokio::test]
async fn full_outage_stays_at_most_1_2_attempts_per_request() {
    let policy = RetryPolicy::builder()
        .sleep(RecordingSleep::new())
        .build()
        .unwrap();
    let requests = 100;
    let mut attempts = 0;
    for _ in 0..requests {
        attempts += retry(&policy, |_| async { Err::<(), _>("down") })
            .await
            .attempts;
    }
    // The default bucket pays for 20 retries, then every request gets one attempt.
    assert_eq!(attempts, requests + 20);
    assert!(f64::from(attempts) / f64::from(requests) <= 1.2);
}

#[tokio::test]
async fn normal_operation_keeps_the_seed_schedule() {
    // An occasional request that needs every retry, among successes: the
    // default budget never cuts one short.
    let sleep = RecordingSleep::new();
    let policy = RetryPolicy::builder().sleep(sleep.clone()).build().unwrap();
    for round in 0..10 {
        for _ in 0..25 {
            retry(&policy, |_| async { Ok::<_, ()>(()) }).await;
        }
        let outcome = retry(&policy, |attempt| async move {
            if attempt <= 5 { Err("flaky") } else { Ok(()) }
        })
        .await;
        assert_eq!(outcome.stop, Stop::Success, "round {round}");
        assert_eq!(outcome.attempts, 6);
    }
}
