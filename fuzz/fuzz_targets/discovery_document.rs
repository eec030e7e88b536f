//! Fuzz target `discovery_document`: see [`session_kit_reliability::fuzz::discovery_document`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::discovery_document(data));
