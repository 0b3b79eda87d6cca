//! The chain under the node and the watchtower: one [`ChainSource`] interface
//! with two backends, and the [`follower`] that turns a source's best chain into
//! `block_connected` / `block_disconnected` events in order.
//!
//! - [`bitcoind`]: Bitcoin Core over its JSON-RPC (`bitcoincore-rpc`), on every
//!   network. Real networks and the test suite's real bitcoind use it.
//! - [`embedded`]: a regtest chain inside the process on Bitcoin Core's own
//!   validation engine (libbitcoinkernel), with a UTXO view, a mempool with
//!   Core's main policy rules and a miner. The demo and fast tests use it.
//!
//! Both also implement [`Regtest`] (mine blocks, replace the tip by a longer
//! branch), so one conformance suite runs against both.
//!
//! Lightning needs of the chain exactly this (BOLT 5, "Requirements"): see the
//! funding output confirm and get spent, follow the best chain through reorgs,
//! broadcast commitments, HTLC transactions and sweeps in time, and price them.

use std::fmt;

use bitcoin::block::Header;
use bitcoin::{Block, BlockHash, Network, OutPoint, ScriptBuf, Transaction, TxOut, Txid};

use crate::tx::commitment::FeeratePerKw;

pub mod bitcoind;
pub mod embedded;
pub mod follower;
pub mod policy;
pub mod standard;
pub mod view;

pub use follower::{find_fork, ChainListener, Follower, Fork};

/// A block by height and hash: what a caller persists as "the last block I processed".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Its height (genesis is 0).
    pub height: u32,
    /// Its hash.
    pub hash: BlockHash,
}

impl fmt::Display for BlockRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at height {}", self.hash, self.height)
    }
}

/// A header with the height the source knows it at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    /// The header.
    pub header: Header,
    /// Its height.
    pub height: u32,
}

impl HeaderInfo {
    /// The block this header belongs to.
    pub fn block_ref(&self) -> BlockRef {
        BlockRef {
            height: self.height,
            hash: self.header.block_hash(),
        }
    }
}

/// Where a transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// In the mempool, not in any block of the best chain.
    Mempool,
    /// In a block of the best chain.
    Confirmed {
        /// The block.
        block: BlockRef,
        /// Blocks from that one to the tip, counting it: 1 in the tip.
        confirmations: u32,
    },
}

/// A transaction the source knows, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxInfo {
    /// The transaction.
    pub tx: Transaction,
    /// Mempool or confirmed.
    pub status: TxStatus,
}

/// An unspent output of the best chain (confirmed; mempool spends are not counted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Utxo {
    /// The output.
    pub txout: TxOut,
    /// The height of the block that created it.
    pub height: u32,
    /// Whether it is a coinbase output (spendable after 100 blocks).
    pub coinbase: bool,
}

/// Where a fee estimate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeSource {
    /// The source's own estimator (bitcoind's `estimatesmartfee`).
    Estimated,
    /// The source had no estimate (a fresh chain, too few blocks seen): the
    /// configured fallback rate.
    Fallback,
    /// A fixed rate set on the source (the embedded regtest chain: no fee market).
    Fixed,
}

impl FeeSource {
    /// Its name in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            FeeSource::Estimated => "estimated",
            FeeSource::Fallback => "fallback",
            FeeSource::Fixed => "fixed",
        }
    }
}

/// A fee estimate for a confirmation target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeEstimate {
    /// The rate, never below [`FEERATE_FLOOR`].
    pub feerate: FeeratePerKw,
    /// Where it came from.
    pub source: FeeSource,
    /// The target it was asked for, in blocks.
    pub target_blocks: u16,
}

/// The lowest rate we ever pay: 253 sat/kw. Bitcoin Core's default minimum
/// relay fee is 1 sat/vB = 250 sat/kw, and a transaction's vsize is its weight
/// divided by 4 *rounded up*, so 250 sat/kw can fall short by a fraction of a
/// satoshi; 253 never does (LDK uses the same floor).
pub const FEERATE_FLOOR: FeeratePerKw = FeeratePerKw(253);

