//! Decode untrusted Lightning messages. Nothing may panic; whatever decodes
//! must encode back to the same bytes.
//!
//! The body of `fuzz/fuzz_targets/message_decode.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::wire::message::{decode, encode};

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    if let Ok(m) = decode(data) {
        assert_eq!(encode(&m).expect("a decoded message encodes"), data);
    }
}
