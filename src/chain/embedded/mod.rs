//! A regtest chain inside the process, on Bitcoin Core's own validation
//! engine (libbitcoinkernel, through `bitcoinkernel`): every block, mined here
//! or not, is validated and stored by the kernel exactly as bitcoind would.
//!
//! What the kernel does not have, this module adds: a [`view`] of the UTXO set
//! kept from connected blocks, a [`mempool`] with Core's main acceptance
//! rules, a miner, and reorgs (a longer competing branch). Its directory holds
//! the kernel's blocks and chainstate, the mempool and the fee rate, and is
//! locked against a second process.
//!
//! Blocks are deterministic: block *n* is stamped 600 s after block *n-1*
//! (from regtest's genesis), so the same commands give the same chain, hash
//! for hash, on every machine — which is what lets docs and tests show them.

mod mempool;
mod view;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bitcoin::block::{Header, Version};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, Network, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Weight, Witness,
};
use bitcoinkernel::prelude::*;
use bitcoinkernel::{ChainType, ChainstateManager, Context, ContextBuilder};

use super::{
    BlockRef, ChainError, ChainSource, FeeEstimate, FeeSource, HeaderInfo, Regtest, TxInfo,
    TxStatus, Utxo, DEFAULT_FALLBACK_FEERATE, FEERATE_FLOOR,
};
use crate::tx::commitment::FeeratePerKw;
use mempool::Mempool;
use view::ChainView;

/// The block subsidy halves every 150 blocks on regtest (`nSubsidyHalvingInterval`).
const REGTEST_HALVING_INTERVAL: u32 = 150;
/// Seconds between the blocks we mine.
const BLOCK_SPACING: u32 = 600;
/// Weight kept free for the coinbase (Core's miner reserves 4,000).
const COINBASE_RESERVED_WEIGHT: Weight = Weight::from_wu(4000);

fn storage(what: &str) -> impl Fn(bitcoinkernel::KernelError) -> ChainError + '_ {
    move |e| ChainError::Storage(format!("{what}: {e}"))
}

fn io(what: String) -> impl Fn(std::io::Error) -> ChainError {
    move |e| ChainError::Storage(format!("{what}: {e}"))
}

/// The kernel and what we keep beside it. The chainstate manager is declared
/// first so it is dropped (and flushed) before its context.
struct Inner {
    chainman: ChainstateManager,
    _context: Context,
    /// The kernel's verdicts on blocks it checked, newest last.
    verdicts: Arc<Mutex<Vec<(BlockHash, String)>>>,
    view: ChainView,
    mempool: Mempool,
    feerate: FeeratePerKw,
}

/// The embedded regtest chain, in a directory of its own.
pub struct EmbeddedChain {
    dir: PathBuf,
    inner: Mutex<Inner>,
    /// Held for our lifetime: the directory's lock.
    _lock: File,
}

impl std::fmt::Debug for EmbeddedChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedChain")
            .field("dir", &self.dir)
            .finish()
    }
}

impl EmbeddedChain {
    /// Open the chain in `dir`, creating it (with regtest's genesis block) on
    /// first use. Fails with [`ChainError::Locked`] while another process
    /// (or another `EmbeddedChain`) has it open.
    pub fn open(dir: &Path) -> Result<Self, ChainError> {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(format!("cannot open {}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ChainError::Locked {
                    dir: dir.display().to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io(format!("cannot lock {}", lock_path.display()))(e))
            }
        }

