//! Decode untrusted TLV streams under every namespace lnkit knows. Nothing
//! may panic; whatever decodes must re-encode to the same bytes.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run tlv_decode` (stable toolchain; or `cargo +nightly fuzz run tlv_decode`) (from the repository root).
#![no_main]

#[path = "../targets/tlv_decode.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
