//! Channel factories (Burchert, Decker & Wattenhofer, "Scalable Funding of
//! Bitcoin Micropayment Channel Networks", 2018): a group of parties funds
//! one N-of-N output on chain, then splits it off chain into as many
//! two-party channels as they like, and reallocates them without touching
//! the chain again.
//!
//! The transactions, as this module builds them:
//!
//! ```text
//! hook        parties' coins -> one Taproot output, key = MuSig2 of all N keys   (on chain)
//!   kickoff   hook -> one Taproot output, same key                              (signed, held)
//!     allocation n   kickoff -> channels' 2-of-2 P2WSH + each party's share,    (signed, held)
//!                    nSequence = (steps - n) * step_blocks (BIP 68, blocks)
//!   close     hook -> every party's balance, one transaction                    (cooperative)
//! ```
//!
//! The kickoff is the invalidation layer's root (Decker & Wattenhofer's
//! duplex channels): its confirmation starts every allocation's relative
//! timelock at once, and allocation n+1 waits `step_blocks` fewer blocks
//! than allocation n, so the newest allocation always becomes valid first
//! and spends the kickoff before any older one can. Without a kickoff, the
//! clocks would run from the hook's confirmation and every allocation would
//! be valid once the oldest one is. One layer gives `steps + 1` allocations;
//! a deeper tree multiplies them, at one more transaction per layer on exit.
//!
//! A channel inside the factory is an ordinary BOLT 3 channel whose funding
//! output is an allocation output: `build-commitment`, `penalty` and `close`
//! work on it unchanged.
//!
//! - [`build`]: the hook, the kickoff, allocations and the cooperative close;
//! - [`exit`]: the unilateral path and the heights each step becomes valid at;
//! - [`space`]: the chain space of a factory against opening channels one by one.

pub mod build;
pub mod exit;
pub mod space;

use bitcoin::{Amount, FeeRate, ScriptBuf, Transaction, Txid};
use serde::{Deserialize, Serialize};

pub use build::{allocate, close, create, settle, sign_key_path, HookRequest};

/// BIP 68: a relative timelock in blocks is 16 bits.
pub const MAX_RELATIVE_BLOCKS: u32 = 0xffff;

/// One member of a factory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// A label for people ("alice"); the index is what transactions use.
    pub name: String,
    /// The key the party signs the factory's transactions with (a MuSig2 member).
    pub pubkey: bitcoin::secp256k1::PublicKey,
    /// What the party put into the hook.
    #[serde(rename = "amount_sat", with = "bitcoin::amount::serde::as_sat")]
    pub amount: Amount,
    /// Where its change, share and close payout go.
    pub payout_script: ScriptBuf,
}

/// The invalidation layer: how many allocations it allows and how far apart
/// their timelocks are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// Blocks between two allocations' timelocks: the time a party has to get
    /// the newest allocation confirmed before the one before it becomes valid.
    pub step_blocks: u16,
    /// Updates after the first allocation (allocation `steps` has no delay).
    pub steps: u16,
}

impl Layer {
    /// A layer, if its first timelock fits BIP 68's 16 bits.
    pub fn new(step_blocks: u16, steps: u16) -> Result<Self, FactoryError> {
        if step_blocks == 0 {
            return Err(FactoryError::ZeroStep);
        }
        let first = u32::from(step_blocks) * u32::from(steps);
        if first > MAX_RELATIVE_BLOCKS {
            return Err(FactoryError::LayerTooDeep { first });
        }
        Ok(Layer { step_blocks, steps })
    }

    /// Allocation `number`'s relative timelock, in blocks after the kickoff.
    pub fn delay(&self, number: u16) -> Result<u16, FactoryError> {
        if number > self.steps {
            return Err(FactoryError::OutOfSteps {
                number,
                steps: self.steps,
                left: 0,
            });
        }
        Ok((self.steps - number) * self.step_blocks)
    }

    /// Updates still possible after allocation `number`.
    pub fn left_after(&self, number: u16) -> u16 {
        self.steps.saturating_sub(number)
    }
}

