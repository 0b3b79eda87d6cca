//! A wallet input as the funding and lockup steps read it: the output it
//! spends, its amount and the key that signs for it.

use bitcoin::OutPoint;

use super::field::{Sat, Script, TxidHex, Uint32, Wif};
use crate::tx::funding::{FundingInput, InputKind};

/// A wallet input: the output it spends, and the key that signs for it.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct WalletInputIn {
    /// The transaction of the output spent.
    txid: TxidHex,
    /// The output's index.
    vout: Uint32,
    /// Its amount.
    amount_sat: Sat,
    /// p2wpkh or p2pkh (default p2wpkh).
    #[serde(rename = "type")]
    kind: Option<WalletInputType>,
    /// Its key; without it, the input is left for a PSBT signer.
    privkey: Option<Wif>,
    /// Its scriptPubKey, when not the key's P2WPKH/P2PKH.
    script_pubkey: Option<Script>,
}

/// The kinds of wallet input.
#[derive(serde::Deserialize, schemars::JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum WalletInputType {
    /// Native SegWit v0.
    P2wpkh,
    /// Legacy.
    P2pkh,
}

impl WalletInputIn {
    /// The library's funding input.
    pub(crate) fn funding_input(&self) -> FundingInput {
        FundingInput {
            previous_output: OutPoint {
                txid: self.txid.0,
                vout: self.vout.0,
            },
            amount: self.amount_sat.0,
            kind: match self.kind {
                Some(WalletInputType::P2pkh) => InputKind::P2pkh,
                _ => InputKind::P2wpkh,
            },
            key: self.privkey.as_ref().map(|k| k.0),
            script_pubkey: self.script_pubkey.as_ref().map(|s| s.0.clone()),
        }
    }
}
