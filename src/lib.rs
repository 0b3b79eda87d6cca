//! # lnkit — the Lightning Network protocol, one step at a time
//!
//! Every step of the protocol is a pure library function here, named after the
//! BOLT that defines it; the `lnkit` binary exposes each step as a subcommand
//! that reads and writes JSON (see `src/cli/`), and the future node is assembled
//! from the very same functions.
//!
//! | module | BOLT |
//! |---|---|
//! | [`amount`] | millisatoshi amounts (BOLT 2 `amount_msat`) |
//! | [`channel`] | BOLT 2: the channel state machine, sans I/O |
//! | [`chain`] | the chain under the node (BOLT 5): bitcoind over RPC, an embedded regtest chain on libbitcoinkernel, the block follower |
//! | [`graph`] | the channel graph (BOLT 7) and its importers |
//! | [`invoice`] | BOLT 11 invoices |
//! | [`keys`] | BOLT 3 "Key Derivation" |
//! | [`signer`] | the node's keys: BIP 39 seed, BIP 32 paths, the only holder of private keys |
//! | [`shachain`] | BOLT 3 "Per-commitment Secret Requirements" and "Efficient Per-commitment Secret Storage" |
//! | [`script`] | BOLT 3 "Funding Transaction Output", "Offered/Received HTLC Outputs"; the swap contract |
//! | [`tx`] | BOLT 3 transactions: funding, commitment, HTLC second stage; BOLT 5 penalty and sweeps; closing |
//! | [`onion`] | BOLT 4 Sphinx onions, hop payloads, failure onions, route blinding |
//! | [`payment`] | payment hash / preimage and CLTV expiry (BOLT 2 `update_add_htlc`) |
//! | [`wire`] | BOLT 1 BigSize, truncated/signed integers, TLV streams |
//! | [`swap`] | submarine, reverse and cross-chain swaps (hash- and timelocked on chain, MuSig2 key path) |
//! | [`tower`] | the watchtower (BOLT 13 draft, The Eye of Satoshi's format): appointments, the tower's store, watcher and HTTP API |
//! | [`message_signing`] | Lightning message signing (`signmessage`), which tower users and towers sign with |
//! | [`verify`] | consensus verification of what we build, by Bitcoin Core's libbitcoinkernel |
//!
//! Secrets and randomness are always explicit inputs, so every function is
//! deterministic and every test reproducible.

pub mod amount;
pub(crate) mod base32;
pub mod chain;
pub mod channel;
pub mod cli;
pub mod factory;
pub(crate) mod fast_hex;
pub mod fields;
pub mod gossip;
pub mod graph;
pub mod invoice;
pub mod keys;
pub mod message_signing;
pub mod mpp;
pub mod node;
pub mod onion;
pub mod payment;
pub mod rebalance;
pub mod route;
pub mod schema;
pub mod script;
pub mod shachain;
pub mod signer;
pub mod swap;
pub mod tower;
pub mod tx;
pub mod verify;
pub mod wire;

/// The `secp256k1` this crate uses: the one `bitcoin` re-exports, so there is one copy.
pub use bitcoin::secp256k1;
