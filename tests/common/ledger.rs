//! A channel's on-chain resolution, accounted from the chain: the
//! transaction that spent the funding output, every confirmed transaction
//! that descends from it, and where each output's value ended. Values and
//! fees are bitcoind's figures; a node is asked only which coins its wallet
//! holds (its `listfunds`), never what it gained or paid.
//!
//! For each party, the ledger gives the outputs of the funding spend whose
//! value ended in its wallet (through however many claims) and the fees of
//! the claims it made. A test then checks both against the protocol (who
//! must win each output, what BOLT 3 says each is worth) and against the
//! party's wallet: what it holds after, less what it held before, is what
//! it won less what it paid, to the sat.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::bitcoind::Bitcoind;

/// An outpoint as bitcoind writes it.
pub type Outpoint = (String, u64);

/// Value in sat of a decoded output.
pub fn sat(v: &Value) -> u64 {
    (v["value"].as_f64().unwrap() * 1e8).round() as u64
}

/// The confirmed, unspent coins a `listfunds` answer lists (lnkit's and
/// CLN's have the same shape: `outputs[]` with `txid`, `output`, `status`).
pub fn wallet(listfunds: &Value) -> BTreeSet<Outpoint> {
    listfunds["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "confirmed")
        .map(|o| {
            (
                o["txid"].as_str().unwrap().to_string(),
                o["output"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The value of `coins`, by the chain.
pub fn value(btc: &Bitcoind, coins: &BTreeSet<Outpoint>) -> u64 {
    coins
        .iter()
        .map(|(t, v)| sat(&btc.rawtx(t)["vout"][*v as usize]))
        .sum()
}

/// The funding spend and its confirmed descendants.
pub struct Resolution {
    /// The transaction that spent the funding output.
    pub spend: Value,
    /// Every confirmed transaction, by txid (the funding spend included).
    txs: BTreeMap<String, Value>,
    /// Which transaction spends each outpoint of the tree.
    spent_by: BTreeMap<Outpoint, String>,
}

/// Where a party's share of the resolution went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Share {
    /// Outputs of the funding spend (by index) whose value ended with it.
    pub outputs: BTreeMap<u64, u64>,
    /// Fees of the claims it made (transactions whose value ended with it).
    pub fees: u64,
    /// Coins of its wallet its claims spent (their value came back as change).
    pub wallet_in: u64,
}

impl Share {
    /// What it won, less what it paid: its wallet's change.
    pub fn net(&self) -> i64 {
        self.outputs.values().sum::<u64>() as i64 - self.fees as i64
    }
}

impl Resolution {
    /// Read the chain from `from_height` to the tip: the confirmed spend of
    /// `funding:vout`, and everything that spends from it, recursively.
    pub fn from_chain(btc: &Bitcoind, funding: &str, vout: u64, from_height: u32) -> Resolution {
        let tip: u32 = btc.cli(&["getblockcount"]).parse().unwrap();
        let mut blocks = vec![];
        for h in from_height..=tip {
            let hash = btc.cli(&["getblockhash", &h.to_string()]);
            let b: Value = serde_json::from_str(&btc.cli(&["getblock", &hash, "2"])).unwrap();
            blocks.extend(b["tx"].as_array().unwrap().iter().skip(1).cloned());
        }
        let mut ours: BTreeSet<Outpoint> = [(funding.to_string(), vout)].into();
        let mut txs = BTreeMap::new();
        let mut spent_by = BTreeMap::new();
        let mut spend = None;
        // Blocks are in order, and a child never precedes its parent.
        for tx in blocks {
            let txid = tx["txid"].as_str().unwrap().to_string();
            let inputs: Vec<Outpoint> = tx["vin"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["txid"].as_str().unwrap().to_string(),
                        i["vout"].as_u64().unwrap(),
                    )
                })
                .collect();
            if !inputs.iter().any(|o| ours.contains(o)) {
                continue;
            }
            for o in &inputs {
                if ours.contains(o) {
                    spent_by.insert(o.clone(), txid.clone());
                }
            }
            if inputs.contains(&(funding.to_string(), vout)) {
                spend = Some(tx.clone());
            }
            for (i, _) in tx["vout"].as_array().unwrap().iter().enumerate() {
                ours.insert((txid.clone(), i as u64));
            }
            txs.insert(txid, tx);
        }
        Resolution {
            spend: spend.expect("the funding output is spent in a block"),
            txs,
            spent_by,
        }
    }

    pub fn spend_txid(&self) -> String {
        self.spend["txid"].as_str().unwrap().to_string()
    }

    /// The funding spend's fee: the funding output less its outputs.
    pub fn spend_fee(&self, btc: &Bitcoind) -> u64 {
        btc.fee_sat(&self.spend_txid())
    }

    /// Whose wallet the value of `txid:vout` ended in: the party whose
    /// wallet holds it, or holds what the transaction that spent it made.
    fn ends_with<'a>(
        &self,
        o: &Outpoint,
        wallets: &'a [(&'a str, BTreeSet<Outpoint>)],
    ) -> Option<&'a str> {
        if let Some((name, _)) = wallets.iter().find(|(_, w)| w.contains(o)) {
            return Some(name);
        }
        let child = self.spent_by.get(o)?;
        self.owner(child, wallets)
    }

    /// The party a claim belongs to: where its outputs' value ended.
    fn owner<'a>(
        &self,
        txid: &str,
        wallets: &'a [(&'a str, BTreeSet<Outpoint>)],
    ) -> Option<&'a str> {
        let n = self.txs[txid]["vout"].as_array().unwrap().len();
        (0..n as u64).find_map(|i| self.ends_with(&(txid.to_string(), i), wallets))
    }

    /// Each party's share: the funding spend's outputs that ended with it,
    /// and the fees of its claims. Outputs that ended with no one (an
    /// anchor nobody swept, or a coin still unclaimed) are returned apart.
    pub fn shares(
        &self,
        btc: &Bitcoind,
        wallets: &[(&str, BTreeSet<Outpoint>)],
    ) -> (BTreeMap<String, Share>, BTreeMap<u64, u64>) {
        let mut shares: BTreeMap<String, Share> = wallets
            .iter()
            .map(|(n, _)| (n.to_string(), Share::default()))
            .collect();
        let mut nobody = BTreeMap::new();
        let spend = self.spend_txid();
        for (i, out) in self.spend["vout"].as_array().unwrap().iter().enumerate() {
            match self.ends_with(&(spend.clone(), i as u64), wallets) {
                Some(n) => {
                    shares
                        .get_mut(n)
                        .unwrap()
                        .outputs
                        .insert(i as u64, sat(out));
                }
                None => {
                    nobody.insert(i as u64, sat(out));
                }
            }
        }
        for (txid, tx) in &self.txs {
            if *txid == spend {
                continue;
            }
            let Some(n) = self.owner(txid, wallets) else {
                continue;
            };
            let s = shares.get_mut(n).unwrap();
            s.fees += btc.fee_sat(txid);
            for i in tx["vin"].as_array().unwrap() {
                let o = (
                    i["txid"].as_str().unwrap().to_string(),
                    i["vout"].as_u64().unwrap(),
                );
                if !self.txs.contains_key(&o.0) {
                    s.wallet_in += sat(&btc.rawtx(&o.0)["vout"][o.1 as usize]);
                }
            }
        }
        (shares, nobody)
    }
}
