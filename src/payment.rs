//! The values an HTLC is made of (BOLT 2 `update_add_htlc`, `update_fulfill_htlc`):
//! the `payment_hash` it locks to, the `payment_preimage` that unlocks it, and
//! its `cltv_expiry`.

use std::fmt;

use sha2::{Digest, Sha256};

/// `payment_hash`: SHA256 of the payment preimage.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct PaymentHash(#[serde(with = "hex::serde")] pub [u8; 32]);

/// `payment_preimage`: the 32-byte secret whose SHA256 is the payment hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PaymentPreimage(#[serde(with = "hex::serde")] pub [u8; 32]);

impl PaymentPreimage {
    /// The payment hash this preimage unlocks.
    pub fn payment_hash(&self) -> PaymentHash {
        PaymentHash(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for PaymentPreimage {
    // A preimage is money: never printed by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaymentPreimage(..)")
    }
}

impl fmt::Display for PaymentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// `cltv_expiry`: the absolute block height at which an HTLC (or a swap) times out.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct CltvExpiry(pub u32);

impl CltvExpiry {
    /// Largest block height a CLTV can name: nLockTime values from 500,000,000 on are UNIX times.
    pub const MAX_HEIGHT: u32 = 499_999_999;
}
