//! Millisatoshi amounts. Lightning balances and HTLCs are counted in
//! millisatoshis (BOLT 2 `amount_msat`); anything on chain is whole satoshis
//! (`bitcoin::Amount`), rounded down (BOLT 3: "The amounts for each output
//! MUST be rounded down to whole satoshis").

use std::fmt;
use std::iter::Sum;

use bitcoin::Amount;

/// An amount in millisatoshis.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Msat(pub u64);

impl Msat {
    /// Zero.
    pub const ZERO: Msat = Msat(0);

    /// A whole number of satoshis, in millisatoshis (`None` on overflow).
    pub fn from_sat(amount: Amount) -> Option<Msat> {
        amount.to_sat().checked_mul(1000).map(Msat)
    }

    /// Rounded down to whole satoshis, as every on-chain output is.
    pub fn to_sat_floor(self) -> Amount {
        Amount::from_sat(self.0 / 1000)
    }

    /// `self + other`, `None` on overflow.
    pub fn checked_add(self, other: Msat) -> Option<Msat> {
        self.0.checked_add(other.0).map(Msat)
    }

    /// `self - other`, `None` below zero.
    pub fn checked_sub(self, other: Msat) -> Option<Msat> {
        self.0.checked_sub(other.0).map(Msat)
    }
}

impl fmt::Display for Msat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} msat", self.0)
    }
}

impl Sum for Msat {
    fn sum<I: Iterator<Item = Msat>>(iter: I) -> Msat {
        Msat(iter.map(|m| m.0).sum())
    }
}
