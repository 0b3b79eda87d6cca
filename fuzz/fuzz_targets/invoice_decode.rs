//! Decode untrusted BOLT 11 strings. Nothing may panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run invoice_decode` (stable toolchain; or `cargo +nightly fuzz run invoice_decode`) (from the repository root).
#![no_main]

#[path = "../targets/invoice_decode.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
