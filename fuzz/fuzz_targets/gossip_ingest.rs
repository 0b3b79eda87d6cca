//! Untrusted gossip into the BOLT 7 store (the node's gossip input): nothing
//! may panic, whatever the bytes, before or after a valid channel is known.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run gossip_ingest` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnkit::gossip::{FundingOutput, FundingSource, GossipStore, RateLimit};

/// Every output exists, unspent and deep, paying whatever the fuzzer's script is not.
struct AnyChain;

impl FundingSource for AnyChain {
    fn funding_output(&mut self, scid: u64) -> FundingOutput {
        match scid % 3 {
            0 => FundingOutput::Missing,
            1 => FundingOutput::Spent,
            _ => FundingOutput::Unspent {
                outpoint: bitcoin::OutPoint::default(),
                script_pubkey: bitcoin::ScriptBuf::new(),
                amount: bitcoin::Amount::from_sat(scid % 1_000_000),
                confirmations: (scid % 10) as u32,
            },
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = GossipStore::new([0x06; 32], RateLimit::default());
    let peer = bitcoin::secp256k1::PublicKey::from_slice(&[2; 33]).ok();
    for chunk in data.split(|b| *b == 0xff) {
        let _ = s.ingest(peer.as_ref(), chunk, 1_800_000_000, &mut AnyChain);
    }
    let _ = s.prune(1_800_000_000, 1000);
    let _ = s.to_graph();
});