/// One channel of an allocation: a BOLT 3 2-of-2 funding output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The two parties, by index.
    pub parties: [usize; 2],
    /// Each side's balance, in the order of `parties`.
    #[serde(rename = "amounts_sat", with = "sat_pair")]
    pub amounts: [Amount; 2],
    /// The channel's `funding_pubkey`s, in the order of `parties`.
    pub funding_pubkeys: [bitcoin::secp256k1::PublicKey; 2],
}

impl Channel {
    /// The channel's capacity.
    pub fn capacity(&self) -> Amount {
        self.amounts[0] + self.amounts[1]
    }

    /// Its BOLT 3 funding script.
    pub fn funding_script(&self) -> ScriptBuf {
        crate::script::funding_script(&self.funding_pubkeys[0], &self.funding_pubkeys[1])
    }
}

/// An allocation everyone has signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// 0 for the first, one more for each update.
    pub number: u16,
    /// Its relative timelock after the kickoff, in blocks.
    pub delay_blocks: u16,
    /// The channels, which are outputs `0..channels.len()`.
    pub channels: Vec<Channel>,
    /// Each party's unallocated share (an output after the channels when not zero).
    #[serde(rename = "shares_sat", with = "sat_vec")]
    pub shares: Vec<Amount>,
    /// The transaction, signed by all.
    #[serde(rename = "tx_hex", with = "tx_hex")]
    pub tx: Transaction,
}

/// A factory: what every party keeps, and what each step reads and writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factory {
    /// The members, in the order indexes refer to.
    pub parties: Vec<Party>,
    /// The hook transaction's txid.
    pub hook_txid: Txid,
    /// The hook output's index.
    pub hook_vout: u32,
    /// The hook output's value.
    #[serde(rename = "hook_amount_sat", with = "bitcoin::amount::serde::as_sat")]
    pub hook_amount: Amount,
    /// The invalidation layer.
    #[serde(flatten)]
    pub layer: Layer,
    /// The feerate every pre-signed transaction pays.
    pub feerate_sat_per_vb: u64,
    /// What each party owns of the kickoff output: its contribution less its
    /// share of the kickoff's fee, moved by the payments in its channels.
    #[serde(rename = "claims_sat", with = "sat_vec")]
    pub claims: Vec<Amount>,
    /// The kickoff, signed by all (absent until the first allocation).
    #[serde(rename = "kickoff_tx_hex", with = "opt_tx_hex", default)]
    pub kickoff: Option<Transaction>,
    /// The newest allocation (absent until the first).
    #[serde(default)]
    pub allocation: Option<Allocation>,
}

impl Factory {
    /// The feerate of the pre-signed transactions.
    pub fn feerate(&self) -> FeeRate {
        FeeRate::from_sat_per_vb(self.feerate_sat_per_vb).unwrap_or(FeeRate::MAX)
    }

    /// The parties' keys, in party order.
    pub fn keys(&self) -> Vec<bitcoin::secp256k1::PublicKey> {
        self.parties.iter().map(|p| p.pubkey).collect()
    }

    /// Check a factory read back from outside (a file, a pipe) before any
    /// step uses it: the lists agree in length, the layer fits BIP 68, and
    /// the claims add up to the kickoff output, which bounds every amount.
    pub fn validate(&self) -> Result<(), FactoryError> {
        let n = self.parties.len();
        if n < 2 {
            return Err(FactoryError::TooFewParties(n));
        }
        Layer::new(self.layer.step_blocks, self.layer.steps)?;
        if self.claims.len() != n {
            return Err(FactoryError::Length {
                field: "factory.claims_sat",
                expected: n,
                per: "party",
                got: self.claims.len(),
            });
        }
        let kickoff = build::kickoff_unsigned(self)?;
        let claimed = self
            .claims
            .iter()
            .try_fold(Amount::ZERO, |s, c| s.checked_add(*c));
        if claimed != Some(kickoff.output[0].value) {
            return Err(FactoryError::Corrupt(format!(
                "factory.claims_sat: they add up to {}, but the kickoff output holds {} sat",
                claimed.map_or("more than 21 million BTC".into(), |c| format!(
                    "{} sat",
                    c.to_sat()
                )),
                kickoff.output[0].value.to_sat()
            )));
        }
        if let Some(a) = &self.allocation {
            if a.shares.len() != n {
                return Err(FactoryError::Length {
                    field: "factory.allocation.shares_sat",
                    expected: n,
                    per: "party",
                    got: a.shares.len(),
                });
            }
            for (k, c) in a.channels.iter().enumerate() {
                if c.parties.iter().any(|p| *p >= n)
                    || c.amounts[0].checked_add(c.amounts[1]).is_none()
                {
                    return Err(FactoryError::Corrupt(format!(
                        "factory.allocation.channels[{k}]: parties must be below {n} and amounts_sat within range"
                    )));
                }
            }
            if a.number > self.layer.steps {
                return Err(FactoryError::Corrupt(format!(
                    "factory.allocation.number: {} is beyond the layer's {} steps",
                    a.number, self.layer.steps
                )));
            }
        }
        Ok(())
    }
}

