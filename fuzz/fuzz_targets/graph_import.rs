//! Import untrusted graph files (GOSSMAP, listchannels, describegraph, gossip
//! hex lines), with a small node map. Nothing may panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run graph_import` (stable toolchain; or `cargo +nightly fuzz run graph_import`) (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;

const NODE_MAP: &str = "0:02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619:alice\n\
1:0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c:bob\n";

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = lnkit::graph::import::load(data.to_vec(), Some(NODE_MAP)) {
        let _ = g.stats();
    }
});
