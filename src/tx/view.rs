//! Commitment HTLCs and spending transactions as the toolkit's JSON shows
//! them (`build-commitment`, `penalty`, `close --sweep`).

use schemars::JsonSchema;
use serde::Serialize;

use super::commitment::{Htlc, HtlcDirection};

/// An HTLC, with its index in `htlcs`.
#[derive(Serialize, JsonSchema)]
pub struct HtlcOut {
    index: usize,
    /// offered or received, from the holder's view.
    direction: &'static str,
    amount_msat: u64,
    payment_hash: String,
    cltv_expiry: u32,
}

impl HtlcOut {
    /// The HTLC at `index`.
    pub fn of(index: usize, h: &Htlc) -> Self {
        HtlcOut {
            index,
            direction: match h.direction {
                HtlcDirection::Offered => "offered",
                HtlcDirection::Received => "received",
            },
            amount_msat: h.amount.0,
            payment_hash: h.payment_hash.to_string(),
            cltv_expiry: h.cltv_expiry.0,
        }
    }
}

/// A spending transaction: a justice transaction or a sweep.
#[derive(Serialize, JsonSchema)]
pub struct SpendTxOut {
    pub txid: String,
    pub tx_hex: String,
    pub inputs: usize,
    pub fee_sat: u64,
    pub weight: u64,
    pub locktime: u32,
}

impl SpendTxOut {
    /// `tx`, spending `prevouts`.
    pub fn of(tx: &bitcoin::Transaction, prevouts: &[bitcoin::TxOut]) -> Self {
        let total: u64 = prevouts.iter().map(|o| o.value.to_sat()).sum();
        let out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        SpendTxOut {
            txid: tx.compute_txid().to_string(),
            tx_hex: bitcoin::consensus::encode::serialize_hex(tx),
            inputs: tx.input.len(),
            fee_sat: total - out,
            weight: tx.weight().to_wu(),
            locktime: tx.lock_time.to_consensus_u32(),
        }
    }
}
