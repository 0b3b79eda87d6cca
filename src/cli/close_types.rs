//! The requests and responses of `lnkit close --mutual | --sweep` (beside
//! the channel's fields, [`super::channel_fields`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::commitment_types::SpendTxOut;
use serde_json::Value;

use super::channel::prefix;
use super::field::{Flag, Net, Sat, Tx, Txs, Uint, Uint32};
use super::input::{self, Input};
use super::CliError;
use crate::tx::commitment::Side;

/// --verify, as a field.
#[derive(Deserialize, JsonSchema)]
pub struct VerifyIn {
    /// Check the transaction with Bitcoin Core's interpreter (--verify).
    pub verify: Option<Flag>,
}

/// `close --mutual`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct MutualIn {
    /// --mutual: where local's balance goes, a scriptPubKey hex (or local_address).
    pub local_scriptpubkey: Option<String>,
    pub local_address: Option<String>,
    /// Where remote's goes (or remote_address).
    pub remote_scriptpubkey: Option<String>,
    pub remote_address: Option<String>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    pub network: Option<Net>,
    /// --mutual (required): local's balance.
    pub to_local_msat: Option<Uint>,
    /// --mutual (required): remote's balance.
    pub to_remote_msat: Option<Uint>,
    /// --mutual (required).
    pub dust_limit_satoshis: Option<Sat>,
    /// --mutual: the fee (or feerate_per_kw), paid by the opener.
    pub fee_sat: Option<Sat>,
    pub feerate_per_kw: Option<Uint32>,
}

/// One side's output of the closing transaction.
#[derive(Serialize, JsonSchema)]
pub struct ClosingOutput {
    pub index: u32,
    pub amount_sat: u64,
}

/// A balance below the dust limit, left out.
#[derive(Serialize, JsonSchema)]
pub struct DustOut {
    pub side: &'static str,
    pub amount_sat: u64,
}

/// `close --mutual`'s output.
#[derive(Serialize, JsonSchema)]
pub struct MutualOut {
    pub txid: String,
    /// Unsigned.
    pub tx_hex: String,
    pub fee_sat: u64,
    pub local_output: Option<ClosingOutput>,
    pub remote_output: Option<ClosingOutput>,
    pub dropped_as_dust: Vec<DustOut>,
    pub local_signature: Option<String>,
    pub remote_signature: Option<String>,
    /// With both funding keys.
    pub signed_tx_hex: Option<String>,
    /// With --verify.
    pub verified: Option<bool>,
}

/// `close --sweep`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct SweepIn {
    /// --sweep: the commitment on chain (or signed_tx_hex, tx_hex: build-commitment's output).
    pub commitment_tx_hex: Option<Tx>,
    pub signed_tx_hex: Option<Tx>,
    pub tx_hex: Option<Tx>,
    /// Whose commitment it is (default local).
    pub holder: Option<Side>,
    /// Who sweeps (default the holder).
    pub we: Option<Side>,
    /// --sweep (required): the holder's to_local delay.
    pub to_self_delay: Option<Uint>,
    /// HTLC transactions on chain: their outputs are swept too.
    pub second_stage_tx_hex: Option<Txs>,
    /// The commitment's confirmations: checks the delays.
    pub confirmations: Option<Uint>,
    /// The chain's height: checks the HTLC timeouts.
    pub current_height: Option<Uint32>,
    /// --sweep (required): where the sweep pays, an address or a scriptPubKey hex.
    pub destination: Option<String>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    pub network: Option<Net>,
    /// --sweep (required).
    pub feerate_per_kw: Option<Uint32>,
}

/// An output of the commitment.
#[derive(Serialize, JsonSchema)]
pub struct FoundOut {
    pub index: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub amount_sat: u64,
    /// Whether `we` can take it.
    pub ours: bool,
}

/// An output `we` cannot take yet.
#[derive(Serialize, JsonSchema)]
pub struct PendingOut {
    pub index: u32,
    pub reason: String,
}

/// `close --sweep`'s output.
#[derive(Serialize, JsonSchema)]
pub struct SweepOut {
    pub holder: &'static str,
    pub we: &'static str,
    pub commitment_number: u64,
    pub outputs: Vec<FoundOut>,
    pub pending: Vec<PendingOut>,
    pub sweep_tx: SpendTxOut,
    /// With --verify.
    pub verified: Option<bool>,
}

/// `close`'s output: `--mutual`'s or `--sweep`'s.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CloseOut {
    Mutual(MutualOut),
    Sweep(SweepOut),
}

/// Where a side's closing output pays: `{side}_scriptpubkey` or `{side}_address`.
pub fn script_of(input: &Input, m: &MutualIn, side: Side) -> Result<bitcoin::ScriptBuf, CliError> {
    let p = prefix(side);
    let (script, address) = match side {
        Side::Local => (&m.local_scriptpubkey, &m.local_address),
        Side::Remote => (&m.remote_scriptpubkey, &m.remote_address),
    };
    let (field, given) = match (script, address) {
        (Some(s), _) => (format!("{p}_scriptpubkey"), s),
        (None, Some(a)) => (format!("{p}_address"), a),
        (None, None) => {
            return Err(input.error(
                &format!("{p}_scriptpubkey"),
                format!("missing required field (also accepted as: {p}_address)"),
            ))
        }
    };
    let network = m
        .network
        .as_ref()
        .map_or(bitcoin::Network::Bitcoin, |n| n.0);
    input::destination(network)(&Value::String(given.clone())).map_err(|e| input.error(&field, e))
}
