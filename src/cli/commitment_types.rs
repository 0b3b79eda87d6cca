//! The request and response of `lnkit build-commitment` (beside the channel's
//! fields, [`super::channel_fields`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tx::commitment::Side;

use super::field::{Flag, Net, Privkey, Sat, Tx, Txs, Uint, Uint32};
pub use crate::tx::view::{HtlcOut, SpendTxOut};

/// `build-commitment`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct CommitmentIn {
    /// Whose commitment: local or remote (--holder; default local).
    pub holder: Option<Side>,
    /// Local's balance.
    pub to_local_msat: Uint,
    /// Remote's balance.
    pub to_remote_msat: Uint,
    /// The holder's to_local delay, in blocks (set by the other side).
    pub to_self_delay: Uint,
    pub dust_limit_satoshis: Sat,
    pub feerate_per_kw: Uint32,
    /// Build it even when the opener cannot pay the fee (BOLT 3's vectors do).
    pub allow_unaffordable_fee: Option<Flag>,
    /// Check the signed transactions with Bitcoin Core's interpreter (--verify).
    pub verify: Option<Flag>,
    /// Local's HTLC key for this commitment (else from local_htlc_basepoint_secret).
    pub local_htlc_privkey: Option<Privkey>,
    /// Remote's.
    pub remote_htlc_privkey: Option<Privkey>,
}

/// One output of the commitment.
#[derive(Serialize, JsonSchema)]
pub struct OutputOut {
    pub index: usize,
    /// to_local, to_remote, local_anchor, remote_anchor, offered_htlc, received_htlc.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub amount_sat: u64,
    pub script_pubkey: String,
    pub witness_script: Option<String>,
    pub htlc: Option<HtlcOut>,
}

/// The commitment's keys (BOLT 3 "Key Derivation").
#[derive(Serialize, JsonSchema)]
pub struct KeysOut {
    pub revocationpubkey: String,
    pub local_delayedpubkey: String,
    pub local_htlcpubkey: String,
    pub remote_htlcpubkey: String,
    pub remotepubkey: String,
}

/// One second-stage HTLC transaction.
#[derive(Serialize, JsonSchema)]
pub struct HtlcTxOut {
    /// htlc_timeout or htlc_success.
    pub kind: &'static str,
    pub output_index: u32,
    pub htlc: HtlcOut,
    pub txid: String,
    pub tx_hex: String,
    pub local_htlc_signature: Option<String>,
    pub remote_htlc_signature: Option<String>,
    pub remote_sighash: String,
    pub signed_tx_hex: Option<String>,
}

/// What `build-commitment` adds to its input.
#[derive(Serialize, JsonSchema)]
pub struct CommitmentOut {
    pub holder: &'static str,
    pub per_commitment_point: String,
    pub keys: KeysOut,
    pub obscuring_factor: String,
    pub obscured_commitment_number: u64,
    pub locktime: u32,
    pub sequence: u32,
    pub txid: String,
    /// Unsigned.
    pub tx_hex: String,
    pub outputs: Vec<OutputOut>,
    /// HTLCs below the dust limit: their value goes to the fee.
    pub trimmed_htlcs: Vec<HtlcOut>,
    pub expected_weight: u64,
    pub base_fee_sat: u64,
    pub fee_sat: u64,
    pub local_signature: Option<String>,
    pub remote_signature: Option<String>,
    /// With both funding keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_tx_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
    pub htlc_txs: Vec<HtlcTxOut>,
    /// With --verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

/// The revoked commitment `penalty` punishes.
#[derive(Deserialize, JsonSchema)]
pub struct RevokedIn {
    /// The revoked commitment (or signed_tx_hex, tx_hex: build-commitment's output).
    pub revoked_tx_hex: Option<Tx>,
    pub signed_tx_hex: Option<Tx>,
    pub tx_hex: Option<Tx>,
}

/// `penalty`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct PenaltyIn {
    /// The revoked commitment's secret, from the cheater's revoke_and_ack.
    pub per_commitment_secret: Privkey,
    /// Our revocation basepoint's secret.
    pub revocation_basepoint_secret: Privkey,
    /// Our side, when our revocation basepoint is not in the input.
    pub we: Option<Side>,
    /// The cheater's to_local delay.
    pub to_self_delay: Uint,
    /// HTLC transactions the cheater broadcast: their outputs are claimed too.
    pub second_stage_tx_hex: Option<Txs>,
    /// Where the justice transactions pay: an address or a scriptPubKey hex.
    pub destination: String,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    pub network: Option<Net>,
    pub feerate_per_kw: Uint32,
    /// One justice transaction per revoked output (--split).
    pub split: Option<Flag>,
    /// Check them with Bitcoin Core's interpreter (--verify).
    pub verify: Option<Flag>,
}

/// A revoked output.
#[derive(Serialize, JsonSchema)]
pub struct RevokedOut {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub outpoint: String,
    pub amount_sat: u64,
    pub htlc: Option<HtlcOut>,
}

/// An output left out: worth less than its own fee.
#[derive(Serialize, JsonSchema)]
pub struct UneconomicalOut {
    pub outpoint: String,
    pub reason: String,
}

/// `penalty`'s output.
#[derive(Serialize, JsonSchema)]
pub struct PenaltyOut {
    /// local or remote.
    pub cheater: &'static str,
    pub revoked_txid: String,
    pub to_self_delay: u16,
    pub commitment_number: Option<u64>,
    pub per_commitment_point: String,
    pub revocationpubkey: String,
    /// Every revoked output.
    pub found: Vec<RevokedOut>,
    /// Spent already (by a second-stage transaction).
    pub already_spent: Vec<RevokedOut>,
    pub claimed: Vec<RevokedOut>,
    pub claimed_sat: u64,
    pub penalty_txs: Vec<SpendTxOut>,
    pub uneconomical: Vec<UneconomicalOut>,
    /// With --verify.
    pub verified: Option<bool>,
}
