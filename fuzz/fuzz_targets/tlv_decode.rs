//! Decode untrusted TLV streams under every namespace lnkit knows. Nothing
//! may panic; whatever decodes must re-encode to the same bytes.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run tlv_decode` (stable toolchain; or `cargo +nightly fuzz run tlv_decode`) (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnkit::onion::payload::{ENCRYPTED_DATA_TLV, ONIONMSG_TLV, PAYLOAD};
use lnkit::wire::tlv::{decode_stream, encode_stream, N1, N2};

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = decode_stream(data, |_| true) {
        assert_eq!(encode_stream(&records), data);
    }
    for ns in [PAYLOAD, ENCRYPTED_DATA_TLV, ONIONMSG_TLV, N1, N2] {
        let _ = ns.decode(data);
    }
});