/// `total` split into `n` shares that differ by at most 1 sat, the larger
/// ones first: how the parties share a fee they cause together.
pub fn split_evenly(total: Amount, n: usize) -> Vec<Amount> {
    let n64 = n.max(1) as u64;
    let (each, rest) = (total.to_sat() / n64, total.to_sat() % n64);
    (0..n as u64)
        .map(|i| Amount::from_sat(each + u64::from(i < rest)))
        .collect()
}

/// Why a factory step cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactoryError {
    /// A factory of one is a wallet.
    #[error("parties: a factory needs at least 2 parties, got {0}")]
    TooFewParties(usize),
    /// Two parties gave one key.
    #[error("parties[{second}].pubkey: the same key as parties[{first}]; each party signs with its own key")]
    DuplicateKey {
        /// The first party with the key.
        first: usize,
        /// The second.
        second: usize,
    },
    /// A party has no coins to fund its part.
    #[error("parties[{party}].inputs: no inputs: every party funds its part of the hook")]
    NoInputs {
        /// The party.
        party: usize,
    },
    /// A party's coins do not cover its contribution and fee share.
    #[error("parties[{party}].inputs: they hold {available} sat, but the contribution and its share of the hook's fee need {needed} sat")]
    Insufficient {
        /// The party.
        party: usize,
        /// What its inputs hold.
        available: u64,
        /// What it must pay.
        needed: u64,
    },
    /// A party's wallet input is malformed.
    #[error("parties[{party}].inputs: {reason}")]
    Input {
        /// The party.
        party: usize,
        /// What the funding builder said.
        reason: String,
    },
    /// Every pre-signed transaction's timelock must start above zero.
    #[error("step_blocks: must be at least 1")]
    ZeroStep,
    /// The first allocation's timelock does not fit BIP 68.
    #[error("steps: steps × step_blocks = {first} blocks, but the first allocation's relative timelock must fit BIP 68's 65535 blocks")]
    LayerTooDeep {
        /// The first timelock asked for.
        first: u32,
    },
    /// No lower timelock is left for another allocation.
    #[error("the invalidation layer has no timelock step left for allocation {number}: {left} of {steps} steps left; close the factory cooperatively (factory close) and open a new one")]
    OutOfSteps {
        /// The allocation asked for.
        number: u16,
        /// The layer's steps.
        steps: u16,
        /// How many were left.
        left: u16,
    },
    /// A channel names a party that is not in the factory.
    #[error("channels[{channel}].parties: party {party} does not exist (the factory has {count})")]
    UnknownParty {
        /// The channel.
        channel: usize,
        /// The index given.
        party: usize,
        /// How many parties there are.
        count: usize,
    },
    /// A channel between a party and itself.
    #[error("channels[{channel}].parties: a channel needs two different parties")]
    SelfChannel {
        /// The channel.
        channel: usize,
    },
    /// A channel too small for its output.
    #[error("channels[{channel}].amounts_sat: a capacity of {capacity} sat is below the P2WSH dust limit ({dust} sat)")]
    ChannelDust {
        /// The channel.
        channel: usize,
        /// Its capacity.
        capacity: u64,
        /// The dust limit.
        dust: u64,
    },
    /// A party puts more into channels than it owns.
    #[error("channels: party {party} puts {allocated} sat into channels but owns {owned} sat of the factory (less its share of the fee)")]
    Overdrawn {
        /// The party.
        party: usize,
        /// What its channel sides add up to, with its fee share.
        allocated: u64,
        /// What it owns.
        owned: u64,
    },
    /// The given shares and channels do not add up to the factory.
    #[error("the allocation adds up to {allocated} sat (channels {channels} + shares {shares}), but the hook's {hook} sat less the kickoff's fee ({kickoff_fee}) and this allocation's fee ({allocation_fee}) leave {available} sat: {difference}")]
    Mismatch {
        /// Channels plus shares.
        allocated: u64,
        /// The channels' capacity.
        channels: u64,
        /// The shares.
        shares: u64,
        /// The hook output.
        hook: u64,
        /// The kickoff's fee.
        kickoff_fee: u64,
        /// This allocation's fee.
        allocation_fee: u64,
        /// What the allocation must add up to.
        available: u64,
        /// "N sat short" or "N sat too many".
        difference: String,
    },
    /// A share is not zero but too small for an output.
    #[error("shares_sat[{party}]: {amount} sat is below the dust limit of its payout script ({dust} sat); put it in a channel or leave it out")]
    ShareDust {
        /// The party.
        party: usize,
        /// Its share.
        amount: u64,
        /// The limit.
        dust: u64,
    },
    /// A list has the wrong length.
    #[error("{field}: expected {expected} entries (one per {per}), got {got}")]
    Length {
        /// The field.
        field: &'static str,
        /// How many were expected.
        expected: usize,
        /// Per what.
        per: &'static str,
        /// How many were given.
        got: usize,
    },
    /// A step that needs an allocation before it.
    #[error("factory.allocation: there is no allocation yet: run factory allocate first")]
    NoAllocation,
    /// Balances that do not add up to their channel.
    #[error("balances[{channel}]: {given} sat, but the channel holds {capacity} sat")]
    BalanceMismatch {
        /// The channel.
        channel: usize,
        /// The two balances' sum.
        given: u64,
        /// Its capacity.
        capacity: u64,
    },
    /// The MuSig2 signing failed (a key that is not a member, a missing one).
    #[error("privkeys: {0}")]
    Signing(String),
    /// An amount out of range.
    #[error("{0}: the amounts add up to more than 21 million BTC")]
    Overflow(&'static str),
    /// A factory object that does not hold together (edited, or cut short).
    #[error("{0}")]
    Corrupt(String),
}

