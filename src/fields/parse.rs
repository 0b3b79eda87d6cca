//! The parsers of single field values: each turns a JSON value into a
//! library type or says what was expected and what it got. The field types
//! of [`super`] and the CLI's field-by-field `Input` both use them.

use std::str::FromStr;

use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::{Address, Amount, Network, PrivateKey, ScriptBuf, Txid};
use serde_json::Value;

use crate::keys::PerCommitmentSecret;
use crate::shachain::{CommitmentNumber, Index, Secret};

/// What a field's parser returns: the value, or what was wrong with it.
pub type Parsed<T> = Result<T, String>;

/// A JSON value in words, for messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.len() > 40 => format!("the string \"{}…\"", &s[..40]),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn string(v: &Value, expected: &str) -> Parsed<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("expected {expected}, got {}", describe(other))),
    }
}

fn hex_of(v: &Value, expected: &str) -> Parsed<Vec<u8>> {
    let s = string(v, expected)?;
    hex::decode(&s).map_err(|e| {
        let why = match e {
            hex::FromHexError::InvalidHexCharacter { c, index } => {
                format!("invalid hex: character {c:?} at position {index}")
            }
            hex::FromHexError::OddLength => "invalid hex: odd number of digits".to_string(),
            other => format!("invalid hex: {other}"),
        };
        format!("expected {expected}, got {why}")
    })
}

/// Any hex byte string.
pub fn hex_bytes(v: &Value) -> Parsed<Vec<u8>> {
    hex_of(v, "hex bytes")
}

/// Exactly 32 bytes of hex.
pub fn bytes32(v: &Value) -> Parsed<[u8; 32]> {
    let bytes = hex_of(v, "32-byte hex")?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("expected 32-byte hex, got {} bytes", bytes.len()))
}

/// A 33-byte compressed secp256k1 point.
pub fn pubkey(v: &Value) -> Parsed<PublicKey> {
    const EXPECTED: &str = "33-byte compressed pubkey hex";
    let bytes = hex_of(v, EXPECTED)?;
    if bytes.len() != 33 {
        return Err(format!("expected {EXPECTED}, got {} bytes", bytes.len()));
    }
    if bytes[0] != 0x02 && bytes[0] != 0x03 {
        return Err(format!(
            "expected {EXPECTED} (first byte 02 or 03), got first byte {:02x}",
            bytes[0]
        ));
    }
    PublicKey::from_slice(&bytes).map_err(|_| {
        format!("expected {EXPECTED}, got an x coordinate that is not on the secp256k1 curve")
    })
}

/// A 32-byte secp256k1 secret key: non-zero and below the curve order.
pub fn secret_key(v: &Value) -> Parsed<SecretKey> {
    const EXPECTED: &str = "32-byte secret key hex";
    let bytes = hex_of(v, EXPECTED)?;
    if bytes.len() != 32 {
        return Err(format!("expected {EXPECTED}, got {} bytes", bytes.len()));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err(format!(
            "expected {EXPECTED}, got zero, which is not a valid secret"
        ));
    }
    SecretKey::from_slice(&bytes).map_err(|_| {
        format!("expected {EXPECTED}, got a value not below the secp256k1 curve order")
    })
}

/// A `per_commitment_secret`.
pub fn per_commitment_secret(v: &Value) -> Parsed<PerCommitmentSecret> {
    secret_key(v).map(PerCommitmentSecret)
}

/// A private key as WIF, or as 32-byte hex (taken as compressed).
pub fn private_key(v: &Value) -> Parsed<PrivateKey> {
    let s = string(v, "a WIF private key or 32-byte secret key hex")?;
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        // The network byte only matters for WIF text, never for signing.
        return secret_key(v).map(|k| PrivateKey::new(k, Network::Bitcoin));
    }
    PrivateKey::from_wif(&s).map_err(|e| {
        format!("expected a WIF private key or 32-byte secret key hex, got neither ({e})")
    })
}

/// A non-negative integer that fits in a u64. Numeric strings are accepted (from `--set`).
pub fn uint(v: &Value) -> Parsed<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("expected a non-negative integer below 2^64, got {n}")),
        Value::String(s) => s
            .parse::<u64>()
            .map_err(|_| format!("expected a non-negative integer below 2^64, got \"{s}\"")),
        other => Err(format!(
            "expected a non-negative integer, got {}",
            describe(other)
        )),
    }
}

/// An integer that fits in a u32.
pub fn uint32(v: &Value) -> Parsed<u32> {
    let n = uint(v)?;
    u32::try_from(n).map_err(|_| format!("expected an integer below 2^32, got {n}"))
}

/// An amount in satoshis, at most 21 million BTC.
pub fn amount_sat(v: &Value) -> Parsed<Amount> {
    let n = uint(v).map_err(|e| format!("{e} (an amount in satoshis)"))?;
    let amount = Amount::from_sat(n);
    if amount > Amount::MAX_MONEY {
        return Err(format!(
            "expected an amount of at most 2100000000000000 sat (21 million BTC), got {n}"
        ));
    }
    Ok(amount)
}

