//! The chain follower: from the last block a caller processed to a source's
//! best tip, as `block_disconnected` (stale blocks, highest first) then
//! `block_connected` (the new branch, lowest first) events.
//!
//! The caller persists [`Follower::tip`] with whatever it derived from the
//! events (the node in its database, the tower in its store) and, after a
//! restart, builds the follower again from that block: the follower finds
//! where the chain went meanwhile, even across a reorg that happened while the
//! caller was down, because a source keeps stale blocks' headers.
//!
//! The fork-point search is [`find_fork`], a pure function over two lookups,
//! so every reorg shape is tested without a backend.

use bitcoin::block::Header;
use bitcoin::{Block, BlockHash};

use super::{BlockRef, ChainError, ChainSource, HeaderInfo};

/// What a follower's caller does with the chain's events.
pub trait ChainListener {
    /// `block` at `height` joined the best chain, right after the previous one delivered.
    fn block_connected(&mut self, block: &Block, height: u32);

    /// The block with `header` at `height` left the best chain (a reorg):
    /// everything it confirmed is unconfirmed again.
    fn block_disconnected(&mut self, header: &Header, height: u32);
}

/// Where a stale tip meets the best chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork {
    /// The last block both have.
    pub fork: BlockRef,
    /// The stale blocks to disconnect, from the old tip down (empty when the
    /// old tip is still in the best chain).
    pub disconnect: Vec<HeaderInfo>,
}

/// Find where `ours` (a block we processed) meets the best chain.
///
/// `header_of` looks a header up by hash on any branch; `best_hash_at` gives
/// the best chain's hash at a height (`None` above its tip). We walk back from
/// our block until the best chain has the same block at that height: every
/// block passed on the way is stale. This asks `best_hash_at` once per stale
/// block plus once, so it costs nothing when nothing reorged, and never walks
/// the new branch (which may be far longer than the stale one after a restart).
pub fn find_fork<E>(
    ours: HeaderInfo,
    mut header_of: impl FnMut(&BlockHash) -> Result<HeaderInfo, E>,
    mut best_hash_at: impl FnMut(u32) -> Result<Option<BlockHash>, E>,
) -> Result<Fork, E> {
    let mut at = ours;
    let mut disconnect = Vec::new();
    loop {
        let here = at.block_ref();
        if best_hash_at(here.height)? == Some(here.hash) {
            return Ok(Fork {
                fork: here,
                disconnect,
            });
        }
        // Genesis is shared by every branch of a network, so the walk ends at
        // height 0 at the latest; a source that says otherwise is on another
        // network, and the caller checked that when it opened the source.
        disconnect.push(at);
        at = header_of(&at.header.prev_blockhash)?;
    }
}

/// How one [`Follower::poll`] went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollSummary {
    /// Blocks disconnected.
    pub disconnected: u32,
    /// Blocks connected.
    pub connected: u32,
}

/// How often one poll starts over when the chain moves under it (a reorg
/// between two of its calls) before it gives up until the next poll.
const MAX_RESTARTS: u32 = 8;

/// Follows a source's best chain from a block the caller processed.
#[derive(Clone, Debug)]
pub struct Follower {
    tip: BlockRef,
}

impl Follower {
    /// A follower whose caller has processed everything up to `last_processed`
    /// (persisted by the caller; a new caller starts from the source's tip or
    /// from the block before its birthday).
    pub fn new(last_processed: BlockRef) -> Self {
        Follower {
            tip: last_processed,
        }
    }

    /// The last block delivered: what the caller persists.
    pub fn tip(&self) -> BlockRef {
        self.tip
    }

    /// Bring the listener up to the source's best tip: first every stale block
    /// it had (highest first), then the best chain's blocks above the fork
    /// (lowest first). The tip moves with each event, so a caller that
    /// persists it inside its listener never replays or skips a block.
    pub fn poll<S, L>(&mut self, source: &S, listener: &mut L) -> Result<PollSummary, ChainError>
    where
        S: ChainSource + ?Sized,
        L: ChainListener + ?Sized,
    {
        let mut summary = PollSummary::default();
        for _ in 0..MAX_RESTARTS {
            let best = source.best_block()?;
            if best == self.tip {
                return Ok(summary);
            }
            let ours = source.header(&self.tip.hash)?;
            let fork = find_fork(ours, |h| source.header(h), |n| source.block_hash(n))?;
            for stale in &fork.disconnect {
                listener.block_disconnected(&stale.header, stale.height);
                self.tip = BlockRef {
                    height: stale.height - 1,
                    hash: stale.header.prev_blockhash,
                };
                summary.disconnected += 1;
            }
            if self.connect_up_to(source, listener, best, &mut summary)? {
                return Ok(summary);
            }
            // The best chain changed under us: look for the fork again.
        }
        Ok(summary)
    }

