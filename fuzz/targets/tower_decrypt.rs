//! Open untrusted appointment blobs: the first 32 bytes name a txid, the
//! rest is the blob. Nothing may panic; a blob is a penalty or an error.
//!
//! The body of `fuzz/fuzz_targets/tower_decrypt.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::tower::appointment::decrypt;

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    if data.len() < 32 {
        return;
    }
    let (txid, blob) = data.split_at(32);
    let txid = <bitcoin::Txid as bitcoin::hashes::Hash>::from_slice(txid).expect("32 bytes");
    let _ = decrypt(blob, &txid);
}