/// A 48-bit shachain index.
pub fn shachain_index(v: &Value) -> Parsed<Index> {
    let n = uint(v)?;
    Index::new(n).map_err(|_| format!("expected an index below 2^48 (281474976710656), got {n}"))
}

/// A commitment number (below 2^48).
pub fn commitment_number(v: &Value) -> Parsed<CommitmentNumber> {
    let n = uint(v)?;
    Index::from_commitment_number(CommitmentNumber(n))
        .map(|_| CommitmentNumber(n))
        .map_err(|_| format!("expected a commitment number below 2^48 (281474976710656), got {n}"))
}

/// A shachain secret or seed (any 32 bytes).
pub fn shachain_secret(v: &Value) -> Parsed<Secret> {
    bytes32(v)
}

/// A transaction id, in the usual (byte-reversed) hex.
pub fn txid(v: &Value) -> Parsed<Txid> {
    let s = string(v, "a 32-byte txid hex")?;
    Txid::from_str(&s).map_err(|e| format!("expected a 32-byte txid hex, got {s:?} ({e})"))
}

/// A script given as hex.
pub fn script_hex(v: &Value) -> Parsed<ScriptBuf> {
    hex_of(v, "script hex").map(ScriptBuf::from_bytes)
}

/// A network name.
pub fn network(v: &Value) -> Parsed<Network> {
    let s = string(v, "bitcoin, testnet, signet or regtest")?;
    Network::from_str(&s)
        .map_err(|_| format!("expected bitcoin, testnet, signet or regtest, got \"{s}\""))
}

/// An address valid on `network`.
pub fn address(network: Network) -> impl Fn(&Value) -> Parsed<Address> {
    move |v| {
        let s = string(v, "a bitcoin address")?;
        let unchecked = Address::from_str(&s)
            .map_err(|e| format!("expected a bitcoin address, got {s:?} ({e})"))?;
        unchecked
            .require_network(network)
            .map_err(|_| format!("expected an address for network {network}, got {s:?} (set --network to its network)"))
    }
}

/// One of a fixed set of words.
pub fn one_of(words: &'static [&'static str]) -> impl Fn(&Value) -> Parsed<&'static str> {
    move |v| {
        let expected = words.join(" | ");
        let s = string(v, &expected)?;
        words
            .iter()
            .find(|w| **w == s)
            .copied()
            .ok_or_else(|| format!("expected one of {expected}, got \"{s}\""))
    }
}

/// A boolean (`true`/`false`, also as strings from `--set`).
pub fn boolean(v: &Value) -> Parsed<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(format!("expected true or false, got {}", describe(other))),
    }
}

/// Where coins go: an address valid on `network`, or a scriptPubKey as hex.
pub fn destination(network: Network) -> impl Fn(&Value) -> Parsed<ScriptBuf> {
    move |v| {
        let s = string(v, "an address or a scriptPubKey hex")?;
        if let Ok(a) = Address::from_str(&s) {
            return a
                .require_network(network)
                .map(|a| a.script_pubkey())
                .map_err(|_| format!("expected an address for network {network}, got {s:?} (set --network to its network)"));
        }
        hex::decode(&s)
            .map(ScriptBuf::from_bytes)
            .map_err(|_| format!("expected an address or a scriptPubKey hex, got {s:?}"))
    }
}

/// A block height (below 500,000,000, where nLockTime values turn into UNIX times).
pub fn block_height(v: &Value) -> Parsed<bitcoin::absolute::Height> {
    let n = uint32(v)?;
    bitcoin::absolute::Height::from_consensus(n).map_err(|_| {
        format!("expected a block height below 500000000, got {n} (a UNIX time to nLockTime)")
    })
}

/// A transaction as hex.
pub fn transaction(v: &Value) -> Parsed<bitcoin::Transaction> {
    let bytes = hex_of(v, "a transaction hex")?;
    bitcoin::consensus::encode::deserialize(&bytes).map_err(|e| {
        format!("expected a transaction hex, got bytes that do not decode as one ({e})")
    })
}

/// One transaction hex, or an array of them.
pub fn transactions(v: &Value) -> Parsed<Vec<bitcoin::Transaction>> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, t)| transaction(t).map_err(|e| format!("[{i}]: {e}")))
            .collect(),
        other => transaction(other).map(|t| vec![t]),
    }
}

/// A short channel id, `BLOCKxTXxOUTPUT` (BOLT 7).
pub fn scid(v: &Value) -> Parsed<u64> {
    v.as_str()
        .and_then(crate::wire::tlv::scid_from_str)
        .ok_or_else(|| "expected BLOCKxTXxOUTPUT".to_string())
}
