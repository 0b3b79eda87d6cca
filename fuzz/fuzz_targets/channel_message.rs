//! Decode untrusted bytes as a BOLT 2 channel message (the node's peer
//! input), and a payment onion's hop payload. Nothing may panic, and what
//! decodes must re-encode to a message that decodes to the same value.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run channel_message` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnkit::channel::ChannelMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(m)) = ChannelMessage::decode(data) {
        let again = ChannelMessage::decode(&m.encode()).expect("what we encode decodes");
        assert_eq!(again, Some(m));
    }
    let _ = lnkit::onion::payload::HopPayload::decode(data);
});