        let verdicts: Arc<Mutex<Vec<(BlockHash, String)>>> = Arc::default();
        let sink = verdicts.clone();
        let context = ContextBuilder::new()
            .chain_type(ChainType::Regtest)
            .with_block_checked_validation(
                move |block: bitcoinkernel::Block,
                      state: bitcoinkernel::BlockValidationStateRef<'_>| {
                    let hash = BlockHash::from_byte_array(block.hash().to_bytes());
                    let verdict = format!("{:?} ({:?})", state.mode(), state.result());
                    sink.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((hash, verdict));
                },
            )
            .build()
            .map_err(storage("cannot start the kernel"))?;
        let kernel_dir = dir.join("kernel");
        let blocks_dir = kernel_dir.join("blocks");
        std::fs::create_dir_all(&blocks_dir)
            .map_err(io(format!("cannot create {}", blocks_dir.display())))?;
        let chainman = ChainstateManager::new(
            &context,
            &kernel_dir.to_string_lossy(),
            &blocks_dir.to_string_lossy(),
        )
        .map_err(storage("cannot open the kernel's chainstate"))?;

        let feerate = read_feerate(dir)?;
        let mut inner = Inner {
            chainman,
            _context: context,
            verdicts,
            view: ChainView::default(),
            mempool: Mempool::default(),
            feerate,
        };
        inner.rebuild_view()?;
        let saved = read_mempool(dir)?;
        inner.mempool.rebuild(saved, &inner.view);
        let chain = EmbeddedChain {
            dir: dir.to_path_buf(),
            inner: Mutex::new(inner),
            _lock: lock,
        };
        chain.save_mempool(&chain.lock())?;
        Ok(chain)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves nothing half-written that the
        // next call cannot read, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Set the fixed fee rate that [`ChainSource::fee_estimate`] reports (persisted).
    pub fn set_feerate(&self, feerate: FeeratePerKw) -> Result<(), ChainError> {
        let mut inner = self.lock();
        let path = self.dir.join("feerate_per_kw");
        write_atomic(&path, feerate.0.to_string().as_bytes())?;
        inner.feerate = feerate;
        Ok(())
    }

    /// The transactions waiting in the mempool, parents first.
    pub fn mempool(&self) -> Vec<Transaction> {
        self.lock().mempool.transactions().cloned().collect()
    }

    fn save_mempool(&self, inner: &Inner) -> Result<(), ChainError> {
        let txs: Vec<String> = inner
            .mempool
            .transactions()
            .map(bitcoin::consensus::encode::serialize_hex)
            .collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({ "transactions": txs }))
            .expect("a list of strings serializes");
        write_atomic(&self.dir.join("mempool.json"), text.as_bytes())
    }
}

/// Write a file so that a crash leaves the old or the new content, never half.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ChainError> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(io(format!("cannot write {}", path.display())))
}