/// The rate a source reports when it has no estimate of its own, unless the
/// caller sets another: 2,500 sat/kw (10 sat/vB). A fresh regtest bitcoind
/// has no estimate until it has seen transactions confirm; on a real network
/// a missing estimate means a node that has just started, and a generous rate
/// is the safer mistake for a commitment that may have to confirm.
pub const DEFAULT_FALLBACK_FEERATE: FeeratePerKw = FeeratePerKw(2500);

/// Why a transaction was refused, as Bitcoin Core classifies it. The embedded
/// chain's mempool gives the same kinds with Core's own reason strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// An input does not exist or is already spent in the chain
    /// (`bad-txns-inputs-missingorspent`, or Core's `missing-inputs`).
    MissingOrSpentInputs,
    /// A coinbase output spent before 100 confirmations (`bad-txns-premature-spend-of-coinbase`).
    PrematureCoinbaseSpend,
    /// `nLockTime` not yet reached (`non-final`).
    NonFinal,
    /// A BIP 68 relative lock (CSV) not yet reached (`non-BIP68-final`).
    NonBip68Final,
    /// A script failed (`mandatory-script-verify-flag-failed`, or a policy flag).
    ScriptVerifyFailed,
    /// Below the minimum relay fee (`min relay fee not met`, `mempool min fee not met`).
    FeeTooLow,
    /// Conflicts with a mempool transaction and does not pay enough to replace
    /// it (`insufficient fee`), or may not replace it at all (`txn-mempool-conflict`).
    ReplacementRejected,
    /// Already in the mempool or the chain (`txn-already-in-mempool`, `txn-already-known`).
    AlreadyKnown,
    /// An output below its dust threshold (`dust`).
    Dust,
    /// Outputs worth more than the inputs (`bad-txns-in-belowout`).
    OutputsExceedInputs,
    /// Anything else Core refuses (non-standard, too large, …).
    Other,
}

impl RejectKind {
    /// Classify Core's reject reason text.
    pub fn from_reason(reason: &str) -> RejectKind {
        let r = reason.to_ascii_lowercase();
        let has = |s: &str| r.contains(s);
        if has("missingorspent") || has("missing-inputs") || has("missing inputs") {
            RejectKind::MissingOrSpentInputs
        } else if has("premature-spend-of-coinbase") {
            RejectKind::PrematureCoinbaseSpend
        } else if has("non-bip68-final") {
            RejectKind::NonBip68Final
        } else if has("non-final") {
            RejectKind::NonFinal
        } else if has("script-verify-flag") || has("script verify") {
            RejectKind::ScriptVerifyFailed
        } else if has("min relay fee not met") || has("mempool min fee not met") {
            RejectKind::FeeTooLow
        } else if has("insufficient fee") || has("txn-mempool-conflict") {
            RejectKind::ReplacementRejected
        } else if has("already") {
            RejectKind::AlreadyKnown
        } else if r == "dust" || has("dust,") || has("dust ") {
            RejectKind::Dust
        } else if has("in-belowout") {
            RejectKind::OutputsExceedInputs
        } else {
            RejectKind::Other
        }
    }

    /// Whether a transaction refused so can never confirm as it is: it
    /// conflicts with the chain, or is invalid. (One refused for its fee,
    /// a timelock or a young coinbase may still get in later.)
    pub fn never_confirms(self) -> bool {
        matches!(
            self,
            RejectKind::MissingOrSpentInputs
                | RejectKind::ReplacementRejected
                | RejectKind::ScriptVerifyFailed
                | RejectKind::OutputsExceedInputs
        )
    }

    /// Its name in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::MissingOrSpentInputs => "missing_or_spent_inputs",
            RejectKind::PrematureCoinbaseSpend => "premature_coinbase_spend",
            RejectKind::NonFinal => "non_final",
            RejectKind::NonBip68Final => "non_bip68_final",
            RejectKind::ScriptVerifyFailed => "script_verify_failed",
            RejectKind::FeeTooLow => "fee_too_low",
            RejectKind::ReplacementRejected => "replacement_rejected",
            RejectKind::AlreadyKnown => "already_known",
            RejectKind::Dust => "dust",
            RejectKind::OutputsExceedInputs => "outputs_exceed_inputs",
            RejectKind::Other => "other",
        }
    }
}

