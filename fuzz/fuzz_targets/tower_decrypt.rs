//! Open untrusted appointment blobs: the first 32 bytes name a txid, the
//! rest is the blob. Nothing may panic; a blob is a penalty or an error.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run tower_decrypt` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnkit::tower::appointment::decrypt;

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (txid, blob) = data.split_at(32);
    let txid = <bitcoin::Txid as bitcoin::hashes::Hash>::from_slice(txid).expect("32 bytes");
    let _ = decrypt(blob, &txid);
});
