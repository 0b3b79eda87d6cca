//! The node: the toolkit's channel, wallet, chain and wire, driven over
//! tokio, stored in SQLite, controlled over a JSON-RPC socket.

pub mod core;
pub mod datadir;
pub mod features;
pub mod forward;
pub mod onchain;
pub mod pay;
pub mod peer;
pub mod rpc;
pub mod store;
pub mod wallet;
pub mod watchtower;
