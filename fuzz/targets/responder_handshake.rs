//! A responder fed untrusted Act One and Act Three bytes. Nothing may panic.
//!
//! The body of `fuzz/fuzz_targets/responder_handshake.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::secp256k1::{Secp256k1, SecretKey};
use lnkit::wire::noise::{responder_act1, responder_act2, responder_act3, ACT_ONE_LEN};

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    let secp = Secp256k1::new();
    let ls = SecretKey::from_slice(&[0x21; 32]).unwrap();
    let e = SecretKey::from_slice(&[0x22; 32]).unwrap();
    let (act1, act3) = data.split_at(data.len().min(ACT_ONE_LEN));
    if let Ok(st) = responder_act1(&secp, &ls, act1) {
        let (_, st) = responder_act2(&secp, &st, &e);
        let _ = responder_act3(&st, act3);
    }
}
