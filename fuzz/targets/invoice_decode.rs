//! Decode untrusted BOLT 11 strings. Nothing may panic.
//!
//! The body of `fuzz/fuzz_targets/invoice_decode.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::secp256k1::Secp256k1;

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = lnkit::invoice::decode(&Secp256k1::verification_only(), s);
    }
}
