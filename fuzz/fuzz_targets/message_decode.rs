//! Decode untrusted Lightning messages. Nothing may panic; whatever decodes
//! must encode back to the same bytes.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run message_decode` (stable toolchain; or `cargo +nightly fuzz run message_decode`) (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnkit::wire::message::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode(data) {
        assert_eq!(encode(&m).expect("a decoded message encodes"), data);
    }
});
