//! Peel untrusted onion bytes as a hop would: parse, check the HMAC, decrypt,
//! decode the payload. Nothing may panic, whatever the bytes.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run onion_peel` (stable toolchain; or `cargo +nightly fuzz run onion_peel`) (from the repository root).
#![no_main]

#[path = "../targets/onion_peel.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
