//! Decode untrusted Lightning messages. Nothing may panic; whatever decodes
//! must encode back to the same bytes.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run message_decode` (stable toolchain; or `cargo +nightly fuzz run message_decode`) (from the repository root).
#![no_main]

#[path = "../targets/message_decode.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