fn read_feerate(dir: &Path) -> Result<FeeratePerKw, ChainError> {
    let path = dir.join("feerate_per_kw");
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map(FeeratePerKw).map_err(|e| {
            ChainError::Storage(format!("{}: expected a number: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DEFAULT_FALLBACK_FEERATE),
        Err(e) => Err(io(format!("cannot read {}", path.display()))(e)),
    }
}

fn read_mempool(dir: &Path) -> Result<Vec<Transaction>, ChainError> {
    let path = dir.join("mempool.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io(format!("cannot read {}", path.display()))(e)),
    };
    let bad = |why: String| ChainError::Storage(format!("{}: {why}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let list = doc["transactions"]
        .as_array()
        .ok_or_else(|| bad("expected {\"transactions\": [...]}".into()))?;
    list.iter()
        .map(|v| {
            let hex = v
                .as_str()
                .ok_or_else(|| bad("expected hex strings".into()))?;
            let bytes = hex::decode(hex).map_err(|e| bad(e.to_string()))?;
            deserialize(&bytes).map_err(|e| bad(e.to_string()))
        })
        .collect()
}

fn to_kernel_hash(hash: &BlockHash) -> bitcoinkernel::BlockHash {
    bitcoinkernel::BlockHash::from(hash.to_byte_array())
}

fn from_kernel_hash(hash: impl BlockHashExt) -> BlockHash {
    BlockHash::from_byte_array(hash.to_bytes())
}

/// The regtest block subsidy at `height`.
fn subsidy(height: u32) -> Amount {
    let halvings = height / REGTEST_HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat((50 * 100_000_000) >> halvings)
}

impl Inner {
    /// Read the kernel's active chain from genesis into a fresh view.
    fn rebuild_view(&mut self) -> Result<(), ChainError> {
        let mut view = ChainView::default();
        let chain = self.chainman.active_chain();
        for height in 0..=chain.height() {
            let entry = chain.at_height(height as usize).ok_or_else(|| {
                ChainError::Storage(format!("the kernel has no block at {height}"))
            })?;
            let block = self.read_block(&entry)?;
            view.connect(&block);
        }
        self.view = view;
        Ok(())
    }

    fn read_block(&self, entry: &bitcoinkernel::BlockTreeEntry<'_>) -> Result<Block, ChainError> {
        let raw = self
            .chainman
            .read_block_data(entry)
            .and_then(|b| b.consensus_encode())
            .map_err(storage("cannot read a block"))?;
        deserialize(&raw)
            .map_err(|e| ChainError::Storage(format!("a stored block does not parse: {e}")))
    }

    fn kernel_tip(&self) -> BlockHash {
        from_kernel_hash(self.chainman.active_chain().tip().block_hash())
    }

    fn header_info(&self, hash: &BlockHash) -> Result<HeaderInfo, ChainError> {
        let entry = self
            .chainman
            .get_block_tree_entry(&to_kernel_hash(hash))
            .ok_or_else(|| ChainError::UnknownBlock(hash.to_string()))?;
        let raw = entry
            .header()
            .consensus_encode()
            .map_err(storage("cannot read a header"))?;
        let header: Header = deserialize(&raw)
            .map_err(|e| ChainError::Storage(format!("a stored header does not parse: {e}")))?;
        Ok(HeaderInfo {
            header,
            height: entry.height() as u32,
        })
    }

    /// Build, grind and hand to the kernel one block on `prev` at `height`.
    /// Returns the block; the caller checks that the kernel did what it should.
    fn mine_one(
        &self,
        prev: HeaderInfo,
        txs: Vec<Transaction>,
        fees: Amount,
        script: &ScriptBuf,
    ) -> Result<Block, ChainError> {
        let height = prev.height + 1;
        let time = prev.header.time + BLOCK_SPACING;
        // The same branch point, script and contents would give the same block
        // twice (a reorg's first block, say): an extra nonce in the coinbase
        // keeps every block we mine new.
        for extra_nonce in 0u32.. {
            let block = build_block(
                prev.header.block_hash(),
                height,
                time,
                &txs,
                fees,
                script,
                extra_nonce,
            );
            if self
                .chainman
                .get_block_tree_entry(&to_kernel_hash(&block.block_hash()))
                .is_some()
            {
                continue;
            }
            let kernel_block = bitcoinkernel::Block::new(&serialize(&block))
                .map_err(storage("the kernel cannot read the mined block"))?;
            if self.chainman.process_block(&kernel_block).is_rejected() {
                return Err(ChainError::BlockRejected {
                    hash: block.block_hash(),
                    reason: self.verdict(&block.block_hash()),
                });
            }
            return Ok(block);
        }
        unreachable!("2^32 extra nonces all taken")
    }

    /// Mine one block with `txs` on the tip and connect it, or fail without
    /// changing anything we keep: process_block stores a block before it
    /// connects it, so a block that fails to connect is "accepted" yet never
    /// becomes the tip — that is checked here, never silently kept.
    fn extend_tip(
        &mut self,
        txs: Vec<Transaction>,
        fees: Amount,
        script: &ScriptBuf,
    ) -> Result<BlockHash, ChainError> {
        let prev = self.header_info(&self.view.tip().hash)?;
        let block = self.mine_one(prev, txs, fees, script)?;
        let hash = block.block_hash();
        if self.kernel_tip() != hash {
            return Err(ChainError::BlockRejected {
                hash,
                reason: self.verdict(&hash),
            });
        }
        self.view.connect(&block);
        self.mempool.block_connected(&block);
        Ok(hash)
    }

    fn verdict(&self, hash: &BlockHash) -> String {
        self.verdicts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .rev()
            .find(|(h, _)| h == hash)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "refused before validation".into())
    }
}

/// A block: the coinbase (BIP 34 height, our reward and the fees, the BIP 141
/// witness commitment), then `txs`, ground to regtest's target.
fn build_block(
    prev: BlockHash,
    height: u32,
    time: u32,
    txs: &[Transaction],
    fees: Amount,
    script: &ScriptBuf,
    extra_nonce: u32,
) -> Block {
    // BIP 34: the coinbase's scriptSig starts with the height; a second push
    // keeps it at least 2 bytes long (`bad-cb-length`) and carries the nonce.
    let script_sig = bitcoin::script::Builder::new()
        .push_int(i64::from(height))
        .push_int(i64::from(extra_nonce))
        .into_script();
    let mut coinbase = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig,
            sequence: Sequence::MAX,
            // BIP 141: the witness reserved value, 32 zero bytes.
            witness: Witness::from_slice(&[[0u8; 32]]),
        }],
        output: vec![TxOut {
            value: subsidy(height) + fees,
            script_pubkey: script.clone(),
        }],
    };
    let mut txdata = vec![coinbase.clone()];
    txdata.extend_from_slice(txs);
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time,
            // Regtest's proof-of-work limit, which every regtest block uses.
            bits: bitcoin::params::Params::REGTEST
                .max_attainable_target
                .to_compact_lossy(),
            nonce: 0,
        },
        txdata,
    };
    // BIP 141: commit to the witness root in an OP_RETURN output of the coinbase.
    let witness_root = block
        .witness_root()
        .expect("a block with a coinbase has a witness root");
    let commitment = Block::compute_witness_commitment(&witness_root, &[0u8; 32]);
    // `OP_RETURN <0xaa21a9ed || commitment>`, the BIP 141 header and hash.
    let mut payload = [0u8; 36];
    payload[..4].copy_from_slice(&[0xaa, 0x21, 0xa9, 0xed]);
    payload[4..].copy_from_slice(commitment.as_byte_array());
    coinbase.output.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: ScriptBuf::new_op_return(payload),
    });
    block.txdata[0] = coinbase;
    block.header.merkle_root = block
        .compute_merkle_root()
        .expect("a block has transactions");
    let target = block.header.target();
    while !target.is_met_by(block.header.block_hash()) {
        block.header.nonce += 1;
    }
    block
}

