//! Fuzz target `encrypted_file`: see [`session_kit_reliability::fuzz::encrypted_file`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::encrypted_file(data));
