//! The embedded chain's view of its best chain: block hashes and times by
//! height, the UTXO set and where each transaction confirmed. The kernel has
//! no UTXO lookup in its API, so the view is kept from the blocks it connects
//! (and rebuilt from them on open and after a reorg).

use std::collections::HashMap;

use bitcoin::{Block, BlockHash, OutPoint, Txid};

use super::super::policy::{CoinAge, NextBlock};
use super::super::{BlockRef, Utxo};

/// The best chain as the mempool and the queries need it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChainView {
    /// Block hashes by height.
    hashes: Vec<BlockHash>,
    /// Block header times by height (for median time past).
    times: Vec<u32>,
    /// The unspent outputs.
    utxos: HashMap<OutPoint, Utxo>,
    /// The height of the block each transaction confirmed in.
    txs: HashMap<Txid, u32>,
}

impl ChainView {
    /// Apply the next block of the best chain.
    pub fn connect(&mut self, block: &Block) {
        let height = self.hashes.len() as u32;
        self.hashes.push(block.block_hash());
        self.times.push(block.header.time);
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            let coinbase = tx.is_coinbase();
            if !coinbase {
                for input in &tx.input {
                    self.utxos.remove(&input.previous_output);
                }
            }
            for (vout, txout) in tx.output.iter().enumerate() {
                // Provably unspendable outputs never enter Core's UTXO set.
                if txout.script_pubkey.is_op_return() {
                    continue;
                }
                self.utxos.insert(
                    OutPoint::new(txid, vout as u32),
                    Utxo {
                        txout: txout.clone(),
                        height,
                        coinbase,
                    },
                );
            }
            self.txs.insert(txid, height);
        }
    }

    /// The tip.
    pub fn tip(&self) -> BlockRef {
        let height = self.hashes.len() as u32 - 1;
        BlockRef {
            height,
            hash: self.hashes[height as usize],
        }
    }

    /// The best chain's hash at `height`.
    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.hashes.get(height as usize).copied()
    }

    /// BIP 113 median time past of the block at `height`: the median of its
    /// own time and its 10 predecessors'.
    pub fn median_time_past(&self, height: u32) -> u32 {
        let end = height as usize + 1;
        let mut window: Vec<u32> = self.times[end.saturating_sub(11)..end].to_vec();
        window.sort_unstable();
        window[window.len() / 2]
    }

    /// The block a transaction would go into next.
    pub fn next_block(&self) -> NextBlock {
        let tip = self.tip().height;
        NextBlock {
            height: tip + 1,
            median_time_past: self.median_time_past(tip),
        }
    }

    /// BIP 68's view of a coin created at `height` (the next block's height
    /// for a coin still in the mempool).
    pub fn coin_age(&self, height: u32) -> CoinAge {
        CoinAge {
            height,
            prev_median_time_past: self
                .median_time_past(height.saturating_sub(1).min(self.tip().height)),
        }
    }

    /// An unspent output.
    pub fn utxo(&self, outpoint: &OutPoint) -> Option<&Utxo> {
        self.utxos.get(outpoint)
    }

    /// The height a transaction confirmed at.
    pub fn tx_height(&self, txid: &Txid) -> Option<u32> {
        self.txs.get(txid).copied()
    }
}
