//! Untrusted BOLT 7 query traffic (the node's answers and its sync): a
//! peer's `query_short_channel_ids`, `query_channel_range` and the replies
//! to our own sync, and a `node_announcement`'s addresses. Nothing may panic.
//!
//! The body of `fuzz/fuzz_targets/gossip_queries.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::gossip::announce::decode_addresses;
use lnkit::gossip::sync::{self, Syncer};
use lnkit::gossip::{GossipStore, RateLimit};
use lnkit::wire::message;

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    let store = GossipStore::new([0x06; 32], RateLimit::default());
    let _ = decode_addresses(data);
    let mut syncer = Syncer::new([0x06; 32]);
    let _ = syncer.start();
    for (i, typ) in [261u16, 262, 263, 264, 265].into_iter().enumerate() {
        let mut bytes = typ.to_be_bytes().to_vec();
        bytes.extend(data.iter().skip(i));
        let Ok(m) = message::decode(&bytes) else {
            continue;
        };
        match typ {
            261 => {
                let _ = sync::reply_short_channel_ids(&store, &m);
            }
            263 => {
                let _ = sync::reply_channel_range(&store, (data.len() as u32) << 20, u32::MAX, 3);
            }
            264 => {
                let _ = syncer.on_reply_channel_range(&store, &m);
            }
            262 => {
                let _ = syncer.on_reply_end();
            }
            _ => {}
        }
    }
}
