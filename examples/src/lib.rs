//! Support code shared by the session-kit examples.
//!
//! The examples themselves sit beside this folder, one file each; run one with
//! `cargo run --example NAME`.

#![forbid(unsafe_code)]

pub mod demo;

/// Prints one step of an example's narrative.
///
/// ```
/// session_kit_examples::step("sign in");
/// ```
pub fn step(title: &str) {
    println!("\n== {title}");
}
