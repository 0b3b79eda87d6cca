//! Decode untrusted bytes as a BOLT 2 channel message (the node's peer
//! input), and a payment onion's hop payload. Nothing may panic, and what
//! decodes must re-encode to a message that decodes to the same value.
//!
//! The body of `fuzz/fuzz_targets/channel_message.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::channel::ChannelMessage;

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    if let Ok(Some(m)) = ChannelMessage::decode(data) {
        let again = ChannelMessage::decode(&m.encode()).expect("what we encode decodes");
        assert_eq!(again, Some(m));
    }
    let _ = lnkit::onion::payload::HopPayload::decode(data);
}
