//! Swaps between the chain and Lightning, or between two chains, with no
//! trust: both legs lock to one payment hash, so claiming one leg reveals the
//! preimage that claims the other, and a timeout returns each side's coins if
//! the other walks away.
//!
//! - [`contract`]: the script (P2WSH) or tap tree (P2TR) of a lock, and
//!   reading them back;
//! - [`musig`]: the MuSig2 (BIP 327) internal key and the cooperative key-path signature;
//! - [`spend`]: the claim, refund and cooperative transactions;
//! - [`timeout`]: when a timeout is safe, for each kind of swap;
//! - [`chain`]: the chains a leg can be on (address encodings, block intervals);
//! - [`verify`]: the checks a client runs on a lockup a service describes.

pub mod chain;
pub mod contract;
pub mod musig;
pub mod spend;
pub mod terms;
pub mod timeout;
pub mod verify;
pub mod view;

use bitcoin::Amount;

use crate::amount::Msat;

/// A submarine swap's lockup does not cover the invoice it pays for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the lockup ({lockup} sat) is less than the invoice asks ({invoice} msat): the service would pay more than it receives")]
pub struct LockupBelowInvoice {
    /// The lockup, sat.
    pub lockup: u64,
    /// The invoice amount, msat.
    pub invoice: u64,
}

/// Submarine: the service pays the user's invoice out of the lockup, so the
/// lockup must cover the invoice amount (the difference is the service's fee).
pub fn check_submarine_amount(lockup: Amount, invoice: Msat) -> Result<(), LockupBelowInvoice> {
    if u128::from(lockup.to_sat()) * 1000 >= u128::from(invoice.0) {
        Ok(())
    } else {
        Err(LockupBelowInvoice {
            lockup: lockup.to_sat(),
            invoice: invoice.0,
        })
    }
}

/// Which way value moves.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SwapKind {
    /// Chain → Lightning: the user locks on chain to the hash of the invoice it
    /// wants paid; the service pays it, learns the preimage and claims.
    Submarine,
    /// Lightning → chain: the user pays the service's hold invoice; the service
    /// locks on chain to the user's hash; the user claims, revealing the preimage.
    Reverse,
    /// Chain → chain: two locks to one hash, one per chain.
    Chain,
}

impl SwapKind {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            SwapKind::Submarine => "submarine",
            SwapKind::Reverse => "reverse",
            SwapKind::Chain => "chain",
        }
    }
}
