//! Fuzz target `retry_after`: see [`session_kit_reliability::fuzz::retry_after`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::retry_after(data));