impl ChainSource for EmbeddedChain {
    fn network(&self) -> Network {
        Network::Regtest
    }

    fn best_block(&self) -> Result<BlockRef, ChainError> {
        Ok(self.lock().view.tip())
    }

    fn header(&self, hash: &BlockHash) -> Result<HeaderInfo, ChainError> {
        self.lock().header_info(hash)
    }

    fn block(&self, hash: &BlockHash) -> Result<Block, ChainError> {
        let inner = self.lock();
        let entry = inner
            .chainman
            .get_block_tree_entry(&to_kernel_hash(hash))
            .ok_or_else(|| ChainError::UnknownBlock(hash.to_string()))?;
        inner.read_block(&entry)
    }

    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        Ok(self.lock().view.hash_at(height))
    }

    fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let txid =
            inner
                .mempool
                .accept(tx, &inner.view)
                .map_err(|rejection| ChainError::Rejected {
                    txid: tx.compute_txid(),
                    rejection,
                })?;
        self.save_mempool(inner)?;
        Ok(txid)
    }

    fn broadcast_package(
        &self,
        parent: &Transaction,
        child: &Transaction,
    ) -> Result<(), ChainError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner
            .mempool
            .accept_package(parent, child, &inner.view)
            .map_err(|rejection| ChainError::Rejected {
                txid: child.compute_txid(),
                rejection,
            })?;
        self.save_mempool(inner)
    }

    fn fee_estimate(&self, target_blocks: u16) -> Result<FeeEstimate, ChainError> {
        Ok(FeeEstimate {
            feerate: self.lock().feerate.max(FEERATE_FLOOR),
            source: FeeSource::Fixed,
            target_blocks,
        })
    }

    fn transaction(&self, txid: &Txid) -> Result<Option<TxInfo>, ChainError> {
        let inner = self.lock();
        if let Some(e) = inner.mempool.get(txid) {
            return Ok(Some(TxInfo {
                tx: e.tx.clone(),
                status: TxStatus::Mempool,
            }));
        }
        let Some(height) = inner.view.tx_height(txid) else {
            return Ok(None);
        };
        let tip = inner.view.tip();
        let hash = inner
            .view
            .hash_at(height)
            .expect("a confirmed height is in the chain");
        let entry = inner
            .chainman
            .get_block_tree_entry(&to_kernel_hash(&hash))
            .ok_or_else(|| ChainError::Storage(format!("the kernel lost block {hash}")))?;
        let block = inner.read_block(&entry)?;
        let tx = block
            .txdata
            .into_iter()
            .find(|t| t.compute_txid() == *txid)
            .ok_or_else(|| ChainError::Storage(format!("{txid} is not in block {hash}")))?;
        Ok(Some(TxInfo {
            tx,
            status: TxStatus::Confirmed {
                block: BlockRef { height, hash },
                confirmations: tip.height - height + 1,
            },
        }))
    }

    fn utxo(&self, outpoint: &OutPoint) -> Result<Option<Utxo>, ChainError> {
        Ok(self.lock().view.utxo(outpoint).cloned())
    }
}

