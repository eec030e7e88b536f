//! Fuzz target `rest_body`: see [`session_kit_reliability::fuzz::rest_body`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::rest_body(data));
