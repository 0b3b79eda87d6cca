//! Decode untrusted bytes as a BOLT 2 channel message (the node's peer
//! input), and a payment onion's hop payload. Nothing may panic, and what
//! decodes must re-encode to a message that decodes to the same value.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run channel_message` (from the repository root).
#![no_main]

#[path = "../targets/channel_message.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
