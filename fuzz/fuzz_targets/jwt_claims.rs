//! Fuzz target `jwt_claims`: see [`session_kit_reliability::fuzz::jwt_claims`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::jwt_claims(data));
