//! Open untrusted appointment blobs: the first 32 bytes name a txid, the
//! rest is the blob. Nothing may panic; a blob is a penalty or an error.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run tower_decrypt` (from the repository root).
#![no_main]

#[path = "../targets/tower_decrypt.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
