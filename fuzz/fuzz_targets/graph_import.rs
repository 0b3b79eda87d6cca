//! Import untrusted graph files (GOSSMAP, listchannels, describegraph, gossip
//! hex lines), with a small node map. Nothing may panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run graph_import` (stable toolchain; or `cargo +nightly fuzz run graph_import`) (from the repository root).
#![no_main]

#[path = "../targets/graph_import.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
