//! Fuzz target `token_response`: see [`session_kit_reliability::fuzz::token_response`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::token_response(data));
