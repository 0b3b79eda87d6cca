//! Peel untrusted onion bytes as a hop would: parse, check the HMAC, decrypt,
//! decode the payload. Nothing may panic, whatever the bytes.
//!
//! The body of `fuzz/fuzz_targets/onion_peel.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::onion::packet::{peel, OnionPacket};
use lnkit::onion::payload::PAYLOAD;
use lnkit::secp256k1::{Secp256k1, SecretKey};

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    let secp = Secp256k1::new();
    let key = SecretKey::from_slice(&[0x41; 32]).unwrap();
    if let Ok(packet) = OnionPacket::parse(data) {
        if let Ok(peeled) = peel(&secp, &packet, &key, &[0x42; 32], None) {
            let _ = PAYLOAD.decode(&peeled.payload);
        }
    }
}
