//! The node's tests that need no bitcoind: lnkit nodes over TCP on the
//! embedded chain, in process and as processes, and their RPC.
//!
//! One test binary per group, not per file: each binary links the library,
//! ldk-node and the tests' common code once (CI builds on 2 cores).

#[path = "../common/mod.rs"]
mod common;

mod node_cli;
mod node_gossip;
mod node_gossip_net;
mod node_inprocess;
mod node_onchain;
mod node_payments;
mod node_peer_flow;
mod node_rebalance;
mod node_rpc_doc;
mod node_tower;