    /// Connect the best chain's blocks above our tip up to `best`. Returns
    /// false when a block does not build on our tip (a reorg mid-way).
    fn connect_up_to<S, L>(
        &mut self,
        source: &S,
        listener: &mut L,
        best: BlockRef,
        summary: &mut PollSummary,
    ) -> Result<bool, ChainError>
    where
        S: ChainSource + ?Sized,
        L: ChainListener + ?Sized,
    {
        for height in self.tip.height + 1..=best.height {
            let Some(hash) = source.block_hash(height)? else {
                return Ok(false);
            };
            let block = source.block(&hash)?;
            if block.header.prev_blockhash != self.tip.hash {
                return Ok(false);
            }
            listener.block_connected(&block, height);
            self.tip = BlockRef { height, hash };
            summary.connected += 1;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::block::Version;
    use bitcoin::hashes::Hash;
    use bitcoin::{CompactTarget, TxMerkleNode};
    use std::collections::HashMap;

    /// A block tree in memory: headers by hash, and the best chain as a list.
    struct Tree {
        headers: HashMap<BlockHash, HeaderInfo>,
        best: Vec<BlockHash>,
    }

    fn header(prev: BlockHash, tag: u32) -> Header {
        Header {
            version: Version::TWO,
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: tag,
            bits: CompactTarget::from_consensus(0x207fffff),
            nonce: 0,
        }
    }

    impl Tree {
        fn new(len: u32) -> Tree {
            let mut t = Tree {
                headers: HashMap::new(),
                best: vec![],
            };
            let genesis = header(BlockHash::all_zeros(), 0);
            t.headers.insert(
                genesis.block_hash(),
                HeaderInfo {
                    header: genesis,
                    height: 0,
                },
            );
            t.best.push(genesis.block_hash());
            t.extend(len, 0);
            t
        }

        /// Mine `n` blocks on the best tip; `tag` makes branches differ.
        fn extend(&mut self, n: u32, tag: u32) {
            for _ in 0..n {
                let prev = *self.best.last().unwrap();
                let height = self.best.len() as u32;
                let h = header(prev, height * 1000 + tag);
                self.headers
                    .insert(h.block_hash(), HeaderInfo { header: h, height });
                self.best.push(h.block_hash());
            }
        }

        /// Drop the top `depth` blocks from the best chain (they stay known) and mine `n` others.
        fn reorg(&mut self, depth: u32, n: u32, tag: u32) {
            let keep = self.best.len() - depth as usize;
            self.best.truncate(keep);
            self.extend(n, tag);
        }

        fn at(&self, height: u32) -> HeaderInfo {
            self.headers[&self.best[height as usize]]
        }

        fn fork_of(&self, ours: HeaderInfo) -> Fork {
            find_fork::<()>(
                ours,
                |h| self.headers.get(h).copied().ok_or(()),
                |n| Ok(self.best.get(n as usize).copied()),
            )
            .unwrap()
        }
    }

    #[test]
    fn no_reorg_forks_at_our_own_tip() {
        let mut t = Tree::new(10);
        let ours = t.at(10);
        t.extend(5, 0);
        let fork = t.fork_of(ours);
        assert_eq!(fork.fork, ours.block_ref());
        assert!(fork.disconnect.is_empty());
    }

    #[test]
    fn a_reorg_disconnects_exactly_the_stale_blocks_highest_first() {
        let mut t = Tree::new(10);
        let stale: Vec<_> = (8..=10).map(|h| t.at(h)).collect();
        t.reorg(3, 4, 1);
        let fork = t.fork_of(stale[2]);
        assert_eq!(fork.fork, t.at(7).block_ref());
        let heights: Vec<u32> = fork.disconnect.iter().map(|h| h.height).collect();
        assert_eq!(heights, vec![10, 9, 8]);
        assert_eq!(fork.disconnect[0], stale[2]);
    }

    #[test]
    fn a_shorter_winning_branch_still_finds_the_fork() {
        // Our tip is above the new best tip (bitcoind after invalidateblock).
        let mut t = Tree::new(10);
        let ours = t.at(10);
        t.reorg(4, 1, 2);
        let fork = t.fork_of(ours);
        assert_eq!(fork.fork.height, 6);
        assert_eq!(fork.disconnect.len(), 4);
    }

    #[test]
    fn a_reorg_below_an_older_processed_block() {
        // We processed up to 5; the chain later reorged from 3 on.
        let mut t = Tree::new(8);
        let ours = t.at(5);
        t.reorg(6, 7, 3);
        let fork = t.fork_of(ours);
        assert_eq!(fork.fork, t.at(2).block_ref());
        assert_eq!(
            fork.disconnect.iter().map(|h| h.height).collect::<Vec<_>>(),
            vec![5, 4, 3]
        );
    }

    #[test]
    fn a_reorg_to_genesis() {
        let mut t = Tree::new(3);
        let ours = t.at(3);
        t.reorg(3, 5, 9);
        let fork = t.fork_of(ours);
        assert_eq!(fork.fork.height, 0);
        assert_eq!(fork.disconnect.len(), 3);
    }

    #[test]
    fn lookup_errors_come_back() {
        let t = Tree::new(3);
        let ours = t.at(3);
        let r = find_fork(ours, |_| Err("gone"), |_| Ok(None));
        assert_eq!(r, Err("gone"));
    }
}
