//! Untrusted gossip into the BOLT 7 store (the node's gossip input): nothing
//! may panic, whatever the bytes, before or after a valid channel is known.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run gossip_ingest` (from the repository root).
#![no_main]

#[path = "../targets/gossip_ingest.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
