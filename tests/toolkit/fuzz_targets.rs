//! The fuzz targets' bodies (`fuzz/targets/`), compiled with the tests so
//! that they cannot rot (`cargo fuzz` builds them with libFuzzer, which CI
//! does not run), and fed a fixed set of inputs: whatever the bytes, none
//! may panic.

#[path = "../../fuzz/targets/channel_message.rs"]
mod channel_message;
#[path = "../../fuzz/targets/gossip_ingest.rs"]
mod gossip_ingest;
#[path = "../../fuzz/targets/gossip_queries.rs"]
mod gossip_queries;
#[path = "../../fuzz/targets/graph_import.rs"]
mod graph_import;
#[path = "../../fuzz/targets/invoice_decode.rs"]
mod invoice_decode;
#[path = "../../fuzz/targets/message_decode.rs"]
mod message_decode;
#[path = "../../fuzz/targets/onion_peel.rs"]
mod onion_peel;
#[path = "../../fuzz/targets/responder_handshake.rs"]
mod responder_handshake;
#[path = "../../fuzz/targets/swap_script.rs"]
mod swap_script;
#[path = "../../fuzz/targets/tlv_decode.rs"]
mod tlv_decode;
#[path = "../../fuzz/targets/tower_decrypt.rs"]
mod tower_decrypt;
#[path = "../../fuzz/targets/tower_request.rs"]
mod tower_request;

/// Empty input, every single byte, and 256 pseudo-random strings of up to
/// 2 KiB (xorshift, fixed seed), some starting with each two-byte message
/// type BOLT 1 and 7 use.
fn inputs() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![vec![]];
    v.extend((0..=255u8).map(|b| vec![b]));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let types: [u16; 8] = [16, 17, 18, 256, 257, 258, 263, 264];
    for i in 0..256usize {
        let len = (next() % 2048) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 && d.len() >= 2 {
            d[..2].copy_from_slice(&types[i / 2 % types.len()].to_be_bytes());
        }
        v.push(d);
    }
    v
}

/// A fuzz target's body.
type Target = fn(&[u8]);

#[test]
fn every_fuzz_target_builds_and_takes_arbitrary_bytes() {
    let targets: &[(&str, Target)] = &[
        ("channel_message", channel_message::run),
        ("gossip_ingest", gossip_ingest::run),
        ("gossip_queries", gossip_queries::run),
        ("graph_import", graph_import::run),
        ("invoice_decode", invoice_decode::run),
        ("message_decode", message_decode::run),
        ("onion_peel", onion_peel::run),
        ("responder_handshake", responder_handshake::run),
        ("swap_script", swap_script::run),
        ("tlv_decode", tlv_decode::run),
        ("tower_decrypt", tower_decrypt::run),
        ("tower_request", tower_request::run),
    ];
    assert_eq!(
        targets.len(),
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/fuzz_targets"))
            .unwrap()
            .count(),
        "a fuzz target is missing here"
    );
    let inputs = inputs();
    for (name, run) in targets {
        for d in &inputs {
            let r = std::panic::catch_unwind(|| run(d));
            assert!(
                r.is_ok(),
                "fuzz target {name} panicked on {}",
                hex::encode(d)
            );
        }
    }
}
