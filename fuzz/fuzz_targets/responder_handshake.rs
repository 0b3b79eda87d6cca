//! A responder fed untrusted Act One and Act Three bytes. Nothing may panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run responder_handshake` (stable toolchain; or `cargo +nightly fuzz run responder_handshake`) (from the repository root).
#![no_main]

#[path = "../targets/responder_handshake.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
