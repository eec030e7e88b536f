//! A token's life with session-core: parse a token endpoint's answer, watch the
//! token become due for refresh and then expire on a clock, keep it in
//! session data, save and restore that data, and print the summary line.
//!
//! Run with `cargo run --example token_lifecycle`.

use std::time::Duration;

use session_kit::{Claims, ExpiryPolicy, SessionData, SharedClock, TokenSet};
use session_kit_examples::step;

fn main() -> Result<(), session_kit::Error> {
    let clock = SharedClock::default();
    let policy = ExpiryPolicy::default();

    step("A token endpoint answers");
    let sent_at = clock.now();
    let body = br#"{
        "access_token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEiLCJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUifQ.",
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": "r-123",
        "scope": "read write"
    }"#;
    let tokens = TokenSet::from_json_response(body, sent_at)?;
    println!("tokens:   {tokens:?}");
    let claims = Claims::decode_unverified(tokens.access_token().expose_secret())?;
    println!(
        "claims (unverified): sub={:?} iss={:?}",
        claims.sub.unwrap_or_default(),
        claims.iss.unwrap_or_default()
    );

    step("Its status over the hour");
    for minutes in [0, 44, 45, 54, 55, 60] {
        let at = sent_at + Duration::from_secs(minutes * 60);
        println!("after {minutes:>2} min: {}", tokens.status(at, &policy));
    }

    step("A session holds it, is saved and restored");
    let mut session = SessionData::with_tokens(tokens, sent_at);
    session
        .metadata
        .mark_api_call(clock.now(), Some("api.example.com"));
    let saved = session.to_json()?;
    println!(
        "saved {} bytes (secrets are written on purpose)",
        saved.len()
    );
    let restored = SessionData::from_json(&saved)?;
    println!("{}", restored.summary(clock.now(), &policy));

    let later = sent_at + Duration::from_secs(50 * 60);
    println!("{}", restored.summary(later, &policy));
    Ok(())
}
