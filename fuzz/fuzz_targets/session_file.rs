//! Fuzz target `session_file`: see [`session_kit_reliability::fuzz::session_file`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::session_file(data));