/// `[Amount; 2]` as `[sat, sat]`.
mod sat_pair {
    use bitcoin::Amount;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Amount; 2], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|a| a.to_sat()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[Amount; 2], D::Error> {
        let [a, b] = <[u64; 2]>::deserialize(d)?;
        Ok([Amount::from_sat(a), Amount::from_sat(b)])
    }
}

/// `Vec<Amount>` as `[sat, ...]`.
mod sat_vec {
    use bitcoin::Amount;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Amount], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|a| a.to_sat()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Amount>, D::Error> {
        Ok(Vec::<u64>::deserialize(d)?
            .into_iter()
            .map(Amount::from_sat)
            .collect())
    }
}

/// A transaction as its consensus hex.
mod tx_hex {
    use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
    use bitcoin::Transaction;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tx: &Transaction, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serialize_hex(tx))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Transaction, D::Error> {
        let text = String::deserialize(d)?;
        deserialize_hex(&text)
            .map_err(|e| D::Error::custom(format!("expected a transaction in hex ({e})")))
    }
}

/// An optional transaction as its consensus hex.
mod opt_tx_hex {
    use bitcoin::Transaction;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tx: &Option<Transaction>, s: S) -> Result<S::Ok, S::Error> {
        match tx {
            Some(tx) => super::tx_hex::serialize(tx, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Transaction>, D::Error> {
        #[derive(Deserialize)]
        struct Hex(#[serde(with = "super::tx_hex")] Transaction);
        Ok(Option::<Hex>::deserialize(d)?.map(|h| h.0))
    }
}
