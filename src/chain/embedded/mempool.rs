//! The embedded chain's mempool: Bitcoin Core's main acceptance rules (the
//! rules themselves are in [`crate::chain::policy`]), full replace-by-fee,
//! one-parent-one-child packages, and block templates by feerate.

use std::collections::HashSet;

use bitcoin::{Amount, Block, OutPoint, Transaction, TxOut, Txid, Weight};

use super::super::policy::{self, Evicted};
use super::super::standard;
use super::super::Rejection;
use super::view::ChainView;
use crate::verify::verify_transaction;

/// A transaction in the mempool.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub tx: Transaction,
    pub txid: Txid,
    pub fee: Amount,
    pub vsize: u64,
}

/// What a check found acceptable: the entry, and what it would evict.
struct Checked {
    entry: Entry,
    evict: HashSet<Txid>,
}

/// Transactions waiting for a block, in the order they arrived (so parents
/// always come before their children).
#[derive(Clone, Debug, Default)]
pub(crate) struct Mempool {
    entries: Vec<Entry>,
}

impl Mempool {
    /// Every transaction, parents first.
    pub fn transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.entries.iter().map(|e| &e.tx)
    }

    /// A transaction by txid.
    pub fn get(&self, txid: &Txid) -> Option<&Entry> {
        self.entries.iter().find(|e| e.txid == *txid)
    }

    fn spender(&self, outpoint: &OutPoint) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.tx.input.iter().any(|i| i.previous_output == *outpoint))
    }

    fn output(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        self.get(&outpoint.txid)
            .and_then(|e| e.tx.output.get(outpoint.vout as usize))
    }

    /// `roots` and everything that spends them, transitively.
    fn with_descendants(&self, roots: impl IntoIterator<Item = Txid>) -> HashSet<Txid> {
        let mut set: HashSet<Txid> = roots.into_iter().collect();
        // Entries are in arrival order, so one pass finds every descendant.
        for e in &self.entries {
            if e.tx
                .input
                .iter()
                .any(|i| set.contains(&i.previous_output.txid))
            {
                set.insert(e.txid);
            }
        }
        set
    }

    fn remove(&mut self, txids: &HashSet<Txid>) {
        self.entries.retain(|e| !txids.contains(&e.txid));
    }

    /// Check `tx` against the chain and this mempool, as Core's
    /// `AcceptToMemoryPool` does; `package_parent` skips the fee floor, which
    /// the package as a whole must meet instead.
    fn check(
        &self,
        tx: &Transaction,
        view: &ChainView,
        package_parent: bool,
    ) -> Result<Checked, Rejection> {
        let txid = tx.compute_txid();
        if tx.is_coinbase() {
            return Err(Rejection::new("coinbase"));
        }
        standard::check_tx(tx).map_err(Rejection::new)?;
        if self.get(&txid).is_some() {
            return Err(Rejection::new("txn-already-in-mempool"));
        }
        if view.tx_height(&txid).is_some() {
            return Err(Rejection::new("txn-already-known"));
        }
        let next = view.next_block();
        if !policy::is_final(tx, next) {
            return Err(Rejection::new("non-final"));
        }
        // Full RBF: whatever spends one of our inputs is a conflict to replace.
        let direct: HashSet<Txid> = tx
            .input
            .iter()
            .filter_map(|i| self.spender(&i.previous_output).map(|e| e.txid))
            .collect();
        let evict = self.with_descendants(direct.iter().copied());

        let mut spent = Vec::with_capacity(tx.input.len());
        let mut ages = Vec::with_capacity(tx.input.len());
        for input in &tx.input {
            let op = &input.previous_output;
            if let Some(coin) = view.utxo(op) {
                if coin.coinbase && next.height - coin.height < policy::COINBASE_MATURITY {
                    return Err(Rejection::new(format!(
                        "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth {}",
                        next.height - coin.height
                    )));
                }
                spent.push(coin.txout.clone());
                ages.push(view.coin_age(coin.height));
            } else if let Some(out) = self.output(op).filter(|_| !evict.contains(&op.txid)) {
                spent.push(out.clone());
                // A mempool parent counts as confirming in the next block.
                ages.push(view.coin_age(next.height));
            } else {
                return Err(Rejection::new("bad-txns-inputs-missingorspent"));
            }
        }
        standard::check_inputs(tx, &spent).map_err(Rejection::new)?;
        if !policy::sequence_locks_ok(tx, &ages, next) {
            return Err(Rejection::new("non-BIP68-final"));
        }
        let value_in: Amount = spent.iter().map(|o| o.value).sum();
        let value_out: Amount = tx.output.iter().map(|o| o.value).sum();
        let Some(fee) = value_in.checked_sub(value_out) else {
            return Err(Rejection::new(format!(
                "bad-txns-in-belowout, value in ({value_in}) < value out ({value_out})"
            )));
        };
        if policy::first_dust_output(tx).is_some() {
            return Err(Rejection::new("dust"));
        }
        let vsize = tx.vsize() as u64;
        if !package_parent && !policy::meets_min_relay(fee, vsize) {
            return Err(Rejection::new(format!(
                "min relay fee not met, {} < {}",
                fee.to_sat(),
                policy::fee_at(policy::MIN_RELAY_FEERATE, vsize).to_sat()
            )));
        }
        if !evict.is_empty() {
            let evicted: Vec<Evicted> = evict
                .iter()
                .filter_map(|t| self.get(t))
                .map(|e| Evicted {
                    fee: e.fee,
                    vsize: e.vsize,
                    direct: direct.contains(&e.txid),
                })
                .collect();
            policy::check_replacement(&txid, fee, vsize, &evicted).map_err(Rejection::new)?;
        }
        // Core runs the standard flags before the consensus ones; the kernel
        // knows only the latter.
        standard::check_script_flags(tx, &spent).map_err(Rejection::new)?;
        verify_transaction(tx, &spent)
            .map_err(|e| Rejection::new(format!("mandatory-script-verify-flag-failed ({e})")))?;
        Ok(Checked {
            entry: Entry {
                tx: tx.clone(),
                txid,
                fee,
                vsize,
            },
            evict,
        })
    }

    fn insert(&mut self, checked: Checked) -> Txid {
        self.remove(&checked.evict);
        let txid = checked.entry.txid;
        self.entries.push(checked.entry);
        txid
    }

    /// Accept one transaction, evicting what it replaces. A transaction
    /// already waiting is accepted again without change, as Core's
    /// `sendrawtransaction` does (a rebroadcast is not an error).
    pub fn accept(&mut self, tx: &Transaction, view: &ChainView) -> Result<Txid, Rejection> {
        let txid = tx.compute_txid();
        if self.get(&txid).is_some() {
            return Ok(txid);
        }
        let checked = self.check(tx, view, false)?;
        Ok(self.insert(checked))
    }

    /// Accept a parent and its child together: the parent may pay less than
    /// the minimum relay fee (even nothing) when the two together pay it, as
    /// Core's one-parent-one-child package relay allows. Returns
    /// `(parent, child)` rejection context in the error's text.
    pub fn accept_package(
        &mut self,
        parent: &Transaction,
        child: &Transaction,
        view: &ChainView,
    ) -> Result<(), Rejection> {
        let parent_txid = parent.compute_txid();
        if !child
            .input
            .iter()
            .any(|i| i.previous_output.txid == parent_txid)
        {
            return Err(Rejection::new("package-not-child-with-parent"));
        }
        let mut trial = self.clone();
        let p = trial.check(parent, view, true)?;
        let (p_fee, p_vsize) = (p.entry.fee, p.entry.vsize);
        trial.insert(p);
        let c = trial.check(child, view, true)?;
        let (fee, vsize) = (p_fee + c.entry.fee, p_vsize + c.entry.vsize);
        if !policy::meets_min_relay(fee, vsize) {
            return Err(Rejection::new(format!(
                "package-fee-too-low: min relay fee not met, {} < {}",
                fee.to_sat(),
                policy::fee_at(policy::MIN_RELAY_FEERATE, vsize).to_sat()
            )));
        }
        trial.insert(c);
        *self = trial;
        Ok(())
    }

    /// A block joined the chain: drop what it confirmed, and whatever
    /// conflicts with it (with their descendants).
    pub fn block_connected(&mut self, block: &Block) {
        let mined: HashSet<Txid> = block.txdata.iter().map(|t| t.compute_txid()).collect();
        let spent: HashSet<OutPoint> = block
            .txdata
            .iter()
            .flat_map(|t| t.input.iter().map(|i| i.previous_output))
            .collect();
        let conflicts = self
            .entries
            .iter()
            .filter(|e| !mined.contains(&e.txid))
            .filter(|e| {
                e.tx.input
                    .iter()
                    .any(|i| spent.contains(&i.previous_output))
            })
            .map(|e| e.txid);
        let mut gone = self.with_descendants(conflicts);
        gone.extend(mined);
        self.remove(&gone);
    }

    /// Rebuild on a new chain view: offer `first` (a reorg's stale blocks'
    /// transactions, in block order) then the old mempool again, keeping
    /// what is still valid. A parent that now pays too little on its own is
    /// retried with its child as a package.
    pub fn rebuild(&mut self, first: Vec<Transaction>, view: &ChainView) {
        let old = std::mem::take(&mut self.entries);
        let candidates: Vec<Transaction> = first
            .into_iter()
            .chain(old.into_iter().map(|e| e.tx))
            .collect();
        let mut skip = HashSet::new();
        for (i, tx) in candidates.iter().enumerate() {
            if skip.contains(&i) {
                continue;
            }
            if self.accept(tx, view).is_ok() {
                continue;
            }
            let txid = tx.compute_txid();
            let child = candidates
                .iter()
                .enumerate()
                .skip(i + 1)
                .find(|(_, c)| c.input.iter().any(|inp| inp.previous_output.txid == txid));
            if let Some((j, child)) = child {
                if self.accept_package(tx, child, view).is_ok() {
                    skip.insert(j);
                }
            }
        }
    }

    /// The transactions of the next block, at most `max_weight`: by ancestor
    /// feerate (a transaction with its unconfirmed ancestors, as Core's miner
    /// scores them, so a child pays for its parent), parents before children.
    pub fn block_template(&self, max_weight: Weight) -> (Vec<Transaction>, Amount) {
        let mut chosen: Vec<usize> = Vec::new();
        let mut in_block: HashSet<Txid> = HashSet::new();
        let mut weight = Weight::ZERO;
        let mut fees = Amount::ZERO;
        loop {
            // The best remaining package: a transaction and its ancestors not yet chosen.
            let mut best: Option<(Vec<usize>, Amount, u64)> = None;
            for (i, e) in self.entries.iter().enumerate() {
                if in_block.contains(&e.txid) {
                    continue;
                }
                let package = self.ancestors(i, &in_block);
                let fee: Amount = package.iter().map(|&k| self.entries[k].fee).sum();
                let vsize: u64 = package.iter().map(|&k| self.entries[k].vsize).sum();
                let better = match &best {
                    None => true,
                    Some((_, bf, bv)) => {
                        u128::from(fee.to_sat()) * u128::from(*bv)
                            > u128::from(bf.to_sat()) * u128::from(vsize)
                    }
                };
                if better {
                    best = Some((package, fee, vsize));
                }
            }
            let Some((package, fee, _)) = best else { break };
            let w: Weight = package.iter().map(|&k| self.entries[k].tx.weight()).sum();
            if weight + w > max_weight {
                break;
            }
            weight += w;
            fees += fee;
            for k in package {
                in_block.insert(self.entries[k].txid);
                chosen.push(k);
            }
        }
        // Packages in the order chosen, each parents first: a topological
        // order, highest feerate first, as Core's miner lays a block out.
        (
            chosen
                .into_iter()
                .map(|k| self.entries[k].tx.clone())
                .collect(),
            fees,
        )
    }

    /// Entry `i` and its mempool ancestors not in `done`, in arrival order.
    fn ancestors(&self, i: usize, done: &HashSet<Txid>) -> Vec<usize> {
        let mut need: HashSet<Txid> = HashSet::from([self.entries[i].txid]);
        for k in (0..=i).rev() {
            let e = &self.entries[k];
            if need.contains(&e.txid) {
                for input in &e.tx.input {
                    if !done.contains(&input.previous_output.txid) {
                        need.insert(input.previous_output.txid);
                    }
                }
            }
        }
        (0..=i)
            .filter(|&k| need.contains(&self.entries[k].txid))
            .collect()
    }
}
