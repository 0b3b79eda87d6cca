//! Read untrusted swap scripts and leaves as a service would send them to
//! `lnkit swap verify`. Nothing may panic; anything accepted must rebuild to
//! the very same bytes.
//!
//! The body of `fuzz/fuzz_targets/swap_script.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::swap::contract::{
    claim_leaf, parse_claim_leaf, parse_p2wsh, parse_refund_leaf, refund_leaf,
};

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    let script = bitcoin::ScriptBuf::from_bytes(data.to_vec());
    let _ = parse_p2wsh(&script);
    if let Ok((hash160, key)) = parse_claim_leaf(&script) {
        assert_eq!(claim_leaf(hash160, key), script);
    }
    if let Ok((key, timeout)) = parse_refund_leaf(&script) {
        assert_eq!(refund_leaf(key, timeout), script);
    }
}
