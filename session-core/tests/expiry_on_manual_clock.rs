//! Token expiry driven by the manual clock: the token is issued "now", the
//! clock moves, and status changes exactly at the buffer and window edges.

use std::time::Duration;

use session_core::{Clock, ExpiryPolicy, ManualClock, SessionData, TokenSet, TokenStatus};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn status_changes_exactly_at_the_edges() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let policy = ExpiryPolicy::default();
    let body = br#"{"access_token":"at","expires_in":3600}"#;
    let tokens = TokenSet::from_json_response(body, clock.now()).unwrap();

    // 45 minutes in: one second before the 15-minute window.
    clock.advance(Duration::from_secs(45 * 60) - SEC);
    assert_eq!(tokens.status(clock.now(), &policy), TokenStatus::Valid);
    clock.advance(SEC);
    assert_eq!(tokens.status(clock.now(), &policy), TokenStatus::RefreshDue);
    clock.advance(SEC);
    assert_eq!(tokens.status(clock.now(), &policy), TokenStatus::RefreshDue);

    // 55 minutes in: the 5-minute buffer.
    clock.set(tokens.issued_at().unwrap() + Duration::from_secs(55 * 60) - SEC);
    assert!(!tokens.is_expired(clock.now(), &policy));
    clock.advance(SEC);
    assert!(tokens.is_expired(clock.now(), &policy));
    clock.advance(SEC);
    assert!(tokens.is_expired(clock.now(), &policy));
}

#[test]
fn a_slow_token_response_does_not_stretch_the_lifetime() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let sent_at = clock.now();
    clock.advance(Duration::from_secs(20)); // the answer took 20 s to arrive
    let tokens =
        TokenSet::from_json_response(br#"{"access_token":"at","expires_in":60}"#, sent_at).unwrap();
    assert_eq!(tokens.expires_at(), Some(sent_at + Duration::from_secs(60)));
}

#[test]
fn five_minute_tokens_are_not_refreshed_on_every_call() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let policy = ExpiryPolicy::default();
    let tokens =
        TokenSet::from_json_response(br#"{"access_token":"at","expires_in":300}"#, clock.now())
            .unwrap();
    assert!(!tokens.needs_refresh(clock.now(), &policy));
    clock.advance(Duration::from_secs(150) - SEC);
    assert!(!tokens.needs_refresh(clock.now(), &policy));
    clock.advance(SEC);
    assert!(tokens.needs_refresh(clock.now(), &policy));
    assert!(!tokens.is_expired(clock.now(), &policy));
}

#[test]
fn session_validity_follows_the_clock() {
    let clock = ManualClock::at_unix(1_900_000_000);
    let policy = ExpiryPolicy::default();
    let tokens = TokenSet::new("at").with_expires_in(Duration::from_secs(3600), clock.now());
    let session = SessionData::with_tokens(tokens, clock.now());
    assert!(session.is_valid(clock.now(), &policy));
    clock.advance(Duration::from_secs(3600));
    assert!(!session.is_valid(clock.now(), &policy));
    assert!(
        session
            .summary(clock.now(), &policy)
            .starts_with("Session: INVALID | Tokens: EXPIRED")
    );
}
