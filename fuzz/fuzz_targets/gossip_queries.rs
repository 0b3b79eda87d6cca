//! Untrusted BOLT 7 query traffic (the node's answers and its sync): a
//! peer's `query_short_channel_ids`, `query_channel_range` and the replies
//! to our own sync, and a `node_announcement`'s addresses. Nothing may panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run gossip_queries` (from the repository root).
#![no_main]

#[path = "../targets/gossip_queries.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
