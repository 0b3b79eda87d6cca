//! Untrusted gossip into the BOLT 7 store (the node's gossip input): nothing
//! may panic, whatever the bytes, before or after a valid channel is known.
//!
//! The body of `fuzz/fuzz_targets/gossip_ingest.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

use lnkit::gossip::{FundingOutput, FundingSource, GossipStore, RateLimit};

/// Outputs missing, spent, unspent (paying whatever the fuzzer's script is
/// not) or, until the chain is `up`, not answered (held gossip).
struct AnyChain {
    up: bool,
}

impl FundingSource for AnyChain {
    fn funding_output(&mut self, scid: u64) -> FundingOutput {
        match scid % 4 {
            0 => FundingOutput::Missing,
            1 => FundingOutput::Spent,
            3 if !self.up => FundingOutput::Unavailable,
            _ => FundingOutput::Unspent {
                outpoint: bitcoin::OutPoint::default(),
                script_pubkey: bitcoin::ScriptBuf::new(),
                amount: bitcoin::Amount::from_sat(scid % 1_000_000),
                confirmations: (scid % 10) as u32,
            },
        }
    }
}

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    let mut s = GossipStore::new([0x06; 32], RateLimit::default());
    let peer = bitcoin::secp256k1::PublicKey::from_slice(&[2; 33]).ok();
    // The clock moves 30 s a message, so early gossip also expires.
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let _ = s.ingest(
            peer.as_ref(),
            chunk,
            1_800_000_000 + 30 * i as u64,
            &mut AnyChain { up: false },
        );
    }
    let _ = s.take_released();
    let _ = s.retry_held(1_800_000_000, &mut AnyChain { up: true });
    let _ = s.prune(1_800_000_000, 1000);
    let _ = s.to_graph();
}
