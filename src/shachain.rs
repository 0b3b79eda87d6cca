//! BOLT 3 "Per-commitment Secret Requirements" and "Efficient Per-commitment
//! Secret Storage": the shachain.
//!
//! The holder of a channel generates the `per_commitment_secret` of every
//! commitment from one seed, indexes counting *down* from 2^48−1 (commitment 0
//! uses index 2^48−1). The receiver of the secrets (in `revoke_and_ack`) keeps
//! them in 49 slots: a secret whose index ends in `b` zero bits regenerates the
//! secrets of all the indexes that share its prefix (every one of them was
//! revealed before it), so one secret per count of trailing zeros answers for
//! every secret received so far.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The number of bits in a shachain index (BOLT 3: "Up to (2^48 - 1) per-commitment secrets").
pub const INDEX_BITS: u32 = 48;
/// The first index used, that of commitment number 0.
pub const MAX_INDEX: u64 = (1 << INDEX_BITS) - 1;
/// Slots in the compact store: one per possible count of trailing zeros (0..=48).
pub const STORE_SLOTS: usize = INDEX_BITS as usize + 1;

/// A 48-bit shachain index `I`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Index(u64);

/// A commitment number: 0 for the first commitment, incremented with each update (BOLT 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommitmentNumber(pub u64);

/// An index or commitment number outside the 48-bit range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not below 2^48 (281474976710656)")]
pub struct OutOfRange(pub u64);

impl Index {
    /// The index `I`, which must be below 2^48.
    pub fn new(index: u64) -> Result<Self, OutOfRange> {
        if index > MAX_INDEX {
            Err(OutOfRange(index))
        } else {
            Ok(Index(index))
        }
    }

    /// BOLT 3: the first secret used is index 2^48−1, "and from there, the index is decremented".
    pub fn from_commitment_number(n: CommitmentNumber) -> Result<Self, OutOfRange> {
        if n.0 > MAX_INDEX {
            Err(OutOfRange(n.0))
        } else {
            Ok(Index(MAX_INDEX - n.0))
        }
    }

    /// The commitment number whose secret this index holds.
    pub fn commitment_number(self) -> CommitmentNumber {
        CommitmentNumber(MAX_INDEX - self.0)
    }

    /// The raw 48-bit value.
    pub fn value(self) -> u64 {
        self.0
    }

    /// BOLT 3 `where_to_put_secret`: the number of trailing zero bits (48 for index 0).
    pub fn slot(self) -> usize {
        if self.0 == 0 {
            INDEX_BITS as usize
        } else {
            self.0.trailing_zeros() as usize
        }
    }
}

impl TryFrom<u64> for Index {
    type Error = OutOfRange;
    fn try_from(v: u64) -> Result<Self, OutOfRange> {
        Index::new(v)
    }
}

impl From<Index> for u64 {
    fn from(i: Index) -> u64 {
        i.0
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A 32-byte shachain secret (a `per_commitment_secret`, or the seed).
pub type Secret = [u8; 32];

/// BOLT 3 `flip(B)`: toggle bit `B mod 8` of byte `B div 8`.
fn flip(value: &mut Secret, bit: u32) {
    value[(bit / 8) as usize] ^= 1 << (bit % 8);
}

/// BOLT 3 `derive_secret(base, bits, I)`: walk from `base` down the bits below `bits` that are set in `I`.
fn derive_secret(base: &Secret, bits: u32, index: u64) -> Secret {
    let mut p = *base;
    for b in (0..bits).rev() {
        if index & (1 << b) != 0 {
            flip(&mut p, b);
            p = Sha256::digest(p).into();
        }
    }
    p
}

/// BOLT 3 `generate_from_seed(seed, I)`: the `I`th per-commitment secret.
pub fn generate_from_seed(seed: &Secret, index: Index) -> Secret {
    derive_secret(seed, INDEX_BITS, index.0)
}

/// One filled slot of the compact store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The slot: the number of trailing zeros of `index`.
    pub slot: usize,
    /// The index the secret was received for.
    pub index: Index,
    /// The secret, hex.
    #[serde(with = "hex::serde")]
    pub secret: Secret,
}

/// The receiver's compact store of per-commitment secrets: at most 49 entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoreRepr", into = "StoreRepr")]
pub struct Store {
    slots: [Option<(Index, Secret)>; STORE_SLOTS],
}

/// Why an insert was refused. The store is unchanged in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    /// Secrets arrive one by one, in descending index order.
    #[error("expected the secret for index {expected} (the next after the store's last, {last}), got index {got}")]
    OutOfOrder {
        /// The index the store expects next.
        expected: Index,
        /// The lowest index already stored.
        last: Index,
        /// The index given.
        got: Index,
    },
    /// The first secret of a store can be any index; later ones must follow. Index 2^48−1 has gone.
    #[error("the store already ends at index 0: no further secrets exist")]
    Exhausted,
    /// BOLT 3 `insert_secret`: "The secret for I is incorrect".
    #[error("the secret for index {index} does not derive the stored secret for earlier index {earlier} (slot {slot}): the two were not generated from the same seed")]
    Mismatch {
        /// The index inserted.
        index: Index,
        /// The stored index whose secret this one fails to derive.
        earlier: Index,
        /// That entry's slot.
        slot: usize,
    },
}

