//! Stored data that fails to decode never puts a stored secret into the
//! error, its Debug form or any error in its source chain.

use std::error::Error as _;

use session_core::SessionData;

/// Every Display and Debug in the chain.
fn chain(err: &session_core::Error) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(" | {cause} {cause:?}"));
        source = cause.source();
    }
    text
}

#[test]
fn a_token_where_an_object_belongs_is_not_quoted() {
    let value = serde_json::json!({
        "schema_version": 1,
        "created_at": "2030-01-01T00:00:00Z",
        "tokens": "secret-access-token-123",
    });
    let err = SessionData::from_value(value).unwrap_err();
    let text = chain(&err);
    assert!(!text.contains("secret-access-token-123"), "{text}");
    assert!(text.contains("not the expected shape"), "{text}");
}

#[test]
fn a_credential_in_broken_json_is_not_quoted() {
    let json = r#"{"schema_version":1,"credentials":{"wallet":"w-secret-456"},"#;
    let err = SessionData::from_json(json).unwrap_err();
    let text = chain(&err);
    assert!(!text.contains("w-secret-456"), "{text}");
    let json = r#"{"schema_version":1,"credentials":{"wallet":"w-secret-456"}}"#;
    let err = SessionData::from_json(json).unwrap_err();
    assert!(!chain(&err).contains("w-secret-456"), "{}", chain(&err));
}