/// A transaction the chain refused: the kind, and Core's reason as it said it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// What kind of refusal.
    pub kind: RejectKind,
    /// Core's reason text (`non-BIP68-final`, `insufficient fee, rejecting replacement …`).
    pub reason: String,
}

impl Rejection {
    /// A rejection from Core's reason text.
    pub fn new(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Rejection {
            kind: RejectKind::from_reason(&reason),
            reason,
        }
    }
}

/// Everything that can go wrong talking to a chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The chain refused a transaction.
    #[error("transaction {txid} rejected: {}", .rejection.reason)]
    Rejected {
        /// The refused transaction.
        txid: Txid,
        /// Why.
        rejection: Rejection,
    },
    /// Nothing answered at the address.
    #[error("bitcoind unreachable at {url}: {detail}")]
    Unreachable {
        /// Where we tried.
        url: String,
        /// The socket's error.
        detail: String,
    },
    /// bitcoind refused our credentials.
    #[error("bitcoind at {url} refused the credentials ({auth}): check rpcuser/rpcpassword or the cookie file")]
    Unauthorized {
        /// Where.
        url: String,
        /// Which auth was tried (`cookie file /path`, `user alice`).
        auth: String,
    },
    /// The cookie file could not be read.
    #[error("cannot read the RPC cookie file {path}: {detail}")]
    Cookie {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The source follows another network than the one asked for.
    #[error("wrong network: expected {expected} (genesis {expected_genesis}), but the chain's genesis is {seen_genesis}")]
    WrongNetwork {
        /// The network asked for.
        expected: Network,
        /// Its genesis hash.
        expected_genesis: BlockHash,
        /// The genesis hash the source has.
        seen_genesis: BlockHash,
    },
    /// bitcoind is still syncing: its view of the chain is not yet the network's.
    #[error("bitcoind is still in initial block download (at block {blocks} of {headers} headers); wait until it has synced")]
    InitialBlockDownload {
        /// Blocks it has.
        blocks: u64,
        /// Headers it knows.
        headers: u64,
    },
    /// A pruned node no longer has the block's data.
    #[error("block {hash} is pruned: this bitcoind keeps blocks from height {prune_height} only")]
    BlockPruned {
        /// The block.
        hash: BlockHash,
        /// The lowest height it still has.
        prune_height: u64,
    },
    /// No such block, or no block at that height.
    #[error("unknown block {0}")]
    UnknownBlock(String),
    /// An RPC call failed in another way.
    #[error("bitcoind RPC {method} failed: {message}")]
    Rpc {
        /// The method.
        method: String,
        /// What bitcoind or the transport said.
        message: String,
    },
    /// The embedded chain's directory is used by another process.
    #[error("chain dir {dir} is locked by another process (lnkit chain or a node); stop it first")]
    Locked {
        /// The directory.
        dir: String,
    },
    /// The embedded chain is regtest only.
    #[error("the embedded chain is regtest only, not {0}")]
    NotRegtest(Network),
    /// A mined block was refused by the kernel: a bug, never kept.
    #[error("the kernel rejected mined block {hash}: {reason}")]
    BlockRejected {
        /// The block.
        hash: BlockHash,
        /// The kernel's verdict.
        reason: String,
    },
    /// A request the backend cannot serve (a reorg deeper than the chain, …).
    #[error("{0}")]
    Invalid(String),
    /// The kernel or the datadir failed.
    #[error("{0}")]
    Storage(String),
}

/// Everything the node and the watchtower need of a chain. Methods take
/// `&self`: a backend guards its own state, so one source serves several users.
pub trait ChainSource {
    /// The network the source follows.
    fn network(&self) -> Network;

    /// The tip of the best chain.
    fn best_block(&self) -> Result<BlockRef, ChainError>;

