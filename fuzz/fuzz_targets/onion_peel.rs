//! Peel untrusted onion bytes as a hop would: parse, check the HMAC, decrypt,
//! decode the payload. Nothing may panic, whatever the bytes.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run onion_peel` (stable toolchain; or `cargo +nightly fuzz run onion_peel`) (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnkit::onion::packet::{peel, OnionPacket};
use lnkit::onion::payload::PAYLOAD;
use lnkit::secp256k1::{Secp256k1, SecretKey};

fuzz_target!(|data: &[u8]| {
    let secp = Secp256k1::new();
    let key = SecretKey::from_slice(&[0x41; 32]).unwrap();
    if let Ok(packet) = OnionPacket::parse(data) {
        if let Ok(peeled) = peel(&secp, &packet, &key, &[0x42; 32], None) {
            let _ = PAYLOAD.decode(&peeled.payload);
        }
    }
});
