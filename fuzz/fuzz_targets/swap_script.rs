//! Read untrusted swap scripts and leaves as a service would send them to
//! `lnkit swap verify`. Nothing may panic; anything accepted must rebuild to
//! the very same bytes.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run swap_script` (stable toolchain; or `cargo +nightly fuzz run swap_script`) (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnkit::swap::contract::{claim_leaf, parse_claim_leaf, parse_p2wsh, parse_refund_leaf, refund_leaf};

fuzz_target!(|data: &[u8]| {
    let script = bitcoin::ScriptBuf::from_bytes(data.to_vec());
    let _ = parse_p2wsh(&script);
    if let Ok((hash160, key)) = parse_claim_leaf(&script) {
        assert_eq!(claim_leaf(hash160, key), script);
    }
    if let Ok((key, timeout)) = parse_refund_leaf(&script) {
        assert_eq!(refund_leaf(key, timeout), script);
    }
});
