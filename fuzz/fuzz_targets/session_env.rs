//! Fuzz target `session_env`: see [`session_kit_reliability::fuzz::session_env`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::session_env(data));