    /// A header by hash (any branch the source knows), with its height.
    fn header(&self, hash: &BlockHash) -> Result<HeaderInfo, ChainError>;

    /// A full block by hash.
    fn block(&self, hash: &BlockHash) -> Result<Block, ChainError>;

    /// The hash of the best chain's block at `height`, `None` above the tip.
    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError>;

    /// Hand a transaction to the network. A refusal comes back as
    /// [`ChainError::Rejected`] with Core's reason.
    fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError>;

    /// Hand a parent and its child over together, so a parent paying too little
    /// (an anchor commitment, even at zero fee) gets in on the child's fee
    /// (Bitcoin Core's one-parent-one-child package relay, `submitpackage`).
    fn broadcast_package(
        &self,
        parent: &Transaction,
        child: &Transaction,
    ) -> Result<(), ChainError>;

    /// A fee rate to confirm within `target_blocks`, never below [`FEERATE_FLOOR`].
    fn fee_estimate(&self, target_blocks: u16) -> Result<FeeEstimate, ChainError>;

    /// A transaction by txid, from the mempool or the best chain; `None` when
    /// the source does not know it.
    fn transaction(&self, txid: &Txid) -> Result<Option<TxInfo>, ChainError>;

    /// The output if it is unspent in the best chain.
    fn utxo(&self, outpoint: &OutPoint) -> Result<Option<Utxo>, ChainError>;
}

/// What a regtest chain also does, for tests, the demo and `lnkit chain mine`.
pub trait Regtest: ChainSource {
    /// Mine `count` blocks paying their coinbase to `script`, filled from the
    /// mempool by feerate. Returns their hashes, lowest first.
    fn mine(&self, count: u32, script: &ScriptBuf) -> Result<Vec<BlockHash>, ChainError>;

    /// Replace the best chain's top `depth` blocks by a competing branch of
    /// `new_blocks` empty blocks (more than `depth`, so it has more work and
    /// wins on every backend). The stale blocks' transactions go back to the
    /// mempool, as a node's do on a reorg. Returns the new blocks' hashes.
    fn reorg(
        &self,
        depth: u32,
        new_blocks: u32,
        script: &ScriptBuf,
    ) -> Result<Vec<BlockHash>, ChainError>;
}

/// Which chain to open: what `--bitcoind` / `--chain-dir` say, for
/// `lnkit chain` today and the node and the tower next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Bitcoin Core over RPC.
    Bitcoind(bitcoind::BitcoindConfig),
    /// The embedded regtest chain in this directory (created on first use).
    Embedded(std::path::PathBuf),
}

/// A chain of either backend.
pub type AnyChain = Box<dyn Regtest + Send + Sync>;

/// A chain shared by the users of one process (nodes, a tower, the demo).
pub type SharedChain = std::sync::Arc<dyn Regtest + Send + Sync>;

/// Open a backend, with its checks (credentials, network, lock).
pub fn open(backend: &Backend) -> Result<AnyChain, ChainError> {
    Ok(match backend {
        Backend::Bitcoind(config) => Box::new(bitcoind::BitcoindChain::connect(config.clone())?),
        Backend::Embedded(dir) => Box::new(embedded::EmbeddedChain::open(dir)?),
    })
}

/// The arguments of [`Regtest::reorg`] make sense for a chain whose tip is at `tip`.
pub(crate) fn check_reorg(depth: u32, new_blocks: u32, tip: u32) -> Result<(), ChainError> {
    if depth > tip {
        return Err(ChainError::Invalid(format!(
            "reorg: depth {depth} reaches below genesis (the tip is at {tip})"
        )));
    }
    if new_blocks <= depth {
        return Err(ChainError::Invalid(format!(
            "reorg: the new branch needs more than {depth} blocks to have more work than the old"
        )));
    }
    Ok(())
}

/// The genesis hash of a network (for the wrong-network check).
pub fn genesis_hash(network: Network) -> BlockHash {
    bitcoin::constants::genesis_block(network).block_hash()
}
