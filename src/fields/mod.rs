//! The toolkit's JSON field types: each wraps a library type and reads
//! itself with a parser of [`parse`], so a typed request says
//! exactly what the field-by-field reader said (`claim_pubkey: expected
//! 33-byte compressed pubkey hex, got 32 bytes`), and each describes itself
//! in the request's JSON Schema (`"type": "string", "format": "pubkey"`).
//!
//! They serialize as they read, so a response can carry them too.

use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::{Amount, ScriptBuf, Transaction};
use serde_json::Value;

pub mod parse;

use parse as input;

macro_rules! field_type {
    ($(#[doc = $doc:literal])* $name:ident($inner:ty), $parse:expr, $show:expr, $schema:tt) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl std::ops::Deref for $name {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let v = serde_json::Value::deserialize(d)?;
                ($parse)(&v).map($name).map_err(D::Error::custom)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let show: fn(&$inner) -> serde_json::Value = $show;
                show(&self.0).serialize(s)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

pub(crate) use field_type;

pub(crate) fn hex_string(bytes: impl AsRef<[u8]>) -> Value {
    Value::String(hex::encode(bytes))
}

field_type! {
    /// A 33-byte compressed secp256k1 point, as hex.
    Pubkey(PublicKey), input::pubkey, |k| hex_string(k.serialize()),
    {"type": "string", "format": "pubkey", "pattern": "^0[23][0-9a-f]{64}$"}
}

field_type! {
    /// A 32-byte secret key, as hex.
    Privkey(SecretKey), input::secret_key, |k| hex_string(k.secret_bytes()),
    {"type": "string", "format": "secret-key", "pattern": "^[0-9a-f]{64}$"}
}

field_type! {
    /// Exactly 32 bytes, as hex (hashes, seeds).
    Hex32([u8; 32]), input::bytes32, |b| hex_string(b),
    {"type": "string", "format": "hex32", "pattern": "^[0-9a-f]{64}$"}
}

field_type! {
    /// Any bytes, as hex.
    HexBytes(Vec<u8>), input::hex_bytes, |b| hex_string(b),
    {"type": "string", "format": "hex"}
}

field_type! {
    /// An amount in satoshis, at most 21 million BTC.
    Sat(Amount), input::amount_sat, |a| Value::from(a.to_sat()),
    {"type": "integer", "format": "sat", "minimum": 0}
}

field_type! {
    /// A block height (below 500,000,000).
    BlockHeight(bitcoin::absolute::Height), input::block_height,
    |h| Value::from(h.to_consensus_u32()),
    {"type": "integer", "format": "height", "minimum": 0}
}

field_type! {
    /// A non-negative integer; numeric strings (from `--set`) are read too.
    Uint(u64), input::uint, |n| Value::from(*n),
    {"type": "integer", "format": "uint64", "minimum": 0}
}

field_type! {
    /// An integer below 2^32.
    Uint32(u32), input::uint32, |n| Value::from(*n),
    {"type": "integer", "format": "uint32", "minimum": 0}
}

field_type! {
    /// A script, as hex.
    Script(ScriptBuf), input::script_hex, |s| hex_string(s.as_bytes()),
    {"type": "string", "format": "script-hex"}
}

field_type! {
    /// A transaction, as hex.
    Tx(Transaction), input::transaction,
    |t| Value::String(bitcoin::consensus::encode::serialize_hex(t)),
    {"type": "string", "format": "tx-hex"}
}

field_type! {
    /// `true` or `false` (also as the strings, from `--set`).
    Flag(bool), input::boolean, |b| Value::Bool(*b),
    {"type": "boolean"}
}

field_type! {
    /// A network name: bitcoin, testnet, signet or regtest.
    Net(bitcoin::Network), input::network, |n| Value::String(n.to_string()),
    {"type": "string", "format": "network", "enum": ["bitcoin", "testnet", "testnet4", "signet", "regtest"]}
}

/// A Lightning preimage: exactly 32 bytes.
fn preimage(v: &Value) -> input::Parsed<crate::payment::PaymentPreimage> {
    let bytes = input::hex_bytes(v)?;
    let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "expected a 32-byte preimage (a Lightning preimage is exactly 32 bytes), got {} bytes",
            bytes.len()
        )
    })?;
    Ok(crate::payment::PaymentPreimage(array))
}

field_type! {
    /// A payment preimage: 32 bytes of hex.
    Preimage(crate::payment::PaymentPreimage), preimage, |p| hex_string(p.0),
    {"type": "string", "format": "preimage", "pattern": "^[0-9a-f]{64}$"}
}

field_type! {
    /// A transaction id, in the usual (byte-reversed) hex.
    TxidHex(bitcoin::Txid), input::txid, |t| Value::String(t.to_string()),
    {"type": "string", "format": "txid", "pattern": "^[0-9a-f]{64}$"}
}

field_type! {
    /// A private key: WIF, or 32-byte hex.
    Wif(bitcoin::PrivateKey), input::private_key, |k| Value::String(k.to_wif()),
    {"type": "string", "format": "wif-or-hex"}
}

field_type! {
    /// A 48-bit shachain index (counting down from 2^48 - 1).
    ShachainIndex(crate::shachain::Index), input::shachain_index, |i| Value::from(i.value()),
    {"type": "integer", "format": "index48", "minimum": 0}
}

field_type! {
    /// A commitment number (below 2^48).
    CommitmentNum(crate::shachain::CommitmentNumber), input::commitment_number,
    |n| Value::from(n.0),
    {"type": "integer", "format": "commitment-number", "minimum": 0}
}

field_type! {
    /// A short channel id, `BLOCKxTXxOUTPUT` (BOLT 7).
    Scid(u64), input::scid, |s| Value::String(crate::wire::tlv::scid_to_string(*s)),
    {"type": "string", "format": "scid", "pattern": "^[0-9]+x[0-9]+x[0-9]+$"}
}

/// A library value a step passes along whole (a `factory`): read and
/// written by its own serde (errors keep their path inside it), an object
/// in the schema.
#[derive(Clone, Debug)]
pub struct Whole<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Whole<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Whole)
    }
}

impl<T: serde::Serialize> serde::Serialize for Whole<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<T> schemars::JsonSchema for Whole<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Whole".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "object"})
    }
}

field_type! {
    /// Transactions, as hex: one, or an array.
    Txs(Vec<Transaction>), input::transactions,
    |t| Value::Array(t.iter().map(|t| Value::String(bitcoin::consensus::encode::serialize_hex(t))).collect()),
    {"type": ["array", "string"], "format": "tx-hex", "items": {"type": "string"}}
}
