//! An appointment: a locator the tower matches against every transaction of
//! every block, and the penalty transaction encrypted under the breach's txid.
//!
//! The format is The Eye of Satoshi's (`teos-common`, after the BOLT 13 draft):
//!
//! - `locator` = the first 16 bytes of the revoked commitment's txid, in the
//!   txid's internal (serialized, not displayed) byte order;
//! - `encrypted_blob` = ChaCha20-Poly1305 of the consensus-serialized penalty
//!   transaction, with key = SHA256(txid, internal order) and a 12-byte
//!   zero nonce, no associated data. The nonce can be fixed because each
//!   key encrypts one message only: the key is the breach's own txid.

use std::fmt;
use std::str::FromStr;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{consensus, Transaction, Txid};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};

/// Bytes in a locator.
pub const LOCATOR_LEN: usize = 16;

/// What a tower matches a transaction by: its txid's first 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Locator(pub [u8; LOCATOR_LEN]);

impl Locator {
    /// The locator of a (breach) transaction.
    pub fn of(txid: &Txid) -> Locator {
        let mut l = [0; LOCATOR_LEN];
        l.copy_from_slice(&txid.as_byte_array()[..LOCATOR_LEN]);
        Locator(l)
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl serde::Serialize for Locator {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Locator {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Locator {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Locator".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^[0-9a-f]{32}$"})
    }
}

impl FromStr for Locator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|e| format!("not hex: {e}"))?;
        let arr: [u8; LOCATOR_LEN] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{} bytes, expected {LOCATOR_LEN}", b.len()))?;
        Ok(Locator(arr))
    }
}

/// Why a blob gives no penalty for a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The tag does not verify under this txid's key: not this breach's blob
    /// (or a corrupted one).
    #[error("the blob does not decrypt under this transaction's txid (not its appointment, or corrupted)")]
    WrongKey,
    /// It decrypts, but not to a transaction.
    #[error("the blob decrypts, but not to a transaction: {0}")]
    NotATransaction(String),
}

/// The cipher keyed by a breach's txid.
fn cipher(breach: &Txid) -> ChaCha20Poly1305 {
    let key = sha256::Hash::hash(breach.as_byte_array());
    ChaCha20Poly1305::new(key.as_byte_array().into())
}

/// The penalty, encrypted under the breach's txid.
pub fn encrypt(penalty: &Transaction, breach: &Txid) -> Vec<u8> {
    cipher(breach)
        .encrypt(&Nonce::default(), consensus::serialize(penalty).as_slice())
        .expect("ChaCha20-Poly1305 encrypts any message under 256 GiB")
}

/// The penalty a blob holds, given the breach's txid.
pub fn decrypt(blob: &[u8], breach: &Txid) -> Result<Transaction, DecryptError> {
    let plain = cipher(breach)
        .decrypt(&Nonce::default(), blob)
        .map_err(|_| DecryptError::WrongKey)?;
    consensus::deserialize(&plain).map_err(|e| DecryptError::NotATransaction(e.to_string()))
}

/// What a node hands a tower for one revoked state; its JSON is teos's
/// (`locator` and `encrypted_blob` in hex).
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Appointment {
    /// The breach's locator.
    pub locator: Locator,
    /// The penalty, encrypted under the breach's txid.
    #[serde(with = "hex::serde")]
    #[schemars(with = "String")]
    pub encrypted_blob: Vec<u8>,
    /// The breach's `to_self_delay`: how long the tower has to act (teos
    /// carries it as a u32; it does not use it yet).
    pub to_self_delay: u32,
}

impl Appointment {
    /// The appointment for `penalty`, which punishes the commitment `breach`.
    pub fn new(penalty: &Transaction, breach: &Txid, to_self_delay: u32) -> Appointment {
        Appointment {
            locator: Locator::of(breach),
            encrypted_blob: encrypt(penalty, breach),
            to_self_delay,
        }
    }

    /// What a user signs to hand the appointment over (teos's
    /// `Appointment::to_vec`): `locator || encrypted_blob || to_self_delay`,
    /// the delay as 4 bytes big-endian.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LOCATOR_LEN + self.encrypted_blob.len() + 4);
        out.extend_from_slice(&self.locator.0);
        out.extend_from_slice(&self.encrypted_blob);
        out.extend_from_slice(&self.to_self_delay.to_be_bytes());
        out
    }

    /// The penalty, if `breach` is the transaction this appointment is for.
    pub fn open(&self, breach: &Transaction) -> Result<Transaction, DecryptError> {
        let txid = breach.compute_txid();
        if Locator::of(&txid) != self.locator {
            return Err(DecryptError::WrongKey);
        }
        decrypt(&self.encrypted_blob, &txid)
    }
}
