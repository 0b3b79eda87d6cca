//! The channel's fields as typed request parts, shared by `build-commitment`,
//! `penalty` and `close`: the funding output, each party's keys (a point, or
//! its secret), the holder's per-commitment point, and the HTLCs.

use schemars::JsonSchema;
use serde::Deserialize;

use super::field::{CommitmentNum, Hex32, Privkey, Pubkey, Sat, TxidHex, Uint, Uint32};
use crate::tx::commitment::{ChannelType, HtlcDirection, Side};

/// The funding output and the channel's type.
#[derive(Deserialize, JsonSchema)]
pub struct FundingIn {
    pub funding_txid: TxidHex,
    pub funding_output_index: Uint32,
    pub funding_amount_sat: Sat,
    /// The commitment format the channel negotiated (BOLT 9).
    pub channel_type: Option<ChannelType>,
    /// Who opened the channel and pays the commitment fee (default local).
    pub opener: Option<Side>,
}

/// Each party's keys: every point may be given as its secret instead.
#[derive(Deserialize, JsonSchema)]
pub struct KeysIn {
    pub local_funding_pubkey: Option<Pubkey>,
    /// Signs the commitment (or gives local_funding_pubkey).
    pub local_funding_privkey: Option<Privkey>,
    pub remote_funding_pubkey: Option<Pubkey>,
    pub remote_funding_privkey: Option<Privkey>,
    pub local_payment_basepoint: Option<Pubkey>,
    pub local_payment_basepoint_secret: Option<Privkey>,
    pub remote_payment_basepoint: Option<Pubkey>,
    pub remote_payment_basepoint_secret: Option<Privkey>,
    pub local_delayed_payment_basepoint: Option<Pubkey>,
    pub local_delayed_payment_basepoint_secret: Option<Privkey>,
    pub remote_delayed_payment_basepoint: Option<Pubkey>,
    pub remote_delayed_payment_basepoint_secret: Option<Privkey>,
    pub local_htlc_basepoint: Option<Pubkey>,
    pub local_htlc_basepoint_secret: Option<Privkey>,
    pub remote_htlc_basepoint: Option<Pubkey>,
    pub remote_htlc_basepoint_secret: Option<Privkey>,
    pub local_revocation_basepoint: Option<Pubkey>,
    pub local_revocation_basepoint_secret: Option<Privkey>,
    pub remote_revocation_basepoint: Option<Pubkey>,
    pub remote_revocation_basepoint_secret: Option<Privkey>,
}

impl KeysIn {
    /// The point `{side}_{name}`, when given.
    pub fn point(&self, side: Side, name: &str) -> Option<&Pubkey> {
        let local = side == Side::Local;
        match name {
            "funding_pubkey" if local => self.local_funding_pubkey.as_ref(),
            "funding_pubkey" => self.remote_funding_pubkey.as_ref(),
            "payment_basepoint" if local => self.local_payment_basepoint.as_ref(),
            "payment_basepoint" => self.remote_payment_basepoint.as_ref(),
            "delayed_payment_basepoint" if local => self.local_delayed_payment_basepoint.as_ref(),
            "delayed_payment_basepoint" => self.remote_delayed_payment_basepoint.as_ref(),
            "htlc_basepoint" if local => self.local_htlc_basepoint.as_ref(),
            "htlc_basepoint" => self.remote_htlc_basepoint.as_ref(),
            "revocation_basepoint" if local => self.local_revocation_basepoint.as_ref(),
            "revocation_basepoint" => self.remote_revocation_basepoint.as_ref(),
            _ => None,
        }
    }

    /// The secret of the point `{side}_{name}`, when given.
    pub fn secret(&self, side: Side, name: &str) -> Option<&Privkey> {
        let local = side == Side::Local;
        match name {
            "funding_pubkey" if local => self.local_funding_privkey.as_ref(),
            "funding_pubkey" => self.remote_funding_privkey.as_ref(),
            "payment_basepoint" if local => self.local_payment_basepoint_secret.as_ref(),
            "payment_basepoint" => self.remote_payment_basepoint_secret.as_ref(),
            "delayed_payment_basepoint" if local => {
                self.local_delayed_payment_basepoint_secret.as_ref()
            }
            "delayed_payment_basepoint" => self.remote_delayed_payment_basepoint_secret.as_ref(),
            "htlc_basepoint" if local => self.local_htlc_basepoint_secret.as_ref(),
            "htlc_basepoint" => self.remote_htlc_basepoint_secret.as_ref(),
            "revocation_basepoint" if local => self.local_revocation_basepoint_secret.as_ref(),
            "revocation_basepoint" => self.remote_revocation_basepoint_secret.as_ref(),
            _ => None,
        }
    }
}

/// The holder's point for this commitment, or what gives it.
#[derive(Deserialize, JsonSchema)]
pub struct PerCommitmentIn {
    pub per_commitment_point: Option<Pubkey>,
    /// Gives per_commitment_point.
    pub per_commitment_secret: Option<Privkey>,
    /// The holder's seed: gives the secret of commitment_number.
    pub shachain_seed: Option<Hex32>,
}

/// The commitment's number.
#[derive(Deserialize, JsonSchema)]
pub struct NumberIn {
    /// 0 for the first commitment.
    pub commitment_number: CommitmentNum,
}

/// One HTLC of the commitment.
#[derive(Deserialize, JsonSchema)]
pub struct HtlcIn {
    /// offered or received, from the holder's view.
    pub direction: HtlcDirection,
    pub amount_msat: Uint,
    /// The payment hash (or payment_preimage).
    pub payment_hash: Option<Hex32>,
    /// Its preimage: lets the holder's HTLC-success be signed in full.
    pub payment_preimage: Option<Hex32>,
    pub cltv_expiry: Uint32,
}

/// The commitment's HTLCs.
#[derive(Deserialize, JsonSchema)]
pub struct HtlcsIn {
    /// Each `{direction, amount_msat, payment_hash | payment_preimage, cltv_expiry}`.
    pub htlcs: Option<Vec<HtlcIn>>,
}
