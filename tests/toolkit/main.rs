//! The toolkit's tests: every step through the binary and the library,
//! golden against the BOLT vectors, properties, differentials against LDK,
//! and the docs' examples.
//!
//! One test binary per group, not per file: each binary links the library,
//! ldk-node and the tests' common code once (CI builds on 2 cores).

#[path = "../common/mod.rs"]
mod common;

mod amp_cli;
mod bad_input;
mod channel_machine;
mod channel_model;
mod close;
mod commitment_properties;
mod docs_examples;
mod factory;
mod factory_cli;
mod final_hop;
mod fuzz_targets;
mod golden_bolt1;
mod golden_bolt11;
mod golden_bolt8;
mod golden_commitments;
mod golden_funding;
mod golden_htlc_scripts;
mod golden_keys;
mod golden_messages;
mod golden_onion;
mod golden_shachain;
mod golden_swap;
mod golden_tower;
mod gossip_ingest;
mod gossip_sync;
mod graph_import;
mod invoice_cli;
mod ldk_differential;
mod ldk_gossip_differential;
mod mpp;
mod onion_cli;
mod onion_properties;
mod penalty;
mod properties;
mod rebalance_cli;
mod route;
mod route_cli;
mod shell_cli;
mod swap;
mod swap_cli;
mod tower_cli;
mod tower_http;
mod walkthrough;
mod wire_cli;
