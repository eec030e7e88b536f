//! Fuzz target `server_session_id`: see [`session_kit_reliability::fuzz::server_session_id`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_kit_reliability::fuzz::server_session_id(data));
