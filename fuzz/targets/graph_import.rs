//! Import untrusted graph files (GOSSMAP, listchannels, describegraph, gossip
//! hex lines), with a small node map. Nothing may panic.
//!
//! The body of `fuzz/fuzz_targets/graph_import.rs`, also compiled and run by the
//! tests (`tests/toolkit/fuzz_targets.rs`), so that it cannot rot.

const NODE_MAP: &str =
    "0:02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619:alice\n\
1:0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c:bob\n";

/// One input: nothing may panic.
pub fn run(data: &[u8]) {
    if let Ok(g) = lnkit::graph::import::load(data.to_vec(), Some(NODE_MAP)) {
        let _ = g.stats();
    }
}
