//! Decode untrusted BOLT 11 strings. Nothing may panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run invoice_decode` (stable toolchain; or `cargo +nightly fuzz run invoice_decode`) (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnkit::secp256k1::Secp256k1;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = lnkit::invoice::decode(&Secp256k1::verification_only(), s);
    }
});
