//! A tower's API on untrusted request bodies: any bytes that parse as JSON
//! go to every endpoint of a tower on an in-memory store. Nothing may panic;
//! each request is answered or refused with a teos error code.
//!
//! The body of `fuzz/fuzz_targets/tower_request.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use std::sync::Mutex;

use bitcoin::hashes::Hash;
use lnkit::chain::BlockRef;
use lnkit::tower::service::{Config, Tower};

static TOWER: Mutex<Option<Tower>> = Mutex::new(None);

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let mut guard = TOWER.lock().unwrap();
    let tower = guard.get_or_insert_with(|| {
        Tower::open(
            std::path::Path::new(":memory:"),
            Config::default(),
            || BlockRef {
                height: 100,
                hash: bitcoin::BlockHash::all_zeros(),
            },
            || bitcoin::secp256k1::SecretKey::from_slice(&[7; 32]).unwrap(),
        )
        .unwrap()
    });
    let _ = tower.register(&body);
    let _ = tower.add_appointment(&body);
    let _ = tower.get_appointment(&body);
    let _ = tower.get_subscription_info(&body);
}
