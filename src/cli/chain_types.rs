//! The requests and responses of `lnkit chain status|mine|broadcast|tx|utxo|fee`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field::{Net, Tx, TxidHex, Uint32};
pub use crate::chain::view::{BackendOut, FeeOut};

/// The network every chain step reads.
#[derive(Deserialize, JsonSchema)]
pub struct NetworkIn {
    /// bitcoin, testnet, signet or regtest (--network; default regtest).
    pub network: Option<Net>,
}

/// `chain mine`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct MineIn {
    /// How many blocks, 1 to 10000 (default 1).
    pub blocks: Option<Uint32>,
    /// The coinbase's address, or a scriptPubKey hex.
    pub address: String,
}

/// One transaction to broadcast, nested as `penalty` and `close --sweep` print it.
#[derive(Deserialize, JsonSchema)]
pub struct NestedTx {
    /// The transaction.
    pub tx_hex: Tx,
}

/// `chain broadcast`'s fields: the first present of these.
#[derive(Deserialize, JsonSchema)]
pub struct BroadcastIn {
    /// A signed transaction (beside its unsigned `tx_hex`).
    pub signed_tx_hex: Option<Tx>,
    /// A transaction.
    pub tx_hex: Option<Tx>,
    /// `penalty`'s transactions, broadcast in order.
    pub penalty_txs: Option<Vec<NestedTx>>,
    /// `close --sweep`'s sweep.
    pub sweep_tx: Option<NestedTx>,
}

/// `chain tx`'s field.
#[derive(Deserialize, JsonSchema)]
pub struct TxIn {
    /// The transaction's id.
    pub txid: TxidHex,
}

/// `chain utxo`'s fields: `outpoint`, or `txid` and `vout`.
#[derive(Deserialize, JsonSchema)]
pub struct UtxoIn {
    /// The output as TXID:VOUT.
    pub outpoint: Option<String>,
    /// Its transaction (without `outpoint`).
    pub txid: Option<TxidHex>,
    /// Its index (without `outpoint`).
    pub vout: Option<Uint32>,
}

/// `chain fee`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct FeeIn {
    /// Confirmation target in blocks, 1 to 1008 (--target; default 6).
    pub target_blocks: Option<Uint32>,
    /// Set the embedded chain's fixed rate first.
    pub feerate_per_kw: Option<Uint32>,
}

/// `chain status`'s output.
#[derive(Serialize, JsonSchema)]
pub struct StatusOut {
    #[serde(flatten)]
    pub backend: BackendOut,
    pub network: String,
    /// The best block's height.
    pub height: u32,
    pub best_block_hash: String,
    /// For 6 blocks.
    pub fee_estimate: FeeOut,
    /// Transactions waiting (the embedded chain only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mempool_size: Option<usize>,
}

/// One block mined.
#[derive(Serialize, JsonSchema)]
pub struct MinedBlock {
    pub height: u32,
    pub hash: String,
    pub coinbase_txid: String,
}

/// `chain mine`'s output.
#[derive(Serialize, JsonSchema)]
pub struct MineOut {
    pub blocks: Vec<MinedBlock>,
    /// The tip's height after.
    pub height: u32,
    pub best_block_hash: String,
    /// Where the coinbases pay.
    pub script_pubkey: String,
    /// Its address, when it has one.
    pub address: Option<String>,
}

/// `chain broadcast`'s output: `txid`, or `txids` when several were sent.
#[derive(Serialize, JsonSchema)]
pub struct BroadcastOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txids: Option<Vec<String>>,
    /// Always true: a refusal is a failure of the step.
    pub accepted: bool,
}

/// `chain tx`'s output.
#[derive(Serialize, JsonSchema)]
pub struct TxOut {
    pub txid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_hex: Option<String>,
    /// `unknown`, `mempool` or `confirmed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u32>,
}

/// What an unspent output holds.
#[derive(Serialize, JsonSchema)]
pub struct Unspent {
    pub amount_sat: u64,
    pub script_pubkey: String,
    /// Its address, when it has one.
    pub address: Option<String>,
    /// The height of the block that holds it.
    pub height: u32,
    pub confirmations: u32,
    /// Whether a coinbase pays it (spendable 100 blocks on).
    pub coinbase: bool,
}

/// `chain utxo`'s output.
#[derive(Serialize, JsonSchema)]
pub struct UtxoOut {
    pub outpoint: String,
    pub unspent: bool,
    #[serde(flatten)]
    pub found: Option<Unspent>,
}