impl Regtest for EmbeddedChain {
    fn mine(&self, count: u32, script: &ScriptBuf) -> Result<Vec<BlockHash>, ChainError> {
        let mut inner = self.lock();
        let mut hashes = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let (txs, fees) = inner
                .mempool
                .block_template(Weight::MAX_BLOCK - COINBASE_RESERVED_WEIGHT);
            let hash = inner.extend_tip(txs, fees, script)?;
            hashes.push(hash);
        }
        self.save_mempool(&inner)?;
        Ok(hashes)
    }

    fn reorg(
        &self,
        depth: u32,
        new_blocks: u32,
        script: &ScriptBuf,
    ) -> Result<Vec<BlockHash>, ChainError> {
        let mut inner = self.lock();
        let tip = inner.view.tip();
        super::check_reorg(depth, new_blocks, tip.height)?;
        let fork_height = tip.height - depth;
        // The stale blocks' transactions go back to the mempool, as in Core.
        let mut stale_txs = Vec::new();
        for height in fork_height + 1..=tip.height {
            let hash = inner.view.hash_at(height).expect("below the tip");
            let entry = inner
                .chainman
                .get_block_tree_entry(&to_kernel_hash(&hash))
                .ok_or_else(|| ChainError::Storage(format!("the kernel lost block {hash}")))?;
            let block = inner.read_block(&entry)?;
            stale_txs.extend(block.txdata.into_iter().skip(1));
        }
        let mut prev =
            inner.header_info(&inner.view.hash_at(fork_height).expect("below the tip"))?;
        let mut hashes = Vec::with_capacity(new_blocks as usize);
        for _ in 0..new_blocks {
            let block = inner.mine_one(prev, vec![], Amount::ZERO, script)?;
            prev = HeaderInfo {
                header: block.header,
                height: prev.height + 1,
            };
            hashes.push(block.block_hash());
        }
        let last = *hashes.last().expect("new_blocks > depth >= 0");
        if inner.kernel_tip() != last {
            return Err(ChainError::BlockRejected {
                hash: last,
                reason: inner.verdict(&last),
            });
        }
        inner.rebuild_view()?;
        let inner_ref = &mut *inner;
        inner_ref.mempool.rebuild(stale_txs, &inner_ref.view);
        self.save_mempool(&inner)?;
        Ok(hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block the kernel refuses is an error, and the chain stays as it was.
    #[test]
    fn a_block_the_kernel_rejects_is_never_kept() {
        let dir = tempfile::tempdir().unwrap();
        let chain = EmbeddedChain::open(dir.path()).unwrap();
        let script = ScriptBuf::new_op_return([1u8; 4]);
        chain.mine(2, &script).unwrap();
        let before = chain.best_block().unwrap();
        // A transaction spending an output that does not exist: the block is
        // well formed (it passes the kernel's context-free checks and is
        // stored) but cannot connect.
        let bogus = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(Txid::from_byte_array([7; 32]), 0),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(1000),
                script_pubkey: script.clone(),
            }],
        };
        let err = chain
            .lock()
            .extend_tip(vec![bogus], Amount::ZERO, &script)
            .unwrap_err();
        assert!(matches!(err, ChainError::BlockRejected { .. }), "{err}");
        assert!(
            err.to_string().contains("Invalid"),
            "the kernel's verdict: {err}"
        );
        assert_eq!(chain.best_block().unwrap(), before);
        // The chain goes on from where it was, also after a reopen.
        chain.mine(1, &script).unwrap();
        assert_eq!(chain.best_block().unwrap().height, before.height + 1);
        drop(chain);
        let chain = EmbeddedChain::open(dir.path()).unwrap();
        assert_eq!(chain.best_block().unwrap().height, before.height + 1);
    }
}
