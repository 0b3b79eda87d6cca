//! Decode untrusted TLV streams under every namespace lnkit knows. Nothing
//! may panic; whatever decodes must re-encode to the same bytes.
//!
//! The body of `fuzz/fuzz_targets/tlv_decode.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::onion::payload::{ENCRYPTED_DATA_TLV, ONIONMSG_TLV, PAYLOAD};
use lnkit::wire::tlv::{decode_stream, encode_stream, N1, N2};

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    if let Ok(records) = decode_stream(data, |_| true) {
        assert_eq!(encode_stream(&records), data);
    }
    for ns in [PAYLOAD, ENCRYPTED_DATA_TLV, ONIONMSG_TLV, N1, N2] {
        let _ = ns.decode(data);
    }
}