/// Why a lookup found nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The store is empty.
    #[error("the store is empty")]
    Empty,
    /// No stored secret has a prefix of this index: it was not received yet.
    #[error("index {index} has not been received yet: the store holds indexes {highest} down to {lowest}")]
    NotReceived {
        /// The index asked for.
        index: Index,
        /// The first index received.
        highest: Index,
        /// The last index received.
        lowest: Index,
    },
}

impl Default for Store {
    fn default() -> Self {
        Store {
            slots: [None; STORE_SLOTS],
        }
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The filled entries, by slot.
    pub fn entries(&self) -> Vec<Entry> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, e)| {
                e.map(|(index, secret)| Entry {
                    slot,
                    index,
                    secret,
                })
            })
            .collect()
    }

    /// The lowest (latest) index received, if any.
    pub fn lowest_index(&self) -> Option<Index> {
        self.slots.iter().flatten().map(|(i, _)| *i).min()
    }

    /// The highest (first) index this store can answer for: every secret from the
    /// first one received is derivable, so this is the highest index stored.
    fn highest_index(&self) -> Option<Index> {
        self.slots.iter().flatten().map(|(i, _)| *i).max()
    }

    /// BOLT 3 `insert_secret`, plus the order a receiver must enforce: after the
    /// first secret, each must be for the index right below the last one.
    pub fn insert(&mut self, index: Index, secret: Secret) -> Result<(), InsertError> {
        if let Some(last) = self.lowest_index() {
            if last.0 == 0 {
                return Err(InsertError::Exhausted);
            }
            let expected = Index(last.0 - 1);
            if index != expected {
                return Err(InsertError::OutOfOrder {
                    expected,
                    last,
                    got: index,
                });
            }
        }
        let slot = index.slot();
        for b in 0..slot {
            if let Some((earlier, stored)) = self.slots[b] {
                if derive_secret(&secret, slot as u32, earlier.0) != stored {
                    return Err(InsertError::Mismatch {
                        index,
                        earlier,
                        slot: b,
                    });
                }
            }
        }
        self.slots[slot] = Some((index, secret));
        Ok(())
    }

    /// BOLT 3 `derive_old_secret`: the secret for `index`, from the entry whose index is its prefix.
    pub fn lookup(&self, index: Index) -> Result<Secret, LookupError> {
        for (b, entry) in self.slots.iter().enumerate() {
            if let Some((known, secret)) = entry {
                let mask = !((1u64 << b) - 1);
                if index.0 & mask == known.0 {
                    return Ok(derive_secret(secret, b as u32, index.0));
                }
            }
        }
        match (self.highest_index(), self.lowest_index()) {
            (Some(highest), Some(lowest)) => Err(LookupError::NotReceived {
                index,
                highest,
                lowest,
            }),
            _ => Err(LookupError::Empty),
        }
    }
}

/// The JSON form of a [`Store`]: `{"entries": [{"slot", "index", "secret"}, ...]}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreRepr {
    entries: Vec<Entry>,
}

/// A JSON store whose entries are inconsistent with the shachain layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreFormatError {
    /// An entry's slot must be the count of trailing zeros of its index.
    #[error("entry for index {index}: slot {slot} should be {expected} (the index's trailing zero bits)")]
    WrongSlot {
        /// The entry's index.
        index: Index,
        /// The slot it claimed.
        slot: usize,
        /// The slot it belongs in.
        expected: usize,
    },
    /// Two entries claimed the same slot.
    #[error("two entries in slot {0}")]
    DuplicateSlot(usize),
}

impl TryFrom<StoreRepr> for Store {
    type Error = StoreFormatError;
    fn try_from(repr: StoreRepr) -> Result<Self, StoreFormatError> {
        let mut store = Store::new();
        for e in repr.entries {
            let expected = e.index.slot();
            if e.slot != expected {
                return Err(StoreFormatError::WrongSlot {
                    index: e.index,
                    slot: e.slot,
                    expected,
                });
            }
            if store.slots[expected].is_some() {
                return Err(StoreFormatError::DuplicateSlot(expected));
            }
            store.slots[expected] = Some((e.index, e.secret));
        }
        Ok(store)
    }
}

impl From<Store> for StoreRepr {
    fn from(store: Store) -> StoreRepr {
        StoreRepr {
            entries: store.entries(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_matches_the_spec_examples() {
        // BOLT 3: "flip(0) in e3b0..." is "e2b0...", and "flip(10) in e3b0..." is "e3b4...".
        let mut v = [0u8; 32];
        v[0] = 0xe3;
        v[1] = 0xb0;
        let mut a = v;
        flip(&mut a, 0);
        assert_eq!(&a[..2], &[0xe2, 0xb0]);
        let mut b = v;
        flip(&mut b, 10);
        assert_eq!(&b[..2], &[0xe3, 0xb4]);
    }

    #[test]
    fn commitment_number_and_index_convert() {
        let i = Index::from_commitment_number(CommitmentNumber(0)).unwrap();
        assert_eq!(i.value(), MAX_INDEX);
        assert_eq!(
            Index::new(MAX_INDEX - 42).unwrap().commitment_number(),
            CommitmentNumber(42)
        );
        assert!(Index::new(MAX_INDEX + 1).is_err());
        assert!(Index::from_commitment_number(CommitmentNumber(MAX_INDEX + 1)).is_err());
        assert_eq!(Index::new(0).unwrap().slot(), 48);
        assert_eq!(Index::new(8).unwrap().slot(), 3);
    }
}
