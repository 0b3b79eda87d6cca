//! The tests that run a real bitcoind (built once by
//! scripts/build-test-bitcoind.sh), with ldk-node and Core Lightning as
//! live counterparties. This binary runs last: on a fresh machine the
//! others run while bitcoind builds.
//!
//! One test binary per group, not per file: each binary links the library,
//! ldk-node and the tests' common code once (CI builds on 2 cores).

#[path = "../common/mod.rs"]
mod common;

mod with_bitcoind_chain_cli;
mod with_bitcoind_chain_conformance;
mod with_bitcoind_hostile_peer;
mod with_bitcoind_interop_cln;
mod with_bitcoind_interop_ldk;
mod with_bitcoind_node;
mod with_bitcoind_node_forward_crash;
mod with_bitcoind_policy;
